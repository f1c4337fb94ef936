/* SPDX-License-Identifier: MIT */
/* Sanctum: a legacy (non-PnP) WDM driver with one named device and its symbolic link. */
#include "sanctum.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD SanctumUnload;
static DRIVER_DISPATCH SanctumDispatchCreateClose;
static DRIVER_DISPATCH SanctumDispatchDeviceControl;
static DRIVER_DISPATCH SanctumDispatchUnsupported;

/* The one exit of every dispatch routine: the status and byte count go back exactly once. */
static NTSTATUS SanctumComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS SanctumDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return SanctumComplete(Irp, STATUS_SUCCESS, 0);
}

/* Every IOCTL of the protocol; a code not listed here is not ours. */
static const struct {
    ULONG Code;
    SANCTUM_IOCTL_HANDLER *Handler;
} SanctumIoctls[] = {
    { IOCTL_SANCTUM_GET_VERSION, SanctumHandleGetVersion },
};

static NTSTATUS SanctumDispatchDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
    PVOID buffer = Irp->AssociatedIrp.SystemBuffer;
    ULONG_PTR information = 0;
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
    ULONG i;

    UNREFERENCED_PARAMETER(DeviceObject);

    for (i = 0; i < ARRAYSIZE(SanctumIoctls); i++) {
        if (SanctumIoctls[i].Code != code)
            continue;
        /* METHOD_BUFFERED: one system buffer holds the input and receives the output. */
        status = SanctumIoctls[i].Handler(buffer, stack->Parameters.DeviceIoControl.InputBufferLength,
                                          buffer, stack->Parameters.DeviceIoControl.OutputBufferLength,
                                          &information);
        break;
    }
    return SanctumComplete(Irp, status, information);
}

static NTSTATUS SanctumDispatchUnsupported(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return SanctumComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
}

static VOID SanctumUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(SANCTUM_DOS_DEVICE_NAME);

    /* Reverse order of creation: no new opens through the link, then the device. */
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(DriverObject->DeviceObject);
    SanctumLog(DPFLTR_INFO_LEVEL, "unloaded");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(SANCTUM_NT_DEVICE_NAME);
    UNICODE_STRING link = RTL_CONSTANT_STRING(SANCTUM_DOS_DEVICE_NAME);
    PDEVICE_OBJECT device = NULL;
    NTSTATUS status;
    ULONG i;

    UNREFERENCED_PARAMETER(RegistryPath);

    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = SanctumDispatchUnsupported;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = SanctumDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = SanctumDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = SanctumDispatchDeviceControl;
    DriverObject->DriverUnload = SanctumUnload;

    /* FILE_DEVICE_SECURE_OPEN: the device's ACL also guards opens of \Device\SanctumEDR\x. */
    status = IoCreateDevice(DriverObject, 0, &name, SANCTUM_DEVICE_TYPE,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) {
        SanctumLog(DPFLTR_ERROR_LEVEL, "IoCreateDevice failed: 0x%08lx", (unsigned long)status);
        return status;
    }

    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        SanctumLog(DPFLTR_ERROR_LEVEL, "IoCreateSymbolicLink failed: 0x%08lx", (unsigned long)status);
        IoDeleteDevice(device);
        return status;
    }

    device->Flags &= ~DO_DEVICE_INITIALIZING;
    SanctumLog(DPFLTR_INFO_LEVEL, "loaded, version %s, protocol %d", SANCTUM_VERSION_STRING,
               SANCTUM_PROTOCOL_VERSION);
    return STATUS_SUCCESS;
}
