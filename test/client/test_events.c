/* SPDX-License-Identifier: MIT */
/*
 * Host tests of the client library's record walker (src/user/events.c), under ASan and UBSan:
 * every field of every record type, unknown types skipped by their Size, every kind of
 * corrupt Size or body an error, and no read outside the batch at any cut of it.
 */
#include <ntifs.h> /* the shim's Windows types; built with -fshort-wchar */

#include "sanctum/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define ok(cond, ...) ok_(__LINE__, (cond), __VA_ARGS__)
static int ok_(int line, int cond, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ok_(int line, int cond, const char *fmt, ...)
{
    va_list ap;

    if (cond) {
        passed++;
        return 1;
    }
    failed++;
    printf("FAIL: test_events.c:%d: ", line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    return 0;
}

/* A batch being built: records appended as the driver would write them. */
struct batch {
    unsigned char bytes[8192];
    size_t len;
    ULONG64 sequence;
};

/* Appends a record of `type` with `body` (body_len bytes) and `tail` bytes after it, padded
 * to a multiple of 8 plus `extra` bytes; returns the record. */
static SANCTUM_EVENT_HEADER *add(struct batch *b, USHORT type, const void *body, size_t body_len,
                                 const void *tail, size_t tail_len, size_t extra)
{
    SANCTUM_EVENT_HEADER *h = (void *)(b->bytes + b->len);
    size_t size = (sizeof *h + body_len + tail_len + 7) / 8 * 8 + extra;

    memset(h, 0, size);
    h->Size = (USHORT)size;
    h->Type = type;
    h->Sequence = ++b->sequence;
    h->Time = 133000000000000000LL + (LONG64)b->sequence;
    memcpy(h + 1, body, body_len);
    if (tail_len != 0)
        memcpy((unsigned char *)(h + 1) + body_len, tail, tail_len);
    b->len += size;
    return h;
}

/* The batch in a buffer of exactly its size, so that ASan sees any read past it. */
static unsigned char *exact(const struct batch *b, size_t len)
{
    unsigned char *p = malloc(len ? len : 1);

    memcpy(p, b->bytes, len);
    return p;
}

static ULONG walk_all(const void *p, size_t len, int *records, size_t *offset)
{
    SANCTUM_WALK w;
    SANCTUM_EVENT e;
    ULONG status;

    *records = 0;
    SanctumWalkBegin(&w, p, len);
    while ((status = SanctumWalkNext(&w, &e)) == SANCTUM_WALK_OK)
        (*records)++;
    *offset = SanctumWalkOffset(&w, p);
    return status;
}

static const WCHAR image[] = L"C:\\Windows\\notepad.exe";
static const WCHAR cmdline[] = L"notepad.exe \"a b.txt\"";
static const WCHAR driver[] = L"\\??\\C:\\sanctum2.sys";

/* One batch of every type, in order, plus an unknown type in the middle. */
static void build_all(struct batch *b)
{
    SANCTUM_PROCESS_CREATE pc = { 1234, 5, 6, 7, sizeof image - 2, sizeof cmdline - 2, 0 };
    SANCTUM_PROCESS_EXIT pe = { 1234, (LONG)0xC0000005, 0 };
    SANCTUM_THREAD th = { 1234, 99 };
    SANCTUM_IMAGE_LOAD im = { 0, 0xFFFFF80012340000ULL, 0x7000, SANCTUM_IMAGE_KERNEL,
                              sizeof driver - 2, 0 };
    SANCTUM_MARK mk = { 5, 0, 0x1F2E3D4CULL };
    unsigned char strings[sizeof image + sizeof cmdline];
    unsigned char unknown[40] = { 1, 2, 3 };

    memset(b, 0, sizeof *b);
    memcpy(strings, image, sizeof image - 2);
    memcpy(strings + sizeof image - 2, cmdline, sizeof cmdline - 2);
    add(b, SANCTUM_EVENT_PROCESS_CREATE, &pc, sizeof pc, strings, sizeof image + sizeof cmdline - 4,
        0);
    add(b, SANCTUM_EVENT_PROCESS_EXIT, &pe, sizeof pe, NULL, 0, 0);
    add(b, SANCTUM_EVENT_THREAD_CREATE, &th, sizeof th, NULL, 0, 0);
    add(b, 42, unknown, sizeof unknown, NULL, 0, 0);
    add(b, SANCTUM_EVENT_THREAD_EXIT, &th, sizeof th, NULL, 0, 0);
    add(b, SANCTUM_EVENT_IMAGE_LOAD, &im, sizeof im, driver, sizeof driver - 2, 0);
    add(b, SANCTUM_EVENT_MARK, &mk, sizeof mk, "hello", 5, 0);
}

static int same_string(SANCTUM_STRING s, const WCHAR *want, size_t bytes)
{
    return s.Length == bytes / 2 && memcmp(s.Chars, want, bytes) == 0;
}

static void test_every_type(void)
{
    struct batch b;
    SANCTUM_WALK w;
    SANCTUM_EVENT e;

    build_all(&b);
    unsigned char *p = exact(&b, b.len);
    SanctumWalkBegin(&w, p, b.len);

    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK, "process-create not read\n");
    const SANCTUM_PROCESS_CREATE *pc = SanctumEventProcessCreate(&e);
    ok(pc != NULL && pc->ProcessId == 1234 && pc->ParentProcessId == 5 &&
           pc->CreatingProcessId == 6 && pc->CreatingThreadId == 7,
       "process-create ids wrong\n");
    ok(e.Header->Sequence == 1 && e.Header->Time == 133000000000000001LL,
       "header: sequence %llu\n", (unsigned long long)e.Header->Sequence);
    ok(same_string(e.Name, image, sizeof image - 2), "image name: %u chars\n", e.Name.Length);
    ok(same_string(e.CommandLine, cmdline, sizeof cmdline - 2), "command line: %u chars\n",
       e.CommandLine.Length);
    ok(SanctumEventProcessExit(&e) == NULL && SanctumEventThread(&e) == NULL &&
           SanctumEventImageLoad(&e) == NULL && SanctumEventMark(&e) == NULL,
       "another type's accessor answered for process-create\n");

    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK, "process-exit not read\n");
    const SANCTUM_PROCESS_EXIT *pe = SanctumEventProcessExit(&e);
    ok(pe != NULL && pe->ProcessId == 1234 && (ULONG)pe->ExitStatus == 0xC0000005,
       "process-exit fields wrong\n");
    ok(SanctumEventProcessCreate(&e) == NULL, "process-create accessor answered for exit\n");

    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK, "thread-create not read\n");
    const SANCTUM_THREAD *th = SanctumEventThread(&e);
    ok(th != NULL && th->ProcessId == 1234 && th->ThreadId == 99, "thread-create fields\n");

    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK, "unknown type not handed over\n");
    ok(e.Header->Type == 42 && e.Header->Size == 64 && e.Body == NULL,
       "unknown type: type %u size %u body %p\n", e.Header->Type, e.Header->Size, e.Body);
    ok(SanctumEventMark(&e) == NULL && SanctumEventThread(&e) == NULL,
       "an accessor answered for an unknown type\n");

    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK && e.Header->Type == SANCTUM_EVENT_THREAD_EXIT &&
           SanctumEventThread(&e) != NULL && e.Header->Sequence == 5,
       "thread-exit after the unknown record not read\n");

    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK, "image-load not read\n");
    const SANCTUM_IMAGE_LOAD *im = SanctumEventImageLoad(&e);
    ok(im != NULL && im->ProcessId == 0 && im->ImageBase == 0xFFFFF80012340000ULL &&
           im->ImageSize == 0x7000 && im->Properties == SANCTUM_IMAGE_KERNEL,
       "image-load fields wrong\n");
    ok(same_string(e.Name, driver, sizeof driver - 2), "image name: %u chars\n", e.Name.Length);

    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK, "mark not read\n");
    ok(SanctumEventMark(&e) != NULL && e.DataLength == 5 && memcmp(e.Data, "hello", 5) == 0,
       "mark: %u bytes\n", e.DataLength);
    ok(SanctumEventMark(&e) != NULL && SanctumEventMark(&e)->SenderProcessId == 0x1F2E3D4CULL &&
           e.Data == (const unsigned char *)e.Header + sizeof(SANCTUM_EVENT_HEADER) + 16,
       "mark: the sender's id, and the bytes right after the 16-byte body\n");

    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_END, "no end after the last record\n");
    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_END, "the end does not stay the end\n");
    ok(SanctumWalkOffset(&w, p) == b.len, "offset at the end %zu of %zu\n",
       SanctumWalkOffset(&w, p), b.len);
    free(p);
}

