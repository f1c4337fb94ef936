/* SPDX-License-Identifier: MIT */
/* Definitions newer than mingw-w64's DDK headers, each only where the headers lack it. */
#ifndef SANCTUM_COMPAT_H
#define SANCTUM_COMPAT_H

/*
 * mingw-w64 10 declares these two in intrin-impl.h as extern gnu_inline and then wdm.h
 * defines them static inline: every object file then exports its own copy and the link
 * fails with duplicate symbols. Keep only wdm.h's definitions.
 */
#define __INTRINSIC_DEFINED_InterlockedBitTestAndSet
#define __INTRINSIC_DEFINED_InterlockedBitTestAndReset

/* ntifs.h: ntddk.h plus the security and object calls that the device DACL needs. */
#include <ntifs.h>

#ifndef MdlMappingNoExecute
#define MdlMappingNoExecute 0x40000000 /* WDK 8+: map the MDL's pages non-executable */
#endif

/* Exported by ntoskrnl since Vista and in mingw-w64's import library, but not declared. */
NTKERNELAPI NTSTATUS NTAPI PsGetProcessExitStatus(PEPROCESS Process);

#endif
