/* SPDX-License-Identifier: MIT */
/*
 * The shim's object manager and I/O manager: driver, device and file objects, symbolic links,
 * MDLs, and IRPs built the way Windows builds them for a user-mode caller, completed exactly
 * once (checked), with the I/O manager's own work around the driver: access checks on the
 * handle, probing, the METHOD_BUFFERED system buffer and its copy-back of Information bytes,
 * MDLs for direct I/O, and freeing everything at completion (so that a driver touching an IRP
 * after completing it is caught by ASan).
 */
#define _DEFAULT_SOURCE
#include "shim_private.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define SHIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHIM_ASAN 1
#endif
#endif
#ifdef SHIM_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) memset((p), 0xDD, (n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static pthread_mutex_t objects = PTHREAD_MUTEX_INITIALIZER;

/* ---- names ---- */

#define NAME_MAX_CHARS 128

static size_t wlen(PCWSTR s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

static WCHAR upcase(WCHAR c)
{
    return c >= 'a' && c <= 'z' ? (WCHAR)(c - 'a' + 'A') : c;
}

/* Object names compare case-insensitively (ASCII is all the shim needs). */
static BOOLEAN name_equal(const WCHAR *a, size_t a_chars, const WCHAR *b, size_t b_chars)
{
    size_t i;

    if (a_chars != b_chars)
        return FALSE;
    for (i = 0; i < a_chars; i++)
        if (upcase(a[i]) != upcase(b[i]))
            return FALSE;
    return TRUE;
}

BOOLEAN shim_unicode_equal(PCUNICODE_STRING A, PCWSTR B)
{
    return (BOOLEAN)(A && A->Buffer && A->Length % 2 == 0 &&
                     name_equal(A->Buffer, A->Length / 2, B, wlen(B)) &&
                     !memcmp(A->Buffer, B, A->Length));
}

/* A UNICODE_STRING argument as Windows expects it; dies on a malformed one. */
static size_t check_unicode(const char *api, PCUNICODE_STRING s)
{
    if (!s || (s->Length & 1) || (s->MaximumLength & 1) || s->Length > s->MaximumLength ||
        (s->Length && !s->Buffer))
        shim_die("%s: malformed UNICODE_STRING", api);
    if (s->Length / 2 > NAME_MAX_CHARS)
        shim_die("%s: a name longer than the shim's %d characters", api, NAME_MAX_CHARS);
    return s->Length / 2;
}

/* ---- devices and links ---- */

typedef struct {
    PDEVICE_OBJECT Device; /* NULL: a free slot */
    ULONG64 Serial;
    WCHAR Name[NAME_MAX_CHARS];
    size_t NameChars;
    BOOLEAN Named;
    BOOLEAN Secured;
    ULONG Files;
    SHIM_SECURITY Security;
} DEVICE_RECORD;

typedef struct {
    BOOLEAN Used;
    WCHAR Name[NAME_MAX_CHARS];
    size_t NameChars;
    WCHAR Target[NAME_MAX_CHARS];
    UNICODE_STRING TargetString;
} LINK_RECORD;

#define MAX_DEVICES 16
#define MAX_LINKS 16
static DEVICE_RECORD devices[MAX_DEVICES];
static LINK_RECORD links[MAX_LINKS];
static ULONG64 device_serial;
static ULONG files_open, irps_in_flight;

static DEVICE_RECORD *device_record(PDEVICE_OBJECT Device)
{
    size_t i;

    if (!Device)
        return NULL;
    for (i = 0; i < MAX_DEVICES; i++)
        if (devices[i].Device == Device)
            return &devices[i];
    return NULL;
}

static DEVICE_RECORD *device_by_name(const WCHAR *name, size_t chars)
{
    size_t i;

    for (i = 0; i < MAX_DEVICES; i++)
        if (devices[i].Device && devices[i].Named &&
            name_equal(devices[i].Name, devices[i].NameChars, name, chars))
            return &devices[i];
    return NULL;
}

/* \DosDevices\X is \??\X. Returns the characters to skip and the prefix to use instead. */
static size_t dos_prefix(const WCHAR *name, size_t chars)
{
    static const WCHAR dos[] = L"\\DosDevices\\";
    size_t n = ARRAYSIZE(dos) - 1;

    return chars >= n && name_equal(name, n, dos, n) ? n : 0;
}

static LINK_RECORD *link_by_name(const WCHAR *name, size_t chars)
{
    WCHAR normal[NAME_MAX_CHARS + 4];
    size_t skip = dos_prefix(name, chars), i;

    if (skip) {
        memcpy(normal, L"\\??\\", 4 * sizeof(WCHAR));
        memcpy(normal + 4, name + skip, (chars - skip) * sizeof(WCHAR));
        name = normal;
        chars = chars - skip + 4;
    }
    for (i = 0; i < MAX_LINKS; i++)
        if (links[i].Used && name_equal(links[i].Name, links[i].NameChars, name, chars))
            return &links[i];
    return NULL;
}

SHIM_SECURITY *shim_security_slot(PDEVICE_OBJECT Device, BOOLEAN **Secured)
{
    DEVICE_RECORD *r;

    pthread_mutex_lock(&objects);
    r = device_record(Device);
    pthread_mutex_unlock(&objects);
    if (!r)
        return NULL;
    *Secured = &r->Secured;
    return &r->Security;
}

BOOLEAN shim_device_has_link(PDEVICE_OBJECT Device)
{
    DEVICE_RECORD *r;
    BOOLEAN found = FALSE;
    size_t i;

    pthread_mutex_lock(&objects);
    r = device_record(Device);
    for (i = 0; r && r->Named && i < MAX_LINKS; i++)
        if (links[i].Used && name_equal(links[i].Target, links[i].TargetString.Length / 2,
                                        r->Name, r->NameChars))
            found = TRUE;
    pthread_mutex_unlock(&objects);
    return found;
}

NTSTATUS IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize,
                        PUNICODE_STRING DeviceName, DEVICE_TYPE DeviceType,
                        ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                        PDEVICE_OBJECT *DeviceObject)
{
    size_t header = (sizeof(DEVICE_OBJECT) + 15) & ~(size_t)15, chars = 0, i;
    PDEVICE_OBJECT device;
    DEVICE_RECORD *r = NULL;

    shim_require_irql("IoCreateDevice", PASSIVE_LEVEL);
    if (!DriverObject || DriverObject->Type != IO_TYPE_DRIVER)
        shim_die("IoCreateDevice: not a driver object");
    *DeviceObject = NULL;
    if (shim_fault("IoCreateDevice", STATUS_INSUFFICIENT_RESOURCES))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (DeviceName) {
        chars = check_unicode("IoCreateDevice", DeviceName);
        if (!chars || DeviceName->Buffer[0] != '\\')
            return STATUS_OBJECT_NAME_INVALID;
    }
    if (DeviceExtensionSize > 0x10000000)
        return STATUS_INSUFFICIENT_RESOURCES;

    pthread_mutex_lock(&objects);
    if (DeviceName && device_by_name(DeviceName->Buffer, chars)) {
        pthread_mutex_unlock(&objects);
        return STATUS_OBJECT_NAME_COLLISION;
    }
    for (i = 0; i < MAX_DEVICES; i++)
        if (!devices[i].Device) {
            r = &devices[i];
            break;
        }
    if (!r)
        shim_die("IoCreateDevice: more than %d devices", MAX_DEVICES);

    /* One block, the extension right after the object, both zeroed (as IoCreateDevice does). */
    device = calloc(1, header + DeviceExtensionSize);
    if (!device)
        shim_die("IoCreateDevice: out of host memory");
    device->Type = IO_TYPE_DEVICE;
    device->Size = (USHORT)(sizeof(DEVICE_OBJECT) + DeviceExtensionSize);
    device->DriverObject = DriverObject;
    device->Flags = DO_DEVICE_INITIALIZING | (Exclusive ? DO_EXCLUSIVE : 0) |
                    (DeviceName ? DO_DEVICE_HAS_NAME : 0);
    device->Characteristics = DeviceCharacteristics;
    device->DeviceExtension = DeviceExtensionSize ? (PUCHAR)device + header : NULL;
    device->DeviceType = DeviceType;
    device->StackSize = 1;
    device->NextDevice = DriverObject->DeviceObject;
    DriverObject->DeviceObject = device;

    memset(r, 0, sizeof(*r));
    r->Device = device;
    r->Serial = ++device_serial;
    r->Named = (BOOLEAN)(DeviceName != NULL);
    if (DeviceName)
        memcpy(r->Name, DeviceName->Buffer, chars * sizeof(WCHAR));
    r->NameChars = chars;
    pthread_mutex_unlock(&objects);
    *DeviceObject = device;
    return STATUS_SUCCESS;
}

