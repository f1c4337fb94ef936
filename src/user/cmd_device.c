/* SPDX-License-Identifier: MIT */
/*
 * The commands that talk to the device: version, echo, stats, fill, roundtrip (the message
 * queues of protocol 1) and mark.
 */
#include "sanctumctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One message of the handle's queue: a write queues `len` bytes, a read takes the oldest. */
static DWORD device_write(HANDLE device, const void *data, DWORD len, DWORD *written)
{
    *written = 0;
    if (!WriteFile(device, data, len, written, NULL))
        return GetLastError();
    return ERROR_SUCCESS;
}

static DWORD device_read(HANDLE device, void *buf, DWORD cap, DWORD *got)
{
    *got = 0;
    if (!ReadFile(device, buf, cap, got, NULL))
        return GetLastError();
    return ERROR_SUCCESS;
}
/* EXIT_OK when what came back is what was sent (echo, message queues), else the failure line. */
static int check_same(const wchar_t *op, const char *sent, DWORD sent_len, const char *back,
                      DWORD back_len)
{
    DWORD i = 0;

    if (back_len != sent_len)
        return fail_because(op, ERROR_INVALID_DATA, L"%lu bytes were sent, %lu came back",
                            sent_len, back_len);
    while (i < sent_len && sent[i] == back[i])
        i++;
    if (i == sent_len)
        return EXIT_OK;
    return fail_because(op, ERROR_INVALID_DATA,
                        L"the bytes that came back differ from those sent at offset %lu", i);
}

/* The protocol carries 1..max bytes: anything else is a usage error, not a driver failure. */
static int check_text_arg(const wchar_t *command, const wchar_t *text, DWORD max)
{
    DWORD len = utf8_length(text);

    if (len >= 1 && len <= max)
        return EXIT_OK;
    return command_usage_error(command, L"TEXT must be 1 to %lu bytes of UTF-8, got %lu",
                               (unsigned long)max, len);
}

int cmd_version(int argc, wchar_t **argv)
{
    SANCTUM_VERSION v;
    HANDLE device;
    DWORD returned;

    (void)argc;
    (void)argv;
    out(L"client %ls protocol %lu\n", CLIENT_VERSION, (unsigned long)SANCTUM_PROTOCOL_VERSION);

    DWORD error = SanctumOpen(GENERIC_READ, 0, &device);
    if (error != ERROR_SUCCESS)
        return fail_open(L"version", error);
    error = SanctumGetVersion(device, &v, &returned);
    SanctumClose(device);

    if (error == ERROR_INVALID_DATA)
        return fail_layout(L"version", returned, v.Size, sizeof v);
    if (error != ERROR_SUCCESS)
        return fail(L"version", error, CTX_DEVICE);

    out(L"driver %lu.%lu.%lu protocol %lu\n", v.Major, v.Minor, v.Patch, v.Protocol);
    if (v.Protocol != SANCTUM_PROTOCOL_VERSION) {
        out(L"PROTOCOL MISMATCH\n");
        return fail_because(L"version", ERROR_REVISION_MISMATCH,
                            L"PROTOCOL MISMATCH: the driver speaks protocol %lu, this client "
                            L"protocol %lu: install a driver and client from the same build",
                            v.Protocol, (unsigned long)SANCTUM_PROTOCOL_VERSION);
    }
    out(L"protocols match\n");
    return EXIT_OK;
}

/* IOCTL_SANCTUM_ECHO; the output buffer is as large as the input: the contract's minimum. */
static int echo_and_check(HANDLE device, const char *sent, char *back, DWORD len)
{
    DWORD returned;

    DWORD error = SanctumIoctl(device, (DWORD)IOCTL_SANCTUM_ECHO, sent, len, back, len,
                               &returned);
    if (error != ERROR_SUCCESS)
        return fail(L"echo", error, CTX_DEVICE);
    int rc = check_same(L"echo", sent, len, back, returned);
    if (rc == EXIT_OK)
        out_utf8_line(back, returned);
    return rc;
}

