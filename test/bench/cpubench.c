/* SPDX-License-Identifier: MIT */
/*
 * CPU per request in the driver, for `make bench`: the driver's own sources and the host
 * shim, built for Linux without sanitizers, run under `valgrind --tool=callgrind`. Each
 * scenario runs once to warm up, then its measured repetitions, then dumps callgrind's
 * counters with a label that run.sh parses. Collection is on only inside the toggled
 * functions (run.sh passes --toggle-collect): the driver's dispatch routines (the IRP path),
 * the bench_direct_* wrappers of the IRP-free handlers, the bench_floor_* functions, and the
 * driver's thread callback (SanctumOnThread, fired through the shim as ntoskrnl fires it).
 * Outside valgrind the macros do nothing and the program only checks every reply.
 * Usage: cpubench callgrind REPS   (under valgrind; prints only "cpubench: ok" or failures)
 *        cpubench time SAMPLES     (native; "time<TAB>scenario<TAB>mode<TAB>ns per request")
 */
#include "shim.h"
#include "sanctum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

#define RW (FILE_READ_DATA | FILE_WRITE_DATA)
#define NOINLINE __attribute__((noinline))
#define MAX_BYTES (1u << 20)

DRIVER_INITIALIZE DriverEntry;

static UCHAR *in, *out;
static SHIM_FILE *file, *events_file;
static SANCTUM_STATE direct_state;
static PSANCTUM_HANDLE direct_handle;
static int failures;
static int verify = 1; /* off while timing: a check would cost more than some requests */

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "cpubench: FAIL: %s\n", what);
        failures++;
    }
}
/* A reply's check, evaluated only while verifying. */
#define VERIFY(cond, what)          \
    do {                            \
        if (verify)                 \
            check((cond), (what));  \
    } while (0)

/* The IRP-free entry points, each behind one toggled frame. */
NOINLINE NTSTATUS bench_direct_ioctl(ULONG code, ULONG in_len, ULONG out_len, ULONG_PTR *info)
{
    SANCTUM_REQUEST request = { &direct_state, direct_handle, NULL, SHIM_DEFAULT_PROCESS, in,
                                in_len, { out, NULL, out_len } };

    return SanctumDeviceControl(&request, code, info);
}

NOINLINE NTSTATUS bench_direct_write_read(ULONG len, ULONG_PTR *info)
{
    SANCTUM_BUFFER data = { in, NULL, len }, back = { out, NULL, len };
    NTSTATUS status = SanctumWrite(&direct_state, direct_handle, &data, info);

    return NT_SUCCESS(status) ? SanctumRead(&direct_state, direct_handle, &back, info) : status;
}

/* The floors: what moving the same bytes costs with nothing else around it. */
NOINLINE void bench_floor_copy(ULONG len)
{
    memcpy(out, in, len);
}

NOINLINE void bench_floor_copy_twice(ULONG len)
{
    memcpy(out + MAX_BYTES, in, len); /* into the queue */
    memcpy(out, out + MAX_BYTES, len); /* out of it */
}

NOINLINE void bench_floor_set(ULONG len)
{
    memset(out, in[0], len);
}

NOINLINE void bench_floor_none(ULONG len)
{
    (void)len;
}

typedef enum { GET_VERSION, ECHO, FILL, WRITE_READ } KIND;
typedef enum { MODE_IRP, MODE_DIRECT, MODE_FLOOR } BENCH_MODE;
static const char *const mode_names[] = { "irp", "handler", "floor" };

static void run_once(KIND kind, BENCH_MODE mode, ULONG len)
{
    ULONG_PTR info = 0;
    NTSTATUS status = STATUS_SUCCESS;
    ULONG seed = 0x5A;

    switch (kind) {
    case GET_VERSION:
        if (mode == MODE_IRP)
            status = shim_ioctl(file, IOCTL_SANCTUM_GET_VERSION, NULL, 0, out, len, &info);
        else if (mode == MODE_DIRECT)
            status = bench_direct_ioctl(IOCTL_SANCTUM_GET_VERSION, 0, len, &info);
        else
            bench_floor_none(len), info = len;
        VERIFY(status == STATUS_SUCCESS && info == len, "GET_VERSION");
        break;
    case ECHO:
        if (mode == MODE_IRP)
            status = shim_ioctl(file, IOCTL_SANCTUM_ECHO, in, len, out, len, &info);
        else if (mode == MODE_DIRECT)
            status = bench_direct_ioctl(IOCTL_SANCTUM_ECHO, len, len, &info);
        else
            bench_floor_copy(len), info = len;
        VERIFY(status == STATUS_SUCCESS && info == len && !memcmp(in, out, len), "ECHO");
        break;
    case FILL:
        memcpy(in, &seed, sizeof(seed));
        if (mode == MODE_IRP)
            status = shim_ioctl(file, IOCTL_SANCTUM_FILL, in, sizeof(seed), out, len, &info);
        else if (mode == MODE_DIRECT)
            status = bench_direct_ioctl(IOCTL_SANCTUM_FILL, sizeof(seed), len, &info);
        else
            bench_floor_set(len), info = len;
        VERIFY(status == STATUS_SUCCESS && info == len, "FILL");
        if (mode != MODE_FLOOR)
            VERIFY(out[0] == (UCHAR)seed && out[len - 1] == (UCHAR)(seed + len - 1) &&
                      out[len / 2] == (UCHAR)(seed + len / 2),
                  "FILL pattern");
        break;
    case WRITE_READ:
        if (mode == MODE_IRP) {
            status = shim_write(file, in, len, &info);
            if (NT_SUCCESS(status))
                status = shim_read(file, out, len, &info);
        } else if (mode == MODE_DIRECT) {
            status = bench_direct_write_read(len, &info);
        } else {
            bench_floor_copy_twice(len), info = len;
        }
        VERIFY(status == STATUS_SUCCESS && info == len && !memcmp(in, out, len), "WRITE+READ");
        break;
    }
}

