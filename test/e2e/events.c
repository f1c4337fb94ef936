/* SPDX-License-Identifier: MIT */
/*
 * Events end to end: subscriptions, GET_EVENTS kept pending and completed by events, every
 * way a pending request can end (an event, CancelIoEx on one or all, the handle closed, the
 * consumer process killed, DISCONNECT, the service stopped), queue overflow with exact drop
 * counts, several subscribers, the limits a hostile caller meets (subscriptions per process,
 * every handle's messages together, GET_EVENTS' buffer), and an IMAGE_LOAD record for a
 * second driver.
 *
 * Marks are the event source that can be driven at will, on Wine and on Windows alike. Wine 8
 * registers the process and thread callbacks and never calls them: those records are proven on
 * the host harness (test/unit/test_events.c) and, on Windows, by test/e2e/windows.c.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define EVENTS_SERVICE L"SanctumEvents"
#define PROBE_SERVICE L"SanctumProbe"
/* Wine runs two drivers in one winedevice.exe, where the image callback sees the second
 * load, only when their services share a load-order group. */
#define EVENTS_GROUP L"SanctumEvents"
#define NOTHING_LEAKED "pool outstanding: 0 allocations, 0 bytes"
#define WAIT_MS 5000
#define BATCH SANCTUM_MAX_EVENT_SIZE
#define RW (GENERIC_READ | GENERIC_WRITE)
/* The size of a MARK record carrying n bytes. */
#define MARK_SIZE(n) ((DWORD)((sizeof(SANCTUM_EVENT_HEADER) + sizeof(SANCTUM_MARK) + (n) + 7) & ~7u))
/* What ntstatus.h calls them; user mode's winnt.h has neither. */
#define NT_STATUS_CANCELLED 0xC0000120u
#define NT_STATUS_DEVICE_NOT_CONNECTED 0xC000009Du

static SC_HANDLE scm;

/* An overlapped request and its buffer; Done once its event fired. */
typedef struct {
    OVERLAPPED ov;
    BOOL issued;
    DWORD error;    /* 0, ERROR_IO_PENDING while pending, else the Win32 error */
    DWORD returned;
    unsigned char buf[BATCH + 64];
} request;

/* The protocol library's calls work on a handle opened for overlapped I/O. */
static HANDLE open_overlapped(DWORD access)
{
    HANDLE h;

    SanctumOpen(access, FILE_FLAG_OVERLAPPED, &h);
    return h;
}

static void issue(HANDLE h, request *r, DWORD out_len)
{
    memset(r, 0, sizeof(*r));
    memset(r->buf, 0xCC, sizeof(r->buf));
    r->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    r->issued = TRUE;
    r->error = DeviceIoControl(h, IOCTL_SANCTUM_GET_EVENTS, NULL, 0, r->buf, out_len, &r->returned,
                               &r->ov)
                   ? 0
                   : GetLastError();
}

/* Waits for the request to end; FALSE if it is still pending after ms. */
static BOOL finish(HANDLE h, request *r, DWORD ms)
{
    if (r->error != ERROR_IO_PENDING)
        return TRUE;
    if (WaitForSingleObject(r->ov.hEvent, ms) != WAIT_OBJECT_0)
        return FALSE;
    r->error = GetOverlappedResult(h, &r->ov, &r->returned, FALSE) ? 0 : GetLastError();
    return TRUE;
}

static void release(request *r)
{
    if (r->issued)
        CloseHandle(r->ov.hEvent);
    r->issued = FALSE;
}

static BOOL still_pending(request *r)
{
    return r->error == ERROR_IO_PENDING && WaitForSingleObject(r->ov.hEvent, 0) == WAIT_TIMEOUT;
}

/* The record at offset in a batch, checked to lie whole inside it. */
static const SANCTUM_EVENT_HEADER *record_at(const request *r, DWORD offset)
{
    const SANCTUM_EVENT_HEADER *h = (const void *)(r->buf + offset);

    if (offset + sizeof(*h) > r->returned || h->Size < sizeof(*h) || h->Size % 8 ||
        offset + h->Size > r->returned)
        return NULL;
    return h;
}

/*
 * A MARK record carrying exactly text, sent by this process, with zeroed padding and the
 * expected sequence.
 */