int cmd_echo(int argc, wchar_t **argv)
{
    HANDLE device;

    (void)argc;
    int rc = check_text_arg(L"echo", argv[0], SANCTUM_MAX_ECHO);
    if (rc != EXIT_OK)
        return rc;
    DWORD len = utf8_length(argv[0]);
    char *sent = malloc(2 * (size_t)len);
    if (sent == NULL)
        return fail(L"echo", ERROR_NOT_ENOUGH_MEMORY, CTX_ANY);
    to_utf8(argv[0], sent, len);

    /* ECHO needs FILE_READ_DATA | FILE_WRITE_DATA on the handle. */
    DWORD error = SanctumOpen(GENERIC_READ | GENERIC_WRITE, 0, &device);
    rc = error != ERROR_SUCCESS ? fail_open(L"echo", error)
                                : echo_and_check(device, sent, sent + len, len);
    SanctumClose(device);
    free(sent);
    return rc;
}

/* Every field of SANCTUM_STATS: its label in the table, and its name as the JSON key. */
#define WIDE_(s) L##s
#define WIDE(s)  WIDE_(s)
#define STAT_FIELD(label, field) \
    { label, WIDE(#field), offsetof(SANCTUM_STATS, field), sizeof(((SANCTUM_STATS *)0)->field) }

static const struct stat_field {
    const wchar_t *label;
    const wchar_t *key;
    size_t offset;
    size_t size;
} stat_fields[] = {
    STAT_FIELD(L"size", Size),
    STAT_FIELD(L"open handles", OpenHandles),
    STAT_FIELD(L"creates", Creates),
    STAT_FIELD(L"closes", Closes),
    STAT_FIELD(L"reads", Reads),
    STAT_FIELD(L"writes", Writes),
    STAT_FIELD(L"ioctls", Ioctls),
    STAT_FIELD(L"failures", Failures),
    STAT_FIELD(L"bytes in", BytesIn),
    STAT_FIELD(L"bytes out", BytesOut),
    STAT_FIELD(L"pool allocations", PoolAllocations),
    STAT_FIELD(L"pool bytes", PoolBytes),
    STAT_FIELD(L"events queued", EventsQueued),
    STAT_FIELD(L"events dropped", EventsDropped),
    STAT_FIELD(L"subscriptions", Subscriptions),
    STAT_FIELD(L"pending requests", PendingRequests),
    STAT_FIELD(L"dropped no pool", EventsDroppedNoMemory),
    STAT_FIELD(L"message bytes", MessageBytes),
};

/* A field added to SANCTUM_STATS after MessageBytes must be added to stat_fields too. */
_Static_assert(offsetof(SANCTUM_STATS, MessageBytes) + sizeof(ULONG64) == sizeof(SANCTUM_STATS),
               "stat_fields must list every field of SANCTUM_STATS");

#define STAT_FIELD_COUNT (sizeof stat_fields / sizeof stat_fields[0])

static ULONG64 stat_value(const SANCTUM_STATS *stats, const struct stat_field *f)
{
    const unsigned char *p = (const unsigned char *)stats + f->offset;
    ULONG64 wide;
    ULONG narrow;

    if (f->size == sizeof wide) {
        memcpy(&wide, p, sizeof wide);
        return wide;
    }
    memcpy(&narrow, p, sizeof narrow);
    return narrow;
}

static void print_stats_table(const SANCTUM_STATS *stats)
{
    wchar_t number[21];

    for (size_t i = 0; i < STAT_FIELD_COUNT; i++)
        out(L"%-18ls%ls\n", stat_fields[i].label,
            u64_text(stat_value(stats, &stat_fields[i]), number));
}

/* One JSON object on one line, the struct's field names as keys. */
static void print_stats_json(const SANCTUM_STATS *stats)
{
    wchar_t line[1024], number[21];
    size_t used = 0;

    /* 18 keys of at most 21 characters and values of at most 20 digits fit with room to spare. */
    for (size_t i = 0; i < STAT_FIELD_COUNT; i++) {
        int n = swprintf(line + used, sizeof line / sizeof line[0] - used, L"%ls\"%ls\":%ls",
                         i == 0 ? L"{" : L",", stat_fields[i].key,
                         u64_text(stat_value(stats, &stat_fields[i]), number));
        if (n < 0)
            return;
        used += (size_t)n;
    }
    out(L"%ls}\n", line);
}

int cmd_stats(int argc, wchar_t **argv)
{
    SANCTUM_STATS stats;
    HANDLE device;
    DWORD returned;

    if (argc > 0 && wcscmp(argv[0], L"--json") != 0)
        return command_usage_error(L"stats", L"unknown option '%.64ls'", argv[0]);

    DWORD error = SanctumOpen(GENERIC_READ, 0, &device);
    if (error != ERROR_SUCCESS)
        return fail_open(L"stats", error);
    error = SanctumGetStats(device, &stats, &returned);
    SanctumClose(device);

    if (error == ERROR_INVALID_DATA)
        return fail_layout(L"stats", returned, stats.Size, sizeof stats);
    if (error != ERROR_SUCCESS)
        return fail(L"stats", error, CTX_DEVICE);
    if (argc > 0)
        print_stats_json(&stats);
    else
        print_stats_table(&stats);
    return EXIT_OK;
}

/* Throughput in MiB/s, to a tenth, as text in buf[32]. */
static const wchar_t *rate_text(ULONG bytes, LONGLONG ticks, LONGLONG frequency, wchar_t *buf)
{
    wchar_t whole[21];
    double mib_per_s = (double)bytes * (double)frequency / (double)(ticks > 0 ? ticks : 1) /
                       (1024.0 * 1024.0);
    ULONG64 tenths = (ULONG64)(mib_per_s * 10.0 + 0.5);

    swprintf(buf, 32, L"%ls.%u", u64_text(tenths / 10, whole), (unsigned)(tenths % 10));
    return buf;
}

/* IOCTL_SANCTUM_FILL into buf, timed; then every byte checked against the pattern. */
static int fill_and_check(HANDLE device, unsigned char *buf, ULONG size, ULONG seed)
{
    LARGE_INTEGER frequency, start, end;
    wchar_t rate[32];
    DWORD returned;
    ULONG i;

    QueryPerformanceFrequency(&frequency);
    QueryPerformanceCounter(&start);
    DWORD error = SanctumIoctl(device, (DWORD)IOCTL_SANCTUM_FILL, &seed, sizeof seed, buf, size,
                               &returned);
    QueryPerformanceCounter(&end);

    if (error != ERROR_SUCCESS)
        return fail(L"fill", error, CTX_DEVICE);
    if (returned != size)
        return fail_because(L"fill", ERROR_INVALID_DATA,
                            L"%lu bytes were asked for, the driver returned %lu", size, returned);
    for (i = 0; i < size && buf[i] == (unsigned char)(seed + i); i++)
        ;
    if (i < size)
        return fail_because(L"fill", ERROR_INVALID_DATA,
                            L"pattern error at offset %lu: byte 0x%02X, expected 0x%02X "
                            L"(seed 0x%08lX)",
                            i, (unsigned)buf[i], (unsigned)(unsigned char)(seed + i), seed);
    out(L"filled %lu bytes, pattern ok, %ls MiB/s\n", size,
        rate_text(size, end.QuadPart - start.QuadPart, frequency.QuadPart, rate));
    return EXIT_OK;
}

int cmd_fill(int argc, wchar_t **argv)
{
    ULONG size, seed = 0;
    HANDLE device;

    if (!parse_size(argv[0], SANCTUM_MAX_FILL, &size))
        return command_usage_error(L"fill",
                                   L"SIZE must be 1 to %lu bytes, optionally with K (KiB) or M "
                                   L"(MiB), e.g. 4K or 16M; got '%.64ls'",
                                   (unsigned long)SANCTUM_MAX_FILL, argv[0]);
    if (argc > 1 && !parse_ulong(argv[1], &seed))
        return command_usage_error(L"fill",
                                   L"SEED must be a decimal or 0x-prefixed hexadecimal number "
                                   L"up to 0xFFFFFFFF; got '%.64ls'",
                                   argv[1]);

    /* Page-aligned and committed up front: the driver writes it through an MDL. */
    unsigned char *buf = VirtualAlloc(NULL, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if (buf == NULL)
        return fail(L"fill: allocate the buffer", GetLastError(), CTX_ANY);
    DWORD error = SanctumOpen(GENERIC_READ, 0, &device);
    int rc = error != ERROR_SUCCESS ? fail_open(L"fill", error)
                                    : fill_and_check(device, buf, size, seed);
    SanctumClose(device);
    VirtualFree(buf, 0, MEM_RELEASE);
    return rc;
}

/* Queues each text as one message, in order; buf holds SANCTUM_MAX_MESSAGE bytes. */
static int write_messages(HANDLE device, int count, wchar_t **texts, char *buf)
{
    wchar_t op[64];
    DWORD written;

    for (int i = 0; i < count; i++) {
        DWORD len = to_utf8(texts[i], buf, SANCTUM_MAX_MESSAGE);
        DWORD error = device_write(device, buf, len, &written);
        swprintf(op, sizeof op / sizeof op[0], L"roundtrip: write message %u", (unsigned)i + 1);
        if (error == ERROR_BUSY)
            return fail_because(op, error, L"at most %lu messages can be queued on one handle",
                                (unsigned long)SANCTUM_MAX_QUEUED);
        if (error != ERROR_SUCCESS)
            return fail(op, error, CTX_DEVICE);
        if (written != len)
            return fail_because(op, ERROR_INVALID_DATA, L"the driver took %lu of %lu bytes",
                                written, len);
    }
    return EXIT_OK;
}

/* Reads until the queue is empty: the messages written, whole and in order, and no more. */
static int read_messages(HANDLE device, int count, wchar_t **texts, char *expected, char *got)
{
    wchar_t op[64];
    DWORD n;
    int i;

    for (i = 0; i <= count; i++) {
        swprintf(op, sizeof op / sizeof op[0], L"roundtrip: read message %u", (unsigned)i + 1);
        DWORD error = device_read(device, got, SANCTUM_MAX_MESSAGE, &n);
        if (error != ERROR_SUCCESS)
            return fail(op, error, CTX_DEVICE);
        if (n == 0)
            break;
        if (i == count)
            return fail_because(op, ERROR_INVALID_DATA,
                                L"%u messages were written, more came back", (unsigned)count);
        DWORD len = to_utf8(texts[i], expected, SANCTUM_MAX_MESSAGE);
        int rc = check_same(op, expected, len, got, n);
        if (rc != EXIT_OK)
            return rc;
        out_utf8_line(got, n);
    }
    if (i != count)
        return fail_because(op, ERROR_INVALID_DATA, L"%u messages were written, %u came back",
                            (unsigned)count, (unsigned)i);
    return EXIT_OK;
}

int cmd_roundtrip(int argc, wchar_t **argv)
{
    HANDLE device;

    for (int i = 0; i < argc; i++) {
        int rc = check_text_arg(L"roundtrip", argv[i], SANCTUM_MAX_MESSAGE);
        if (rc != EXIT_OK)
            return rc;
    }
    char *buf = malloc(2 * (size_t)SANCTUM_MAX_MESSAGE);
    if (buf == NULL)
        return fail(L"roundtrip", ERROR_NOT_ENOUGH_MEMORY, CTX_ANY);

    /* One handle for both: the queue belongs to the handle it was written to. */
    DWORD error = SanctumOpen(GENERIC_READ | GENERIC_WRITE, 0, &device);
    int rc = error != ERROR_SUCCESS ? fail_open(L"roundtrip", error)
                                    : write_messages(device, argc, argv, buf);
    if (rc == EXIT_OK)
        rc = read_messages(device, argc, argv, buf, buf + SANCTUM_MAX_MESSAGE);
    SanctumClose(device);
    free(buf);
    return rc;
}


int cmd_mark(int argc, wchar_t **argv)
{
    char text[SANCTUM_MAX_MARK];
    HANDLE device;

    (void)argc;
    int rc = check_text_arg(L"mark", argv[0], SANCTUM_MAX_MARK);
    if (rc != EXIT_OK)
        return rc;
    DWORD len = to_utf8(argv[0], text, sizeof text);

    /* MARK needs FILE_WRITE_DATA on the handle. */
    DWORD error = SanctumOpen(GENERIC_WRITE, 0, &device);
    if (error != ERROR_SUCCESS)
        return fail_open(L"mark", error);
    error = SanctumSendMark(device, text, len);
    SanctumClose(device);
    if (error != ERROR_SUCCESS)
        return fail(L"mark", error, CTX_DEVICE);
    out(L"sent a mark (%lu bytes)\n", len);
    return EXIT_OK;
}
