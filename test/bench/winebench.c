/* SPDX-License-Identifier: MIT */
/*
 * The Wine half of `make bench`, run as one Wine process (services die with the last Wine
 * process, so install, start, measure, stop and delete all happen in here, like stress.c).
 * For each driver given, it loads that driver and the bench's null driver side by side and
 * measures, alternating between the two sample by sample: GET_VERSION round trips per second,
 * FILL and WRITE+READ throughput at each size, and the latency from a MARK sent on one handle
 * to the completion of the GET_EVENTS pending on another (the null driver completes its
 * pended request from the MARK's dispatch). WRITE and READ carry at most 64 KiB a message,
 * so larger sizes move as a series of 64 KiB write/read pairs. Every reply is checked once
 * before the timed runs, and every MARK record as it arrives. Results go to stdout as
 * tab-separated lines that run.sh parses:
 *   result LABEL TEST BYTES driver|null RATE RATE ...   (calls/s, or bytes/s)
 *   latency LABEL driver|null MICROSECONDS MICROSECONDS ...
 *   checked LABEL FAILURES
 * Usage: winebench SECONDS-PER-SAMPLE SAMPLES LATENCY-SAMPLES (LABEL DRIVER.sys NULL.sys)...
 */
#include "harness.h" /* test/e2e: the service helpers */

#include <stdlib.h>
#include <string.h>

#define NULL_DEVICE_PATH L"\\\\.\\SanctumBenchNull"
#define CHUNK SANCTUM_MAX_MESSAGE
#define RW (GENERIC_READ | GENERIC_WRITE)

static const DWORD sizes[] = { 4096, 65536, 1u << 20, 16u << 20 };
static UCHAR *in, *out;
static double seconds;
static int latency_samples;
static LARGE_INTEGER frequency;
static int failures;

static void fail(const char *what, DWORD error)
{
    printf("error\t%s (error %lu)\n", what, error);
    fflush(stdout);
    failures++;
}

static double now(void)
{
    LARGE_INTEGER t;

    QueryPerformanceCounter(&t);
    return (double)t.QuadPart / (double)frequency.QuadPart;
}

/* ---- services ---- */

static SC_HANDLE scm;

static SC_HANDLE start_service(const wchar_t *name, const wchar_t *path)
{
    SC_HANDLE service;

    service_remove_quietly(name); /* a leftover of an interrupted run */
    service = CreateServiceW(scm, name, name, SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER,
                             SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, path, NULL, NULL, NULL,
                             NULL, NULL);
    if (!service) {
        fail("CreateService", GetLastError());
        return NULL;
    }
    if (!StartServiceW(service, 0, NULL) || !service_wait(service, SERVICE_RUNNING, 10000)) {
        fail("StartService", GetLastError());
        DeleteService(service);
        CloseServiceHandle(service);
        return NULL;
    }
    return service;
}

static void stop_service(SC_HANDLE service)
{
    SERVICE_STATUS status;

    if (!ControlService(service, SERVICE_CONTROL_STOP, &status) ||
        !service_wait(service, SERVICE_STOPPED, 10000))
        fail("stopping a service", GetLastError());
    DeleteService(service);
    CloseServiceHandle(service);
}

/* ---- the operations ---- */

static BOOL get_version(HANDLE h)
{
    SANCTUM_VERSION v;
    DWORD returned;

    return DeviceIoControl(h, IOCTL_SANCTUM_GET_VERSION, NULL, 0, &v, sizeof(v), &returned,
                           NULL) &&
           returned == sizeof(v);
}

static BOOL fill(HANDLE h, DWORD bytes)
{
    ULONG seed = 0x5A;
    DWORD returned;

    return DeviceIoControl(h, IOCTL_SANCTUM_FILL, &seed, sizeof(seed), out, bytes, &returned,
                           NULL) &&
           returned == bytes;
}

/* One message of at most 64 KiB at a time: written, then read back. */
static BOOL write_read(HANDLE h, DWORD bytes)
{
    DWORD offset, n, done;

    for (offset = 0; offset < bytes; offset += n) {
        n = bytes - offset < CHUNK ? bytes - offset : CHUNK;
        if (!WriteFile(h, in + offset, n, &done, NULL) || done != n)
            return FALSE;
        if (!ReadFile(h, out + offset, n, &done, NULL) || done != n)
            return FALSE;
    }
    return TRUE;
}