static void check_mark(const SANCTUM_EVENT_HEADER *h, const char *text, ULONG64 sequence,
                       const char *what)
{
    const SANCTUM_MARK *m = (const void *)(h + 1);
    DWORD len = (DWORD)strlen(text), end = sizeof(*h) + sizeof(*m) + len, i;
    FILETIME ft;
    LONG64 now;

    GetSystemTimeAsFileTime(&ft);
    now = ((LONG64)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    if (!ok(h && h->Type == SANCTUM_EVENT_MARK, "%s: no MARK record (type %u)\n", what,
            h ? h->Type : 0))
        return;
    ok(h->Size == ((end + 7) & ~7u), "%s: size %u for %lu bytes\n", what, h->Size, len);
    ok(h->Sequence == sequence, "%s: sequence %llu, expected %llu\n", what, h->Sequence, sequence);
    ok(h->Flags == 0, "%s: flags 0x%lx\n", what, h->Flags);
    /* Within a minute of now: the driver's clock is the system's. */
    ok(h->Time > now - 600000000LL && h->Time <= now + 600000000LL, "%s: time %lld, now %lld\n",
       what, h->Time, now);
    ok(m->Length == len && !memcmp(m + 1, text, len), "%s: body of %lu bytes differs\n", what,
       m->Length);
    ok(m->Reserved == 0 && m->SenderProcessId == GetCurrentProcessId(),
       "%s: sender %llu, expected this process, %lu\n", what, m->SenderProcessId,
       GetCurrentProcessId());
    for (i = end; i < h->Size && ((const unsigned char *)h)[i] == 0; i++)
        ;
    ok(i == h->Size, "%s: padding byte %lu is 0x%02x\n", what, i, ((const unsigned char *)h)[i]);
}

static BOOL stats_of(SANCTUM_STATS *s)
{
    HANDLE h = device_open(GENERIC_READ);
    BOOL got = h != INVALID_HANDLE_VALUE && device_stats(h, s);

    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    return got;
}

/* The counters the driver reports for subscriptions and pending requests now. */
static void expect_now(ULONG subscriptions, ULONG pending, const char *what)
{
    SANCTUM_STATS s;

    if (ok(stats_of(&s), "%s: GET_STATS failed\n", what))
        ok(s.Subscriptions == subscriptions && s.PendingRequests == pending,
           "%s: %lu subscriptions and %lu pending, expected %lu and %lu\n", what, s.Subscriptions,
           s.PendingRequests, subscriptions, pending);
}

/* Every refusal, with the Win32 error its NTSTATUS becomes. */
static void test_refusals(void)
{
    SANCTUM_SUBSCRIBE s = { sizeof(s), SANCTUM_EVENT_ALL, 0 };
    HANDLE h = open_overlapped(GENERIC_READ | GENERIC_WRITE);
    HANDLE ro = open_overlapped(GENERIC_READ), wo = open_overlapped(GENERIC_WRITE);
    unsigned char big[SANCTUM_MAX_MARK + 1] = { 0 };
    DWORD returned;
    request r;

    if (!ok(h != INVALID_HANDLE_VALUE && ro != INVALID_HANDLE_VALUE && wo != INVALID_HANDLE_VALUE,
            "open: error %lu\n", GetLastError()))
        return;

    /* No subscription yet: GET_EVENTS is refused at once. */
    issue(h, &r, BATCH);
    ok(r.error == ERROR_BAD_COMMAND, "GET_EVENTS unsubscribed: error %lu\n", r.error);
    release(&r);
    issue(h, &r, BATCH - 1);
    ok(r.error == ERROR_INSUFFICIENT_BUFFER, "GET_EVENTS into %u: error %lu\n", BATCH - 1, r.error);
    release(&r);

    ok(SanctumIoctl(h, IOCTL_SANCTUM_SUBSCRIBE, &s, sizeof(s) - 1, NULL, 0, &returned) ==
           ERROR_INVALID_PARAMETER, "SUBSCRIBE with 11 bytes accepted\n");
    s.Size = sizeof(s) + 1;
    ok(SanctumIoctl(h, IOCTL_SANCTUM_SUBSCRIBE, &s, sizeof(s), NULL, 0, &returned) ==
           ERROR_INVALID_PARAMETER, "SUBSCRIBE with Size 13 accepted\n");
    ok(SanctumSubscribe(h, 0, 0) == ERROR_INVALID_PARAMETER, "SUBSCRIBE to no type accepted\n");
    ok(SanctumSubscribe(h, SANCTUM_EVENT_ALL | 1, 0) == ERROR_INVALID_PARAMETER,
       "SUBSCRIBE to type 0 accepted\n");
    ok(SanctumSubscribe(h, 1u << SANCTUM_EVENT_TYPE_COUNT, 0) == ERROR_INVALID_PARAMETER,
       "SUBSCRIBE to an unknown type accepted\n");
    ok(SanctumSubscribe(h, SANCTUM_EVENT_ALL, SANCTUM_MIN_QUEUE_BYTES - 1) ==
           ERROR_INVALID_PARAMETER,
       "SUBSCRIBE with a queue below the minimum accepted\n");
    ok(SanctumSubscribe(h, SANCTUM_EVENT_ALL, SANCTUM_MAX_QUEUE_BYTES + 1) ==
           ERROR_INVALID_PARAMETER,
       "SUBSCRIBE with a queue above the maximum accepted\n");
    /* The access bits: SUBSCRIBE needs read and write access, MARK and DISCONNECT write
     * access; protocol 2's SUBSCRIBE code (read access only) is no more. */
    ok(SanctumSubscribe(wo, SANCTUM_EVENT_ALL, 0) == ERROR_ACCESS_DENIED,
       "SUBSCRIBE on a write-only handle accepted\n");
    ok(SanctumSubscribe(ro, SANCTUM_EVENT_ALL, 0) == ERROR_ACCESS_DENIED,
       "SUBSCRIBE on a read-only handle accepted\n");
    s.Size = sizeof(s);
    ok(SanctumIoctl(ro, CTL_CODE(SANCTUM_DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_READ_DATA), &s,
                    sizeof(s), NULL, 0, &returned) == ERROR_INVALID_FUNCTION,
       "protocol 2's SUBSCRIBE code was not refused\n");
    ok(SanctumDisconnect(ro) == ERROR_ACCESS_DENIED, "DISCONNECT on a read-only handle accepted\n");
    ok(SanctumSendMark(ro, "x", 1) == ERROR_ACCESS_DENIED, "MARK on a read-only handle accepted\n");
    ok(SanctumSendMark(wo, "", 0) == ERROR_INVALID_PARAMETER, "MARK of 0 bytes accepted\n");
    ok(SanctumSendMark(wo, big, sizeof(big)) == ERROR_INVALID_PARAMETER,
       "MARK of %u bytes accepted\n", (unsigned)sizeof(big));
    ok(SanctumSendMark(wo, big, sizeof(big) - 1) == 0, "MARK of %u bytes refused\n",
       SANCTUM_MAX_MARK);

    ok(SanctumSubscribe(h, SANCTUM_EVENT_ALL, 0) == 0, "SUBSCRIBE failed\n");
    ok(SanctumSubscribe(h, SANCTUM_EVENT_ALL, 0) == ERROR_ALREADY_EXISTS,
       "a second SUBSCRIBE on the handle: error %lu\n", SanctumSubscribe(h, SANCTUM_EVENT_ALL, 0));
    expect_now(1, 0, "one subscription");
    /* Larger than any queue could fill: refused (before the driver maps a page of it). */
    {
        DWORD big = SANCTUM_MAX_QUEUE_BYTES + 1;
        void *buf = VirtualAlloc(NULL, big, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);

        ok(buf && SanctumIoctl(h, IOCTL_SANCTUM_GET_EVENTS, NULL, 0, buf, big, &returned) ==
                      ERROR_INVALID_PARAMETER,
           "GET_EVENTS into 8 MiB + 1 was not refused with error 87\n");
        if (buf) {
            /* At the bound it is taken, and pends. */
            OVERLAPPED ov = { .hEvent = CreateEventW(NULL, TRUE, FALSE, NULL) };
            BOOL done = DeviceIoControl(h, IOCTL_SANCTUM_GET_EVENTS, NULL, 0, buf, big - 1,
                                        &returned, &ov);

            ok(!done && GetLastError() == ERROR_IO_PENDING, "GET_EVENTS into 8 MiB: error %lu\n",
               done ? 0 : GetLastError());
            CancelIoEx(h, &ov);
            GetOverlappedResult(h, &ov, &returned, TRUE);
            CloseHandle(ov.hEvent);
            VirtualFree(buf, 0, MEM_RELEASE);
        }
    }
    CloseHandle(h);
    CloseHandle(ro);
    CloseHandle(wo);
    expect_now(0, 0, "after close");
}

/* GET_EVENTS pends, a MARK from another handle completes it with that one record. */
static void test_pending(void)
{
    HANDLE h = open_overlapped(RW), w = device_open(GENERIC_WRITE);
    request r[3];
    int i;

    if (!ok(h != INVALID_HANDLE_VALUE && w != INVALID_HANDLE_VALUE, "open: error %lu\n",
            GetLastError()))
        return;
    ok(SanctumSubscribe(h, SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK), 0) == 0, "SUBSCRIBE failed\n");
    issue(h, &r[0], BATCH);
    ok(r[0].error == ERROR_IO_PENDING, "GET_EVENTS on an empty queue: error %lu\n", r[0].error);
    ok(still_pending(&r[0]), "GET_EVENTS completed with nothing queued\n");
    expect_now(1, 1, "one request pending");
    ok(SanctumSendMark(w, "hello", 5) == 0, "MARK failed\n");
    ok(finish(h, &r[0], WAIT_MS), "the MARK did not complete the pending request\n");
    ok(r[0].error == 0 && r[0].returned == MARK_SIZE(5), "completed: error %lu, %lu bytes\n",
       r[0].error, r[0].returned);
    check_mark(record_at(&r[0], 0), "hello", 1, "pended then marked");
    ok(r[0].buf[r[0].returned] == 0xCC, "a byte past the record was written\n");
    release(&r[0]);

    /* Three pending: each MARK completes the oldest, in order. */
    for (i = 0; i < 3; i++)
        issue(h, &r[i], BATCH);
    expect_now(1, 3, "three pending");
    for (i = 0; i < 3; i++) {
        char text[8];

        snprintf(text, sizeof(text), "m%d", i);
        ok(SanctumSendMark(w, text, (DWORD)strlen(text)) == 0, "MARK %d failed\n", i);
        ok(finish(h, &r[i], WAIT_MS) && r[i].error == 0, "request %d: error %lu\n", i, r[i].error);
        check_mark(record_at(&r[i], 0), text, (ULONG64)i + 2, "in order");
        release(&r[i]);
    }

    /* Queued while nobody waits: one GET_EVENTS takes them all, whole records only. */
    for (i = 0; i < 3; i++)
        ok(SanctumSendMark(w, "abcdefghijklmnop", 16) == 0, "MARK %d failed\n", i);
    issue(h, &r[0], BATCH);
    ok(r[0].error == 0 && r[0].returned == 3 * MARK_SIZE(16), "batch: error %lu, %lu bytes\n",
       r[0].error, r[0].returned);
    for (i = 0; i < 3; i++)
        check_mark(record_at(&r[0], (DWORD)i * MARK_SIZE(16)), "abcdefghijklmnop", (ULONG64)i + 5,
                   "batch");
    release(&r[0]);
    CloseHandle(h);
    CloseHandle(w);
}

