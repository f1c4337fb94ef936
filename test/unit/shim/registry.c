/* SPDX-License-Identifier: MIT */
/*
 * The registry, as small as the driver needs it: RtlWriteRegistryValue into absolute paths,
 * remembered for the tests to read back. Writes are not failable calls of the fault walk (the
 * driver survives a failed one by design); shim_registry_writable makes them fail on demand.
 */
#include "shim_private.h"

#include <pthread.h>

#define MAX_VALUES 32
#define PATH_CHARS 256
#define NAME_CHARS 64

typedef struct {
    BOOLEAN Used;
    WCHAR Path[PATH_CHARS];
    WCHAR Name[NAME_CHARS];
    ULONG Type;
    UCHAR Data[16];
    ULONG Length;
} VALUE;

static VALUE values[MAX_VALUES];
static BOOLEAN read_only;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* A terminated UTF-16 string into out (cap characters); FALSE if it does not fit. */
static BOOLEAN copy_name(WCHAR *out, PCWSTR in, size_t cap)
{
    size_t i;

    for (i = 0; i < cap; i++)
        if ((out[i] = in[i]) == 0)
            return TRUE;
    return FALSE;
}

static BOOLEAN same(const WCHAR *a, PCWSTR b)
{
    size_t i;

    for (i = 0; a[i] || b[i]; i++)
        if (a[i] != b[i])
            return FALSE;
    return TRUE;
}

static VALUE *find(PCWSTR Path, PCWSTR Name)
{
    size_t i;

    for (i = 0; i < MAX_VALUES; i++)
        if (values[i].Used && same(values[i].Path, Path) && same(values[i].Name, Name))
            return &values[i];
    return NULL;
}

NTSTATUS RtlWriteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName, ULONG ValueType,
                               PVOID ValueData, ULONG ValueLength)
{
    VALUE *v;
    size_t i;

    shim_require_irql("RtlWriteRegistryValue", PASSIVE_LEVEL);
    if (RelativeTo != RTL_REGISTRY_ABSOLUTE)
        shim_die("RtlWriteRegistryValue: only RTL_REGISTRY_ABSOLUTE is supported");
    if (!Path || Path[0] != '\\' || !ValueName)
        return STATUS_OBJECT_NAME_INVALID;
    if (ValueLength > sizeof(v->Data) || (ValueLength && !ValueData))
        shim_die("RtlWriteRegistryValue: %u bytes", ValueLength);
    pthread_mutex_lock(&lock);
    if (read_only) {
        pthread_mutex_unlock(&lock);
        return STATUS_ACCESS_DENIED;
    }
    v = find(Path, ValueName);
    for (i = 0; !v && i < MAX_VALUES; i++)
        if (!values[i].Used)
            v = &values[i];
    if (!v || !copy_name(v->Path, Path, PATH_CHARS) || !copy_name(v->Name, ValueName, NAME_CHARS))
        shim_die("RtlWriteRegistryValue: the shim's registry is full, or the name too long");
    v->Used = TRUE;
    v->Type = ValueType;
    v->Length = ValueLength;
    memcpy(v->Data, ValueData, ValueLength);
    pthread_mutex_unlock(&lock);
    return STATUS_SUCCESS;
}

BOOLEAN shim_registry_qword(PCWSTR Path, PCWSTR Name, ULONG64 *Value)
{
    BOOLEAN found = FALSE;
    VALUE *v;

    pthread_mutex_lock(&lock);
    v = find(Path, Name);
    if (v && v->Type == REG_QWORD && v->Length == sizeof(*Value)) {
        memcpy(Value, v->Data, sizeof(*Value));
        found = TRUE;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

VOID shim_registry_clear(VOID)
{
    pthread_mutex_lock(&lock);
    memset(values, 0, sizeof(values));
    pthread_mutex_unlock(&lock);
}

VOID shim_registry_writable(BOOLEAN Writable)
{
    pthread_mutex_lock(&lock);
    read_only = (BOOLEAN)!Writable;
    pthread_mutex_unlock(&lock);
}
