/* SPDX-License-Identifier: MIT */
/*
 * Events per second end to end, for `make bench`: the driver's own sources and the host shim
 * built like cpubench (-O2, no sanitizers). Two producer threads fire the thread-creation and
 * thread-exit callbacks through the shim's notify calls, the path ntoskrnl takes; the driver
 * queues a 40-byte THREAD record per event on one subscription; the main thread keeps
 * GET_EVENTS requests pending through the shim's I/O manager and walks every batch. The floor,
 * measured in the same run with the same threads, records, batches and walk: the records
 * memcpy'd through a plain ring under a pthread mutex.
 *
 * The sizes: a 1 MiB queue (26,214 records, about 13 ms of events at 2,000,000 a second),
 * 64 KiB batches (up to 1,638 records each) and 4 requests kept pending, as an agent would.
 * The figure is what the pipeline sustains with nothing dropped, so the producers stop and
 * yield while more than half a queue of their events is not walked yet: on 2 cores shared by
 * 3 threads (and other work), a consumer that loses its core for a time slice would otherwise
 * see the queue overflow and the rate of dropping events measured instead.
 *
 * Every record is checked by the walk: whole, of a thread type, its sequence one more than the
 * last one's (a gap is a count of drops), each producer's thread ids in order. Both runs must
 * account for every event, received or dropped; the driver's must agree with GET_STATS.
 * Usage: eventbench EVENTS-PER-PRODUCER SAMPLES
 * Prints the setup, then a line per sample, the driver and the floor alternating:
 *   setup<TAB>NAME<TAB>VALUE...  (producers, queue_bytes, batch_bytes, pending, record_bytes)
 *   events<TAB>driver|floor<TAB>events/s<TAB>received<TAB>dropped<TAB>batches
 * then "eventbench: ok", or failures on stderr and "eventbench: FAIL".
 */
#include "shim.h"
#include "sanctum.h"
#include "sanctum/events.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RW (FILE_READ_DATA | FILE_WRITE_DATA)
#define PRODUCERS 2
#define QUEUE_BYTES (1024u * 1024)
#define BATCH_BYTES (64u * 1024)
#define PENDING 4
#define THREAD_TYPES \
    (SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_CREATE) | SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_EXIT))
#define RECORD_BYTES (sizeof(SANCTUM_EVENT_HEADER) + sizeof(SANCTUM_THREAD))
/* Each producer's events not walked yet, at most; looked at every CHECK_EVERY events. */
#define WINDOW (QUEUE_BYTES / RECORD_BYTES / 2 / PRODUCERS)
#define CHECK_EVERY 32

DRIVER_INITIALIZE DriverEntry;

static int failures;
static ULONG64 per_producer;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "eventbench: FAIL: %s\n", what);
        failures++;
    }
}

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* ---- the consumer's side: what an agent does with each batch ---- */

typedef struct {
    ULONG64 Received;
    ULONG64 FirstSequence; /* the subscription's sequence before the run */
    ULONG64 LastSequence;
    ULONG64 Lost;         /* sequence gaps: events dropped before the last one received */
    ULONG64 LastThread[PRODUCERS];
    ULONG64 Batches;
    BOOLEAN Bad;
} TALLY;

static void visit(const SANCTUM_EVENT_HEADER *Record, TALLY *Tally)
{
    const SANCTUM_THREAD *body = (const SANCTUM_THREAD *)(Record + 1);
    ULONG64 producer = body->ProcessId - 1;

    if (Record->Size != RECORD_BYTES || Record->Sequence <= Tally->LastSequence ||
        (Record->Type != SANCTUM_EVENT_THREAD_CREATE && Record->Type != SANCTUM_EVENT_THREAD_EXIT) ||
        producer >= PRODUCERS || body->ThreadId <= Tally->LastThread[producer]) {
        Tally->Bad = TRUE;
        return;
    }
    Tally->Lost += Record->Sequence - Tally->LastSequence - 1;
    Tally->LastSequence = Record->Sequence;
    Tally->LastThread[producer] = body->ThreadId;
    Tally->Received++;
}