/* CancelIoEx on one request and on all; the per-handle bound on pending requests. */
static void test_cancel(void)
{
    HANDLE h = open_overlapped(GENERIC_READ | GENERIC_WRITE);
    request r[SANCTUM_MAX_PENDING_PER_HANDLE + 1];
    int i, ended = 0;

    if (!ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    ok(SanctumSubscribe(h, SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK), 0) == 0, "SUBSCRIBE failed\n");
    for (i = 0; i < SANCTUM_MAX_PENDING_PER_HANDLE; i++) {
        issue(h, &r[i], BATCH);
        ok(r[i].error == ERROR_IO_PENDING, "request %d: error %lu\n", i, r[i].error);
    }
    issue(h, &r[i], BATCH);
    ok(r[i].error == ERROR_BUSY, "request %d past the bound: error %lu\n", i, r[i].error);
    release(&r[i]);
    expect_now(1, SANCTUM_MAX_PENDING_PER_HANDLE, "at the bound");

    /* One: the one named ends, with ERROR_OPERATION_ABORTED; the rest still wait. */
    ok(CancelIoEx(h, &r[3].ov), "CancelIoEx(one): error %lu\n", GetLastError());
    ok(finish(h, &r[3], WAIT_MS) && r[3].error == ERROR_OPERATION_ABORTED,
       "cancelled request: error %lu\n", r[3].error);
    for (i = 0; i < SANCTUM_MAX_PENDING_PER_HANDLE; i++)
        ended += i != 3 && !still_pending(&r[i]);
    ok(ended == 0, "%d other requests ended with one cancel\n", ended);
    expect_now(1, SANCTUM_MAX_PENDING_PER_HANDLE - 1, "after one cancel");

    /* All: every other one ends the same way, exactly once. */
    ok(CancelIoEx(h, NULL), "CancelIoEx(all): error %lu\n", GetLastError());
    for (i = 0; i < SANCTUM_MAX_PENDING_PER_HANDLE; i++) {
        ok(finish(h, &r[i], WAIT_MS) && r[i].error == ERROR_OPERATION_ABORTED,
           "request %d after cancel-all: error %lu\n", i, r[i].error);
        release(&r[i]);
    }
    expect_now(1, 0, "after cancel-all");

    /* The handle still works: a cancelled request loses no record. */
    ok(SanctumSendMark(h, "after", 5) == 0, "MARK failed\n");
    issue(h, &r[0], BATCH);
    ok(r[0].error == 0, "GET_EVENTS after cancel: error %lu\n", r[0].error);
    check_mark(record_at(&r[0], 0), "after", 1, "after cancel");
    release(&r[0]);
    CloseHandle(h);
}

