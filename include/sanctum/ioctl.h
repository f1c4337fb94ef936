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

/*
 * Vendor device types live above 0x8000 (0x0000-0x7FFF are Microsoft's). Unsigned, so that
 * CTL_CODE's shift by 16 stays defined and the codes compare cleanly with a DWORD or ULONG.
 */
#define SANCTUM_DEVICE_TYPE 0x8A5Cu

/*
 * The names. A fork renames them all at once with the Makefile's DRIVER_NAME, which defines
 * the SANCTUM_DEVICE_BASENAME, SANCTUM_SERVICE_NAME and SANCTUM_LOG_PREFIX below.
 */
#ifndef SANCTUM_DEVICE_BASENAME
#define SANCTUM_DEVICE_BASENAME L"SanctumEDR"
#endif
#ifndef SANCTUM_SERVICE_NAME
#define SANCTUM_SERVICE_NAME L"Sanctum"
#endif
#ifndef SANCTUM_LOG_PREFIX
#define SANCTUM_LOG_PREFIX "sanctum" /* every DbgPrint line of the driver starts "sanctum: " */
#endif
#define SANCTUM_NT_DEVICE_NAME   L"\\Device\\" SANCTUM_DEVICE_BASENAME
#define SANCTUM_DOS_DEVICE_NAME  L"\\??\\" SANCTUM_DEVICE_BASENAME
#define SANCTUM_USER_DEVICE_PATH L"\\\\.\\" SANCTUM_DEVICE_BASENAME

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

/*
 * Input: 1..SANCTUM_MAX_ECHO bytes. Output: the same bytes (at least as large as the input).
 * Errors: no input or more than the maximum: STATUS_INVALID_PARAMETER; output smaller than
 * the input: STATUS_BUFFER_TOO_SMALL.
 */
#define IOCTL_SANCTUM_ECHO \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x801, METHOD_BUFFERED, FILE_READ_DATA | FILE_WRITE_DATA)
#define SANCTUM_MAX_ECHO 65536

/* No input. Output: SANCTUM_STATS; smaller: STATUS_BUFFER_TOO_SMALL. */
#define IOCTL_SANCTUM_GET_STATS \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x802, METHOD_BUFFERED, FILE_READ_DATA)

/*
 * Input: a ULONG seed (exactly 4 bytes). Output: 1..SANCTUM_MAX_FILL bytes, byte i being
 * (UCHAR)(seed + i), written through an MDL (direct I/O). Errors: STATUS_INVALID_PARAMETER.
 */
#define IOCTL_SANCTUM_FILL \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x803, METHOD_OUT_DIRECT, FILE_READ_DATA)
#define SANCTUM_MAX_FILL (16u * 1024 * 1024)

/*
 * ReadFile / WriteFile (direct I/O): each write of 1..SANCTUM_MAX_MESSAGE bytes queues one
 * message on the handle it was written to, up to SANCTUM_MAX_QUEUED (then STATUS_DEVICE_BUSY);
 * each read returns the oldest message whole, or 0 bytes when there is none. A buffer smaller
 * than the message gets STATUS_BUFFER_TOO_SMALL and the message stays queued.
 */
#define SANCTUM_MAX_MESSAGE 65536
#define SANCTUM_MAX_QUEUED 64

typedef struct _SANCTUM_STATS {
    ULONG Size;             /* sizeof(SANCTUM_STATS) */
    ULONG OpenHandles;      /* handles open now */
    ULONG64 Creates;        /* successful opens */
    ULONG64 Closes;         /* closes */
    ULONG64 Reads;          /* read requests, failed or not */
    ULONG64 Writes;         /* write requests, failed or not */
    ULONG64 Ioctls;         /* device control requests, failed or not (this one included) */
    ULONG64 Failures;       /* requests of any kind that failed */
    ULONG64 BytesIn;        /* bytes taken from callers by successful writes and IOCTLs */
    ULONG64 BytesOut;       /* bytes returned to callers by successful reads and IOCTLs */
    ULONG64 PoolAllocations; /* pool allocations outstanding now */
    ULONG64 PoolBytes;      /* pool bytes outstanding now */
} SANCTUM_STATS, *PSANCTUM_STATS;

/* The layouts are fixed: a 32-bit and a 64-bit client see the same bytes. */
typedef char SANCTUM_VERSION_SIZE_CHECK[sizeof(SANCTUM_VERSION) == 20 ? 1 : -1];
typedef char SANCTUM_STATS_SIZE_CHECK[sizeof(SANCTUM_STATS) == 88 ? 1 : -1];

#endif
