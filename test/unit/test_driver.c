/* SPDX-License-Identifier: MIT */
/*
 * The whole driver through IRPs: DriverEntry, every dispatch routine through
 * DriverObject->MajorFunction[] with IRPs built as Windows builds them, and DriverUnload,
 * with the shim's ledger of pool, devices, links and handles empty after every unload.
 */
#include "unit.h"

#include <stdlib.h>

#define VERSION_BYTES ((ULONG)sizeof(SANCTUM_VERSION))
#define STATS_BYTES ((ULONG)sizeof(SANCTUM_STATS))
/* Bytes past the length given to the driver that must stay untouched too. */
#define GUARD 16

typedef struct {
    NTSTATUS Status;
    ULONG_PTR Info;
    UCHAR *Out; /* OutLen + GUARD bytes, CANARY where nothing was written */
    ULONG OutLen;
    BOOLEAN Dispatched;
} REPLY;

/* The rules every reply keeps: Information within the buffer, 0 on failure, no byte written
 * past Information (on failure, none at all). */
static void check_reply(const char *file, int line, const char *what, REPLY *r)
{
    size_t from = NT_SUCCESS(r->Status) ? r->Info : 0;
    long bad;

    ok_(file, line, r->Info <= r->OutLen, "%s: Information %llu > %u\n", what, U64(r->Info),
        r->OutLen);
    ok_(file, line, NT_SUCCESS(r->Status) || r->Info == 0, "%s: failed with 0x%08x, %llu bytes\n",
        what, ST(r->Status), U64(r->Info));
    if (from > r->OutLen)
        from = r->OutLen;
    bad = first_written(r->Out, from, r->OutLen + GUARD);
    ok_(file, line, bad < 0, "%s: byte %ld of %u written past the reply of %llu\n", what, bad,
        r->OutLen, U64(r->Info));
}

#define ioctl_irp(f, code, in, in_len, out_len) \
    ioctl_irp_(__FILE__, __LINE__, (f), (code), (in), (in_len), (out_len))
static REPLY ioctl_irp_(const char *file, int line, SHIM_FILE *f, ULONG code, const void *in,
                        ULONG in_len, ULONG out_len)
{
    REPLY r;

    r.Out = canary_buffer((size_t)out_len + GUARD);
    r.OutLen = out_len;
    r.Status = shim_ioctl(f, code, in, in_len, r.Out, out_len, &r.Info);
    r.Dispatched = shim_last_dispatched();
    check_reply(file, line, "IOCTL", &r);
    return r;
}

#define read_irp(f, len) read_irp_(__FILE__, __LINE__, (f), (len))
static REPLY read_irp_(const char *file, int line, SHIM_FILE *f, ULONG len)
{
    REPLY r;

    r.Out = canary_buffer((size_t)len + GUARD);
    r.OutLen = len;
    r.Status = shim_read(f, r.Out, len, &r.Info);
    r.Dispatched = shim_last_dispatched();
    check_reply(file, line, "read", &r);
    return r;
}

#define write_irp(f, data, len) write_irp_(__FILE__, __LINE__, (f), (data), (len))
static REPLY write_irp_(const char *file, int line, SHIM_FILE *f, const UCHAR *data, ULONG len)
{
    REPLY r;

    memset(&r, 0, sizeof(r));
    r.Status = shim_write(f, data, len, &r.Info);
    r.Dispatched = shim_last_dispatched();
    ok_(file, line, NT_SUCCESS(r.Status) ? r.Info == len : r.Info == 0,
        "write %u: 0x%08x, Information %llu\n", len, ST(r.Status), U64(r.Info));
    return r;
}

/* The counters the driver keeps, against a model, and the ledger against the counters. */
#define expect(driver, e) expect_(__FILE__, __LINE__, (driver), (e))
static void expect_(const char *file, int line, PDRIVER_OBJECT driver, SANCTUM_STATS *e)
{
    SANCTUM_STATS s = snap(state_of(driver));
    ULONG64 bytes, blocks = shim_pool_outstanding(&bytes);

    e->Size = STATS_BYTES;
    check_stats_(file, line, &s, e);
    ok_(file, line, blocks == s.PoolAllocations && bytes == s.PoolBytes,
        "ledger %llu blocks, %llu bytes; the driver counts %llu, %llu\n", U64(blocks), U64(bytes),
        U64(s.PoolAllocations), U64(s.PoolBytes));
}

