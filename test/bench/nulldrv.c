/* SPDX-License-Identifier: MIT */
/*
 * The null driver of `make bench`: Sanctum's device type, IOCTL codes and direct I/O under
 * another device and service name, with handlers that complete every request at once with
 * the byte count Sanctum's driver would return, moving no data. Measured against it under
 * the same Wine, our driver's figures show what it adds to Wine's own cost per request.
 * GET_EVENTS and MARK are the inverted call at its smallest: GET_EVENTS pends (one at a time,
 * with a cancel routine) and the next MARK completes it with the size of the record our
 * driver would deliver. Built only by test/bench/run.sh, with the driver's compile and link
 * commands.
 */
#include "../../src/kernel/compat.h"
#include <sanctum/ioctl.h>

#define NULL_DEVICE L"\\Device\\SanctumBenchNull"
#define NULL_LINK L"\\??\\SanctumBenchNull"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD NullUnload;
static DRIVER_DISPATCH NullDispatch;
static DRIVER_CANCEL NullCancel;

static KSPIN_LOCK NullLock;
static PIRP NullPending; /* the pended GET_EVENTS, guarded by NullLock */

/* The size of the MARK record our driver queues for Length bytes (8-byte aligned). */
static ULONG_PTR NullMarkRecordSize(ULONG Length)
{
    return (sizeof(SANCTUM_EVENT_HEADER) + sizeof(SANCTUM_MARK) + Length + 7) & ~(ULONG_PTR)7;
}

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

/* IoCancelIrp calls this holding the cancel spin lock (Wine too): released first. */
static VOID NullCancel(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    KIRQL irql;

    UNREFERENCED_PARAMETER(DeviceObject);
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    KeAcquireSpinLock(&NullLock, &irql);
    if (NullPending == Irp)
        NullPending = NULL;
    KeReleaseSpinLock(&NullLock, irql);
    Irp->IoStatus.Status = STATUS_CANCELLED;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

/* STATUS_PENDING, or the status to complete Irp with at once. */
static NTSTATUS NullPend(PIRP Irp)
{
    NTSTATUS status = STATUS_PENDING;
    KIRQL irql;

    KeAcquireSpinLock(&NullLock, &irql);
    if (NullPending) {
        status = STATUS_DEVICE_BUSY;
    } else {
        (VOID)IoSetCancelRoutine(Irp, NullCancel);
        if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL)) {
            status = STATUS_CANCELLED; /* cancelled before it was queued */
        } else {
            /* Queued even if IoCancelIrp holds the routine: the routine unlinks it. */
            IoMarkIrpPending(Irp);
            NullPending = Irp;
        }
    }
    KeReleaseSpinLock(&NullLock, irql);
    return status;
}

/* Completes the pended request, unless there is none or its cancel routine already owns it. */
static VOID NullCompletePending(NTSTATUS Status, ULONG_PTR Information)
{
    PIRP irp;
    KIRQL irql;

    KeAcquireSpinLock(&NullLock, &irql);
    irp = NullPending;
    NullPending = NULL;
    if (irp && !IoSetCancelRoutine(irp, NULL))
        irp = NULL;
    KeReleaseSpinLock(&NullLock, irql);
    if (irp) {
        irp->IoStatus.Status = Status;
        irp->IoStatus.Information = Information;
        IoCompleteRequest(irp, IO_NO_INCREMENT);
    }
}

static NTSTATUS NullDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_SUCCESS;

    UNREFERENCED_PARAMETER(DeviceObject);
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        switch (stack->Parameters.DeviceIoControl.IoControlCode) {
        case IOCTL_SANCTUM_GET_EVENTS:
            status = NullPend(Irp);
            if (status == STATUS_PENDING)
                return status;
            break;
        case IOCTL_SANCTUM_MARK:
            NullCompletePending(STATUS_SUCCESS,
                                NullMarkRecordSize(stack->Parameters.DeviceIoControl.InputBufferLength));
            break;
        }
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = NT_SUCCESS(status) ? NullInformation(stack) : 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

static VOID NullUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(NULL_LINK);

    NullCompletePending(STATUS_CANCELLED, 0);
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
    KeInitializeSpinLock(&NullLock);
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
