/* SPDX-License-Identifier: MIT */
/*
 * The shim's kernel calls and I/O manager checked on their own, with a tiny fake driver: if
 * the shim missed a double completion or misprinted %I64d, every clean result of the real
 * driver would mean nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- DbgPrintEx's formatter: the Windows conversions ---- */

static void test_format(void)
{
    char out[64];
    int n;
    UNICODE_STRING us = RTL_CONSTANT_STRING(L"\\Device\\X");
    LONG64 big = -1234567890123ll;
    NTSTATUS status = STATUS_INSUFFICIENT_RESOURCES;

    n = shim_format(out, sizeof(out), "%I64d allocations, %I64d bytes", (LONG64)0, (LONG64)48);
    ok(!strcmp(out, "0 allocations, 48 bytes") && n == 23, "%%I64d: \"%s\" (%d)\n", out, n);
    shim_format(out, sizeof(out), "%I64d %I64u %I64x", big, (ULONG64)18446744073709551615ull,
                (ULONG64)0xABCDEF0123ull);
    ok(!strcmp(out, "-1234567890123 18446744073709551615 abcdef0123"), "%%I64: \"%s\"\n", out);
    /* l is 32 bits on Windows: a sign-extended status prints as 8 digits, not 16. */
    shim_format(out, sizeof(out), "0x%08lx", (unsigned long)status);
    ok(!strcmp(out, "0xc000009a"), "%%08lx of an NTSTATUS: \"%s\"\n", out);
    shim_format(out, sizeof(out), "%08x|%-4d|%4d|%+d|%u|%X", 0x1fu, 7, -7, 5, 4000000000u, 0xbeefu);
    ok(!strcmp(out, "0000001f|7   |  -7|+5|4000000000|BEEF"), "flags: \"%s\"\n", out);
    shim_format(out, sizeof(out), "%s|%5s|%-3s|%.2s|%c|%%", "ab", "cd", "e", "xyz", 'q');
    ok(!strcmp(out, "ab|   cd|e  |xy|q|%"), "strings: \"%s\"\n", out);
    shim_format(out, sizeof(out), "%ws|%wZ|%S", L"wide", &us, L"W");
    ok(!strcmp(out, "wide|\\Device\\X|W"), "wide strings: \"%s\"\n", out);
    shim_format(out, sizeof(out), "%p", (void *)0x1234);
    ok(!strcmp(out, "0000000000001234"), "%%p: \"%s\"\n", out);
    n = shim_format(out, 8, "%s", "truncated here");
    ok(n == 14 && !strcmp(out, "truncat"), "truncation: \"%s\" (%d)\n", out, n);

    shim_log_clear();
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "sanctum: %s %I64d\n", "x", (LONG64)-1);
    ok(shim_log_count() == 1 && shim_log_find("sanctum: x -1\n") == 1,
       "DbgPrintEx: %u lines, \"%s\"\n", shim_log_count(),
       shim_log_count() ? shim_log_line(0)->Text : "");
    ok(shim_log_line(0) && shim_log_line(0)->ComponentId == DPFLTR_IHVDRIVER_ID &&
           shim_log_line(0)->Level == DPFLTR_INFO_LEVEL,
       "DbgPrintEx: component and level not kept\n");
    shim_log_clear();
    ok(shim_log_count() == 0 && !shim_log_find("sanctum"), "shim_log_clear kept lines\n");
}

/* ---- the security calls on the Windows layouts ---- */

