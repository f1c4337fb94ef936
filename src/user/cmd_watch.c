/* SPDX-License-Identifier: MIT */
/*
 * watch: subscribes, keeps several GET_EVENTS requests pending and prints each event as it
 * arrives, as a line of text or one JSON object per line. --count, --timeout or Ctrl+C end
 * it; then it says on stderr how many events it saw and how many the driver dropped (the gaps
 * in Sequence). When the driver is about to stop (DISCONNECT), it says so and exits 1.
 */
#include "sanctumctl.h"

#include <stdio.h>
#include <string.h>

#define WATCH_REQUESTS 4
/* The longest record's strings (2,016 characters), each escaped to at most 6: room to spare. */
#define LINE_CHARS 16384
#define MAX_TIMEOUT_S (0xFFFFFFFEu / 1000)

struct watch_options {
    int json;
    ULONG types;
    ULONG count;      /* 0: no limit */
    DWORD timeout_ms; /* 0: no limit */
    ULONG queue_bytes;
};

struct line {
    wchar_t text[LINE_CHARS];
    size_t len;
};

/* ---- Arguments ---------------------------------------------------------------------------- */

static const struct {
    const wchar_t *name;
    ULONG mask;
} type_names[] = {
    { L"process", SANCTUM_EVENT_MASK(SANCTUM_EVENT_PROCESS_CREATE) |
                  SANCTUM_EVENT_MASK(SANCTUM_EVENT_PROCESS_EXIT) },
    { L"thread",  SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_CREATE) |
                  SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_EXIT) },
    { L"image",   SANCTUM_EVENT_MASK(SANCTUM_EVENT_IMAGE_LOAD) },
    { L"mark",    SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK) },
};

/* A comma-separated list of type_names into a mask; 0 if a name is not one of them. */
static ULONG parse_types(const wchar_t *list)
{
    ULONG mask = 0;

    for (const wchar_t *p = list;;) {
        size_t n = wcscspn(p, L",");
        size_t i = 0;
        while (i < sizeof type_names / sizeof type_names[0] &&
               !(wcslen(type_names[i].name) == n && wcsncmp(type_names[i].name, p, n) == 0))
            i++;
        if (i == sizeof type_names / sizeof type_names[0])
            return 0;
        mask |= type_names[i].mask;
        if (p[n] == L'\0')
            return mask;
        p += n + 1;
    }
}

static int parse_options(int argc, wchar_t **argv, struct watch_options *o)
{
    ULONG seconds;

    memset(o, 0, sizeof *o);
    o->types = SANCTUM_EVENT_ALL;
    for (int i = 0; i < argc; i++) {
        const wchar_t *opt = argv[i];
        if (wcscmp(opt, L"--json") == 0) {
            o->json = 1;
            continue;
        }
        if (wcscmp(opt, L"--types") != 0 && wcscmp(opt, L"--count") != 0 &&
            wcscmp(opt, L"--timeout") != 0 && wcscmp(opt, L"--queue") != 0)
            return command_usage_error(L"watch", L"unknown option '%.64ls'", opt);
        if (i + 1 == argc)
            return command_usage_error(L"watch", L"%ls needs a value", opt);
        const wchar_t *value = argv[++i];
        if (wcscmp(opt, L"--types") == 0) {
            o->types = parse_types(value);
            if (o->types == 0)
                return command_usage_error(L"watch",
                                           L"--types takes a comma-separated list of process, "
                                           L"thread, image and mark; got '%.64ls'",
                                           value);
        } else if (wcscmp(opt, L"--count") == 0) {
            if (!parse_ulong(value, &o->count) || o->count == 0)
                return command_usage_error(L"watch",
                                           L"--count takes a number of events from 1 to "
                                           L"4294967295; got '%.64ls'",
                                           value);
        } else if (wcscmp(opt, L"--timeout") == 0) {
            if (!parse_ulong(value, &seconds) || seconds == 0 || seconds > MAX_TIMEOUT_S)
                return command_usage_error(L"watch",
                                           L"--timeout takes seconds from 1 to %lu; got '%.64ls'",
                                           (unsigned long)MAX_TIMEOUT_S, value);
            o->timeout_ms = seconds * 1000;
        } else if (!parse_size(value, SANCTUM_MAX_QUEUE_BYTES, &o->queue_bytes) ||
                   o->queue_bytes < SANCTUM_MIN_QUEUE_BYTES) {
            return command_usage_error(L"watch",
                                       L"--queue takes bytes from %luK to %luM (K = KiB, M = "
                                       L"MiB); got '%.64ls'",
                                       (unsigned long)(SANCTUM_MIN_QUEUE_BYTES / 1024),
                                       (unsigned long)(SANCTUM_MAX_QUEUE_BYTES / (1024 * 1024)),
                                       value);
        }
    }
    return EXIT_OK;
}

