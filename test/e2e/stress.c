/* SPDX-License-Identifier: MIT */
/*
 * Stress under Wine: many load/unload cycles, many threads on many handles, and a user-mode
 * fuzzer of DeviceIoControl/ReadFile/WriteFile. SANCTUM_FUZZ_SEED=N replays a fuzz run.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define RW (GENERIC_READ | GENERIC_WRITE)
#define NOTHING_LEAKED "pool outstanding: 0 allocations, 0 bytes"
#define CYCLES 50
#define THREADS 8
#define OPS 5000
#define FUZZ_CALLS 100000
#define FUZZ_BUFFER (SANCTUM_MAX_FILL + SANCTUM_MAX_FILL / 2) /* past every limit */

static SC_HANDLE scm, service;

/* Why the last start failed, taken when it failed (a later call may change the last error). */
static char start_failure[96];

static BOOL driver_start(void)
{
    SERVICE_STATUS status;

    if (!StartServiceW(service, 0, NULL)) {
        snprintf(start_failure, sizeof(start_failure), "StartService: error %lu", GetLastError());
        return FALSE;
    }
    if (!service_wait(service, SERVICE_RUNNING, 5000)) {
        status.dwCurrentState = 0;
        QueryServiceStatus(service, &status);
        snprintf(start_failure, sizeof(start_failure), "not running after 5 s (state %lu)",
                 status.dwCurrentState);
        return FALSE;
    }
    return TRUE;
}

static BOOL driver_stop(void)
{
    SERVICE_STATUS status;

    return ControlService(service, SERVICE_CONTROL_STOP, &status) && service_wait(service, SERVICE_STOPPED, 5000);
}

static BOOL version_answers(void)
{
    SANCTUM_VERSION v;
    DWORD returned, error;
    HANDLE h = device_open(0);

    if (h == INVALID_HANDLE_VALUE)
        return FALSE;
    error = device_ioctl(h, IOCTL_SANCTUM_GET_VERSION, NULL, 0, &v, sizeof(v), &returned);
    CloseHandle(h);
    return error == 0 && returned == sizeof(v) && v.Protocol == SANCTUM_PROTOCOL_VERSION;
}

/* Every start succeeds and every unload reports nothing outstanding. */
static void test_cycles(void)
{
    int i, clean = log_count(NOTHING_LEAKED), started = 0, answered = 0, stopped = 0;
    DWORD done;
    HANDLE h;

    for (i = 0; i < CYCLES; i++) {
        if (!driver_start())
            break;
        started++;
        answered += version_answers();
        /* Leave work behind on every other cycle: unload must free it. */
        h = device_open(RW);
        if (h != INVALID_HANDLE_VALUE && i % 2)
            WriteFile(h, "left queued", 11, &done, NULL);
        if (h != INVALID_HANDLE_VALUE && i % 2 == 0)
            CloseHandle(h), h = INVALID_HANDLE_VALUE;
        stopped += driver_stop();
        if (h != INVALID_HANDLE_VALUE)
            CloseHandle(h);
    }
    ok(started == CYCLES, "%d of %d starts succeeded (%s)\n", started, CYCLES, start_failure);
    ok(answered == started, "the driver answered in %d of %d cycles\n", answered, started);
    ok(stopped == started, "%d of %d stops succeeded\n", stopped, started);
    ok(log_wait_more(NOTHING_LEAKED, clean + CYCLES - 1) &&
           log_count(NOTHING_LEAKED) == clean + CYCLES,
       "%d of %d unloads reported nothing outstanding\n", log_count(NOTHING_LEAKED) - clean, CYCLES);
    printf("stress: %d start/stop cycles\n", started);
}

typedef struct {
    HANDLE handles[3];
    LONG64 ioctls, reads, writes, bytes_in, bytes_out, failures;
    DWORD errors;
} worker;