/* The record walk of the client library (include/sanctum/events.h), as an agent walks. */
static BOOLEAN walk_records(const UCHAR *Batch, ULONG Bytes, TALLY *Tally)
{
    SANCTUM_WALK walk;
    SANCTUM_EVENT event;
    ULONG result;

    SanctumWalkBegin(&walk, Batch, Bytes);
    while ((result = SanctumWalkNext(&walk, &event)) == SANCTUM_WALK_OK) {
        if (!SanctumEventThread(&event))
            return FALSE;
        visit(event.Header, Tally);
    }
    return result == SANCTUM_WALK_END;
}

/* ---- the producers: the same loop for both, started together ---- */

typedef void PRODUCE(ULONG64 ProcessId, ULONG64 ThreadId, BOOLEAN Create);

typedef struct {
    PRODUCE *Produce;
    ULONG64 ProcessId;
} PRODUCER;

static volatile int go, producers_done;
/* The last thread id of each producer that the consumer walked, published after each batch. */
static volatile ULONG64 walked[PRODUCERS];

static void *producer_main(void *arg)
{
    const PRODUCER *p = arg;
    ULONG64 i;

    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
        sched_yield();
    for (i = 1; i <= per_producer; i++) {
        if (i % CHECK_EVERY == 0)
            while (i - __atomic_load_n(&walked[p->ProcessId - 1], __ATOMIC_ACQUIRE) > WINDOW)
                sched_yield();
        p->Produce(p->ProcessId, i, (BOOLEAN)(i & 1));
    }
    __atomic_add_fetch(&producers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A batch walked: counted, and the producers told how far the consumer got. */
static void walked_batch(TALLY *Tally)
{
    ULONG i;

    Tally->Batches++;
    for (i = 0; i < PRODUCERS; i++)
        __atomic_store_n(&walked[i], Tally->LastThread[i], __ATOMIC_RELEASE);
}

static BOOLEAN all_produced(void)
{
    return __atomic_load_n(&producers_done, __ATOMIC_ACQUIRE) == PRODUCERS;
}

/* Starts the producers on Produce; returns when all of them are running. */
static void start_producers(pthread_t *threads, PRODUCER *p, PRODUCE *Produce)
{
    ULONG i;

    go = producers_done = 0;
    for (i = 0; i < PRODUCERS; i++) {
        walked[i] = 0;
        p[i].Produce = Produce;
        p[i].ProcessId = i + 1;
        if (pthread_create(&threads[i], NULL, producer_main, &p[i])) {
            fprintf(stderr, "eventbench: pthread_create failed\n");
            exit(2);
        }
    }
}

static void join_producers(pthread_t *threads)
{
    ULONG i;

    for (i = 0; i < PRODUCERS; i++)
        pthread_join(threads[i], NULL);
}

/* ---- the driver: callbacks -> subscription -> pending GET_EVENTS -> walk ---- */

static SHIM_FILE *file;

static void produce_driver(ULONG64 ProcessId, ULONG64 ThreadId, BOOLEAN Create)
{
    shim_notify_thread((HANDLE)(ULONG_PTR)ProcessId, (HANDLE)(ULONG_PTR)ThreadId, Create);
}

static SANCTUM_STATS stats(void)
{
    SANCTUM_STATS s;
    ULONG_PTR info = 0;

    memset(&s, 0, sizeof(s));
    check(shim_ioctl(file, IOCTL_SANCTUM_GET_STATS, NULL, 0, &s, sizeof(s), &info) ==
              STATUS_SUCCESS && info == sizeof(s), "GET_STATS");
    return s;
}

static SHIM_ASYNC *get_events(UCHAR *Batch)
{
    return shim_ioctl_async(file, IOCTL_SANCTUM_GET_EVENTS, NULL, 0, Batch, BATCH_BYTES);
}

/* One run; returns the events per second from the start to the last record received. */
static double run_driver(TALLY *Tally, ULONG64 *Dropped)
{
    static UCHAR batches[PENDING][BATCH_BYTES];
    SHIM_ASYNC *requests[PENDING];
    pthread_t threads[PRODUCERS];
    PRODUCER p[PRODUCERS];
    SANCTUM_STATS before = stats(), after;
    double start, last = 0;
    ULONG i, next = 0;

    memset(Tally, 0, sizeof(*Tally));
    /* One subscription, to the only events there are: its sequence counts them all. */
    Tally->FirstSequence = Tally->LastSequence = before.EventsQueued + before.EventsDropped;
    for (i = 0; i < PENDING; i++) {
        requests[i] = get_events(batches[i]);
        check(shim_async_pended(requests[i]), "GET_EVENTS pends on an empty queue");
    }
    start_producers(threads, p, produce_driver);
    start = now_s();
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    /* The oldest request first: records reach the requests in the order they were sent. */
    for (;;) {
        SHIM_ASYNC *r = requests[next];
        ULONG_PTR bytes;

        if (!shim_async_done(r)) {
            /* The producers are done and the oldest request still waits: everything is taken
             * (a request pends only while the queue is empty). */
            if (all_produced())
                break;
            sched_yield();
            continue;
        }
        if (shim_async_status(r, &bytes) != STATUS_SUCCESS ||
            !walk_records(batches[next], (ULONG)bytes, Tally)) {
            Tally->Bad = TRUE;
            break;
        }
        walked_batch(Tally);
        last = now_s();
        shim_async_free(r);
        requests[next] = get_events(batches[next]);
        next = (next + 1) % PENDING;
    }
    join_producers(threads);
    for (i = 0; i < PENDING; i++) {
        ULONG_PTR bytes;

        shim_async_cancel(requests[i]);
        check(shim_async_done(requests[i]) &&
                  shim_async_status(requests[i], &bytes) == STATUS_CANCELLED,
              "a GET_EVENTS still pending at the end is cancelled, empty");
        shim_async_free(requests[i]);
    }
    after = stats();
    *Dropped = after.EventsDropped - before.EventsDropped;
    check(after.EventsQueued - before.EventsQueued == Tally->Received,
          "GET_STATS counts every record received as queued");
    return Tally->Received / (last - start);
}

/* ---- the floor: the same records through a ring under a pthread mutex ---- */

static struct {
    pthread_mutex_t Lock;
    UCHAR Ring[QUEUE_BYTES];
    ULONG Head;
    ULONG Used;
    ULONG64 Sequence;
    ULONG64 Dropped;
} floor_ring = { .Lock = PTHREAD_MUTEX_INITIALIZER };

/* Records are 8-aligned and the ring a multiple of 8: a record's Size never wraps. */
static void produce_floor(ULONG64 ProcessId, ULONG64 ThreadId, BOOLEAN Create)
{
    struct {
        SANCTUM_EVENT_HEADER Header;
        SANCTUM_THREAD Body;
    } record;
    ULONG tail, first;

    memset(&record.Header, 0, sizeof(record.Header));
    record.Header.Size = sizeof(record);
    record.Header.Type = Create ? SANCTUM_EVENT_THREAD_CREATE : SANCTUM_EVENT_THREAD_EXIT;
    record.Body.ProcessId = ProcessId;
    record.Body.ThreadId = ThreadId;
    pthread_mutex_lock(&floor_ring.Lock);
    record.Header.Sequence = ++floor_ring.Sequence;
    if (sizeof(record) <= QUEUE_BYTES - floor_ring.Used) {
        tail = (floor_ring.Head + floor_ring.Used) % QUEUE_BYTES;
        first = sizeof(record) < QUEUE_BYTES - tail ? sizeof(record) : QUEUE_BYTES - tail;
        memcpy(floor_ring.Ring + tail, &record, first);
        memcpy(floor_ring.Ring, (const UCHAR *)&record + first, sizeof(record) - first);
        floor_ring.Used += sizeof(record);
    } else {
        floor_ring.Dropped++;
    }
    pthread_mutex_unlock(&floor_ring.Lock);
}

/* Whole records, oldest first, while they fit in Out; returns the bytes moved. */
static ULONG take_floor(UCHAR *Out, ULONG Length)
{
    ULONG done = 0;

    pthread_mutex_lock(&floor_ring.Lock);
    while (floor_ring.Used) {
        USHORT size;
        ULONG first;

        memcpy(&size, floor_ring.Ring + floor_ring.Head, sizeof(size));
        if (size > Length - done)
            break;
        first = size < QUEUE_BYTES - floor_ring.Head ? size : QUEUE_BYTES - floor_ring.Head;
        memcpy(Out + done, floor_ring.Ring + floor_ring.Head, first);
        memcpy(Out + done + first, floor_ring.Ring, size - first);
        floor_ring.Head = (floor_ring.Head + size) % QUEUE_BYTES;
        floor_ring.Used -= size;
        done += size;
    }
    pthread_mutex_unlock(&floor_ring.Lock);
    return done;
}

static double run_floor(TALLY *Tally, ULONG64 *Dropped)
{
    static UCHAR batch[BATCH_BYTES];
    pthread_t threads[PRODUCERS];
    PRODUCER p[PRODUCERS];
    double start, last = 0;

    memset(Tally, 0, sizeof(*Tally));
    floor_ring.Head = floor_ring.Used = 0;
    floor_ring.Sequence = floor_ring.Dropped = 0;
    start_producers(threads, p, produce_floor);
    start = now_s();
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    for (;;) {
        /* Read before taking: once all are produced, an empty take means all are taken. */
        BOOLEAN done = all_produced();
        ULONG bytes = take_floor(batch, BATCH_BYTES);

        if (!bytes) {
            if (done)
                break;
            sched_yield();
            continue;
        }
        if (!walk_records(batch, bytes, Tally)) {
            Tally->Bad = TRUE;
            break;
        }
        walked_batch(Tally);
        last = now_s();
    }
    join_producers(threads);
    *Dropped = floor_ring.Dropped;
    return Tally->Received / (last - start);
}

/* ---- main ---- */

typedef double RUN(TALLY *Tally, ULONG64 *Dropped);

static void sample(const char *who, RUN *run)
{
    ULONG64 total = PRODUCERS * per_producer, dropped = 0;
    TALLY tally;
    double rate = run(&tally, &dropped);
    char what[96];

    snprintf(what, sizeof(what), "%s: every record whole, in order and of its producer", who);
    check(!tally.Bad, what);
    /* Drops after the last record received leave no gap: the total says how many. */
    snprintf(what, sizeof(what), "%s: every event received or counted as dropped", who);
    check(tally.Received + dropped == total &&
              tally.Lost + (tally.FirstSequence + total - tally.LastSequence) == dropped,
          what);
    printf("events\t%s\t%.0f\t%llu\t%llu\t%llu\n", who, rate, (unsigned long long)tally.Received,
           (unsigned long long)dropped, (unsigned long long)tally.Batches);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    SANCTUM_SUBSCRIBE subscribe = { sizeof(subscribe), THREAD_TYPES, QUEUE_BYTES };
    PDRIVER_OBJECT driver = NULL;
    ULONG_PTR info;
    ULONG samples, s;
    NTSTATUS status;

    per_producer = argc == 3 ? strtoull(argv[1], NULL, 0) : 0;
    samples = argc == 3 ? (ULONG)strtoul(argv[2], NULL, 0) : 0;
    if (per_producer == 0 || samples == 0) {
        fprintf(stderr, "usage: eventbench EVENTS-PER-PRODUCER SAMPLES\n");
        return 2;
    }
    status = shim_load_driver(DriverEntry, &driver);
    if (NT_SUCCESS(status))
        status = shim_create(SANCTUM_DOS_DEVICE_NAME, RW, SHIM_CALLER_ADMIN, &file);
    if (NT_SUCCESS(status))
        status = shim_ioctl(file, IOCTL_SANCTUM_SUBSCRIBE, &subscribe, sizeof(subscribe), NULL, 0,
                            &info);
    if (!NT_SUCCESS(status)) {
        fprintf(stderr, "eventbench: FAIL: loading, opening, subscribing: 0x%08x\n",
                (unsigned)status);
        return 1;
    }

    printf("setup\tproducers\t%u\tqueue_bytes\t%u\tbatch_bytes\t%u\tpending\t%u\trecord_bytes\t%u\n",
           PRODUCERS, QUEUE_BYTES, BATCH_BYTES, PENDING, (unsigned)RECORD_BYTES);
    /* Alternating, so that a slow moment of the machine hits both alike. */
    for (s = 0; s < samples; s++) {
        sample("driver", run_driver);
        sample("floor", run_floor);
    }

    shim_close(file);
    shim_unload_driver(driver);
    check(shim_ledger_empty(), "the shim's ledger is empty after unload");
    printf("eventbench: %s\n", failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}
