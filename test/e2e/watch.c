/* SPDX-License-Identifier: MIT */
/*
 * sanctumctl mark and watch against the running driver, as a user runs them: watchers in
 * child processes, marks sent from here through the protocol library or by a second
 * sanctumctl. Wine never calls the process and thread callbacks, so marks carry the stream.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_REQUESTS 4 /* what sanctumctl watch keeps pending */

static wchar_t ctl_path[MAX_PATH];
static HANDLE marks = INVALID_HANDLE_VALUE; /* this suite's handle for MARK and GET_STATS */

/* Starts `sanctumctl ARGS` without waiting for it. */
static BOOL start_ctl(const wchar_t *args, DWORD flags, child_process *c)
{
    wchar_t cmd[1024];

    _snwprintf(cmd, ARRAYSIZE(cmd), L"\"%ls\" %ls", ctl_path, args);
    cmd[ARRAYSIZE(cmd) - 1] = 0;
    if (child_start(cmd, flags, c))
        return TRUE;
    ok(0, "cannot run sanctumctl %ls: error %lu\n", args, GetLastError());
    return FALSE;
}

static void run_ctl(const wchar_t *args, child_result *r)
{
    child_process c;

    memset(r, 0, sizeof(*r));
    r->exit_code = (DWORD)-1;
    if (start_ctl(args, 0, &c))
        child_finish(&c, 60000, r);
}

static SANCTUM_STATS stats_now(void)
{
    SANCTUM_STATS s;

    if (!device_stats(marks, &s))
        memset(&s, 0xFF, sizeof(s)); /* matches no expected count */
    return s;
}

/* Waits up to 10 s until the driver has `subscriptions` and `pending` GET_EVENTS pending. */
static BOOL wait_for(ULONG subscriptions, ULONG pending)
{
    for (int i = 0; i < 1000; i++) {
        SANCTUM_STATS s = stats_now();
        if (s.Subscriptions == subscriptions && s.PendingRequests == pending)
            return TRUE;
        Sleep(10);
    }
    return FALSE;
}

static BOOL send_mark(const void *data, ULONG len)
{
    DWORD error = SanctumSendMark(marks, data, len);

    return ok(error == ERROR_SUCCESS, "MARK of %lu bytes: error %lu\n", len, error);
}

/* Line `n` (from 0) of a child's output, without its line end, in buf; FALSE if none. */
static BOOL line_of(const char *text, int n, char *buf, size_t cap)
{
    const char *p = text;

    for (; n > 0 && p != NULL; n--)
        if ((p = strchr(p, '\n')) != NULL)
            p++;
    if (p == NULL || *p == 0)
        return FALSE;
    size_t len = strcspn(p, "\r\n");
    if (len >= cap)
        len = cap - 1;
    memcpy(buf, p, len);
    buf[len] = 0;
    return TRUE;
}

/* The number after `"key":` in a JSON line, or -1. */
static long long json_number(const char *line, const char *key)
{
    char needle[64];
    const char *p;

    snprintf(needle, sizeof(needle), "\"%s\":", key);
    p = strstr(line, needle);
    return p != NULL ? strtoll(p + strlen(needle), NULL, 10) : -1;
}

