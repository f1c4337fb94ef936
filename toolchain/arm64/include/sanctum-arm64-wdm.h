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
 * The software IRQLs: 0, 1 and 2 in every architecture block of wdm.h (x86, AMD64, IA64,
 * PPC, MIPS). The hardware IRQLs above DISPATCH_LEVEL differ between architectures and
 * are left out.
 */
#define PASSIVE_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2

/*
 * Windows on Arm uses 4 KB pages, as AMD64 does (NVIDIA, DGX Station development guide,
 * "Page Size": "Windows on ARM is configured for 4 KB pages").
 */
#define PAGE_SIZE 0x1000

/*
 * The shared user data page: kernel address 0xFFFFF780`00000000 in 64-bit Windows (Geoff
 * Chappell, https://www.geoffchappell.com/studies/windows/km/ntoskrnl/inc/api/ntexapi_x/
 * kuser_shared_data/index.htm: "0xFFDF0000 or 0xFFFFF780`00000000, respectively, in 32-bit
 * and 64-bit Windows"); Microsoft Learn's KUSER_SHARED_DATA page (ntddk.h) describes one
 * structure for every architecture, with ARM64-only members in it. InterruptTime and
 * SystemTime are at 0x08 and 0x14 as for AMD64: test/arm64/layout.c compares
 * KUSER_SHARED_DATA and these addresses between the x64 and ARM64 builds.
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

#endif
