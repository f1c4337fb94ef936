/* SPDX-License-Identifier: MIT */
/* Protocol v1 end to end: every IOCTL at its boundaries, access bits, queues, stats, threads. */
#include "harness.h"

#include <string.h>

#define MiB (1024u * 1024u)
#define RW (GENERIC_READ | GENERIC_WRITE)
#define CANARY 0xA5

/* One IOCTL call and what must come of it. out_len 0 passes no output buffer at all. */
typedef struct {
    const char *name;
    DWORD code;
    DWORD in_len;
    DWORD out_len;
    DWORD error;    /* expected Win32 error, 0 for success */
    DWORD returned; /* expected byte count on success */
} ioctl_case;

static const ioctl_case cases[] = {
    { "version out 0", IOCTL_SANCTUM_GET_VERSION, 0, 0, ERROR_INSUFFICIENT_BUFFER, 0 },
    { "version out 1", IOCTL_SANCTUM_GET_VERSION, 0, 1, ERROR_INSUFFICIENT_BUFFER, 0 },
    { "version out size-1", IOCTL_SANCTUM_GET_VERSION, 0, 19, ERROR_INSUFFICIENT_BUFFER, 0 },
    { "version out size", IOCTL_SANCTUM_GET_VERSION, 0, 20, 0, 20 },
    { "version out larger", IOCTL_SANCTUM_GET_VERSION, 0, 4096, 0, 20 },
    { "stats out 0", IOCTL_SANCTUM_GET_STATS, 0, 0, ERROR_INSUFFICIENT_BUFFER, 0 },
    { "stats out 1", IOCTL_SANCTUM_GET_STATS, 0, 1, ERROR_INSUFFICIENT_BUFFER, 0 },
    { "stats out size-1", IOCTL_SANCTUM_GET_STATS, 0, 87, ERROR_INSUFFICIENT_BUFFER, 0 },
    { "stats out v1 size", IOCTL_SANCTUM_GET_STATS, 0, 88, 0, 88 },
    { "stats out v2 size-1", IOCTL_SANCTUM_GET_STATS, 0, 111, 0, 88 },
    { "stats out v2 size", IOCTL_SANCTUM_GET_STATS, 0, 112, 0, 112 },
    { "stats out size-1", IOCTL_SANCTUM_GET_STATS, 0, 127, 0, 112 },
    { "stats out size", IOCTL_SANCTUM_GET_STATS, 0, 128, 0, 128 },
    { "stats out larger", IOCTL_SANCTUM_GET_STATS, 0, 4096, 0, 128 },
    { "echo in 0", IOCTL_SANCTUM_ECHO, 0, 16, ERROR_INVALID_PARAMETER, 0 },
    { "echo in 1", IOCTL_SANCTUM_ECHO, 1, 1, 0, 1 },
    { "echo in 1 out larger", IOCTL_SANCTUM_ECHO, 1, 4096, 0, 1 },
    { "echo in max", IOCTL_SANCTUM_ECHO, SANCTUM_MAX_ECHO, SANCTUM_MAX_ECHO, 0, SANCTUM_MAX_ECHO },
    { "echo in max+1", IOCTL_SANCTUM_ECHO, SANCTUM_MAX_ECHO + 1, SANCTUM_MAX_ECHO + 1,
      ERROR_INVALID_PARAMETER, 0 },
    { "echo out short", IOCTL_SANCTUM_ECHO, 100, 99, ERROR_INSUFFICIENT_BUFFER, 0 },
    { "echo no output", IOCTL_SANCTUM_ECHO, 100, 0, ERROR_INSUFFICIENT_BUFFER, 0 },
    { "fill no output", IOCTL_SANCTUM_FILL, 4, 0, ERROR_INVALID_PARAMETER, 0 },
    { "fill out 1", IOCTL_SANCTUM_FILL, 4, 1, 0, 1 },
    { "fill out 4096", IOCTL_SANCTUM_FILL, 4, 4096, 0, 4096 },
    { "fill out max", IOCTL_SANCTUM_FILL, 4, SANCTUM_MAX_FILL, 0, SANCTUM_MAX_FILL },
    { "fill out max+1", IOCTL_SANCTUM_FILL, 4, SANCTUM_MAX_FILL + 1, ERROR_INVALID_PARAMETER, 0 },
    { "fill in 0", IOCTL_SANCTUM_FILL, 0, 16, ERROR_INVALID_PARAMETER, 0 },
    { "fill in 3", IOCTL_SANCTUM_FILL, 3, 16, ERROR_INVALID_PARAMETER, 0 },
    { "fill in 5", IOCTL_SANCTUM_FILL, 5, 16, ERROR_INVALID_PARAMETER, 0 },
    /* Codes in our device type that are not ours, and known functions with other bits. */
    { "function 0x7ff", CTL_CODE(SANCTUM_DEVICE_TYPE, 0x7FF, METHOD_BUFFERED, FILE_ANY_ACCESS), 0,
      64, ERROR_INVALID_FUNCTION, 0 },
    { "function 0x804", CTL_CODE(SANCTUM_DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_ANY_ACCESS), 0,
      64, ERROR_INVALID_FUNCTION, 0 },
    { "protocol 2's SUBSCRIBE", CTL_CODE(SANCTUM_DEVICE_TYPE, 0x804, METHOD_BUFFERED,
                                         FILE_READ_DATA), 12, 0, ERROR_INVALID_FUNCTION, 0 },
    { "function 0x808", CTL_CODE(SANCTUM_DEVICE_TYPE, 0x808, METHOD_BUFFERED, FILE_WRITE_DATA), 0,
      0, ERROR_INVALID_FUNCTION, 0 },
    { "function 0xfff", CTL_CODE(SANCTUM_DEVICE_TYPE, 0xFFF, METHOD_OUT_DIRECT, FILE_ANY_ACCESS), 0,
      64, ERROR_INVALID_FUNCTION, 0 },
    { "stats, any access", CTL_CODE(SANCTUM_DEVICE_TYPE, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS),
      0, 88, ERROR_INVALID_FUNCTION, 0 },
    { "echo, method neither",
      CTL_CODE(SANCTUM_DEVICE_TYPE, 0x801, METHOD_NEITHER, FILE_READ_DATA | FILE_WRITE_DATA), 8, 8,
      ERROR_INVALID_FUNCTION, 0 },
    { "fill, buffered", CTL_CODE(SANCTUM_DEVICE_TYPE, 0x803, METHOD_BUFFERED, FILE_READ_DATA), 4, 16,
      ERROR_INVALID_FUNCTION, 0 },
    { "other device type", CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS), 0,
      64, ERROR_INVALID_FUNCTION, 0 },
};