/* ---- One line per event -------------------------------------------------------------------- */

static void put(struct line *l, const wchar_t *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(l->text + l->len, LINE_CHARS - l->len, fmt, ap);
    va_end(ap);
    l->len += wcslen(l->text + l->len);
}

static void put_char(struct line *l, wchar_t c)
{
    if (l->len + 1 < LINE_CHARS) {
        l->text[l->len++] = c;
        l->text[l->len] = L'\0';
    }
}

/*
 * UTF-16 from a record, on one line: a lone surrogate becomes U+FFFD (so the UTF-8 output is
 * valid); JSON escapes quotes, backslashes and control characters, text shows those as U+FFFD.
 */
static void put_string(struct line *l, const WCHAR *s, ULONG n, int json)
{
    for (ULONG i = 0; i < n; i++) {
        wchar_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            put_char(l, c);
            put_char(l, s[++i]);
            continue;
        }
        if (c >= 0xD800 && c <= 0xDFFF)
            c = 0xFFFD;
        if (!json) {
            put_char(l, c < 0x20 || c == 0x7F ? 0xFFFD : c);
        } else if (c == L'"' || c == L'\\') {
            put_char(l, L'\\');
            put_char(l, c);
        } else if (c == L'\n') {
            put(l, L"\\n");
        } else if (c == L'\t') {
            put(l, L"\\t");
        } else if (c == L'\r') {
            put(l, L"\\r");
        } else if (c < 0x20) {
            put(l, L"\\u%04X", (unsigned)c);
        } else {
            put_char(l, c);
        }
    }
}

static void put_quoted(struct line *l, const WCHAR *s, ULONG n, int json)
{
    put_char(l, L'"');
    put_string(l, s, n, json);
    put_char(l, L'"');
}

/* A mark's bytes as UTF-8 text (invalid sequences become U+FFFD). */
static void put_mark_text(struct line *l, const unsigned char *data, ULONG len, int json)
{
    wchar_t text[SANCTUM_MAX_EVENT_SIZE];
    int n = len == 0 ? 0
                     : MultiByteToWideChar(CP_UTF8, 0, (const char *)data, (int)len, text,
                                           (int)(sizeof text / sizeof text[0]));

    put_quoted(l, text, n > 0 ? (ULONG)n : 0, json);
}

/* The library's type names are ASCII. */
static void put_ascii(struct line *l, const char *s)
{
    while (*s != '\0')
        put_char(l, (wchar_t)*s++);
}

static void put_u64(struct line *l, ULONG64 value)
{
    wchar_t digits[21];

    put(l, L"%ls", u64_text(value, digits));
}

static void put_hex64(struct line *l, ULONG64 value)
{
    put(l, L"0x%08lX%08lX", (unsigned long)(value >> 32), (unsigned long)(value & 0xFFFFFFFF));
}

/* JSON: UTC in ISO 8601 to 100 ns; text: the local time of day to the microsecond. */
static void put_time(struct line *l, LONG64 time, int json)
{
    ULONG64 t = (ULONG64)time;
    FILETIME utc = { (DWORD)t, (DWORD)(t >> 32) }, local;
    SYSTEMTIME st;

    if (json && FileTimeToSystemTime(&utc, &st))
        put(l, L"\"%04u-%02u-%02uT%02u:%02u:%02u.%07luZ\"", st.wYear, st.wMonth, st.wDay,
            st.wHour, st.wMinute, st.wSecond, (unsigned long)(t % 10000000));
    else if (!json && FileTimeToLocalFileTime(&utc, &local) && FileTimeToSystemTime(&local, &st))
        put(l, L"%02u:%02u:%02u.%06lu", st.wHour, st.wMinute, st.wSecond,
            (unsigned long)(t % 10000000 / 10));
    else
        put(l, json ? L"null" : L"??:??:??");
}

