/* SPDX-License-Identifier: MIT */
/*
 * A failure at every failable kernel call the driver makes: each call of DriverEntry in turn,
 * and each call of every dispatch path. Each run must return the right status, leave nothing
 * behind in the ledger, and leave the driver usable where Windows would.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

static ULONG entry_points, dispatch_points, dispatch_paths;

/* The distinct APIs failed so far, for the summary line. */
static const char *apis[16];
static ULONG api_count;

static void note_api(const char *api)
{
    ULONG i;

    for (i = 0; i < api_count; i++)
        if (!strcmp(apis[i], api))
            return;
    if (api_count < ARRAYSIZE(apis))
        apis[api_count++] = api;
}

static int api_seen(const char *api)
{
    ULONG i;

    for (i = 0; i < api_count; i++)
        if (!strcmp(apis[i], api))
            return 1;
    return 0;
}

/* A driver that works: open, GET_VERSION, a message there and back, close, unload clean. */
static void check_usable(ULONG n)
{
    PDRIVER_OBJECT driver;
    SHIM_FILE *f = NULL;
    UCHAR buf[32];
    ULONG_PTR info;
    NTSTATUS status;

    shim_log_clear();
    status = shim_load_driver(DriverEntry, &driver);
    ok(status == STATUS_SUCCESS, "after fault %u: DriverEntry again: 0x%08x\n", n, ST(status));
    if (!NT_SUCCESS(status))
        return;
    status = shim_create(SANCTUM_DOS_DEVICE_NAME, RW, SHIM_CALLER_ADMIN, &f);
    ok(status == STATUS_SUCCESS, "after fault %u: open: 0x%08x\n", n, ST(status));
    if (f) {
        status = shim_ioctl(f, IOCTL_SANCTUM_GET_VERSION, NULL, 0, buf, sizeof(buf), &info);
        ok(status == STATUS_SUCCESS && info == sizeof(SANCTUM_VERSION),
           "after fault %u: GET_VERSION: 0x%08x\n", n, ST(status));
        status = shim_write(f, "ping", 4, &info);
        ok(status == STATUS_SUCCESS, "after fault %u: write: 0x%08x\n", n, ST(status));
        status = shim_read(f, buf, sizeof(buf), &info);
        ok(status == STATUS_SUCCESS && info == 4 && !memcmp(buf, "ping", 4),
           "after fault %u: read: 0x%08x, %llu\n", n, ST(status), U64(info));
        shim_close(f);
    }
    shim_unload_driver(driver);
    ok(shim_log_find(UNLOAD_LINE) == 1, "after fault %u: no clean unload line\n", n);
    check_ledger_empty("after a failed DriverEntry, a second load and unload");
}

/* DriverEntry with its n-th failable call failing, for n = 1, 2, ... until none fails. */
static void test_entry_faults(void)
{
    static const char *const expected[] = {
        "IoCreateDevice", "RtlInitializeSid", "RtlCreateAcl", "RtlAddAccessAllowedAce",
        "RtlCreateSecurityDescriptor", "RtlSetDaclSecurityDescriptor", "ObOpenObjectByPointer",
        "ZwSetSecurityObject", "PsSetCreateProcessNotifyRoutineEx",
        "PsSetCreateThreadNotifyRoutine", "PsSetLoadImageNotifyRoutine", "IoCreateSymbolicLink",
    };
    PDRIVER_OBJECT driver;
    NTSTATUS status, failure;
    ULONG64 injected, calls;
    char text[64];
    ULONG n, i;

    api_count = 0;
    for (n = 1; n < 100; n++) {
        injected = shim_injected_failures();
        calls = shim_failable_calls();
        shim_log_clear();
        shim_fail_call(n);
        status = shim_load_driver(DriverEntry, &driver);
        shim_fail_call(0);
        if (shim_injected_failures() == injected) {
            /* n is beyond DriverEntry's last failable call: it made n - 1 of them. */
            ok(status == STATUS_SUCCESS, "no fault injected, DriverEntry: 0x%08x\n", ST(status));
            ok(shim_failable_calls() - calls == n - 1, "DriverEntry made %llu failable calls, "
               "the walk found %u\n", U64(shim_failable_calls() - calls), n - 1);
            if (NT_SUCCESS(status))
                shim_unload_driver(driver);
            check_ledger_empty("DriverEntry without a fault");
            break;
        }
        failure = shim_last_injected_status();
        note_api(shim_last_injected_api());
        ok(status == failure, "fault %u in %s: DriverEntry returned 0x%08x, expected 0x%08x\n", n,
           shim_last_injected_api(), ST(status), ST(failure));
        ok(driver == NULL, "fault %u: a failed DriverEntry left a driver object\n", n);
        if (NT_SUCCESS(status) && driver)
            shim_unload_driver(driver);
        /* Nothing left: no device, no link, no object handle, no pool. */
        check_ledger_empty(shim_last_injected_api());
        /* The failure is logged with its status, printed as Windows prints %08lx. */
        snprintf(text, sizeof(text), ": 0x%08x\n", ST(failure));
        ok(shim_log_find(SANCTUM_LOG_PREFIX ": ") == 1 && shim_log_find(text) == 1,
           "fault %u in %s: the log says \"%s\"\n", n, shim_last_injected_api(),
           shim_log_count() ? shim_log_line(shim_log_count() - 1)->Text : "nothing\n");
        check_usable(n);
    }
    entry_points = n - 1;
    for (i = 0; i < ARRAYSIZE(expected); i++)
        ok(api_seen(expected[i]), "DriverEntry was never failed in %s\n", expected[i]);
}

