/* SPDX-License-Identifier: MIT */
/*
 * A frame to smash, compiled with the driver's stack-cookie flags (the Makefile's
 * HOST_GS_CFLAGS), so that it checks its cookie against the driver's guard and calls the
 * driver's failure routine, as every protected function of the driver does.
 */
#include "unit.h"

/* Keeps the array alive and its writes in place. */
static void consume(volatile UCHAR *Buffer)
{
    (void)Buffer[0];
}

/*
 * Writes Length bytes into a 16-byte local array: more than 16 runs over the cookie above it.
 * ASan and UBSan stay out, so that the cookie check is what catches the overrun.
 */
__attribute__((noinline, no_sanitize("address", "undefined"))) int gs_victim(size_t Length)
{
    volatile UCHAR buffer[16];
    size_t i;

    for (i = 0; i < Length; i++)
        buffer[i] = 0x41;
    consume(buffer);
    return buffer[0];
}