/* One of each thread's handles gets each operation in turn; every result is checked. */
static DWORD WINAPI stress_worker(void *arg)
{
    worker *w = arg;
    unsigned char buf[256], back[256];
    DWORD i, error, returned, done, seed;
    HANDLE h;

    for (i = 0; i < OPS; i++) {
        /* Six operations in a row on one handle, so that its writes are read back. */
        h = w->handles[(i / 6) % 3];
        seed = i;
        memset(buf, (int)i, sizeof(buf));
        switch (i % 6) {
        case 0:
            error = device_ioctl(h, IOCTL_SANCTUM_ECHO, buf, 1 + i % 200, back, sizeof(back),
                                 &returned);
            w->errors += error || returned != 1 + i % 200 || memcmp(buf, back, returned);
            w->ioctls++, w->bytes_in += 1 + i % 200, w->bytes_out += 1 + i % 200;
            break;
        case 1:
            error = device_ioctl(h, IOCTL_SANCTUM_FILL, &seed, 4, back, 1 + i % 256, &returned);
            w->errors += error || returned != 1 + i % 256 || back[0] != (unsigned char)seed;
            w->ioctls++, w->bytes_in += 4, w->bytes_out += 1 + i % 256;
            break;
        case 2:
            error = WriteFile(h, buf, 1 + i % 100, &done, NULL) ? 0 : GetLastError();
            w->errors += error || done != 1 + i % 100;
            w->writes++, w->bytes_in += 1 + i % 100;
            break;
        case 3:
            error = ReadFile(h, back, sizeof(back), &done, NULL) ? 0 : GetLastError();
            w->errors += error != 0;
            w->reads++, w->bytes_out += done;
            break;
        case 4:
            error = device_ioctl(h, IOCTL_SANCTUM_GET_VERSION, NULL, 0, back, 20, &returned);
            w->errors += error || returned != 20;
            w->ioctls++, w->bytes_out += 20;
            break;
        case 5: /* a rule broken on purpose: counted as a failure */
            error = device_ioctl(h, IOCTL_SANCTUM_ECHO, buf, 16, back, 8, &returned);
            w->errors += error != ERROR_INSUFFICIENT_BUFFER;
            w->ioctls++, w->failures++;
            break;
        }
    }
    return 0;
}

