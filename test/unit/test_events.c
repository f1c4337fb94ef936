/* SPDX-License-Identifier: MIT */
/*
 * Protocol 2 on the host: the real driver through the shim, its callbacks fired as ntoskrnl
 * fires them (from several threads too), every record field, truncation and padding, exact
 * sequences and drop counts under concurrency, every way a pended GET_EVENTS ends and the
 * race of a cancel against a completion, and unload with requests pending and callbacks
 * registered. What Wine cannot show (process and thread callbacks, CLEANUP with requests
 * pending) is shown here.
 */
#define _POSIX_C_SOURCE 200809L
#include "unit.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALL SANCTUM_EVENT_ALL
#define MASK(t) SANCTUM_EVENT_MASK(t)

/* Every byte of a record from `from` to its end is zero (the padding). */
static BOOLEAN padding_zero(const SANCTUM_EVENT_HEADER *h, ULONG from)
{
    ULONG i;

    for (i = from; i < h->Size; i++)
        if (((const UCHAR *)h)[i])
            return FALSE;
    return TRUE;
}

static UNICODE_STRING ustr(WCHAR *buf, ULONG bytes)
{
    UNICODE_STRING u = { (USHORT)bytes, (USHORT)bytes, buf };

    return u;
}

/* A UTF-16 string of n characters, character i being 'a' + i % 26. */
static WCHAR *letters(ULONG n)
{
    WCHAR *s = xmalloc(((size_t)n + 1) * sizeof(WCHAR));
    ULONG i;

    for (i = 0; i < n; i++)
        s[i] = (WCHAR)('a' + i % 26);
    s[n] = 0;
    return s;
}

/* ---- every record type, every field ---- */