static unsigned char *in_buf, *out_buf;

/* What a successful reply must hold, beyond its length. */
static void check_reply(const ioctl_case *c, DWORD seed)
{
    const SANCTUM_VERSION *v = (const void *)out_buf;
    const SANCTUM_STATS *s = (const void *)out_buf;
    DWORD i;

    if (c->code == IOCTL_SANCTUM_GET_VERSION)
        ok(v->Size == sizeof(*v) && v->Protocol == SANCTUM_PROTOCOL_VERSION, "%s: %lu %lu\n",
           c->name, v->Size, v->Protocol);
    else if (c->code == IOCTL_SANCTUM_GET_STATS)
        ok(s->Size == c->returned && s->OpenHandles >= 1, "%s: size %lu handles %lu\n", c->name,
           s->Size, s->OpenHandles);
    else if (c->code == IOCTL_SANCTUM_ECHO)
        ok(memcmp(out_buf, in_buf, c->in_len) == 0, "%s: echo differs\n", c->name);
    else if (c->code == IOCTL_SANCTUM_FILL) {
        for (i = 0; i < c->returned && out_buf[i] == (unsigned char)(seed + i); i++)
            ;
        ok(i == c->returned, "%s: wrong byte at %lu\n", c->name, i);
    }
}

static void test_ioctl_table(HANDLE h)
{
    DWORD seed = 0xFFFFFFF0u; /* wraps around within the first bytes */
    DWORD i, j, error, returned;

    for (i = 0; i < ARRAYSIZE(cases); i++) {
        const ioctl_case *c = &cases[i];

        for (j = 0; j < c->in_len; j++)
            in_buf[j] = (unsigned char)(j * 7 + 1);
        if (c->code == IOCTL_SANCTUM_FILL && c->in_len == 4)
            memcpy(in_buf, &seed, 4);
        memset(out_buf, CANARY, c->out_len);

        error = device_ioctl(h, c->code, c->in_len ? in_buf : NULL, c->in_len,
                             c->out_len ? out_buf : NULL, c->out_len, &returned);
        ok(error == c->error, "%s: error %lu, expected %lu\n", c->name, error, c->error);
        ok(returned == (c->error ? 0 : c->returned), "%s: %lu bytes returned, expected %lu\n",
           c->name, returned, c->returned);
        if (!error && error == c->error)
            check_reply(c, seed);
        /* Not a byte past what the driver wrote for this request reaches the caller. */
        for (j = returned; j < c->out_len && out_buf[j] == CANARY; j++)
            ;
        ok(j >= c->out_len, "%s: byte %lu beyond the %lu returned was written\n", c->name, j,
           returned);
    }
}