static void test_empty_and_names(void)
{
    SANCTUM_WALK w;
    SANCTUM_EVENT e;
    unsigned char *p = malloc(8);

    SanctumWalkBegin(&w, p, 0);
    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_END && e.Header == NULL,
       "an empty batch is not at its end\n");
    free(p);

    ok(strcmp(SanctumEventTypeName(SANCTUM_EVENT_PROCESS_CREATE), "process-create") == 0 &&
           strcmp(SanctumEventTypeName(SANCTUM_EVENT_MARK), "mark") == 0,
       "type names\n");
    ok(SanctumEventTypeName(0) == NULL && SanctumEventTypeName(SANCTUM_EVENT_TYPE_COUNT) == NULL &&
           SanctumEventTypeName(0xFFFF) == NULL,
       "unknown types have names\n");
}

/* After a valid mark, a record of `type` (Size forced to `size` unless 0xFFFF): corrupt at 48. */
static void expect_corrupt(const char *what, USHORT type, const void *body, size_t body_len,
                           size_t tail_len, USHORT size)
{
    static const unsigned char zeros[4096];
    SANCTUM_MARK mk = { 3, 0, 4 };
    struct batch b;
    SANCTUM_WALK w;
    SANCTUM_EVENT e;

    memset(&b, 0, sizeof b);
    add(&b, SANCTUM_EVENT_MARK, &mk, sizeof mk, "abc", 3, 0);
    SANCTUM_EVENT_HEADER *h = add(&b, type, body, body_len, zeros, tail_len, 0);
    if (size != 0xFFFF)
        h->Size = size;
    unsigned char *p = exact(&b, b.len);
    SanctumWalkBegin(&w, p, b.len);
    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK, "%s: the good record before it\n", what);
    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_CORRUPT && e.Header == NULL && e.Body == NULL,
       "%s: not corrupt\n", what);
    ok(SanctumWalkOffset(&w, p) == 48, "%s: corrupt at %zu, expected 48\n", what,
       SanctumWalkOffset(&w, p));
    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_CORRUPT, "%s: the walk went on\n", what);
    free(p);
}