VOID IoDeleteDevice(PDEVICE_OBJECT DeviceObject)
{
    DEVICE_RECORD *r;
    PDEVICE_OBJECT *p;

    shim_require_irql("IoDeleteDevice", PASSIVE_LEVEL);
    pthread_mutex_lock(&objects);
    r = device_record(DeviceObject);
    if (!r)
        shim_die("IoDeleteDevice(%p): not a live device (deleted twice?)", (void *)DeviceObject);
    for (p = &DeviceObject->DriverObject->DeviceObject; *p && *p != DeviceObject;
         p = &(*p)->NextDevice)
        ;
    if (!*p)
        shim_die("IoDeleteDevice(%p): not in its driver's list of devices", (void *)DeviceObject);
    *p = DeviceObject->NextDevice;
    /* Windows defers the free while file objects reference it; Wine does not wait. Open
     * SHIM_FILEs find the device gone by its serial and never touch the freed object. */
    memset(r, 0, sizeof(*r));
    pthread_mutex_unlock(&objects);
    free(DeviceObject);
}

NTSTATUS IoCreateSymbolicLink(PUNICODE_STRING SymbolicLinkName, PUNICODE_STRING DeviceName)
{
    size_t link_chars, target_chars, skip, i;
    LINK_RECORD *r = NULL;

    shim_require_irql("IoCreateSymbolicLink", PASSIVE_LEVEL);
    link_chars = check_unicode("IoCreateSymbolicLink", SymbolicLinkName);
    target_chars = check_unicode("IoCreateSymbolicLink", DeviceName);
    if (shim_fault("IoCreateSymbolicLink", STATUS_OBJECT_NAME_COLLISION))
        return STATUS_OBJECT_NAME_COLLISION;
    if (!link_chars || SymbolicLinkName->Buffer[0] != '\\' || !target_chars)
        return STATUS_OBJECT_NAME_INVALID;

    pthread_mutex_lock(&objects);
    if (link_by_name(SymbolicLinkName->Buffer, link_chars)) {
        pthread_mutex_unlock(&objects);
        return STATUS_OBJECT_NAME_COLLISION;
    }
    for (i = 0; i < MAX_LINKS; i++)
        if (!links[i].Used) {
            r = &links[i];
            break;
        }
    if (!r)
        shim_die("IoCreateSymbolicLink: more than %d links", MAX_LINKS);
    memset(r, 0, sizeof(*r));
    r->Used = TRUE;
    skip = dos_prefix(SymbolicLinkName->Buffer, link_chars);
    if (skip) {
        memcpy(r->Name, L"\\??\\", 4 * sizeof(WCHAR));
        memcpy(r->Name + 4, SymbolicLinkName->Buffer + skip, (link_chars - skip) * sizeof(WCHAR));
        r->NameChars = link_chars - skip + 4;
    } else {
        memcpy(r->Name, SymbolicLinkName->Buffer, link_chars * sizeof(WCHAR));
        r->NameChars = link_chars;
    }
    memcpy(r->Target, DeviceName->Buffer, target_chars * sizeof(WCHAR));
    r->TargetString.Buffer = r->Target;
    r->TargetString.Length = r->TargetString.MaximumLength = (USHORT)(target_chars * 2);
    pthread_mutex_unlock(&objects);
    return STATUS_SUCCESS;
}

NTSTATUS IoDeleteSymbolicLink(PUNICODE_STRING SymbolicLinkName)
{
    LINK_RECORD *r;
    size_t chars;

    shim_require_irql("IoDeleteSymbolicLink", PASSIVE_LEVEL);
    chars = check_unicode("IoDeleteSymbolicLink", SymbolicLinkName);
    pthread_mutex_lock(&objects);
    r = link_by_name(SymbolicLinkName->Buffer, chars);
    if (r)
        memset(r, 0, sizeof(*r));
    pthread_mutex_unlock(&objects);
    return r ? STATUS_SUCCESS : STATUS_OBJECT_NAME_NOT_FOUND;
}