static void test_threads(void)
{
    static worker workers[THREADS];
    HANDLE threads[THREADS], stats;
    SANCTUM_STATS s0, s1;
    LONG64 ioctls = 0, reads = 0, writes = 0, in = 0, out = 0, failures = 0;
    DWORD errors = 0;
    int i, j;

    stats = device_open(GENERIC_READ);
    if (!ok(stats != INVALID_HANDLE_VALUE && device_stats(stats, &s0), "stats: error %lu\n",
            GetLastError()))
        return;
    for (i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof(workers[i]));
        for (j = 0; j < 3; j++)
            workers[i].handles[j] = device_open(RW);
    }
    for (i = 0; i < THREADS; i++)
        threads[i] = CreateThread(NULL, 0, stress_worker, &workers[i], 0, NULL);
    WaitForMultipleObjects(THREADS, threads, TRUE, INFINITE);
    for (i = 0; i < THREADS; i++) {
        CloseHandle(threads[i]);
        /* Drain what the threads left queued so the final read counts are known. */
        for (j = 0; j < 3; j++) {
            unsigned char back[256];
            DWORD done;

            while (ReadFile(workers[i].handles[j], back, sizeof(back), &done, NULL) && done) {
                workers[i].reads++;
                workers[i].bytes_out += done;
            }
            workers[i].reads++; /* the read that found the queue empty */
            CloseHandle(workers[i].handles[j]);
        }
        ioctls += workers[i].ioctls, reads += workers[i].reads, writes += workers[i].writes;
        in += workers[i].bytes_in, out += workers[i].bytes_out, failures += workers[i].failures;
        errors += workers[i].errors;
    }
    ok(errors == 0, "%lu operations gave a wrong result\n", errors);
    ok(device_stats(stats, &s1), "stats: error %lu\n", GetLastError());
    ok(s1.Ioctls - s0.Ioctls == (ULONG64)ioctls + 1, "ioctls moved by %llu, expected %lld\n",
       s1.Ioctls - s0.Ioctls, ioctls + 1);
    ok(s1.Reads - s0.Reads == (ULONG64)reads, "reads moved by %llu, expected %lld\n",
       s1.Reads - s0.Reads, reads);
    ok(s1.Writes - s0.Writes == (ULONG64)writes, "writes moved by %llu, expected %lld\n",
       s1.Writes - s0.Writes, writes);
    ok(s1.Failures - s0.Failures == (ULONG64)failures, "failures moved by %llu, expected %lld\n",
       s1.Failures - s0.Failures, failures);
    ok(s1.BytesIn - s0.BytesIn == (ULONG64)in, "bytes in moved by %llu, expected %lld\n",
       s1.BytesIn - s0.BytesIn, in);
    ok(s1.BytesOut - s0.BytesOut == (ULONG64)out + sizeof(s0),
       "bytes out moved by %llu, expected %lld\n", s1.BytesOut - s0.BytesOut, out + (long long)sizeof(SANCTUM_STATS));
    ok(s1.Creates - s0.Creates == THREADS * 3 && s1.Closes - s0.Closes == THREADS * 3,
       "creates %llu closes %llu\n", s1.Creates - s0.Creates, s1.Closes - s0.Closes);
    ok(s1.OpenHandles == s0.OpenHandles && s1.PoolAllocations == s0.PoolAllocations &&
           s1.PoolBytes == s0.PoolBytes,
       "left behind: %lu handles, %llu allocations, %llu bytes\n", s1.OpenHandles - s0.OpenHandles,
       s1.PoolAllocations - s0.PoolAllocations, s1.PoolBytes - s0.PoolBytes);
    CloseHandle(stats);
    printf("stress: %d threads x %d operations on %d handles\n", THREADS, OPS, THREADS * 3);
}

/* xorshift64*: small, fast and the same on every platform, so a seed replays exactly. */
static ULONG64 rng_state;
static ULONG64 rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/*
 * Mostly small lengths, often a boundary of the protocol, rarely an absurd one: Wine copies
 * every buffer through its server, so megabyte calls cost milliseconds each.
 */
static DWORD fuzz_length(void)
{
    static const DWORD edges[] = { 0, 1, 3, 4, 5, 19, 20, 21, 87, 88, 89, 4096,
                                   SANCTUM_MAX_ECHO, SANCTUM_MAX_ECHO + 1 };
    static const DWORD huge[] = { SANCTUM_MAX_FILL, SANCTUM_MAX_FILL + 1, FUZZ_BUFFER };
    ULONG64 r = rng() % 2000;

    if (r == 0)
        return huge[rng() % ARRAYSIZE(huge)];
    if (r == 1)
        return (DWORD)(rng() % FUZZ_BUFFER + 1);
    if (r < 400)
        return edges[rng() % ARRAYSIZE(edges)];
    return (DWORD)(rng() % 512);
}

static DWORD fuzz_code(void)
{
    static const DWORD ours[] = { IOCTL_SANCTUM_GET_VERSION, IOCTL_SANCTUM_ECHO,
                                  IOCTL_SANCTUM_GET_STATS, IOCTL_SANCTUM_FILL };
    DWORD type = rng() % 4 ? SANCTUM_DEVICE_TYPE : (DWORD)(rng() & 0xFFFF);
    DWORD function = rng() % 2 ? 0x800 + (DWORD)(rng() % 8) : (DWORD)(rng() & 0xFFF);

    if (rng() % 3 == 0)
        return ours[rng() % ARRAYSIZE(ours)];
    /* Every method, METHOD_NEITHER included: the driver must not touch those pointers. */
    return CTL_CODE(type, function, (DWORD)(rng() % 4), (DWORD)(rng() % 4));
}