/* DriverEntry: the driver object, the device, the link, and nothing else. */
static void test_entry(void)
{
    PDRIVER_OBJECT driver = load_ok();
    PDEVICE_OBJECT device;
    PCUNICODE_STRING target;
    PDRIVER_DISPATCH unsupported;
    SHIM_LEDGER l;
    ULONG i, others = 0;

    if (!driver)
        return;
    device = driver->DeviceObject;
    ok(device && !device->NextDevice, "DriverEntry made %s devices\n", device ? "several" : "no");
    if (!device)
        return;
    ok(driver->DriverUnload != NULL, "no DriverUnload: the driver could not be stopped\n");
    unsupported = driver->MajorFunction[IRP_MJ_FLUSH_BUFFERS];
    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++) {
        switch (i) {
        case IRP_MJ_CREATE:
        case IRP_MJ_CLEANUP:
        case IRP_MJ_CLOSE:
        case IRP_MJ_READ:
        case IRP_MJ_WRITE:
        case IRP_MJ_DEVICE_CONTROL:
            ok(driver->MajorFunction[i] && driver->MajorFunction[i] != unsupported,
               "MajorFunction[0x%02x] is not its own routine\n", i);
            break;
        default:
            others += driver->MajorFunction[i] == unsupported;
        }
    }
    ok(others == IRP_MJ_MAXIMUM_FUNCTION + 1 - 6, "%u majors share the unsupported routine\n",
       others);

    ok(device->DeviceType == SANCTUM_DEVICE_TYPE, "device type 0x%x\n", device->DeviceType);
    ok(device->Characteristics == FILE_DEVICE_SECURE_OPEN, "characteristics 0x%x\n",
       device->Characteristics);
    ok(device->Flags & DO_DIRECT_IO, "DO_DIRECT_IO is not set: flags 0x%x\n", device->Flags);
    ok(!(device->Flags & (DO_BUFFERED_IO | DO_EXCLUSIVE)), "flags 0x%x\n", device->Flags);
    ok(!(device->Flags & DO_DEVICE_INITIALIZING), "DO_DEVICE_INITIALIZING is still set\n");
    ok(device->DeviceExtension != NULL, "no device extension\n");
    ok(shim_find_device(SANCTUM_NT_DEVICE_NAME) == device, "no device named %s\n",
       "\\Device\\SanctumEDR");
    target = shim_find_link(SANCTUM_DOS_DEVICE_NAME);
    ok(target && shim_unicode_equal(target, SANCTUM_NT_DEVICE_NAME),
       "no link \\??\\SanctumEDR to the device\n");

    shim_ledger(&l);
    ok(l.Devices == 1 && l.Links == 1 && l.Handles == 0 && l.PoolBlocks == 0 &&
           l.PoolBytes == 0 && l.Files == 0 && l.Notifications == 3,
       "after DriverEntry: %u devices, %u links, %u handles, %llu pool blocks (%llu bytes), %u "
       "notify routines\n", l.Devices, l.Links, l.Handles, U64(l.PoolBlocks), U64(l.PoolBytes),
       l.Notifications);
    unload_ok(driver, 0);
    ok(!shim_find_link(SANCTUM_DOS_DEVICE_NAME) && !shim_find_device(SANCTUM_NT_DEVICE_NAME),
       "the link or the device outlived DriverUnload\n");
}

static int sid_is(PSID sid, UCHAR count, ULONG first, ULONG second)
{
    union {
        SID Sid;
        UCHAR Bytes[16];
    } want;
    SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;

    memset(&want, 0, sizeof(want));
    want.Sid.Revision = SID_REVISION;
    want.Sid.SubAuthorityCount = count;
    want.Sid.IdentifierAuthority = nt;
    memcpy(want.Bytes + 8, &first, sizeof(first));
    memcpy(want.Bytes + 12, &second, sizeof(second));
    return shim_sid_equal(sid, &want.Sid);
}