PDEVICE_OBJECT shim_find_device(PCWSTR Name)
{
    DEVICE_RECORD *r;

    pthread_mutex_lock(&objects);
    r = device_by_name(Name, wlen(Name));
    pthread_mutex_unlock(&objects);
    return r ? r->Device : NULL;
}

PCUNICODE_STRING shim_find_link(PCWSTR Name)
{
    LINK_RECORD *r;

    pthread_mutex_lock(&objects);
    r = link_by_name(Name, wlen(Name));
    pthread_mutex_unlock(&objects);
    return r ? &r->TargetString : NULL;
}

VOID shim_ledger(SHIM_LEDGER *Ledger)
{
    size_t i;

    memset(Ledger, 0, sizeof(*Ledger));
    Ledger->PoolBlocks = shim_pool_outstanding(&Ledger->PoolBytes);
    Ledger->Handles = shim_handles_open();
    pthread_mutex_lock(&objects);
    for (i = 0; i < MAX_DEVICES; i++)
        Ledger->Devices += devices[i].Device != NULL;
    for (i = 0; i < MAX_LINKS; i++)
        Ledger->Links += links[i].Used;
    Ledger->Files = files_open;
    Ledger->Irps = irps_in_flight;
    Ledger->Notifications = shim_notify_registered();
    pthread_mutex_unlock(&objects);
}

BOOLEAN shim_ledger_empty(VOID)
{
    SHIM_LEDGER l;

    shim_ledger(&l);
    return (BOOLEAN)(!l.PoolBlocks && !l.PoolBytes && !l.Devices && !l.Links && !l.Handles &&
                     !l.Files && !l.Irps && !l.Notifications);
}

static void print_name(const WCHAR *name, size_t chars)
{
    size_t i;

    for (i = 0; i < chars; i++)
        fputc(name[i] < 0x80 ? (char)name[i] : '?', stderr);
}

VOID shim_ledger_report(VOID)
{
    SHIM_LEDGER l;
    size_t i;

    shim_ledger(&l);
    shim_pool_report();
    pthread_mutex_lock(&objects);
    for (i = 0; i < MAX_DEVICES; i++)
        if (devices[i].Device) {
            fprintf(stderr, "shim: device %p ", (void *)devices[i].Device);
            print_name(devices[i].Name, devices[i].NameChars);
            fprintf(stderr, ", %u file objects\n", devices[i].Files);
        }
    for (i = 0; i < MAX_LINKS; i++)
        if (links[i].Used) {
            fputs("shim: symbolic link ", stderr);
            print_name(links[i].Name, links[i].NameChars);
            fputs(" -> ", stderr);
            print_name(links[i].Target, links[i].TargetString.Length / 2);
            fputc('\n', stderr);
        }
    pthread_mutex_unlock(&objects);
    if (l.Handles || l.Files || l.Irps || l.Notifications)
        fprintf(stderr, "shim: %u object handles, %u file objects, %u IRPs in flight, %u notify "
                "routines registered\n", l.Handles, l.Files, l.Irps, l.Notifications);
}

/* ---- driver objects ---- */

/* IopInvalidDeviceRequest: what every MajorFunction is before DriverEntry sets its own. */
static NTSTATUS invalid_device_request(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
    Irp->IoStatus.Information = 0;
    IofCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_INVALID_DEVICE_REQUEST;
}

static void check_returned(const char *what)
{
    if (shim_current_irql() != PASSIVE_LEVEL || shim_spin_locks_held())
        shim_die("%s returned at IRQL %u holding %u spin locks", what, shim_current_irql(),
                 shim_spin_locks_held());
}

NTSTATUS shim_load_driver(PDRIVER_INITIALIZE Entry, PDRIVER_OBJECT *Driver)
{
    static const WCHAR path[] = SHIM_SERVICE_KEY;
    static WCHAR name[] = L"\\Driver\\Sanctum";
    UNICODE_STRING registry;
    PDRIVER_OBJECT driver;
    NTSTATUS status;
    ULONG i;

    *Driver = NULL;
    driver = calloc(1, sizeof(*driver));
    if (!driver)
        shim_die("shim_load_driver: out of host memory");
    driver->Type = IO_TYPE_DRIVER;
    driver->Size = sizeof(*driver);
    driver->DriverName.Buffer = name;
    driver->DriverName.Length = sizeof(name) - sizeof(WCHAR);
    driver->DriverName.MaximumLength = sizeof(name);
    driver->DriverInit = Entry;
    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        driver->MajorFunction[i] = invalid_device_request;

    /* The registry path is the caller's: freed once DriverEntry returns, as Windows does. */
    registry.Buffer = malloc(sizeof(path));
    if (!registry.Buffer)
        shim_die("shim_load_driver: out of host memory");
    memcpy(registry.Buffer, path, sizeof(path));
    registry.Length = sizeof(path) - sizeof(WCHAR);
    registry.MaximumLength = sizeof(path);

    shim_require_irql("DriverEntry", PASSIVE_LEVEL);
    status = Entry(driver, &registry);
    check_returned("DriverEntry");
    free(registry.Buffer);
    if (status == STATUS_PENDING)
        shim_die("DriverEntry returned STATUS_PENDING");
    if (!NT_SUCCESS(status)) {
        /* The driver object goes; the I/O manager does not delete what the driver left. */
        free(driver);
        return status;
    }
    *Driver = driver;
    return status;
}

VOID shim_unload_driver(PDRIVER_OBJECT Driver)
{
    if (!Driver->DriverUnload)
        shim_die("shim_unload_driver: no DriverUnload, Windows cannot stop this driver");
    shim_require_irql("DriverUnload", PASSIVE_LEVEL);
    Driver->DriverUnload(Driver);
    check_returned("DriverUnload");
    free(Driver);
}

/* ---- MDLs ---- */

static struct {
    int Dummy;
} user_process; /* what MDLs of user buffers name as their process */
static _Thread_local ULONG last_priority;
static _Thread_local BOOLEAN last_dispatched;
static BOOLEAN wine_zero_length_mdl;

