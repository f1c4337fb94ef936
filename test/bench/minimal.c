/* SPDX-License-Identifier: MIT */
/*
 * The size floor for `make bench`: the least a legacy driver can be (a named device, its
 * symbolic link, an unload routine), built with the driver's own compile and link commands.
 * Never shipped and never loaded; run.sh compares its image with sanctum.sys.
 */
#include "../../src/kernel/compat.h"

#define MINIMAL_DEVICE L"\\Device\\SanctumBenchMinimal"
#define MINIMAL_LINK L"\\??\\SanctumBenchMinimal"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD MinimalUnload;

static VOID MinimalUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(MINIMAL_LINK);

    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(MINIMAL_DEVICE);
    UNICODE_STRING link = RTL_CONSTANT_STRING(MINIMAL_LINK);
    PDEVICE_OBJECT device;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN,
                            FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->DriverUnload = MinimalUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