static void test_security_calls(void)
{
    SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;
    union {
        SID Sid;
        UCHAR Bytes[16];
    } sid;
    ULONG acl[8]; /* 32 bytes: room for one ACE of a 1-sub-authority SID (20), not two */
    SECURITY_DESCRIPTOR sd;
    NTSTATUS status;

    ok(RtlInitializeSid(&sid.Sid, &nt, 16) == STATUS_INVALID_PARAMETER,
       "RtlInitializeSid with 16 sub-authorities\n");
    ok(RtlInitializeSid(&sid.Sid, &nt, 1) == STATUS_SUCCESS, "RtlInitializeSid\n");
    *RtlSubAuthoritySid(&sid.Sid, 0) = SECURITY_LOCAL_SYSTEM_RID;
    ok(sid.Bytes[0] == 1 && sid.Bytes[1] == 1 && sid.Bytes[7] == 5 && sid.Bytes[8] == 18 &&
           RtlLengthSid(&sid.Sid) == 12,
       "S-1-5-18 bytes: %02x %02x .. %02x %02x, length %u\n", sid.Bytes[0], sid.Bytes[1],
       sid.Bytes[7], sid.Bytes[8], RtlLengthSid(&sid.Sid));

    ok(RtlCreateAcl((PACL)acl, 7, ACL_REVISION) == STATUS_BUFFER_TOO_SMALL, "a 7-byte ACL\n");
    ok(RtlCreateAcl((PACL)acl, sizeof(acl), 9) == STATUS_INVALID_PARAMETER, "ACL revision 9\n");
    ok(RtlCreateAcl((PACL)acl, sizeof(acl), ACL_REVISION) == STATUS_SUCCESS, "RtlCreateAcl\n");
    status = RtlAddAccessAllowedAce((PACL)acl, ACL_REVISION, FILE_ALL_ACCESS, &sid.Sid);
    ok(status == STATUS_SUCCESS && ((PACL)acl)->AceCount == 1, "first ACE: 0x%08x\n", ST(status));
    status = RtlAddAccessAllowedAce((PACL)acl, ACL_REVISION, FILE_ALL_ACCESS, &sid.Sid);
    ok(status == STATUS_ALLOTTED_SPACE_EXCEEDED && ((PACL)acl)->AceCount == 1,
       "an ACE past the ACL's size: 0x%08x\n", ST(status));
    sid.Sid.Revision = 2;
    status = RtlAddAccessAllowedAce((PACL)acl, ACL_REVISION, FILE_ALL_ACCESS, &sid.Sid);
    ok(status == STATUS_INVALID_SID, "an invalid SID: 0x%08x\n", ST(status));

    ok(RtlCreateSecurityDescriptor(&sd, 2) == STATUS_UNKNOWN_REVISION, "SD revision 2\n");
    ok(RtlCreateSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION) == STATUS_SUCCESS &&
           sd.Revision == 1 && sd.Control == 0 && !sd.Dacl,
       "RtlCreateSecurityDescriptor\n");
    ok(RtlSetDaclSecurityDescriptor(&sd, TRUE, (PACL)acl, FALSE) == STATUS_SUCCESS &&
           sd.Control == SE_DACL_PRESENT && sd.Dacl == (PACL)acl,
       "RtlSetDaclSecurityDescriptor: control 0x%04x\n", sd.Control);
    sd.Revision = 3;
    ok(RtlSetDaclSecurityDescriptor(&sd, TRUE, (PACL)acl, FALSE) == STATUS_UNKNOWN_REVISION,
       "RtlSetDaclSecurityDescriptor on revision 3\n");
    ok(ZwClose((HANDLE)(ULONG_PTR)0x1234) == STATUS_INVALID_HANDLE, "ZwClose of a user handle\n");

    /* The counter fails the n-th failable call, whichever API it is, and says which. */
    shim_fail_call(2);
    ok(RtlCreateSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION) == STATUS_SUCCESS,
       "call 1 of 2 failed\n");
    ok(RtlCreateAcl((PACL)acl, sizeof(acl), ACL_REVISION) == STATUS_BUFFER_TOO_SMALL,
       "call 2 of 2 did not fail\n");
    ok(shim_last_injected_api() && !strcmp(shim_last_injected_api(), "RtlCreateAcl") &&
           shim_last_injected_status() == STATUS_BUFFER_TOO_SMALL,
       "last injected: %s 0x%08x\n", shim_last_injected_api(), ST(shim_last_injected_status()));
    ok(RtlCreateAcl((PACL)acl, sizeof(acl), ACL_REVISION) == STATUS_SUCCESS, "failed twice\n");
}

/* ---- a fake driver whose dispatch routine misbehaves on demand ---- */

enum {
    FAKE_GOOD,
    FAKE_COMPLETE_TWICE,
    FAKE_NO_COMPLETE,
    FAKE_WRONG_RETURN,
    FAKE_OVERLONG_INFORMATION,
    FAKE_PENDING,
    FAKE_TOUCH_USER_POINTER,
    FAKE_LEAVE_LOCK,
};
static int fake_mode;
static KSPIN_LOCK fake_lock;
#define FAKE_DEVICE L"\\Device\\ShimFake"
#define FAKE_LINK L"\\??\\ShimFake"