static ULONG64 mappings;

ULONG shim_last_mapping_priority(VOID)
{
    return last_priority;
}

ULONG64 shim_mappings(VOID)
{
    return __atomic_load_n(&mappings, __ATOMIC_SEQ_CST);
}

BOOLEAN shim_last_dispatched(VOID)
{
    return last_dispatched;
}

BOOLEAN shim_zero_length_mdl(BOOLEAN Wine)
{
    BOOLEAN was = wine_zero_length_mdl;

    wine_zero_length_mdl = Wine;
    return was;
}

/* IoAllocateMdl + MmProbeAndLockPages on a user buffer. */
static PMDL build_mdl(PVOID Buffer, ULONG Length, BOOLEAN DriverWrites)
{
    PMDL mdl = calloc(1, sizeof(MDL));

    if (!mdl)
        shim_die("build_mdl: out of host memory");
    mdl->Size = sizeof(MDL);
    mdl->StartVa = (PVOID)((ULONG_PTR)Buffer & ~(ULONG_PTR)0xFFF);
    mdl->ByteOffset = (ULONG)((ULONG_PTR)Buffer & 0xFFF);
    mdl->ByteCount = Length;
    mdl->MdlFlags = MDL_PAGES_LOCKED | (DriverWrites ? MDL_WRITE_OPERATION : 0);
    mdl->Process = (struct _EPROCESS *)&user_process;
    return mdl;
}

PVOID MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                                   MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress,
                                   ULONG BugCheckOnFailure, ULONG Priority)
{
    PMDL mdl = MemoryDescriptorList;
    ULONG base = Priority & ~(SHIM_MDL_MAPPING_NO_EXECUTE | MdlMappingNoWrite);

    shim_require_irql("MmMapLockedPagesSpecifyCache", DISPATCH_LEVEL);
    last_priority = Priority;
    if (AccessMode != KernelMode || RequestedAddress)
        shim_die("MmMapLockedPagesSpecifyCache: only kernel-mode system mappings are supported");
    if (CacheType != MmCached && CacheType != MmNonCached)
        shim_die("MmMapLockedPagesSpecifyCache: cache type %d", (int)CacheType);
    if (base != LowPagePriority && base != NormalPagePriority && base != HighPagePriority)
        shim_die("MmMapLockedPagesSpecifyCache: priority 0x%08x is not an MM_PAGE_PRIORITY "
                 "with MdlMapping* flags", Priority);
    if (!(mdl->MdlFlags & MDL_PAGES_LOCKED))
        shim_die("MmMapLockedPagesSpecifyCache(%p): pages not locked", (void *)mdl);
    if (mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA)
        shim_die("MmMapLockedPagesSpecifyCache(%p): already mapped", (void *)mdl);
    if (shim_fault("MmMapLockedPagesSpecifyCache", STATUS_INSUFFICIENT_RESOURCES)) {
        if (BugCheckOnFailure)
            shim_die("MmMapLockedPagesSpecifyCache: failed with BugCheckOnFailure set");
        return NULL;
    }
    /* The system view is the same memory: the driver writes straight into the caller's pages. */
    mdl->MappedSystemVa = (PUCHAR)mdl->StartVa + mdl->ByteOffset;
    mdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
    __atomic_add_fetch(&mappings, 1, __ATOMIC_SEQ_CST);
    return mdl->MappedSystemVa;
}

/*
 * User pointers the driver must never dereference (METHOD_NEITHER, neither-I/O reads and
 * writes) are handed over as addresses in a page nobody may touch.
 */
static PUCHAR untouchable_page;

static void map_untouchable_page(void)
{
    void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        shim_die("untouchable: mmap failed");
    untouchable_page = p;
}

static PVOID untouchable(const VOID *UserPointer)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    if (!UserPointer)
        return NULL;
    pthread_once(&once, map_untouchable_page);
    return untouchable_page + ((ULONG_PTR)UserPointer & 0x7FF);
}

/* ---- IRPs ---- */

typedef struct _SHIM_REQUEST {
    struct _SHIM_REQUEST *Next; /* in flight */
    struct {
        IRP Irp;
        IO_STACK_LOCATION Stack[1];
    } *Packet;
    PDEVICE_OBJECT Device;
    volatile ULONG Completions; /* written by whichever thread completes the IRP */
    BOOLEAN Async;              /* the caller may see STATUS_PENDING (shim_ioctl_async) */
    BOOLEAN Pended;             /* the dispatch routine returned STATUS_PENDING */
    BOOLEAN MarkedPending;      /* SL_PENDING_RETURNED, as completion found it */
    NTSTATUS Status;
    ULONG_PTR Information;
    PVOID UserOutput; /* METHOD_BUFFERED / buffered reads: where the copy-back goes */
    ULONG OutputLength;
} SHIM_REQUEST;

static SHIM_REQUEST *in_flight;

struct _SHIM_FILE {
    PFILE_OBJECT FileObject;
    PDEVICE_OBJECT Device;
    ULONG64 Serial; /* the device's, to see that it is still the same live device */
    ACCESS_MASK Access;
    BOOLEAN CleanedUp;
};

static void new_request(SHIM_REQUEST *r, PDEVICE_OBJECT Device, PFILE_OBJECT File, UCHAR Major)
{
    memset(r, 0, sizeof(*r));
    r->Packet = calloc(1, sizeof(*r->Packet));
    if (!r->Packet)
        shim_die("new_request: out of host memory");
    r->Device = Device;
    r->Packet->Irp.Type = IO_TYPE_IRP;
    r->Packet->Irp.Size = sizeof(*r->Packet);
    r->Packet->Irp.StackCount = 1;
    r->Packet->Irp.CurrentLocation = 1;
    r->Packet->Irp.RequestorMode = UserMode;
    InitializeListHead(&r->Packet->Irp.ThreadListEntry);
    r->Packet->Irp.Tail.Overlay.CurrentStackLocation = &r->Packet->Stack[0];
    r->Packet->Irp.Tail.Overlay.OriginalFileObject = File;
    r->Packet->Irp.Tail.Overlay.Thread = shim_current_thread();
    r->Packet->Stack[0].MajorFunction = Major;
    r->Packet->Stack[0].DeviceObject = Device;
    r->Packet->Stack[0].FileObject = File;
}

