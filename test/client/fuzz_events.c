/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the client library's record walker over any bytes. Each input is copied
 * into a buffer of exactly its size (as GET_EVENTS would fill one); every byte of every record
 * the walker hands over is read, so that ASan catches a record, body or string that reaches
 * outside the batch, and the walker's promises are checked.
 */
#include <ntifs.h> /* the shim's Windows types; built with -fshort-wchar */

#include "sanctum/events.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned sum(const void *p, size_t n)
{
    const volatile unsigned char *b = p;
    unsigned s = 0;

    while (n-- > 0)
        s += *b++;
    return s;
}

/* n bytes at p end at or before `end` (an absent string has no bytes). */
static int inside(const void *p, size_t n, const unsigned char *end)
{
    return p == NULL ? n == 0 : n <= (size_t)(end - (const unsigned char *)p);
}

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_events: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *batch = malloc(size ? size : 1);
    SANCTUM_WALK walk;
    SANCTUM_EVENT e;
    ULONG status;
    size_t seen = 0;

    memcpy(batch, data, size);
    SanctumWalkBegin(&walk, batch, size);
    while ((status = SanctumWalkNext(&walk, &e)) == SANCTUM_WALK_OK) {
        const SANCTUM_EVENT_HEADER *h = e.Header;
        check(h->Size >= sizeof *h && h->Size % 8 == 0, "a record of a bad size was handed over");
        check((const unsigned char *)h == batch + seen, "records are not contiguous");
        seen += h->Size;
        check(seen <= size, "a record reaches past the batch");
        const unsigned char *end = (const unsigned char *)h + h->Size;
        check(inside(e.Name.Chars, e.Name.Length * sizeof(WCHAR), end) &&
                  inside(e.CommandLine.Chars, e.CommandLine.Length * sizeof(WCHAR), end) &&
                  inside(e.Data, e.DataLength, end),
              "a string reaches past its record");
        sum(h, h->Size);
        sum(e.Name.Chars, e.Name.Length * sizeof(WCHAR));
        sum(e.CommandLine.Chars, e.CommandLine.Length * sizeof(WCHAR));
        sum(e.Data, e.DataLength);
        check((e.Body == NULL) == (SanctumEventTypeName(h->Type) == NULL),
              "a body for an unknown type, or none for a known one");
    }
    check(status == SANCTUM_WALK_END ? seen == size : status == SANCTUM_WALK_CORRUPT,
          "the walk ended early without saying the batch is corrupt");
    check(SanctumWalkOffset(&walk, batch) == seen, "the offset is not where the walk stopped");
    free(batch);
    return 0;
}