/* Marks from a second sanctumctl and from here, read back as JSON, escapes and UTF-8 intact. */
static void test_json(void)
{
    static const struct {
        const char *sent;
        const char *text; /* as the JSON line must show it */
    } cases[] = {
        { "first", "\"text\":\"first\",\"bytes\":5," },
        { "q\"b\\s", "\"text\":\"q\\\"b\\\\s\",\"bytes\":5," },
        { "tab\there\x01", "\"text\":\"tab\\there\\u0001\",\"bytes\":9," },
        { "\xc3\xbc", "\"text\":\"\xc3\xbc\",\"bytes\":2," },       /* U+00FC, as UTF-8 */
        { "\xff", "\"text\":\"\xef\xbf\xbd\",\"bytes\":1," },       /* invalid: U+FFFD */
    };
    child_process c, sender;
    child_result r;
    char line[512];
    DWORD sender_pid = 0;

    if (!start_ctl(L"watch --json --types mark --count 5 --timeout 30", 0, &c))
        return;
    ok(wait_for(1, WATCH_REQUESTS), "the watcher did not subscribe and pend %d requests\n",
       WATCH_REQUESTS);
    memset(&r, 0, sizeof(r));
    if (start_ctl(L"mark first", 0, &sender)) {
        sender_pid = sender.pi.dwProcessId;
        child_finish(&sender, 60000, &r);
    }
    ok(r.exit_code == 0 && strstr(r.out, "sent a mark (5 bytes)") != NULL,
       "mark first: exit %lu: %s%s\n", r.exit_code, r.out, r.err);
    for (size_t i = 1; i < ARRAYSIZE(cases); i++)
        send_mark(cases[i].sent, (ULONG)strlen(cases[i].sent));
    child_finish(&c, 30000, &r);

    ok(r.exit_code == 0, "watch --json: exit %lu: %s\n", r.exit_code, r.err);
    ok(count_lines(r.out) == 5, "watch --json: %d lines: %s\n", count_lines(r.out), r.out);
    for (int i = 0; i < 5; i++) {
        if (!ok(line_of(r.out, i, line, sizeof(line)), "no line %d: %s\n", i + 1, r.out))
            break;
        ok(json_number(line, "sequence") == i + 1, "line %d: %s\n", i + 1, line);
        ok(strncmp(line, "{\"sequence\":", 12) == 0 && line[strlen(line) - 1] == '}' &&
               strstr(line, ",\"time\":\"20") != NULL &&
               strstr(line, "Z\",\"type\":\"mark\",") != NULL,
           "line %d is not a mark object: %s\n", i + 1, line);
        ok(strstr(line, cases[i].text) != NULL, "line %d: no '%s' in %s\n", i + 1, cases[i].text,
           line);
        /* The sender's process id: the second sanctumctl's, then this suite's. */
        ok(json_number(line, "pid") == (long long)(i == 0 ? sender_pid : GetCurrentProcessId()),
           "line %d: pid %lld, expected %lu\n", i + 1, json_number(line, "pid"),
           i == 0 ? sender_pid : GetCurrentProcessId());
    }
    ok(strstr(r.err, "watched 5 events, 0 dropped") != NULL && count_lines(r.err) == 1,
       "watch --json: stderr %s\n", r.err);
}

/* Text lines: time of day, sequence, type, the text; two watchers each get every mark. */
static void test_text_and_two_watchers(void)
{
    child_process a, b;
    child_result ra, rb;
    char line[512];

    if (!start_ctl(L"watch --count 2 --timeout 30", 0, &a))
        return;
    if (!start_ctl(L"watch --types mark,process --count 2 --timeout 30", 0, &b)) {
        child_finish(&a, 0, &ra);
        return;
    }
    ok(wait_for(2, 2 * WATCH_REQUESTS), "two watchers did not subscribe\n");
    send_mark("one", 3);
    send_mark("two", 3);
    child_finish(&a, 30000, &ra);
    child_finish(&b, 30000, &rb);

    ok(ra.exit_code == 0 && rb.exit_code == 0, "watch: exit %lu and %lu: %s%s\n", ra.exit_code,
       rb.exit_code, ra.err, rb.err);
    for (int i = 0; i < 2; i++) {
        char want[64];

        snprintf(want, sizeof(want), " #%d mark from pid %lu \"%s\" bytes 3", i + 1,
                 GetCurrentProcessId(), i == 0 ? "one" : "two");
        ok(line_of(ra.out, i, line, sizeof(line)) && strlen(line) > 15 && line[2] == ':' &&
               line[5] == ':' && line[8] == '.' && strcmp(line + 15, want) == 0,
           "watch line %d: '%s', expected HH:MM:SS.uuuuuu%s\n", i + 1, line, want);
        ok(line_of(rb.out, i, line, sizeof(line)) && strstr(line, want) != NULL,
           "second watcher, line %d: '%s'\n", i + 1, line);
    }
    ok(strstr(ra.err, "watched 2 events, 0 dropped") != NULL, "watch: stderr %s\n", ra.err);
    ok(strstr(rb.err, "watched 2 events, 0 dropped") != NULL, "watch: stderr %s\n", rb.err);
}