/* A request the I/O manager refused before building it for the driver. */
static void drop_request(SHIM_REQUEST *r)
{
    if (r->Packet->Irp.AssociatedIrp.SystemBuffer)
        free(r->Packet->Irp.AssociatedIrp.SystemBuffer);
    free(r->Packet->Irp.MdlAddress);
    free(r->Packet);
    r->Packet = NULL;
}

static NTSTATUS call_driver(SHIM_REQUEST *r, ULONG_PTR *Information)
{
    PIRP irp = &r->Packet->Irp;
    UCHAR major = r->Packet->Stack[0].MajorFunction;
    PDRIVER_DISPATCH dispatch = r->Device->DriverObject->MajorFunction[major];
    NTSTATUS status;
    BOOLEAN marked;

    if (!dispatch)
        shim_die("MajorFunction[0x%02x] is NULL", major);
    pthread_mutex_lock(&objects);
    r->Next = in_flight;
    in_flight = r;
    irps_in_flight++;
    pthread_mutex_unlock(&objects);

    last_dispatched = TRUE;
    shim_require_irql("IoCallDriver", DISPATCH_LEVEL);
    status = dispatch(r->Device, irp);
    check_returned("a dispatch routine");
    if (status == STATUS_PENDING) {
        if (!r->Async)
            shim_die("MajorFunction[0x%02x] returned STATUS_PENDING for a request sent "
                     "synchronously (use shim_ioctl_async)", major);
        /* The IRP may be complete and poisoned already: the stack location is read only when
         * it is not (completion copies the bit out first). */
        pthread_mutex_lock(&objects);
        marked = __atomic_load_n(&r->Completions, __ATOMIC_ACQUIRE)
                     ? r->MarkedPending
                     : (BOOLEAN)((r->Packet->Stack[0].Control & SL_PENDING_RETURNED) != 0);
        pthread_mutex_unlock(&objects);
        if (!marked)
            shim_die("MajorFunction[0x%02x] returned STATUS_PENDING without IoMarkIrpPending",
                     major);
        r->Pended = TRUE;
        return status;
    }
    if (r->Completions != 1)
        shim_die("MajorFunction[0x%02x] returned 0x%08x without completing the IRP", major,
                 (unsigned)status);
    if (r->MarkedPending)
        shim_die("MajorFunction[0x%02x] marked the IRP pending but returned 0x%08x, not "
                 "STATUS_PENDING", major, (unsigned)status);
    if (status != r->Status)
        shim_die("MajorFunction[0x%02x] returned 0x%08x but completed the IRP with 0x%08x", major,
                 (unsigned)status, (unsigned)r->Status);
    UNPOISON(r->Packet, sizeof(*r->Packet));
    free(r->Packet);
    r->Packet = NULL;
    if (Information)
        *Information = r->Information;
    return status;
}

VOID IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)
{
    SHIM_REQUEST **p, *r;
    PMDL mdl, next;

    (void)PriorityBoost;
    shim_require_irql("IofCompleteRequest", DISPATCH_LEVEL);
    /* Found by address alone: a completed IRP is poisoned memory. */
    pthread_mutex_lock(&objects);
    for (p = &in_flight; *p && &(*p)->Packet->Irp != Irp; p = &(*p)->Next)
        ;
    r = *p;
    if (r) {
        *p = r->Next;
        irps_in_flight--;
        r->MarkedPending = (BOOLEAN)((r->Packet->Stack[0].Control & SL_PENDING_RETURNED) != 0);
    }
    pthread_mutex_unlock(&objects);
    if (!r)
        shim_die("IofCompleteRequest(%p): not an IRP in flight: completed twice? "
                 "(MULTIPLE_IRP_COMPLETE_REQUESTS)", (void *)Irp);
    if (Irp->IoStatus.Status == STATUS_PENDING)
        shim_die("IofCompleteRequest(%p) with STATUS_PENDING", (void *)Irp);
    if (Irp->CancelRoutine)
        shim_die("IofCompleteRequest(%p) with a cancel routine still set", (void *)Irp);
    r->Status = Irp->IoStatus.Status;
    r->Information = Irp->IoStatus.Information;

    /* The I/O manager's side of completion (IopCompleteRequest). */
    if (Irp->Flags & IRP_BUFFERED_IO) {
        if ((Irp->Flags & IRP_INPUT_OPERATION) && !NT_ERROR(r->Status)) {
            if (r->Information > r->OutputLength)
                shim_die("IofCompleteRequest(%p): Information %llu > output length %u: the I/O "
                         "manager would copy past the caller's buffer", (void *)Irp,
                         (unsigned long long)r->Information, r->OutputLength);
            if (r->Information)
                memcpy(r->UserOutput, Irp->AssociatedIrp.SystemBuffer, r->Information);
        }
        if (Irp->Flags & IRP_DEALLOCATE_BUFFER)
            free(Irp->AssociatedIrp.SystemBuffer);
    }
    for (mdl = Irp->MdlAddress; mdl; mdl = next) {
        next = mdl->Next;
        free(mdl);
    }
    /* The IRP is the I/O manager's again: any later touch by the driver is reported. */
    POISON(r->Packet, sizeof(*r->Packet));
    __atomic_store_n(&r->Completions, r->Completions + 1, __ATOMIC_RELEASE);
}

/* A system buffer of Length bytes holding Input, the rest left as pool would leave it. */
static PVOID system_buffer(const VOID *Input, ULONG InputLength, ULONG Length)
{
    PUCHAR buffer = malloc(Length);

    if (!buffer)
        shim_die("system_buffer: out of host memory (%u bytes)", Length);
    if (InputLength)
        memcpy(buffer, Input, InputLength);
    memset(buffer + InputLength, SHIM_POOL_FILL, Length - InputLength);
    return buffer;
}

/* The device behind a handle, or NULL when its driver deleted it. */
static PDEVICE_OBJECT live_device(SHIM_FILE *File)
{
    DEVICE_RECORD *r;
    PDEVICE_OBJECT device = NULL;

    pthread_mutex_lock(&objects);
    r = device_record(File->Device);
    if (r && r->Serial == File->Serial)
        device = r->Device;
    pthread_mutex_unlock(&objects);
    return device;
}