static void test_records(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *f = open_rw();
    WCHAR image[] = L"\\Device\\HarddiskVolume2\\Windows\\System32\\notepad.exe";
    WCHAR cmd[] = L"notepad.exe C:\\x.txt";
    UNICODE_STRING u_image = ustr(image, sizeof(image) - 2), u_cmd = ustr(cmd, sizeof(cmd) - 2);
    PS_CREATE_NOTIFY_INFO info;
    IMAGE_INFO img;
    const SANCTUM_EVENT_HEADER *h;
    const SANCTUM_PROCESS_CREATE *pc;
    const SANCTUM_PROCESS_EXIT *pe;
    const SANCTUM_THREAD *th;
    const SANCTUM_IMAGE_LOAD *il;
    ULONG off = 0, n;
    WAIT w;

    if (!driver || !f)
        return;
    ok(subscribe(f, ALL, 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    shim_set_system_time(0x01DC000012345678LL);

    memset(&info, 0, sizeof(info));
    info.Size = sizeof(info);
    info.FileOpenNameAvailable = 1;
    info.ParentProcessId = (HANDLE)(ULONG_PTR)0x1234;
    info.CreatingThreadId.UniqueProcess = (HANDLE)(ULONG_PTR)0x2222;
    info.CreatingThreadId.UniqueThread = (HANDLE)(ULONG_PTR)0x3334;
    info.ImageFileName = &u_image;
    info.CommandLine = &u_cmd;
    n = shim_notify_process_create((HANDLE)(ULONG_PTR)0x4444, &info);
    ok(n == 1, "%u process routines called\n", n);
    shim_notify_process_exit((HANDLE)(ULONG_PTR)0x4444, (NTSTATUS)0xC0000005);
    shim_notify_thread((HANDLE)(ULONG_PTR)0x4444, (HANDLE)(ULONG_PTR)0x5558, TRUE);
    shim_notify_thread((HANDLE)(ULONG_PTR)0x4444, (HANDLE)(ULONG_PTR)0x5558, FALSE);
    memset(&img, 0, sizeof(img));
    img.ImageBase = (PVOID)(ULONG_PTR)0xFFFFF80012340000ull;
    img.ImageSize = 0x6000;
    img.SystemModeImage = 1;
    shim_notify_image(&u_image, NULL, &img);
    shim_set_process((HANDLE)(ULONG_PTR)0x6664);
    ok(mark(f, "mk", 2) == STATUS_SUCCESS, "MARK\n");
    shim_set_process(SHIM_DEFAULT_PROCESS);

    w = get_events(f, BATCH);
    ok(w.Status == STATUS_SUCCESS, "GET_EVENTS: 0x%08x\n", ST(w.Status));

    h = record_at(&w, off);
    pc = h ? (const void *)(h + 1) : NULL;
    if (ok(h && h->Type == SANCTUM_EVENT_PROCESS_CREATE, "record 1: type %u\n", h ? h->Type : 0)) {
        ULONG body = sizeof(*h) + sizeof(*pc) + sizeof(image) - 2 + sizeof(cmd) - 2;

        ok(h->Sequence == 1 && h->Flags == 0 && h->Time == 0x01DC000012345678LL,
           "header: sequence %llu flags 0x%x time %lld\n", U64(h->Sequence), h->Flags,
           (long long)h->Time);
        ok(pc->ProcessId == 0x4444 && pc->ParentProcessId == 0x1234 &&
               pc->CreatingProcessId == 0x2222 && pc->CreatingThreadId == 0x3334 &&
               pc->Reserved == 0,
           "ids %llx %llx %llx %llx\n", U64(pc->ProcessId), U64(pc->ParentProcessId),
           U64(pc->CreatingProcessId), U64(pc->CreatingThreadId));
        ok(pc->ImageNameLength == sizeof(image) - 2 && pc->CommandLineLength == sizeof(cmd) - 2 &&
               !memcmp(pc + 1, image, pc->ImageNameLength) &&
               !memcmp((const UCHAR *)(pc + 1) + pc->ImageNameLength, cmd, pc->CommandLineLength),
           "names: %u and %u bytes\n", pc->ImageNameLength, pc->CommandLineLength);
        ok(h->Size == ((body + 7) & ~7u) && padding_zero(h, body), "size %u for %u, padding\n",
           h->Size, body);
        off += h->Size;
    }
    h = record_at(&w, off);
    pe = h ? (const void *)(h + 1) : NULL;
    if (ok(h && h->Type == SANCTUM_EVENT_PROCESS_EXIT, "record 2: type %u\n", h ? h->Type : 0)) {
        ok(h->Size == 40 && h->Sequence == 2 && pe->ProcessId == 0x4444 &&
               pe->ExitStatus == (LONG)0xC0000005 && pe->Reserved == 0,
           "exit: size %u pid %llx status 0x%08x\n", h->Size, U64(pe->ProcessId),
           ST(pe->ExitStatus));
        off += h->Size;
    }
    for (n = 0; n < 2; n++) {
        h = record_at(&w, off);
        th = h ? (const void *)(h + 1) : NULL;
        if (ok(h && h->Type == (n ? SANCTUM_EVENT_THREAD_EXIT : SANCTUM_EVENT_THREAD_CREATE),
               "thread record %u: type %u\n", n, h ? h->Type : 0)) {
            ok(h->Size == 40 && h->Sequence == 3 + n && th->ProcessId == 0x4444 &&
                   th->ThreadId == 0x5558,
               "thread: size %u sequence %llu ids %llx %llx\n", h->Size, U64(h->Sequence),
               U64(th->ProcessId), U64(th->ThreadId));
            off += h->Size;
        }
    }
    h = record_at(&w, off);
    il = h ? (const void *)(h + 1) : NULL;
    if (ok(h && h->Type == SANCTUM_EVENT_IMAGE_LOAD, "record 5: type %u\n", h ? h->Type : 0)) {
        ULONG body = sizeof(*h) + sizeof(*il) + sizeof(image) - 2;

        ok(il->ProcessId == 0 && il->ImageBase == 0xFFFFF80012340000ull && il->ImageSize == 0x6000 &&
               il->Properties == SANCTUM_IMAGE_KERNEL && il->Reserved == 0 &&
               il->NameLength == sizeof(image) - 2 && !memcmp(il + 1, image, il->NameLength),
           "image: pid %llu base %llx size %llu props %u name %u bytes\n", U64(il->ProcessId),
           U64(il->ImageBase), U64(il->ImageSize), il->Properties, il->NameLength);
        ok(h->Size == ((body + 7) & ~7u) && padding_zero(h, body) && h->Sequence == 5,
           "image: size %u, padding, sequence %llu\n", h->Size, U64(h->Sequence));
        off += h->Size;
    }
    h = record_at(&w, off);
    if (ok(h && h->Type == SANCTUM_EVENT_MARK, "record 6: type %u\n", h ? h->Type : 0)) {
        const SANCTUM_MARK *m = (const void *)(h + 1);

        ok(h->Size == 48 && h->Sequence == 6 && m->Length == 2 && m->Reserved == 0 &&
               !memcmp(m + 1, "mk", 2) && padding_zero(h, 42),
           "mark: size %u sequence %llu\n", h->Size, U64(h->Sequence));
        ok(m->SenderProcessId == 0x6664, "mark: sender %llx, expected 6664\n",
           U64(m->SenderProcessId));
        off += h->Size;
    }
    ok(off == w.Info, "%u bytes of records, %llu returned\n", off, U64(w.Info));
    ok(first_written(w.Out, w.Info, BATCH + GUARD) < 0, "byte %ld past the records written\n",
       first_written(w.Out, w.Info, BATCH + GUARD));
    end_wait(&w);
    shim_close(f);
    unload_ok(driver, 0);
}

/* Names at and around the limits, odd lengths, missing names; padding stays zero when a
 * staging buffer is reused after a longer record. */
static void test_names(void)
{
    static const ULONG lengths[] = { 0, 1, 2, 3, 511, 512, 513, 1022, 1023, 1024, 1025, 3000, 4000 };
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *f = open_rw();
    PS_CREATE_NOTIFY_INFO info;
    IMAGE_INFO img;
    size_t i;

    if (!driver || !f)
        return;
    ok(subscribe(f, ALL, 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    for (i = 0; i < ARRAYSIZE(lengths); i++) {
        ULONG chars = lengths[i];
        WCHAR *name = letters(chars), *cmd = letters(chars + 7);
        /* An odd byte count: the last half character is never copied. */
        UNICODE_STRING u_name = ustr(name, chars * 2 - (chars % 2 && chars > 1)),
                       u_cmd = ustr(cmd, (chars + 7) * 2);
        ULONG want_name = u_name.Length & ~1u, want_cmd = u_cmd.Length, flags = 0;
        const SANCTUM_EVENT_HEADER *h;
        const SANCTUM_PROCESS_CREATE *pc;
        const SANCTUM_IMAGE_LOAD *il;
        WAIT w;

        if (want_name > SANCTUM_MAX_NAME_BYTES)
            want_name = SANCTUM_MAX_NAME_BYTES, flags |= SANCTUM_EVENT_FLAG_NAME_TRUNCATED;
        if (want_cmd > SANCTUM_MAX_COMMAND_LINE_BYTES)
            want_cmd = SANCTUM_MAX_COMMAND_LINE_BYTES,
            flags |= SANCTUM_EVENT_FLAG_COMMAND_LINE_TRUNCATED;
        memset(&info, 0, sizeof(info));
        info.FileOpenNameAvailable = 1;
        info.ImageFileName = &u_name;
        info.CommandLine = &u_cmd;
        shim_notify_process_create((HANDLE)(ULONG_PTR)8, &info);
        memset(&img, 0, sizeof(img));
        shim_notify_image(&u_name, (HANDLE)(ULONG_PTR)8, &img);

        /* A long process record leaves no room for the image record: two batches then. */
        w = get_events(f, BATCH);
        h = record_at(&w, 0);
        pc = h ? (const void *)(h + 1) : NULL;
        if (ok(w.Status == STATUS_SUCCESS && h && h->Type == SANCTUM_EVENT_PROCESS_CREATE,
               "%u chars: 0x%08x\n", chars, ST(w.Status))) {
            ULONG body = sizeof(*h) + sizeof(*pc) + want_name + want_cmd;

            ok(h->Flags == flags && pc->ImageNameLength == want_name &&
                   pc->CommandLineLength == want_cmd && h->Size == ((body + 7) & ~7u) &&
                   h->Size <= SANCTUM_MAX_EVENT_SIZE && padding_zero(h, body) &&
                   !memcmp(pc + 1, name, want_name) &&
                   !memcmp((const UCHAR *)(pc + 1) + want_name, cmd, want_cmd),
               "%u chars: flags 0x%x (want 0x%x), lengths %u %u, size %u\n", chars, h->Flags,
               flags, pc->ImageNameLength, pc->CommandLineLength, h->Size);
            h = record_at(&w, h->Size);
        }
        if (!h) {
            end_wait(&w);
            w = get_events(f, BATCH);
            h = record_at(&w, 0);
        }
        il = h ? (const void *)(h + 1) : NULL;
        ok(h && h->Type == SANCTUM_EVENT_IMAGE_LOAD && il->NameLength == want_name &&
               (h->Flags & SANCTUM_EVENT_FLAG_NAME_TRUNCATED) ==
                   (flags & SANCTUM_EVENT_FLAG_NAME_TRUNCATED) &&
               padding_zero(h, sizeof(*h) + sizeof(*il) + want_name) && il->Properties == 0 &&
               !memcmp(il + 1, name, want_name),
           "%u chars: image record\n", chars);
        ok(w.Info == (ULONG_PTR)((const UCHAR *)h - w.Out) + (h ? h->Size : 0),
           "%u chars: more records than two\n", chars);
        end_wait(&w);
        free(name);
        free(cmd);
    }

    /* A name the kernel could not open the file by: flagged as maybe partial. */
    {
        WCHAR partial[] = L"\\Windows\\System32\\cmd.exe";
        UNICODE_STRING u = ustr(partial, sizeof(partial) - 2);
        WAIT w;
        const SANCTUM_EVENT_HEADER *h;

        memset(&info, 0, sizeof(info));
        info.FileOpenNameAvailable = 0;
        info.ImageFileName = &u;
        shim_notify_process_create((HANDLE)(ULONG_PTR)8, &info);
        w = get_events(f, BATCH);
        h = record_at(&w, 0);
        ok(h && h->Type == SANCTUM_EVENT_PROCESS_CREATE &&
               h->Flags == SANCTUM_EVENT_FLAG_NAME_PARTIAL &&
               ((const SANCTUM_PROCESS_CREATE *)(h + 1))->ImageNameLength == sizeof(partial) - 2,
           "a partial name: flags 0x%x\n", h ? h->Flags : 0);
        end_wait(&w);
    }

    /* No names at all: flagged as missing (not partial), 0 bytes, nothing read. */
    memset(&info, 0, sizeof(info));
    shim_notify_process_create((HANDLE)(ULONG_PTR)8, &info);
    memset(&img, 0, sizeof(img));
    shim_notify_image(NULL, (HANDLE)(ULONG_PTR)8, &img);
    {
        WAIT w = get_events(f, BATCH);
        const SANCTUM_EVENT_HEADER *h = record_at(&w, 0), *h2 = h ? record_at(&w, h->Size) : NULL;

        ok(h && h->Flags == SANCTUM_EVENT_FLAG_NAME_MISSING && h->Size == 64 && padding_zero(h, 64) &&
               h2 && h2->Flags == SANCTUM_EVENT_FLAG_NAME_MISSING && h2->Size == 56,
           "records without names: flags 0x%x, size %u\n", h ? h->Flags : 0, h ? h->Size : 0);
        end_wait(&w);
    }
    shim_close(f);
    unload_ok(driver, 0);
}

/* ---- requests and their refusals ---- */

static void test_subscribe_rules(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *f[SANCTUM_MAX_SUBSCRIPTIONS + 1], *ro, *wo;
    struct {
        SANCTUM_SUBSCRIBE Subscribe;
        UCHAR More[4];
    } in = { { sizeof(SANCTUM_SUBSCRIBE), ALL, 0 }, { 0 } };
    SANCTUM_SUBSCRIBE s = in.Subscribe;
    SANCTUM_STATS st;
    ULONG_PTR info;
    ULONG64 calls;
    ULONG i;
    WAIT w;

    if (!driver)
        return;
    f[0] = open_rw();
    ro = open_ok_as(FILE_READ_DATA, SHIM_CALLER_ADMIN);
    wo = open_ok_as(FILE_WRITE_DATA, SHIM_CALLER_ADMIN);
    ok(shim_ioctl(f[0], IOCTL_SANCTUM_SUBSCRIBE, &s, sizeof(s) - 1, NULL, 0, &info) ==
           STATUS_INVALID_PARAMETER, "11 bytes\n");
    ok(shim_ioctl(f[0], IOCTL_SANCTUM_SUBSCRIBE, &in, sizeof(s) + 1, NULL, 0, &info) ==
           STATUS_INVALID_PARAMETER, "13 bytes\n");
    s.Size = 16;
    ok(shim_ioctl(f[0], IOCTL_SANCTUM_SUBSCRIBE, &s, sizeof(s), NULL, 0, &info) ==
           STATUS_INVALID_PARAMETER, "Size 16\n");
    ok(subscribe(f[0], 0, 0) == STATUS_INVALID_PARAMETER, "no types\n");
    ok(subscribe(f[0], 1, 0) == STATUS_INVALID_PARAMETER, "type 0\n");
    ok(subscribe(f[0], 1u << 7, 0) == STATUS_INVALID_PARAMETER, "type 7\n");
    ok(subscribe(f[0], 0x80000000u | ALL, 0) == STATUS_INVALID_PARAMETER, "bit 31\n");
    ok(subscribe(f[0], ALL, SANCTUM_MIN_QUEUE_BYTES - 1) == STATUS_INVALID_PARAMETER, "min-1\n");
    ok(subscribe(f[0], ALL, SANCTUM_MAX_QUEUE_BYTES + 1) == STATUS_INVALID_PARAMETER, "max+1\n");
    ok(subscribe(f[0], ALL, 0xFFFFFFFFu) == STATUS_INVALID_PARAMETER, "4 GiB\n");
    ok(subscribe(wo, ALL, 0) == STATUS_ACCESS_DENIED, "write-only handle\n");
    /* Protocol 3: SUBSCRIBE needs write access too, and protocol 2's code is no more. */
    ok(subscribe(ro, ALL, 0) == STATUS_ACCESS_DENIED, "read-only handle\n");
    ok(shim_ioctl(f[0], CTL_CODE(SANCTUM_DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_READ_DATA),
                  &s, sizeof(s), NULL, 0, &info) == STATUS_INVALID_DEVICE_REQUEST,
       "protocol 2's SUBSCRIBE code\n");
    ok(mark(ro, "x", 1) == STATUS_ACCESS_DENIED, "MARK on a read-only handle\n");

    /* GET_EVENTS before a subscription; too small a buffer is refused first. */
    w = get_events(f[0], BATCH);
    ok(w.Status == STATUS_INVALID_DEVICE_STATE, "GET_EVENTS unsubscribed: 0x%08x\n", ST(w.Status));
    end_wait(&w);
    w = get_events(f[0], BATCH - 1);
    ok(w.Status == STATUS_BUFFER_TOO_SMALL && first_written(w.Out, 0, BATCH - 1 + GUARD) < 0,
       "GET_EVENTS into %u: 0x%08x\n", BATCH - 1, ST(w.Status));
    end_wait(&w);
    /* Larger than any queue: refused before a page of it is mapped, subscribed or not. */
    calls = shim_mappings();
    w = get_events(f[0], SANCTUM_MAX_QUEUE_BYTES + 1);
    ok(w.Status == STATUS_INVALID_PARAMETER && shim_mappings() == calls,
       "GET_EVENTS into 8 MiB + 1: 0x%08x, %llu mappings\n", ST(w.Status),
       U64(shim_mappings() - calls));
    end_wait(&w);

    /* An odd queue size is rounded up to whole 8-byte units; a second SUBSCRIBE fails. */
    ok(subscribe(f[0], ALL, SANCTUM_MIN_QUEUE_BYTES + 1) == STATUS_SUCCESS, "odd size\n");
    ok(state_of(driver)->QueueBytes == SANCTUM_MIN_QUEUE_BYTES + 8, "queue bytes %u\n",
       state_of(driver)->QueueBytes);
    ok(subscribe(f[0], ALL, 0) == STATUS_OBJECT_NAME_COLLISION, "second SUBSCRIBE\n");
    shim_close(f[0]);

    /* The count cap (four processes' worth at a time), then the memory cap. */
    for (i = 0; i < SANCTUM_MAX_SUBSCRIPTIONS + 1; i++) {
        f[i] = open_rw();
        shim_set_process((HANDLE)(ULONG_PTR)(0x2000 + 4 * (i / SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS)));
        ok(subscribe(f[i], MASK(SANCTUM_EVENT_MARK), SANCTUM_MIN_QUEUE_BYTES) ==
               (i < SANCTUM_MAX_SUBSCRIPTIONS ? STATUS_SUCCESS : STATUS_QUOTA_EXCEEDED),
           "subscription %u\n", i);
    }
    shim_set_process(SHIM_DEFAULT_PROCESS);
    st = snap(state_of(driver));
    ok(st.Subscriptions == SANCTUM_MAX_SUBSCRIPTIONS, "%u subscriptions\n", st.Subscriptions);
    for (i = 0; i < SANCTUM_MAX_SUBSCRIPTIONS + 1; i++)
        shim_close(f[i]);
    for (i = 0; i < SANCTUM_MAX_TOTAL_QUEUE_BYTES / SANCTUM_MAX_QUEUE_BYTES + 1; i++) {
        f[i] = open_rw();
        shim_set_process((HANDLE)(ULONG_PTR)(0x3000 + 4 * i));
        ok(subscribe(f[i], ALL, SANCTUM_MAX_QUEUE_BYTES) ==
               (i < SANCTUM_MAX_TOTAL_QUEUE_BYTES / SANCTUM_MAX_QUEUE_BYTES ? STATUS_SUCCESS
                                                                           : STATUS_QUOTA_EXCEEDED),
           "large subscription %u\n", i);
    }
    shim_set_process(SHIM_DEFAULT_PROCESS);
    /* A small one still fits in no memory left: refused too. */
    f[SANCTUM_MAX_SUBSCRIPTIONS] = open_rw();
    ok(subscribe(f[SANCTUM_MAX_SUBSCRIPTIONS], ALL, SANCTUM_MIN_QUEUE_BYTES) == STATUS_QUOTA_EXCEEDED,
       "past the memory cap\n");
    for (i = 0; i < SANCTUM_MAX_TOTAL_QUEUE_BYTES / SANCTUM_MAX_QUEUE_BYTES + 1; i++)
        shim_close(f[i]);
    ok(subscribe(f[SANCTUM_MAX_SUBSCRIPTIONS], ALL, SANCTUM_MIN_QUEUE_BYTES) == STATUS_SUCCESS,
       "after the others closed\n");
    st = snap(state_of(driver));
    ok(st.Subscriptions == 1, "%u subscriptions\n", st.Subscriptions);
    shim_close(f[SANCTUM_MAX_SUBSCRIPTIONS]);
    shim_close(ro);
    shim_close(wo);
    unload_ok(driver, 0);
}

/*
 * One process holds at most SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS subscriptions, counted by the
 * process that sends SUBSCRIBE (not the one that opened the handle), so that one program
 * cannot take every slot from the agent; a slot it gives back is its own again.
 */
static void test_subscriptions_per_process(void)
{
    HANDLE a = (HANDLE)(ULONG_PTR)0x4100, b = (HANDLE)(ULONG_PTR)0x4200;
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *f[SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS + 2];
    ULONG i, n = SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS;
    NTSTATUS status;

    if (!driver)
        return;
    shim_set_process(a);
    for (i = 0; i < n + 1; i++) {
        f[i] = open_rw();
        status = subscribe(f[i], ALL, SANCTUM_MIN_QUEUE_BYTES);
        ok(status == (i < n ? STATUS_SUCCESS : STATUS_QUOTA_EXCEEDED),
           "process A, subscription %u: 0x%08x\n", i, ST(status));
    }
    /* The refused handle, given to another process (DuplicateHandle), subscribes there. */
    shim_set_process(b);
    status = subscribe(f[n], ALL, SANCTUM_MIN_QUEUE_BYTES);
    ok(status == STATUS_SUCCESS, "A's handle, subscribing from B: 0x%08x\n", ST(status));
    f[n + 1] = open_rw();
    shim_set_process(a);
    status = subscribe(f[n + 1], ALL, SANCTUM_MIN_QUEUE_BYTES);
    ok(status == STATUS_QUOTA_EXCEEDED, "B's handle, subscribing from A: 0x%08x\n", ST(status));
    shim_close(f[0]);
    status = subscribe(f[n + 1], ALL, SANCTUM_MIN_QUEUE_BYTES);
    ok(status == STATUS_SUCCESS, "A, after closing one of its own: 0x%08x\n", ST(status));
    ok(snap(state_of(driver)).Subscriptions == n + 1, "%u subscriptions\n",
       snap(state_of(driver)).Subscriptions);
    shim_set_process(SHIM_DEFAULT_PROCESS);
    for (i = 1; i < n + 2; i++)
        shim_close(f[i]);
    unload_ok(driver, 0);
}

/* Pended requests: completed by events in order, bounded, and ended by every path. */
static void test_pending_paths(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *f, *g;
    WAIT w[SANCTUM_MAX_PENDING_PER_HANDLE + 1];
    SANCTUM_STATS st;
    ULONG i;

    if (!driver)
        return;
    f = open_rw();
    ok(subscribe(f, MASK(SANCTUM_EVENT_MARK), 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    for (i = 0; i < SANCTUM_MAX_PENDING_PER_HANDLE; i++) {
        w[i] = get_events(f, BATCH);
        ok(shim_async_pended(w[i].Async) && !shim_async_done(w[i].Async), "request %u\n", i);
    }
    w[i] = get_events(f, BATCH);
    ok(w[i].Status == STATUS_DEVICE_BUSY, "past the bound: 0x%08x\n", ST(w[i].Status));
    end_wait(&w[i]);
    st = snap(state_of(driver));
    ok(st.PendingRequests == SANCTUM_MAX_PENDING_PER_HANDLE, "%u pending\n", st.PendingRequests);

    /* A mark completes the oldest; a cancel ends one; CLEANUP ends the rest. */
    ok(mark(f, "1", 1) == STATUS_SUCCESS, "MARK\n");
    ok(collect(&w[0]) && w[0].Status == STATUS_SUCCESS && w[0].Info == MARK_BYTES(1), "oldest: 0x%08x %llu\n",
       ST(w[0].Status), U64(w[0].Info));
    ok(!shim_async_done(w[1].Async), "the next one completed too\n");
    ok(shim_async_cancel(w[5].Async), "no cancel routine on a pended request\n");
    ok(collect(&w[5]) && w[5].Status == STATUS_CANCELLED && w[5].Info == 0, "cancelled: 0x%08x\n",
       ST(w[5].Status));
    ok(!shim_async_cancel(w[5].Async), "a completed request was cancelled again\n");
    ok(!shim_async_cancel(w[0].Async), "a completed request was cancelled\n");
    shim_cleanup(f);
    for (i = 1; i < SANCTUM_MAX_PENDING_PER_HANDLE; i++)
        ok(i == 5 || (collect(&w[i]) && w[i].Status == STATUS_CANCELLED),
           "request %u after CLEANUP: 0x%08x\n", i, ST(w[i].Status));
    for (i = 0; i < SANCTUM_MAX_PENDING_PER_HANDLE; i++)
        end_wait(&w[i]);
    st = snap(state_of(driver));
    ok(st.PendingRequests == 0 && st.Subscriptions == 0, "%u pending, %u subscriptions\n",
       st.PendingRequests, st.Subscriptions);
    shim_close(f);

    /* Wine: CLOSE arrives with requests pending and no CLEANUP before it. */
    f = open_rw();
    ok(subscribe(f, MASK(SANCTUM_EVENT_MARK), 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    w[0] = get_events(f, BATCH);
    w[1] = get_events(f, BATCH);
    shim_close_wine(f);
    for (i = 0; i < 2; i++) {
        ok(collect(&w[i]) && w[i].Status == STATUS_CANCELLED, "after Wine's CLOSE: 0x%08x\n",
           ST(w[i].Status));
        end_wait(&w[i]);
    }

    /* Unload with requests pending on two handles and the callbacks registered. */
    f = open_rw();
    ok(subscribe(f, MASK(SANCTUM_EVENT_MARK), 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    g = open_rw();
    ok(subscribe(g, ALL, 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    w[0] = get_events(f, BATCH);
    w[1] = get_events(g, BATCH);
    w[2] = get_events(g, BATCH);
    ok(shim_notify_registered() == 3, "%u routines registered\n", shim_notify_registered());
    unload_ok(driver, 2);
    for (i = 0; i < 3; i++) {
        ok(collect(&w[i]) && w[i].Status == STATUS_CANCELLED, "request %u at unload: 0x%08x\n", i,
           ST(w[i].Status));
        end_wait(&w[i]);
    }
    shim_abandon(f);
    shim_abandon(g);
}

/* ---- concurrency ---- */

#define PRODUCERS 3
#define PER_PRODUCER 20000

static volatile int producers_done;

static void *produce(void *arg)
{
    HANDLE pid = arg;
    ULONG i;

    for (i = 0; i < PER_PRODUCER; i++)
        shim_notify_thread(pid, (HANDLE)(ULONG_PTR)(i + 1), (BOOLEAN)(i & 1));
    __atomic_add_fetch(&producers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/*
 * Producers on several threads against a small queue, and a consumer that keeps a request
 * pending: every event is received or counted as dropped, and the sequence numbers say which.
 */
static void test_concurrent_sequences(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *f;
    pthread_t threads[PRODUCERS];
    ULONG64 received = 0, last = 0, lost = 0, total = (ULONG64)PRODUCERS * PER_PRODUCER;
    SANCTUM_STATS st;
    BOOLEAN ordered = TRUE;
    ULONG i;

    if (!driver)
        return;
    f = open_rw();
    ok(subscribe(f, MASK(SANCTUM_EVENT_THREAD_CREATE) | MASK(SANCTUM_EVENT_THREAD_EXIT),
                 SANCTUM_MIN_QUEUE_BYTES) == STATUS_SUCCESS, "SUBSCRIBE\n");
    producers_done = 0;
    for (i = 0; i < PRODUCERS; i++)
        pthread_create(&threads[i], NULL, produce, (void *)(ULONG_PTR)(100 + i));
    for (;;) {
        WAIT w = get_events(f, BATCH);
        ULONG off = 0;

        /* The producers complete it from their threads; once they are all done, a request
         * still pending means everything has been taken. */
        while (!collect(&w)) {
            if (__atomic_load_n(&producers_done, __ATOMIC_ACQUIRE) == PRODUCERS)
                shim_async_cancel(w.Async);
            else
                sched_yield();
        }
        if (w.Status == STATUS_CANCELLED) {
            end_wait(&w);
            break;
        }
        while (w.Status == STATUS_SUCCESS && off < w.Info) {
            const SANCTUM_EVENT_HEADER *h = record_at(&w, off);

            if (!h || h->Sequence <= last || h->Type < SANCTUM_EVENT_THREAD_CREATE ||
                h->Type > SANCTUM_EVENT_THREAD_EXIT) {
                ordered = FALSE;
                break;
            }
            lost += h->Sequence - last - 1;
            last = h->Sequence;
            received++;
            off += h->Size;
        }
        end_wait(&w);
        if (!ordered)
            break;
    }
    for (i = 0; i < PRODUCERS; i++)
        pthread_join(threads[i], NULL);
    lost += total - last; /* dropped after the last one received */
    st = snap(state_of(driver));
    ok(ordered, "sequences not strictly increasing, or a malformed record\n");
    ok(received + lost == total, "received %llu + lost %llu != %llu events\n", U64(received),
       U64(lost), U64(total));
    ok(st.EventsQueued == received && st.EventsDropped == lost,
       "stats: queued %llu dropped %llu; received %llu, lost %llu\n", U64(st.EventsQueued),
       U64(st.EventsDropped), U64(received), U64(lost));
    ok(received > 0, "nothing received\n");
    printf("events: %d producer threads, %llu events: %llu received, %llu dropped\n", PRODUCERS,
           U64(total), U64(received), U64(lost));
    shim_close(f);
    unload_ok(driver, 0);
}

/*
 * A cancel and an event race for the same pended request, many times: it ends exactly once
 * (the shim dies on a second completion), with the record or with STATUS_CANCELLED, and a
 * record it did not take waits for the next request.
 */
#define RACES 4000

typedef struct {
    SHIM_FILE *File;
    volatile ULONG Round; /* the round the marker is to play; RACES + 1: stop */
    volatile ULONG Played;
} RACE;

static void *race_marker(void *arg)
{
    RACE *r = arg;
    ULONG round = 0;

    for (;;) {
        ULONG next;

        while ((next = __atomic_load_n(&r->Round, __ATOMIC_ACQUIRE)) == round)
            ;
        if (next > RACES)
            return NULL;
        round = next;
        mark(r->File, "race", 4);
        __atomic_store_n(&r->Played, round, __ATOMIC_RELEASE);
    }
}

static void test_cancel_race(void)
{
    PDRIVER_OBJECT driver = load_ok();
    ULONG i, delivered = 0, cancelled = 0, lost = 0;
    pthread_t marker;
    RACE race = { 0 };

    if (!driver)
        return;
    race.File = open_rw();
    ok(subscribe(race.File, MASK(SANCTUM_EVENT_MARK), 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    pthread_create(&marker, NULL, race_marker, &race);
    for (i = 1; i <= RACES; i++) {
        WAIT w = get_events(race.File, BATCH), after;
        ULONG spin;

        __atomic_store_n(&race.Round, i, __ATOMIC_RELEASE);
        /* A varying head start for the marker, so that both outcomes happen. */
        for (spin = 0; spin < (i * 7919) % 30000; spin++)
            __asm__ __volatile__("" ::: "memory");
        shim_async_cancel(w.Async);
        while (__atomic_load_n(&race.Played, __ATOMIC_ACQUIRE) != i)
            ;
        if (!collect(&w)) {
            lost++;
            break;
        }
        if (w.Status == STATUS_SUCCESS && w.Info == MARK_BYTES(4)) {
            delivered++;
        } else if (w.Status == STATUS_CANCELLED) {
            cancelled++;
            after = get_events(race.File, BATCH);
            if (after.Status != STATUS_SUCCESS || after.Info != MARK_BYTES(4))
                lost++;
            if (!shim_async_done(after.Async)) {
                shim_async_cancel(after.Async);
                collect(&after);
            }
            end_wait(&after);
        } else {
            lost++;
        }
        end_wait(&w);
    }
    __atomic_store_n(&race.Round, RACES + 1, __ATOMIC_RELEASE);
    pthread_join(marker, NULL);
    ok(lost == 0, "%u races lost a record or a completion\n", lost);
    ok(delivered + cancelled == RACES, "%u delivered + %u cancelled\n", delivered, cancelled);
    ok(delivered && cancelled, "one outcome never happened: %u delivered, %u cancelled\n",
       delivered, cancelled);
    printf("events: cancel against event, %d races: %u delivered, %u cancelled\n", RACES,
           delivered, cancelled);
    shim_close(race.File);
    unload_ok(driver, 0);
}

/*
 * Every staging buffer busy: a record with names is built in a block from the lookaside list
 * instead. Only when pool is exhausted too is it dropped, counted apart from full queues, its
 * sequence used; a record without names needs neither.
 */
static void test_staging_exhausted(void)
{
    PDRIVER_OBJECT driver = load_ok();
    WCHAR name[] = L"\\SystemRoot\\System32\\drivers\\probe.sys";
    UNICODE_STRING u = ustr(name, sizeof(name) - 2);
    IMAGE_INFO img;
    PSANCTUM_STATE st;
    const SANCTUM_EVENT_HEADER *h;
    SANCTUM_STATS stats;
    SHIM_FILE *f;
    LONG saved;
    ULONG i;
    WAIT w;

    if (!driver)
        return;
    st = state_of(driver);
    f = open_rw();
    memset(&img, 0, sizeof(img));
    ok(subscribe(f, MASK(SANCTUM_EVENT_IMAGE_LOAD) | MASK(SANCTUM_EVENT_MARK), 0) == STATUS_SUCCESS,
       "SUBSCRIBE\n");
    saved = st->StagingFree;
    st->StagingFree = 0;
    /* The lookaside list has nothing kept yet: its allocation is the next failable call. */
    shim_fail_call(1);
    shim_notify_image(&u, NULL, &img);
    ok(shim_injected_failures() && !strcmp(shim_last_injected_api(), "ExAllocatePoolWithTag"),
       "no pool was asked for: %s\n", shim_last_injected_api());
    shim_fail_call(0);
    ok(mark(f, "mark", 4) == STATUS_SUCCESS, "MARK\n");
    shim_notify_image(&u, NULL, &img);
    st->StagingFree = saved;
    shim_notify_image(&u, NULL, &img);
    w = get_events(f, BATCH);
    h = record_at(&w, 0);
    ok(w.Status == STATUS_SUCCESS && h && h->Type == SANCTUM_EVENT_MARK && h->Sequence == 2,
       "after the drop, the mark: 0x%08x, type %u\n", ST(w.Status), h ? h->Type : 0);
    for (i = 0; i < 2; i++) {
        h = h ? record_at(&w, h->Size + (ULONG)((const UCHAR *)h - w.Out)) : NULL;
        ok(h && h->Type == SANCTUM_EVENT_IMAGE_LOAD && h->Sequence == 3 + i &&
               ((const SANCTUM_IMAGE_LOAD *)(h + 1))->NameLength == sizeof(name) - 2 &&
               !memcmp((const SANCTUM_IMAGE_LOAD *)(h + 1) + 1, name, sizeof(name) - 2),
           "image record %s: type %u, sequence %llu\n", i ? "from a staging buffer" : "from the lookaside list",
           h ? h->Type : 0, U64(h ? h->Sequence : 0));
    }
    stats = snap(st);
    ok(stats.EventsDroppedNoMemory == 1 && stats.EventsDropped == 0,
       "drops: %llu for want of pool, %llu for a full queue\n", U64(stats.EventsDroppedNoMemory),
       U64(stats.EventsDropped));
    end_wait(&w);
    shim_close(f);
    unload_ok(driver, 0);
}

/*
 * A storm: 64 threads, each in a callback at once, hold more records than there are staging
 * buffers (every thread waits in KeQuerySystemTime, reached once its record has a buffer,
 * until all 64 are there), then fire on: nothing is dropped.
 */
#define STORM_THREADS 64
#define STORM_EVENTS 40
#define STORM_NAME_CHARS 512 /* 1 KiB */

static struct {
    volatile LONG Arrived;
    volatile int TimedOut;
    WCHAR Name[STORM_NAME_CHARS];
} storm;
static _Thread_local int storm_waited;

static void storm_rendezvous(void)
{
    struct timespec start, now;

    if (storm_waited)
        return;
    storm_waited = 1;
    __atomic_add_fetch(&storm.Arrived, 1, __ATOMIC_SEQ_CST);
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (__atomic_load_n(&storm.Arrived, __ATOMIC_SEQ_CST) < STORM_THREADS) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 5) {
            storm.TimedOut = 1;
            return;
        }
        sched_yield();
    }
}

static void *storm_thread(void *arg)
{
    ULONG id = (ULONG)(ULONG_PTR)arg, i;
    UNICODE_STRING u = ustr(storm.Name, sizeof(storm.Name));
    PS_CREATE_NOTIFY_INFO info;
    IMAGE_INFO img;

    memset(&info, 0, sizeof(info));
    info.FileOpenNameAvailable = 1;
    info.ImageFileName = &u;
    memset(&img, 0, sizeof(img));
    for (i = 0; i < STORM_EVENTS; i++) {
        if ((i + id) % 2)
            shim_notify_process_create((HANDLE)(ULONG_PTR)(0x10000 + id * 64 + i), &info);
        else
            shim_notify_image(&u, (HANDLE)(ULONG_PTR)(0x10000 + id), &img);
    }
    return NULL;
}

static void test_staging_storm(void)
{
    PDRIVER_OBJECT driver = load_ok();
    pthread_t threads[STORM_THREADS];
    ULONG64 next = 1, records = 0, bad = 0;
    SANCTUM_STATS stats;
    SHIM_FILE *f;
    ULONG i;

    if (!driver)
        return;
    for (i = 0; i < STORM_NAME_CHARS; i++)
        storm.Name[i] = (WCHAR)('A' + i % 26);
    storm.Arrived = 0;
    storm.TimedOut = 0;
    f = open_rw();
    ok(subscribe(f, MASK(SANCTUM_EVENT_PROCESS_CREATE) | MASK(SANCTUM_EVENT_IMAGE_LOAD),
                 SANCTUM_MAX_QUEUE_BYTES) == STATUS_SUCCESS, "SUBSCRIBE\n");
    shim_on_system_time(storm_rendezvous);
    for (i = 0; i < STORM_THREADS; i++)
        pthread_create(&threads[i], NULL, storm_thread, (void *)(ULONG_PTR)i);
    for (i = 0; i < STORM_THREADS; i++)
        pthread_join(threads[i], NULL);
    shim_on_system_time(NULL);
    ok(!storm.TimedOut && storm.Arrived == STORM_THREADS,
       "%d of %d callbacks held a record at once (more than the %d staging buffers)\n",
       (int)storm.Arrived, STORM_THREADS, SANCTUM_STAGING_BUFFERS);

    for (;;) {
        UCHAR *out = xmalloc(SANCTUM_MAX_QUEUE_BYTES);
        SHIM_ASYNC *a = shim_ioctl_async(f, IOCTL_SANCTUM_GET_EVENTS, NULL, 0, out,
                                         SANCTUM_MAX_QUEUE_BYTES);
        ULONG_PTR info = 0, off = 0;
        NTSTATUS status;

        if (!shim_async_done(a))
            shim_async_cancel(a);
        status = shim_async_status(a, &info);
        while (status == STATUS_SUCCESS && off < info) {
            const SANCTUM_EVENT_HEADER *h = (const void *)(out + off);
            const SANCTUM_IMAGE_LOAD *il = (const void *)(h + 1);
            const SANCTUM_PROCESS_CREATE *pc = (const void *)(h + 1);
            USHORT length = h->Type == SANCTUM_EVENT_IMAGE_LOAD ? il->NameLength : pc->ImageNameLength;
            const void *chars = h->Type == SANCTUM_EVENT_IMAGE_LOAD ? (const void *)(il + 1)
                                                                    : (const void *)(pc + 1);

            bad += h->Sequence != next++ || length != sizeof(storm.Name) ||
                   memcmp(chars, storm.Name, sizeof(storm.Name));
            records++;
            off += h->Size;
        }
        shim_async_free(a);
        free(out);
        if (status != STATUS_SUCCESS)
            break;
    }
    stats = snap(state_of(driver));
    ok(records == (ULONG64)STORM_THREADS * STORM_EVENTS && bad == 0,
       "storm: %llu of %d records, %llu out of sequence or damaged\n", U64(records),
       STORM_THREADS * STORM_EVENTS, U64(bad));
    ok(stats.EventsDropped == 0 && stats.EventsDroppedNoMemory == 0,
       "storm: %llu dropped, %llu for want of pool\n", U64(stats.EventsDropped),
       U64(stats.EventsDroppedNoMemory));
    printf("events: %d threads in callbacks at once, %llu records with 1 KiB names, none lost\n",
           STORM_THREADS, U64(records));
    shim_close(f);
    unload_ok(driver, 0);
}

/* A registration that fails unwinds the ones before it, in reverse order. */
static void test_registration_faults(void)
{
    static const char *const apis[] = { "PsSetCreateProcessNotifyRoutineEx",
                                        "PsSetCreateThreadNotifyRoutine",
                                        "PsSetLoadImageNotifyRoutine" };
    ULONG64 n;
    size_t found = 0, i;

    for (n = 1; n < 64; n++) {
        PDRIVER_OBJECT driver = NULL;
        NTSTATUS status;
        const char *api;

        shim_log_clear();
        shim_fail_call(n);
        status = shim_load_driver(DriverEntry, &driver);
        shim_fail_call(0);
        if (NT_SUCCESS(status)) {
            unload_ok(driver, 0);
            break;
        }
        api = shim_last_injected_api();
        for (i = 0; i < ARRAYSIZE(apis); i++)
            if (api && !strcmp(api, apis[i])) {
                found++;
                ok(status == shim_last_injected_status(), "%s failed: DriverEntry 0x%08x\n", api,
                   ST(status));
                ok(shim_log_find(api) == 1, "no log line naming %s: %s", api, last_log());
            }
        check_ledger_empty(api ? api : "a DriverEntry fault");
    }
    ok(found == ARRAYSIZE(apis), "%zu of the 3 registrations were failed\n", found);
}

void test_events(void)
{
    test_records();
    test_names();
    test_subscribe_rules();
    test_subscriptions_per_process();
    test_pending_paths();
    test_staging_exhausted();
    test_staging_storm();
    test_registration_faults();
    test_cancel_race();
    test_concurrent_sequences();
}