/* --timeout ends a watch that saw nothing (a mark is not among the types it asked for). */
static void test_timeout(void)
{
    child_process c;
    child_result r;

    DWORD start = GetTickCount();
    if (!start_ctl(L"watch --types process,thread,image --timeout 1", 0, &c))
        return;
    ok(wait_for(1, WATCH_REQUESTS), "the watcher did not subscribe\n");
    send_mark("unseen", 6);
    child_finish(&c, 30000, &r);
    DWORD took = GetTickCount() - start;
    ok(r.exit_code == 0 && r.out[0] == 0 && strstr(r.err, "watched 0 events, 0 dropped") != NULL,
       "watch --timeout 1: exit %lu, out '%s', err '%s'\n", r.exit_code, r.out, r.err);
    ok(took >= 1000 && took < 10000, "watch --timeout 1 took %lu ms\n", took);

    /* A count not reached in time is a failure, one line. */
    if (!start_ctl(L"watch --types mark --count 3 --timeout 1", 0, &c))
        return;
    ok(wait_for(1, WATCH_REQUESTS), "the watcher did not subscribe\n");
    send_mark("only one", 8);
    child_finish(&c, 30000, &r);
    ok(r.exit_code == 1 && count_lines(r.err) == 1 &&
           strstr(r.err, "watch: ") != NULL && strstr(r.err, "1 of 3 events in 1 s, 0 dropped"),
       "watch --count 3 --timeout 1: exit %lu, err '%s'\n", r.exit_code, r.err);
    ok(count_lines(r.out) == 1, "watch --count 3 --timeout 1: out '%s'\n", r.out);
}

/*
 * A full queue drops events and counts them. The watcher's thread is suspended while a burst
 * of marks arrives: its pending requests take the first ones, the 16 KiB queue the next, the
 * driver drops the rest. Resumed, it reads them, and marks sent after the queue has drained
 * show the gap; the watcher's dropped count must equal the driver's.
 */
static void test_drops(void)
{
    enum { BURST = 400, COUNT = 100 };
    char text[200];
    child_process c;
    child_result r;
    int sent = 0;

    memset(text, 'x', sizeof(text));
    SANCTUM_STATS before = stats_now();
    if (!start_ctl(L"watch --json --types mark --queue 16K --count 100 --timeout 60", 0, &c))
        return;
    ok(wait_for(1, WATCH_REQUESTS), "the watcher did not subscribe\n");
    ok(SuspendThread(c.pi.hThread) != (DWORD)-1, "SuspendThread: error %lu\n", GetLastError());
    for (int i = 0; i < BURST; i++)
        sent += SanctumSendMark(marks, text, sizeof(text)) == ERROR_SUCCESS;
    ok(sent == BURST, "%d of %d marks sent\n", sent, BURST);
    ok(ResumeThread(c.pi.hThread) != (DWORD)-1, "ResumeThread: error %lu\n", GetLastError());
    ok(wait_for(1, WATCH_REQUESTS), "the watcher did not drain its queue\n");
    SANCTUM_STATS after = stats_now();
    ULONG64 dropped = after.EventsDropped - before.EventsDropped;
    /* Then one mark at a time until the watcher has its count. */
    while (sent < 2 * BURST && WaitForSingleObject(c.pi.hProcess, 0) == WAIT_TIMEOUT &&
           SanctumSendMark(marks, "after", 5) == ERROR_SUCCESS) {
        sent++;
        wait_for(1, WATCH_REQUESTS);
    }
    child_finish(&c, 30000, &r);

    char want[64], line[512];
    snprintf(want, sizeof(want), "watched %d events, %llu dropped", COUNT,
             (unsigned long long)dropped);
    ok(r.exit_code == 0 && strstr(r.err, want) != NULL, "exit %lu, '%s', expected '%s'\n",
       r.exit_code, r.err, want);
    ok(dropped > 0 && dropped < BURST, "the driver dropped %llu of %d\n",
       (unsigned long long)dropped, BURST);
    ok(count_lines(r.out) == COUNT, "%d lines\n", count_lines(r.out));
    ok(line_of(r.out, COUNT - 1, line, sizeof(line)) &&
           json_number(line, "sequence") == (long long)(COUNT + dropped),
       "the last line's sequence is not %llu: %s\n", (unsigned long long)(COUNT + dropped), line);
    after = stats_now();
    ok(after.EventsDropped - before.EventsDropped == dropped, "drops after the burst\n");
}

