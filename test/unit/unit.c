/* SPDX-License-Identifier: MIT */
/*
 * Host unit tests of the driver, built for Linux from its own sources against test/unit/shim
 * and run under ASan, UBSan and LSan by test/unit/run.sh: the IRP-free handlers directly, and
 * the whole driver (DriverEntry, every dispatch routine, DriverUnload) through the shim's
 * I/O manager. This file: the checks, the helpers, the shim's own checks and main.
 */
#define _POSIX_C_SOURCE 200809L
#include "unit.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNIT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNIT_ASAN 1
#endif
#endif
#ifdef UNIT_ASAN
#include <sanitizer/lsan_interface.h>
#endif

static int passed, failed;

int ok_(const char *file, int line, int cond, const char *fmt, ...)
{
    va_list ap;

    if (cond) {
        __atomic_add_fetch(&passed, 1, __ATOMIC_RELAXED);
        return 1;
    }
    __atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
    flockfile(stdout);
    printf("FAIL: %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    funlockfile(stdout);
    return 0;
}

int unit_summary(void)
{
    int p = __atomic_load_n(&passed, __ATOMIC_SEQ_CST), f = __atomic_load_n(&failed, __ATOMIC_SEQ_CST);

    printf("unit: %d passed, %d failed\n", p, f);
    fflush(stdout);
    return f ? 1 : 0;
}

void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (!p) {
        fprintf(stderr, "unit: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

UCHAR *canary_buffer(size_t n)
{
    UCHAR *buf = xmalloc(n);

    memset(buf, CANARY, n);
    return buf;
}

long first_written(const UCHAR *buf, size_t from, size_t to)
{
    size_t i;

    for (i = from; i < to; i++)
        if (buf[i] != CANARY)
            return (long)i;
    return -1;
}

void pattern(UCHAR *buf, size_t n, ULONG seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        buf[i] = (UCHAR)(seed * 131u + i * 7u + (i >> 8) + 1u);
}

/* Every handler returns at PASSIVE_LEVEL with its spin locks released. */
static void check_passive(const char *what)
{
    KIRQL irql = shim_current_irql();
    ULONG locks = shim_spin_locks_held();

    if (irql != PASSIVE_LEVEL || locks != 0)
        ok(0, "%s returned at IRQL %u holding %u spin locks\n", what, irql, locks);
}

NTSTATUS dc(PSANCTUM_STATE st, ULONG code, const void *in, ULONG in_len, void *out,
            ULONG out_len, ULONG_PTR *info)
{
    SANCTUM_REQUEST request = { st, NULL, NULL, PsGetCurrentProcessId(), in, in_len,
                                { out, NULL, out_len } };
    NTSTATUS status;

    *info = INFO_UNSET;
    status = SanctumDeviceControl(&request, code, info);
    check_passive("SanctumDeviceControl");
    return status;
}

NTSTATUS wr(PSANCTUM_STATE st, PSANCTUM_HANDLE h, const void *data, ULONG len, ULONG_PTR *info)
{
    NTSTATUS status;

    SANCTUM_BUFFER buffer = { (void *)data, NULL, len };

    *info = INFO_UNSET;
    status = SanctumWrite(st, h, &buffer, info);
    check_passive("SanctumWrite");
    return status;
}

NTSTATUS rd(PSANCTUM_STATE st, PSANCTUM_HANDLE h, void *buf, ULONG len, ULONG_PTR *info)
{
    NTSTATUS status;

    SANCTUM_BUFFER buffer = { buf, NULL, len };

    *info = INFO_UNSET;
    status = SanctumRead(st, h, &buffer, info);
    check_passive("SanctumRead");
    return status;
}

PSANCTUM_HANDLE open_ok(PSANCTUM_STATE st)
{
    PSANCTUM_HANDLE h = (PSANCTUM_HANDLE)INFO_UNSET;
    NTSTATUS status = SanctumOpen(st, &h);

    check_passive("SanctumOpen");
    ok(status == STATUS_SUCCESS && h && h != (PSANCTUM_HANDLE)INFO_UNSET,
       "SanctumOpen: got 0x%08x, handle %p\n", ST(status), (void *)h);
    return status == STATUS_SUCCESS ? h : NULL;
}

void close_h(PSANCTUM_STATE st, PSANCTUM_HANDLE h)
{
    SanctumCleanup(st, h);
    check_passive("SanctumCleanup");
    SanctumClose(st, h);
    check_passive("SanctumClose");
}

PSANCTUM_STATE state_of(PDRIVER_OBJECT driver)
{
    return driver->DeviceObject->DeviceExtension;
}

const char *last_log(void)
{
    const SHIM_LOG_LINE *line = shim_log_count() ? shim_log_line(shim_log_count() - 1) : NULL;

    return line ? line->Text : "(nothing)\n";
}

PDRIVER_OBJECT load_ok_(const char *file, int line)
{
    PDRIVER_OBJECT driver = NULL;
    NTSTATUS status;

    shim_log_clear();
    status = shim_load_driver(DriverEntry, &driver);
    ok_(file, line, status == STATUS_SUCCESS && driver, "DriverEntry: 0x%08x\n", ST(status));
    ok_(file, line, shim_log_count() == 1 && shim_log_find(LOAD_LINE) == 1, "load line: %s",
        last_log());
    return NT_SUCCESS(status) ? driver : NULL;
}

void unload_ok_(const char *file, int line, PDRIVER_OBJECT driver, ULONG files)
{
    SHIM_LEDGER l;

    shim_log_clear();
    shim_unload_driver(driver);
    ok_(file, line, shim_log_count() == 1 && shim_log_find(UNLOAD_LINE) == 1, "unload line: %s",
        last_log());
    shim_ledger(&l);
    ok_(file, line,
        !l.PoolBlocks && !l.PoolBytes && !l.Devices && !l.Links && !l.Handles && !l.Irps &&
            l.Files == files && !l.Notifications,
        "after unload: %llu pool blocks (%llu bytes), %u devices, %u links, %u handles, "
        "%u IRPs, %u files (expected %u), %u notify routines\n",
        U64(l.PoolBlocks), U64(l.PoolBytes), l.Devices, l.Links, l.Handles, l.Irps, l.Files,
        files, l.Notifications);
    if (l.PoolBlocks || l.Devices || l.Links || l.Handles || l.Notifications)
        shim_ledger_report();
}

SHIM_FILE *open_ok_as_(const char *file, int line, ACCESS_MASK access, SHIM_CALLER caller)
{
    SHIM_FILE *f = NULL;
    NTSTATUS status = shim_create(SANCTUM_DOS_DEVICE_NAME, access, caller, &f);

    ok_(file, line, status == STATUS_SUCCESS && f, "open: 0x%08x\n", ST(status));
    ok_(file, line, !f || shim_file_object(f)->FsContext, "open: no FsContext\n");
    return f;
}

SANCTUM_STATS snap(PSANCTUM_STATE st)
{
    SANCTUM_STATS s;

    memset(&s, CANARY, sizeof(s));
    SanctumSnapshot(st, &s);
    check_passive("SanctumSnapshot");
    return s;
}

void check_stats_(const char *file, int line, const SANCTUM_STATS *got, const SANCTUM_STATS *exp)
{
#define CHECK_FIELD(f) \
    ok_(file, line, got->f == exp->f, #f ": got %llu, expected %llu\n", U64(got->f), U64(exp->f))
    CHECK_FIELD(Size);
    CHECK_FIELD(OpenHandles);
    CHECK_FIELD(Creates);
    CHECK_FIELD(Closes);
    CHECK_FIELD(Reads);
    CHECK_FIELD(Writes);
    CHECK_FIELD(Ioctls);
    CHECK_FIELD(Failures);
    CHECK_FIELD(BytesIn);
    CHECK_FIELD(BytesOut);
    CHECK_FIELD(PoolAllocations);
    CHECK_FIELD(PoolBytes);
#undef CHECK_FIELD
}

void check_pool_(const char *file, int line, PSANCTUM_STATE st, ULONG64 blocks, ULONG64 bytes)
{
    SANCTUM_STATS s = snap(st);
    ULONG64 ledger_bytes, ledger_blocks = shim_pool_outstanding(&ledger_bytes);

    ok_(file, line, s.PoolAllocations == blocks && s.PoolBytes == bytes,
        "state: %llu pool blocks, %llu bytes; expected %llu, %llu\n", U64(s.PoolAllocations),
        U64(s.PoolBytes), U64(blocks), U64(bytes));
    ok_(file, line, ledger_blocks == blocks && ledger_bytes == bytes,
        "shim ledger: %llu pool blocks, %llu bytes; expected %llu, %llu\n", U64(ledger_blocks),
        U64(ledger_bytes), U64(blocks), U64(bytes));
}

void end_scenario_(const char *file, int line, PSANCTUM_STATE st)
{
    SANCTUM_STATS s = snap(st);

    ok_(file, line, s.OpenHandles == 0, "%u handles still open\n", s.OpenHandles);
    ok_(file, line, s.Creates == s.Closes, "%llu creates, %llu closes\n", U64(s.Creates),
        U64(s.Closes));
    check_pool_(file, line, st, 0, 0);
    if (shim_pool_outstanding(NULL))
        shim_pool_report();
    SanctumStateRelease(st);
    check_passive("SanctumStateRelease");
    /* Whatever a failed scenario left must not spill into the next one's counts. */
    shim_fail_call(0);
}

int check_ledger_empty_(const char *file, int line, const char *what)
{
    SHIM_LEDGER l;

    shim_ledger(&l);
    if (ok_(file, line,
            !l.PoolBlocks && !l.PoolBytes && !l.Devices && !l.Links && !l.Handles && !l.Files &&
                !l.Irps,
            "%s: ledger not empty: %llu pool blocks (%llu bytes), %u devices, %u links, "
            "%u handles, %u files, %u IRPs\n",
            what, U64(l.PoolBlocks), U64(l.PoolBytes), l.Devices, l.Links, l.Handles, l.Files,
            l.Irps))
        return 1;
    shim_ledger_report();
    return 0;
}

/* The shim's checks must work, or every clean result below would mean nothing. */
#define TEST_TAG SANCTUM_POOL_TAG

static void die_double_free(void)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 8, TEST_TAG);

    ExFreePoolWithTag(p, TEST_TAG);
    ExFreePoolWithTag(p, TEST_TAG);
}

static void die_wrong_tag(void)
{
    ExFreePoolWithTag(ExAllocatePoolWithTag(NonPagedPoolNx, 8, TEST_TAG), TEST_TAG ^ 0x20);
}

static void die_free_null(void)
{
    ExFreePoolWithTag(NULL, TEST_TAG);
}

static void die_free_foreign(void)
{
    static UCHAR not_pool[8];

    ExFreePoolWithTag(not_pool, TEST_TAG);
}

static void die_recursive_lock(void)
{
    KSPIN_LOCK lock;
    KIRQL a, b;

    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &a);
    KeAcquireSpinLock(&lock, &b);
}

static void die_release_unheld(void)
{
    KSPIN_LOCK lock;

    KeInitializeSpinLock(&lock);
    KeReleaseSpinLock(&lock, PASSIVE_LEVEL);
}

static void die_corrupt_list(void)
{
    LIST_ENTRY head, a, b;

    InitializeListHead(&head);
    InsertTailList(&head, &a);
    InsertTailList(&head, &b);
    b.Blink = &b;
    RemoveEntryList(&b);
}

/* A block large enough for the page pool (test/unit/shim/pages.c), its length not a multiple
 * of anything. */
#define LARGE_BLOCK (4 * 4096 + 13)

static volatile UCHAR sink;

static void touch_large(ptrdiff_t at, BOOLEAN free_first)
{
    volatile UCHAR *p = ExAllocatePoolWithTag(NonPagedPoolNx, LARGE_BLOCK, TEST_TAG);

    if (!p)
        _exit(CHILD_NOT_SET_UP);
    if (free_first)
        ExFreePoolWithTag((PVOID)p, TEST_TAG);
    sink = p[at];
    p[at] = 1;
}

static void large_last_byte(void)
{
    touch_large(LARGE_BLOCK - 1, FALSE);
}

static void crash_large_past_end(void)
{
    touch_large(LARGE_BLOCK, FALSE);
}

static void crash_large_before_start(void)
{
    touch_large(-1, FALSE);
}

static void crash_large_after_free(void)
{
    touch_large(0, TRUE);
}

int run_in_child(void (*fn)(void), int *status)
{
    int fd;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        fn();
        _exit(0);
    }
    return waitpid(pid, status, 0) == pid;
}