/* The handle closes with requests pending: each ends (Wine: by IRP_MJ_CLOSE). */
static void test_close_while_waiting(void)
{
    HANDLE h = open_overlapped(RW);
    request r[2];
    int i;

    if (!ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    ok(SanctumSubscribe(h, SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK), 0) == 0, "SUBSCRIBE failed\n");
    for (i = 0; i < 2; i++)
        issue(h, &r[i], BATCH);
    expect_now(1, 2, "before close");
    CloseHandle(h);
    for (i = 0; i < 2; i++) {
        ok(WaitForSingleObject(r[i].ov.hEvent, WAIT_MS) == WAIT_OBJECT_0,
           "request %d still pending after its handle closed\n", i);
        /* The handle is gone: the status is read from the OVERLAPPED itself. */
        ok(r[i].ov.Internal == (ULONG_PTR)NT_STATUS_CANCELLED, "request %d: status 0x%08lx\n", i,
           (unsigned long)r[i].ov.Internal);
        release(&r[i]);
    }
    expect_now(0, 0, "after close");
}

/* events-child: subscribes, pends two requests, says "waiting", and waits to be killed. */
int events_child(void)
{
    HANDLE h = open_overlapped(RW);
    static request r[2];

    if (h == INVALID_HANDLE_VALUE || SanctumSubscribe(h, SANCTUM_EVENT_ALL, 0))
        return 1;
    issue(h, &r[0], BATCH);
    issue(h, &r[1], BATCH);
    if (r[0].error != ERROR_IO_PENDING || r[1].error != ERROR_IO_PENDING)
        return 1;
    printf("waiting\n");
    fflush(stdout);
    Sleep(INFINITE);
    return 0;
}

/*
 * Starts `SELF events-child` (a consumer in a process of its own, with a subscription and two
 * requests pending) and waits until it says so; FALSE, with the child gone, if it did not.
 */
