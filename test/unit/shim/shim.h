/* SPDX-License-Identifier: MIT */
/* The shim's test-only side: the pool ledger, allocation failures on demand, lock state. */
#ifndef SANCTUM_SHIM_H
#define SANCTUM_SHIM_H

#include "ntifs.h"

/* Pool blocks allocated and not freed yet: the count, and their bytes in *Bytes if not NULL. */
ULONG64 shim_pool_outstanding(ULONG64 *Bytes);
/* Prints every outstanding block (address, size, tag) to stderr. */
VOID shim_pool_report(VOID);
/*
 * The (n+1)-th pool allocation from now returns NULL, once: n = 0 fails the next one.
 * A negative n disarms a failure that has not happened yet.
 */
VOID shim_fail_allocation_after(LONG64 n);
/* How many allocations have been failed on purpose so far. */
ULONG64 shim_injected_failures(VOID);

/* The calling thread's IRQL and the number of spin locks it holds. */
KIRQL shim_current_irql(VOID);
ULONG shim_spin_locks_held(VOID);

#endif