/* Splits Path into a device and the rest of the name (a pointer into Path). */
static PDEVICE_OBJECT resolve(PCWSTR Path, PCWSTR *Rest, ULONG64 *Serial)
{
    size_t chars = wlen(Path), end;
    const WCHAR *name = Path;
    DEVICE_RECORD *device = NULL;

    pthread_mutex_lock(&objects);
    /* The longest prefix ending at a component boundary names the object. */
    for (end = chars; end > 1 && !device; end--) {
        LINK_RECORD *link;

        if (end < chars && Path[end] != '\\')
            continue;
        link = link_by_name(Path, end);
        if (link) {
            device = device_by_name(link->Target, link->TargetString.Length / 2);
            name = Path + end;
            break;
        }
        device = device_by_name(Path, end);
        if (device)
            name = Path + end;
    }
    *Rest = name;
    *Serial = device ? device->Serial : 0;
    pthread_mutex_unlock(&objects);
    return device ? device->Device : NULL;
}

NTSTATUS shim_create(PCWSTR Path, ACCESS_MASK Access, SHIM_CALLER Caller, SHIM_FILE **File)
{
    IO_SECURITY_CONTEXT security;
    SHIM_REQUEST r;
    PDEVICE_OBJECT device;
    PFILE_OBJECT file;
    PCWSTR rest;
    ULONG64 serial;
    ACCESS_MASK granted;
    NTSTATUS status;
    DEVICE_RECORD *record;
    size_t rest_chars;

    *File = NULL;
    last_dispatched = FALSE;
    device = resolve(Path, &rest, &serial);
    if (!device)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    if (device->Flags & DO_DEVICE_INITIALIZING)
        return STATUS_NO_SUCH_DEVICE;
    rest_chars = wlen(rest);
    if (rest_chars && rest[0] != '\\')
        return STATUS_OBJECT_NAME_INVALID;
    /* The device's ACL guards an open of the device itself, and of names below it only
     * with FILE_DEVICE_SECURE_OPEN. */
    if (!rest_chars || (device->Characteristics & FILE_DEVICE_SECURE_OPEN)) {
        status = shim_access_check(device, Caller, Access, &granted);
        if (!NT_SUCCESS(status))
            return status;
    } else {
        granted = shim_map_generic(Access);
    }

    file = calloc(1, sizeof(*file));
    if (!file)
        shim_die("shim_create: out of host memory");
    file->Type = IO_TYPE_FILE;
    file->Size = sizeof(*file);
    file->DeviceObject = device;
    file->ReadAccess = (granted & FILE_READ_DATA) != 0;
    file->WriteAccess = (granted & (FILE_WRITE_DATA | FILE_APPEND_DATA)) != 0;
    if (rest_chars) {
        file->FileName.Buffer = malloc(rest_chars * sizeof(WCHAR));
        if (!file->FileName.Buffer)
            shim_die("shim_create: out of host memory");
        memcpy(file->FileName.Buffer, rest, rest_chars * sizeof(WCHAR));
        file->FileName.Length = file->FileName.MaximumLength = (USHORT)(rest_chars * 2);
    }

    pthread_mutex_lock(&objects);
    record = device_record(device);
    record->Files++;
    files_open++;
    pthread_mutex_unlock(&objects);
    device->ReferenceCount++;

    memset(&security, 0, sizeof(security));
    security.DesiredAccess = granted;
    new_request(&r, device, file, IRP_MJ_CREATE);
    r.Packet->Irp.Flags = IRP_CREATE_OPERATION;
    r.Packet->Stack[0].Parameters.Create.SecurityContext = &security;
    r.Packet->Stack[0].Parameters.Create.Options = (ULONG)FILE_OPEN << 24;
    status = call_driver(&r, NULL);
    if (!NT_SUCCESS(status)) {
        /* A failed create gets no CLEANUP or CLOSE: the file object just goes. */
        pthread_mutex_lock(&objects);
        record = device_record(device);
        if (record)
            record->Files--;
        files_open--;
        pthread_mutex_unlock(&objects);
        device->ReferenceCount--;
        free(file->FileName.Buffer);
        free(file);
        return status;
    }
    *File = calloc(1, sizeof(**File));
    if (!*File)
        shim_die("shim_create: out of host memory");
    (*File)->FileObject = file;
    (*File)->Device = device;
    (*File)->Serial = serial;
    (*File)->Access = granted;
    return status;
}

PFILE_OBJECT shim_file_object(SHIM_FILE *File)
{
    return File->FileObject;
}

ACCESS_MASK shim_file_access(SHIM_FILE *File)
{
    return File->Access;
}

