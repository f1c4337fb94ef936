/* SPDX-License-Identifier: MIT */
/*
 * The null driver of `make bench`: Sanctum's device type, IOCTL codes and direct I/O under
 * another device and service name, with handlers that complete every request at once with
 * the byte count Sanctum's driver would return, moving no data. Measured against it under
 * the same Wine, our driver's figures show what it adds to Wine's own cost per request.
 * Built only by test/bench/run.sh, with the driver's compile and link commands.
 */
#include "../../src/kernel/compat.h"
#include <sanctum/ioctl.h>

#define NULL_DEVICE L"\\Device\\SanctumBenchNull"
#define NULL_LINK L"\\??\\SanctumBenchNull"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD NullUnload;
static DRIVER_DISPATCH NullDispatch;

/* What Sanctum's handlers return for a valid request: the byte count only. */
static ULONG_PTR NullInformation(PIO_STACK_LOCATION Stack)
{
    ULONG inLength = Stack->Parameters.DeviceIoControl.InputBufferLength;
    ULONG outLength = Stack->Parameters.DeviceIoControl.OutputBufferLength;

    switch (Stack->MajorFunction) {
    case IRP_MJ_READ:
        return Stack->Parameters.Read.Length;
    case IRP_MJ_WRITE:
        return Stack->Parameters.Write.Length;
    case IRP_MJ_DEVICE_CONTROL:
        switch (Stack->Parameters.DeviceIoControl.IoControlCode) {
        case IOCTL_SANCTUM_GET_VERSION:
            return outLength >= sizeof(SANCTUM_VERSION) ? sizeof(SANCTUM_VERSION) : 0;
        case IOCTL_SANCTUM_GET_STATS:
            return outLength >= sizeof(SANCTUM_STATS) ? sizeof(SANCTUM_STATS) : 0;
        case IOCTL_SANCTUM_ECHO:
            return outLength >= inLength ? inLength : 0;
        case IOCTL_SANCTUM_FILL:
            return outLength <= SANCTUM_MAX_FILL ? outLength : 0;
        }
        break;
    }
    return 0;
}

static NTSTATUS NullDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = NullInformation(IoGetCurrentIrpStackLocation(Irp));
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static VOID NullUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(NULL_LINK);

    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(NULL_DEVICE);
    UNICODE_STRING link = RTL_CONSTANT_STRING(NULL_LINK);
    PDEVICE_OBJECT device;
    NTSTATUS status;
    ULONG i;

    UNREFERENCED_PARAMETER(RegistryPath);
    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = NullDispatch;
    DriverObject->DriverUnload = NullUnload;
    status = IoCreateDevice(DriverObject, 0, &name, SANCTUM_DEVICE_TYPE, FILE_DEVICE_SECURE_OPEN,
                            FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    device->Flags |= DO_DIRECT_IO;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