static BOOL start_consumer(const wchar_t *self, PROCESS_INFORMATION *pi)
{
    SECURITY_ATTRIBUTES sa = { .nLength = sizeof(sa), .bInheritHandle = TRUE };
    STARTUPINFOW si = { .cb = sizeof(si) };
    wchar_t cmd[MAX_PATH + 32];
    HANDLE rd, wr;
    char line[16] = { 0 };
    DWORD got = 0;
    BOOL waiting;

    if (!ok(CreatePipe(&rd, &wr, &sa, 0), "CreatePipe: error %lu\n", GetLastError()))
        return FALSE;
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdOutput = wr;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    _snwprintf(cmd, ARRAYSIZE(cmd), L"\"%ls\" events-child", self);
    cmd[ARRAYSIZE(cmd) - 1] = 0;
    if (!ok(CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, pi),
            "cannot start the consumer: error %lu\n", GetLastError())) {
        CloseHandle(rd);
        CloseHandle(wr);
        return FALSE;
    }
    CloseHandle(wr);
    waiting = ReadFile(rd, line, sizeof(line) - 1, &got, NULL) && !strncmp(line, "waiting", 7);
    ok(waiting, "the consumer did not get to wait: '%s'\n", line);
    CloseHandle(rd);
    if (!waiting) {
        TerminateProcess(pi->hProcess, 9);
        WaitForSingleObject(pi->hProcess, WAIT_MS);
        CloseHandle(pi->hProcess);
        CloseHandle(pi->hThread);
    }
    return waiting;
}

/* Kills a consumer from start_consumer and waits until the driver has let its requests go. */
static void kill_consumer(PROCESS_INFORMATION *pi)
{
    SANCTUM_STATS s;
    ULONG before = stats_of(&s) ? s.Subscriptions : 0;
    int i;

    TerminateProcess(pi->hProcess, 9);
    WaitForSingleObject(pi->hProcess, WAIT_MS);
    /* Process exit cancels its requests and closes its handle: give the driver a moment. */
    for (i = 0; i < 100 && stats_of(&s) && (s.PendingRequests || s.Subscriptions >= before); i++)
        Sleep(20);
    CloseHandle(pi->hProcess);
    CloseHandle(pi->hThread);
}

/* A consumer process dies while its requests are pending: the system cancels them. */
static void test_killed_consumer(const wchar_t *self)
{
    PROCESS_INFORMATION pi;

    if (!start_consumer(self, &pi))
        return;
    expect_now(1, 2, "consumer waiting");
    kill_consumer(&pi);
    expect_now(0, 0, "consumer killed");
}

/* A full queue drops new records; sequence gaps and the stats count them exactly. */
static void test_overflow(void)
{
    HANDLE h = open_overlapped(GENERIC_READ | GENERIC_WRITE);
    unsigned char payload[SANCTUM_MAX_MARK];
    const DWORD fit = SANCTUM_MIN_QUEUE_BYTES / MARK_SIZE(SANCTUM_MAX_MARK);
    const DWORD sent = fit + 25;
    SANCTUM_STATS before, after;
    DWORD i, offset, seen = 0;
    ULONG64 next = 1;
    request r;

    if (!ok(h != INVALID_HANDLE_VALUE && stats_of(&before), "open: error %lu\n", GetLastError()))
        return;
    memset(payload, 'z', sizeof(payload));
    ok(SanctumSubscribe(h, SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK), SANCTUM_MIN_QUEUE_BYTES) == 0,
       "SUBSCRIBE failed\n");
    for (i = 0; i < sent; i++)
        ok(SanctumSendMark(h, payload, sizeof(payload)) == 0, "MARK %lu failed\n", i);
    ok(stats_of(&after), "GET_STATS failed\n");
    ok(after.EventsQueued - before.EventsQueued == fit &&
           after.EventsDropped - before.EventsDropped == sent - fit,
       "queued %llu dropped %llu, expected %lu and %lu\n", after.EventsQueued - before.EventsQueued,
       after.EventsDropped - before.EventsDropped, fit, sent - fit);
    /* Drain: exactly the first `fit`, in order, then nothing. */
    do {
        issue(h, &r, BATCH);
        for (offset = 0; r.error == 0 && offset < r.returned; seen++) {
            const SANCTUM_EVENT_HEADER *e = record_at(&r, offset);

            if (!ok(e && e->Sequence == next, "record %lu: sequence %llu, expected %llu\n", seen,
                    e ? e->Sequence : 0, next))
                break;
            next++;
            offset += e->Size;
        }
        if (r.error == ERROR_IO_PENDING) {
            CancelIoEx(h, &r.ov);
            finish(h, &r, WAIT_MS);
            r.error = ERROR_IO_PENDING;
        }
        release(&r);
    } while (r.error == 0 && seen < sent);
    ok(seen == fit, "%lu records drained, expected %lu\n", seen, fit);
    /* The next record tells the reader how many were lost: its sequence jumps. */
    ok(SanctumSendMark(h, "next", 4) == 0, "MARK failed\n");
    issue(h, &r, BATCH);
    check_mark(record_at(&r, 0), "next", (ULONG64)sent + 1, "after the overflow");
    release(&r);
    CloseHandle(h);
}

