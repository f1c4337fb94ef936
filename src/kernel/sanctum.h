/* SPDX-License-Identifier: MIT */
/* Private to the driver: the IRP-free handlers that the dispatch routines call. */
#ifndef SANCTUM_PRIVATE_H
#define SANCTUM_PRIVATE_H

#include "compat.h"
#include <sanctum/ioctl.h>

/* DbgPrintEx with the component and prefix every line of ours carries. */
#define SanctumLog(Level, Fmt, ...) \
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, (Level), "sanctum: " Fmt "\n", ##__VA_ARGS__)

/*
 * A handler sees plain buffers and lengths, never an IRP, so host tests can call it.
 * It returns a status and sets *Information to the number of output bytes it wrote
 * (0 on any failure, so no stale byte is ever copied back to user mode).
 */
typedef NTSTATUS SANCTUM_IOCTL_HANDLER(const VOID *Input, ULONG InputLength, PVOID Output,
                                       ULONG OutputLength, PULONG_PTR Information);

SANCTUM_IOCTL_HANDLER SanctumHandleGetVersion;

#endif
