/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a sequence of operations on a loaded driver, sent through
 * the host shim's I/O manager (test/unit/shim) as Windows would send them, from one of six
 * processes. A model of the protocol predicts every status, every byte returned and every
 * counter, and every event record: its bytes, zeroed padding, sequence numbers, drops (for a
 * full queue, or for want of pool when every staging buffer is taken), which pending request
 * it completes and how each one ends (an event, CancelIoEx, CLEANUP, CLOSE, DISCONNECT,
 * DriverUnload), and which buffer the driver maps (only those of requests it accepts). After
 * each step the driver's counters, the shim's ledger and the canaries around every buffer are
 * checked, and at the end, after DriverUnload, the ledger must be empty. Any difference
 * aborts (a crash to libFuzzer). Built with ASan and UBSan: see the Makefile's fuzz rules and
 * test/fuzz/run.sh.
 *
 * Encoding (every field one byte unless said; a missing byte reads as 0):
 *   op = byte % 16
 *   0 CREATE  flags         access = ACCESSES[flags & 7], caller = (flags >> 3) % 3
 *                           (admin, system, user), path = (flags >> 5) % 3 (link, device
 *                           name, link + "\x", which the driver refuses)
 *   1 CLOSE   slot          CLEANUP (unless sent already) then CLOSE
 *   2 CLEANUP slot          the handle is closed, its file object not yet
 *   3 READ    slot len
 *   4 WRITE   slot len fill
 *   5 IOCTL   slot code inlen outlen fill
 *   6 FAULT   k             the (k % 15 + 1)-th failable kernel call from now fails (15:
 *                           past DriverEntry's 14, for a RELOAD)
 *   7 RELOAD                DriverUnload with the handles open, then DriverEntry again
 *   8 MAJOR   slot major    an IRP of another major function
 *   9 WINE    b             b odd: toggle: a 0-byte read or write gets an MDL (Wine) or
 *                           none; b even: DISCONNECT on slot b >> 1
 *  10 SUBSCRIBE slot len size types queue   input length 12 (len < 0xE0) or len - 0xE0;
 *                           Size 12 (size < 0xF0) or a wrong one; Types the byte (0xFF: a
 *                           high bit too); QueueBytes one of the boundaries (op_subscribe)
 *  11 GET_EVENTS slot len   may pend; len folded to at most GET_EVENTS_CAP
 *  12 CANCEL  slot which    CancelIoEx on a pending GET_EVENTS (which % count; bit 6: the
 *                           newest), bit 7: on all of the handle's (process exit)
 *  13 MARK    slot a b fill input length a + (b & 3)
 *  14 NOTIFY  kind pid16 ...  (kind & 0x3F) % 5: process create (parent, creating process and thread
 *                           16-bit, image name and command line: length selector and fill
 *                           each), process exit (status 32-bit), thread create, thread exit
 *                           (thread 16-bit), image load (base, size 32-bit, kernel bit,
 *                           name); names are NAME_BYTES long, or absent, or without buffer;
 *                           kind bit 7: every staging buffer is taken meanwhile, bit 6: the
 *                           kernel could not open the image by its name
 *  15 WINE-CLOSE slot       IRP_MJ_CLOSE at once, no CLEANUP, requests pending or not
 *   slot = byte % 8 (an empty slot skips the operation); the request comes from process
 *          PROCESSES[(byte >> 3) % 6]
 *   len  = class byte, then: 0: 0; 1: 1 + byte; 2: 16-bit LE; 3: BOUNDARIES[byte];
 *          4: 32-bit LE (absurd lengths too); 5-7: byte
 *   code = selector byte, then: 0-3: protocol code; 4: byte b -> function 0x800 + b % 4,
 *          method b >> 2, access b >> 4 (our device type); 5: 16-bit function, byte
 *          method/access (our device type); 6: raw 32-bit LE; 7: byte -> another device type
 */
#define _DEFAULT_SOURCE
#include "sanctum.h"
#include "shim.h"

#include <stdio.h>
#include <stdlib.h>
#include <sanitizer/asan_interface.h>
#include <sys/mman.h>

#if !__has_feature(address_sanitizer)
#error "poisoned regions stand for heap blocks here: build with -fsanitize=address"
#endif

/* driver.c's entry point. */
DRIVER_INITIALIZE DriverEntry;

#define RW (FILE_READ_DATA | FILE_WRITE_DATA)
#define SLOTS 8
#define CANARY 0xCC
/* The longest METHOD_BUFFERED (or direct-input) user buffer the fuzzer passes: twice the
 * longest the driver takes (ECHO's). Longer lengths are folded back below it, except those no
 * system buffer could hold (refused before any allocation): each costs a system buffer of its
 * size, and none between the two meets a check of its own. */
#define BUFFERED_CAP (2u * SANCTUM_MAX_ECHO)
/* Direct-I/O buffers: this much of a longer one is accessible, the rest PROT_NONE. */
#define DIRECT_CAP SANCTUM_MAX_FILL
#define PAGE 4096u

/* queue.c's private message layout, mirrored: PoolBytes counts its size per message. */
typedef struct {
    LIST_ENTRY Link;
    ULONG Length;
    UCHAR Data[ANYSIZE_ARRAY];
} FUZZ_MESSAGE;
#define MESSAGE_BYTES(n) ((ULONG64)FIELD_OFFSET(FUZZ_MESSAGE, Data) + (ULONG64)(n))
#define HANDLE_BYTES ((ULONG64)sizeof(SANCTUM_HANDLE))
/* The processes requests come from: fewer than the subscriptions one process may hold times
 * the slots, so that the per-process limit is met. */
static const HANDLE PROCESSES[6] = {
    (HANDLE)(ULONG_PTR)0x1004, (HANDLE)(ULONG_PTR)0x1008, (HANDLE)(ULONG_PTR)0x100C,
    (HANDLE)(ULONG_PTR)0x1010, (HANDLE)(ULONG_PTR)0x1014, (HANDLE)(ULONG_PTR)0x1018,
};

static const ACCESS_MASK ACCESSES[8] = {
    RW, FILE_READ_DATA, FILE_WRITE_DATA, 0, GENERIC_READ | GENERIC_WRITE, GENERIC_ALL,
    FILE_READ_DATA | SYNCHRONIZE, RW,
};
static const ULONG BOUNDARIES[] = {
    0, 1, 2, 3, 4, 5, 19, 20, 21, 87, 88, 89, 4095, 4096, 4097, 65535, 65536, 65537,
    SANCTUM_MAX_FILL - 1, SANCTUM_MAX_FILL, SANCTUM_MAX_FILL + 1, SHIM_MAX_SYSTEM_BUFFER,
    SHIM_MAX_SYSTEM_BUFFER + 1, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu, sizeof(SANCTUM_STATS) - 1,
    sizeof(SANCTUM_STATS), sizeof(SANCTUM_STATS) + 1,
};

#define CHECK(cond, ...)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "fuzz_driver: %s:%d: check failed: %s\n  ", __FILE__,   \
                    __LINE__, #cond);                                               \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            abort();                                                                \
        }                                                                           \
    } while (0)

/* ---- the input ---- */

typedef struct {
    const UCHAR *Data;
    size_t Size, At;
} INPUT;

static UCHAR u8(INPUT *in)
{
    return in->At < in->Size ? in->Data[in->At++] : 0;
}

static ULONG u16(INPUT *in)
{
    ULONG lo = u8(in);

    return lo | (ULONG)u8(in) << 8;
}

static ULONG u32(INPUT *in)
{
    ULONG lo = u16(in);

    return lo | u16(in) << 16;
}

static ULONG length(INPUT *in)
{
    switch (u8(in) % 8) {
    case 0:
        return 0;
    case 1:
        return 1 + (ULONG)u8(in);
    case 2:
        return u16(in);
    case 3:
        return BOUNDARIES[u8(in) % ARRAYSIZE(BOUNDARIES)];
    case 4:
        return u32(in);
    default:
        return u8(in);
    }
}

static ULONG code(INPUT *in)
{
    static const ULONG known[] = { IOCTL_SANCTUM_GET_VERSION, IOCTL_SANCTUM_ECHO,
                                   IOCTL_SANCTUM_GET_STATS, IOCTL_SANCTUM_FILL };
    ULONG sel = u8(in) % 8, b, f;

    if (sel < 4)
        return known[sel];
    switch (sel) {
    case 4:
        b = u8(in);
        return CTL_CODE(SANCTUM_DEVICE_TYPE, 0x800 + b % 4, (b >> 2) & 3, (b >> 4) & 3);
    case 5:
        f = u16(in) & 0xFFF;
        b = u8(in);
        return CTL_CODE(SANCTUM_DEVICE_TYPE, f, b & 3, (b >> 2) & 3);
    case 6:
        return u32(in);
    default:
        b = u8(in);
        return CTL_CODE(0x22u + (b & 0x40 ? 0x8A00u : 0), 0x800 + b % 4, (b >> 2) & 3,
                        (b >> 4) & 3);
    }
}

/* ---- user buffers: exact-size poisoned regions, or mappings with PROT_NONE around ---- */

/* Up to this many bytes a buffer is exactly its length in a poisoned region (small_get). */
#define SMALL_CAP (65536u + 64)
/* A 32-bit length and the page it may start into, then at least one guard page. */
#define RESERVED_SPAN (0x100000000ull + 2 * PAGE)

typedef struct {
    UCHAR *P;          /* what the caller passes */
    ULONG Length;      /* what the caller says */
    UCHAR *Rw;         /* the accessible bytes around P, all CANARY at first */
    size_t RwLength;
    size_t Accessible; /* bytes of P that may be written */
    size_t Dirty;      /* bytes of P that may differ from CANARY: the caller's or the reply */
    BOOLEAN Small;     /* P is in a poisoned region (else in a mapping made once) */
    BOOLEAN Checked;
} UBUF;