/* key (JSON) or label (text) before a value; the first JSON key has no comma. */
static void put_key(struct line *l, const wchar_t *key, const wchar_t *label, int json)
{
    if (json)
        put(l, L",\"%ls\":", key);
    else if (label != NULL)
        put(l, L" %ls ", label);
    else
        put_char(l, L' ');
}

static void put_flags(struct line *l, ULONG flags, int json)
{
    if (json) {
        put(l, L",\"flags\":%lu", (unsigned long)flags);
        return;
    }
    if (flags & SANCTUM_EVENT_FLAG_NAME_TRUNCATED)
        put(l, L" [name cut]");
    if (flags & SANCTUM_EVENT_FLAG_COMMAND_LINE_TRUNCATED)
        put(l, L" [command line cut]");
    if (flags & SANCTUM_EVENT_FLAG_NAME_MISSING)
        put(l, L" [no name]");
    if (flags & SANCTUM_EVENT_FLAG_NAME_PARTIAL)
        put(l, L" [name partial]");
}

static void format_body(struct line *l, const SANCTUM_EVENT *e, int json)
{
    const SANCTUM_PROCESS_CREATE *pc = SanctumEventProcessCreate(e);
    const SANCTUM_PROCESS_EXIT *pe = SanctumEventProcessExit(e);
    const SANCTUM_THREAD *th = SanctumEventThread(e);
    const SANCTUM_IMAGE_LOAD *im = SanctumEventImageLoad(e);

    if (pc != NULL) {
        put_key(l, L"pid", L"pid", json);
        put_u64(l, pc->ProcessId);
        put_key(l, L"parent_pid", L"parent", json);
        put_u64(l, pc->ParentProcessId);
        put_key(l, L"creating_pid", L"by", json);
        put_u64(l, pc->CreatingProcessId);
        put(l, json ? L",\"creating_tid\":" : L":");
        put_u64(l, pc->CreatingThreadId);
        put_key(l, L"image", NULL, json);
        put_quoted(l, e->Name.Chars, e->Name.Length, json);
        put_key(l, L"command_line", L"command line", json);
        put_quoted(l, e->CommandLine.Chars, e->CommandLine.Length, json);
    } else if (pe != NULL) {
        put_key(l, L"pid", L"pid", json);
        put_u64(l, pe->ProcessId);
        put_key(l, L"exit_status", L"status", json);
        put(l, json ? L"%lu" : L"0x%08lX", (unsigned long)(ULONG)pe->ExitStatus);
    } else if (th != NULL) {
        put_key(l, L"pid", L"pid", json);
        put_u64(l, th->ProcessId);
        put_key(l, L"tid", L"tid", json);
        put_u64(l, th->ThreadId);
    } else if (im != NULL) {
        int kernel = (im->Properties & SANCTUM_IMAGE_KERNEL) != 0;
        if (json) {
            put(l, L",\"pid\":");
            put_u64(l, im->ProcessId);
            put(l, L",\"kernel\":%ls", kernel ? L"true" : L"false");
        } else if (kernel) {
            put(l, L" kernel");
        } else {
            put(l, L" pid ");
            put_u64(l, im->ProcessId);
        }
        put_key(l, L"base", L"base", json);
        if (json)
            put_char(l, L'"');
        put_hex64(l, im->ImageBase);
        if (json)
            put_char(l, L'"');
        put_key(l, L"size", L"size", json);
        put_u64(l, im->ImageSize);
        put_key(l, L"name", NULL, json);
        put_quoted(l, e->Name.Chars, e->Name.Length, json);
    } else if (SanctumEventMark(e) != NULL) {
        put_key(l, L"pid", L"from pid", json);
        put_u64(l, SanctumEventMark(e)->SenderProcessId);
        put_key(l, L"text", NULL, json);
        put_mark_text(l, e->Data, e->DataLength, json);
        put_key(l, L"bytes", L"bytes", json);
        put(l, L"%lu", (unsigned long)e->DataLength);
    }
}

