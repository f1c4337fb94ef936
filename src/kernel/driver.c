/* SPDX-License-Identifier: MIT */
/*
 * Sanctum: a legacy (non-PnP) WDM driver with one named device and its symbolic link.
 * This file is the IRP plumbing: each dispatch routine takes the buffers and lengths out of
 * the IRP, calls a handler that knows nothing of IRPs, and completes the IRP exactly once.
 */
#include "sanctum.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD SanctumUnload;
static DRIVER_DISPATCH SanctumDispatchCreate;
static DRIVER_DISPATCH SanctumDispatchCleanup;
static DRIVER_DISPATCH SanctumDispatchClose;
static DRIVER_DISPATCH SanctumDispatchRead;
static DRIVER_DISPATCH SanctumDispatchWrite;
static DRIVER_DISPATCH SanctumDispatchDeviceControl;
static DRIVER_DISPATCH SanctumDispatchUnsupported;

static PSANCTUM_STATE SanctumState(PDEVICE_OBJECT DeviceObject)
{
    return DeviceObject->DeviceExtension;
}

/* The one exit of every dispatch routine: the status and byte count go back exactly once. */
static NTSTATUS SanctumComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS SanctumMapBuffer(const SANCTUM_BUFFER *Buffer, PVOID *Address)
{
    *Address = NULL;
    if (Buffer->Length == 0)
        return STATUS_SUCCESS;
    if (Buffer->Address || !Buffer->Mdl) {
        *Address = Buffer->Address;
        return STATUS_SUCCESS;
    }
    /* Non-executable: the driver only reads and writes data there. */
    *Address = MmGetSystemAddressForMdlSafe(Buffer->Mdl, NormalPagePriority | MdlMappingNoExecute);
    return *Address ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

/* A direct-I/O buffer of Length bytes, for a handler to map once it has checked the request. */
static SANCTUM_BUFFER SanctumDirectBuffer(PIRP Irp, ULONG Length)
{
    SANCTUM_BUFFER buffer = { NULL, Irp->MdlAddress, Length };

    return buffer;
}

/*
 * The process that sent the request. Ours is the only driver on this device's stack, so its
 * dispatch routines run in the sender's thread; the IRP says the same in any case.
 */
static HANDLE SanctumRequestor(PIRP Irp)
{
    PEPROCESS process = IoGetRequestorProcess(Irp);

    return process ? PsGetProcessId(process) : PsGetCurrentProcessId();
}

/*
 * Opens of the device itself only: a name below it (\\.\SanctumEDR\x) means nothing here.
 * FILE_DEVICE_SECURE_OPEN already makes the DACL guard such opens; refusing them keeps a
 * client from mistaking one for a feature.
 */
static NTSTATUS SanctumDispatchCreate(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PSANCTUM_HANDLE handle;
    NTSTATUS status;

    if (stack->FileObject->FileName.Length != 0) {
        SanctumRecord(SanctumState(DeviceObject), STATUS_OBJECT_NAME_NOT_FOUND, 0, 0);
        return SanctumComplete(Irp, STATUS_OBJECT_NAME_NOT_FOUND, 0);
    }
    status = SanctumOpen(SanctumState(DeviceObject), &handle);
    if (NT_SUCCESS(status))
        stack->FileObject->FsContext = handle;
    return SanctumComplete(Irp, status, 0);
}

static NTSTATUS SanctumDispatchCleanup(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    SanctumCleanup(SanctumState(DeviceObject), stack->FileObject->FsContext);
    return SanctumComplete(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS SanctumDispatchClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    SanctumClose(SanctumState(DeviceObject), stack->FileObject->FsContext);
    stack->FileObject->FsContext = NULL;
    return SanctumComplete(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS SanctumDispatchRead(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    SANCTUM_BUFFER buffer = SanctumDirectBuffer(Irp, stack->Parameters.Read.Length);
    ULONG_PTR information = 0;
    NTSTATUS status;

    status = SanctumRead(SanctumState(DeviceObject), stack->FileObject->FsContext, &buffer,
                         &information);
    return SanctumComplete(Irp, status, information);
}

static NTSTATUS SanctumDispatchWrite(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    SANCTUM_BUFFER buffer = SanctumDirectBuffer(Irp, stack->Parameters.Write.Length);
    ULONG_PTR information = 0;
    NTSTATUS status;

    status = SanctumWrite(SanctumState(DeviceObject), stack->FileObject->FsContext, &buffer,
                          &information);
    return SanctumComplete(Irp, status, information);
}

static NTSTATUS SanctumDispatchDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
    ULONG outputLength = stack->Parameters.DeviceIoControl.OutputBufferLength;
    SANCTUM_REQUEST request;
    ULONG_PTR information = 0;
    NTSTATUS status;

    request.State = SanctumState(DeviceObject);
    request.Handle = stack->FileObject->FsContext;
    request.Irp = Irp;
    request.ProcessId = SanctumRequestor(Irp);
    request.Input = Irp->AssociatedIrp.SystemBuffer;
    request.InputLength = stack->Parameters.DeviceIoControl.InputBufferLength;

    /* METHOD_NEITHER would hand us raw user pointers: no code of ours uses it, none is read. */
    switch (METHOD_FROM_CTL_CODE(code)) {
    case METHOD_BUFFERED:
        request.Output.Address = Irp->AssociatedIrp.SystemBuffer;
        request.Output.Mdl = NULL;
        request.Output.Length = outputLength;
        break;
    case METHOD_IN_DIRECT:
    case METHOD_OUT_DIRECT:
        /* The caller's pages, mapped by the handler only once it has checked the request. */
        request.Output = SanctumDirectBuffer(Irp, outputLength);
        break;
    default:
        request.Input = NULL;
        request.InputLength = 0;
        request.Output = SanctumDirectBuffer(Irp, 0);
        request.Output.Mdl = NULL;
        break;
    }
    status = SanctumDeviceControl(&request, code, &information);
    /* Pended (GET_EVENTS): events.c completes it, exactly once, whatever ends it. */
    if (status == STATUS_PENDING)
        return status;
    return SanctumComplete(Irp, status, information);
}

static NTSTATUS SanctumDispatchUnsupported(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return SanctumComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
}

/*
 * Reverse order of DriverEntry: no new events (Windows returns from each callback's removal
 * only once no call of it is running), then every subscription ends (pending GET_EVENTS
 * complete with STATUS_CANCELLED), then the link, then the handles Wine leaves open (Windows
 * unloads only once every handle is closed), and the device.
 */
/*
 * The pool outstanding at unload (or SANCTUM_UNLOAD_PENDING while loaded), under the service's
 * key: on Windows the unload line goes to the kernel debugger only. Best effort: the driver
 * works as well without it.
 */
static VOID SanctumRecordUnload(PSANCTUM_STATE State, ULONG64 Allocations, ULONG64 Bytes)
{
    NTSTATUS status;

    if (!State->RegistryPath[0])
        return;
    status = RtlWriteRegistryValue(RTL_REGISTRY_ABSOLUTE, State->RegistryPath,
                                   SANCTUM_UNLOAD_ALLOCATIONS_VALUE, REG_QWORD, &Allocations,
                                   sizeof(Allocations));
    if (NT_SUCCESS(status))
        status = RtlWriteRegistryValue(RTL_REGISTRY_ABSOLUTE, State->RegistryPath,
                                       SANCTUM_UNLOAD_BYTES_VALUE, REG_QWORD, &Bytes,
                                       sizeof(Bytes));
    if (!NT_SUCCESS(status))
        SanctumLog(DPFLTR_WARNING_LEVEL, "cannot record the unload under the service key: 0x%08lx",
                   (unsigned long)status);
}

static VOID SanctumUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(SANCTUM_DOS_DEVICE_NAME);
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PSANCTUM_STATE state = SanctumState(device);

    SanctumNotifyUnregister();
    SanctumEventsRelease(state);
    IoDeleteSymbolicLink(&link);
    SanctumStateRelease(state);
    SanctumLog(DPFLTR_INFO_LEVEL, "unloaded, pool outstanding: %I64d allocations, %I64d bytes",
               state->PoolAllocations, state->PoolBytes);
    SanctumRecordUnload(state, (ULONG64)state->PoolAllocations, (ULONG64)state->PoolBytes);
    IoDeleteDevice(device);
}

static NTSTATUS SanctumInitialize(PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(SANCTUM_NT_DEVICE_NAME);
    UNICODE_STRING link = RTL_CONSTANT_STRING(SANCTUM_DOS_DEVICE_NAME);
    PDEVICE_OBJECT device = NULL;
    PSANCTUM_STATE state;
    NTSTATUS status;
    ULONG i;

    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = SanctumDispatchUnsupported;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = SanctumDispatchCreate;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = SanctumDispatchCleanup;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = SanctumDispatchClose;
    DriverObject->MajorFunction[IRP_MJ_READ] = SanctumDispatchRead;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = SanctumDispatchWrite;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = SanctumDispatchDeviceControl;
    DriverObject->DriverUnload = SanctumUnload;

    /* FILE_DEVICE_SECURE_OPEN: the device's ACL also guards opens of \Device\SanctumEDR\x. */
    status = IoCreateDevice(DriverObject, sizeof(SANCTUM_STATE), &name, SANCTUM_DEVICE_TYPE,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) {
        SanctumLog(DPFLTR_ERROR_LEVEL, "IoCreateDevice failed: 0x%08lx", (unsigned long)status);
        return status;
    }
    state = SanctumState(device);
    SanctumStateInit(state);
    /* Kept, terminated, for SanctumRecordUnload: DriverEntry's copy goes when it returns. */
    if (RegistryPath && RegistryPath->Buffer &&
        RegistryPath->Length < sizeof(state->RegistryPath)) {
        RtlCopyMemory(state->RegistryPath, RegistryPath->Buffer, RegistryPath->Length);
        state->RegistryPath[RegistryPath->Length / sizeof(WCHAR)] = 0;
    }
    /* Reads and writes arrive as MDLs: no copy through an intermediate buffer. */
    device->Flags |= DO_DIRECT_IO;

    /*
     * The device is named from here on, and \\?\GLOBALROOT\Device\SanctumEDR reaches it
     * without any link: what keeps every open out until the DACL and the state are ready is
     * DO_DEVICE_INITIALIZING, which the I/O manager honours until it is cleared below.
     */
    status = SanctumProtectDevice(device);
    if (!NT_SUCCESS(status)) {
        SanctumLog(DPFLTR_ERROR_LEVEL, "cannot set the device's DACL: 0x%08lx", (unsigned long)status);
        goto fail_device;
    }

    SanctumEventsInit(state);
    status = SanctumNotifyRegister(state);
    if (!NT_SUCCESS(status))
        goto fail_device;

    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        SanctumLog(DPFLTR_ERROR_LEVEL, "IoCreateSymbolicLink failed: 0x%08lx", (unsigned long)status);
        goto fail_notify;
    }

    SanctumRecordUnload(state, SANCTUM_UNLOAD_PENDING, SANCTUM_UNLOAD_PENDING);
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    SanctumLog(DPFLTR_INFO_LEVEL, "loaded, version %s, protocol %d", SANCTUM_VERSION_STRING,
               SANCTUM_PROTOCOL_VERSION);
    return STATUS_SUCCESS;

fail_notify:
    SanctumNotifyUnregister();
fail_device:
    IoDeleteDevice(device);
    return status;
}

/*
 * The image's entry point. The stack guard gets its value before any function that checks it
 * runs, which is why this frame (and SanctumInitStackGuard's) carries no cookie: MSVC drivers
 * do the same in GsDriverEntry.
 */
SANCTUM_NO_STACK_PROTECTOR NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject,
                                                PUNICODE_STRING RegistryPath)
{
    SanctumInitStackGuard(DriverObject);
    return SanctumInitialize(DriverObject, RegistryPath);
}