/* Several subscribers: each its own queue and sequence; types filter. */
static void test_subscribers(void)
{
    HANDLE h[3], w = device_open(GENERIC_WRITE);
    static const ULONG types[3] = { SANCTUM_EVENT_ALL, SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK),
                                    SANCTUM_EVENT_MASK(SANCTUM_EVENT_IMAGE_LOAD) };
    request r;
    int i;

    for (i = 0; i < 3; i++) {
        h[i] = open_overlapped(RW);
        ok(h[i] != INVALID_HANDLE_VALUE && SanctumSubscribe(h[i], types[i], 0) == 0,
           "subscriber %d: error %lu\n", i, GetLastError());
    }
    expect_now(3, 0, "three subscribers");
    ok(SanctumSendMark(w, "one", 3) == 0 && SanctumSendMark(w, "two", 3) == 0, "MARK failed\n");
    for (i = 0; i < 2; i++) {
        issue(h[i], &r, BATCH);
        ok(r.error == 0 && r.returned == 2 * MARK_SIZE(3), "subscriber %d: error %lu, %lu bytes\n",
           i, r.error, r.returned);
        check_mark(record_at(&r, 0), "one", 1, "subscriber");
        check_mark(record_at(&r, MARK_SIZE(3)), "two", 2, "subscriber");
        release(&r);
    }
    /* The third did not ask for marks: nothing for it. */
    issue(h[2], &r, BATCH);
    ok(r.error == ERROR_IO_PENDING, "a subscriber without marks got something: error %lu\n",
       r.error);
    CancelIoEx(h[2], &r.ov);
    finish(h[2], &r, WAIT_MS);
    release(&r);
    for (i = 0; i < 3; i++)
        CloseHandle(h[i]);
    CloseHandle(w);
    expect_now(0, 0, "subscribers closed");
}

/*
 * DISCONNECT: the driver is about to stop. Every pending GET_EVENTS ends with
 * ERROR_DEVICE_NOT_CONNECTED (STATUS_DEVICE_NOT_CONNECTED), and every handle that was open
 * then, subscribed or not, is refused SUBSCRIBE and GET_EVENTS with it; a new handle works.
 */
static void test_disconnect(void)
{
    HANDLE agent = open_overlapped(RW), idle = open_overlapped(RW), ctl = open_overlapped(RW);
    HANDLE later;
    request r[2];
    DWORD returned;
    int i;

    if (!ok(agent != INVALID_HANDLE_VALUE && idle != INVALID_HANDLE_VALUE &&
                ctl != INVALID_HANDLE_VALUE,
            "open: error %lu\n", GetLastError()))
        return;
    ok(SanctumSubscribe(agent, SANCTUM_EVENT_ALL, 0) == 0, "SUBSCRIBE failed\n");
    for (i = 0; i < 2; i++)
        issue(agent, &r[i], BATCH);
    expect_now(1, 2, "before DISCONNECT");
    ok(SanctumIoctl(ctl, IOCTL_SANCTUM_DISCONNECT, "x", 1, NULL, 0, &returned) ==
           ERROR_INVALID_PARAMETER, "DISCONNECT with input: not refused with error 87\n");
    ok(SanctumDisconnect(ctl) == 0, "DISCONNECT failed\n");
    for (i = 0; i < 2; i++) {
        ok(finish(agent, &r[i], WAIT_MS) && r[i].error == ERROR_DEVICE_NOT_CONNECTED,
           "pending request %d after DISCONNECT: error %lu, expected 1167\n", i, r[i].error);
        ok(r[i].ov.Internal == (ULONG_PTR)NT_STATUS_DEVICE_NOT_CONNECTED,
           "request %d: status 0x%08lx\n", i, (unsigned long)r[i].ov.Internal);
        release(&r[i]);
    }
    expect_now(0, 0, "after DISCONNECT");
    ok(SanctumSubscribe(agent, SANCTUM_EVENT_ALL, 0) == ERROR_DEVICE_NOT_CONNECTED,
       "SUBSCRIBE again on the disconnected handle: not error 1167\n");
    ok(SanctumSubscribe(idle, SANCTUM_EVENT_ALL, 0) == ERROR_DEVICE_NOT_CONNECTED,
       "SUBSCRIBE on a handle that was open, unsubscribed: not error 1167\n");
    issue(idle, &r[0], BATCH);
    ok(r[0].error == ERROR_DEVICE_NOT_CONNECTED, "GET_EVENTS on it: error %lu\n", r[0].error);
    release(&r[0]);
    later = open_overlapped(RW);
    ok(later != INVALID_HANDLE_VALUE && SanctumSubscribe(later, SANCTUM_EVENT_ALL, 0) == 0,
       "SUBSCRIBE on a handle opened after DISCONNECT failed\n");
    ok(SanctumSendMark(agent, "still", 5) == 0, "MARK on a disconnected handle failed\n");
    issue(later, &r[0], BATCH);
    check_mark(record_at(&r[0], 0), "still", 1, "after DISCONNECT");
    release(&r[0]);
    CloseHandle(later);
    CloseHandle(agent);
    CloseHandle(idle);
    CloseHandle(ctl);
    expect_now(0, 0, "disconnected handles closed");
}