static void test_fuzz(void)
{
    unsigned char *in, *out;
    DWORD i, n, len, in_len, done, returned, seed, errors = 0, answered = 0;
    HANDLE handles[4];
    const char *env = getenv("SANCTUM_FUZZ_SEED");
    const char *calls_env = getenv("SANCTUM_FUZZ_CALLS");
    DWORD calls = calls_env ? (DWORD)strtoul(calls_env, NULL, 0) : FUZZ_CALLS;
    DWORD start = GetTickCount();

    seed = env ? (DWORD)strtoul(env, NULL, 0) : GetTickCount() ^ GetCurrentProcessId();
    printf("stress: fuzz seed %lu (replay with SANCTUM_FUZZ_SEED=%lu make check)\n", seed, seed);
    fflush(stdout);
    rng_state = 0x9E3779B97F4A7C15ULL ^ seed;

    in = VirtualAlloc(NULL, FUZZ_BUFFER, MEM_COMMIT, PAGE_READWRITE);
    out = VirtualAlloc(NULL, FUZZ_BUFFER, MEM_COMMIT, PAGE_READWRITE);
    if (!ok(in && out, "VirtualAlloc: error %lu\n", GetLastError()))
        return;
    for (n = 0; n < ARRAYSIZE(handles); n++)
        handles[n] = device_open(n == 0 ? 0 : n == 1 ? GENERIC_READ : RW);

    for (i = 0; i < calls; i++) {
        HANDLE h = handles[rng() % ARRAYSIZE(handles)];

        len = fuzz_length();
        /* Random content in the part of the buffer this call may read. */
        for (n = 0; n < 64 && n < len; n += 8)
            *(ULONG64 *)(in + n) = rng();
        switch (rng() % 8) {
        case 0:
            WriteFile(h, in, len, &done, NULL);
            break;
        case 1:
            ReadFile(h, out, len, &done, NULL);
            break;
        default:
            /*
             * A NULL buffer only with a zero length: anything else is the I/O manager's to
             * refuse (error 998) before the driver sees it, and crashes Wine's user side.
             */
            in_len = fuzz_length();
            DeviceIoControl(h, fuzz_code(), in_len || rng() % 2 ? in : NULL, in_len,
                            len || rng() % 2 ? out : NULL, len, &returned, NULL);
            break;
        }
        /* Now and then, check that the driver still answers correctly. */
        if (i % 10000 == 0) {
            answered++;
            errors += !version_answers();
        }
    }
    ok(errors == 0, "GET_VERSION failed %lu times of %lu during the fuzz run (seed %lu)\n", errors,
       answered, seed);
    ok(version_answers(), "the driver does not answer after the fuzz run (seed %lu)\n", seed);
    for (n = 0; n < ARRAYSIZE(handles); n++)
        if (handles[n] != INVALID_HANDLE_VALUE)
            CloseHandle(handles[n]);
    VirtualFree(in, 0, MEM_RELEASE);
    VirtualFree(out, 0, MEM_RELEASE);
    printf("stress: %lu fuzzed calls in %lu ms\n", calls, GetTickCount() - start);
}

void run_stress(const wchar_t *driver_path)
{
    int clean;

    service_remove_quietly(L"SanctumStress");
    scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    service = scm ? CreateServiceW(scm, L"SanctumStress", L"Sanctum stress", SERVICE_ALL_ACCESS,
                                   SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL,
                                   driver_path, NULL, NULL, NULL, NULL, NULL)
                  : NULL;
    if (!ok(service != NULL, "cannot create the service: error %lu\n", GetLastError()))
        goto out;

    test_cycles();
    if (ok(driver_start(), "start: %s\n", start_failure)) {
        test_threads();
        test_fuzz();
        clean = log_count(NOTHING_LEAKED);
        ok(driver_stop(), "stop: error %lu\n", GetLastError());
        ok(log_wait_more(NOTHING_LEAKED, clean), "the unload after the fuzz run leaked\n");
    }
    DeleteService(service);
out:
    if (service)
        CloseServiceHandle(service);
    if (scm)
        CloseServiceHandle(scm);
}
