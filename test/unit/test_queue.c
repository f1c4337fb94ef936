/* SPDX-License-Identifier: MIT */
/* The per-handle message queues (SanctumOpen/Write/Read/Cleanup/Close), and failing pool. */
#include "unit.h"

#include <stdlib.h>

/* Reads one message and checks it is `len` bytes of pattern(seed). */
#define read_expect(st, h, len, seed) read_expect_(__FILE__, __LINE__, (st), (h), (len), (seed))
static void read_expect_(const char *file, int line, PSANCTUM_STATE st, PSANCTUM_HANDLE h,
                         ULONG len, ULONG seed)
{
    UCHAR *buf = canary_buffer(SANCTUM_MAX_MESSAGE + 8), *want = xmalloc(len ? len : 1);
    ULONG_PTR info;
    NTSTATUS status = rd(st, h, buf, SANCTUM_MAX_MESSAGE + 8, &info);

    pattern(want, len, seed);
    ok_(file, line, status == STATUS_SUCCESS && info == len,
        "read: got 0x%08x, %llu bytes; expected %u bytes\n", ST(status), U64(info), len);
    ok_(file, line, info != len || !memcmp(buf, want, len), "read %u bytes: not the message\n",
        len);
    ok_(file, line, first_written(buf, len, SANCTUM_MAX_MESSAGE + 8) < 0,
        "read %u bytes: byte %ld written\n", len, first_written(buf, len, SANCTUM_MAX_MESSAGE + 8));
    free(want);
    free(buf);
}

/* Writes `len` bytes of pattern(seed), which must succeed. */
#define write_ok(st, h, len, seed) write_ok_(__FILE__, __LINE__, (st), (h), (len), (seed))
static void write_ok_(const char *file, int line, PSANCTUM_STATE st, PSANCTUM_HANDLE h, ULONG len,
                      ULONG seed)
{
    UCHAR *data = xmalloc(len);
    ULONG_PTR info;
    NTSTATUS status;

    pattern(data, len, seed);
    status = wr(st, h, data, len, &info);
    ok_(file, line, status == STATUS_SUCCESS && info == len,
        "write %u bytes: got 0x%08x, %llu bytes\n", len, ST(status), U64(info));
    free(data);
}