/*
 * One process holds at most SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS subscriptions
 * (ERROR_NOT_ENOUGH_QUOTA past them); another process still gets one.
 */
static void test_per_process(const wchar_t *self)
{
    HANDLE h[SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS + 1];
    PROCESS_INFORMATION pi;
    int i, n = SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS;

    for (i = 0; i <= n; i++) {
        h[i] = open_overlapped(RW);
        ok(h[i] != INVALID_HANDLE_VALUE &&
               SanctumSubscribe(h[i], SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK),
                                SANCTUM_MIN_QUEUE_BYTES) == (i < n ? 0 : ERROR_NOT_ENOUGH_QUOTA),
           "subscription %d of this process: not %s\n", i, i < n ? "taken" : "refused (1816)");
    }
    expect_now((ULONG)n, 0, "this process at its limit");
    /* Another process still gets one. */
    if (start_consumer(self, &pi)) {
        expect_now((ULONG)n + 1, 2, "another process subscribed");
        kill_consumer(&pi);
    }
    /* A slot given back is this process's again. */
    CloseHandle(h[0]);
    ok(SanctumSubscribe(h[n], SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK), SANCTUM_MIN_QUEUE_BYTES) == 0,
       "after closing one: SUBSCRIBE failed\n");
    for (i = 1; i <= n; i++)
        CloseHandle(h[i]);
    for (i = 0; i < 100; i++) {
        SANCTUM_STATS s;

        if (!stats_of(&s) || s.Subscriptions == 0)
            break;
        Sleep(20);
    }
    expect_now(0, 0, "per-process subscriptions closed");
}

/*
 * Every handle's queued WriteFile messages together stay within
 * SANCTUM_MAX_TOTAL_MESSAGE_BYTES: past it a write fails with ERROR_NOT_ENOUGH_QUOTA and
 * stores nothing; a read gives its bytes back.
 */
static void test_message_budget(void)
{
    enum { HANDLES = SANCTUM_MAX_TOTAL_MESSAGE_BYTES / (SANCTUM_MAX_QUEUED * SANCTUM_MAX_MESSAGE) };
    HANDLE h[HANDLES + 1];
    unsigned char *data = malloc(SANCTUM_MAX_MESSAGE);
    SANCTUM_STATS before, after;
    DWORD done;
    int i, j, bad = 0;

    if (!ok(data != NULL, "out of memory\n"))
        return;
    memset(data, 'm', SANCTUM_MAX_MESSAGE);
    for (i = 0; i <= HANDLES; i++)
        h[i] = device_open(RW);
    for (i = 0; i < HANDLES; i++)
        for (j = 0; j < SANCTUM_MAX_QUEUED; j++)
            bad += !WriteFile(h[i], data, SANCTUM_MAX_MESSAGE, &done, NULL);
    ok(bad == 0, "%d writes up to the budget failed\n", bad);
    ok(stats_of(&before) && before.MessageBytes == SANCTUM_MAX_TOTAL_MESSAGE_BYTES,
       "MessageBytes %llu at the budget\n", before.MessageBytes);
    ok(!WriteFile(h[HANDLES], data, 1, &done, NULL) && GetLastError() == ERROR_NOT_ENOUGH_QUOTA,
       "a write past the budget: error %lu, expected 1816\n", GetLastError());
    ok(stats_of(&after) && after.MessageBytes == before.MessageBytes &&
           after.PoolAllocations == before.PoolAllocations,
       "a refused write stored something: %llu message bytes, %llu pool blocks\n",
       after.MessageBytes, after.PoolAllocations);
    ok(ReadFile(h[0], data, SANCTUM_MAX_MESSAGE, &done, NULL) && done == SANCTUM_MAX_MESSAGE,
       "read: error %lu\n", GetLastError());
    ok(WriteFile(h[HANDLES], data, SANCTUM_MAX_MESSAGE, &done, NULL),
       "a write after a read: error %lu\n", GetLastError());
    for (i = 0; i <= HANDLES; i++)
        CloseHandle(h[i]);
    ok(stats_of(&after) && after.MessageBytes == 0, "MessageBytes %llu after closing\n",
       after.MessageBytes);
    free(data);
}