/* callgrind: warm-up, the measured repetitions, then a dump labelled for run.sh. */
static void count_scenario(const char *name, KIND kind, ULONG len, ULONG reps)
{
    char label[128];
    BENCH_MODE mode;
    ULONG i;

    for (mode = MODE_IRP; mode <= MODE_FLOOR; mode++) {
        run_once(kind, mode, len); /* warm-up: lazy binding, first allocations */
        CALLGRIND_ZERO_STATS;
        for (i = 0; i < reps; i++)
            run_once(kind, mode, len);
        snprintf(label, sizeof(label), "bench scenario=%s mode=%s reps=%lu bytes=%lu", name,
                 mode_names[mode], (unsigned long)reps, (unsigned long)len);
        CALLGRIND_DUMP_STATS_AT(label);
    }
}

/*
 * The thread callback, from its entry to its return, one subscriber: nobody subscribed (the
 * fast path), the record queued, and the record queued then handed to a pending GET_EVENTS,
 * which completes. The requests for the last one are sent before the counters are zeroed, so
 * that only the callbacks are counted (at most SANCTUM_MAX_PENDING_PER_HANDLE).
 */
typedef enum { EVENT_NONE, EVENT_QUEUED, EVENT_PENDING } EVENT_KIND;
#define THREAD_RECORD (sizeof(SANCTUM_EVENT_HEADER) + sizeof(SANCTUM_THREAD))
#define BATCH SANCTUM_MAX_EVENT_SIZE

static ULONG64 thread_id;

static void fire_thread(void)
{
    ULONG called = shim_notify_thread((HANDLE)(ULONG_PTR)4, (HANDLE)(ULONG_PTR)++thread_id, TRUE);

    check(called == 1, "the driver's thread callback is registered");
}

/* The records queued since the last drain, each a whole THREAD record; then none is left. */
static void drain_events(ULONG expected)
{
    const SANCTUM_EVENT_HEADER *h = (const SANCTUM_EVENT_HEADER *)out;
    ULONG_PTR info = 0;
    NTSTATUS status = shim_ioctl(events_file, IOCTL_SANCTUM_GET_EVENTS, NULL, 0, out, BATCH, &info);

    check(status == STATUS_SUCCESS && info == expected * THREAD_RECORD &&
              h->Size == THREAD_RECORD && h->Type == SANCTUM_EVENT_THREAD_CREATE,
          "the queued THREAD records");
}

static void count_events(const char *name, EVENT_KIND kind, ULONG reps)
{
    SHIM_ASYNC *pending[SANCTUM_MAX_PENDING_PER_HANDLE];
    UCHAR *batches = NULL;
    char label[128];
    ULONG i, requests = kind == EVENT_PENDING ? reps + 1 : 0;
    ULONG_PTR info;
    /* The record's bytes that the driver copies: into the queue, or straight to the request. */
    ULONG copied = kind == EVENT_NONE ? 0 : THREAD_RECORD;

    if (requests > SANCTUM_MAX_PENDING_PER_HANDLE) {
        check(0, "REPS + 1 pending GET_EVENTS fit in SANCTUM_MAX_PENDING_PER_HANDLE");
        return;
    }
    if (requests)
        batches = malloc((size_t)requests * BATCH);
    for (i = 0; i < requests && batches; i++) {
        pending[i] = shim_ioctl_async(events_file, IOCTL_SANCTUM_GET_EVENTS, NULL, 0,
                                      batches + (size_t)i * BATCH, BATCH);
        check(shim_async_pended(pending[i]), "GET_EVENTS pends on an empty queue");
    }
    fire_thread(); /* warm-up */
    CALLGRIND_ZERO_STATS;
    for (i = 0; i < reps; i++)
        fire_thread();
    snprintf(label, sizeof(label), "bench scenario=%s mode=callback reps=%lu bytes=%lu", name,
             (unsigned long)reps, (unsigned long)copied);
    CALLGRIND_DUMP_STATS_AT(label);
    if (kind == EVENT_QUEUED)
        drain_events(reps + 1);
    for (i = 0; i < requests && batches; i++) {
        const SANCTUM_EVENT_HEADER *h = (const SANCTUM_EVENT_HEADER *)(batches + (size_t)i * BATCH);

        check(shim_async_done(pending[i]) &&
                  shim_async_status(pending[i], &info) == STATUS_SUCCESS &&
                  info == THREAD_RECORD && h->Size == THREAD_RECORD,
              "each callback completes a pending GET_EVENTS with its record");
        shim_async_free(pending[i]);
    }
    free(batches);
}