/* The DACL the driver gave its device, byte by byte, and what it lets through. */
static void test_security(void)
{
    PDRIVER_OBJECT driver = load_ok();
    const SHIM_SECURITY *sec;
    const SECURITY_DESCRIPTOR *sd;
    const ACL *dacl;
    const UCHAR *ace;
    ACCESS_ALLOWED_ACE a0, a1;
    SHIM_FILE *f;
    NTSTATUS status;

    if (!driver)
        return;
    sec = shim_device_security(driver->DeviceObject);
    ok(sec != NULL, "ZwSetSecurityObject never succeeded on the device\n");
    if (!sec) {
        unload_ok(driver, 0);
        return;
    }
    ok(sec->Sets == 1, "the descriptor was set %u times\n", sec->Sets);
    ok(!sec->LinkExisted, "the DACL was set after the symbolic link made the device reachable\n");
    ok(sec->Initializing, "the DACL was set after DO_DEVICE_INITIALIZING was cleared: "
                          "\\Device\\SanctumEDR could be opened without it\n");
    ok(sec->Information == (DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION),
       "security information 0x%08x\n", sec->Information);
    ok((sec->HandleAttributes & OBJ_KERNEL_HANDLE) && sec->HandleMode == KernelMode &&
           (sec->HandleAccess & WRITE_DAC),
       "handle: attributes 0x%x, mode %d, access 0x%08x\n", sec->HandleAttributes,
       sec->HandleMode, sec->HandleAccess);

    sd = &sec->Descriptor;
    ok(sd->Revision == SECURITY_DESCRIPTOR_REVISION && !sd->Owner && !sd->Group && !sd->Sacl,
       "descriptor: revision %u\n", sd->Revision);
    ok((sd->Control & SE_DACL_PRESENT) && (sd->Control & SE_DACL_PROTECTED) &&
           !(sd->Control & SE_DACL_DEFAULTED),
       "control 0x%04x: the DACL must be present, protected and not defaulted\n", sd->Control);
    dacl = sd->Dacl;
    ok(dacl != NULL, "a NULL DACL admits everyone\n");
    if (dacl) {
        ok(dacl->AclRevision == ACL_REVISION && dacl->AceCount == 2,
           "ACL revision %u, %u ACEs\n", dacl->AclRevision, dacl->AceCount);
        ace = (const UCHAR *)dacl + sizeof(ACL);
        memcpy(&a0, ace, sizeof(a0));
        ok(a0.Header.AceType == ACCESS_ALLOWED_ACE_TYPE && a0.Header.AceFlags == 0 &&
               a0.Header.AceSize == 8 + 12 && a0.Mask == FILE_ALL_ACCESS && a0.Mask == 0x1F01FF,
           "ACE 0: type %u, flags 0x%x, size %u, mask 0x%08x\n", a0.Header.AceType,
           a0.Header.AceFlags, a0.Header.AceSize, a0.Mask);
        ok(sid_is((PSID)(ace + 8), 1, SECURITY_LOCAL_SYSTEM_RID, 0), "ACE 0 is not S-1-5-18\n");
        ace += a0.Header.AceSize;
        memcpy(&a1, ace, sizeof(a1));
        ok(a1.Header.AceType == ACCESS_ALLOWED_ACE_TYPE && a1.Header.AceFlags == 0 &&
               a1.Header.AceSize == 8 + 16 && a1.Mask == FILE_ALL_ACCESS,
           "ACE 1: type %u, flags 0x%x, size %u, mask 0x%08x\n", a1.Header.AceType,
           a1.Header.AceFlags, a1.Header.AceSize, a1.Mask);
        ok(sid_is((PSID)(ace + 8), 2, SECURITY_BUILTIN_DOMAIN_RID, DOMAIN_ALIAS_RID_ADMINS),
           "ACE 1 is not S-1-5-32-544\n");
        ok(sizeof(ACL) + a0.Header.AceSize + a1.Header.AceSize <= dacl->AclSize,
           "ACEs beyond AclSize %u\n", dacl->AclSize);
    }

    /* What that means for opens. */
    status = shim_create(SANCTUM_DOS_DEVICE_NAME, FILE_READ_DATA, SHIM_CALLER_USER, &f);
    ok(status == STATUS_ACCESS_DENIED && !f && !shim_last_dispatched(),
       "a standard user opened the device: 0x%08x\n", ST(status));
    status = shim_create(SANCTUM_DOS_DEVICE_NAME L"\\x", FILE_READ_DATA, SHIM_CALLER_USER, &f);
    ok(status == STATUS_ACCESS_DENIED && !f,
       "a standard user opened a name below the device (FILE_DEVICE_SECURE_OPEN): 0x%08x\n",
       ST(status));
    status = shim_create(SANCTUM_DOS_DEVICE_NAME, GENERIC_READ | GENERIC_WRITE, SHIM_CALLER_ADMIN,
                         &f);
    ok(status == STATUS_SUCCESS && f, "an administrator could not open: 0x%08x\n", ST(status));
    if (f)
        shim_close(f);
    status = shim_create(SANCTUM_NT_DEVICE_NAME, RW, SHIM_CALLER_SYSTEM, &f);
    ok(status == STATUS_SUCCESS && f, "LocalSystem could not open: 0x%08x\n", ST(status));
    if (f)
        shim_close(f);
    unload_ok(driver, 0);
}