static UCHAR *map(size_t length, int prot)
{
    UCHAR *p = mmap(NULL, length, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    CHECK(p != MAP_FAILED, "mmap of %zu bytes failed", length);
    return p;
}

/*
 * One mapping of DIRECT_CAP bytes and a guard page, made once: big buffers that are all
 * accessible end at its guard page (no page faults for every 16 MiB FILL). Like the
 * mappings below, it holds CANARY between calls (see ubuf_put). It is filled from its end
 * as far as buffers have reached: a short run need not touch all 16 MiB.
 */
static UCHAR *big_buffer(size_t len)
{
    static UCHAR *big;
    static size_t filled = DIRECT_CAP; /* [filled, DIRECT_CAP) holds CANARY */
    size_t from = (DIRECT_CAP - len) & ~(size_t)(PAGE - 1);

    if (!big) {
        big = map(DIRECT_CAP + PAGE, PROT_READ | PROT_WRITE);
        CHECK(!mprotect(big + DIRECT_CAP, PAGE, PROT_NONE), "mprotect failed");
    }
    if (from < filled) {
        memset(big + from, CANARY, filled - from);
        filled = from;
    }
    return big;
}

/*
 * A buffer longer than what may be written of it: its first SANCTUM_MAX_MESSAGE bytes (to the
 * end of their page) accessible, the rest of its length and a guard page PROT_NONE. Made
 * once for each of the two shapes the accessible part has (it starts on a page boundary or
 * not), so no call maps, protects or unmaps anything.
 */
static UCHAR *reserved(size_t offset)
{
    static UCHAR *spans[2];
    size_t shape = offset != 0, accessible;

    if (!spans[shape]) {
        spans[shape] = map(RESERVED_SPAN, PROT_NONE);
        accessible = (offset + SANCTUM_MAX_MESSAGE + PAGE - 1) / PAGE * PAGE;
        CHECK(!mprotect(spans[shape], accessible, PROT_READ | PROT_WRITE), "mprotect failed");
        memset(spans[shape], CANARY, accessible);
    }
    return spans[shape];
}

/*
 * What callers write and pass as input: byte i is (UCHAR)(i * 7 + (i >> 9)), made once and
 * read-only, a guard page after it. A long input is its tail (ASan cannot watch a mapping, the
 * guard page can); a short one is copied from it into a heap block of its own.
 */
static const UCHAR *pattern(void)
{
    static UCHAR *bytes;
    ULONG i;

    if (!bytes) {
        bytes = map(BUFFERED_CAP + PAGE, PROT_READ | PROT_WRITE);
        for (i = 0; i < BUFFERED_CAP; i++)
            bytes[i] = (UCHAR)(i * 7 + (i >> 9));
        CHECK(!mprotect(bytes, BUFFERED_CAP, PROT_READ), "mprotect failed");
        CHECK(!mprotect(bytes + BUFFERED_CAP, PAGE, PROT_NONE), "mprotect failed");
    }
    return bytes;
}

/*
 * Short buffers: exactly their length unpoisoned in a region made once, the rest of it
 * poisoned, so ASan reports a byte touched past either end as it would for a heap block of
 * their own, with no allocation per call. One region for each buffer a call may pass.
 */
enum { SMALL_OUTPUT, SMALL_INPUT, SMALL_NAME, SMALL_COMMAND_LINE, SMALL_REGIONS };
#define SMALL_REDZONE 64u
#define SMALL_SPAN (SMALL_CAP + 2 * SMALL_REDZONE)

static UCHAR *small_get(int which, size_t len)
{
    static UCHAR *regions[SMALL_REGIONS];

    if (!regions[which]) {
        regions[which] = map(SMALL_SPAN, PROT_READ | PROT_WRITE);
        ASAN_POISON_MEMORY_REGION(regions[which], SMALL_SPAN);
    }
    ASAN_UNPOISON_MEMORY_REGION(regions[which] + SMALL_REDZONE, len);
    return regions[which] + SMALL_REDZONE;
}

static void small_put(const UCHAR *p, size_t len)
{
    ASAN_POISON_MEMORY_REGION(p, len);
}

static void ubuf_get(UBUF *b, ULONG len, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->Length = len;
    if (len <= SMALL_CAP) {
        b->P = b->Rw = small_get(SMALL_OUTPUT, len);
        b->RwLength = b->Accessible = len;
        b->Small = TRUE;
        memset(b->Rw, CANARY, b->RwLength);
    } else if (len <= cap && len <= DIRECT_CAP) {
        /* All of it accessible, its end at the guard page. */
        UCHAR *end = big_buffer(len) + DIRECT_CAP;

        b->P = end - len;
        b->Rw = (UCHAR *)((uintptr_t)b->P & ~(uintptr_t)(PAGE - 1));
        b->RwLength = (size_t)(end - b->Rw);
        b->Accessible = len;
    } else {
        /* P keeps the page offset it would have if it ended on a page boundary. */
        size_t offset = (PAGE - len % PAGE) % PAGE;

        b->Rw = reserved(offset);
        b->P = b->Rw + offset;
        b->Accessible = SANCTUM_MAX_MESSAGE;
        b->RwLength = (offset + SANCTUM_MAX_MESSAGE + PAGE - 1) / PAGE * PAGE;
    }
}

/* Index of the first byte of [from, to) that is not CANARY, or -1. */
static long first_written(const UCHAR *p, size_t from, size_t to)
{
    static UCHAR canaries[4096];
    size_t i, chunk;

    if (canaries[0] != CANARY)
        memset(canaries, CANARY, sizeof(canaries));
    for (i = from; i < to; i += chunk) {
        chunk = to - i < sizeof(canaries) ? to - i : sizeof(canaries);
        if (memcmp(p + i, canaries, chunk))
            break;
    }
    for (; i < to; i++)
        if (p[i] != CANARY)
            return (long)i;
    return -1;
}

/* Nothing written outside P[0, n) (the whole accessible area otherwise CANARY). */
static void ubuf_check(UBUF *b, size_t n, const char *what)
{
    size_t offset = (size_t)(b->P - b->Rw);
    long bad = first_written(b->Rw, 0, offset);

    if (bad < 0)
        bad = first_written(b->Rw, offset + n, b->RwLength);
    CHECK(bad < 0, "%s: byte %ld (of %u) written outside the reply of %zu bytes", what,
          bad - (long)offset, b->Length, n);
    b->Dirty = n;
    b->Checked = TRUE;
}

/*
 * The mappings hold CANARY between calls, so a buffer in them needs no filling: what the
 * caller or the reply put at P is reset here. A buffer nobody checked is checked first (a
 * request that writes nothing must leave the caller's bytes alone).
 */
static void ubuf_put(UBUF *b)
{
    if (!b->Checked)
        ubuf_check(b, b->Dirty, "a request's buffer");
    if (b->Small)
        small_put(b->P, b->Length);
    else
        memset(b->P, CANARY, b->Dirty);
}

/* ---- the model ---- */

/* A message the driver holds: its bytes are pattern() + Fill (see op_write). */
typedef struct {
    ULONG Length;
    UCHAR Fill;
} MODEL_MESSAGE;

/* Events one input can publish: one per step at most. */
#define MAX_EVENTS 256
/* A queued record: the event (its bytes in events[]) and its sequence number on this handle. */
typedef struct {
    USHORT Event;
    ULONG64 Sequence;
} MODEL_RECORD;

/* A GET_EVENTS request the driver pended, with the caller's buffer (CANARY at first). */
typedef struct {
    SHIM_ASYNC *Async;
    UCHAR *Out;
    ULONG Length;
} MODEL_PENDING;

typedef struct {
    SHIM_FILE *File;
    ACCESS_MASK Access;
    BOOLEAN CleanedUp;
    ULONG Generation; /* DISCONNECTs before it was opened */
    MODEL_MESSAGE Queue[SANCTUM_MAX_QUEUED];
    ULONG Head, Count;
    /* Protocol 2: the subscription, its queue of records, its pending requests. */
    BOOLEAN Subscribed;
    HANDLE SubscribedBy; /* the process that sent the SUBSCRIBE */
    ULONG Types, Capacity, Used;
    ULONG64 Sequence;
    MODEL_RECORD Records[MAX_EVENTS];
    ULONG RecordHead, RecordCount;
    MODEL_PENDING Pending[SANCTUM_MAX_PENDING_PER_HANDLE];
    ULONG PendingCount;
} MODEL_HANDLE;

static struct {
    PDRIVER_OBJECT Driver;
    MODEL_HANDLE Handles[SLOTS];
    SANCTUM_STATS Expected;
    LONG64 Countdown; /* failable calls until the armed fault; 0: none armed */
    BOOLEAN WineMdl;
    ULONG Step, Op;   /* where the run is, for the messages */
    ULONG QueueBytes; /* of every subscription's queue */
    BOOLEAN Staging;  /* the staging block exists: from the first SUBSCRIBE to unload */
    ULONG Spare;      /* blocks the staging block's lookaside list keeps */
    ULONG Generation; /* DISCONNECTs since DriverEntry */
    HANDLE Process;   /* the process of this step's request */
    LONG64 Now;       /* the system time the shim gives the driver */
    ULONG Events;     /* published by this input, in events[] */
} m;

/* Every event of the input as the driver must record it (Sequence 0: each queue has its own). */
static UCHAR events[MAX_EVENTS][SANCTUM_MAX_EVENT_SIZE];

static PSANCTUM_STATE state(void)
{
    return m.Driver->DeviceObject->DeviceExtension;
}

static ULONG open_files(void)
{
    ULONG i, n = 0;

    for (i = 0; i < SLOTS; i++)
        n += m.Handles[i].File != NULL;
    return n;
}

/* "step N (op K)", made only for a message. */
static const char *step_name(void)
{
    static char name[32];

    snprintf(name, sizeof(name), "step %u (op %u)", m.Step, m.Op);
    return name;
}

/* After every step (what: NULL) or phase: the counters, the pool and the shim's objects as
 * the model says. */
static void check_invariants(const char *what)
{
    SANCTUM_STATS s, *e = &m.Expected;
    SHIM_LEDGER l;

/* The name of the step is made only when a check fails. */
#define WHERE (what ? what : step_name())

    SanctumSnapshot(state(), &s);
    e->Size = sizeof(SANCTUM_STATS);
#define SAME(f)                                                                             \
    CHECK(s.f == e->f, "after %s: " #f " is %llu, the model says %llu", WHERE,             \
          (unsigned long long)s.f, (unsigned long long)e->f)
    SAME(Size);
    SAME(OpenHandles);
    SAME(Creates);
    SAME(Closes);
    SAME(Reads);
    SAME(Writes);
    SAME(Ioctls);
    SAME(Failures);
    SAME(BytesIn);
    SAME(BytesOut);
    SAME(PoolAllocations);
    SAME(PoolBytes);
    SAME(EventsQueued);
    SAME(EventsDropped);
    SAME(Subscriptions);
    SAME(PendingRequests);
    SAME(EventsDroppedNoMemory);
    SAME(MessageBytes);
#undef SAME
    shim_ledger(&l);
    CHECK(l.PoolBlocks == s.PoolAllocations && l.PoolBytes == s.PoolBytes,
          "after %s: the ledger holds %llu blocks, %llu bytes; the driver counts %llu, %llu", WHERE,
          (unsigned long long)l.PoolBlocks, (unsigned long long)l.PoolBytes,
          (unsigned long long)s.PoolAllocations, (unsigned long long)s.PoolBytes);
    CHECK(l.Devices == 1 && l.Links == 1 && l.Handles == 0 && l.Irps == e->PendingRequests &&
              l.Files == open_files() && l.Notifications == 3,
          "after %s: %u devices, %u links, %u handles, %u IRPs, %u files (model %u), %u "
          "notify routines", WHERE, l.Devices, l.Links, l.Handles, l.Irps, l.Files, open_files(),
          l.Notifications);
#undef WHERE
}

/* The failable calls an operation makes, in order: the armed fault hits the Countdown-th. */
typedef enum { CALL_NONE, CALL_POOL, CALL_MAP } CALL;

/* Which of an operation's n failable calls fails (its index), or -1; advances the countdown. */
static int predict_fault(int n)
{
    int hit = -1;

    if (m.Countdown > 0 && m.Countdown <= n)
        hit = (int)m.Countdown - 1;
    m.Countdown = m.Countdown > n ? m.Countdown - n : 0;
    return hit;
}

/* The shim agrees: exactly the predicted calls were made, the predicted one failed. */
static void check_calls(const char *what, ULONG64 calls_before, ULONG64 injected_before, int n,
                        int hit, const CALL *calls)
{
    ULONG64 made = shim_failable_calls() - calls_before;
    ULONG64 injected = shim_injected_failures() - injected_before;

    if (hit >= 0)
        n = hit + 1; /* the driver stops at the failure */
    CHECK(made == (ULONG64)n, "%s made %llu failable calls, the model expects %d", what,
          (unsigned long long)made, n);
    CHECK(injected == (hit >= 0), "%s: %llu faults injected, the model expects %d", what,
          (unsigned long long)injected, hit >= 0);
    if (hit >= 0) {
        const char *api = shim_last_injected_api();

        CHECK(!strcmp(api, calls[hit] == CALL_POOL ? "ExAllocatePoolWithTag"
                                                   : "MmMapLockedPagesSpecifyCache"),
              "%s: the fault hit %s", what, api);
    }
}

/* DriverEntry's failable calls: IoCreateDevice, the security calls, the three notify
 * registrations, IoCreateSymbolicLink. */
#define DRIVER_ENTRY_CALLS 14
/* The records a callback builds before queueing them: allocated by the first SUBSCRIBE whose
 * input is valid, kept until unload. */
#define STAGING_BYTES ((ULONG64)sizeof(SANCTUM_STAGING))

static void load(void)
{
    ULONG64 before = shim_injected_failures(), calls = shim_failable_calls();
    NTSTATUS status;

    shim_log_clear();
    status = shim_load_driver(DriverEntry, &m.Driver);
    if (shim_injected_failures() != before) {
        /* DriverEntry failed at the fault: its status, and nothing left behind. */
        CHECK(status == shim_last_injected_status() && !m.Driver,
              "DriverEntry with a fault in %s: 0x%08x", shim_last_injected_api(),
              (unsigned)status);
        CHECK(shim_ledger_empty(), "a failed DriverEntry left something in the ledger");
        m.Countdown = 0;
        status = shim_load_driver(DriverEntry, &m.Driver);
    } else {
        ULONG64 made = shim_failable_calls() - calls;

        CHECK(made == DRIVER_ENTRY_CALLS, "DriverEntry made %llu failable calls",
              (unsigned long long)made);
        m.Countdown = m.Countdown > (LONG64)made ? m.Countdown - (LONG64)made : 0;
    }
    CHECK(status == STATUS_SUCCESS && m.Driver, "DriverEntry: 0x%08x", (unsigned)status);
    memset(&m.Expected, 0, sizeof(m.Expected));
    m.QueueBytes = 0;
    m.Staging = FALSE;
    m.Spare = 0;
    m.Generation = 0;
    check_invariants("DriverEntry");
}

static void forget_queue(MODEL_HANDLE *h)
{
    while (h->Count) {
        MODEL_MESSAGE *msg = &h->Queue[h->Head];

        m.Expected.PoolAllocations--;
        m.Expected.PoolBytes -= MESSAGE_BYTES(msg->Length);
        m.Expected.MessageBytes -= msg->Length;
        h->Head = (h->Head + 1) % SANCTUM_MAX_QUEUED;
        h->Count--;
    }
    h->Head = 0;
}


/* ---- protocol 2: subscriptions, records, pending GET_EVENTS ---- */

#define RECORD_SIZE(n) (((n) + 7u) & ~7u)
/* What the fuzzer passes as a GET_EVENTS buffer at most (a pending one must stay allocated). */
#define GET_EVENTS_CAP (3 * SANCTUM_MAX_EVENT_SIZE + 64)
#define EVENT_TIME 133000000000000000LL

static const SANCTUM_EVENT_HEADER *event(ULONG e)
{
    return (const SANCTUM_EVENT_HEADER *)events[e];
}

/* Moves the handle's records that fit in len bytes out of its queue, checking each in out. */
static ULONG take_records(MODEL_HANDLE *h, const UCHAR *out, ULONG len, const char *what)
{
    ULONG done = 0;

    while (h->RecordCount) {
        MODEL_RECORD *r = &h->Records[h->RecordHead];
        const SANCTUM_EVENT_HEADER *e = event(r->Event);
        SANCTUM_EVENT_HEADER head = *e;

        if (e->Size > len - done)
            break;
        head.Sequence = r->Sequence;
        CHECK(!memcmp(out + done, &head, sizeof(head)) &&
                  !memcmp(out + done + sizeof(head), e + 1, e->Size - sizeof(head)),
              "%s: the record at byte %u (type %u, %u bytes, sequence %llu) is not the model's",
              what, done, e->Type, e->Size, (unsigned long long)r->Sequence);
        done += e->Size;
        h->Used -= e->Size;
        h->RecordHead = (h->RecordHead + 1) % MAX_EVENTS;
        h->RecordCount--;
    }
    return done;
}

/* A pended request has ended as the model says, its buffer written only up to the reply. */
static void finish_pending(MODEL_HANDLE *h, ULONG i, NTSTATUS want, ULONG_PTR want_info,
                           const char *what)
{
    MODEL_PENDING *p = &h->Pending[i];
    ULONG_PTR info;
    NTSTATUS status;
    long bad;

    CHECK(shim_async_done(p->Async), "%s: a pending GET_EVENTS was not completed", what);
    status = shim_async_status(p->Async, &info);
    CHECK(status == want && info == want_info,
          "%s: a pending GET_EVENTS ended with 0x%08x, %llu bytes; the model says 0x%08x, %llu",
          what, (unsigned)status, (unsigned long long)info, (unsigned)want,
          (unsigned long long)want_info);
    bad = first_written(p->Out, info, p->Length);
    CHECK(bad < 0, "%s: byte %ld of a GET_EVENTS buffer written past its %llu-byte reply", what,
          bad, (unsigned long long)info);
    shim_async_free(p->Async);
    free(p->Out);
    memmove(p, p + 1, (h->PendingCount - i - 1) * sizeof(*p));
    h->PendingCount--;
    m.Expected.PendingRequests--;
    if (NT_SUCCESS(want))
        m.Expected.BytesOut += want_info;
    else
        m.Expected.Failures++;
}

/*
 * CLEANUP, CLOSE or DriverUnload (their pending requests end with STATUS_CANCELLED), or
 * DISCONNECT (STATUS_DEVICE_NOT_CONNECTED) ended the subscription.
 */
static void end_subscription(MODEL_HANDLE *h, NTSTATUS status, const char *what)
{
    if (!h->Subscribed)
        return;
    while (h->PendingCount)
        finish_pending(h, 0, status, 0, what);
    m.Expected.PoolAllocations--;
    m.Expected.PoolBytes -= h->Capacity;
    m.Expected.Subscriptions--;
    m.QueueBytes -= h->Capacity;
    h->Subscribed = FALSE;
    h->RecordHead = h->RecordCount = h->Used = 0;
}

static BOOLEAN wanted(USHORT type)
{
    ULONG i;

    for (i = 0; i < SLOTS; i++)
        if (m.Handles[i].Subscribed && (m.Handles[i].Types & SANCTUM_EVENT_MASK(type)))
            return TRUE;
    return FALSE;
}

/* No pool for the record: every subscription of its type loses it, and its sequence number. */
static void drop_no_memory(USHORT type)
{
    ULONG i;

    for (i = 0; i < SLOTS; i++) {
        MODEL_HANDLE *h = &m.Handles[i];

        if (h->Subscribed && (h->Types & SANCTUM_EVENT_MASK(type))) {
            h->Sequence++;
            m.Expected.EventsDroppedNoMemory++;
        }
    }
}

/* Subscriptions that process made, in use now. */
static ULONG subscriptions_of(HANDLE process)
{
    ULONG i, n = 0;

    for (i = 0; i < SLOTS; i++)
        n += m.Handles[i].Subscribed && m.Handles[i].SubscribedBy == process;
    return n;
}

/* Why a handle may not subscribe or pend (SanctumHandleStatus), or STATUS_SUCCESS. */
static NTSTATUS handle_status(const MODEL_HANDLE *h)
{
    if (h->CleanedUp)
        return STATUS_DELETE_PENDING;
    if (h->Generation != m.Generation)
        return STATUS_DEVICE_NOT_CONNECTED;
    return STATUS_SUCCESS;
}

/* A record of type as the driver starts it: zeroed, the time set. */
static PSANCTUM_EVENT_HEADER new_event(USHORT type)
{
    PSANCTUM_EVENT_HEADER r;

    CHECK(m.Events < MAX_EVENTS, "more events than steps");
    r = (PSANCTUM_EVENT_HEADER)events[m.Events];
    memset(r, 0, SANCTUM_MAX_EVENT_SIZE);
    r->Type = type;
    r->Time = m.Now;
    return r;
}

/* The record goes to every subscription of its type: queued, or dropped when it does not fit;
 * a queued one completes the oldest pending request at once. */
static void publish(PSANCTUM_EVENT_HEADER r, ULONG body)
{
    ULONG e = m.Events++, i;

    r->Size = (USHORT)RECORD_SIZE(sizeof(*r) + body);
    for (i = 0; i < SLOTS; i++) {
        MODEL_HANDLE *h = &m.Handles[i];

        if (!h->Subscribed || !(h->Types & SANCTUM_EVENT_MASK(r->Type)))
            continue;
        h->Sequence++;
        if (r->Size > h->Capacity - h->Used) {
            m.Expected.EventsDropped++;
            continue;
        }
        h->Records[(h->RecordHead + h->RecordCount) % MAX_EVENTS] =
            (MODEL_RECORD){ (USHORT)e, h->Sequence };
        h->RecordCount++;
        h->Used += r->Size;
        m.Expected.EventsQueued++;
        if (h->PendingCount)
            finish_pending(h, 0, STATUS_SUCCESS,
                           take_records(h, h->Pending[0].Out, h->Pending[0].Length,
                                        "a GET_EVENTS completed by an event"),
                           "an event");
    }
}

/* SUBSCRIBE's checks before it allocates the queue: the status, and the queue's size. */
static NTSTATUS subscribe_check(const UCHAR *input, ULONG in_len, ULONG *bytes)
{
    SANCTUM_SUBSCRIBE in;

    if (in_len != sizeof(in) || !input)
        return STATUS_INVALID_PARAMETER;
    memcpy(&in, input, sizeof(in));
    if (in.Size != sizeof(in) || !in.Types || (in.Types & ~(ULONG)SANCTUM_EVENT_ALL))
        return STATUS_INVALID_PARAMETER;
    *bytes = in.QueueBytes ? in.QueueBytes : SANCTUM_DEFAULT_QUEUE_BYTES;
    if (*bytes < SANCTUM_MIN_QUEUE_BYTES || *bytes > SANCTUM_MAX_QUEUE_BYTES)
        return STATUS_INVALID_PARAMETER;
    *bytes = RECORD_SIZE(*bytes);
    return STATUS_SUCCESS;
}

/* A name as the driver copies it: cut to max bytes (whole UTF-16 units), flags for a cut
 * name and a missing one. */
static USHORT model_name(UCHAR *out, PCUNICODE_STRING name, ULONG max, ULONG *flags, ULONG cut,
                         ULONG missing)
{
    ULONG len;

    if (!name || !name->Buffer) {
        *flags |= missing;
        return 0;
    }
    len = name->Length & ~1u;
    if (len > max) {
        len = max & ~1u;
        *flags |= cut;
    }
    memcpy(out, name->Buffer, len);
    return (USHORT)len;
}

static void unload(void)
{
    SHIM_LEDGER l;
    ULONG i, files = open_files();

    shim_log_clear();
    shim_unload_driver(m.Driver);
    m.Driver = NULL;
    for (i = 0; i < SLOTS; i++)
        end_subscription(&m.Handles[i], STATUS_CANCELLED, "DriverUnload");
    CHECK(shim_log_find(SANCTUM_LOG_PREFIX
                        ": unloaded, pool outstanding: 0 allocations, 0 bytes\n") == 1,
          "the unload line: %s",
          shim_log_count() ? shim_log_line(shim_log_count() - 1)->Text : "(none)\n");
    shim_ledger(&l);
    CHECK(!l.PoolBlocks && !l.PoolBytes && !l.Devices && !l.Links && !l.Handles && !l.Irps &&
              l.Files == files,
          "after DriverUnload: %llu pool blocks, %u devices, %u links, %u handles, %u files",
          (unsigned long long)l.PoolBlocks, l.Devices, l.Links, l.Handles, l.Files);
    /* Handles still open (Wine allows the stop) lose their driver: let them go. */
    for (i = 0; i < SLOTS; i++) {
        if (!m.Handles[i].File)
            continue;
        forget_queue(&m.Handles[i]);
        shim_abandon(m.Handles[i].File);
        m.Handles[i].File = NULL;
    }
    CHECK(shim_ledger_empty(), "the ledger is not empty after DriverUnload");
}

/* ---- operations ---- */

static void op_create(INPUT *in)
{
    static const PCWSTR paths[] = { SANCTUM_DOS_DEVICE_NAME, SANCTUM_NT_DEVICE_NAME,
                                    SANCTUM_DOS_DEVICE_NAME L"\\x" };
    UCHAR flags = u8(in);
    ACCESS_MASK access = ACCESSES[flags & 7];
    SHIM_CALLER caller = (SHIM_CALLER)((flags >> 3) % 3);
    ULONG path = (flags >> 5) % 3;
    CALL calls[] = { CALL_POOL };
    MODEL_HANDLE *h = NULL;
    ULONG64 made, injected;
    SHIM_FILE *file;
    NTSTATUS status;
    int hit, i;

    for (i = 0; i < SLOTS && !h; i++)
        if (!m.Handles[i].File)
            h = &m.Handles[i];
    if (!h)
        return;
    made = shim_failable_calls();
    injected = shim_injected_failures();
    status = shim_create(paths[path], access, caller, &file);
    if (caller == SHIM_CALLER_USER && access) {
        /* The DACL admits LocalSystem and Administrators only (also below the device). */
        CHECK(status == STATUS_ACCESS_DENIED && !file && !shim_last_dispatched(),
              "a standard user's open: 0x%08x", (unsigned)status);
        check_calls("a refused open", made, injected, 0, -1, calls);
        return;
    }
    if (path == 2) {
        /* A name below the device: refused by the driver, before it allocates anything. */
        CHECK(status == STATUS_OBJECT_NAME_NOT_FOUND && !file && shim_last_dispatched(),
              "an open below the device: 0x%08x", (unsigned)status);
        check_calls("an open below the device", made, injected, 0, -1, calls);
        m.Expected.Failures++;
        return;
    }
    hit = predict_fault(1);
    check_calls("create", made, injected, 1, hit, calls);
    if (hit >= 0) {
        CHECK(status == STATUS_INSUFFICIENT_RESOURCES && !file, "create with a pool fault: 0x%08x",
              (unsigned)status);
        m.Expected.Failures++;
        return;
    }
    CHECK(status == STATUS_SUCCESS && file && shim_file_object(file)->FsContext,
          "create: 0x%08x", (unsigned)status);
    memset(h, 0, sizeof(*h));
    h->File = file;
    h->Access = shim_file_access(file);
    h->Generation = m.Generation;
    m.Expected.Creates++;
    m.Expected.OpenHandles++;
    m.Expected.PoolAllocations++;
    m.Expected.PoolBytes += HANDLE_BYTES;
}

/* The handle a slot byte names, and the process its request comes from. */
static MODEL_HANDLE *slot_of(UCHAR b)
{
    MODEL_HANDLE *h = &m.Handles[b % SLOTS];

    m.Process = PROCESSES[(b >> 3) % ARRAYSIZE(PROCESSES)];
    shim_set_process(m.Process);
    return h->File ? h : NULL;
}

static MODEL_HANDLE *slot(INPUT *in)
{
    return slot_of(u8(in));
}

static void op_cleanup(MODEL_HANDLE *h)
{
    shim_cleanup(h->File);
    h->CleanedUp = TRUE;
    forget_queue(h);
    end_subscription(h, STATUS_CANCELLED, "CLEANUP");
}

/* CancelIoEx on the handle's i-th pending request. */
static void cancel_one(MODEL_HANDLE *h, ULONG i)
{
    CHECK(shim_async_cancel(h->Pending[i].Async), "CancelIoEx: no cancel routine was set");
    finish_pending(h, i, STATUS_CANCELLED, 0, "CancelIoEx");
}

/* Windows sends CLOSE once the handle's requests are done (CLEANUP ends them, and none pends
 * after it); Wine sends CLOSE at once, and no CLEANUP. */
static void op_close(MODEL_HANDLE *h, BOOLEAN wine)
{
    if (wine) {
        shim_close_wine(h->File);
    } else {
        CHECK(!h->CleanedUp || !h->PendingCount, "a request pends after CLEANUP");
        shim_close(h->File);
    }
    /* CLOSE also drains what a write after CLEANUP left. */
    forget_queue(h);
    end_subscription(h, STATUS_CANCELLED, "CLOSE");
    h->File = NULL;
    m.Expected.Closes++;
    m.Expected.OpenHandles--;
    m.Expected.PoolAllocations--;
    m.Expected.PoolBytes -= HANDLE_BYTES;
}

static void op_read(INPUT *in, MODEL_HANDLE *h)
{
    ULONG len = length(in);
    CALL calls[] = { CALL_MAP };
    ULONG64 made = shim_failable_calls(), injected = shim_injected_failures();
    /* The caller's pages are mapped only for a message that fits. */
    int n = h->Count && h->Queue[h->Head].Length <= len ? 1 : 0, hit;
    ULONG_PTR info;
    NTSTATUS status;
    UBUF b;

    ubuf_get(&b, len, DIRECT_CAP);
    status = shim_read(h->File, b.P, len, &info);
    if (!(h->Access & FILE_READ_DATA)) {
        CHECK(status == STATUS_ACCESS_DENIED && !shim_last_dispatched(), "read, no access");
        check_calls("a refused read", made, injected, 0, -1, calls);
        ubuf_check(&b, 0, "refused read");
        ubuf_put(&b);
        return;
    }
    hit = predict_fault(n);
    check_calls("read", made, injected, n, hit, calls);
    m.Expected.Reads++;
    if (hit >= 0) {
        CHECK(status == STATUS_INSUFFICIENT_RESOURCES && info == 0,
              "read with a mapping fault: 0x%08x, %llu", (unsigned)status,
              (unsigned long long)info);
        m.Expected.Failures++;
        ubuf_check(&b, 0, "failed read");
    } else if (!h->Count) {
        CHECK(status == STATUS_SUCCESS && info == 0, "read of an empty queue: 0x%08x, %llu",
              (unsigned)status, (unsigned long long)info);
        ubuf_check(&b, 0, "empty read");
    } else {
        MODEL_MESSAGE *msg = &h->Queue[h->Head];

        if (msg->Length > len) {
            CHECK(status == STATUS_BUFFER_TOO_SMALL && info == 0,
                  "read %u of a %u-byte message: 0x%08x, %llu", len, msg->Length,
                  (unsigned)status, (unsigned long long)info);
            m.Expected.Failures++;
            ubuf_check(&b, 0, "short read");
        } else {
            CHECK(status == STATUS_SUCCESS && info == msg->Length &&
                      !memcmp(b.P, pattern() + msg->Fill, msg->Length),
                  "read %u of a %u-byte message: 0x%08x, %llu bytes, or not its bytes", len,
                  msg->Length, (unsigned)status, (unsigned long long)info);
            ubuf_check(&b, msg->Length, "read");
            m.Expected.BytesOut += msg->Length;
            m.Expected.PoolAllocations--;
            m.Expected.PoolBytes -= MESSAGE_BYTES(msg->Length);
            m.Expected.MessageBytes -= msg->Length;
            h->Head = (h->Head + 1) % SANCTUM_MAX_QUEUED;
            h->Count--;
        }
    }
    ubuf_put(&b);
}

static void op_write(INPUT *in, MODEL_HANDLE *h)
{
    ULONG len = length(in);
    size_t data;
    UCHAR fill = u8(in);
    CALL calls[] = { CALL_MAP, CALL_POOL };
    ULONG64 made, injected;
    /* The length and the budget are checked before the caller's pages are mapped. */
    BOOLEAN over = len && len <= SANCTUM_MAX_MESSAGE &&
                   m.Expected.MessageBytes + len > SANCTUM_MAX_TOTAL_MESSAGE_BYTES;
    int n = len == 0 || len > SANCTUM_MAX_MESSAGE || over ? 0 : 2, hit;
    ULONG_PTR info;
    NTSTATUS status;
    UBUF b;

    ubuf_get(&b, len, DIRECT_CAP);
    /* The driver reads at most SANCTUM_MAX_MESSAGE bytes (a longer write is refused unread). */
    data = len < b.Accessible ? len : b.Accessible;
    if (data > SANCTUM_MAX_MESSAGE)
        data = SANCTUM_MAX_MESSAGE;
    memcpy(b.P, pattern() + fill, data);
    b.Dirty = data;
    made = shim_failable_calls();
    injected = shim_injected_failures();
    status = shim_write(h->File, b.P, len, &info);
    if (!(h->Access & FILE_WRITE_DATA)) {
        CHECK(status == STATUS_ACCESS_DENIED && !shim_last_dispatched(), "write, no access");
        check_calls("a refused write", made, injected, 0, -1, calls);
        goto out;
    }
    hit = predict_fault(n);
    check_calls("write", made, injected, n, hit, calls);
    m.Expected.Writes++;
    if (hit >= 0) {
        CHECK(status == STATUS_INSUFFICIENT_RESOURCES && info == 0,
              "write %u with a fault: 0x%08x", len, (unsigned)status);
        m.Expected.Failures++;
    } else if (len == 0 || len > SANCTUM_MAX_MESSAGE) {
        CHECK(status == STATUS_INVALID_PARAMETER && info == 0, "write %u: 0x%08x", len,
              (unsigned)status);
        m.Expected.Failures++;
    } else if (over) {
        CHECK(status == STATUS_QUOTA_EXCEEDED && info == 0, "write %u past the budget: 0x%08x",
              len, (unsigned)status);
        m.Expected.Failures++;
    } else if (h->Count == SANCTUM_MAX_QUEUED) {
        CHECK(status == STATUS_DEVICE_BUSY && info == 0, "write %u to a full queue: 0x%08x", len,
              (unsigned)status);
        m.Expected.Failures++;
    } else {
        MODEL_MESSAGE *msg = &h->Queue[(h->Head + h->Count) % SANCTUM_MAX_QUEUED];

        CHECK(status == STATUS_SUCCESS && info == len, "write %u: 0x%08x, %llu", len,
              (unsigned)status, (unsigned long long)info);
        msg->Length = len;
        msg->Fill = fill;
        h->Count++;
        m.Expected.BytesIn += len;
        m.Expected.PoolAllocations++;
        m.Expected.PoolBytes += MESSAGE_BYTES(len);
        m.Expected.MessageBytes += len;
    }
out:
    /* A write reads the caller's buffer; it never writes it. */
    CHECK(!memcmp(b.P, pattern() + fill, data), "write %u: the caller's bytes changed", len);
    ubuf_put(&b);
}

/* What SanctumDeviceControl answers, given what the dispatch routine passes it. */
static NTSTATUS expected_ioctl(ULONG code, const UCHAR *input, ULONG in_len, BOOLEAN has_output,
                               ULONG out_len, ULONG_PTR *info)
{
    *info = 0;
    switch (code) {
    case IOCTL_SANCTUM_GET_VERSION:
        if (out_len < sizeof(SANCTUM_VERSION) || !has_output)
            return STATUS_BUFFER_TOO_SMALL;
        *info = sizeof(SANCTUM_VERSION);
        return STATUS_SUCCESS;
    case IOCTL_SANCTUM_ECHO:
        if (in_len == 0 || in_len > SANCTUM_MAX_ECHO || !input)
            return STATUS_INVALID_PARAMETER;
        if (out_len < in_len || !has_output)
            return STATUS_BUFFER_TOO_SMALL;
        *info = in_len;
        return STATUS_SUCCESS;
    case IOCTL_SANCTUM_GET_STATS:
        /* A buffer short of the whole gets an earlier protocol's fields. */
        if (out_len < SANCTUM_STATS_V1_SIZE || !has_output)
            return STATUS_BUFFER_TOO_SMALL;
        *info = out_len >= sizeof(SANCTUM_STATS)   ? sizeof(SANCTUM_STATS)
                : out_len >= SANCTUM_STATS_V2_SIZE ? SANCTUM_STATS_V2_SIZE
                                                   : SANCTUM_STATS_V1_SIZE;
        return STATUS_SUCCESS;
    case IOCTL_SANCTUM_FILL:
        if (in_len != sizeof(ULONG) || !input)
            return STATUS_INVALID_PARAMETER;
        if (out_len == 0 || out_len > SANCTUM_MAX_FILL || !has_output)
            return STATUS_INVALID_PARAMETER;
        *info = out_len;
        return STATUS_SUCCESS;
    case IOCTL_SANCTUM_DISCONNECT:
        return in_len ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
    default:
        return STATUS_INVALID_DEVICE_REQUEST;
    }
}

static void get_events(MODEL_HANDLE *h, ULONG in_len, ULONG out_len, UCHAR fill,
                       UCHAR *out_far);

/* An IOCTL with the caller's buffers: input from pattern() + fill, or given (SUBSCRIBE's). */
static void do_ioctl(MODEL_HANDLE *h, ULONG c, ULONG in_len, ULONG out_len, UCHAR fill,
                     const UCHAR *given)
{
    ULONG method = METHOD_FROM_CTL_CODE(c), access = (c >> 14) & 3, i;
    ULONG64 made, injected;
    CALL calls[2] = { CALL_MAP, CALL_NONE };
    int n = 0, hit;
    BOOLEAN refused_size = FALSE, absurd = FALSE;
    ULONG ring = 0;
    const UCHAR *input = NULL;
    UCHAR *owned = NULL;
    UBUF out;
    ULONG_PTR info, want_info;
    NTSTATUS status, want;
    SANCTUM_STATS before_reply;
    static UCHAR *nowhere;

    /* The caller's buffers must be real memory for their lengths, or the I/O manager would
     * refuse them: lengths past what the fuzzer allocates are folded back, except those so
     * large that no system buffer could hold them (refused before any byte is touched). */
    if (!nowhere) {
        nowhere = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(nowhere != MAP_FAILED, "mmap failed");
    }
    if (method == METHOD_BUFFERED) {
        ULONG most = in_len > out_len ? in_len : out_len;

        if (most > SHIM_MAX_SYSTEM_BUFFER) {
            absurd = refused_size = TRUE;
        } else {
            if (in_len > BUFFERED_CAP)
                in_len %= BUFFERED_CAP;
            if (out_len > BUFFERED_CAP)
                out_len %= BUFFERED_CAP;
        }
    } else if (method != METHOD_NEITHER) {
        if (in_len > SHIM_MAX_SYSTEM_BUFFER)
            absurd = refused_size = TRUE;
        else if (in_len > BUFFERED_CAP)
            in_len %= BUFFERED_CAP;
    }
    if (c == IOCTL_SANCTUM_GET_EVENTS && !absurd) {
        /* Larger than any queue: refused before any page is mapped, so a buffer that is mostly
         * PROT_NONE will do. Else it may pend: its buffer must outlive this step. */
        if (out_len > SANCTUM_MAX_QUEUE_BYTES) {
            get_events(h, in_len, out_len, fill, reserved(0));
            return;
        }
        if (out_len > GET_EVENTS_CAP)
            out_len %= GET_EVENTS_CAP + 1;
        get_events(h, in_len, out_len, fill, NULL);
        return;
    }

    if (absurd || method == METHOD_NEITHER) {
        /* Never read by the I/O manager or (METHOD_NEITHER) by the driver. */
        input = NULL;
    } else if (in_len <= SMALL_CAP) {
        input = owned = small_get(SMALL_INPUT, in_len);
        memcpy(owned, given ? given : pattern() + fill, in_len);
    } else {
        input = pattern() + BUFFERED_CAP - in_len;
    }
    if (absurd)
        memset(&out, 0, sizeof(out));
    else if (method == METHOD_BUFFERED || method == METHOD_NEITHER)
        ubuf_get(&out, out_len, BUFFERED_CAP);
    else
        ubuf_get(&out, out_len, DIRECT_CAP);
    made = shim_failable_calls();
    injected = shim_injected_failures();
    status = shim_ioctl(h->File, c, input ? input : nowhere, in_len, absurd ? nowhere : out.P,
                        out_len, &info);

    if (((access & FILE_READ_ACCESS) && !(h->Access & FILE_READ_DATA)) ||
        ((access & FILE_WRITE_ACCESS) && !(h->Access & FILE_WRITE_DATA))) {
        CHECK(status == STATUS_ACCESS_DENIED && !shim_last_dispatched(),
              "IOCTL 0x%08x without access: 0x%08x", c, (unsigned)status);
        check_calls("a refused IOCTL", made, injected, 0, -1, calls);
        goto out;
    }
    if (refused_size) {
        CHECK(status == STATUS_INSUFFICIENT_RESOURCES && !shim_last_dispatched(),
              "IOCTL 0x%08x, %u in, %u out: a system buffer too large: 0x%08x", c, in_len,
              out_len, (unsigned)status);
        check_calls("a refused IOCTL", made, injected, 0, -1, calls);
        goto out;
    }
    CHECK(shim_last_dispatched(), "IOCTL 0x%08x was not dispatched", c);
    /* The driver maps a direct-I/O buffer only for a code of its own (FILL), once it has
     * checked the lengths. */
    if (c == IOCTL_SANCTUM_FILL && in_len == sizeof(ULONG) && out_len &&
        out_len <= SANCTUM_MAX_FILL)
        n = 1;
    /* SUBSCRIBE allocates, once its input is valid and before it looks further, the staging
     * buffers if they do not exist yet, then its queue. */
    if (c == IOCTL_SANCTUM_SUBSCRIBE &&
        NT_SUCCESS(subscribe_check(in_len || out_len ? input : NULL, in_len, &ring))) {
        calls[0] = calls[1] = CALL_POOL;
        n = m.Staging ? 1 : 2;
    }
    hit = predict_fault(n);
    if (n == 2 && hit != 0) {
        m.Staging = TRUE;
        m.Expected.PoolAllocations++;
        m.Expected.PoolBytes += STAGING_BYTES;
    }
    check_calls("IOCTL", made, injected, n, hit, calls);
    m.Expected.Ioctls++;
    before_reply = m.Expected;
    if (hit >= 0) {
        want = STATUS_INSUFFICIENT_RESOURCES;
        want_info = 0;
    } else if (c == IOCTL_SANCTUM_SUBSCRIBE) {
        want = subscribe_check(in_len || out_len ? input : NULL, in_len, &ring);
        if (NT_SUCCESS(want))
            want = handle_status(h);
        if (NT_SUCCESS(want) && h->Subscribed)
            want = STATUS_OBJECT_NAME_COLLISION;
        else if (NT_SUCCESS(want) && (m.Expected.Subscriptions >= SANCTUM_MAX_SUBSCRIPTIONS ||
                                      ring > SANCTUM_MAX_TOTAL_QUEUE_BYTES - m.QueueBytes ||
                                      subscriptions_of(m.Process) >=
                                          SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS))
            want = STATUS_QUOTA_EXCEEDED;
        want_info = 0;
    } else if (c == IOCTL_SANCTUM_MARK) {
        want = in_len && in_len <= SANCTUM_MAX_MARK ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
        want_info = 0;
    } else if (method == METHOD_BUFFERED) {
        ULONG most = in_len > out_len ? in_len : out_len;

        want = expected_ioctl(c, most ? input : NULL, in_len, most != 0, out_len, &want_info);
    } else if (method == METHOD_NEITHER) {
        want = expected_ioctl(c, NULL, 0, FALSE, 0, &want_info);
    } else {
        want = expected_ioctl(c, in_len ? input : NULL, in_len, out_len != 0, out_len, &want_info);
    }
    CHECK(status == want && info == want_info,
          "IOCTL 0x%08x, %u in, %u out: 0x%08x, %llu bytes; the model says 0x%08x, %llu", c,
          in_len, out_len, (unsigned)status, (unsigned long long)info, (unsigned)want,
          (unsigned long long)want_info);
    ubuf_check(&out, NT_SUCCESS(status) ? info : 0, "IOCTL");
    if (NT_SUCCESS(status)) {
        /* The bytes themselves. */
        if (c == IOCTL_SANCTUM_ECHO) {
            CHECK(!memcmp(out.P, input, in_len), "ECHO %u: not the same bytes", in_len);
        } else if (c == IOCTL_SANCTUM_FILL) {
            ULONG seed;

            static UCHAR *ramp; /* ramp[i] = (UCHAR)i: a FILL reply is ramp + (seed & 0xFF) */

            if (!ramp) {
                size_t done, total = SANCTUM_MAX_FILL + 256;

                ramp = malloc(total);
                CHECK(ramp, "out of memory");
                for (i = 0; i < 256; i++)
                    ramp[i] = (UCHAR)i;
                for (done = 256; done < total; done *= 2)
                    memcpy(ramp + done, ramp, done < total - done ? done : total - done);
            }
            memcpy(&seed, input, sizeof(seed));
            CHECK(!memcmp(out.P, ramp + (seed & 0xFF), info),
                  "FILL: not the pattern of seed 0x%08x", seed);
        } else if (c == IOCTL_SANCTUM_GET_VERSION) {
            SANCTUM_VERSION v;

            memcpy(&v, out.P, sizeof(v));
            CHECK(v.Size == sizeof(v) && v.Protocol == SANCTUM_PROTOCOL_VERSION &&
                      v.Major == SANCTUM_VERSION_MAJOR && v.Minor == SANCTUM_VERSION_MINOR &&
                      v.Patch == SANCTUM_VERSION_PATCH,
                  "GET_VERSION: size %u, protocol %u", v.Size, v.Protocol);
        } else if (c == IOCTL_SANCTUM_GET_STATS) {
            SANCTUM_STATS s;

            before_reply.Size = (ULONG)info;
            memcpy(&s, out.P, info);
            CHECK(!memcmp(&s, &before_reply, info),
                  "GET_STATS: the reply is not the model's counters (Ioctls %llu/%llu, BytesOut "
                  "%llu/%llu, pool %llu/%llu)",
                  (unsigned long long)s.Ioctls, (unsigned long long)before_reply.Ioctls,
                  (unsigned long long)s.BytesOut, (unsigned long long)before_reply.BytesOut,
                  (unsigned long long)s.PoolAllocations,
                  (unsigned long long)before_reply.PoolAllocations);
        } else if (c == IOCTL_SANCTUM_SUBSCRIBE) {
            SANCTUM_SUBSCRIBE sub;

            memcpy(&sub, input, sizeof(sub));
            h->Subscribed = TRUE;
            h->SubscribedBy = m.Process;
            h->Types = sub.Types;
            h->Capacity = ring;
            h->Sequence = 0;
            m.QueueBytes += ring;
            m.Expected.Subscriptions++;
            m.Expected.PoolAllocations++;
            m.Expected.PoolBytes += ring;
        } else if (c == IOCTL_SANCTUM_MARK && wanted(SANCTUM_EVENT_MARK)) {
            PSANCTUM_EVENT_HEADER r = new_event(SANCTUM_EVENT_MARK);
            SANCTUM_MARK mark = { in_len, 0, (ULONG64)(ULONG_PTR)m.Process };

            memcpy(r + 1, &mark, sizeof(mark));
            memcpy((PUCHAR)(r + 1) + sizeof(mark), input, in_len);
            publish(r, sizeof(mark) + in_len);
        } else if (c == IOCTL_SANCTUM_DISCONNECT) {
            /* Every handle open until now is disconnected; their subscriptions end. */
            m.Generation++;
            for (i = 0; i < SLOTS; i++)
                if (m.Handles[i].File && m.Handles[i].Generation != m.Generation)
                    end_subscription(&m.Handles[i], STATUS_DEVICE_NOT_CONNECTED, "DISCONNECT");
        }
        m.Expected.BytesIn += in_len;
        m.Expected.BytesOut += info;
    } else {
        m.Expected.Failures++;
    }
out:
    if (owned)
        small_put(owned, in_len);
    if (!absurd)
        ubuf_put(&out);
}


/*
 * GET_EVENTS, which may pend: its buffer is a heap block of its own, CANARY at first; or, for
 * one larger than any queue, out_far (never mapped: only its first bytes are checked).
 */
static void get_events(MODEL_HANDLE *h, ULONG in_len, ULONG out_len, UCHAR fill, UCHAR *out_far)
{
    CALL calls[] = { CALL_MAP };
    ULONG64 made = shim_failable_calls(), injected = shim_injected_failures();
    ULONG checked = out_far ? SANCTUM_MAX_MESSAGE : out_len;
    NTSTATUS refused = out_len < SANCTUM_MAX_EVENT_SIZE    ? STATUS_BUFFER_TOO_SMALL
                       : out_len > SANCTUM_MAX_QUEUE_BYTES ? STATUS_INVALID_PARAMETER
                       : !NT_SUCCESS(handle_status(h))     ? handle_status(h)
                       : !h->Subscribed                    ? STATUS_INVALID_DEVICE_STATE
                                                           : STATUS_SUCCESS;
    /* The buffer is mapped only for a request that passed every check. */
    int n = NT_SUCCESS(refused) ? 1 : 0, hit;
    const UCHAR *input = NULL;
    UCHAR *owned = NULL, *out = out_far ? out_far : malloc(out_len ? out_len : 1);
    SHIM_ASYNC *a;
    ULONG_PTR info, want_info = 0;
    NTSTATUS status, want;
    long bad;

    CHECK(out, "out of memory");
    if (!out_far)
        memset(out, CANARY, out_len);
    /* Input as do_ioctl passes it (in_len is at most BUFFERED_CAP). */
    if (in_len > SMALL_CAP) {
        input = pattern() + BUFFERED_CAP - in_len;
    } else if (in_len) {
        input = owned = small_get(SMALL_INPUT, in_len);
        memcpy(owned, pattern() + fill, in_len);
    }
    a = shim_ioctl_async(h->File, IOCTL_SANCTUM_GET_EVENTS, input, in_len, out, out_len);
    if (owned)
        small_put(owned, in_len);
    if (!(h->Access & FILE_READ_DATA)) {
        CHECK(shim_async_done(a) && shim_async_status(a, &info) == STATUS_ACCESS_DENIED,
              "GET_EVENTS without access");
        check_calls("a refused GET_EVENTS", made, injected, 0, -1, calls);
        want = STATUS_ACCESS_DENIED;
        goto out;
    }
    hit = predict_fault(n);
    check_calls("GET_EVENTS", made, injected, n, hit, calls);
    m.Expected.Ioctls++;
    if (!NT_SUCCESS(refused))
        want = refused;
    else if (hit >= 0)
        want = STATUS_INSUFFICIENT_RESOURCES;
    else if (h->RecordCount)
        want = STATUS_SUCCESS;
    else if (h->PendingCount >= SANCTUM_MAX_PENDING_PER_HANDLE)
        want = STATUS_DEVICE_BUSY;
    else
        want = STATUS_PENDING;
    if (want == STATUS_PENDING) {
        CHECK(shim_async_pended(a) && !shim_async_done(a), "GET_EVENTS on an empty queue: %s",
              shim_async_done(a) ? "completed" : "not pended");
        h->Pending[h->PendingCount++] = (MODEL_PENDING){ a, out, out_len };
        m.Expected.PendingRequests++;
        return;
    }
    CHECK(shim_async_done(a) && !shim_async_pended(a), "GET_EVENTS pended; the model says 0x%08x",
          (unsigned)want);
    status = shim_async_status(a, &info);
    CHECK(status == want, "GET_EVENTS, %u out: 0x%08x; the model says 0x%08x", out_len,
          (unsigned)status, (unsigned)want);
    if (want == STATUS_SUCCESS)
        want_info = take_records(h, out, out_len, "GET_EVENTS");
    CHECK(info == want_info, "GET_EVENTS: %llu bytes; the model says %llu",
          (unsigned long long)info, (unsigned long long)want_info);
    bad = first_written(out, info, checked);
    CHECK(bad < 0, "GET_EVENTS: byte %ld written past the %llu-byte reply", bad,
          (unsigned long long)info);
    if (NT_SUCCESS(status)) {
        m.Expected.BytesIn += in_len;
        m.Expected.BytesOut += info;
    } else {
        m.Expected.Failures++;
    }
out:
    shim_async_free(a);
    if (!out_far)
        free(out);
}

/*
 * SUBSCRIBE with each field at its boundaries (and the input's length around 12). A queue
 * byte below 0xF0 picks a small queue (or none: refused), which an input can fill (drops);
 * 0xF0 and up, one of the large ones, which only the totals' cap can refuse.
 */
static void op_subscribe(INPUT *in, MODEL_HANDLE *h)
{
    static const ULONG small[] = {
        SANCTUM_MIN_QUEUE_BYTES, SANCTUM_MIN_QUEUE_BYTES + 1, SANCTUM_MIN_QUEUE_BYTES + 7,
        SANCTUM_MIN_QUEUE_BYTES + 8, 2 * SANCTUM_MIN_QUEUE_BYTES + 4, 8,
        SANCTUM_MIN_QUEUE_BYTES - 1, SANCTUM_MAX_QUEUE_BYTES + 1, 0xFFFFFFFFu,
    };
    static const ULONG large[] = { 0, SANCTUM_DEFAULT_QUEUE_BYTES, SANCTUM_MAX_QUEUE_BYTES - 1,
                                   SANCTUM_MAX_QUEUE_BYTES };
    static const ULONG sizes[] = { 0, sizeof(SANCTUM_SUBSCRIBE) - 1, sizeof(SANCTUM_SUBSCRIBE) + 1,
                                   0xFFFFFFFFu };
    UCHAR b = u8(in), size = u8(in), types = u8(in), queue = u8(in);
    /* The struct, then more of the pattern for a longer input. */
    UCHAR bytes[32];
    SANCTUM_SUBSCRIBE sub;

    sub.Size = size < 0xF0 ? sizeof(sub) : sizes[size % ARRAYSIZE(sizes)];
    /* Bits 0 and 7 are no type; 0xFF: a high bit too. */
    sub.Types = types == 0xFF ? 0x80000000u | SANCTUM_EVENT_ALL : types;
    sub.QueueBytes =
        queue < 0xF0 ? small[queue % ARRAYSIZE(small)] : large[queue % ARRAYSIZE(large)];
    memcpy(bytes, pattern(), sizeof(bytes));
    memcpy(bytes, &sub, sizeof(sub));
    do_ioctl(h, IOCTL_SANCTUM_SUBSCRIBE, b < 0xE0 ? sizeof(sub) : b - 0xE0u, 0, 0, bytes);
}

/* CancelIoEx on one pending request, or on all (process exit), oldest or newest first. */
static void op_cancel(INPUT *in, MODEL_HANDLE *h)
{
    UCHAR which = u8(in);

    while (h->PendingCount) {
        cancel_one(h, which & 0x40 ? h->PendingCount - 1 : which % h->PendingCount);
        if (!(which & 0x80))
            break;
    }
}

/* Callback names: lengths around both cut-offs, past the table no name or no buffer. */
static const ULONG NAME_BYTES[] = {
    0, 1, 2, 3, SANCTUM_MAX_NAME_BYTES - 2, SANCTUM_MAX_NAME_BYTES - 1, SANCTUM_MAX_NAME_BYTES,
    SANCTUM_MAX_NAME_BYTES + 1, SANCTUM_MAX_NAME_BYTES + 2, SANCTUM_MAX_COMMAND_LINE_BYTES - 2,
    SANCTUM_MAX_COMMAND_LINE_BYTES - 1, SANCTUM_MAX_COMMAND_LINE_BYTES,
    SANCTUM_MAX_COMMAND_LINE_BYTES + 1, SANCTUM_MAX_COMMAND_LINE_BYTES + 2,
    SANCTUM_MAX_EVENT_SIZE, 65534,
};

static PUNICODE_STRING name_get(UNICODE_STRING *s, int region, UCHAR sel, UCHAR fill)
{
    ULONG n = sel % (ARRAYSIZE(NAME_BYTES) + 2);

    memset(s, 0, sizeof(*s));
    if (n == ARRAYSIZE(NAME_BYTES))
        return NULL;
    if (n < ARRAYSIZE(NAME_BYTES)) {
        s->Buffer = (PWSTR)small_get(region, NAME_BYTES[n]);
        memcpy(s->Buffer, pattern() + fill, NAME_BYTES[n]);
        s->Length = s->MaximumLength = (USHORT)NAME_BYTES[n];
    }
    return s;
}

static void name_put(PCUNICODE_STRING s)
{
    if (s && s->Buffer)
        small_put((const UCHAR *)s->Buffer, s->Length);
}

static HANDLE id(INPUT *in)
{
    return (HANDLE)(ULONG_PTR)(4 * u16(in));
}

/*
 * Where a record with names is built when every staging buffer is taken: a block the lookaside
 * list kept, else a new one from pool (the step's one failable call); FALSE when pool has none.
 */
static BOOLEAN spare_block(int *pool_calls)
{
    if (m.Spare) {
        m.Spare--;
        return TRUE;
    }
    *pool_calls = 1;
    if (predict_fault(1) >= 0)
        return FALSE;
    m.Expected.PoolAllocations++;
    m.Expected.PoolBytes += SANCTUM_MAX_EVENT_SIZE;
    return TRUE;
}

/* A process, thread or image-load notification through the shim, as the kernel sends them. */
static void op_notify(INPUT *in)
{
    UCHAR kind_byte = u8(in), kind = (kind_byte & 0x3F) % 5;
    BOOLEAN busy = (kind_byte & 0x80) && m.Staging, spare = FALSE, built = TRUE;
    HANDLE pid = id(in);
    PSANCTUM_EVENT_HEADER r = NULL;
    ULONG64 made = shim_failable_calls(), injected = shim_injected_failures();
    CALL calls[] = { CALL_POOL };
    int pool_calls = 0;
    LONG saved = 0;
    ULONG called;

    /* Every staging buffer taken (by callbacks on other processors, say) while this one runs. */
    if (busy) {
        saved = state()->StagingFree;
        state()->StagingFree = 0;
    }

    if (kind == 0) {
        PS_CREATE_NOTIFY_INFO info;
        UNICODE_STRING image, command;
        PSANCTUM_PROCESS_CREATE body;
        PUCHAR names;

        memset(&info, 0, sizeof(info));
        info.Size = sizeof(info);
        info.FileOpenNameAvailable = !(kind_byte & 0x40);
        info.ParentProcessId = id(in);
        info.CreatingThreadId.UniqueProcess = id(in);
        info.CreatingThreadId.UniqueThread = id(in);
        info.ImageFileName = name_get(&image, SMALL_NAME, u8(in), u8(in));
        info.CommandLine = name_get(&command, SMALL_COMMAND_LINE, u8(in), u8(in));
        called = shim_notify_process_create(pid, &info);
        if (wanted(SANCTUM_EVENT_PROCESS_CREATE) && busy) {
            spare = TRUE;
            built = spare_block(&pool_calls);
            if (!built)
                drop_no_memory(SANCTUM_EVENT_PROCESS_CREATE);
        }
        if (wanted(SANCTUM_EVENT_PROCESS_CREATE) && built) {
            r = new_event(SANCTUM_EVENT_PROCESS_CREATE);
            body = (PSANCTUM_PROCESS_CREATE)(r + 1);
            names = (PUCHAR)(body + 1);
            body->ProcessId = (ULONG_PTR)pid;
            body->ParentProcessId = (ULONG_PTR)info.ParentProcessId;
            body->CreatingProcessId = (ULONG_PTR)info.CreatingThreadId.UniqueProcess;
            body->CreatingThreadId = (ULONG_PTR)info.CreatingThreadId.UniqueThread;
            body->ImageNameLength =
                model_name(names, info.ImageFileName, SANCTUM_MAX_NAME_BYTES, &r->Flags,
                           SANCTUM_EVENT_FLAG_NAME_TRUNCATED, SANCTUM_EVENT_FLAG_NAME_MISSING);
            if (!info.FileOpenNameAvailable && body->ImageNameLength)
                r->Flags |= SANCTUM_EVENT_FLAG_NAME_PARTIAL;
            body->CommandLineLength =
                model_name(names + body->ImageNameLength, info.CommandLine,
                           SANCTUM_MAX_COMMAND_LINE_BYTES, &r->Flags,
                           SANCTUM_EVENT_FLAG_COMMAND_LINE_TRUNCATED, 0);
            publish(r, sizeof(*body) + body->ImageNameLength + body->CommandLineLength);
        }
        name_put(info.ImageFileName);
        name_put(info.CommandLine);
    } else if (kind == 1) {
        NTSTATUS exit_status = (NTSTATUS)u32(in);

        called = shim_notify_process_exit(pid, exit_status);
        if (wanted(SANCTUM_EVENT_PROCESS_EXIT)) {
            PSANCTUM_PROCESS_EXIT body;

            r = new_event(SANCTUM_EVENT_PROCESS_EXIT);
            body = (PSANCTUM_PROCESS_EXIT)(r + 1);
            body->ProcessId = (ULONG_PTR)pid;
            body->ExitStatus = exit_status;
            publish(r, sizeof(*body));
        }
    } else if (kind < 4) {
        USHORT type = kind == 2 ? SANCTUM_EVENT_THREAD_CREATE : SANCTUM_EVENT_THREAD_EXIT;
        HANDLE tid = id(in);

        called = shim_notify_thread(pid, tid, kind == 2);
        if (wanted(type)) {
            PSANCTUM_THREAD body;

            r = new_event(type);
            body = (PSANCTUM_THREAD)(r + 1);
            body->ProcessId = (ULONG_PTR)pid;
            body->ThreadId = (ULONG_PTR)tid;
            publish(r, sizeof(*body));
        }
    } else {
        IMAGE_INFO info;
        UNICODE_STRING name;
        PUNICODE_STRING full;

        memset(&info, 0, sizeof(info));
        info.ImageBase = (PVOID)(ULONG_PTR)((ULONG64)u32(in) << 12);
        info.ImageSize = u32(in);
        info.SystemModeImage = u8(in) & 1;
        full = name_get(&name, SMALL_NAME, u8(in), u8(in));
        called = shim_notify_image(full, pid, &info);
        if (wanted(SANCTUM_EVENT_IMAGE_LOAD) && busy) {
            spare = TRUE;
            built = spare_block(&pool_calls);
            if (!built)
                drop_no_memory(SANCTUM_EVENT_IMAGE_LOAD);
        }
        if (wanted(SANCTUM_EVENT_IMAGE_LOAD) && built) {
            PSANCTUM_IMAGE_LOAD body;

            r = new_event(SANCTUM_EVENT_IMAGE_LOAD);
            body = (PSANCTUM_IMAGE_LOAD)(r + 1);
            body->ProcessId = (ULONG_PTR)pid;
            body->ImageBase = (ULONG_PTR)info.ImageBase;
            body->ImageSize = info.ImageSize;
            body->Properties = info.SystemModeImage ? SANCTUM_IMAGE_KERNEL : 0;
            body->NameLength = model_name((PUCHAR)(body + 1), full, SANCTUM_MAX_NAME_BYTES,
                                          &r->Flags, SANCTUM_EVENT_FLAG_NAME_TRUNCATED,
                                          SANCTUM_EVENT_FLAG_NAME_MISSING);
            publish(r, sizeof(*body) + body->NameLength);
        }
        name_put(full);
    }
    if (busy)
        state()->StagingFree = saved;
    /* A block from the lookaside list goes back to it, and is kept there. */
    if (spare && built)
        m.Spare++;
    check_calls("a notification", made, injected, pool_calls, built ? -1 : 0, calls);
    CHECK(called == 1, "notification kind %u reached %u routines", kind, called);
}

static void op_ioctl(INPUT *in, MODEL_HANDLE *h)
{
    ULONG c = code(in), in_len = length(in), out_len = length(in);

    do_ioctl(h, c, in_len, out_len, u8(in), NULL);
}

static void op_major(INPUT *in, MODEL_HANDLE *h)
{
    UCHAR major = u8(in) % (IRP_MJ_MAXIMUM_FUNCTION + 1);
    ULONG_PTR info;
    NTSTATUS status;

    switch (major) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLEANUP:
    case IRP_MJ_CLOSE:
    case IRP_MJ_READ:
    case IRP_MJ_WRITE:
    case IRP_MJ_DEVICE_CONTROL:
        return;
    }
    status = shim_irp(h->File, major, &info);
    CHECK(status == STATUS_INVALID_DEVICE_REQUEST && info == 0 && shim_last_dispatched(),
          "major 0x%02x: 0x%08x, %llu", major, (unsigned)status, (unsigned long long)info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    INPUT in = { data, size, 0 };
    MODEL_HANDLE *h;
    ULONG i, steps = 0;

    memset(&m, 0, sizeof(m));
    shim_fail_call(0);
    shim_zero_length_mdl(FALSE);
    CHECK(shim_ledger_empty(), "the ledger is not empty before the run");
    load();

    while (in.At < in.Size && steps++ < 256) {
        UCHAR op = u8(&in) % 16;
        ULONG64 calls = shim_failable_calls();

        m.Step = steps;
        m.Op = op;
        m.Now = EVENT_TIME + steps;
        shim_set_system_time(m.Now);
        switch (op) {
        case 0:
            op_create(&in);
            break;
        case 1:
            if ((h = slot(&in)))
                op_close(h, FALSE);
            break;
        case 2:
            if ((h = slot(&in)) && !h->CleanedUp)
                op_cleanup(h);
            break;
        case 3:
            if ((h = slot(&in)))
                op_read(&in, h);
            break;
        case 4:
            if ((h = slot(&in)))
                op_write(&in, h);
            break;
        case 5:
            if ((h = slot(&in)))
                op_ioctl(&in, h);
            break;
        case 6:
            m.Countdown = u8(&in) % (DRIVER_ENTRY_CALLS + 1) + 1;
            shim_fail_call((ULONG64)m.Countdown);
            break;
        case 7:
            unload();
            load();
            break;
        case 8:
            if ((h = slot(&in)))
                op_major(&in, h);
            break;
        case 9: {
            UCHAR b = u8(&in);

            if (b & 1) {
                m.WineMdl = !m.WineMdl;
                shim_zero_length_mdl(m.WineMdl);
            } else if ((h = slot_of(b >> 1))) {
                do_ioctl(h, IOCTL_SANCTUM_DISCONNECT, 0, 0, 0, NULL);
            }
            break;
        }
        case 10:
            if ((h = slot(&in)))
                op_subscribe(&in, h);
            break;
        case 11:
            if ((h = slot(&in)))
                do_ioctl(h, IOCTL_SANCTUM_GET_EVENTS, 0, length(&in), 0, NULL);
            break;
        case 12:
            if ((h = slot(&in)))
                op_cancel(&in, h);
            break;
        case 13:
            if ((h = slot(&in)))
                do_ioctl(h, IOCTL_SANCTUM_MARK, u8(&in) + (u8(&in) & 3), 0, u8(&in), NULL);
            break;
        case 14:
            op_notify(&in);
            break;
        default:
            if ((h = slot(&in)))
                op_close(h, TRUE);
            break;
        }
        if (op == 1 || op == 2 || op == 8 || op == 9 || op == 12 || op == 15)
            CHECK(shim_failable_calls() == calls, "%s made a failable call", step_name());
        check_invariants(NULL);
    }

    /* The end: no fault pending, every handle closed as Windows closes it, then unload. */
    shim_fail_call(0);
    m.Countdown = 0;
    for (i = 0; i < SLOTS; i++)
        if (m.Handles[i].File)
            op_close(&m.Handles[i], FALSE);
    check_invariants("closing every handle");
    CHECK(m.Expected.PoolAllocations == (m.Staging ? 1 + m.Spare : 0) &&
              m.Expected.PoolBytes ==
                  (m.Staging ? STAGING_BYTES + (ULONG64)m.Spare * SANCTUM_MAX_EVENT_SIZE : 0),
          "the model still has more than the staging block and its kept blocks after closing "
          "every handle");
    unload();
    return 0;
}