/* Read and write: the transfer the device asked for with its DO_* flags. */
static NTSTATUS transfer(SHIM_FILE *File, UCHAR Major, PVOID Buffer, ULONG Length,
                         ULONG_PTR *Information)
{
    PDEVICE_OBJECT device;
    SHIM_REQUEST r;
    PIRP irp;
    BOOLEAN reading = (BOOLEAN)(Major == IRP_MJ_READ);

    *Information = 0;
    last_dispatched = FALSE;
    device = live_device(File);
    if (!device)
        return STATUS_NO_SUCH_DEVICE;
    if (!(File->Access & (reading ? FILE_READ_DATA : FILE_WRITE_DATA | FILE_APPEND_DATA)))
        return STATUS_ACCESS_DENIED;
    if (Length && !Buffer)
        return STATUS_ACCESS_VIOLATION; /* the probe of the caller's buffer */

    new_request(&r, device, File->FileObject, Major);
    irp = &r.Packet->Irp;
    irp->Flags = reading ? IRP_READ_OPERATION : IRP_WRITE_OPERATION;
    if (reading)
        r.Packet->Stack[0].Parameters.Read.Length = Length;
    else
        r.Packet->Stack[0].Parameters.Write.Length = Length;
    if (device->Flags & DO_BUFFERED_IO) {
        if (Length > SHIM_MAX_SYSTEM_BUFFER) {
            drop_request(&r);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        if (Length) {
            irp->AssociatedIrp.SystemBuffer = system_buffer(Buffer, reading ? 0 : Length, Length);
            irp->Flags |= IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER |
                          (reading ? IRP_INPUT_OPERATION : 0);
        }
        irp->UserBuffer = Buffer;
        r.UserOutput = Buffer;
        r.OutputLength = Length;
    } else if (device->Flags & DO_DIRECT_IO) {
        /* Windows builds no MDL for 0 bytes; Wine does. */
        if (Length || wine_zero_length_mdl)
            irp->MdlAddress = build_mdl(Buffer, Length, reading);
    } else {
        irp->UserBuffer = untouchable(Buffer);
    }
    return call_driver(&r, Information);
}

NTSTATUS shim_read(SHIM_FILE *File, PVOID Buffer, ULONG Length, ULONG_PTR *Information)
{
    return transfer(File, IRP_MJ_READ, Buffer, Length, Information);
}

NTSTATUS shim_write(SHIM_FILE *File, const VOID *Buffer, ULONG Length, ULONG_PTR *Information)
{
    return transfer(File, IRP_MJ_WRITE, (PVOID)Buffer, Length, Information);
}

static NTSTATUS send_ioctl(SHIM_REQUEST *r, SHIM_FILE *File, ULONG Code, const VOID *Input,
                           ULONG InputLength, PVOID Output, ULONG OutputLength,
                           ULONG_PTR *Information)
{
    ULONG access = (Code >> 14) & 3, method = METHOD_FROM_CTL_CODE(Code);
    PDEVICE_OBJECT device;
    PIO_STACK_LOCATION stack;
    PIRP irp;
    ULONG length;
    BOOLEAN async = r->Async;

    *Information = 0;
    last_dispatched = FALSE;
    device = live_device(File);
    if (!device)
        return STATUS_NO_SUCH_DEVICE;
    /* The access bits of the code against the handle's granted access. */
    if (((access & FILE_READ_ACCESS) && !(File->Access & FILE_READ_DATA)) ||
        ((access & FILE_WRITE_ACCESS) && !(File->Access & FILE_WRITE_DATA)))
        return STATUS_ACCESS_DENIED;
    if (method != METHOD_NEITHER &&
        ((InputLength && !Input) || (OutputLength && !Output)))
        return STATUS_ACCESS_VIOLATION;

    new_request(r, device, File->FileObject, IRP_MJ_DEVICE_CONTROL);
    r->Async = async;
    irp = &r->Packet->Irp;
    stack = &r->Packet->Stack[0];
    stack->Parameters.DeviceIoControl.IoControlCode = Code;
    stack->Parameters.DeviceIoControl.InputBufferLength = InputLength;
    stack->Parameters.DeviceIoControl.OutputBufferLength = OutputLength;
    switch (method) {
    case METHOD_BUFFERED:
        /* One buffer of max(in, out) bytes holding the input; the reply is copied back. */
        length = InputLength > OutputLength ? InputLength : OutputLength;
        if (length > SHIM_MAX_SYSTEM_BUFFER) {
            drop_request(r);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        if (length) {
            irp->AssociatedIrp.SystemBuffer = system_buffer(Input, InputLength, length);
            irp->Flags = IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER |
                         (OutputLength ? IRP_INPUT_OPERATION : 0);
        }
        irp->UserBuffer = Output;
        r->UserOutput = Output;
        r->OutputLength = OutputLength;
        break;
    case METHOD_IN_DIRECT:
    case METHOD_OUT_DIRECT:
        /* The input in a system buffer, the output buffer described by an MDL. */
        if (InputLength > SHIM_MAX_SYSTEM_BUFFER) {
            drop_request(r);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        if (InputLength) {
            irp->AssociatedIrp.SystemBuffer = system_buffer(Input, InputLength, InputLength);
            irp->Flags = IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER;
        }
        if (OutputLength)
            irp->MdlAddress = build_mdl(Output, OutputLength, method == METHOD_OUT_DIRECT);
        irp->UserBuffer = Output;
        break;
    default:
        /* METHOD_NEITHER: raw user pointers, which this driver must never touch. */
        stack->Parameters.DeviceIoControl.Type3InputBuffer = untouchable(Input);
        irp->UserBuffer = untouchable(Output);
        break;
    }
    return call_driver(r, Information);
}

NTSTATUS shim_ioctl(SHIM_FILE *File, ULONG Code, const VOID *Input, ULONG InputLength,
                    PVOID Output, ULONG OutputLength, ULONG_PTR *Information)
{
    SHIM_REQUEST r;

    r.Async = FALSE;
    return send_ioctl(&r, File, Code, Input, InputLength, Output, OutputLength, Information);
}

/* ---- asynchronous requests and cancellation ---- */

struct _SHIM_ASYNC {
    SHIM_REQUEST Request;
    NTSTATUS Refused; /* the I/O manager's answer when it never built the IRP */
    BOOLEAN Sent;     /* the IRP reached the driver */
};

SHIM_ASYNC *shim_ioctl_async(SHIM_FILE *File, ULONG Code, const VOID *Input, ULONG InputLength,
                             PVOID Output, ULONG OutputLength)
{
    SHIM_ASYNC *a = calloc(1, sizeof(*a));
    ULONG_PTR information = 0;
    NTSTATUS status;

    if (!a)
        shim_die("shim_ioctl_async: out of host memory");
    a->Request.Async = TRUE;
    status = send_ioctl(&a->Request, File, Code, Input, InputLength, Output, OutputLength,
                        &information);
    a->Sent = last_dispatched;
    if (!a->Sent)
        a->Refused = status;
    return a;
}

BOOLEAN shim_async_pended(SHIM_ASYNC *Async)
{
    return Async->Request.Pended;
}

BOOLEAN shim_async_done(SHIM_ASYNC *Async)
{
    return !Async->Sent || __atomic_load_n(&Async->Request.Completions, __ATOMIC_ACQUIRE) != 0;
}

NTSTATUS shim_async_status(SHIM_ASYNC *Async, ULONG_PTR *Information)
{
    if (!shim_async_done(Async))
        shim_die("shim_async_status: the request is still pending");
    *Information = Async->Sent ? Async->Request.Information : 0;
    return Async->Sent ? Async->Request.Status : Async->Refused;
}

VOID shim_async_free(SHIM_ASYNC *Async)
{
    if (!shim_async_done(Async))
        shim_die("shim_async_free: the request is still pending (the driver never completed it)");
    if (Async->Request.Packet) {
        UNPOISON(Async->Request.Packet, sizeof(*Async->Request.Packet));
        free(Async->Request.Packet);
    }
    free(Async);
}

/* The one cancel spin lock of the system. */
static KSPIN_LOCK cancel_lock;

VOID IoAcquireCancelSpinLock(PKIRQL Irql)
{
    KeAcquireSpinLock(&cancel_lock, Irql);
}

VOID IoReleaseCancelSpinLock(KIRQL Irql)
{
    KeReleaseSpinLock(&cancel_lock, Irql);
}

/*
 * IoCancelIrp, as the I/O manager calls it for CancelIoEx, CancelIo, CancelSynchronousIo and
 * thread exit: Cancel set and the routine taken under the cancel spin lock, the routine called
 * with it held (it must release it). The objects lock keeps a completion from poisoning the
 * IRP until the routine is taken: whoever then holds the routine owns the IRP.
 */
BOOLEAN shim_async_cancel(SHIM_ASYNC *Async)
{
    SHIM_REQUEST *r = &Async->Request, *p;
    PIRP irp;
    PDRIVER_CANCEL routine;
    KIRQL irql;

    if (!Async->Sent)
        return FALSE;
    pthread_mutex_lock(&objects);
    for (p = in_flight; p && p != r; p = p->Next)
        ;
    if (!p) {
        pthread_mutex_unlock(&objects);
        return FALSE;
    }
    irp = &r->Packet->Irp;
    IoAcquireCancelSpinLock(&irql);
    irp->Cancel = TRUE;
    routine = IoSetCancelRoutine(irp, NULL);
    pthread_mutex_unlock(&objects);
    if (!routine) {
        IoReleaseCancelSpinLock(irql);
        return FALSE;
    }
    irp->CancelIrql = irql;
    routine(r->Device, irp);
    if (shim_current_irql() != irql || shim_spin_locks_held())
        shim_die("a cancel routine returned at IRQL %u holding %u spin locks (it must release the "
                 "cancel spin lock)", shim_current_irql(), shim_spin_locks_held());
    return TRUE;
}

/* Requests of File that are still in flight. */
static ULONG pending_on(SHIM_FILE *File)
{
    SHIM_REQUEST *p;
    ULONG n = 0;

    pthread_mutex_lock(&objects);
    for (p = in_flight; p; p = p->Next)
        if (p->Packet->Irp.Tail.Overlay.OriginalFileObject == File->FileObject)
            n++;
    pthread_mutex_unlock(&objects);
    return n;
}

ULONG shim_pending_on(SHIM_FILE *File)
{
    return pending_on(File);
}

NTSTATUS shim_irp(SHIM_FILE *File, UCHAR MajorFunction, ULONG_PTR *Information)
{
    PDEVICE_OBJECT device;
    SHIM_REQUEST r;

    *Information = 0;
    last_dispatched = FALSE;
    switch (MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLEANUP:
    case IRP_MJ_CLOSE:
        shim_die("shim_irp(0x%02x): use shim_create, shim_cleanup or shim_close", MajorFunction);
    }
    if (MajorFunction > IRP_MJ_MAXIMUM_FUNCTION)
        shim_die("shim_irp(0x%02x): no such major function", MajorFunction);
    device = live_device(File);
    if (!device)
        return STATUS_NO_SUCH_DEVICE;
    new_request(&r, device, File->FileObject, MajorFunction);
    return call_driver(&r, Information);
}

VOID shim_cleanup(SHIM_FILE *File)
{
    PDEVICE_OBJECT device = live_device(File);
    SHIM_REQUEST r;
    NTSTATUS status;

    last_dispatched = FALSE;
    if (File->CleanedUp)
        shim_die("shim_cleanup: the handle was already closed");
    if (!device)
        shim_die("shim_cleanup: the device is gone; use shim_abandon");
    new_request(&r, device, File->FileObject, IRP_MJ_CLEANUP);
    status = call_driver(&r, NULL);
    if (!NT_SUCCESS(status))
        shim_die("IRP_MJ_CLEANUP failed with 0x%08x (the I/O manager ignores it, but a driver "
                 "should not fail it)", (unsigned)status);
    File->CleanedUp = TRUE;
}

static void release_file(SHIM_FILE *File)
{
    DEVICE_RECORD *record;
    PDEVICE_OBJECT device = live_device(File);

    pthread_mutex_lock(&objects);
    record = device ? device_record(device) : NULL;
    if (record)
        record->Files--;
    files_open--;
    pthread_mutex_unlock(&objects);
    if (device)
        device->ReferenceCount--;
    free(File->FileObject->FileName.Buffer);
    free(File->FileObject);
    free(File);
}

static VOID send_close(SHIM_FILE *File, PDEVICE_OBJECT Device)
{
    SHIM_REQUEST r;
    NTSTATUS status;

    last_dispatched = FALSE;
    new_request(&r, Device, File->FileObject, IRP_MJ_CLOSE);
    status = call_driver(&r, NULL);
    if (!NT_SUCCESS(status))
        shim_die("IRP_MJ_CLOSE failed with 0x%08x", (unsigned)status);
    release_file(File);
}

VOID shim_close(SHIM_FILE *File)
{
    PDEVICE_OBJECT device = live_device(File);

    if (!device)
        shim_die("shim_close: the device is gone; use shim_abandon");
    if (!File->CleanedUp)
        shim_cleanup(File);
    /* Every IRP holds a reference to its file object: CLOSE waits for the last one. */
    if (pending_on(File))
        shim_die("shim_close: %u requests still pending after IRP_MJ_CLEANUP: Windows would "
                 "never send IRP_MJ_CLOSE (the handle's CLEANUP must end them)", pending_on(File));
    send_close(File, device);
}

VOID shim_close_wine(SHIM_FILE *File)
{
    PDEVICE_OBJECT device = live_device(File);

    if (!device)
        shim_die("shim_close_wine: the device is gone; use shim_abandon");
    send_close(File, device);
}

VOID shim_abandon(SHIM_FILE *File)
{
    release_file(File);
}