/* Every IOCTL at its boundaries, through the I/O manager, with the counters after each step. */
static void test_ioctl_irps(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SANCTUM_STATS e, s;
    SANCTUM_VERSION v;
    SHIM_FILE *f, *ro, *none;
    UCHAR *in = xmalloc(SANCTUM_MAX_ECHO + 1), seed[4] = { 0x78, 0x56, 0x34, 0x12 };
    ULONG fill_lengths[] = { 1, 100, 4096, SANCTUM_MAX_FILL };
    REPLY r;
    ULONG i, k;

    if (!driver)
        return;
    memset(&e, 0, sizeof(e));
    pattern(in, SANCTUM_MAX_ECHO + 1, 9);
    f = open_rw();
    e.Creates++, e.OpenHandles++, e.PoolAllocations++, e.PoolBytes += HANDLE_BYTES;
    expect(driver, &e);
    if (!f)
        goto out;

    /* GET_VERSION, METHOD_BUFFERED: one system buffer of max(in, out). */
    for (i = 0; i < VERSION_BYTES; i += VERSION_BYTES - 1) {
        r = ioctl_irp(f, IOCTL_SANCTUM_GET_VERSION, NULL, 0, i);
        ok(r.Status == STATUS_BUFFER_TOO_SMALL && r.Dispatched, "GET_VERSION into %u: 0x%08x\n",
           i, ST(r.Status));
        e.Ioctls++, e.Failures++;
        free(r.Out);
    }
    r = ioctl_irp(f, IOCTL_SANCTUM_GET_VERSION, NULL, 0, 64);
    memcpy(&v, r.Out, sizeof(v));
    ok(r.Status == STATUS_SUCCESS && r.Info == VERSION_BYTES && v.Size == VERSION_BYTES &&
           v.Protocol == SANCTUM_PROTOCOL_VERSION && v.Major == SANCTUM_VERSION_MAJOR &&
           v.Minor == SANCTUM_VERSION_MINOR && v.Patch == SANCTUM_VERSION_PATCH,
       "GET_VERSION: 0x%08x, %llu bytes, size %u, protocol %u\n", ST(r.Status), U64(r.Info),
       v.Size, v.Protocol);
    e.Ioctls++, e.BytesOut += VERSION_BYTES;
    free(r.Out);
    /* An input longer than the output: the system buffer holds it, only 20 bytes come back. */
    r = ioctl_irp(f, IOCTL_SANCTUM_GET_VERSION, in, 100, VERSION_BYTES);
    ok(r.Status == STATUS_SUCCESS && r.Info == VERSION_BYTES, "GET_VERSION with input: 0x%08x\n",
       ST(r.Status));
    e.Ioctls++, e.BytesIn += 100, e.BytesOut += VERSION_BYTES;
    free(r.Out);
    expect(driver, &e);

    /* ECHO. */
    {
        static const struct {
            ULONG In, Out;
            NTSTATUS Status;
        } cases[] = {
            { 0, 16, STATUS_INVALID_PARAMETER },
            { 0, 0, STATUS_INVALID_PARAMETER },
            { SANCTUM_MAX_ECHO + 1, SANCTUM_MAX_ECHO + 1, STATUS_INVALID_PARAMETER },
            { 10, 9, STATUS_BUFFER_TOO_SMALL },
            { 100, 0, STATUS_BUFFER_TOO_SMALL },
            { 1, 1, STATUS_SUCCESS },
            { 10, 100, STATUS_SUCCESS },
            { SANCTUM_MAX_ECHO, SANCTUM_MAX_ECHO, STATUS_SUCCESS },
            { SANCTUM_MAX_ECHO, SANCTUM_MAX_ECHO + 100, STATUS_SUCCESS },
        };
        for (i = 0; i < ARRAYSIZE(cases); i++) {
            r = ioctl_irp(f, IOCTL_SANCTUM_ECHO, in, cases[i].In, cases[i].Out);
            ok(r.Status == cases[i].Status, "ECHO %u into %u: 0x%08x, expected 0x%08x\n",
               cases[i].In, cases[i].Out, ST(r.Status), ST(cases[i].Status));
            e.Ioctls++;
            if (NT_SUCCESS(cases[i].Status)) {
                ok(r.Info == cases[i].In && !memcmp(r.Out, in, cases[i].In),
                   "ECHO %u: %llu bytes, or not the same bytes\n", cases[i].In, U64(r.Info));
                e.BytesIn += cases[i].In, e.BytesOut += cases[i].In;
            } else {
                e.Failures++;
            }
            free(r.Out);
        }
    }
    expect(driver, &e);

    /* GET_STATS: the reply is the counters, this request included, its own bytes not yet. */
    r = ioctl_irp(f, IOCTL_SANCTUM_GET_STATS, NULL, 0, SANCTUM_STATS_V1_SIZE - 1);
    ok(r.Status == STATUS_BUFFER_TOO_SMALL, "GET_STATS into 87: 0x%08x\n", ST(r.Status));
    e.Ioctls++, e.Failures++;
    free(r.Out);
    r = ioctl_irp(f, IOCTL_SANCTUM_GET_STATS, NULL, 0, STATS_BYTES + 8);
    e.Ioctls++;
    memcpy(&s, r.Out, sizeof(s));
    ok(r.Status == STATUS_SUCCESS && r.Info == STATS_BYTES, "GET_STATS: 0x%08x, %llu bytes\n",
       ST(r.Status), U64(r.Info));
    e.Size = STATS_BYTES;
    check_stats(&s, &e);
    e.BytesOut += STATS_BYTES;
    free(r.Out);

    /* FILL, METHOD_OUT_DIRECT: the seed in a system buffer, the output through an MDL. */
    for (k = 0; k < ARRAYSIZE(fill_lengths); k++) {
        ULONG len = fill_lengths[k], bad = len, seed32;

        r = ioctl_irp(f, IOCTL_SANCTUM_FILL, seed, sizeof(seed), len);
        memcpy(&seed32, seed, sizeof(seed32));
        for (i = 0; i < len; i++)
            if (r.Out[i] != (UCHAR)(seed32 + i)) {
                bad = i;
                break;
            }
        ok(r.Status == STATUS_SUCCESS && r.Info == len && bad == len,
           "FILL %u: 0x%08x, %llu bytes, first wrong byte %u\n", len, ST(r.Status), U64(r.Info),
           bad);
        e.Ioctls++, e.BytesIn += 4, e.BytesOut += len;
        free(r.Out);
    }
    ok((shim_last_mapping_priority() & SHIM_MDL_MAPPING_NO_EXECUTE) &&
           (shim_last_mapping_priority() & 0xFF) == NormalPagePriority,
       "the MDL was mapped with priority 0x%08x (NormalPagePriority | MdlMappingNoExecute "
       "expected)\n", shim_last_mapping_priority());
    {
        static const struct {
            ULONG In, Out;
        } bad_fill[] = { { 3, 64 }, { 5, 64 }, { 0, 64 }, { 4, 0 }, { 4, SANCTUM_MAX_FILL + 1 } };
        for (i = 0; i < ARRAYSIZE(bad_fill); i++) {
            r = ioctl_irp(f, IOCTL_SANCTUM_FILL, in, bad_fill[i].In, bad_fill[i].Out);
            ok(r.Status == STATUS_INVALID_PARAMETER, "FILL seed %u into %u: 0x%08x\n",
               bad_fill[i].In, bad_fill[i].Out, ST(r.Status));
            e.Ioctls++, e.Failures++;
            free(r.Out);
        }
    }
    expect(driver, &e);

    /* Codes that are not ours, or ours with another method or access. METHOD_NEITHER hands
     * over pointers into an untouchable page: the driver must not read them. */
    {
        static const ULONG unknown[] = {
            CTL_CODE(SANCTUM_DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_ANY_ACCESS),
            CTL_CODE(SANCTUM_DEVICE_TYPE, 0x800, METHOD_NEITHER, FILE_ANY_ACCESS),
            CTL_CODE(SANCTUM_DEVICE_TYPE, 0x801, METHOD_NEITHER, FILE_READ_DATA | FILE_WRITE_DATA),
            CTL_CODE(SANCTUM_DEVICE_TYPE, 0x803, METHOD_BUFFERED, FILE_READ_DATA),
            CTL_CODE(SANCTUM_DEVICE_TYPE, 0x803, METHOD_IN_DIRECT, FILE_READ_DATA),
            CTL_CODE(SANCTUM_DEVICE_TYPE, 0x800, METHOD_OUT_DIRECT, FILE_ANY_ACCESS),
            CTL_CODE(0x22u, 0x801, METHOD_BUFFERED, FILE_READ_DATA | FILE_WRITE_DATA),
            0,
        };
        for (i = 0; i < ARRAYSIZE(unknown); i++) {
            r = ioctl_irp(f, unknown[i], in, 4, 64);
            ok(r.Status == STATUS_INVALID_DEVICE_REQUEST && r.Dispatched,
               "code 0x%08x: 0x%08x\n", unknown[i], ST(r.Status));
            e.Ioctls++, e.Failures++;
            free(r.Out);
        }
    }
    expect(driver, &e);

    /* The I/O manager enforces the access bits of each code: refused, never dispatched. */
    ro = open_ok_as(FILE_READ_DATA, SHIM_CALLER_ADMIN);
    none = open_ok_as(0, SHIM_CALLER_ADMIN);
    e.Creates += 2, e.OpenHandles += 2, e.PoolAllocations += 2, e.PoolBytes += 2 * HANDLE_BYTES;
    if (ro && none) {
        r = ioctl_irp(ro, IOCTL_SANCTUM_ECHO, in, 4, 4);
        ok(r.Status == STATUS_ACCESS_DENIED && !r.Dispatched, "ECHO on a read-only handle\n");
        free(r.Out);
        r = ioctl_irp(ro, IOCTL_SANCTUM_GET_STATS, NULL, 0, STATS_BYTES);
        ok(r.Status == STATUS_SUCCESS, "GET_STATS on a read-only handle: 0x%08x\n", ST(r.Status));
        e.Ioctls++, e.BytesOut += STATS_BYTES;
        free(r.Out);
        r = write_irp(ro, in, 4);
        ok(r.Status == STATUS_ACCESS_DENIED && !r.Dispatched, "write on a read-only handle\n");
        r = ioctl_irp(none, IOCTL_SANCTUM_GET_STATS, NULL, 0, STATS_BYTES);
        ok(r.Status == STATUS_ACCESS_DENIED && !r.Dispatched, "GET_STATS with no access\n");
        free(r.Out);
        r = ioctl_irp(none, IOCTL_SANCTUM_FILL, seed, 4, 4);
        ok(r.Status == STATUS_ACCESS_DENIED && !r.Dispatched, "FILL with no access\n");
        free(r.Out);
        r = read_irp(none, 16);
        ok(r.Status == STATUS_ACCESS_DENIED && !r.Dispatched, "read with no access\n");
        free(r.Out);
        r = ioctl_irp(none, IOCTL_SANCTUM_GET_VERSION, NULL, 0, VERSION_BYTES);
        ok(r.Status == STATUS_SUCCESS, "GET_VERSION (any access) with no access: 0x%08x\n",
           ST(r.Status));
        e.Ioctls++, e.BytesOut += VERSION_BYTES;
        free(r.Out);
    }
    expect(driver, &e);
    if (ro)
        shim_close(ro);
    if (none)
        shim_close(none);
    e.Closes += 2, e.OpenHandles -= 2, e.PoolAllocations -= 2, e.PoolBytes -= 2 * HANDLE_BYTES;

    /* Every other major function: STATUS_INVALID_DEVICE_REQUEST, no count, no bytes. */
    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++) {
        ULONG_PTR info = INFO_UNSET;
        NTSTATUS status;

        if (i == IRP_MJ_CREATE || i == IRP_MJ_CLEANUP || i == IRP_MJ_CLOSE || i == IRP_MJ_READ ||
            i == IRP_MJ_WRITE || i == IRP_MJ_DEVICE_CONTROL)
            continue;
        status = shim_irp(f, (UCHAR)i, &info);
        ok(status == STATUS_INVALID_DEVICE_REQUEST && info == 0 && shim_last_dispatched(),
           "major 0x%02x: 0x%08x, %llu bytes\n", i, ST(status), U64(info));
    }
    expect(driver, &e);

    shim_close(f);
    e.Closes++, e.OpenHandles--, e.PoolAllocations--, e.PoolBytes -= HANDLE_BYTES;
    expect(driver, &e);
