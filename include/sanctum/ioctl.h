/* SPDX-License-Identifier: MIT */
/*
 * The Sanctum device contract, shared by the driver, the client and the tests.
 * Include it after <ntddk.h> (kernel), after <windows.h> and <winioctl.h> (user mode),
 * or after the host shim's header (unit tests): it uses their ULONG and CTL_CODE.
 * Everything here is ABI: external clients compile against it.
 */
#ifndef SANCTUM_IOCTL_H
#define SANCTUM_IOCTL_H

#include "version.h"

/* Vendor device types live above 0x8000 (0x0000-0x7FFF are Microsoft's). */
#define SANCTUM_DEVICE_TYPE 0x8A5C

#define SANCTUM_NT_DEVICE_NAME   L"\\Device\\SanctumEDR"
#define SANCTUM_DOS_DEVICE_NAME  L"\\??\\SanctumEDR"
#define SANCTUM_USER_DEVICE_PATH L"\\\\.\\SanctumEDR"
#define SANCTUM_SERVICE_NAME     L"Sanctum"

/* Bumped on any incompatible change to the codes or structures below. */
#define SANCTUM_PROTOCOL_VERSION 1

/* No input. Output: SANCTUM_VERSION. */
#define IOCTL_SANCTUM_GET_VERSION \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _SANCTUM_VERSION {
    ULONG Size;     /* sizeof(SANCTUM_VERSION) as the driver knows it */
    ULONG Protocol; /* SANCTUM_PROTOCOL_VERSION */
    ULONG Major;
    ULONG Minor;
    ULONG Patch;
} SANCTUM_VERSION, *PSANCTUM_VERSION;

/* The layout is fixed: a 32-bit and a 64-bit client see the same bytes. */
typedef char SANCTUM_VERSION_SIZE_CHECK[sizeof(SANCTUM_VERSION) == 20 ? 1 : -1];

#endif