/*
 * One dispatch path: a request on a handle of a loaded driver, with what it returns when
 * nothing fails. Setup runs before the fault is armed.
 */
typedef struct {
    const char *Name;
    ULONG Major; /* IRP_MJ_CREATE, _READ, _WRITE or _DEVICE_CONTROL */
    ULONG Code, InLength, OutLength;
    ULONG Queued; /* messages of 3 bytes queued first */
    NTSTATUS Normal;
    ULONG_PTR NormalInfo;
} PATH;

/* Sends the path's request; a read's or an IOCTL's output is checked against the canary. */
static NTSTATUS send_path(const PATH *p, SHIM_FILE *f, SHIM_FILE **created, ULONG_PTR *info,
                          int *wrote_on_failure)
{
    UCHAR *in = xmalloc(p->InLength ? p->InLength : 1), *out;
    NTSTATUS status = STATUS_SUCCESS;
    ULONG length = p->OutLength;

    pattern(in, p->InLength, 5);
    if (p->Code == IOCTL_SANCTUM_FILL && p->InLength == 4)
        memcpy(in, "\x01\x02\x03\x04", 4);
    if (p->Code == IOCTL_SANCTUM_SUBSCRIBE && p->InLength == sizeof(SANCTUM_SUBSCRIBE)) {
        SANCTUM_SUBSCRIBE s = { sizeof(s), SANCTUM_EVENT_ALL, 0 };

        memcpy(in, &s, sizeof(s));
    }
    out = canary_buffer((size_t)length + 16);
    *info = 0;
    switch (p->Major) {
    case IRP_MJ_CREATE:
        status = shim_create(SANCTUM_DOS_DEVICE_NAME, RW, SHIM_CALLER_ADMIN, created);
        break;
    case IRP_MJ_WRITE:
        status = shim_write(f, in, p->InLength, info);
        break;
    case IRP_MJ_READ:
        status = shim_read(f, out, length, info);
        break;
    case IRP_MJ_DEVICE_CONTROL:
        status = shim_ioctl(f, p->Code, in, p->InLength, out, length, info);
        break;
    }
    *wrote_on_failure = !NT_SUCCESS(status) && first_written(out, 0, (size_t)length + 16) >= 0;
    free(out);
    free(in);
    return status;
}

static volatile LONG64 *request_counter(PSANCTUM_STATE st, ULONG major)
{
    switch (major) {
    case IRP_MJ_READ:
        return &st->Reads;
    case IRP_MJ_WRITE:
        return &st->Writes;
    case IRP_MJ_DEVICE_CONTROL:
        return &st->Ioctls;
    default:
        return &st->Creates;
    }
}

/* Closes what a run of the path opened and unloads: the ledger must then be empty. */
static void end_path(const PATH *p, PDRIVER_OBJECT driver, SHIM_FILE *f, SHIM_FILE *created)
{
    if (created)
        shim_close(created);
    shim_close(f);
    shim_unload_driver(driver);
    check_ledger_empty(p->Name);
}