out:
    free(in);
    unload_ok(driver, 0);
}

/* Reads, writes, CLEANUP and CLOSE through IRPs: the queue rules end to end. */
static void test_queue_irps(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SANCTUM_STATS e;
    SHIM_FILE *a, *b;
    UCHAR *data = xmalloc(SANCTUM_MAX_MESSAGE + 1);
    REPLY r;
    ULONG i, wine;

    if (!driver)
        return;
    memset(&e, 0, sizeof(e));
    pattern(data, SANCTUM_MAX_MESSAGE + 1, 4);
    a = open_rw();
    b = open_rw();
    e.Creates = e.OpenHandles = 2, e.PoolAllocations = 2, e.PoolBytes = 2 * HANDLE_BYTES;
    if (!a || !b)
        goto out;
    ok(shim_file_object(a)->FsContext != shim_file_object(b)->FsContext,
       "two handles share one context\n");

    /* 0 bytes: Windows sends no MDL, Wine an MDL of 0 bytes; the driver answers both alike. */
    for (wine = 0; wine < 2; wine++) {
        shim_zero_length_mdl((BOOLEAN)wine);
        r = write_irp(a, data, 0);
        ok(r.Status == STATUS_INVALID_PARAMETER, "write 0 (%s): 0x%08x\n",
           wine ? "Wine" : "Windows", ST(r.Status));
        e.Writes++, e.Failures++;
        r = read_irp(a, 0);
        ok(r.Status == STATUS_SUCCESS && r.Info == 0, "read 0 of nothing (%s): 0x%08x\n",
           wine ? "Wine" : "Windows", ST(r.Status));
        e.Reads++;
        free(r.Out);
    }
    shim_zero_length_mdl(FALSE);
    r = write_irp(a, data, SANCTUM_MAX_MESSAGE + 1);
    ok(r.Status == STATUS_INVALID_PARAMETER, "write max+1: 0x%08x\n", ST(r.Status));
    e.Writes++, e.Failures++;
    r = read_irp(a, 64);
    ok(r.Status == STATUS_SUCCESS && r.Info == 0, "read of nothing: 0x%08x\n", ST(r.Status));
    e.Reads++;
    free(r.Out);
    expect(driver, &e);

    /* FIFO, whole messages, a too-small buffer leaves the message queued. */
    r = write_irp(a, data, 10);
    ok(r.Status == STATUS_SUCCESS, "write 10: 0x%08x\n", ST(r.Status));
    r = write_irp(a, data + 1, SANCTUM_MAX_MESSAGE);
    ok(r.Status == STATUS_SUCCESS, "write max: 0x%08x\n", ST(r.Status));
    r = write_irp(b, data + 2, 1);
    ok(r.Status == STATUS_SUCCESS, "write 1 on b: 0x%08x\n", ST(r.Status));
    e.Writes += 3, e.BytesIn += 10 + SANCTUM_MAX_MESSAGE + 1, e.PoolAllocations += 3;
    e.PoolBytes += MESSAGE_BYTES(10) + MESSAGE_BYTES(SANCTUM_MAX_MESSAGE) + MESSAGE_BYTES(1);
    expect(driver, &e);
    for (wine = 0; wine < 2; wine++) {
        shim_zero_length_mdl((BOOLEAN)wine);
        r = read_irp(a, 0);
        ok(r.Status == STATUS_BUFFER_TOO_SMALL, "read 0 of 10 (%s): 0x%08x\n",
           wine ? "Wine" : "Windows", ST(r.Status));
        e.Reads++, e.Failures++;
        free(r.Out);
    }
    shim_zero_length_mdl(FALSE);
    r = read_irp(a, 9);
    ok(r.Status == STATUS_BUFFER_TOO_SMALL, "read 9 of 10: 0x%08x\n", ST(r.Status));
    e.Reads++, e.Failures++;
    free(r.Out);
    r = read_irp(a, 10);
    ok(r.Status == STATUS_SUCCESS && r.Info == 10 && !memcmp(r.Out, data, 10),
       "read 10 of 10: 0x%08x, %llu bytes\n", ST(r.Status), U64(r.Info));
    e.Reads++, e.BytesOut += 10, e.PoolAllocations--, e.PoolBytes -= MESSAGE_BYTES(10);
    free(r.Out);
    r = read_irp(a, SANCTUM_MAX_MESSAGE + 100);
    ok(r.Status == STATUS_SUCCESS && r.Info == SANCTUM_MAX_MESSAGE &&
           !memcmp(r.Out, data + 1, SANCTUM_MAX_MESSAGE),
       "read max: 0x%08x, %llu bytes\n", ST(r.Status), U64(r.Info));
    e.Reads++, e.BytesOut += SANCTUM_MAX_MESSAGE, e.PoolAllocations--;
    e.PoolBytes -= MESSAGE_BYTES(SANCTUM_MAX_MESSAGE);
    free(r.Out);
    r = read_irp(a, 64);
    ok(r.Status == STATUS_SUCCESS && r.Info == 0, "a is empty: 0x%08x, %llu\n", ST(r.Status),
       U64(r.Info));
    e.Reads++;
    free(r.Out);
    expect(driver, &e);

    /* The 65th message is refused, nothing stored; one read makes room for one. */
    for (i = 0; i < SANCTUM_MAX_QUEUED; i++) {
        r = write_irp(a, data + i, 1 + i);
        if (r.Status != STATUS_SUCCESS)
            ok(0, "write %u: 0x%08x\n", i, ST(r.Status));
        e.Writes++, e.BytesIn += 1 + i, e.PoolAllocations++, e.PoolBytes += MESSAGE_BYTES(1 + i);
    }
    r = write_irp(a, data, 5);
    ok(r.Status == STATUS_DEVICE_BUSY && r.Info == 0, "write 65: 0x%08x\n", ST(r.Status));
    e.Writes++, e.Failures++;
    expect(driver, &e);
    r = read_irp(a, 1);
    ok(r.Status == STATUS_SUCCESS && r.Info == 1 && r.Out[0] == data[0], "read 1 of 64\n");
    e.Reads++, e.BytesOut++, e.PoolAllocations--, e.PoolBytes -= MESSAGE_BYTES(1);
    free(r.Out);
    r = write_irp(a, data, 5);
    ok(r.Status == STATUS_SUCCESS, "write after a read: 0x%08x\n", ST(r.Status));
    e.Writes++, e.BytesIn += 5, e.PoolAllocations++, e.PoolBytes += MESSAGE_BYTES(5);

    /* Handles are isolated: b still has its one byte. */
    r = read_irp(b, 8);
    ok(r.Status == STATUS_SUCCESS && r.Info == 1 && r.Out[0] == data[2], "b: 0x%08x, %llu\n",
       ST(r.Status), U64(r.Info));
    e.Reads++, e.BytesOut++, e.PoolAllocations--, e.PoolBytes -= MESSAGE_BYTES(1);
    free(r.Out);
    expect(driver, &e);

    /* CLEANUP frees the queue, the context lives until CLOSE; a write in flight in between
     * (the handle is gone, its file object not yet) is freed by CLOSE. */
    shim_cleanup(a);
    e.PoolAllocations = 2, e.PoolBytes = 2 * HANDLE_BYTES;
    expect(driver, &e);
    ok(shim_file_object(a)->FsContext != NULL, "CLEANUP cleared FsContext\n");
    r = write_irp(a, data, 7);
    ok(r.Status == STATUS_SUCCESS, "write in flight after CLEANUP: 0x%08x\n", ST(r.Status));
    e.Writes++, e.BytesIn += 7, e.PoolAllocations++, e.PoolBytes += MESSAGE_BYTES(7);
    shim_close(a);
    e.Closes++, e.OpenHandles--, e.PoolAllocations -= 2;
    e.PoolBytes -= HANDLE_BYTES + MESSAGE_BYTES(7);
    expect(driver, &e);
    shim_close(b);
    e.Closes++, e.OpenHandles--, e.PoolAllocations--, e.PoolBytes -= HANDLE_BYTES;
    expect(driver, &e);
out:
    free(data);
    unload_ok(driver, 0);
}

