/* SPDX-License-Identifier: MIT */
/*
 * Private to the driver. driver.c turns IRPs into calls to the functions declared here;
 * they see plain buffers and lengths, never an IRP, so the host tests can call them too.
 */
#ifndef SANCTUM_PRIVATE_H
#define SANCTUM_PRIVATE_H

#include "compat.h"
#include <sanctum/ioctl.h>

/* 'Sanc' as the WDK's multi-character constant 'cnaS' spells it, without -Wmultichar. */
#ifndef SANCTUM_POOL_TAG
#define SANCTUM_POOL_TAG \
    ((ULONG)'S' | ((ULONG)'a' << 8) | ((ULONG)'n' << 16) | ((ULONG)'c' << 24))
#endif

/* DbgPrintEx with the component and prefix every line of ours carries. */
#define SanctumLog(Level, Fmt, ...) \
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, (Level), SANCTUM_LOG_PREFIX ": " Fmt "\n", ##__VA_ARGS__)

/* The device's state, in its device extension. Counters change only through Interlocked*. */
typedef struct _SANCTUM_STATE {
    volatile LONG OpenHandles;
    volatile LONG64 Creates;
    volatile LONG64 Closes;
    volatile LONG64 Reads;
    volatile LONG64 Writes;
    volatile LONG64 Ioctls;
    volatile LONG64 Failures;
    volatile LONG64 BytesIn;
    volatile LONG64 BytesOut;
    volatile LONG64 PoolAllocations; /* outstanding now */
    volatile LONG64 PoolBytes;       /* outstanding now */
    KSPIN_LOCK HandlesLock;          /* guards Handles */
    LIST_ENTRY Handles;              /* every open SANCTUM_HANDLE */
} SANCTUM_STATE, *PSANCTUM_STATE;

/* One per open handle (FileObject->FsContext): its own message queue. */
typedef struct _SANCTUM_HANDLE {
    LIST_ENTRY Link;     /* in SANCTUM_STATE.Handles, guarded by HandlesLock */
    KSPIN_LOCK Lock;     /* guards Messages and Count */
    LIST_ENTRY Messages; /* SANCTUM_MESSAGE, oldest first */
    ULONG Count;
} SANCTUM_HANDLE, *PSANCTUM_HANDLE;

/* state.c: the counters, pool accounting and the list of open handles. */
VOID SanctumStateInit(PSANCTUM_STATE State);
PVOID SanctumAllocate(PSANCTUM_STATE State, SIZE_T Bytes);
VOID SanctumFree(PSANCTUM_STATE State, PVOID Block, SIZE_T Bytes);
/* Counts one finished request: a failure, or the bytes it took and returned. */
VOID SanctumRecord(PSANCTUM_STATE State, NTSTATUS Status, ULONG64 BytesIn, ULONG64 BytesOut);
/* Counts a request refused before its handler ran (its buffer could not be mapped). */
VOID SanctumRecordRejected(PSANCTUM_STATE State, volatile LONG64 *Requests, NTSTATUS Status);
VOID SanctumSnapshot(PSANCTUM_STATE State, PSANCTUM_STATS Stats);
/* Frees every handle still open (DriverUnload, when Wine stops a driver with open handles). */
VOID SanctumStateRelease(PSANCTUM_STATE State);

/* queue.c: the per-handle life cycle and message queue (IRP_MJ_CREATE/CLEANUP/CLOSE/READ/WRITE). */
NTSTATUS SanctumOpen(PSANCTUM_STATE State, PSANCTUM_HANDLE *Handle);
VOID SanctumCleanup(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle);
VOID SanctumClose(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle);
NTSTATUS SanctumWrite(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, const VOID *Data, ULONG Length,
                      PULONG_PTR Information);
NTSTATUS SanctumRead(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, PVOID Buffer, ULONG Length,
                     PULONG_PTR Information);

/*
 * ioctl.c: IRP_MJ_DEVICE_CONTROL. Input is what the caller sent; Output is where the reply
 * goes (the system buffer for METHOD_BUFFERED, the MDL's mapping for METHOD_OUT_DIRECT,
 * NULL when there is none). *Information is the number of bytes written, 0 on failure.
 */
NTSTATUS SanctumDeviceControl(PSANCTUM_STATE State, ULONG Code, const VOID *Input,
                              ULONG InputLength, PVOID Output, ULONG OutputLength,
                              PULONG_PTR Information);
/* Whether Code is one of ours, with its method and access exactly. */
BOOLEAN SanctumIsKnownIoctl(ULONG Code);

/* security.c: only LocalSystem and Administrators may open the device. */
NTSTATUS SanctumProtectDevice(PDEVICE_OBJECT Device);

#endif