static void walk_path(const PATH *p)
{
    PDRIVER_OBJECT driver;
    PSANCTUM_STATE st;
    SANCTUM_STATS before, after;
    SHIM_FILE *f, *created;
    ULONG64 injected, requests;
    BOOLEAN staged;
    ULONG_PTR info;
    NTSTATUS status;
    ULONG n, i;
    int wrote;

    for (n = 1; n < 20; n++) {
        if (!NT_SUCCESS(shim_load_driver(DriverEntry, &driver))) {
            ok(0, "%s: DriverEntry failed\n", p->Name);
            return;
        }
        st = driver->DeviceObject->DeviceExtension;
        if (!NT_SUCCESS(shim_create(SANCTUM_DOS_DEVICE_NAME, RW, SHIM_CALLER_ADMIN, &f))) {
            ok(0, "%s: open failed\n", p->Name);
            shim_unload_driver(driver);
            return;
        }
        for (i = 0; i < p->Queued; i++)
            shim_write(f, "abc", 3, &info);
        created = NULL;
        before = snap(st);
        staged = st->Staging != NULL;
        requests = (ULONG64)*request_counter(st, p->Major);
        injected = shim_injected_failures();

        shim_fail_call(n);
        status = send_path(p, f, &created, &info, &wrote);
        shim_fail_call(0);

        if (shim_injected_failures() == injected) {
            /* Beyond the path's last failable call: the request as it normally goes. */
            ok(status == p->Normal && info == p->NormalInfo,
               "%s without a fault: 0x%08x, %llu bytes; expected 0x%08x, %llu\n", p->Name,
               ST(status), U64(info), ST(p->Normal), U64(p->NormalInfo));
            end_path(p, driver, f, created);
            break;
        }
        note_api(shim_last_injected_api());
        /* The documented failure, nothing returned, nothing written, nothing allocated. */
        ok(status == STATUS_INSUFFICIENT_RESOURCES && info == 0 && !created,
           "%s, fault %u in %s: 0x%08x, %llu bytes\n", p->Name, n, shim_last_injected_api(),
           ST(status), U64(info));
        ok(!wrote, "%s, fault %u: the failed request wrote into the caller's buffer\n", p->Name, n);
        after = snap(st);
        ok(after.Failures == before.Failures + 1 && after.BytesIn == before.BytesIn &&
               after.BytesOut == before.BytesOut,
           "%s, fault %u: Failures +%llu, BytesIn +%llu, BytesOut +%llu\n", p->Name, n,
           U64(after.Failures - before.Failures), U64(after.BytesIn - before.BytesIn),
           U64(after.BytesOut - before.BytesOut));
        ok((ULONG64)*request_counter(st, p->Major) ==
               requests + (p->Major == IRP_MJ_CREATE ? 0 : 1),
           "%s, fault %u: the request was counted %llu times\n", p->Name, n,
           U64((ULONG64)*request_counter(st, p->Major) - requests));
        /* The first SUBSCRIBE makes the staging buffers, which stay until unload (events.c). */
        if (!staged && st->Staging)
            before.PoolAllocations++, before.PoolBytes += STAGING_BYTES;
        ok(after.PoolAllocations == before.PoolAllocations && after.PoolBytes == before.PoolBytes &&
               after.OpenHandles == before.OpenHandles,
           "%s, fault %u: pool %llu -> %llu blocks, %u -> %u handles\n", p->Name, n,
           U64(before.PoolAllocations), U64(after.PoolAllocations), before.OpenHandles,
           after.OpenHandles);
        check_pool(st, after.PoolAllocations, after.PoolBytes);

        /* The same request on the same handle, without a fault, works as it always does. */
        status = send_path(p, f, &created, &info, &wrote);
        ok(status == p->Normal && info == p->NormalInfo,
           "%s after fault %u: 0x%08x, %llu bytes; expected 0x%08x, %llu\n", p->Name, n,
           ST(status), U64(info), ST(p->Normal), U64(p->NormalInfo));
        end_path(p, driver, f, created);
        dispatch_points++;
    }
    dispatch_paths++;
}