/* The access bits in each code are the contract: the I/O manager enforces them. */
static void test_access(void)
{
    static const struct {
        DWORD access;
        DWORD code;
        DWORD in_len, out_len;
        DWORD error;
    } rules[] = {
        { 0, IOCTL_SANCTUM_GET_VERSION, 0, 20, 0 },
        { 0, IOCTL_SANCTUM_GET_STATS, 0, 88, ERROR_ACCESS_DENIED },
        { 0, IOCTL_SANCTUM_FILL, 4, 16, ERROR_ACCESS_DENIED },
        { 0, IOCTL_SANCTUM_ECHO, 4, 4, ERROR_ACCESS_DENIED },
        { GENERIC_READ, IOCTL_SANCTUM_GET_STATS, 0, 88, 0 },
        { GENERIC_READ, IOCTL_SANCTUM_FILL, 4, 16, 0 },
        { GENERIC_READ, IOCTL_SANCTUM_ECHO, 4, 4, ERROR_ACCESS_DENIED },
        { GENERIC_WRITE, IOCTL_SANCTUM_GET_STATS, 0, 88, ERROR_ACCESS_DENIED },
        { GENERIC_WRITE, IOCTL_SANCTUM_FILL, 4, 16, ERROR_ACCESS_DENIED },
        { GENERIC_WRITE, IOCTL_SANCTUM_ECHO, 4, 4, ERROR_ACCESS_DENIED },
        { RW, IOCTL_SANCTUM_ECHO, 4, 4, 0 },
        /* Protocol 3: SUBSCRIBE needs both; DISCONNECT write access (RW would disconnect). */
        { GENERIC_READ, IOCTL_SANCTUM_SUBSCRIBE, 12, 0, ERROR_ACCESS_DENIED },
        { GENERIC_WRITE, IOCTL_SANCTUM_SUBSCRIBE, 12, 0, ERROR_ACCESS_DENIED },
        { GENERIC_READ, IOCTL_SANCTUM_DISCONNECT, 0, 0, ERROR_ACCESS_DENIED },
    };
    DWORD i, error, returned, done;
    char byte = 'x';
    HANDLE h;

    for (i = 0; i < ARRAYSIZE(rules); i++) {
        h = device_open(rules[i].access);
        if (!ok(h != INVALID_HANDLE_VALUE, "open access 0x%lx: error %lu\n", rules[i].access,
                GetLastError()))
            continue;
        memset(in_buf, 1, rules[i].in_len);
        error = device_ioctl(h, rules[i].code, rules[i].in_len ? in_buf : NULL, rules[i].in_len,
                             out_buf, rules[i].out_len, &returned);
        ok(error == rules[i].error, "access 0x%lx code 0x%lx: error %lu, expected %lu\n",
           rules[i].access, rules[i].code, error, rules[i].error);
        CloseHandle(h);
    }

    /* Reading needs read access, writing needs write access. */
    h = device_open(GENERIC_READ);
    if (ok(h != INVALID_HANDLE_VALUE, "open read-only: error %lu\n", GetLastError())) {
        ok(!WriteFile(h, &byte, 1, &done, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
           "write on a read-only handle: error %lu\n", GetLastError());
        CloseHandle(h);
    }
    h = device_open(GENERIC_WRITE);
    if (ok(h != INVALID_HANDLE_VALUE, "open write-only: error %lu\n", GetLastError())) {
        ok(!ReadFile(h, out_buf, 16, &done, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
           "read on a write-only handle: error %lu\n", GetLastError());
        CloseHandle(h);
    }

    /*
     * A name below the device means nothing to the driver: it refuses the open, and counts the
     * refusal as a failure. Wine 8's object manager refuses such a name itself, before the
     * driver sees a CREATE (the open fails the same way with the driver's check taken out), so
     * under Wine only the outcome is shown; the host harness (test_hardening.c) and Windows show
     * the driver's own refusal.
     */
    SANCTUM_STATS before, after;
    HANDLE probe = device_open(GENERIC_READ);
    BOOL counted = probe != INVALID_HANDLE_VALUE && device_stats(probe, &before);
    h = CreateFileW(SANCTUM_USER_DEVICE_PATH L"\\x", RW, 0, NULL, OPEN_EXISTING, 0, NULL);
    error = GetLastError();
    ok(h == INVALID_HANDLE_VALUE && error == ERROR_FILE_NOT_FOUND,
       "an open below the device: error %lu, expected 2\n", error);
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    counted = counted && device_stats(probe, &after);
    ok(counted, "stats around the open below the device: error %lu\n", GetLastError());
    if (counted && after.Failures == before.Failures + 1)
        ok(after.OpenHandles == before.OpenHandles, "the refused open left a handle: %lu, was %lu\n",
           (unsigned long)after.OpenHandles, (unsigned long)before.OpenHandles);
    else if (counted && wine_version() && after.Failures == before.Failures)
        skip("the driver's own refusal of a name below the device: Wine %s refuses the name "
             "before any CREATE reaches the driver (host harness: test_hardening.c)\n",
             wine_version());
    else if (counted)
        ok(0, "the open below the device did not reach the driver as one failure: failures "
              "%llu, were %llu\n", (unsigned long long)after.Failures,
           (unsigned long long)before.Failures);
    if (probe != INVALID_HANDLE_VALUE)
        CloseHandle(probe);
}

static DWORD write_msg(HANDLE h, const void *data, DWORD len, DWORD *done)
{
    *done = 0;
    return WriteFile(h, data, len, done, NULL) ? 0 : GetLastError();
}

static DWORD read_msg(HANDLE h, void *buf, DWORD len, DWORD *done)
{
    *done = 0;
    return ReadFile(h, buf, len, done, NULL) ? 0 : GetLastError();
}

static void test_queue(void)
{
    static const char *const texts[] = { "one", "two", "three", "four and more" };
    char msg[32];
    DWORD i, error, done;
    HANDLE a, b;

    a = device_open(RW);
    b = device_open(RW);
    if (!ok(a != INVALID_HANDLE_VALUE && b != INVALID_HANDLE_VALUE, "open: error %lu\n",
            GetLastError()))
        goto out;

    error = read_msg(a, out_buf, SANCTUM_MAX_MESSAGE, &done);
    ok(error == 0 && done == 0, "read of an empty queue: error %lu, %lu bytes\n", error, done);
    error = write_msg(a, in_buf, 0, &done);
    ok(error == ERROR_INVALID_PARAMETER && done == 0, "write 0: error %lu, %lu bytes\n", error,
       done);
    error = write_msg(a, in_buf, SANCTUM_MAX_MESSAGE + 1, &done);
    ok(error == ERROR_INVALID_PARAMETER && done == 0, "write max+1: error %lu\n", error);

    /* FIFO, each message whole. */
    for (i = 0; i < ARRAYSIZE(texts); i++) {
        error = write_msg(a, texts[i], (DWORD)strlen(texts[i]), &done);
        ok(error == 0 && done == strlen(texts[i]), "write '%s': error %lu, %lu bytes\n", texts[i],
           error, done);
    }
    /* The other handle has its own, empty queue. */
    error = read_msg(b, out_buf, SANCTUM_MAX_MESSAGE, &done);
    ok(error == 0 && done == 0, "handle b saw a's message: error %lu, %lu bytes\n", error, done);
    /* Too small a buffer: refused, and the message stays for the next read. */
    error = read_msg(a, out_buf, 2, &done);
    ok(error == ERROR_INSUFFICIENT_BUFFER && done == 0, "short read: error %lu, %lu bytes\n",
       error, done);
    error = read_msg(a, out_buf, 0, &done);
    ok(error == ERROR_INSUFFICIENT_BUFFER && done == 0, "empty-buffer read: error %lu\n", error);
    for (i = 0; i < ARRAYSIZE(texts); i++) {
        memset(msg, 0, sizeof(msg));
        error = read_msg(a, msg, sizeof(msg), &done);
        ok(error == 0 && done == strlen(texts[i]) && memcmp(msg, texts[i], done) == 0,
           "read %lu: error %lu, %lu bytes '%.*s', expected '%s'\n", i, error, done, (int)done,
           msg, texts[i]);
    }
    error = read_msg(a, out_buf, SANCTUM_MAX_MESSAGE, &done);
    ok(error == 0 && done == 0, "queue not empty after reading all: %lu bytes\n", done);

    /* A message of the maximum size goes through whole. */
    for (i = 0; i < SANCTUM_MAX_MESSAGE; i++)
        in_buf[i] = (unsigned char)(i * 13);
    error = write_msg(b, in_buf, SANCTUM_MAX_MESSAGE, &done);
    ok(error == 0 && done == SANCTUM_MAX_MESSAGE, "write max: error %lu, %lu bytes\n", error, done);
    error = read_msg(b, out_buf, SANCTUM_MAX_MESSAGE, &done);
    ok(error == 0 && done == SANCTUM_MAX_MESSAGE && !memcmp(in_buf, out_buf, done),
       "read max: error %lu, %lu bytes\n", error, done);

    /* 64 messages fit; the 65th is refused and nothing of it is kept. */
    for (i = 0; i < SANCTUM_MAX_QUEUED; i++) {
        error = write_msg(a, &i, sizeof(i), &done);
        if (!ok(error == 0, "write %lu of %u: error %lu\n", i + 1, SANCTUM_MAX_QUEUED, error))
            break;
    }
    error = write_msg(a, &i, sizeof(i), &done);
    ok(error == ERROR_BUSY && done == 0, "write 65: error %lu, %lu bytes\n", error, done);
    for (i = 0; i < SANCTUM_MAX_QUEUED; i++) {
        DWORD got = ~0u;

        error = read_msg(a, &got, sizeof(got), &done);
        if (!ok(error == 0 && done == sizeof(got) && got == i, "read %lu: error %lu got %lu\n", i,
                error, got))
            break;
    }
    error = read_msg(a, out_buf, SANCTUM_MAX_MESSAGE, &done);
    ok(error == 0 && done == 0, "the 65th write was stored: %lu bytes\n", done);

out:
    if (a != INVALID_HANDLE_VALUE)
        CloseHandle(a);
    if (b != INVALID_HANDLE_VALUE)
        CloseHandle(b);
}

/* Every counter moves by exactly what a known sequence of requests implies. */
static void expect_delta(const char *what, const SANCTUM_STATS *a, const SANCTUM_STATS *b,
                         const SANCTUM_STATS *d)
{
#define DELTA(f)                                                                             \
    ok(b->f - a->f == d->f, "%s: " #f " moved by %lld, expected %lld\n", what,               \
       (long long)(b->f - a->f), (long long)d->f)
    DELTA(OpenHandles);
    DELTA(Creates);
    DELTA(Closes);
    DELTA(Reads);
    DELTA(Writes);
    DELTA(Ioctls);
    DELTA(Failures);
    DELTA(BytesIn);
    DELTA(BytesOut);
    DELTA(PoolAllocations);
    DELTA(PoolBytes);
#undef DELTA
}

static void test_stats_sequence(HANDLE stats)
{
    SANCTUM_STATS s0, s1, d;
    DWORD error, done, returned;
    HANDLE h;

    if (!ok(device_stats(stats, &s0), "GET_STATS failed\n"))
        return;
    h = device_open(RW);
    if (!ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    memset(in_buf, 'e', 10);
    error = device_ioctl(h, IOCTL_SANCTUM_ECHO, in_buf, 10, out_buf, 10, &returned); /* +10 +10 */
    ok(error == 0, "echo: error %lu\n", error);
    error = device_ioctl(h, IOCTL_SANCTUM_ECHO, NULL, 0, out_buf, 10, &returned); /* failure */
    ok(error == ERROR_INVALID_PARAMETER, "echo 0: error %lu\n", error);
    error = write_msg(h, "hello", 5, &done); /* in +5 */
    ok(error == 0, "write: error %lu\n", error);
    error = read_msg(h, out_buf, 64, &done); /* out +5 */
    ok(error == 0 && done == 5, "read: error %lu, %lu bytes\n", error, done);
    error = read_msg(h, out_buf, 64, &done); /* empty */
    ok(error == 0 && done == 0, "read empty: error %lu, %lu bytes\n", error, done);
    error = write_msg(h, in_buf, SANCTUM_MAX_MESSAGE + 1, &done); /* failure */
    ok(error == ERROR_INVALID_PARAMETER, "write max+1: error %lu\n", error);
    error = write_msg(h, "abc", 3, &done); /* in +3, left queued */
    ok(error == 0, "write: error %lu\n", error);
    ok(device_stats(stats, &s1), "GET_STATS failed\n");

    /* While open: the handle's context and one queued message are outstanding. */
    memset(&d, 0, sizeof(d));
    d.OpenHandles = 1, d.Creates = 1, d.Reads = 2, d.Writes = 3, d.Failures = 2;
    d.Ioctls = 2 + 1; /* two echoes, and this GET_STATS */
    d.BytesIn = 10 + 5 + 3;
    d.BytesOut = sizeof(SANCTUM_STATS) + 10 + 5; /* the first GET_STATS's reply, echo, read */
    d.PoolAllocations = 2;
    d.PoolBytes = s1.PoolBytes - s0.PoolBytes;
    expect_delta("with a handle open", &s0, &s1, &d);
    ok(d.PoolBytes > 3, "pool bytes moved by %lld\n", (long long)d.PoolBytes);

    CloseHandle(h); /* cleanup frees the queued message, close the context */
    ok(device_stats(stats, &s1), "GET_STATS failed\n");
    d.OpenHandles = 0, d.Closes = 1, d.Ioctls = 2 + 2, d.BytesOut = 2 * sizeof(SANCTUM_STATS) + 10 + 5;
    d.PoolAllocations = 0, d.PoolBytes = 0;
    expect_delta("after close", &s0, &s1, &d);
}

#define THREADS 4
#define ROUNDS 1000

static DWORD WINAPI mixed_worker(void *arg)
{
    DWORD *errors = arg, i, error = 0, returned, done, seed = 7;
    unsigned char buf[64], back[64];
    HANDLE h = device_open(RW);

    if (h == INVALID_HANDLE_VALUE) {
        *errors = ROUNDS;
        return 0;
    }
    memset(buf, 'm', sizeof(buf));
    for (i = 0; i < ROUNDS; i++) {
        switch (i % 4) {
        case 0:
            error = device_ioctl(h, IOCTL_SANCTUM_ECHO, buf, 32, back, 32, &returned);
            error = error ? error : (returned != 32 || memcmp(buf, back, 32));
            break;
        case 1:
            error = device_ioctl(h, IOCTL_SANCTUM_GET_VERSION, NULL, 0, back, 20, &returned);
            error = error ? error : returned != 20;
            break;
        case 2:
            error = device_ioctl(h, IOCTL_SANCTUM_FILL, &seed, 4, back, 64, &returned);
            error = error ? error : (returned != 64 || back[63] != (unsigned char)(seed + 63));
            break;
        case 3:
            error = write_msg(h, buf, 16, &done);
            error = error ? error : read_msg(h, back, sizeof(back), &done);
            error = error ? error : done != 16;
            break;
        }
        if (error)
            (*errors)++;
    }
    CloseHandle(h);
    return 0;
}

static void test_threads(HANDLE stats)
{
    HANDLE threads[THREADS];
    DWORD errors[THREADS] = { 0 };
    SANCTUM_STATS s0, s1, d;
    const LONG64 quarter = THREADS * ROUNDS / 4;
    int i;

    if (!ok(device_stats(stats, &s0), "GET_STATS failed\n"))
        return;
    for (i = 0; i < THREADS; i++)
        threads[i] = CreateThread(NULL, 0, mixed_worker, &errors[i], 0, NULL);
    WaitForMultipleObjects(THREADS, threads, TRUE, INFINITE);
    for (i = 0; i < THREADS; i++) {
        CloseHandle(threads[i]);
        ok(errors[i] == 0, "thread %d: %lu failed operations\n", i, errors[i]);
    }
    ok(device_stats(stats, &s1), "GET_STATS failed\n");

    memset(&d, 0, sizeof(d));
    d.Creates = THREADS, d.Closes = THREADS;
    d.Ioctls = 3 * quarter + 1;
    d.Reads = quarter, d.Writes = quarter;
    d.BytesIn = quarter * (32 + 0 + 4 + 16);
    d.BytesOut = sizeof(SANCTUM_STATS) + quarter * (32 + 20 + 64 + 16);
    expect_delta("4 threads x 1000", &s0, &s1, &d);
}

void test_protocol(void)
{
    HANDLE h, stats;

    in_buf = VirtualAlloc(NULL, SANCTUM_MAX_FILL + 4096, MEM_COMMIT, PAGE_READWRITE);
    out_buf = VirtualAlloc(NULL, SANCTUM_MAX_FILL + 4096, MEM_COMMIT, PAGE_READWRITE);
    if (!ok(in_buf && out_buf, "VirtualAlloc: error %lu\n", GetLastError()))
        return;

    h = device_open(RW);
    stats = device_open(GENERIC_READ);
    if (ok(h != INVALID_HANDLE_VALUE && stats != INVALID_HANDLE_VALUE, "open: error %lu\n",
           GetLastError())) {
        test_ioctl_table(h);
        test_access();
        test_queue();
        test_stats_sequence(stats);
        test_threads(stats);
    }
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (stats != INVALID_HANDLE_VALUE)
        CloseHandle(stats);
    VirtualFree(in_buf, 0, MEM_RELEASE);
    VirtualFree(out_buf, 0, MEM_RELEASE);
}
