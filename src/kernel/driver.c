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

/*
 * The system-space view of a direct-I/O buffer of Length bytes: NULL with STATUS_SUCCESS
 * when the caller gave none (Wine passes an MDL even then), NULL with
 * STATUS_INSUFFICIENT_RESOURCES when it cannot be mapped. Mapped non-executable: the driver
 * only reads and writes data there.
 */
static NTSTATUS SanctumMapMdl(PIRP Irp, ULONG Length, PVOID *Address)
{
    *Address = NULL;
    if (!Irp->MdlAddress || Length == 0)
        return STATUS_SUCCESS;
    *Address = MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority | MdlMappingNoExecute);
    return *Address ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

static NTSTATUS SanctumDispatchCreate(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PSANCTUM_HANDLE handle;
    NTSTATUS status;

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
    PSANCTUM_STATE state = SanctumState(DeviceObject);
    ULONG_PTR information = 0;
    PVOID buffer;
    NTSTATUS status;

    status = SanctumMapMdl(Irp, stack->Parameters.Read.Length, &buffer);
    if (NT_SUCCESS(status))
        status = SanctumRead(state, stack->FileObject->FsContext, buffer,
                             buffer ? stack->Parameters.Read.Length : 0, &information);
    else
        SanctumRecordRejected(state, &state->Reads, status);
    return SanctumComplete(Irp, status, information);
}

static NTSTATUS SanctumDispatchWrite(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PSANCTUM_STATE state = SanctumState(DeviceObject);
    ULONG_PTR information = 0;
    PVOID buffer;
    NTSTATUS status;

    status = SanctumMapMdl(Irp, stack->Parameters.Write.Length, &buffer);
    if (NT_SUCCESS(status))
        status = SanctumWrite(state, stack->FileObject->FsContext, buffer,
                              buffer ? stack->Parameters.Write.Length : 0, &information);
    else
        SanctumRecordRejected(state, &state->Writes, status);
    return SanctumComplete(Irp, status, information);
}

static NTSTATUS SanctumDispatchDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
    SANCTUM_REQUEST request;
    ULONG_PTR information = 0;
    NTSTATUS status = STATUS_SUCCESS;

    request.State = SanctumState(DeviceObject);
    request.Handle = stack->FileObject->FsContext;
    request.Irp = Irp;
    request.Input = Irp->AssociatedIrp.SystemBuffer;
    request.InputLength = stack->Parameters.DeviceIoControl.InputBufferLength;
    request.Output = Irp->AssociatedIrp.SystemBuffer;
    request.OutputLength = stack->Parameters.DeviceIoControl.OutputBufferLength;

    /* METHOD_NEITHER would hand us raw user pointers: no code of ours uses it, none is read. */
    switch (METHOD_FROM_CTL_CODE(code)) {
    case METHOD_BUFFERED:
        break;
    case METHOD_IN_DIRECT:
    case METHOD_OUT_DIRECT:
        /* Map the caller's pages only for a request that will use them. */
        request.Output = NULL;
        if (SanctumIsKnownIoctl(code))
            status = SanctumMapMdl(Irp, request.OutputLength, &request.Output);
        if (!request.Output)
            request.OutputLength = 0;
        break;
    default:
        request.Input = request.Output = NULL;
        request.InputLength = request.OutputLength = 0;
        break;
    }
    if (NT_SUCCESS(status)) {
        status = SanctumDeviceControl(&request, code, &information);
        /* Pended (GET_EVENTS): events.c completes it, exactly once, whatever ends it. */
        if (status == STATUS_PENDING)
            return status;
    } else {
        SanctumRecordRejected(request.State, &request.State->Ioctls, status);
    }
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
 * complete with STATUS_CANCELLED), then no new opens through the link, then the handles Wine
 * leaves open, and the device.
 */
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
    IoDeleteDevice(device);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(SANCTUM_NT_DEVICE_NAME);
    UNICODE_STRING link = RTL_CONSTANT_STRING(SANCTUM_DOS_DEVICE_NAME);
    PDEVICE_OBJECT device = NULL;
    PSANCTUM_STATE state;
    NTSTATUS status;
    ULONG i;

    UNREFERENCED_PARAMETER(RegistryPath);

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
    /* Reads and writes arrive as MDLs: no copy through an intermediate buffer. */
    device->Flags |= DO_DIRECT_IO;

    /* The DACL is in place before the link makes the device reachable from user mode. */
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
