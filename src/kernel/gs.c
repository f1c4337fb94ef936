/* SPDX-License-Identifier: MIT */
/*
 * Stack cookies. The kernel is built with -fstack-protector-strong: every function with a
 * local array or an address-taken local stores __stack_chk_guard in its frame and compares it
 * before returning. Neither symbol is in ntoskrnl, so the driver defines both: the guard gets a
 * value of this boot's and this load's in DriverEntry, and a mismatch stops the machine with
 * the bug check that Windows uses for a driver that overran a stack buffer.
 */
#include "sanctum.h"

#ifndef DRIVER_OVERRAN_STACK_BUFFER
#define DRIVER_OVERRAN_STACK_BUFFER 0x000000F7
#endif

/* Not a constant a smash could carry: replaced before any function that checks it runs. */
ULONG_PTR __stack_chk_guard = (ULONG_PTR)0x2B992DDFA232ull;

/* splitmix64's finalizer: every input bit reaches every output bit. */
static SANCTUM_NO_STACK_PROTECTOR ULONG64 SanctumMix(ULONG64 x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The processor's cycle counter: it differs at every boot and every load. */
static SANCTUM_NO_STACK_PROTECTOR ULONG64 SanctumCycles(VOID)
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
    return __builtin_arm_rsr64("cntvct_el0");
#else
#error "a cycle counter for this architecture"
#endif
}

/*
 * The cycle counter, the system time and two addresses that KASLR randomizes (the driver
 * object and this frame), mixed. Not a cryptographic source (that would take an import from
 * cng.sys), but an attacker who overruns a buffer has to match 56 bits at once, and a wrong
 * guess stops the machine.
 */
SANCTUM_NO_STACK_PROTECTOR VOID SanctumInitStackGuard(PVOID Seed)
{
    LARGE_INTEGER now = { .QuadPart = 0 };
    ULONG64 value;

    KeQuerySystemTime(&now);
    value = SanctumMix((ULONG64)(ULONG_PTR)Seed ^ SanctumCycles());
    value = SanctumMix(value ^ (ULONG64)now.QuadPart ^ (ULONG64)(ULONG_PTR)&now);
    /* A zero byte first stops a string copy from rewriting the cookie it runs into. */
    value &= ~(ULONG64)0xFF;
    if (value == 0 || value == (ULONG64)0x2B992DDFA232ull)
        value = 0x5A17C0DE5A17C000ull;
    __stack_chk_guard = (ULONG_PTR)value;
}

/* A frame's cookie no longer matches the guard: its buffer overran it. Never returns. */
DECLSPEC_NORETURN VOID __stack_chk_fail(VOID);
DECLSPEC_NORETURN VOID __stack_chk_fail(VOID)
{
    KeBugCheckEx(DRIVER_OVERRAN_STACK_BUFFER, (ULONG_PTR)__builtin_return_address(0),
                 __stack_chk_guard, ~__stack_chk_guard, 0);
}