static void test_dispatch_faults(void)
{
    static const PATH paths[] = {
        { "create", IRP_MJ_CREATE, 0, 0, 0, 0, STATUS_SUCCESS, 0 },
        { "write 10", IRP_MJ_WRITE, 0, 10, 0, 0, STATUS_SUCCESS, 10 },
        { "write 65536", IRP_MJ_WRITE, 0, SANCTUM_MAX_MESSAGE, 0, 0, STATUS_SUCCESS,
          SANCTUM_MAX_MESSAGE },
        { "write 0", IRP_MJ_WRITE, 0, 0, 0, 0, STATUS_INVALID_PARAMETER, 0 },
        { "write to a full queue", IRP_MJ_WRITE, 0, 3, 0, SANCTUM_MAX_QUEUED, STATUS_DEVICE_BUSY,
          0 },
        { "read a message", IRP_MJ_READ, 0, 0, 64, 1, STATUS_SUCCESS, 3 },
        { "read nothing", IRP_MJ_READ, 0, 0, 64, 0, STATUS_SUCCESS, 0 },
        { "read too short", IRP_MJ_READ, 0, 0, 2, 1, STATUS_BUFFER_TOO_SMALL, 0 },
        { "GET_VERSION", IRP_MJ_DEVICE_CONTROL, IOCTL_SANCTUM_GET_VERSION, 0, 64, 0,
          STATUS_SUCCESS, sizeof(SANCTUM_VERSION) },
        { "ECHO", IRP_MJ_DEVICE_CONTROL, IOCTL_SANCTUM_ECHO, 100, 100, 0, STATUS_SUCCESS, 100 },
        { "GET_STATS", IRP_MJ_DEVICE_CONTROL, IOCTL_SANCTUM_GET_STATS, 0, sizeof(SANCTUM_STATS), 0, STATUS_SUCCESS,
          sizeof(SANCTUM_STATS) },
        { "FILL", IRP_MJ_DEVICE_CONTROL, IOCTL_SANCTUM_FILL, 4, 4096, 0, STATUS_SUCCESS, 4096 },
        { "FILL with a bad seed", IRP_MJ_DEVICE_CONTROL, IOCTL_SANCTUM_FILL, 3, 4096, 0,
          STATUS_INVALID_PARAMETER, 0 },
        { "SUBSCRIBE", IRP_MJ_DEVICE_CONTROL, IOCTL_SANCTUM_SUBSCRIBE, sizeof(SANCTUM_SUBSCRIBE),
          0, 0, STATUS_SUCCESS, 0 },
        { "MARK", IRP_MJ_DEVICE_CONTROL, IOCTL_SANCTUM_MARK, 100, 0, 0, STATUS_SUCCESS, 0 },
        { "GET_EVENTS unsubscribed", IRP_MJ_DEVICE_CONTROL, IOCTL_SANCTUM_GET_EVENTS, 0,
          SANCTUM_MAX_EVENT_SIZE, 0, STATUS_INVALID_DEVICE_STATE, 0 },
        { "an unknown METHOD_OUT_DIRECT code", IRP_MJ_DEVICE_CONTROL,
          CTL_CODE(SANCTUM_DEVICE_TYPE, 0x900, METHOD_OUT_DIRECT, FILE_ANY_ACCESS), 4, 64, 0,
          STATUS_INVALID_DEVICE_REQUEST, 0 },
        { "an unknown METHOD_IN_DIRECT code", IRP_MJ_DEVICE_CONTROL,
          CTL_CODE(SANCTUM_DEVICE_TYPE, 0x900, METHOD_IN_DIRECT, FILE_ANY_ACCESS), 4, 64, 0,
          STATUS_INVALID_DEVICE_REQUEST, 0 },
    };
    ULONG i;

    api_count = 0;
    for (i = 0; i < ARRAYSIZE(paths); i++)
        walk_path(&paths[i]);
    ok(api_seen("ExAllocatePoolWithTag") && api_seen("MmMapLockedPagesSpecifyCache"),
       "the dispatch paths never failed an allocation or an MDL mapping\n");
}

/* CLEANUP and CLOSE make no failable call: a pending failure survives them. */
static void test_close_cannot_fail(void)
{
    PDRIVER_OBJECT driver;
    SHIM_FILE *f;
    ULONG_PTR info;
    ULONG64 injected = shim_injected_failures();
    PVOID probe;

    if (!NT_SUCCESS(shim_load_driver(DriverEntry, &driver)))
        return;
    if (NT_SUCCESS(shim_create(SANCTUM_DOS_DEVICE_NAME, RW, SHIM_CALLER_ADMIN, &f))) {
        shim_write(f, "abc", 3, &info);
        injected = shim_injected_failures();
        shim_fail_call(1);
        shim_close(f);
        ok(shim_injected_failures() == injected, "CLEANUP or CLOSE made a failable call\n");
    }
    shim_unload_driver(driver);
    ok(shim_injected_failures() == injected, "DriverUnload made a failable call\n");
    probe = ExAllocatePoolWithTag(NonPagedPoolNx, 1, SANCTUM_POOL_TAG);
    ok(probe == NULL, "the pending failure was used up\n");
    if (probe)
        ExFreePoolWithTag(probe, SANCTUM_POOL_TAG);
    shim_fail_call(0);
    check_ledger_empty("close cannot fail");
}

void test_faults(void)
{
    test_entry_faults();
    test_dispatch_faults();
    test_close_cannot_fail();
    printf("faults: %u points in DriverEntry, %u in dispatch (%u paths)\n", entry_points,
           dispatch_points, dispatch_paths);
}