static NTSTATUS fake_complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS fake_create(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    return fake_complete(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS fake_control(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG out = stack->Parameters.DeviceIoControl.OutputBufferLength;
    KIRQL irql;

    (void)DeviceObject;
    switch (fake_mode) {
    case FAKE_COMPLETE_TWICE:
        fake_complete(Irp, STATUS_SUCCESS, 0);
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return STATUS_SUCCESS;
    case FAKE_NO_COMPLETE:
        return STATUS_SUCCESS;
    case FAKE_WRONG_RETURN:
        fake_complete(Irp, STATUS_SUCCESS, 0);
        return STATUS_INVALID_PARAMETER;
    case FAKE_OVERLONG_INFORMATION:
        return fake_complete(Irp, STATUS_SUCCESS, out + 1);
    case FAKE_PENDING:
        return STATUS_PENDING;
    case FAKE_TOUCH_USER_POINTER:
        ((volatile UCHAR *)stack->Parameters.DeviceIoControl.Type3InputBuffer)[0]++;
        return fake_complete(Irp, STATUS_SUCCESS, 0);
    case FAKE_LEAVE_LOCK:
        KeAcquireSpinLock(&fake_lock, &irql);
        return fake_complete(Irp, STATUS_SUCCESS, 0);
    default:
        if (Irp->AssociatedIrp.SystemBuffer && out)
            memset(Irp->AssociatedIrp.SystemBuffer, 'R', out / 2);
        return fake_complete(Irp, STATUS_SUCCESS, out / 2);
    }
}

static NTSTATUS fake_entry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(FAKE_DEVICE), link = RTL_CONSTANT_STRING(FAKE_LINK);
    PDEVICE_OBJECT device;
    NTSTATUS status;

    (void)RegistryPath;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = fake_create;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = fake_create;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = fake_create;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = fake_control;
    status = IoCreateDevice(DriverObject, 0, &name, 0x22, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID fake_unload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(FAKE_LINK);

    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(DriverObject->DeviceObject);
}

/* Loads the fake driver and sends it one METHOD_BUFFERED and one METHOD_NEITHER IOCTL. */
static void fake_run(void)
{
    PDRIVER_OBJECT driver;
    SHIM_FILE *file;
    UCHAR in[8] = { 0 }, out[8];
    ULONG_PTR info;
    ULONG code = fake_mode == FAKE_TOUCH_USER_POINTER ? CTL_CODE(0x22u, 0x900, METHOD_NEITHER, 0)
                                                     : CTL_CODE(0x22u, 0x900, METHOD_BUFFERED, 0);

    if (!NT_SUCCESS(shim_load_driver(fake_entry, &driver)))
        return;
    driver->DriverUnload = fake_unload;
    if (NT_SUCCESS(shim_create(FAKE_LINK, FILE_READ_DATA, SHIM_CALLER_USER, &file))) {
        shim_ioctl(file, code, in, sizeof(in), out, sizeof(out), &info);
        shim_close(file);
    }
    shim_unload_driver(driver);
}

#define DIE_CASE(name, mode)  \
    static void name(void)    \
    {                         \
        fake_mode = (mode);   \
        fake_run();           \
    }
DIE_CASE(die_complete_twice, FAKE_COMPLETE_TWICE)
DIE_CASE(die_no_complete, FAKE_NO_COMPLETE)
DIE_CASE(die_wrong_return, FAKE_WRONG_RETURN)
DIE_CASE(die_overlong_information, FAKE_OVERLONG_INFORMATION)
DIE_CASE(die_pending, FAKE_PENDING)
DIE_CASE(die_leave_lock, FAKE_LEAVE_LOCK)

static void die_delete_twice(void)
{
    PDRIVER_OBJECT driver;
    PDEVICE_OBJECT device;

    if (!NT_SUCCESS(shim_load_driver(fake_entry, &driver)))
        return;
    device = driver->DeviceObject;
    IoDeleteDevice(device);
    IoDeleteDevice(device);
}

static void die_close_bad_kernel_handle(void)
{
    ZwClose((HANDLE)(ULONG_PTR)0xFFFFFFFF80001234ull);
}

static void die_unknown_conversion(void)
{
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, 0, "%q\n");
}

/* A user pointer is handed over in an untouchable page: touching it kills the process. */
DIE_CASE(crash_touch_user_pointer, FAKE_TOUCH_USER_POINTER)

static void test_io_manager(void)
{
    PDRIVER_OBJECT driver;
    SHIM_FILE *file, *other;
    UCHAR in[6] = "hello", out[16];
    ULONG_PTR info;
    NTSTATUS status;
    ULONG code = CTL_CODE(0x22u, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS);

    fake_mode = FAKE_GOOD;
    status = shim_load_driver(fake_entry, &driver);
    ok(status == STATUS_SUCCESS && driver, "fake driver: 0x%08x\n", ST(status));
    if (!driver)
        return;
    driver->DriverUnload = fake_unload;
    ok(shim_find_device(FAKE_DEVICE) == driver->DeviceObject, "device not found by name\n");
    ok(shim_find_device(L"\\device\\SHIMFAKE") == driver->DeviceObject,
       "object names are case-insensitive\n");
    ok(shim_find_link(FAKE_LINK) && shim_unicode_equal(shim_find_link(FAKE_LINK), FAKE_DEVICE),
       "link not found, or a wrong target\n");
    ok(shim_find_link(L"\\DosDevices\\ShimFake") != NULL, "\\DosDevices\\ is \\??\\\n");

    status = shim_create(L"\\??\\NoSuchThing", 0, SHIM_CALLER_USER, &file);
    ok(status == STATUS_OBJECT_NAME_NOT_FOUND && !file && !shim_last_dispatched(),
       "open of a missing name: 0x%08x\n", ST(status));
    status = shim_create(FAKE_LINK, FILE_READ_DATA, SHIM_CALLER_USER, &file);
    ok(status == STATUS_SUCCESS && file && shim_last_dispatched(), "open: 0x%08x\n", ST(status));
    if (!file)
        return;
    status = shim_create(FAKE_DEVICE L"\\sub", FILE_READ_DATA, SHIM_CALLER_USER, &other);
    ok(status == STATUS_SUCCESS && other, "open below the device: 0x%08x\n", ST(status));
    if (other) {
        ok(shim_unicode_equal(&shim_file_object(other)->FileName, L"\\sub"),
           "FileName is not the rest of the path\n");
        shim_close(other);
    }

    /* METHOD_BUFFERED: exactly Information bytes come back, the rest of the buffer is intact. */
    memset(out, CANARY, sizeof(out));
    status = shim_ioctl(file, code, in, sizeof(in), out, 10, &info);
    ok(status == STATUS_SUCCESS && info == 5, "buffered: 0x%08x, %llu\n", ST(status), U64(info));
    ok(!memcmp(out, "RRRRR", 5) && first_written(out, 5, sizeof(out)) < 0,
       "buffered copy-back: byte %ld written\n", first_written(out, 5, sizeof(out)));
    /* The I/O manager refuses what the handle may not do, before the driver sees it. */
    status = shim_ioctl(file, CTL_CODE(0x22u, 0x900, METHOD_BUFFERED, FILE_WRITE_ACCESS), in,
                        sizeof(in), out, sizeof(out), &info);
    ok(status == STATUS_ACCESS_DENIED && !shim_last_dispatched(),
       "write-access IOCTL on a read handle: 0x%08x\n", ST(status));
    status = shim_ioctl(file, code, NULL, 4, out, sizeof(out), &info);
    ok(status == STATUS_ACCESS_VIOLATION && !shim_last_dispatched(), "NULL input: 0x%08x\n",
       ST(status));
    status = shim_ioctl(file, code, in, SHIM_MAX_SYSTEM_BUFFER + 1, out, sizeof(out), &info);
    ok(status == STATUS_INSUFFICIENT_RESOURCES && !shim_last_dispatched(),
       "a system buffer beyond the pool: 0x%08x\n", ST(status));
    status = shim_irp(file, IRP_MJ_FLUSH_BUFFERS, &info);
    ok(status == STATUS_INVALID_DEVICE_REQUEST && shim_last_dispatched(),
       "a major the driver left alone: 0x%08x\n", ST(status));
    status = shim_read(file, out, sizeof(out), &info);
    ok(status == STATUS_INVALID_DEVICE_REQUEST, "read: 0x%08x\n", ST(status));
    status = shim_write(file, out, sizeof(out), &info);
    ok(status == STATUS_ACCESS_DENIED && !shim_last_dispatched(),
       "write on a read handle: 0x%08x\n", ST(status));

    /* Unloaded under an open handle: the handle finds the device gone. */
    shim_unload_driver(driver);
    status = shim_ioctl(file, code, in, sizeof(in), out, sizeof(out), &info);
    ok(status == STATUS_NO_SUCH_DEVICE && !shim_last_dispatched(),
       "IOCTL after unload: 0x%08x\n", ST(status));
    shim_abandon(file);
    check_ledger_empty("fake driver");

    ok(dies(die_complete_twice), "an IRP completed twice did not abort\n");
    ok(dies(die_no_complete), "an IRP never completed did not abort\n");
    ok(dies(die_wrong_return), "a dispatch returning another status than it completed with "
                               "did not abort\n");
    ok(dies(die_overlong_information), "Information beyond the output buffer did not abort\n");
    ok(dies(die_pending), "STATUS_PENDING did not abort\n");
    ok(dies(die_leave_lock), "a dispatch returning with a spin lock held did not abort\n");
    ok(dies(die_delete_twice), "a device deleted twice did not abort\n");
    ok(dies(die_close_bad_kernel_handle), "ZwClose of a bad kernel handle did not abort\n");
    ok(dies(die_unknown_conversion), "an unknown DbgPrintEx conversion did not abort\n");
    ok(crashes(crash_touch_user_pointer), "touching a METHOD_NEITHER pointer did not crash\n");
    fake_mode = FAKE_GOOD;
    ok(exits_cleanly(fake_run), "the well-behaved fake driver crashed\n");
}

void test_shim_io(void)
{
    test_format();
    test_security_calls();
    test_io_manager();
}
