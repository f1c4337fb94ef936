/* SPDX-License-Identifier: MIT */
/* SanctumDeviceControl: every IOCTL of protocol v1 at its boundaries, and unknown codes. */
#include "unit.h"

#include <stdlib.h>

#define VERSION_BYTES ((ULONG)sizeof(SANCTUM_VERSION))
#define STATS_BYTES ((ULONG)sizeof(SANCTUM_STATS))

/* A fixed-size reply asked for with each output size in sizes: refused, nothing written. */
static void expect_too_small(PSANCTUM_STATE st, ULONG code, const ULONG *sizes, size_t count)
{
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR *out;
    size_t i;

    for (i = 0; i < count; i++) {
        out = canary_buffer(sizes[i]);
        status = dc(st, code, NULL, 0, out, sizes[i], &info);
        ok(status == STATUS_BUFFER_TOO_SMALL, "output %u: got 0x%08x\n", sizes[i], ST(status));
        ok(info == 0, "output %u: Information %llu\n", sizes[i], U64(info));
        ok(first_written(out, 0, sizes[i]) < 0, "output %u: byte %ld written\n", sizes[i],
           first_written(out, 0, sizes[i]));
        free(out);
    }
}

void test_version(void)
{
    static const ULONG too_small[] = { 0, 1, VERSION_BYTES - 1 };
    static const ULONG enough[] = { VERSION_BYTES, VERSION_BYTES + 1, 64, 4096 };
    SANCTUM_STATE st;
    SANCTUM_VERSION v;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR *out, in[100];
    size_t i;

    SanctumStateInit(&st);
    expect_too_small(&st, IOCTL_SANCTUM_GET_VERSION, too_small, ARRAYSIZE(too_small));
    status = dc(&st, IOCTL_SANCTUM_GET_VERSION, NULL, 0, NULL, VERSION_BYTES, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL, "NULL output: got 0x%08x\n", ST(status));
    ok(info == 0, "NULL output: Information %llu\n", U64(info));

    for (i = 0; i < ARRAYSIZE(enough); i++) {
        out = canary_buffer(enough[i]);
        status = dc(&st, IOCTL_SANCTUM_GET_VERSION, NULL, 0, out, enough[i], &info);
        ok(status == STATUS_SUCCESS, "output %u: got 0x%08x\n", enough[i], ST(status));
        ok(info == VERSION_BYTES, "output %u: Information %llu\n", enough[i], U64(info));
        memcpy(&v, out, sizeof(v));
        ok(v.Size == VERSION_BYTES && v.Protocol == SANCTUM_PROTOCOL_VERSION &&
               v.Major == SANCTUM_VERSION_MAJOR && v.Minor == SANCTUM_VERSION_MINOR &&
               v.Patch == SANCTUM_VERSION_PATCH,
           "output %u: size %u, protocol %u, version %u.%u.%u\n", enough[i], v.Size, v.Protocol,
           v.Major, v.Minor, v.Patch);
        ok(first_written(out, VERSION_BYTES, enough[i]) < 0, "output %u: byte %ld written\n",
           enough[i], first_written(out, VERSION_BYTES, enough[i]));
        free(out);
    }

    /* Input is ignored: a client of any protocol can ask. */
    memset(in, 0x5A, sizeof(in));
    out = canary_buffer(VERSION_BYTES);
    status = dc(&st, IOCTL_SANCTUM_GET_VERSION, in, sizeof(in), out, VERSION_BYTES, &info);
    ok(status == STATUS_SUCCESS && info == VERSION_BYTES, "with input: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    free(out);
    end_scenario(&st);
}

static void echo_case(PSANCTUM_STATE st, const UCHAR *in, ULONG in_len, ULONG out_size,
                      NTSTATUS expected)
{
    UCHAR *out = canary_buffer(out_size);
    ULONG_PTR info;
    NTSTATUS status = dc(st, IOCTL_SANCTUM_ECHO, in, in_len, out, out_size, &info);

    ok(status == expected, "input %u, output %u: got 0x%08x, expected 0x%08x\n", in_len,
       out_size, ST(status), ST(expected));
    if (NT_SUCCESS(expected)) {
        ok(info == in_len, "input %u, output %u: Information %llu\n", in_len, out_size, U64(info));
        ok(!memcmp(out, in, in_len), "input %u, output %u: the echo differs\n", in_len, out_size);
        ok(first_written(out, in_len, out_size) < 0, "input %u, output %u: byte %ld written\n",
           in_len, out_size, first_written(out, in_len, out_size));
    } else {
        ok(info == 0, "input %u, output %u: Information %llu\n", in_len, out_size, U64(info));
        ok(first_written(out, 0, out_size) < 0, "input %u, output %u: byte %ld written\n", in_len,
           out_size, first_written(out, 0, out_size));
    }
    free(out);
}

void test_echo(void)
{
    SANCTUM_STATE st;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR *in, *buf, *copy;

    SanctumStateInit(&st);
    in = xmalloc(SANCTUM_MAX_ECHO + 1);
    pattern(in, SANCTUM_MAX_ECHO + 1, 1);

    /* Input outside 1..SANCTUM_MAX_ECHO, whatever the output. */
    echo_case(&st, in, 0, 16, STATUS_INVALID_PARAMETER);
    echo_case(&st, in, 0, 0, STATUS_INVALID_PARAMETER);
    echo_case(&st, in, SANCTUM_MAX_ECHO + 1, SANCTUM_MAX_ECHO + 1, STATUS_INVALID_PARAMETER);
    echo_case(&st, in, SANCTUM_MAX_ECHO + 1, 0, STATUS_INVALID_PARAMETER);
    echo_case(&st, NULL, 10, 16, STATUS_INVALID_PARAMETER);

    echo_case(&st, in, 1, 1, STATUS_SUCCESS);
    echo_case(&st, in, 2, 2, STATUS_SUCCESS);
    echo_case(&st, in, 1, 64, STATUS_SUCCESS);
    echo_case(&st, in, 100, 4096, STATUS_SUCCESS);
    echo_case(&st, in, SANCTUM_MAX_ECHO - 1, SANCTUM_MAX_ECHO - 1, STATUS_SUCCESS);
    echo_case(&st, in, SANCTUM_MAX_ECHO, SANCTUM_MAX_ECHO, STATUS_SUCCESS);
    echo_case(&st, in, SANCTUM_MAX_ECHO, SANCTUM_MAX_ECHO + 100, STATUS_SUCCESS);

    /* Output smaller than the input. */
    echo_case(&st, in, 1, 0, STATUS_BUFFER_TOO_SMALL);
    echo_case(&st, in, 10, 9, STATUS_BUFFER_TOO_SMALL);
    echo_case(&st, in, SANCTUM_MAX_ECHO, SANCTUM_MAX_ECHO - 1, STATUS_BUFFER_TOO_SMALL);
    echo_case(&st, in, SANCTUM_MAX_ECHO, 0, STATUS_BUFFER_TOO_SMALL);
    status = dc(&st, IOCTL_SANCTUM_ECHO, in, 10, NULL, 10, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL && info == 0, "NULL output: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    status = dc(&st, IOCTL_SANCTUM_ECHO, in, 10, NULL, 0, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL && info == 0,
       "NULL output of 0 bytes: got 0x%08x, %llu bytes\n", ST(status), U64(info));

    /* METHOD_BUFFERED hands the handler one system buffer for input and output. */
    buf = xmalloc(SANCTUM_MAX_ECHO);
    copy = xmalloc(SANCTUM_MAX_ECHO);
    pattern(buf, SANCTUM_MAX_ECHO, 2);
    memcpy(copy, buf, SANCTUM_MAX_ECHO);
    status = dc(&st, IOCTL_SANCTUM_ECHO, buf, SANCTUM_MAX_ECHO, buf, SANCTUM_MAX_ECHO, &info);
    ok(status == STATUS_SUCCESS && info == SANCTUM_MAX_ECHO,
       "same buffer: got 0x%08x, %llu bytes\n", ST(status), U64(info));
    ok(!memcmp(buf, copy, SANCTUM_MAX_ECHO), "same buffer: contents changed\n");
    status = dc(&st, IOCTL_SANCTUM_ECHO, buf, 10, buf, 100, &info);
    ok(status == STATUS_SUCCESS && info == 10, "same buffer, larger output: got 0x%08x, %llu\n",
       ST(status), U64(info));
    ok(!memcmp(buf, copy, 100), "same buffer, larger output: contents changed\n");
    /* Overlapping buffers must be moved (ASan reports a memcpy between overlapping ones). */
    status = dc(&st, IOCTL_SANCTUM_ECHO, buf, 1000, buf + 1, 1000, &info);
    ok(status == STATUS_SUCCESS && info == 1000, "overlapping: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    ok(!memcmp(buf + 1, copy, 1000), "overlapping: the echo differs\n");
    free(buf);
    free(copy);
    free(in);
    end_scenario(&st);
}

/* The GET_STATS reply through the IOCTL, checked for size and canary. */
static SANCTUM_STATS stats_ioctl(PSANCTUM_STATE st)
{
    SANCTUM_STATS s;
    UCHAR *out = canary_buffer(STATS_BYTES + 8);
    ULONG_PTR info;
    NTSTATUS status = dc(st, IOCTL_SANCTUM_GET_STATS, NULL, 0, out, STATS_BYTES + 8, &info);

    ok(status == STATUS_SUCCESS && info == STATS_BYTES, "GET_STATS: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    ok(first_written(out, STATS_BYTES, STATS_BYTES + 8) < 0, "GET_STATS wrote past the reply\n");
    memcpy(&s, out, sizeof(s));
    free(out);
    return s;
}

static void test_stats_sizes(void)
{
    static const ULONG too_small[] = { 0, 1, SANCTUM_STATS_V1_SIZE - 1 };
    static const ULONG enough[] = { STATS_BYTES, STATS_BYTES + 1, 4096 };
    SANCTUM_STATE st;
    SANCTUM_STATS s;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR *out;
    size_t i;

    SanctumStateInit(&st);
    expect_too_small(&st, IOCTL_SANCTUM_GET_STATS, too_small, ARRAYSIZE(too_small));
    status = dc(&st, IOCTL_SANCTUM_GET_STATS, NULL, 0, NULL, STATS_BYTES, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL && info == 0, "NULL output: got 0x%08x, %llu bytes\n",
       ST(status), U64(info));
    for (i = 0; i < ARRAYSIZE(enough); i++) {
        out = canary_buffer(enough[i]);
        status = dc(&st, IOCTL_SANCTUM_GET_STATS, NULL, 0, out, enough[i], &info);
        ok(status == STATUS_SUCCESS && info == STATS_BYTES, "output %u: got 0x%08x, %llu bytes\n",
           enough[i], ST(status), U64(info));
        memcpy(&s, out, sizeof(s));
        ok(s.Size == STATS_BYTES, "output %u: Size %u\n", enough[i], s.Size);
        ok(first_written(out, STATS_BYTES, enough[i]) < 0, "output %u: byte %ld written\n",
           enough[i], first_written(out, STATS_BYTES, enough[i]));
        free(out);
    }
    /*
     * An earlier protocol's client gets the fields it knows: 88 to 111 bytes the protocol-1
     * fields, 112 to 127 those of protocol 2.
     */
    for (i = SANCTUM_STATS_V1_SIZE; i < STATS_BYTES; i++) {
        ULONG want = i < SANCTUM_STATS_V2_SIZE ? SANCTUM_STATS_V1_SIZE : SANCTUM_STATS_V2_SIZE;

        out = canary_buffer((ULONG)i);
        status = dc(&st, IOCTL_SANCTUM_GET_STATS, NULL, 0, out, (ULONG)i, &info);
        memcpy(&s, out, sizeof(s.Size));
        ok(status == STATUS_SUCCESS && info == want && s.Size == want,
           "earlier output %zu: got 0x%08x, %llu bytes, Size %u\n", i, ST(status), U64(info),
           s.Size);
        ok(first_written(out, want, (ULONG)i) < 0, "earlier output %zu: byte %ld written\n", i,
           first_written(out, want, (ULONG)i));
        free(out);
    }
    end_scenario(&st);
}

/* Every counter after each step of a known sequence, against a model kept alongside. */
static void test_stats_counters(void)
{
    SANCTUM_STATE st;
    SANCTUM_STATS e, s;
    PSANCTUM_HANDLE h1, h2;
    ULONG_PTR info;
    NTSTATUS status;
    UCHAR data[SANCTUM_MAX_MESSAGE + 1], buf[256], seed[4] = { 1, 2, 3, 4 };

    pattern(data, sizeof(data), 3);
    SanctumStateInit(&st);
    memset(&e, 0, sizeof(e));
    e.Size = STATS_BYTES;
    s = snap(&st);
    check_stats(&s, &e);

    /* The first GET_STATS counts itself in Ioctls, not in BytesOut; the next sees its bytes. */
    s = stats_ioctl(&st);
    e.Ioctls = 1;
    check_stats(&s, &e);
    s = stats_ioctl(&st);
    e.Ioctls = 2;
    e.BytesOut = STATS_BYTES;
    check_stats(&s, &e);
    e.BytesOut += STATS_BYTES;

    h1 = open_ok(&st);
    h2 = open_ok(&st);
    e.Creates = 2;
    e.OpenHandles = 2;
    e.PoolAllocations = 2;
    e.PoolBytes = 2 * HANDLE_BYTES;
    s = snap(&st);
    check_stats(&s, &e);

    status = wr(&st, h1, data, 10, &info);
    ok(status == STATUS_SUCCESS && info == 10, "write 10: got 0x%08x, %llu\n", ST(status), U64(info));
    e.Writes++, e.BytesIn += 10, e.PoolAllocations++, e.PoolBytes += MESSAGE_BYTES(10);
    status = wr(&st, h1, data, 0, &info);
    ok(status == STATUS_INVALID_PARAMETER, "write 0: got 0x%08x\n", ST(status));
    e.Writes++, e.Failures++;
    status = wr(&st, h2, data, SANCTUM_MAX_MESSAGE + 1, &info);
    ok(status == STATUS_INVALID_PARAMETER, "write max+1: got 0x%08x\n", ST(status));
    e.Writes++, e.Failures++;
    status = wr(&st, h2, data, 5, &info);
    ok(status == STATUS_SUCCESS && info == 5, "write 5: got 0x%08x, %llu\n", ST(status), U64(info));
    e.Writes++, e.BytesIn += 5, e.PoolAllocations++, e.PoolBytes += MESSAGE_BYTES(5);
    s = snap(&st);
    check_stats(&s, &e);

    status = rd(&st, h1, buf, 9, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL && info == 0, "read 9 of 10: got 0x%08x, %llu\n",
       ST(status), U64(info));
    e.Reads++, e.Failures++;
    status = rd(&st, h1, buf, sizeof(buf), &info);
    ok(status == STATUS_SUCCESS && info == 10, "read: got 0x%08x, %llu\n", ST(status), U64(info));
    e.Reads++, e.BytesOut += 10, e.PoolAllocations--, e.PoolBytes -= MESSAGE_BYTES(10);
    status = rd(&st, h1, buf, sizeof(buf), &info);
    ok(status == STATUS_SUCCESS && info == 0, "empty read: got 0x%08x, %llu\n", ST(status),
       U64(info));
    e.Reads++;
    s = snap(&st);
    check_stats(&s, &e);

    status = dc(&st, IOCTL_SANCTUM_GET_VERSION, NULL, 0, buf, sizeof(buf), &info);
    ok(status == STATUS_SUCCESS, "GET_VERSION: got 0x%08x\n", ST(status));
    e.Ioctls++, e.BytesOut += VERSION_BYTES;
    status = dc(&st, IOCTL_SANCTUM_GET_VERSION, NULL, 0, buf, VERSION_BYTES - 1, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL, "GET_VERSION too small: got 0x%08x\n", ST(status));
    e.Ioctls++, e.Failures++;
    status = dc(&st, IOCTL_SANCTUM_ECHO, data, 7, buf, sizeof(buf), &info);
    ok(status == STATUS_SUCCESS, "ECHO: got 0x%08x\n", ST(status));
    e.Ioctls++, e.BytesIn += 7, e.BytesOut += 7;
    status = dc(&st, IOCTL_SANCTUM_ECHO, data, 0, buf, sizeof(buf), &info);
    ok(status == STATUS_INVALID_PARAMETER, "ECHO 0: got 0x%08x\n", ST(status));
    e.Ioctls++, e.Failures++;
    status = dc(&st, IOCTL_SANCTUM_ECHO, data, 8, buf, 7, &info);
    ok(status == STATUS_BUFFER_TOO_SMALL, "ECHO too small: got 0x%08x\n", ST(status));
    e.Ioctls++, e.Failures++;
    status = dc(&st, IOCTL_SANCTUM_FILL, seed, sizeof(seed), buf, 100, &info);
    ok(status == STATUS_SUCCESS, "FILL: got 0x%08x\n", ST(status));
    e.Ioctls++, e.BytesIn += sizeof(seed), e.BytesOut += 100;
    status = dc(&st, IOCTL_SANCTUM_FILL, seed, 3, buf, 100, &info);
    ok(status == STATUS_INVALID_PARAMETER, "FILL 3-byte seed: got 0x%08x\n", ST(status));
    e.Ioctls++, e.Failures++;
    status = dc(&st, CTL_CODE(SANCTUM_DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_ANY_ACCESS), data,
                16, buf, sizeof(buf), &info);
    ok(status == STATUS_INVALID_DEVICE_REQUEST, "unknown code: got 0x%08x\n", ST(status));
    e.Ioctls++, e.Failures++;
    /* The input of GET_VERSION and GET_STATS is ignored, but counted: SanctumDeviceControl
     * adds the input length of every successful IOCTL to BytesIn. */
    status = dc(&st, IOCTL_SANCTUM_GET_VERSION, data, 3, buf, sizeof(buf), &info);
    ok(status == STATUS_SUCCESS, "GET_VERSION with input: got 0x%08x\n", ST(status));
    e.Ioctls++, e.BytesIn += 3, e.BytesOut += VERSION_BYTES;
    s = snap(&st);
    check_stats(&s, &e);

    close_h(&st, h1);
    e.OpenHandles--, e.Closes++, e.PoolAllocations--, e.PoolBytes -= HANDLE_BYTES;
    s = stats_ioctl(&st);
    e.Ioctls++;
    check_stats(&s, &e);
    e.BytesOut += STATS_BYTES;

    /* CLOSE without CLEANUP still frees what is queued (h2 holds 5 bytes). */
    SanctumClose(&st, h2);
    e.OpenHandles--, e.Closes++, e.PoolAllocations = 0, e.PoolBytes = 0;
    s = snap(&st);
    check_stats(&s, &e);
    end_scenario(&st);
}

void test_stats(void)
{
    test_stats_sizes();
    test_stats_counters();
}

static void fill_invalid(PSANCTUM_STATE st, const void *seed, ULONG seed_len, int null_output,
                         ULONG out_len)
{
    UCHAR *out = canary_buffer(out_len);
    ULONG_PTR info;
    NTSTATUS status = dc(st, IOCTL_SANCTUM_FILL, seed, seed_len, null_output ? NULL : out, out_len,
                         &info);

    ok(status == STATUS_INVALID_PARAMETER, "seed %u bytes, output %s%u: got 0x%08x\n", seed_len,
       null_output ? "NULL " : "", out_len, ST(status));
    ok(info == 0, "seed %u bytes, output %u: Information %llu\n", seed_len, out_len, U64(info));
    ok(first_written(out, 0, out_len) < 0, "seed %u bytes, output %u: byte %ld written\n", seed_len,
       out_len, first_written(out, 0, out_len));
    free(out);
}

/* FILL into an output of out_size bytes with out_len given; checks pattern and canary. */
static void fill_ok(PSANCTUM_STATE st, const UCHAR *seed_bytes, ULONG out_len, ULONG out_size)
{
    UCHAR *out = canary_buffer(out_size);
    ULONG_PTR info;
    NTSTATUS status = dc(st, IOCTL_SANCTUM_FILL, seed_bytes, sizeof(ULONG), out, out_len, &info);
    ULONG seed, i, bad = out_len;

    memcpy(&seed, seed_bytes, sizeof(seed));
    ok(status == STATUS_SUCCESS, "seed 0x%08x, output %u: got 0x%08x\n", seed, out_len, ST(status));
    ok(info == out_len, "seed 0x%08x, output %u: Information %llu\n", seed, out_len, U64(info));
    for (i = 0; i < out_len; i++)
        if (out[i] != (UCHAR)(seed + i)) {
            bad = i;
            break;
        }
    ok(bad == out_len, "seed 0x%08x, output %u: byte %u is 0x%02x, expected 0x%02x\n", seed,
       out_len, bad, bad < out_len ? out[bad] : 0, (UCHAR)(seed + bad));
    ok(first_written(out, out_len, out_size) < 0, "seed 0x%08x, output %u: byte %ld written\n",
       seed, out_len, first_written(out, out_len, out_size));
    free(out);
}

void test_fill(void)
{
    static const ULONG bad_seed_lengths[] = { 0, 1, 3, 5, 8 };
    SANCTUM_STATE st;
    ULONG seed;
    UCHAR raw[16];
    size_t i;

    SanctumStateInit(&st);
    memset(raw, 0x11, sizeof(raw));
    for (i = 0; i < ARRAYSIZE(bad_seed_lengths); i++)
        fill_invalid(&st, raw, bad_seed_lengths[i], 0, 64);
    fill_invalid(&st, NULL, sizeof(ULONG), 0, 64);
    fill_invalid(&st, raw, sizeof(ULONG), 1, 64);
    fill_invalid(&st, raw, sizeof(ULONG), 0, 0);
    fill_invalid(&st, raw, sizeof(ULONG), 0, SANCTUM_MAX_FILL + 1);

    seed = 0x41;
    memcpy(raw, &seed, sizeof(seed));
    fill_ok(&st, raw, 1, 1);
    fill_ok(&st, raw, 1, 17);
    seed = 0x12345678;
    memcpy(raw, &seed, sizeof(seed));
    fill_ok(&st, raw, SANCTUM_MAX_FILL, SANCTUM_MAX_FILL);
    fill_ok(&st, raw, SANCTUM_MAX_FILL - 1, SANCTUM_MAX_FILL);
    /* The seed wraps past 0xFFFFFFFF and the bytes past 0xFF. */
    seed = 0xFFFFFFFE;
    memcpy(raw, &seed, sizeof(seed));
    fill_ok(&st, raw, 1000, 1008);
    /* The seed is read as bytes: an unaligned one is fine (UBSan checks alignment). */
    seed = 0x80;
    memcpy(raw + 1, &seed, sizeof(seed));
    fill_ok(&st, raw + 1, 300, 300);
    end_scenario(&st);
}

/* The eight codes of protocol 3. */
static const ULONG known_codes[] = {
    IOCTL_SANCTUM_GET_VERSION, IOCTL_SANCTUM_ECHO,       IOCTL_SANCTUM_GET_STATS,
    IOCTL_SANCTUM_FILL,        IOCTL_SANCTUM_SUBSCRIBE,  IOCTL_SANCTUM_GET_EVENTS,
    IOCTL_SANCTUM_MARK,        IOCTL_SANCTUM_DISCONNECT,
};

/* What a known code answers to the sweep's call (4 bytes in, 128 out, no handle or IRP). */
static NTSTATUS sweep_status(ULONG code)
{
    if (code == IOCTL_SANCTUM_SUBSCRIBE)
        return STATUS_INVALID_PARAMETER; /* 4 bytes are not a SANCTUM_SUBSCRIBE */
    if (code == IOCTL_SANCTUM_GET_EVENTS)
        return STATUS_BUFFER_TOO_SMALL; /* 128 < SANCTUM_MAX_EVENT_SIZE */
    if (code == IOCTL_SANCTUM_DISCONNECT)
        return STATUS_INVALID_PARAMETER; /* it takes no input */
    return STATUS_SUCCESS;
}

static int is_known(ULONG code)
{
    size_t i;

    for (i = 0; i < ARRAYSIZE(known_codes); i++)
        if (code == known_codes[i])
            return 1;
    return 0;
}

void test_unknown(void)
{
    static const struct {
        ULONG Code;
        const char *What;
    } unknown[] = {
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_ANY_ACCESS), "function 0x804" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_READ_DATA),
          "protocol 2's SUBSCRIBE (read access only)" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x807, METHOD_BUFFERED, FILE_ANY_ACCESS),
          "DISCONNECT, any access" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x808, METHOD_BUFFERED, FILE_WRITE_DATA), "function 0x808" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x805, METHOD_BUFFERED, FILE_ANY_ACCESS), "function 0x805" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x7FF, METHOD_BUFFERED, FILE_ANY_ACCESS), "function 0x7FF" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0xFFF, METHOD_BUFFERED, FILE_ANY_ACCESS), "function 0xFFF" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x000, METHOD_BUFFERED, FILE_ANY_ACCESS), "function 0" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0xC00, METHOD_BUFFERED, FILE_ANY_ACCESS), "function 0xC00" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x800, METHOD_OUT_DIRECT, FILE_ANY_ACCESS),
          "GET_VERSION, METHOD_OUT_DIRECT" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x800, METHOD_NEITHER, FILE_ANY_ACCESS),
          "GET_VERSION, METHOD_NEITHER" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x800, METHOD_BUFFERED, FILE_READ_DATA),
          "GET_VERSION, FILE_READ_DATA" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x801, METHOD_NEITHER, FILE_READ_DATA | FILE_WRITE_DATA),
          "ECHO, METHOD_NEITHER" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS), "ECHO, any access" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x801, METHOD_BUFFERED, FILE_READ_DATA),
          "ECHO, FILE_READ_DATA only" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS),
          "GET_STATS, any access" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x802, METHOD_IN_DIRECT, FILE_READ_DATA),
          "GET_STATS, METHOD_IN_DIRECT" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x803, METHOD_BUFFERED, FILE_READ_DATA), "FILL, METHOD_BUFFERED" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x803, METHOD_OUT_DIRECT, FILE_ANY_ACCESS), "FILL, any access" },
        { CTL_CODE(SANCTUM_DEVICE_TYPE, 0x803, METHOD_OUT_DIRECT, FILE_READ_DATA | FILE_WRITE_DATA),
          "FILL, read and write access" },
        { CTL_CODE(0x22u, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS), "FILE_DEVICE_UNKNOWN, 0x800" },
        { CTL_CODE(0x22u, 0x803, METHOD_OUT_DIRECT, FILE_READ_DATA), "FILE_DEVICE_UNKNOWN, 0x803" },
        { CTL_CODE(0x8A5Du, 0x801, METHOD_BUFFERED, FILE_READ_DATA | FILE_WRITE_DATA),
          "device type 0x8A5D, ECHO" },
        { CTL_CODE(0x0A5Cu, 0x802, METHOD_BUFFERED, FILE_READ_DATA), "device type 0x0A5C, GET_STATS" },
        { 0, "code 0" },
        { 0xFFFFFFFFu, "code 0xFFFFFFFF" },
    };
    SANCTUM_STATE st;
    SANCTUM_STATS s;
    ULONG_PTR info;
    NTSTATUS status, expected;
    UCHAR in[4] = { 1, 0, 0, 0 }, *out;
    ULONG code, dt, function, method, access, bad, bad_code = 0;
    ULONG64 calls = 0, known = 0, succeeded = 0;
    size_t i, k;

    SanctumStateInit(&st);
    out = canary_buffer(128);
    for (i = 0; i < ARRAYSIZE(unknown); i++) {
        status = dc(&st, unknown[i].Code, in, sizeof(in), out, 128, &info);
        ok(status == STATUS_INVALID_DEVICE_REQUEST, "%s (0x%08x): got 0x%08x\n", unknown[i].What,
           unknown[i].Code, ST(status));
        ok(info == 0, "%s: Information %llu\n", unknown[i].What, U64(info));
        ok(first_written(out, 0, 128) < 0, "%s: byte %ld written\n", unknown[i].What,
           first_written(out, 0, 128));
    }
    calls += ARRAYSIZE(unknown);

    /* Every function, method and access of our device type: exactly seven codes are known. */
    bad = 0;
    for (function = 0; function < 0x1000; function++)
        for (method = 0; method < 4; method++)
            for (access = 0; access < 4; access++) {
                code = CTL_CODE((ULONG)SANCTUM_DEVICE_TYPE, function, method, access);
                memset(out, CANARY, 128);
                status = dc(&st, code, in, sizeof(in), out, 128, &info);
                expected = is_known(code) ? sweep_status(code) : STATUS_INVALID_DEVICE_REQUEST;
                known += is_known(code);
                succeeded += is_known(code) && NT_SUCCESS(expected);
                calls++;
                if (status != expected ||
                    (!is_known(code) && (info != 0 || first_written(out, 0, 128) >= 0))) {
                    if (!bad++)
                        bad_code = code;
                }
            }
    ok(bad == 0, "sweep of our device type: %u codes wrong, the first 0x%08x\n", bad, bad_code);
    ok(known == ARRAYSIZE(known_codes), "sweep of our device type: %llu known codes\n", U64(known));

    /* The known functions under every other device type. */
    bad = 0;
    for (dt = 0; dt < 0x10000; dt++) {
        if (dt == SANCTUM_DEVICE_TYPE)
            continue;
        for (k = 0; k < ARRAYSIZE(known_codes); k++) {
            code = (dt << 16) | (known_codes[k] & 0xFFFF);
            status = dc(&st, code, in, sizeof(in), out, 128, &info);
            calls++;
            if (status != STATUS_INVALID_DEVICE_REQUEST || info != 0) {
                if (!bad++)
                    bad_code = code;
            }
        }
    }
    ok(bad == 0, "sweep of device types: %u codes wrong, the first 0x%08x\n", bad, bad_code);
    ok(first_written(out, 0, 128) < 0, "sweep of device types: byte %ld written\n",
       first_written(out, 0, 128));

    /* Each call counted once; every unknown one is a failure. */
    s = snap(&st);
    ok(s.Ioctls == calls, "Ioctls %llu, calls %llu\n", U64(s.Ioctls), U64(calls));
    ok(s.Failures == calls - succeeded, "Failures %llu, expected %llu\n", U64(s.Failures),
       U64(calls - succeeded));
    free(out);
    end_scenario(&st);
}