static void test_write_limits(void)
{
    SANCTUM_STATE st;
    SANCTUM_STATS before, after;
    PSANCTUM_HANDLE h;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR *data = xmalloc(SANCTUM_MAX_MESSAGE + 1);

    SanctumStateInit(&st);
    h = open_ok(&st);
    pattern(data, SANCTUM_MAX_MESSAGE + 1, 4);
    before = snap(&st);
    status = wr(&st, h, data, 0, &info);
    ok(status == STATUS_INVALID_PARAMETER && info == 0, "write 0: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    status = wr(&st, h, data, SANCTUM_MAX_MESSAGE + 1, &info);
    ok(status == STATUS_INVALID_PARAMETER && info == 0, "write max+1: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    status = wr(&st, h, NULL, 5, &info);
    ok(status == STATUS_INVALID_PARAMETER && info == 0, "write NULL: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    status = wr(&st, h, NULL, 0, &info);
    ok(status == STATUS_INVALID_PARAMETER && info == 0, "write NULL, 0: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    after = snap(&st);
    ok(after.Writes == before.Writes + 4 && after.Failures == before.Failures + 4 &&
           after.BytesIn == before.BytesIn,
       "rejected writes: Writes +%llu, Failures +%llu, BytesIn +%llu\n",
       U64(after.Writes - before.Writes), U64(after.Failures - before.Failures),
       U64(after.BytesIn - before.BytesIn));
    check_pool(&st, 1, HANDLE_BYTES);
    read_expect(&st, h, 0, 0);

    write_ok(&st, h, 1, 5);
    write_ok(&st, h, SANCTUM_MAX_MESSAGE, 6);
    check_pool(&st, 3, HANDLE_BYTES + MESSAGE_BYTES(1) + MESSAGE_BYTES(SANCTUM_MAX_MESSAGE));
    read_expect(&st, h, 1, 5);
    read_expect(&st, h, SANCTUM_MAX_MESSAGE, 6);
    read_expect(&st, h, 0, 0);
    check_pool(&st, 1, HANDLE_BYTES);
    close_h(&st, h);
    free(data);
    end_scenario(&st);
}

static void test_fifo(void)
{
    static const ULONG lengths[] = { 3, 1, 100, 2, SANCTUM_MAX_MESSAGE, 4096, 1 };
    SANCTUM_STATE st;
    PSANCTUM_HANDLE h;
    ULONG64 bytes = HANDLE_BYTES;
    size_t i;

    SanctumStateInit(&st);
    h = open_ok(&st);
    for (i = 0; i < ARRAYSIZE(lengths); i++) {
        write_ok(&st, h, lengths[i], (ULONG)i + 10);
        bytes += MESSAGE_BYTES(lengths[i]);
    }
    check_pool(&st, 1 + ARRAYSIZE(lengths), bytes);
    for (i = 0; i < ARRAYSIZE(lengths); i++)
        read_expect(&st, h, lengths[i], (ULONG)i + 10);
    read_expect(&st, h, 0, 0);
    check_pool(&st, 1, HANDLE_BYTES);
    close_h(&st, h);
    end_scenario(&st);
}

static void test_short_reads(void)
{
    SANCTUM_STATE st;
    SANCTUM_STATS before, after;
    PSANCTUM_HANDLE h;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR *buf;

    SanctumStateInit(&st);
    h = open_ok(&st);

    /* An empty queue: success with 0 bytes, whatever the buffer. */
    buf = canary_buffer(16);
    status = rd(&st, h, buf, 16, &info);
    ok(status == STATUS_SUCCESS && info == 0, "empty: got 0x%08x, %llu bytes\n", ST(status),
       U64(info));
    ok(first_written(buf, 0, 16) < 0, "empty: byte %ld written\n", first_written(buf, 0, 16));
    status = rd(&st, h, NULL, 0, &info);
    ok(status == STATUS_SUCCESS && info == 0, "empty, no buffer: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    free(buf);

    /* Too small a buffer: STATUS_BUFFER_TOO_SMALL, and the message stays for the next read. */
    write_ok(&st, h, 10, 20);
    write_ok(&st, h, 3, 21);
    before = snap(&st);
    buf = canary_buffer(9);
    status = rd(&st, h, buf, 9, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL && info == 0, "read 9 of 10: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    ok(first_written(buf, 0, 9) < 0, "read 9 of 10: byte %ld written\n", first_written(buf, 0, 9));
    free(buf);
    buf = canary_buffer(0);
    status = rd(&st, h, buf, 0, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL && info == 0, "read 0 of 10: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    free(buf);
    status = rd(&st, h, NULL, 0, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL && info == 0, "no buffer: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    status = rd(&st, h, NULL, 100, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL && info == 0,
       "NULL buffer of 100 bytes: got 0x%08x, %llu bytes\n", ST(status), U64(info));
    after = snap(&st);
    ok(after.Reads == before.Reads + 4 && after.Failures == before.Failures + 4 &&
           after.BytesOut == before.BytesOut,
       "short reads: Reads +%llu, Failures +%llu, BytesOut +%llu\n",
       U64(after.Reads - before.Reads), U64(after.Failures - before.Failures),
       U64(after.BytesOut - before.BytesOut));
    check_pool(&st, 3, HANDLE_BYTES + MESSAGE_BYTES(10) + MESSAGE_BYTES(3));

    /* An exact buffer gets it, then the next message follows. */
    buf = canary_buffer(10);
    status = rd(&st, h, buf, 10, &info);
    ok(status == STATUS_SUCCESS && info == 10, "read 10 of 10: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    free(buf);
    read_expect(&st, h, 3, 21);
    read_expect(&st, h, 0, 0);
    close_h(&st, h);
    end_scenario(&st);
}

static void test_queue_limit(void)
{
    SANCTUM_STATE st;
    SANCTUM_STATS before, after;
    PSANCTUM_HANDLE h, other;
    ULONG64 ledger_bytes, ledger_blocks, bytes_now;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR data[32];
    ULONG i;

    SanctumStateInit(&st);
    h = open_ok(&st);
    other = open_ok(&st);
    for (i = 0; i < SANCTUM_MAX_QUEUED; i++)
        write_ok(&st, h, 1 + i % 32, i);
    before = snap(&st);
    ledger_blocks = shim_pool_outstanding(&ledger_bytes);
    pattern(data, sizeof(data), 99);
    status = wr(&st, h, data, sizeof(data), &info);
    ok(status == STATUS_DEVICE_BUSY && info == 0, "write %u: got 0x%08x, %llu bytes\n",
       SANCTUM_MAX_QUEUED + 1, ST(status), U64(info));
    after = snap(&st);
    ok(after.PoolAllocations == before.PoolAllocations && after.PoolBytes == before.PoolBytes,
       "the refused write changed the pool: %llu blocks, %llu bytes -> %llu, %llu\n",
       U64(before.PoolAllocations), U64(before.PoolBytes), U64(after.PoolAllocations),
       U64(after.PoolBytes));
    ok(shim_pool_outstanding(&bytes_now) == ledger_blocks && bytes_now == ledger_bytes,
       "the refused write changed the shim's ledger\n");
    ok(after.Writes == before.Writes + 1 && after.Failures == before.Failures + 1 &&
           after.BytesIn == before.BytesIn,
       "refused write: Writes +%llu, Failures +%llu, BytesIn +%llu\n",
       U64(after.Writes - before.Writes), U64(after.Failures - before.Failures),
       U64(after.BytesIn - before.BytesIn));

    /* The limit is per handle. */
    write_ok(&st, other, 7, 1000);
    read_expect(&st, other, 7, 1000);

    /* One read makes room for exactly one more. */
    read_expect(&st, h, 1, 0);
    write_ok(&st, h, 5, 500);
    status = wr(&st, h, data, 1, &info);
    ok(status == STATUS_DEVICE_BUSY && info == 0, "full again: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    for (i = 1; i < SANCTUM_MAX_QUEUED; i++)
        read_expect(&st, h, 1 + i % 32, i);
    read_expect(&st, h, 5, 500);
    read_expect(&st, h, 0, 0);
    close_h(&st, h);
    close_h(&st, other);
    end_scenario(&st);
}

static void test_isolation(void)
{
    SANCTUM_STATE st;
    PSANCTUM_HANDLE a, b;

    SanctumStateInit(&st);
    a = open_ok(&st);
    b = open_ok(&st);
    ok(a != b, "two opens gave the same handle\n");
    write_ok(&st, a, 11, 1);
    write_ok(&st, b, 22, 2);
    write_ok(&st, a, 33, 3);
    read_expect(&st, b, 22, 2);
    read_expect(&st, b, 0, 0);
    read_expect(&st, a, 11, 1);
    read_expect(&st, a, 33, 3);
    read_expect(&st, a, 0, 0);

    /* Closing one handle with messages queued leaves the other's alone. */
    write_ok(&st, a, 44, 4);
    write_ok(&st, b, 55, 5);
    close_h(&st, a);
    check_pool(&st, 2, HANDLE_BYTES + MESSAGE_BYTES(55));
    read_expect(&st, b, 55, 5);
    close_h(&st, b);
    end_scenario(&st);
}

static void test_cleanup_close(void)
{
    SANCTUM_STATE st;
    SANCTUM_STATS s;
    PSANCTUM_HANDLE h;

    SanctumStateInit(&st);
    h = open_ok(&st);
    write_ok(&st, h, 100, 1);
    write_ok(&st, h, 200, 2);
    write_ok(&st, h, 300, 3);
    check_pool(&st, 4, HANDLE_BYTES + MESSAGE_BYTES(100) + MESSAGE_BYTES(200) + MESSAGE_BYTES(300));

    /* CLEANUP frees the queue; the handle lives on until CLOSE. */
    SanctumCleanup(&st, h);
    check_pool(&st, 1, HANDLE_BYTES);
    s = snap(&st);
    ok(s.OpenHandles == 1 && s.Closes == 0, "after cleanup: %u open, %llu closes\n", s.OpenHandles,
       U64(s.Closes));
    read_expect(&st, h, 0, 0);
    SanctumCleanup(&st, h);
    check_pool(&st, 1, HANDLE_BYTES);

    /* A write that was in flight when CLEANUP ran: CLOSE frees its message. */
    write_ok(&st, h, 64, 4);
    check_pool(&st, 2, HANDLE_BYTES + MESSAGE_BYTES(64));
    SanctumClose(&st, h);
    s = snap(&st);
    ok(s.OpenHandles == 0 && s.Closes == 1 && s.Creates == 1,
       "after close: %u open, %llu creates, %llu closes\n", s.OpenHandles, U64(s.Creates),
       U64(s.Closes));
    end_scenario(&st);
}

/* DriverUnload under Wine: handles still open, with queues, are all freed. */
static void test_release(void)
{
    SANCTUM_STATE st;
    SANCTUM_STATS s;
    PSANCTUM_HANDLE h[4];
    ULONG i;

    SanctumStateInit(&st);
    for (i = 0; i < ARRAYSIZE(h); i++)
        h[i] = open_ok(&st);
    for (i = 0; i < SANCTUM_MAX_QUEUED; i++)
        write_ok(&st, h[0], 1 + i, i);
    write_ok(&st, h[1], SANCTUM_MAX_MESSAGE, 7);
    write_ok(&st, h[3], 1, 8);
    SanctumCleanup(&st, h[2]); /* one is half closed */
    s = snap(&st);
    ok(s.OpenHandles == 4 && s.PoolAllocations == 4 + SANCTUM_MAX_QUEUED + 2,
       "before release: %u open, %llu blocks\n", s.OpenHandles, U64(s.PoolAllocations));

    SanctumStateRelease(&st);
    s = snap(&st);
    ok(s.OpenHandles == 0 && s.Closes == 4 && s.Creates == 4,
       "after release: %u open, %llu creates, %llu closes\n", s.OpenHandles, U64(s.Creates),
       U64(s.Closes));
    ok(IsListEmpty(&st.Handles), "the list of handles is not empty\n");
    check_pool(&st, 0, 0);
    SanctumStateRelease(&st); /* a second time finds nothing */
    end_scenario(&st);
}

void test_queue(void)
{
    test_write_limits();
    test_fifo();
    test_short_reads();
    test_queue_limit();
    test_isolation();
    test_cleanup_close();
    test_release();
}

static void test_open_fails(void)
{
    SANCTUM_STATE st;
    SANCTUM_STATS s;
    PSANCTUM_HANDLE h = (PSANCTUM_HANDLE)INFO_UNSET;
    NTSTATUS status;

    SanctumStateInit(&st);
    shim_fail_call(1);
    status = SanctumOpen(&st, &h);
    ok(status == STATUS_INSUFFICIENT_RESOURCES, "open: got 0x%08x\n", ST(status));
    ok(h == NULL, "open: handle %p\n", (void *)h);
    s = snap(&st);
    ok(s.Failures == 1 && s.Creates == 0 && s.OpenHandles == 0 && s.Closes == 0,
       "failed open: %llu failures, %llu creates, %u open\n", U64(s.Failures), U64(s.Creates),
       s.OpenHandles);
    ok(IsListEmpty(&st.Handles), "a failed open is in the list of handles\n");
    check_pool(&st, 0, 0);
    end_scenario(&st);
}

static void test_write_fails(void)
{
    SANCTUM_STATE st;
    SANCTUM_STATS s;
    PSANCTUM_HANDLE h;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR data[64];
    ULONG i;

    SanctumStateInit(&st);
    h = open_ok(&st);
    pattern(data, sizeof(data), 1);
    shim_fail_call(1);
    status = wr(&st, h, data, 10, &info);
    ok(status == STATUS_INSUFFICIENT_RESOURCES && info == 0, "write: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    s = snap(&st);
    ok(s.Writes == 1 && s.Failures == 1 && s.BytesIn == 0,
       "failed write: %llu writes, %llu failures, %llu bytes in\n", U64(s.Writes),
       U64(s.Failures), U64(s.BytesIn));
    check_pool(&st, 1, HANDLE_BYTES);
    read_expect(&st, h, 0, 0);
    write_ok(&st, h, 10, 1);
    read_expect(&st, h, 10, 1);

    /* A full queue with no memory: refused either way, nothing stored. */
    for (i = 0; i < SANCTUM_MAX_QUEUED; i++)
        write_ok(&st, h, 1, i);
    shim_fail_call(1);
    status = wr(&st, h, data, 1, &info);
    ok((status == STATUS_DEVICE_BUSY || status == STATUS_INSUFFICIENT_RESOURCES) && info == 0,
       "full queue, no memory: got 0x%08x, %llu bytes\n", ST(status), U64(info));
    shim_fail_call(0);
    check_pool(&st, 1 + SANCTUM_MAX_QUEUED, HANDLE_BYTES + SANCTUM_MAX_QUEUED * MESSAGE_BYTES(1));
    close_h(&st, h);
    end_scenario(&st);
}

/* The IOCTLs take no pool: a pending failure is still pending after all of them. */
static void test_ioctls_allocate_nothing(void)
{
    SANCTUM_STATE st;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR in[16] = { 0 }, out[128];
    ULONG64 injected = shim_injected_failures();
    PVOID probe;

    SanctumStateInit(&st);
    shim_fail_call(1);
    status = dc(&st, IOCTL_SANCTUM_GET_VERSION, NULL, 0, out, sizeof(out), &info);
    ok(status == STATUS_SUCCESS, "GET_VERSION: got 0x%08x\n", ST(status));
    status = dc(&st, IOCTL_SANCTUM_ECHO, in, sizeof(in), out, sizeof(out), &info);
    ok(status == STATUS_SUCCESS, "ECHO: got 0x%08x\n", ST(status));
    status = dc(&st, IOCTL_SANCTUM_GET_STATS, NULL, 0, out, sizeof(out), &info);
    ok(status == STATUS_SUCCESS, "GET_STATS: got 0x%08x\n", ST(status));
    status = dc(&st, IOCTL_SANCTUM_FILL, in, sizeof(ULONG), out, sizeof(out), &info);
    ok(status == STATUS_SUCCESS, "FILL: got 0x%08x\n", ST(status));
    ok(shim_injected_failures() == injected, "an IOCTL allocated pool\n");
    probe = ExAllocatePoolWithTag(NonPagedPoolNx, 1, SANCTUM_POOL_TAG);
    ok(probe == NULL, "the pending failure was used up\n");
    if (probe)
        ExFreePoolWithTag(probe, SANCTUM_POOL_TAG);
    end_scenario(&st);
}

/*
 * One scenario run with the n-th allocation failing, for every n: the failing call must say
 * STATUS_INSUFFICIENT_RESOURCES, every other call behave as if nothing happened, and nothing
 * leak. A small model of each handle's queue says what every read must return.
 */
enum { OP_OPEN, OP_WRITE, OP_READ, OP_CLEANUP, OP_CLOSE };
static const struct {
    int Op, Handle;
    ULONG Length;
} script[] = {
    { OP_OPEN, 0, 0 },     { OP_OPEN, 1, 0 },   { OP_WRITE, 0, 3 },  { OP_WRITE, 1, 4 },
    { OP_WRITE, 0, 2 },    { OP_READ, 0, 0 },   { OP_WRITE, 0, 9 },  { OP_OPEN, 2, 0 },
    { OP_WRITE, 2, 1 },    { OP_READ, 1, 0 },   { OP_CLEANUP, 0, 0 }, { OP_CLOSE, 0, 0 },
    { OP_WRITE, 1, 5 },    { OP_CLOSE, 1, 0 },  { OP_CLEANUP, 2, 0 }, { OP_CLOSE, 2, 0 },
};

static void run_script(ULONG fail_at, ULONG *failures_seen)
{
    struct {
        PSANCTUM_HANDLE H;
        ULONG Queue[8], Head, Tail;
    } model[3];
    SANCTUM_STATE st;
    SANCTUM_STATS s, e;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR data[16], buf[16];
    ULONG i, failures = 0, m;

    memset(model, 0, sizeof(model));
    memset(&e, 0, sizeof(e));
    e.Size = sizeof(SANCTUM_STATS);
    SanctumStateInit(&st);
    shim_fail_call(fail_at + 1);
    for (i = 0; i < ARRAYSIZE(script); i++) {
        m = (ULONG)script[i].Handle;
        if (script[i].Op != OP_OPEN && !model[m].H)
            continue; /* its open failed */
        switch (script[i].Op) {
        case OP_OPEN:
            status = SanctumOpen(&st, &model[m].H);
            if (status == STATUS_SUCCESS && model[m].H) {
                e.Creates++;
                break;
            }
            ok(status == STATUS_INSUFFICIENT_RESOURCES && !model[m].H,
               "fail at %u, step %u: open got 0x%08x\n", fail_at, i, ST(status));
            failures++;
            break;
        case OP_WRITE:
            pattern(data, script[i].Length, i);
            status = wr(&st, model[m].H, data, script[i].Length, &info);
            e.Writes++;
            if (status == STATUS_SUCCESS && info == script[i].Length) {
                model[m].Queue[model[m].Tail++] = i;
                e.BytesIn += script[i].Length;
                break;
            }
            ok(status == STATUS_INSUFFICIENT_RESOURCES && info == 0,
               "fail at %u, step %u: write got 0x%08x, %llu bytes\n", fail_at, i, ST(status),
               U64(info));
            failures++;
            break;
        case OP_READ:
            memset(buf, CANARY, sizeof(buf));
            status = rd(&st, model[m].H, buf, sizeof(buf), &info);
            e.Reads++;
            if (model[m].Head == model[m].Tail) {
                ok(status == STATUS_SUCCESS && info == 0,
                   "fail at %u, step %u: empty read got 0x%08x, %llu bytes\n", fail_at, i,
                   ST(status), U64(info));
            } else {
                ULONG from = model[m].Queue[model[m].Head++];

                pattern(data, script[from].Length, from);
                ok(status == STATUS_SUCCESS && info == script[from].Length &&
                       !memcmp(buf, data, script[from].Length),
                   "fail at %u, step %u: read got 0x%08x, %llu bytes; expected step %u's %u\n",
                   fail_at, i, ST(status), U64(info), from, script[from].Length);
                e.BytesOut += script[from].Length;
            }
            break;
        case OP_CLEANUP:
            SanctumCleanup(&st, model[m].H);
            model[m].Head = model[m].Tail;
            break;
        case OP_CLOSE:
            SanctumClose(&st, model[m].H);
            model[m].H = NULL;
            e.Closes++;
            break;
        }
    }
    shim_fail_call(0);
    e.Failures = failures;
    s = snap(&st);
    check_stats(&s, &e);
    end_scenario(&st);
    *failures_seen = failures;
}

static void test_every_allocation_failing(void)
{
    ULONG n, seen;
    ULONG64 injected;

    for (n = 0; n < 100; n++) {
        injected = shim_injected_failures();
        run_script(n, &seen);
        if (shim_injected_failures() == injected) {
            ok(seen == 0, "no allocation failed, but %u calls did\n", seen);
            break;
        }
        ok(seen == 1, "fail at %u: %u calls failed\n", n, seen);
    }
    /* Three handles and six messages: nine allocations to fail, one by one. */
    ok(n == 9, "the script made %u allocations, expected 9\n", n);
}

void test_allocation_failures(void)
{
    test_open_fails();
    test_write_fails();
    test_ioctls_allocate_nothing();
    test_every_allocation_failing();
}