static void test_corrupt(void)
{
    SANCTUM_THREAD th = { 1, 2 };
    SANCTUM_PROCESS_EXIT pe = { 1, 0, 0 };
    SANCTUM_PROCESS_CREATE pc = { 1, 2, 3, 4, 8, 8, 0 };
    SANCTUM_IMAGE_LOAD im = { 1, 2, 3, 0, 8, 0 };
    SANCTUM_MARK mk = { 8, 0, 4 };
    unsigned char unknown[40] = { 0 };

    expect_corrupt("Size 0", SANCTUM_EVENT_THREAD_CREATE, &th, sizeof th, 0, 0);
    expect_corrupt("Size 16 (< header)", SANCTUM_EVENT_THREAD_CREATE, &th, sizeof th, 0, 16);
    expect_corrupt("Size 36 (not a multiple of 8)", 77, unknown, sizeof unknown, 0, 36);
    expect_corrupt("Size 44 (not a multiple of 8, past the batch)", SANCTUM_EVENT_THREAD_CREATE,
                   &th, sizeof th, 0, 44);
    expect_corrupt("Size past the batch", SANCTUM_EVENT_THREAD_CREATE, &th, sizeof th, 0, 48);
    expect_corrupt("unknown type, Size past the batch", 77, &th, sizeof th, 0, 4096);
    expect_corrupt("unknown type, Size 12", 77, &th, sizeof th, 0, 12);
    expect_corrupt("thread body cut", SANCTUM_EVENT_THREAD_EXIT, &th, 8, 0, 0xFFFF);
    expect_corrupt("exit body cut", SANCTUM_EVENT_PROCESS_EXIT, &pe, 8, 0, 0xFFFF);
    expect_corrupt("process-create body cut", SANCTUM_EVENT_PROCESS_CREATE, &pc, 32, 0, 0xFFFF);
    expect_corrupt("process-create strings past Size", SANCTUM_EVENT_PROCESS_CREATE, &pc,
                   sizeof pc, 8, 0xFFFF);
    pc.ImageNameLength = 7;
    pc.CommandLineLength = 8;
    expect_corrupt("process-create odd name length", SANCTUM_EVENT_PROCESS_CREATE, &pc,
                   sizeof pc, 16, 0xFFFF);
    pc.ImageNameLength = 0;
    pc.CommandLineLength = 0xFFFF;
    expect_corrupt("process-create command line past Size", SANCTUM_EVENT_PROCESS_CREATE, &pc,
                   sizeof pc, 16, 0xFFFF);
    expect_corrupt("image-load body cut", SANCTUM_EVENT_IMAGE_LOAD, &im, 24, 0, 0xFFFF);
    expect_corrupt("image-load name past Size", SANCTUM_EVENT_IMAGE_LOAD, &im, sizeof im, 0,
                   0xFFFF);
    im.NameLength = 10;
    expect_corrupt("image-load name 2 bytes past Size", SANCTUM_EVENT_IMAGE_LOAD, &im, sizeof im,
                   8, 0xFFFF);
    expect_corrupt("mark body cut", SANCTUM_EVENT_MARK, &mk, 0, 0, 0xFFFF);
    expect_corrupt("mark body without the sender's id", SANCTUM_EVENT_MARK, &mk, 8, 0, 0xFFFF);
    expect_corrupt("mark data past Size", SANCTUM_EVENT_MARK, &mk, sizeof mk, 0, 0xFFFF);
    mk.Length = 9;
    expect_corrupt("mark data 1 byte past Size", SANCTUM_EVENT_MARK, &mk, sizeof mk, 8, 0xFFFF);
    mk.Length = 0xFFFFFFFF;
    expect_corrupt("mark Length 0xFFFFFFFF", SANCTUM_EVENT_MARK, &mk, sizeof mk, 8, 0xFFFF);
}

