/* SPDX-License-Identifier: MIT */
/*
 * What a Windows reviewer asked of the driver, shown where Wine cannot show it: DISCONNECT,
 * requests dispatched after their handle's IRP_MJ_CLEANUP (the races driven step by step),
 * the global budget of queued messages, buffers mapped only once a request is accepted, names
 * below the device refused, and the stack cookies (a fresh guard at every load, and a smashed
 * frame stopping the machine with DRIVER_OVERRAN_STACK_BUFFER).
 */
#include "unit.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define ALL SANCTUM_EVENT_ALL

static PSANCTUM_HANDLE handle_of(SHIM_FILE *f)
{
    return shim_file_object(f)->FsContext;
}

static NTSTATUS disconnect(SHIM_FILE *f)
{
    ULONG_PTR info;

    return shim_ioctl(f, IOCTL_SANCTUM_DISCONNECT, NULL, 0, NULL, 0, &info);
}

/* ---- stack cookies (first: the child processes need a process without threads) ---- */

extern ULONG_PTR __stack_chk_guard;

static void exit_with_bugcheck(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    (void)P1;
    (void)P4;
    /* 42: the documented code, with the guard and its complement as parameters 2 and 3. */
    _exit(Code == 0xF7 && P2 == __stack_chk_guard && P3 == ~__stack_chk_guard ? 42 : 43);
}

static void smash_after_load(void)
{
    PDRIVER_OBJECT driver;

    if (!NT_SUCCESS(shim_load_driver(DriverEntry, &driver)))
        _exit(CHILD_NOT_SET_UP);
    shim_on_bugcheck(exit_with_bugcheck);
    gs_victim(64);
    _exit(0); /* the overrun went unseen */
}

static void no_smash_after_load(void)
{
    PDRIVER_OBJECT driver;

    if (!NT_SUCCESS(shim_load_driver(DriverEntry, &driver)))
        _exit(CHILD_NOT_SET_UP);
    shim_on_bugcheck(exit_with_bugcheck);
    gs_victim(16);
    shim_unload_driver(driver);
    _exit(0);
}