typedef enum { GET_VERSION, FILL, WRITE_READ } TEST;
static const char *const test_names[] = { "get_version", "fill", "write_read" };

static BOOL run(TEST test, HANDLE h, DWORD bytes)
{
    switch (test) {
    case GET_VERSION:
        return get_version(h);
    case FILL:
        return fill(h, bytes);
    default:
        return write_read(h, bytes);
    }
}

/* Calls per second (GET_VERSION) or bytes per second, over `seconds` of repeated calls. */
static double rate(TEST test, HANDLE h, DWORD bytes)
{
    double start = now(), elapsed;
    unsigned long calls = 0;

    do {
        if (!run(test, h, bytes)) {
            fail(test_names[test], GetLastError());
            return 0;
        }
        calls++;
        elapsed = now() - start;
    } while (elapsed < seconds);
    return test == GET_VERSION ? calls / elapsed : (double)calls * bytes / elapsed;
}

/* Every reply of our driver checked once, before anything is timed. */
static void check_driver(HANDLE h)
{
    SANCTUM_VERSION v;
    DWORD returned, i, j;

    if (!DeviceIoControl(h, IOCTL_SANCTUM_GET_VERSION, NULL, 0, &v, sizeof(v), &returned, NULL) ||
        returned != sizeof(v) || v.Protocol != SANCTUM_PROTOCOL_VERSION)
        fail("GET_VERSION reply", GetLastError());
    for (i = 0; i < ARRAYSIZE(sizes); i++) {
        memset(out, 0, sizes[i]);
        if (!fill(h, sizes[i]))
            fail("FILL", GetLastError());
        for (j = 0; j < sizes[i]; j++)
            if (out[j] != (UCHAR)(0x5A + j)) {
                fail("FILL pattern", j);
                break;
            }
        memset(out, 0, sizes[i]);
        if (!write_read(h, sizes[i]) || memcmp(in, out, sizes[i]))
            fail("WRITE+READ contents", GetLastError());
    }
}

static void report(const char *label, TEST test, DWORD bytes, const char *who, const double *rates,
                   int samples)
{
    int s;

    printf("result\t%s\t%s\t%lu\t%s", label, test_names[test], bytes, who);
    for (s = 0; s < samples; s++)
        printf("\t%.1f", rates[s]);
    printf("\n");
    fflush(stdout);
}

static void measure(const char *label, HANDLE driver, HANDLE null, int samples)
{
    double *d = calloc(samples, sizeof(double)), *n = calloc(samples, sizeof(double));
    DWORD i;
    int s;
    TEST test;

    for (test = GET_VERSION; test <= WRITE_READ; test++) {
        for (i = 0; i < (test == GET_VERSION ? 1 : ARRAYSIZE(sizes)); i++) {
            DWORD bytes = test == GET_VERSION ? sizeof(SANCTUM_VERSION) : sizes[i];

            /* Alternating, so that a slow moment of the machine hits both alike. */
            run(test, driver, bytes), run(test, null, bytes);
            for (s = 0; s < samples; s++) {
                d[s] = rate(test, driver, bytes);
                n[s] = rate(test, null, bytes);
            }
            report(label, test, bytes, "driver", d, samples);
            report(label, test, bytes, "null", n, samples);
        }
    }
    free(d);
    free(n);
}

/* ---- mark-to-consumer latency ---- */

/* A MARK of 12 bytes: its record is 56 bytes (a thread record is 40). */
#define MARK_BYTES 12
#define MARK_RECORD ((sizeof(SANCTUM_EVENT_HEADER) + sizeof(SANCTUM_MARK) + MARK_BYTES + 7) & ~7u)
#define WAIT_MS 5000

/* A handle for the pending side: overlapped, so that the MARK can follow the GET_EVENTS. */
typedef struct {
    HANDLE Consumer; /* subscribed to marks; GET_EVENTS pends here */
    HANDLE Marker;   /* the MARKs go here */
    OVERLAPPED Overlapped;
    UCHAR Batch[SANCTUM_MAX_EVENT_SIZE];
} LATENCY;