/* Wine stops a driver with handles open: DriverUnload frees their contexts and queues. */
static void test_unload_with_handles(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *f[3], *late;
    UCHAR data[100];
    REPLY r;
    ULONG i;
    NTSTATUS status;

    if (!driver)
        return;
    pattern(data, sizeof(data), 77);
    for (i = 0; i < 3; i++)
        f[i] = open_rw();
    if (!f[0] || !f[1] || !f[2])
        return;
    for (i = 0; i < SANCTUM_MAX_QUEUED; i++)
        write_irp(f[0], data, 1 + i % 100);
    r = write_irp(f[1], data, 100);
    ok(r.Status == STATUS_SUCCESS, "write: 0x%08x\n", ST(r.Status));
    shim_cleanup(f[2]); /* one half closed */
    ok(snap(state_of(driver)).PoolAllocations == 3 + SANCTUM_MAX_QUEUED + 1,
       "before unload: %llu blocks\n", U64(snap(state_of(driver)).PoolAllocations));

    unload_ok(driver, 3);
    /* The name is gone with the link; the handles find no device. */
    status = shim_create(SANCTUM_DOS_DEVICE_NAME, RW, SHIM_CALLER_ADMIN, &late);
    ok(status == STATUS_OBJECT_NAME_NOT_FOUND && !late, "open after unload: 0x%08x\n",
       ST(status));
    r = read_irp(f[1], 100);
    ok(r.Status == STATUS_NO_SUCH_DEVICE && !r.Dispatched, "read after unload: 0x%08x\n",
       ST(r.Status));
    free(r.Out);
    for (i = 0; i < 3; i++)
        shim_abandon(f[i]);
    check_ledger_empty("unload with open handles");
}