static void print_event(struct line *l, const SANCTUM_EVENT *e, int json)
{
    const SANCTUM_EVENT_HEADER *h = e->Header;
    const char *type = SanctumEventTypeName(h->Type);

    l->len = 0;
    l->text[0] = L'\0';
    if (json) {
        put(l, L"{\"sequence\":");
        put_u64(l, h->Sequence);
        put(l, L",\"time\":");
        put_time(l, h->Time, json);
        put(l, L",\"type\":\"");
        put_ascii(l, type != NULL ? type : "unknown");
        put_char(l, L'"');
        if (type == NULL)
            put(l, L",\"type_id\":%u,\"size\":%u", (unsigned)h->Type, (unsigned)h->Size);
    } else {
        put_time(l, h->Time, json);
        put(l, L" #");
        put_u64(l, h->Sequence);
        put_char(l, L' ');
        if (type != NULL)
            put_ascii(l, type);
        else
            put(l, L"type %u (unknown to this client, %u bytes)", (unsigned)h->Type,
                (unsigned)h->Size);
    }
    format_body(l, e, json);
    if (type != NULL)
        put_flags(l, h->Flags, json);
    if (json)
        put_char(l, L'}');
    out(L"%ls\n", l->text);
}

/* ---- The watch loop ------------------------------------------------------------------------- */

/*
 * The driver disconnected this watcher (sanctumctl stop sends DISCONNECT before it asks the
 * SCM to stop the driver): one line, and exit 1. The handle closes as the watcher exits, which
 * is what lets Windows unload the driver.
 */
static int stopping_line(const wchar_t *seen, const wchar_t *dropped)
{
    err_line(PROGRAM L": watch: the driver is stopping (it disconnected this watcher); watched "
             L"%ls events, %ls dropped\n",
             seen, dropped);
    return EXIT_FAILED;
}

/* The console control handler may run while the loop ends: the lock keeps the reader alive. */
static SRWLOCK watch_lock = SRWLOCK_INIT;
static SANCTUM_READER *watch_reader;
static volatile LONG interrupted;

static BOOL WINAPI on_console_control(DWORD type)
{
    if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT)
        return FALSE;
    AcquireSRWLockExclusive(&watch_lock);
    if (watch_reader != NULL) {
        InterlockedExchange(&interrupted, 1);
        SanctumReaderCancel(watch_reader);
    }
    ReleaseSRWLockExclusive(&watch_lock);
    return TRUE;
}

struct watch_counts {
    ULONG64 seen;
    ULONG64 dropped;
    ULONG64 next_sequence;
};

/* Prints a batch's records; EXIT_OK, or the failure line for a corrupt one. */
static int print_batch(const void *batch, DWORD length, const struct watch_options *o,
                       struct watch_counts *c, struct line *l)
{
    SANCTUM_WALK walk;
    SANCTUM_EVENT e;
    ULONG status;

    SanctumWalkBegin(&walk, batch, length);
    while ((o->count == 0 || c->seen < o->count) &&
           (status = SanctumWalkNext(&walk, &e)) == SANCTUM_WALK_OK) {
        /* Sequence counts every event of the subscription, dropped or not. */
        if (e.Header->Sequence > c->next_sequence)
            c->dropped += e.Header->Sequence - c->next_sequence;
        if (e.Header->Sequence >= c->next_sequence)
            c->next_sequence = e.Header->Sequence + 1;
        c->seen++;
        print_event(l, &e, o->json);
    }
    if (o->count != 0 && c->seen >= o->count)
        return EXIT_OK;
    if (status == SANCTUM_WALK_CORRUPT)
        return fail_because(L"watch", ERROR_INVALID_DATA,
                            L"a corrupt record at byte %lu of a %lu-byte batch: driver and "
                            L"client are from different builds",
                            (unsigned long)SanctumWalkOffset(&walk, batch), length);
    return EXIT_OK;
}