/* The image callback under Wine sees drivers loaded into the same winedevice.exe. */
static void test_image_load(const wchar_t *probe_path)
{
    HANDLE h = open_overlapped(RW);
    SC_HANDLE probe;
    const SANCTUM_EVENT_HEADER *e;
    const SANCTUM_IMAGE_LOAD *img;
    SERVICE_STATUS st;
    wchar_t name[MAX_PATH];
    const wchar_t *base;
    request r;

    if (!ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    ok(SanctumSubscribe(h, SANCTUM_EVENT_MASK(SANCTUM_EVENT_IMAGE_LOAD), 0) == 0,
       "SUBSCRIBE failed\n");
    issue(h, &r, BATCH);
    service_remove_quietly(PROBE_SERVICE);
    probe = CreateServiceW(scm, PROBE_SERVICE, L"Sanctum probe", SERVICE_ALL_ACCESS,
                           SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL,
                           probe_path, EVENTS_GROUP, NULL, NULL, NULL, NULL);
    if (ok(probe != NULL, "cannot create the probe service: error %lu\n", GetLastError())) {
        ok(StartServiceW(probe, 0, NULL), "cannot start the probe driver: error %lu\n",
           GetLastError());
        ok(finish(h, &r, WAIT_MS) && r.error == 0, "no IMAGE_LOAD record: error %lu\n", r.error);
        e = record_at(&r, 0);
        img = e ? (const void *)(e + 1) : NULL;
        if (ok(e && e->Type == SANCTUM_EVENT_IMAGE_LOAD && e->Sequence == 1,
               "record type %u sequence %llu\n", e ? e->Type : 0, e ? e->Sequence : 0)) {
            memset(name, 0, sizeof(name));
            memcpy(name, img + 1, min(img->NameLength, sizeof(name) - sizeof(wchar_t)));
            base = wcsrchr(name, L'\\');
            ok(base && !_wcsicmp(base + 1, wcsrchr(probe_path, L'\\') + 1),
               "IMAGE_LOAD name '%ls', expected the probe '%ls'\n", name, probe_path);
            ok(img->ProcessId == 0 && (img->Properties & SANCTUM_IMAGE_KERNEL),
               "a kernel image: process %llu, properties 0x%lx\n", img->ProcessId,
               img->Properties);
            ok(img->ImageBase != 0 && img->ImageSize >= 0x1000, "base 0x%llx size %llu\n",
               img->ImageBase, img->ImageSize);
            ok(e->Size == ((sizeof(*e) + sizeof(*img) + img->NameLength + 7) & ~7u) &&
                   !(e->Flags & ~(ULONG)SANCTUM_EVENT_FLAG_NAME_TRUNCATED),
               "size %u flags 0x%lx for a name of %u bytes\n", e->Size, e->Flags,
               img->NameLength);
        }
        ControlService(probe, SERVICE_CONTROL_STOP, &st);
        service_wait(probe, SERVICE_STOPPED, WAIT_MS);
        DeleteService(probe);
        CloseServiceHandle(probe);
    }
    if (still_pending(&r)) {
        CancelIoEx(h, &r.ov);
        finish(h, &r, WAIT_MS);
    }
    release(&r);
    CloseHandle(h);
}

/* Stopping the service ends the pending requests with STATUS_CANCELLED; unload leaks nothing. */
static void test_stop_while_waiting(SC_HANDLE service)
{
    HANDLE h = open_overlapped(RW);
    SERVICE_STATUS st;
    request r;
    int clean = log_count(NOTHING_LEAKED);

    if (!ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    ok(SanctumSubscribe(h, SANCTUM_EVENT_ALL, 0) == 0, "SUBSCRIBE failed\n");
    issue(h, &r, BATCH);
    ok(r.error == ERROR_IO_PENDING, "GET_EVENTS: error %lu\n", r.error);
    ok(ControlService(service, SERVICE_CONTROL_STOP, &st), "stop: error %lu\n", GetLastError());
    ok(service_wait(service, SERVICE_STOPPED, WAIT_MS), "the service did not stop\n");
    ok(finish(h, &r, WAIT_MS) && r.error == ERROR_OPERATION_ABORTED,
       "pending request at stop: error %lu\n", r.error);
    if (log_available())
        ok(log_wait_more(NOTHING_LEAKED, clean), "the unload with a request pending leaked\n");
    /* The same figures under the service key: what Windows, without a debugger, shows. */
    ok(unload_recorded_clean(EVENTS_SERVICE),
       "the unload with a request pending did not record 0 0 under the service key\n");
    release(&r);
    CloseHandle(h);
}

void run_events(const wchar_t *driver_path, const wchar_t *probe_path, const wchar_t *self)
{
    SC_HANDLE service;
    SERVICE_STATUS st;

    service_remove_quietly(EVENTS_SERVICE);
    scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    service = scm ? CreateServiceW(scm, EVENTS_SERVICE, L"Sanctum events", SERVICE_ALL_ACCESS,
                                   SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL,
                                   driver_path, EVENTS_GROUP, NULL, NULL, NULL, NULL)
                  : NULL;
    if (!ok(service != NULL, "cannot create the service: error %lu\n", GetLastError()))
        goto out;
    if (ok(StartServiceW(service, 0, NULL) && service_wait(service, SERVICE_RUNNING, WAIT_MS),
           "start: error %lu\n", GetLastError())) {
        test_refusals();
        test_pending();
        test_cancel();
        test_close_while_waiting();
        test_killed_consumer(self);
        test_overflow();
        test_subscribers();
        test_disconnect();
        test_per_process(self);
        test_message_budget();
        test_image_load(probe_path);
        test_stop_while_waiting(service);
    }
    ControlService(service, SERVICE_CONTROL_STOP, &st);
    service_wait(service, SERVICE_STOPPED, WAIT_MS);
    DeleteService(service);
out:
    if (service)
        CloseServiceHandle(service);
    if (scm)
        CloseServiceHandle(scm);
}