/* Ctrl+C (a console control event) ends a watch cleanly with its summary. */
static void test_ctrl_c(void)
{
    child_process c;
    child_result r;

    if (!start_ctl(L"watch --types mark --timeout 30", CREATE_NEW_PROCESS_GROUP, &c))
        return;
    ok(wait_for(1, WATCH_REQUESTS), "the watcher did not subscribe\n");
    send_mark("before ctrl+c", 13);
    Sleep(200);
    if (!GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, c.pi.dwProcessId)) {
        skip("Ctrl+C: this platform delivers no console control event to the watcher "
             "(GenerateConsoleCtrlEvent: error %lu; Wine 8 has no console here)\n",
             GetLastError());
        child_finish(&c, 0, &r);
        wait_for(0, 0);
        return;
    }
    child_finish(&c, 10000, &r);
    ok(r.exit_code == 0 && strstr(r.err, "watched 1 events, 0 dropped (interrupted)") != NULL,
       "watch after Ctrl+Break: exit %lu, err '%s'\n", r.exit_code, r.err);
}

/*
 * sanctumctl stop with a watcher attached: stop sends DISCONNECT first, so the watcher says the
 * driver is stopping and exits 1, closing its handle, and the driver unloads with nothing left
 * (on Windows too, where the unload waits for that handle).
 */
void test_watch_stop(void)
{
    child_process c;
    child_result r, stop;
    char want[64];
    int clean = log_count("unloaded, pool outstanding: 0 allocations, 0 bytes");
    ULONG64 allocations = 0, bytes = 0;
    HANDLE h;

    ok(unload_record(SANCTUM_SERVICE_NAME, &allocations, &bytes) &&
           allocations == SANCTUM_UNLOAD_PENDING && bytes == SANCTUM_UNLOAD_PENDING,
       "while loaded, the service key says %llx %llx, not the pending marker\n", allocations,
       bytes);

    if (!start_ctl(L"watch --types mark --timeout 60", 0, &c))
        return;
    /* This suite's own handle must be closed for the stop: Windows would wait for it. */
    marks = device_open(GENERIC_READ | GENERIC_WRITE);
    ok(wait_for(1, WATCH_REQUESTS), "the watcher did not subscribe\n");
    send_mark("before stop", 11);
    CloseHandle(marks);
    marks = INVALID_HANDLE_VALUE;
    Sleep(200);
    run_ctl(L"stop", &stop);
    child_finish(&c, 10000, &r);
    ok(stop.exit_code == 0 && strstr(stop.out, "stopped") != NULL,
       "stop with a watcher: exit %lu: %s%s\n", stop.exit_code, stop.out, stop.err);
    ok(r.exit_code == 1 && count_lines(r.err) == 1 &&
           strstr(r.err, "watch: the driver is stopping") != NULL &&
           strstr(r.err, "watched 1 events, 0 dropped") != NULL,
       "the watcher at the stop: exit %lu, stderr '%s'\n", r.exit_code, r.err);
    snprintf(want, sizeof(want), "mark from pid %lu \"before stop\"", GetCurrentProcessId());
    ok(count_lines(r.out) == 1 && strstr(r.out, want) != NULL, "the watcher's output: '%s'\n",
       r.out);
    /* The unload line, and (readable on Windows too) the same figures under the service key. */
    if (log_available())
        ok(log_wait_more("unloaded, pool outstanding: 0 allocations, 0 bytes", clean),
           "the unload after a stop with a watcher did not report 0 0\n");
    ok(unload_recorded_clean(SANCTUM_SERVICE_NAME),
       "the unload after a stop with a watcher did not record 0 0 under the service key\n");
    h = device_open(0);
    ok(h == INVALID_HANDLE_VALUE, "the device still opens after the stop\n");
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
}

void test_watch(const wchar_t *ctl)
{
    child_result r;

    wcsncpy(ctl_path, ctl, ARRAYSIZE(ctl_path) - 1);
    marks = device_open(GENERIC_READ | GENERIC_WRITE);
    if (!ok(marks != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    test_json();
    test_text_and_two_watchers();
    test_timeout();
    test_drops();
    test_ctrl_c();

    /* Every watcher is gone, and with it every subscription and pending request. */
    ok(wait_for(0, 0), "subscriptions or requests left behind\n");
    run_ctl(L"stats --json", &r);
    ok(strstr(r.out, "\"Subscriptions\":0,\"PendingRequests\":0,") != NULL, "stats: %s\n",
       r.out);
    CloseHandle(marks);
}
