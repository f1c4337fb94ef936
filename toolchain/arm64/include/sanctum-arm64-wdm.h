/* SPDX-License-Identifier: MIT */
/*
 * wdm.h's kernel definitions for ARM64, included by the generated wdm.h in place of its
 * "#error Unknown Architecture" (toolchain/arm64/ddk.edits). Only what the driver needs,
 * each value with where it comes from. Anything that would be guessed stays out on purpose:
 * KeGetCurrentIrql, KeRaiseIrql, KeLowerIrql and KeGetCurrentThread read the processor
 * control region through x18 on ARM64, at offsets no public header of ours gives, so a use
 * of them fails to build instead of reading a guessed address.
 */
#ifndef SANCTUM_ARM64_WDM_H
#define SANCTUM_ARM64_WDM_H

/*
 * IRQLs: Microsoft Learn, "Managing Hardware Priorities" (PASSIVE_LEVEL 0, APC_LEVEL 1,
 * DISPATCH_LEVEL 2 on every architecture); LOW_LEVEL is PASSIVE_LEVEL as in wdm.h's
 * AMD64 block. Device IRQLs above DISPATCH_LEVEL are left out.
 */
#define PASSIVE_LEVEL 0
#define LOW_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2

/*
 * Windows on ARM64 uses 4 KB pages (Microsoft Learn, "Overview of ARM64 ABI conventions":
 * the default page size is 4 KB), as AMD64 does.
 */
#define PAGE_SIZE 0x1000
#define PAGE_SHIFT 12L

/*
 * The shared user data page: kernel address 0xFFFFF780`00000000 in 64-bit Windows, ARM64
 * included (Geoff Chappell, "KUSER_SHARED_DATA", studies/windows/km/ntoskrnl/inc/api/
 * ntexapi_x/kuser_shared_data; Microsoft Learn's KUSER_SHARED_DATA page lists the ARM64-only
 * members in the same structure). InterruptTime and SystemTime are at 0x08 and 0x14 as for
 * AMD64: test/arm64/layout.c compares KUSER_SHARED_DATA between the x64 and ARM64 builds.
 */
#define KI_USER_SHARED_DATA 0xFFFFF78000000000ULL
#define SharedInterruptTime (KI_USER_SHARED_DATA + 0x8)
#define SharedSystemTime (KI_USER_SHARED_DATA + 0x14)

/*
 * AMD64's macros read the 8 bytes at once. On ARM64 a 64-bit load from these 4-byte-aligned
 * addresses need not be single-copy atomic, so read them the way KSYSTEM_TIME is made for:
 * High1Time, LowPart, then High2Time, again until the two high parts agree (the kernel
 * writes them in the opposite order; wdm.h's x86 KeQueryTickCount reads the same way).
 * Acquire loads keep the three reads in order on a weakly ordered CPU.
 */
FORCEINLINE ULONG64 SanctumReadKSystemTime(ULONG_PTR Address)
{
    volatile KSYSTEM_TIME *Time = (volatile KSYSTEM_TIME *)Address;
    LONG High;
    ULONG Low;

    do {
        High = __atomic_load_n(&Time->High1Time, __ATOMIC_ACQUIRE);
        Low = __atomic_load_n(&Time->LowPart, __ATOMIC_ACQUIRE);
    } while (High != __atomic_load_n(&Time->High2Time, __ATOMIC_ACQUIRE));
    return ((ULONG64)(ULONG)High << 32) | Low;
}

#define KeQueryInterruptTime() SanctumReadKSystemTime(SharedInterruptTime)
#define KeQuerySystemTime(CurrentCount) \
    (*(ULONG64 *)(CurrentCount) = SanctumReadKSystemTime(SharedSystemTime))

/* KeSaveFloatingPointState's parameter type; ARM64 kernel code saves no FP state this way. */
typedef struct _KFLOATING_SAVE {
    ULONG Dummy;
} KFLOATING_SAVE, *PKFLOATING_SAVE;

#endif