/* Loaded twice at once, the second DriverEntry fails on the name and leaves nothing; then
 * load and unload cycles, each clean. */
static void test_reload(void)
{
    PDRIVER_OBJECT driver = load_ok(), second = NULL;
    SHIM_LEDGER before, after;
    SHIM_FILE *f;
    NTSTATUS status;
    ULONG i;

    if (!driver)
        return;
    shim_ledger(&before);
    shim_log_clear();
    status = shim_load_driver(DriverEntry, &second);
    shim_ledger(&after);
    ok(status == STATUS_OBJECT_NAME_COLLISION && !second,
       "a second DriverEntry while loaded: 0x%08x\n", ST(status));
    ok(!memcmp(&before, &after, sizeof(before)), "the failed DriverEntry changed the ledger\n");
    ok(shim_log_find(SANCTUM_LOG_PREFIX ": IoCreateDevice failed: 0xc0000035\n") == 1,
       "no error line for the collision: %s", last_log());
    unload_ok(driver, 0);

    for (i = 0; i < 3; i++) {
        driver = load_ok();
        if (!driver)
            return;
        f = open_rw();
        if (f) {
            write_irp(f, (const UCHAR *)"abc", 3);
            shim_close(f);
        }
        unload_ok(driver, 0);
    }
    check_ledger_empty("reload cycles");
}

void test_driver(void)
{
    test_entry();
    test_security();
    test_ioctl_irps();
    test_queue_irps();
    test_unload_with_handles();
    test_reload();
}