static BOOL latency_open(LATENCY *l, const wchar_t *path)
{
    SANCTUM_SUBSCRIBE subscribe = { sizeof(subscribe), SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK), 0 };
    OVERLAPPED ov = { 0 };
    DWORD returned;
    BOOL done;

    l->Consumer = CreateFileW(path, RW, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED, NULL);
    l->Marker = CreateFileW(path, RW, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0,
                            NULL);
    l->Overlapped.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (l->Consumer == INVALID_HANDLE_VALUE || l->Marker == INVALID_HANDLE_VALUE ||
        !l->Overlapped.hEvent) {
        fail("opening the latency handles", GetLastError());
        return FALSE;
    }
    ov.hEvent = l->Overlapped.hEvent;
    done = DeviceIoControl(l->Consumer, IOCTL_SANCTUM_SUBSCRIBE, &subscribe, sizeof(subscribe),
                           NULL, 0, &returned, &ov) ||
           (GetLastError() == ERROR_IO_PENDING &&
            GetOverlappedResult(l->Consumer, &ov, &returned, TRUE));
    if (!done)
        fail("SUBSCRIBE", GetLastError());
    return done;
}

static void latency_close(LATENCY *l)
{
    if (l->Consumer != INVALID_HANDLE_VALUE && l->Consumer)
        CloseHandle(l->Consumer);
    if (l->Marker != INVALID_HANDLE_VALUE && l->Marker)
        CloseHandle(l->Marker);
    if (l->Overlapped.hEvent)
        CloseHandle(l->Overlapped.hEvent);
}

/*
 * One round: GET_EVENTS pending on the consumer handle, then the clock from just before the
 * MARK is sent on the other handle to the moment the consumer has the completed request.
 * Returns the microseconds, or a negative value on failure. Check: the record is our MARK.
 */
static double latency_round(LATENCY *l, ULONG n, BOOL check)
{
    const SANCTUM_EVENT_HEADER *h = (const SANCTUM_EVENT_HEADER *)l->Batch;
    const SANCTUM_MARK *m = (const SANCTUM_MARK *)(h + 1);
    UCHAR payload[MARK_BYTES] = "latency-";
    DWORD returned = 0;
    double start, end;

    memcpy(payload + 8, &n, sizeof(n));
    ResetEvent(l->Overlapped.hEvent);
    if (DeviceIoControl(l->Consumer, IOCTL_SANCTUM_GET_EVENTS, NULL, 0, l->Batch, sizeof(l->Batch),
                        &returned, &l->Overlapped) ||
        GetLastError() != ERROR_IO_PENDING) {
        fail("GET_EVENTS did not pend on an empty queue", GetLastError());
        return -1;
    }
    start = now();
    if (!DeviceIoControl(l->Marker, IOCTL_SANCTUM_MARK, payload, sizeof(payload), NULL, 0,
                         &returned, NULL)) {
        fail("MARK", GetLastError());
        CancelIoEx(l->Consumer, &l->Overlapped);
        GetOverlappedResult(l->Consumer, &l->Overlapped, &returned, TRUE);
        return -1;
    }
    if (WaitForSingleObject(l->Overlapped.hEvent, WAIT_MS) != WAIT_OBJECT_0) {
        fail("GET_EVENTS still pending after the MARK", WAIT_TIMEOUT);
        CancelIoEx(l->Consumer, &l->Overlapped);
        GetOverlappedResult(l->Consumer, &l->Overlapped, &returned, TRUE);
        return -1;
    }
    if (!GetOverlappedResult(l->Consumer, &l->Overlapped, &returned, FALSE) ||
        returned != MARK_RECORD) {
        fail("GET_EVENTS after the MARK", GetLastError());
        return -1;
    }
    end = now();
    if (check && (h->Size != MARK_RECORD || h->Type != SANCTUM_EVENT_MARK ||
                  m->Length != MARK_BYTES || memcmp(m + 1, payload, MARK_BYTES))) {
        fail("the MARK record", h->Type);
        return -1;
    }
    return (end - start) * 1e6;
}

static void report_latency(const char *label, const char *who, const double *us, int n)
{
    int i;

    printf("latency\t%s\t%s", label, who);
    for (i = 0; i < n; i++)
        printf("\t%.1f", us[i]);
    printf("\n");
    fflush(stdout);
}