static void count_event_scenarios(ULONG reps)
{
    SANCTUM_SUBSCRIBE subscribe = { sizeof(subscribe),
                                    SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_CREATE) |
                                        SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_EXIT),
                                    0 };
    ULONG_PTR info;

    count_events("event_unsubscribed", EVENT_NONE, reps);
    check(shim_ioctl(events_file, IOCTL_SANCTUM_SUBSCRIBE, &subscribe, sizeof(subscribe), NULL, 0,
                     &info) == STATUS_SUCCESS,
          "SUBSCRIBE");
    count_events("event_queued", EVENT_QUEUED, reps);
    count_events("event_completes", EVENT_PENDING, reps);
}

static double now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Native time per request: the median of SAMPLES runs of about a millisecond each. */
static void time_scenario(const char *name, KIND kind, ULONG len, ULONG samples)
{
    ULONG iterations = len >= (1u << 20) ? 4 : len >= 65536 ? 64 : 2000, s, i;
    double *ns = calloc(samples, sizeof(double)), start;
    BENCH_MODE mode;

    for (mode = MODE_IRP; ns && mode <= MODE_FLOOR; mode++) {
        run_once(kind, mode, len); /* checked, and a warm-up */
        verify = 0;
        for (s = 0; s < samples; s++) {
            start = now_ns();
            for (i = 0; i < iterations; i++)
                run_once(kind, mode, len);
            ns[s] = (now_ns() - start) / iterations;
        }
        verify = 1;
        qsort(ns, samples, sizeof(double), compare_doubles);
        printf("time\t%s\t%s\t%.1f\n", name, mode_names[mode], ns[samples / 2]);
    }
    free(ns);
}

static void scenario(const char *name, KIND kind, ULONG len, int timing, ULONG n)
{
    if (timing)
        time_scenario(name, kind, len, n);
    else
        count_scenario(name, kind, len, n);
}

int main(int argc, char **argv)
{
    PDRIVER_OBJECT driver = NULL;
    int timing = argc == 3 && !strcmp(argv[1], "time");
    ULONG n = argc == 3 ? (ULONG)strtoul(argv[2], NULL, 0) : 0, i;
    NTSTATUS status;

    if ((!timing && (argc != 3 || strcmp(argv[1], "callgrind"))) || n == 0) {
        fprintf(stderr, "usage: cpubench callgrind REPS | cpubench time SAMPLES\n");
        return 2;
    }
    in = malloc(MAX_BYTES);
    out = malloc(2 * MAX_BYTES);
    if (!in || !out)
        return 2;
    for (i = 0; i < MAX_BYTES; i++)
        in[i] = (UCHAR)(i * 7 + 3);

    status = shim_load_driver(DriverEntry, &driver);
    check(NT_SUCCESS(status), "DriverEntry");
    if (NT_SUCCESS(status))
        status = shim_create(SANCTUM_DOS_DEVICE_NAME, RW, SHIM_CALLER_ADMIN, &file);
    check(NT_SUCCESS(status), "open");
    if (NT_SUCCESS(status))
        status = shim_create(SANCTUM_DOS_DEVICE_NAME, RW, SHIM_CALLER_ADMIN, &events_file);
    check(NT_SUCCESS(status), "open for events");
    SanctumStateInit(&direct_state);
    check(NT_SUCCESS(SanctumOpen(&direct_state, &direct_handle)), "SanctumOpen");
    if (failures)
        return 1;

    scenario("get_version", GET_VERSION, sizeof(SANCTUM_VERSION), timing, n);
    scenario("echo_64", ECHO, 64, timing, n);
    scenario("echo_64k", ECHO, 64 * 1024, timing, n);
    scenario("fill_64k", FILL, 64 * 1024, timing, n);
    scenario("fill_1m", FILL, 1024 * 1024, timing, n);
    scenario("write_read_4k", WRITE_READ, 4 * 1024, timing, n);
    if (!timing)
        count_event_scenarios(n);

    SanctumCleanup(&direct_state, direct_handle);
    SanctumClose(&direct_state, direct_handle);
    shim_close(events_file);
    shim_close(file);
    shim_unload_driver(driver);
    check(shim_ledger_empty(), "the shim's ledger is empty after unload");
    free(in);
    free(out);
    printf("cpubench: %s\n", failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}