static void test_stack_guard(void)
{
    const ULONG_PTR initial = (ULONG_PTR)0x2B992DDFA232ull; /* gs.c's, before any load */
    ULONG_PTR first, second;
    PDRIVER_OBJECT driver;
    int status;

    driver = load_ok();
    first = __stack_chk_guard;
    if (driver)
        unload_ok(driver, 0);
    driver = load_ok();
    second = __stack_chk_guard;
    if (driver)
        unload_ok(driver, 0);
    ok(first != initial && second != initial && first != second && (first & 0xFF) == 0,
       "the guard: %#zx in the image, %#zx and %#zx after two loads\n", (size_t)initial,
       (size_t)first, (size_t)second);

    ok(run_in_child(smash_after_load, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 42,
       "a smashed frame: wait status 0x%x, expected exit 42 (bug check 0xF7 with the guard)\n",
       status);
    ok(run_in_child(no_smash_after_load, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "a frame written within its array: wait status 0x%x\n", status);
}

/* ---- DISCONNECT ---- */

static void test_disconnect(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *agent, *idle, *ctl, *ro, *later;
    SANCTUM_STATS st;
    WAIT w[3], after;
    ULONG i;

    if (!driver)
        return;
    agent = open_rw();
    idle = open_rw(); /* open, never subscribed */
    ctl = open_rw();
    ro = open_ok_as(FILE_READ_DATA, SHIM_CALLER_ADMIN);
    ok(subscribe(agent, ALL, 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    for (i = 0; i < 3; i++)
        w[i] = get_events(agent, BATCH);
    ok(disconnect(ro) == STATUS_ACCESS_DENIED && !shim_last_dispatched(),
       "DISCONNECT on a read-only handle\n");
    {
        UCHAR in = 0;
        ULONG_PTR info;

        ok(shim_ioctl(ctl, IOCTL_SANCTUM_DISCONNECT, &in, 1, NULL, 0, &info) ==
               STATUS_INVALID_PARAMETER, "DISCONNECT with input\n");
    }
    ok(snap(state_of(driver)).PendingRequests == 3, "3 pending before\n");

    ok(disconnect(ctl) == STATUS_SUCCESS, "DISCONNECT\n");
    for (i = 0; i < 3; i++) {
        ok(collect(&w[i]) && w[i].Status == STATUS_DEVICE_NOT_CONNECTED && w[i].Info == 0,
           "pending request %u: 0x%08x\n", i, ST(w[i].Status));
        end_wait(&w[i]);
    }
    st = snap(state_of(driver));
    ok(st.Subscriptions == 0 && st.PendingRequests == 0, "after: %u subscriptions, %u pending\n",
       st.Subscriptions, st.PendingRequests);

    /* Every handle open then is told so, subscribed or not; a new one works. */
    after = get_events(agent, BATCH);
    ok(after.Status == STATUS_DEVICE_NOT_CONNECTED, "GET_EVENTS after: 0x%08x\n", ST(after.Status));
    end_wait(&after);
    ok(subscribe(agent, ALL, 0) == STATUS_DEVICE_NOT_CONNECTED, "SUBSCRIBE again after\n");
    ok(subscribe(idle, ALL, 0) == STATUS_DEVICE_NOT_CONNECTED, "SUBSCRIBE on an idle handle\n");
    after = get_events(idle, BATCH);
    ok(after.Status == STATUS_DEVICE_NOT_CONNECTED, "GET_EVENTS on an idle handle: 0x%08x\n",
       ST(after.Status));
    end_wait(&after);
    ok(mark(agent, "x", 1) == STATUS_SUCCESS, "MARK still works on the old handle\n");
    later = open_rw();
    ok(subscribe(later, ALL, 0) == STATUS_SUCCESS, "SUBSCRIBE on a handle opened after\n");
    ok(mark(agent, "y", 1) == STATUS_SUCCESS, "MARK\n");
    after = get_events(later, BATCH);
    ok(after.Status == STATUS_SUCCESS && record_at(&after, 0) &&
           record_at(&after, 0)->Type == SANCTUM_EVENT_MARK && record_at(&after, 0)->Sequence == 1,
       "the new subscription's first record: 0x%08x\n", ST(after.Status));
    end_wait(&after);
    /* A second DISCONNECT ends the new one too, and costs nothing when nothing is there. */
    ok(disconnect(later) == STATUS_SUCCESS && disconnect(later) == STATUS_SUCCESS,
       "DISCONNECT twice\n");
    ok(snap(state_of(driver)).Subscriptions == 0, "the later subscription survived\n");
    shim_close(agent);
    shim_close(idle);
    shim_close(ctl);
    shim_close(ro);
    shim_close(later);
    unload_ok(driver, 0);
}

/* ---- requests that arrive after IRP_MJ_CLEANUP ---- */

/*
 * The I/O manager holds a reference on the file object for every request in flight, not a
 * handle: another thread's request can be dispatched after the handle's CLEANUP. Here the
 * second step runs on its own thread at the moment the first is about to take a given lock.
 */
typedef struct {
    SHIM_FILE *File;
    int What; /* 0: CLEANUP of File, 1: DISCONNECT on File */
} STEP;

static void *run_step(void *arg)
{
    STEP *s = arg;

    if (s->What == 0)
        shim_cleanup(s->File);
    else
        ok(disconnect(s->File) == STATUS_SUCCESS, "DISCONNECT in between\n");
    return NULL;
}

static void step_between(void *arg)
{
    pthread_t t;

    pthread_create(&t, NULL, run_step, arg);
    pthread_join(t, NULL);
}

static void test_after_cleanup(void)
{
    PDRIVER_OBJECT driver = load_ok();
    PSANCTUM_STATE st;
    SHIM_FILE *f, *g, *ctl;
    SANCTUM_STATS before, after;
    STEP step;
    WAIT w;

    if (!driver)
        return;
    st = state_of(driver);

    /* In order: a SUBSCRIBE or GET_EVENTS that reaches the driver after CLEANUP is refused. */
    f = open_rw();
    shim_cleanup(f);
    ok(subscribe(f, ALL, 0) == STATUS_DELETE_PENDING, "SUBSCRIBE after CLEANUP\n");
    w = get_events(f, BATCH);
    ok(w.Status == STATUS_DELETE_PENDING, "GET_EVENTS after CLEANUP: 0x%08x\n", ST(w.Status));
    end_wait(&w);
    ok(snap(st).Subscriptions == 0 && snap(st).PendingRequests == 0,
       "after CLEANUP: %u subscriptions, %u pending\n", snap(st).Subscriptions,
       snap(st).PendingRequests);
    shim_close(f);

    /* A subscription elsewhere, so that the staging block exists and SUBSCRIBE's one acquire
     * of the subscriptions lock is the one below. */
    g = open_rw();
    ok(subscribe(g, ALL, 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    before = snap(st);

    /* SUBSCRIBE checked its input and allocated its queue; CLEANUP runs; then it installs. */
    f = open_rw();
    step.File = f;
    step.What = 0;
    shim_before_lock(&st->SubscriptionsLock, step_between, &step);
    ok(subscribe(f, ALL, 0) == STATUS_DELETE_PENDING, "SUBSCRIBE racing CLEANUP\n");
    shim_before_lock(NULL, NULL, NULL);
    after = snap(st);
    ok(after.Subscriptions == before.Subscriptions &&
           after.PoolAllocations == before.PoolAllocations + 1 &&
           after.PoolBytes == before.PoolBytes + HANDLE_BYTES,
       "SUBSCRIBE racing CLEANUP left %u subscriptions (%u before), %llu pool blocks (%llu)\n",
       after.Subscriptions, before.Subscriptions, U64(after.PoolAllocations),
       U64(before.PoolAllocations));
    shim_close(f);

    /* GET_EVENTS found the subscription; CLEANUP ends it; then it would have pended. */
    f = open_rw();
    ok(subscribe(f, ALL, 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    step.File = f;
    shim_before_lock(&handle_of(f)->Subscription->Lock, step_between, &step);
    w = get_events(f, BATCH);
    shim_before_lock(NULL, NULL, NULL);
    ok(w.Status == STATUS_DELETE_PENDING && !shim_async_pended(w.Async),
       "GET_EVENTS racing CLEANUP: 0x%08x%s\n", ST(w.Status),
       shim_async_pended(w.Async) ? ", pended" : "");
    end_wait(&w);
    ok(snap(st).PendingRequests == 0, "%u pending\n", snap(st).PendingRequests);
    shim_close(f);

    /* The same two races against a DISCONNECT from another handle. */
    f = open_rw();
    ctl = open_rw();
    step.File = ctl;
    step.What = 1;
    shim_before_lock(&st->SubscriptionsLock, step_between, &step);
    ok(subscribe(f, ALL, 0) == STATUS_DEVICE_NOT_CONNECTED, "SUBSCRIBE racing DISCONNECT\n");
    shim_before_lock(NULL, NULL, NULL);
    ok(snap(st).Subscriptions == 0, "SUBSCRIBE racing DISCONNECT left %u subscriptions\n",
       snap(st).Subscriptions);
    shim_close(f);
    shim_close(ctl);
    shim_close(g);

    f = open_rw();
    ctl = open_rw();
    ok(subscribe(f, ALL, 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    step.File = ctl;
    shim_before_lock(&handle_of(f)->Subscription->Lock, step_between, &step);
    w = get_events(f, BATCH);
    shim_before_lock(NULL, NULL, NULL);
    ok(w.Status == STATUS_DEVICE_NOT_CONNECTED && !shim_async_pended(w.Async),
       "GET_EVENTS racing DISCONNECT: 0x%08x\n", ST(w.Status));
    end_wait(&w);
    shim_close(f);
    shim_close(ctl);
    unload_ok(driver, 0);
}

/* ---- every handle's messages together ---- */

static void test_message_budget(void)
{
    PDRIVER_OBJECT driver = load_ok();
    ULONG per = SANCTUM_MAX_TOTAL_MESSAGE_BYTES / SANCTUM_MAX_MESSAGE / SANCTUM_MAX_QUEUED;
    SHIM_FILE *f[8];
    SANCTUM_STATS before, after;
    UCHAR *data = xmalloc(SANCTUM_MAX_MESSAGE);
    ULONG_PTR info;
    NTSTATUS status;
    ULONG i, j;
    int bad = 0;

    if (!driver)
        return;
    _Static_assert(SANCTUM_MAX_TOTAL_MESSAGE_BYTES % (SANCTUM_MAX_MESSAGE * SANCTUM_MAX_QUEUED) == 0,
                   "whole handles fill the budget");
    pattern(data, SANCTUM_MAX_MESSAGE, 3);
    for (i = 0; i < per + 1; i++)
        f[i] = open_rw();
    for (i = 0; i < per; i++)
        for (j = 0; j < SANCTUM_MAX_QUEUED; j++)
            bad += shim_write(f[i], data, SANCTUM_MAX_MESSAGE, &info) != STATUS_SUCCESS;
    ok(bad == 0, "%d of the writes up to the budget failed\n", bad);
    before = snap(state_of(driver));
    ok(before.MessageBytes == SANCTUM_MAX_TOTAL_MESSAGE_BYTES, "MessageBytes %llu\n",
       U64(before.MessageBytes));

    /* Full: a write on another handle stores nothing, even one byte. */
    status = shim_write(f[per], data, 1, &info);
    after = snap(state_of(driver));
    ok(status == STATUS_QUOTA_EXCEEDED && info == 0, "one byte past the budget: 0x%08x\n",
       ST(status));
    ok(after.MessageBytes == before.MessageBytes && after.PoolAllocations == before.PoolAllocations &&
           after.PoolBytes == before.PoolBytes && after.Failures == before.Failures + 1,
       "a refused write left something: %llu message bytes, %llu pool blocks\n",
       U64(after.MessageBytes), U64(after.PoolAllocations));
    {
        UCHAR small[4];

        status = shim_read(f[per], small, sizeof(small), &info);
        ok(status == STATUS_SUCCESS && info == 0, "the refused handle has no message: 0x%08x %llu\n",
           ST(status), U64(info));
    }
    /* Reading one gives its bytes back. */
    {
        UCHAR *back = xmalloc(SANCTUM_MAX_MESSAGE);

        status = shim_read(f[0], back, SANCTUM_MAX_MESSAGE, &info);
        ok(status == STATUS_SUCCESS && info == SANCTUM_MAX_MESSAGE &&
               !memcmp(back, data, SANCTUM_MAX_MESSAGE),
           "read one: 0x%08x\n", ST(status));
        free(back);
    }
    ok(shim_write(f[per], data, SANCTUM_MAX_MESSAGE, &info) == STATUS_SUCCESS,
       "a write after a read\n");
    ok(shim_write(f[per], data, 1, &info) == STATUS_QUOTA_EXCEEDED, "full again\n");
    /* CLEANUP of a handle gives back what it held. */
    shim_cleanup(f[1]);
    ok(snap(state_of(driver)).MessageBytes ==
           SANCTUM_MAX_TOTAL_MESSAGE_BYTES - (ULONG64)SANCTUM_MAX_QUEUED * SANCTUM_MAX_MESSAGE,
       "after a CLEANUP: %llu message bytes\n", U64(snap(state_of(driver)).MessageBytes));
    for (i = 0; i < per + 1; i++)
        shim_close(f[i]);
    ok(snap(state_of(driver)).MessageBytes == 0, "after closing them all: %llu message bytes\n",
       U64(snap(state_of(driver)).MessageBytes));
    free(data);
    unload_ok(driver, 0);
}

/* ---- no mapping of a buffer the driver will not use ---- */

/* The status of a request through the shim, and how many MDL mappings it made. */
#define MAPPINGS(call, status, maps)                                  \
    do {                                                              \
        ULONG64 before_ = shim_mappings();                            \
        (status) = (call);                                            \
        (maps) = shim_mappings() - before_;                           \
    } while (0)

static void test_mapping_after_checks(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *f;
    UCHAR *big = xmalloc(SANCTUM_MAX_FILL + 1), seed[4] = { 1, 2, 3, 4 };
    ULONG_PTR info;
    NTSTATUS status;
    ULONG64 maps;

    if (!driver)
        return;
    f = open_rw();
    pattern(big, SANCTUM_MAX_MESSAGE + 1, 9);
    MAPPINGS(shim_write(f, big, SANCTUM_MAX_MESSAGE + 1, &info), status, maps);
    ok(status == STATUS_INVALID_PARAMETER && maps == 0, "WRITE of 64 KiB + 1: 0x%08x, %llu maps\n",
       ST(status), U64(maps));
    MAPPINGS(shim_read(f, big, SANCTUM_MAX_FILL, &info), status, maps);
    ok(status == STATUS_SUCCESS && info == 0 && maps == 0, "READ with nothing queued: %llu maps\n",
       U64(maps));
    MAPPINGS(shim_write(f, big, 100, &info), status, maps);
    ok(status == STATUS_SUCCESS && maps == 1, "WRITE of 100 bytes: 0x%08x, %llu maps\n", ST(status),
       U64(maps));
    MAPPINGS(shim_read(f, big, 99, &info), status, maps);
    ok(status == STATUS_BUFFER_TOO_SMALL && maps == 0, "READ too small: 0x%08x, %llu maps\n",
       ST(status), U64(maps));
    MAPPINGS(shim_read(f, big, SANCTUM_MAX_FILL, &info), status, maps);
    ok(status == STATUS_SUCCESS && info == 100 && maps == 1, "READ: 0x%08x, %llu bytes, %llu maps\n",
       ST(status), U64(info), U64(maps));
    MAPPINGS(shim_ioctl(f, IOCTL_SANCTUM_FILL, seed, 4, big, SANCTUM_MAX_FILL + 1, &info), status,
             maps);
    ok(status == STATUS_INVALID_PARAMETER && maps == 0, "FILL of 16 MiB + 1: 0x%08x, %llu maps\n",
       ST(status), U64(maps));
    MAPPINGS(shim_ioctl(f, IOCTL_SANCTUM_FILL, seed, 3, big, 4096, &info), status, maps);
    ok(status == STATUS_INVALID_PARAMETER && maps == 0, "FILL with 3 bytes of seed: %llu maps\n",
       U64(maps));
    MAPPINGS(shim_ioctl(f, IOCTL_SANCTUM_FILL, seed, 4, big, 4096, &info), status, maps);
    ok(status == STATUS_SUCCESS && info == 4096 && maps == 1, "FILL of 4 KiB: %llu maps\n",
       U64(maps));
    shim_close(f);
    free(big);
    unload_ok(driver, 0);
}

/* ---- names below the device ---- */

static void test_create_names(void)
{
    PDRIVER_OBJECT driver = load_ok();
    SHIM_FILE *f = NULL;
    NTSTATUS status;

    if (!driver)
        return;
    status = shim_create(SANCTUM_DOS_DEVICE_NAME L"\\x", RW, SHIM_CALLER_ADMIN, &f);
    ok(status == STATUS_OBJECT_NAME_NOT_FOUND && !f && shim_last_dispatched(),
       "an administrator opened a name below the device: 0x%08x\n", ST(status));
    ok(snap(state_of(driver)).OpenHandles == 0 && snap(state_of(driver)).PoolAllocations == 0 &&
           snap(state_of(driver)).Creates == 0 && snap(state_of(driver)).Failures == 1,
       "the refused open left a handle, or was not counted as a failure\n");
    /* The device by its own name, as \\?\GLOBALROOT\Device\SanctumEDR reaches it. */
    status = shim_create(SANCTUM_NT_DEVICE_NAME, RW, SHIM_CALLER_ADMIN, &f);
    ok(status == STATUS_SUCCESS && f, "the device by its NT name: 0x%08x\n", ST(status));
    if (f)
        shim_close(f);
    unload_ok(driver, 0);
}

/* ---- the unload line, also under the service key ---- */

static void test_unload_record(void)
{
    PDRIVER_OBJECT driver;
    ULONG64 allocations = 1, bytes = 1;
    SHIM_FILE *f;

    shim_registry_clear();
    driver = load_ok();
    if (!driver)
        return;
    ok(shim_registry_qword(SHIM_SERVICE_KEY, SANCTUM_UNLOAD_ALLOCATIONS_VALUE, &allocations) &&
           shim_registry_qword(SHIM_SERVICE_KEY, SANCTUM_UNLOAD_BYTES_VALUE, &bytes) &&
           allocations == SANCTUM_UNLOAD_PENDING && bytes == SANCTUM_UNLOAD_PENDING,
       "while loaded: %llx %llx, expected the pending marker\n", U64(allocations), U64(bytes));
    f = open_rw();
    ok(subscribe(f, ALL, 0) == STATUS_SUCCESS, "SUBSCRIBE\n");
    shim_close(f);
    unload_ok(driver, 0);
    ok(shim_registry_qword(SHIM_SERVICE_KEY, SANCTUM_UNLOAD_ALLOCATIONS_VALUE, &allocations) &&
           shim_registry_qword(SHIM_SERVICE_KEY, SANCTUM_UNLOAD_BYTES_VALUE, &bytes) &&
           allocations == 0 && bytes == 0,
       "after the unload: %llu allocations, %llu bytes recorded\n", U64(allocations), U64(bytes));

    /* A key the driver may not write costs it nothing but a warning line. */
    shim_registry_clear();
    shim_registry_writable(FALSE);
    shim_log_clear();
    ok(shim_load_driver(DriverEntry, &driver) == STATUS_SUCCESS && shim_log_find(LOAD_LINE) == 1,
       "DriverEntry with a key it may not write: %s", last_log());
    if (driver) {
        shim_unload_driver(driver);
        ok(shim_log_find(UNLOAD_LINE) == 1, "no clean unload line: %s", last_log());
    }
    ok(shim_log_find("cannot record the unload under the service key: 0xc0000022") == 2,
       "no warning (at load and at unload) for a key it could not write: %s", last_log());
    check_ledger_empty("a load and unload that could not write the service key");
    shim_registry_writable(TRUE);
    ok(!shim_registry_qword(SHIM_SERVICE_KEY, SANCTUM_UNLOAD_BYTES_VALUE, &bytes),
       "a value was written to a read-only key\n");
}

void test_hardening(void)
{
    test_stack_guard();
    test_disconnect();
    test_after_cleanup();
    test_message_budget();
    test_mapping_after_checks();
    test_create_names();
    test_unload_record();
}
