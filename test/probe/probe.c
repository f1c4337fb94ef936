/* SPDX-License-Identifier: MIT */
/*
 * The second driver of the end-to-end suite: loaded beside sanctum.sys (in the same
 * winedevice.exe under Wine), so that the suite can check the IMAGE_LOAD record of a kernel
 * image. It does nothing else: loads, and unloads.
 */
#include "../../src/kernel/compat.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD ProbeUnload;

static VOID ProbeUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = ProbeUnload;
    return STATUS_SUCCESS;
}