static void measure_latency(const char *label, const wchar_t *driver_path, const wchar_t *null_path)
{
    double *d = calloc(latency_samples, sizeof(double)), *n = calloc(latency_samples, sizeof(double));
    static LATENCY driver, null;
    int i, before = failures;

    memset(&driver, 0, sizeof(driver));
    memset(&null, 0, sizeof(null));
    if (d && n && latency_open(&driver, driver_path) && latency_open(&null, null_path)) {
        /* Warm-up, then alternating, so that a slow moment of the machine hits both alike. */
        for (i = 0; i < 10; i++)
            if (latency_round(&driver, i, TRUE) < 0 || latency_round(&null, i, FALSE) < 0)
                break;
        for (i = 0; i < latency_samples && failures == before; i++) {
            d[i] = latency_round(&driver, i, TRUE);
            n[i] = latency_round(&null, i, FALSE);
            if (d[i] < 0 || n[i] < 0)
                break;
        }
        if (i == latency_samples) {
            report_latency(label, "driver", d, latency_samples);
            report_latency(label, "null", n, latency_samples);
        }
    }
    latency_close(&driver);
    latency_close(&null);
    free(d);
    free(n);
}

static void bench(const char *label, const wchar_t *driver_path, const wchar_t *null_path,
                  int samples)
{
    wchar_t name[64], null_name[64];
    SC_HANDLE driver_service, null_service;
    HANDLE driver, null;
    int before = failures;

    swprintf(name, ARRAYSIZE(name), L"SanctumBench-%hs", label);
    swprintf(null_name, ARRAYSIZE(null_name), L"SanctumBenchNull-%hs", label);
    driver_service = start_service(name, driver_path);
    null_service = start_service(null_name, null_path);
    if (driver_service && null_service) {
        driver = CreateFileW(SANCTUM_USER_DEVICE_PATH, RW, FILE_SHARE_READ | FILE_SHARE_WRITE,
                             NULL, OPEN_EXISTING, 0, NULL);
        null = CreateFileW(NULL_DEVICE_PATH, RW, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                           OPEN_EXISTING, 0, NULL);
        if (driver == INVALID_HANDLE_VALUE || null == INVALID_HANDLE_VALUE) {
            fail("opening the devices", GetLastError());
        } else {
            check_driver(driver);
            if (failures == before)
                measure(label, driver, null, samples);
            if (failures == before)
                measure_latency(label, SANCTUM_USER_DEVICE_PATH, NULL_DEVICE_PATH);
        }
        if (driver != INVALID_HANDLE_VALUE)
            CloseHandle(driver);
        if (null != INVALID_HANDLE_VALUE)
            CloseHandle(null);
    }
    if (driver_service)
        stop_service(driver_service);
    if (null_service)
        stop_service(null_service);
    printf("checked\t%s\t%d\n", label, failures - before);
    fflush(stdout);
}

int wmain(int argc, wchar_t **argv)
{
    char label[32];
    int samples, i;
    DWORD j;

    if (argc < 7 || (argc - 4) % 3) {
        fprintf(stderr,
                "usage: winebench SECONDS SAMPLES LATENCY-SAMPLES (LABEL DRIVER.sys NULL.sys)...\n");
        return 2;
    }
    seconds = _wtof(argv[1]);
    samples = _wtoi(argv[2]);
    latency_samples = _wtoi(argv[3]);
    QueryPerformanceFrequency(&frequency);
    in = VirtualAlloc(NULL, sizes[ARRAYSIZE(sizes) - 1], MEM_COMMIT, PAGE_READWRITE);
    out = VirtualAlloc(NULL, sizes[ARRAYSIZE(sizes) - 1], MEM_COMMIT, PAGE_READWRITE);
    scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    if (!in || !out || !scm || samples < 1 || seconds <= 0 || latency_samples < 1) {
        fail("setting up", GetLastError());
        return 1;
    }
    for (j = 0; j < sizes[ARRAYSIZE(sizes) - 1]; j++)
        in[j] = (UCHAR)(j * 7 + 3);
    memset(out, 0, sizes[ARRAYSIZE(sizes) - 1]);
    for (i = 4; i + 2 < argc; i += 3) {
        snprintf(label, sizeof(label), "%ls", argv[i]);
        bench(label, argv[i + 1], argv[i + 2], samples);
    }
    CloseServiceHandle(scm);
    return failures ? 1 : 0;
}