static int watch_events(HANDLE device, const struct watch_options *o, struct line *l)
{
    struct watch_counts c = { 0, 0, 1 };
    SANCTUM_READER *reader;
    const void *batch;
    DWORD length, start = GetTickCount();
    int rc = EXIT_OK, timed_out = 0, disconnected = 0;

    DWORD error = SanctumReaderCreate(device, WATCH_REQUESTS, 0, &reader);
    if (error != ERROR_SUCCESS)
        return fail(L"watch: wait for events", error, CTX_DEVICE);
    AcquireSRWLockExclusive(&watch_lock);
    watch_reader = reader;
    ReleaseSRWLockExclusive(&watch_lock);
    SetConsoleCtrlHandler(on_console_control, TRUE);

    while (rc == EXIT_OK && (o->count == 0 || c.seen < o->count)) {
        DWORD wait = INFINITE;
        if (o->timeout_ms != 0) {
            DWORD elapsed = GetTickCount() - start;
            if (elapsed >= o->timeout_ms) {
                timed_out = 1;
                break;
            }
            wait = o->timeout_ms - elapsed;
        }
        error = SanctumReaderWait(reader, wait, &batch, &length);
        if (error == ERROR_TIMEOUT)
            continue;
        if (error == ERROR_OPERATION_ABORTED && interrupted)
            break;
        if (error == SANCTUM_ERROR_DISCONNECTED) {
            disconnected = 1;
            rc = EXIT_FAILED;
        } else if (error != ERROR_SUCCESS)
            rc = fail_because(L"watch: wait for events", error,
                              L"the driver ended the request (stopped, or the handle closed) "
                              L"after %lu events",
                              (unsigned long)c.seen);
        else
            rc = print_batch(batch, length, o, &c, l);
    }

    SetConsoleCtrlHandler(on_console_control, FALSE);
    AcquireSRWLockExclusive(&watch_lock);
    watch_reader = NULL;
    ReleaseSRWLockExclusive(&watch_lock);
    SanctumReaderDestroy(reader);

    wchar_t seen[21], dropped[21];
    if (disconnected)
        return stopping_line(u64_text(c.seen, seen), u64_text(c.dropped, dropped));
    if (rc != EXIT_OK)
        return rc;
    if (timed_out && o->count != 0)
        return fail_because(L"watch", ERROR_TIMEOUT, L"%ls of %lu events in %lu s, %ls dropped",
                            u64_text(c.seen, seen), (unsigned long)o->count,
                            (unsigned long)(o->timeout_ms / 1000), u64_text(c.dropped, dropped));
    err_line(L"watched %ls events, %ls dropped%ls\n", u64_text(c.seen, seen),
             u64_text(c.dropped, dropped), interrupted ? L" (interrupted)" : L"");
    return EXIT_OK;
}

int cmd_watch(int argc, wchar_t **argv)
{
    static struct line line;
    struct watch_options o;
    SANCTUM_VERSION v;
    HANDLE device;

    int rc = parse_options(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;

    /* SUBSCRIBE needs read and write access. */
    DWORD error = SanctumOpen(GENERIC_READ | GENERIC_WRITE, FILE_FLAG_OVERLAPPED, &device);
    if (error != ERROR_SUCCESS)
        return fail_open(L"watch", error);
    error = SanctumCheckProtocol(device, &v);
    if (error == ERROR_REVISION_MISMATCH)
        rc = fail_because(L"watch", error,
                          L"the driver speaks protocol %lu, this client protocol %lu: install "
                          L"a driver and client from the same build",
                          v.Protocol, (unsigned long)SANCTUM_PROTOCOL_VERSION);
    else if (error != ERROR_SUCCESS)
        rc = fail(L"watch: GET_VERSION", error, CTX_DEVICE);
    else if ((error = SanctumSubscribe(device, o.types, o.queue_bytes)) == ERROR_NOT_ENOUGH_QUOTA)
        rc = fail_because(L"watch: subscribe", error,
                          L"the driver has its %lu subscriptions or %lu MiB of queues already, "
                          L"or this process its %lu: end another watcher, or ask for a smaller "
                          L"--queue",
                          (unsigned long)SANCTUM_MAX_SUBSCRIPTIONS,
                          (unsigned long)(SANCTUM_MAX_TOTAL_QUEUE_BYTES / (1024 * 1024)),
                          (unsigned long)SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS);
    else if (error == SANCTUM_ERROR_DISCONNECTED)
        rc = stopping_line(L"0", L"0");
    else if (error != ERROR_SUCCESS)
        rc = fail(L"watch: subscribe", error, CTX_DEVICE);
    else
        rc = watch_events(device, &o, &line);
    SanctumClose(device);
    return rc;
}
