/* SPDX-License-Identifier: MIT */
/* Four threads on one device state: each result checked, then every counter exact. */
#define _POSIX_C_SOURCE 200809L
#include "unit.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>

#define THREADS 4
#define OPS 1000

typedef struct {
    PSANCTUM_STATE St;
    ULONG Id;
    SANCTUM_STATS Expected; /* this thread's share of every counter, from its plan */
    ULONG Errors;
    char First[256];
} WORKER;

static int go;

/* A thread keeps its first error; thousands of FAIL lines from a race would bury it. */
static void worker_fail(WORKER *w, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void worker_fail(WORKER *w, int line, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (w->Errors++)
        return;
    n = snprintf(w->First, sizeof(w->First), "line %d: ", line);
    va_start(ap, fmt);
    vsnprintf(w->First + n, sizeof(w->First) - (size_t)n, fmt, ap);
    va_end(ap);
}

#define check(w, cond, ...)                              \
    do {                                                 \
        if (!(cond))                                     \
            worker_fail((w), __LINE__, __VA_ARGS__);     \
    } while (0)

static ULONG message_length(const WORKER *w, ULONG i, ULONG k)
{
    return 1 + (i * 13 + k * 5 + w->Id) % 300;
}

static ULONG message_seed(const WORKER *w, ULONG i, ULONG k)
{
    return w->Id * 1000000 + i * 4 + k;
}

static void *worker(void *arg)
{
    WORKER *w = arg;
    PSANCTUM_STATE st = w->St;
    SANCTUM_STATS *e = &w->Expected, s;
    PSANCTUM_HANDLE h = NULL, tmp = NULL;
    UCHAR in[512], out[512];
    ULONG64 last_ioctls = 0;
    ULONG_PTR info;
    NTSTATUS status;
    ULONG i, k, n, len, seed, j;

    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
        sched_yield();
    status = SanctumOpen(st, &h);
    check(w, status == STATUS_SUCCESS && h, "open: 0x%08x\n", ST(status));
    if (!h)
        return NULL;
    e->Creates++;

    for (i = 0; i < OPS; i++) {
        switch (i % 5) {
        case 0: /* ECHO; every tenth one has no input and fails */
            len = i % 50 == 0 ? 0 : 1 + (i * 7 + w->Id) % 256;
            pattern(in, len, message_seed(w, i, 0));
            status = dc(st, IOCTL_SANCTUM_ECHO, in, len, out, sizeof(out), &info);
            e->Ioctls++;
            if (len == 0) {
                check(w, status == STATUS_INVALID_PARAMETER && info == 0,
                      "op %u: ECHO 0 got 0x%08x, %llu\n", i, ST(status), U64(info));
                e->Failures++;
            } else {
                check(w, status == STATUS_SUCCESS && info == len && !memcmp(out, in, len),
                      "op %u: ECHO %u got 0x%08x, %llu\n", i, len, ST(status), U64(info));
                e->BytesIn += len;
                e->BytesOut += len;
            }
            break;
        case 1: /* GET_STATS: the counters only grow, and include this call */
            memset(&s, 0, sizeof(s));
            status = dc(st, IOCTL_SANCTUM_GET_STATS, NULL, 0, &s, sizeof(s), &info);
            e->Ioctls++;
            e->BytesOut += sizeof(s);
            check(w, status == STATUS_SUCCESS && info == sizeof(s) && s.Size == sizeof(s),
                  "op %u: GET_STATS got 0x%08x, %llu, Size %u\n", i, ST(status), U64(info),
                  s.Size);
            check(w, s.Ioctls > last_ioctls && s.Ioctls >= e->Ioctls && s.OpenHandles >= 1,
                  "op %u: Ioctls %llu after %llu (own %llu), %u open\n", i, U64(s.Ioctls),
                  U64(last_ioctls), U64(e->Ioctls), s.OpenHandles);
            last_ioctls = s.Ioctls;
            break;
        case 2: /* 1-3 messages on this thread's handle, read back in order */
            n = 1 + (i / 5) % 3;
            for (k = 0; k < n; k++) {
                len = message_length(w, i, k);
                pattern(in, len, message_seed(w, i, k));
                status = wr(st, h, in, len, &info);
                e->Writes++;
                e->BytesIn += len;
                check(w, status == STATUS_SUCCESS && info == len, "op %u: write got 0x%08x, %llu\n",
                      i, ST(status), U64(info));
            }
            if ((i / 5) % 4 == 0) {
                len = message_length(w, i, 0);
                status = rd(st, h, out, len - 1, &info);
                e->Reads++;
                e->Failures++;
                check(w, status == STATUS_BUFFER_TOO_SMALL && info == 0,
                      "op %u: short read got 0x%08x, %llu\n", i, ST(status), U64(info));
            }
            for (k = 0; k < n; k++) {
                len = message_length(w, i, k);
                pattern(in, len, message_seed(w, i, k));
                status = rd(st, h, out, sizeof(out), &info);
                e->Reads++;
                e->BytesOut += len;
                check(w, status == STATUS_SUCCESS && info == len && !memcmp(out, in, len),
                      "op %u: read %u got 0x%08x, %llu\n", i, k, ST(status), U64(info));
            }
            status = rd(st, h, out, sizeof(out), &info);
            e->Reads++;
            check(w, status == STATUS_SUCCESS && info == 0, "op %u: empty read got 0x%08x, %llu\n",
                  i, ST(status), U64(info));
            break;
        case 3: /* FILL, small */
            len = 1 + (i * 3 + w->Id) % 64;
            seed = i * 2654435761u + w->Id;
            status = dc(st, IOCTL_SANCTUM_FILL, &seed, sizeof(seed), out, len, &info);
            e->Ioctls++;
            e->BytesIn += sizeof(seed);
            e->BytesOut += len;
            check(w, status == STATUS_SUCCESS && info == len, "op %u: FILL got 0x%08x, %llu\n", i,
                  ST(status), U64(info));
            for (j = 0; j < len; j++)
                if (out[j] != (UCHAR)(seed + j)) {
                    check(w, 0, "op %u: FILL byte %u is 0x%02x\n", i, j, out[j]);
                    break;
                }
            break;
        case 4: /* a short-lived handle, closed with a message queued */
            status = SanctumOpen(st, &tmp);
            check(w, status == STATUS_SUCCESS && tmp, "op %u: open got 0x%08x\n", i, ST(status));
            if (!tmp)
                break;
            e->Creates++;
            status = wr(st, tmp, in, 8, &info);
            e->Writes++;
            e->BytesIn += 8;
            check(w, status == STATUS_SUCCESS && info == 8, "op %u: write got 0x%08x\n", i,
                  ST(status));
            close_h(st, tmp);
            e->Closes++;
            break;
        }
    }
    close_h(st, h);
    e->Closes++;
    return NULL;
}

void test_concurrency(void)
{
    SANCTUM_STATE st;
    SANCTUM_STATS e, s;
    WORKER w[THREADS];
    pthread_t t[THREADS];
    int started[THREADS], rc;
    ULONG i;

    SanctumStateInit(&st);
    memset(w, 0, sizeof(w));
    __atomic_store_n(&go, 0, __ATOMIC_RELEASE);
    for (i = 0; i < THREADS; i++) {
        w[i].St = &st;
        w[i].Id = i;
        rc = pthread_create(&t[i], NULL, worker, &w[i]);
        started[i] = rc == 0;
        ok(rc == 0, "pthread_create: %d\n", rc);
    }
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    for (i = 0; i < THREADS; i++)
        if (started[i])
            pthread_join(t[i], NULL);

    memset(&e, 0, sizeof(e));
    e.Size = sizeof(e);
    for (i = 0; i < THREADS; i++) {
        ok(w[i].Errors == 0, "thread %u: %u errors, the first: %s", i, w[i].Errors, w[i].First);
        e.Creates += w[i].Expected.Creates;
        e.Closes += w[i].Expected.Closes;
        e.Reads += w[i].Expected.Reads;
        e.Writes += w[i].Expected.Writes;
        e.Ioctls += w[i].Expected.Ioctls;
        e.Failures += w[i].Expected.Failures;
        e.BytesIn += w[i].Expected.BytesIn;
        e.BytesOut += w[i].Expected.BytesOut;
    }
    /* The plan's own arithmetic: a handle each plus one per fifth op; three IOCTLs in five. */
    ok(e.Creates == THREADS * (1 + OPS / 5), "plan: %llu creates\n", U64(e.Creates));
    ok(e.Ioctls == THREADS * 3 * (OPS / 5), "plan: %llu ioctls\n", U64(e.Ioctls));
    s = snap(&st);
    check_stats(&s, &e);
    end_scenario(&st);
}