int dies(void (*fn)(void))
{
    int status;

    return run_in_child(fn, &status) && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

int crashes(void (*fn)(void))
{
    int status;

    return run_in_child(fn, &status) &&
           !(WIFEXITED(status) &&
             (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == CHILD_NOT_SET_UP));
}

int exits_cleanly(void (*fn)(void))
{
    int status;

    return run_in_child(fn, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void test_shim(void)
{
    ULONG64 bytes, blocks, injected;
    PVOID a, b, c;
    KSPIN_LOCK lock;
    KIRQL irql;

    blocks = shim_pool_outstanding(&bytes);
    ok(blocks == 0 && bytes == 0, "ledger at start: %llu blocks, %llu bytes\n", U64(blocks),
       U64(bytes));
    a = ExAllocatePoolWithTag(NonPagedPoolNx, 10, TEST_TAG);
    b = ExAllocatePoolWithTag(NonPagedPoolNx, 20, TEST_TAG);
    blocks = shim_pool_outstanding(&bytes);
    ok(a && b && blocks == 2 && bytes == 30, "ledger: %llu blocks, %llu bytes\n", U64(blocks),
       U64(bytes));
    ok(a && ((PUCHAR)a)[9] != 0, "pool is handed out zeroed, as Windows does not\n");
    ExFreePoolWithTag(a, TEST_TAG);
    ExFreePoolWithTag(b, TEST_TAG);
    blocks = shim_pool_outstanding(&bytes);
    ok(blocks == 0 && bytes == 0, "ledger after frees: %llu blocks, %llu bytes\n", U64(blocks),
       U64(bytes));

    injected = shim_injected_failures();
    shim_fail_call(2);
    a = ExAllocatePoolWithTag(NonPagedPoolNx, 1, TEST_TAG);
    b = ExAllocatePoolWithTag(NonPagedPoolNx, 1, TEST_TAG);
    c = ExAllocatePoolWithTag(NonPagedPoolNx, 1, TEST_TAG);
    ok(a && !b && c, "fail after 1: got %p %p %p\n", a, b, c);
    ok(shim_injected_failures() == injected + 1, "injected %llu\n",
       U64(shim_injected_failures() - injected));
    ExFreePoolWithTag(a, TEST_TAG);
    ExFreePoolWithTag(c, TEST_TAG);
    shim_fail_call(1);
    shim_fail_call(0);
    a = ExAllocatePoolWithTag(NonPagedPoolNx, 1, TEST_TAG);
    ok(a != NULL, "a disarmed failure still happened\n");
    ExFreePoolWithTag(a, TEST_TAG);

    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &irql);
    ok(irql == PASSIVE_LEVEL && shim_current_irql() == DISPATCH_LEVEL &&
           shim_spin_locks_held() == 1,
       "holding a lock: old IRQL %u, IRQL %u, %u locks\n", irql, shim_current_irql(),
       shim_spin_locks_held());
    KeReleaseSpinLock(&lock, irql);
    ok(shim_current_irql() == PASSIVE_LEVEL && shim_spin_locks_held() == 0 && lock == 0,
       "after release: IRQL %u, %u locks\n", shim_current_irql(), shim_spin_locks_held());

    /* Large blocks: on pages of their own, filled like the rest, every misuse reported. */
    a = ExAllocatePoolWithTag(NonPagedPoolNx, LARGE_BLOCK, TEST_TAG);
    blocks = shim_pool_outstanding(&bytes);
    ok(a && blocks == 1 && bytes == LARGE_BLOCK, "large block: %llu blocks, %llu bytes\n",
       U64(blocks), U64(bytes));
    ok(a && ((ULONG_PTR)a & 15) == 0,
       "a large block at %p is not 16-byte aligned, as x64 pool is\n", a);
    if (a) {
        PUCHAR p = a;
        SIZE_T i = 0;

        p[4096] = 7; /* a written page is the block's own, the next block's is filled */
        b = ExAllocatePoolWithTag(NonPagedPoolNx, LARGE_BLOCK, TEST_TAG);
        while (b && i < LARGE_BLOCK && ((PUCHAR)b)[i] == 0xA5)
            i++;
        ok(b && b != a && p[0] == 0xA5 && p[4096] == 7 && i == LARGE_BLOCK,
           "large blocks are not all 0xA5 (byte %zu of the second)\n", (size_t)i);
        ExFreePoolWithTag(b, TEST_TAG);
        ExFreePoolWithTag(a, TEST_TAG);
    }
    ok(exits_cleanly(large_last_byte), "touching a large block's last byte crashed\n");
    ok(crashes(crash_large_past_end), "touching the byte past a large block did not crash\n");
    ok(crashes(crash_large_before_start), "touching the byte before a large block did not "
                                          "crash\n");
    ok(crashes(crash_large_after_free), "touching a freed large block did not crash\n");
    ok(dies(die_double_free), "a double free did not abort\n");
    ok(dies(die_wrong_tag), "a free with the wrong tag did not abort\n");
    ok(dies(die_free_null), "a free of NULL did not abort\n");
    ok(dies(die_free_foreign), "a free of non-pool memory did not abort\n");
    ok(dies(die_recursive_lock), "a recursive spin lock acquire did not abort\n");
    ok(dies(die_release_unheld), "releasing a spin lock not held did not abort\n");
    ok(dies(die_corrupt_list), "removing a corrupt list entry did not abort\n");
}

int main(void)
{
    /* Line-buffered: FAIL lines and sanitizer reports (stderr) stay in order in a log. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    test_shim(); /* first: these fork, which is only safe before any thread exists */
    test_shim_io();
    test_version();
    test_echo();
    test_stats();
    test_fill();
    test_unknown();
    test_queue();
    test_allocation_failures();
    test_driver();
    test_faults();
    test_hardening(); /* before test_concurrency: it forks too */
    test_concurrency();
    test_events();

#ifdef UNIT_ASAN
    /* Leaks found now are counted; LSan's own check at exit would come after the result line. */
    ok(__lsan_do_recoverable_leak_check() == 0, "LeakSanitizer found leaks (reported above)\n");
#endif
    return unit_summary();
}

/* ---- events through the shim's I/O manager ---- */

NTSTATUS subscribe(SHIM_FILE *f, ULONG types, ULONG queue)
{
    SANCTUM_SUBSCRIBE s = { sizeof(s), types, queue };
    ULONG_PTR info;

    return shim_ioctl(f, IOCTL_SANCTUM_SUBSCRIBE, &s, sizeof(s), NULL, 0, &info);
}

NTSTATUS mark(SHIM_FILE *f, const void *data, ULONG len)
{
    ULONG_PTR info;

    return shim_ioctl(f, IOCTL_SANCTUM_MARK, data, len, NULL, 0, &info);
}

WAIT get_events(SHIM_FILE *f, ULONG len)
{
    WAIT w;

    w.Out = canary_buffer((size_t)len + GUARD);
    w.Async = shim_ioctl_async(f, IOCTL_SANCTUM_GET_EVENTS, NULL, 0, w.Out, len);
    w.Status = STATUS_PENDING;
    w.Info = 0;
    if (shim_async_done(w.Async))
        w.Status = shim_async_status(w.Async, &w.Info);
    return w;
}

BOOLEAN collect(WAIT *w)
{
    if (!shim_async_done(w->Async))
        return FALSE;
    w->Status = shim_async_status(w->Async, &w->Info);
    return TRUE;
}

void end_wait(WAIT *w)
{
    shim_async_free(w->Async);
    free(w->Out);
}

const SANCTUM_EVENT_HEADER *record_at(const WAIT *w, ULONG offset)
{
    const SANCTUM_EVENT_HEADER *h = (const void *)(w->Out + offset);

    if (offset + sizeof(*h) > w->Info || h->Size < sizeof(*h) || h->Size % 8 ||
        offset + h->Size > w->Info)
        return NULL;
    return h;
}