/* Larger records than their contents need (room a later protocol may use) are not corrupt. */
static void test_padding_and_alignment(void)
{
    SANCTUM_MARK mk = { 2, 0, 4 };
    struct batch b;
    SANCTUM_WALK w;
    SANCTUM_EVENT e;

    memset(&b, 0, sizeof b);
    add(&b, SANCTUM_EVENT_MARK, &mk, sizeof mk, "hi", 2, 64);
    add(&b, SANCTUM_EVENT_MARK, &mk, sizeof mk, "yo", 2, 0);
    unsigned char *p = exact(&b, b.len);
    SanctumWalkBegin(&w, p, b.len);
    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK && e.Header->Size == 112 && e.DataLength == 2,
       "a padded record\n");
    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_OK && memcmp(e.Data, "yo", 2) == 0,
       "the record after a padded one\n");
    free(p);

    /* Records are read in place: a batch at an odd address is refused, not misread. */
    unsigned char *q = malloc(b.len + 8);
    memcpy(q + 4, b.bytes, b.len);
    SanctumWalkBegin(&w, q + 4, b.len);
    ok(SanctumWalkNext(&w, &e) == SANCTUM_WALK_CORRUPT, "an unaligned batch was walked\n");
    free(q);
}

static size_t size_at(const struct batch *b, size_t offset)
{
    return ((const SANCTUM_EVENT_HEADER *)(const void *)(b->bytes + offset))->Size;
}

/* Every prefix of a valid batch: whole records then END or CORRUPT, never a read past it. */
static void test_every_cut(void)
{
    struct batch b;
    size_t starts[16], n = 0, bad = 0;

    build_all(&b);
    for (size_t off = 0; off < b.len; off += size_at(&b, off))
        starts[n++] = off;
    for (size_t len = 0; len <= b.len; len++) {
        unsigned char *p = exact(&b, len);
        size_t whole = 0, offset;
        int records;
        while (whole < n && starts[whole] + size_at(&b, starts[whole]) <= len)
            whole++;
        int at_boundary = len == b.len || (whole < n && starts[whole] == len);
        ULONG status = walk_all(p, len, &records, &offset);
        ULONG expected = at_boundary ? SANCTUM_WALK_END : SANCTUM_WALK_CORRUPT;
        if ((size_t)records != whole || status != expected)
            bad++;
        free(p);
    }
    ok(bad == 0, "%zu of %zu cuts of a %zu-byte batch read wrongly\n", bad, b.len + 1, b.len);
}

int main(void)
{
    test_every_type();
    test_empty_and_names();
    test_corrupt();
    test_padding_and_alignment();
    test_every_cut();
    printf("client: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
