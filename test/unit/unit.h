/* SPDX-License-Identifier: MIT */
/* The host unit tests' checks and the calls into the driver that every test uses. */
#ifndef SANCTUM_UNIT_H
#define SANCTUM_UNIT_H

#include "sanctum.h"
#include "shim.h"

/* One line per check, Wine-test style: `ok(cond, "got %u\n", x)`. Thread-safe. */
#define ok(cond, ...) ok_(__FILE__, __LINE__, (cond), __VA_ARGS__)
int ok_(const char *file, int line, int cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints `unit: N passed, M failed`; returns the exit status. */
int unit_summary(void);

#define U64(x) ((unsigned long long)(x))
#define ST(x) ((unsigned)(x)) /* an NTSTATUS for %08x */

/* Output buffers are filled with this before a call: bytes still equal to it were not written. */
#define CANARY 0xCC
/* What *Information holds before a call, so that a handler that never sets it is seen. */
#define INFO_UNSET ((ULONG_PTR)0xDEADBEEF)

/* queue.c's private message layout, mirrored: its size is what PoolBytes counts per message. */
typedef struct {
    LIST_ENTRY Link;
    ULONG Length;
    UCHAR Data[ANYSIZE_ARRAY];
} UNIT_MESSAGE;
#define MESSAGE_BYTES(n) ((ULONG64)FIELD_OFFSET(UNIT_MESSAGE, Data) + (ULONG64)(n))
#define HANDLE_BYTES ((ULONG64)sizeof(SANCTUM_HANDLE))
/* The event staging block the driver holds from its first subscription to unload. */
#define STAGING_BYTES ((ULONG64)sizeof(SANCTUM_STAGING))

/* malloc that cannot fail; exactly n bytes, so that ASan sees any access past them. */
void *xmalloc(size_t n);
/* xmalloc(n) filled with CANARY. */
UCHAR *canary_buffer(size_t n);
/* Index of the first byte in [from, to) that is not CANARY, or -1. */
long first_written(const UCHAR *buf, size_t from, size_t to);
/* Deterministic contents: byte i is a function of seed and i. */
void pattern(UCHAR *buf, size_t n, ULONG seed);

/* The driver's calls, with *Information preset to INFO_UNSET and a check that each returns
 * at PASSIVE_LEVEL holding no spin lock. */
NTSTATUS dc(PSANCTUM_STATE st, ULONG code, const void *in, ULONG in_len, void *out,
            ULONG out_len, ULONG_PTR *info);
NTSTATUS wr(PSANCTUM_STATE st, PSANCTUM_HANDLE h, const void *data, ULONG len, ULONG_PTR *info);
NTSTATUS rd(PSANCTUM_STATE st, PSANCTUM_HANDLE h, void *buf, ULONG len, ULONG_PTR *info);
PSANCTUM_HANDLE open_ok(PSANCTUM_STATE st);
/* CLEANUP then CLOSE, as the I/O manager sends them. */
void close_h(PSANCTUM_STATE st, PSANCTUM_HANDLE h);
SANCTUM_STATS snap(PSANCTUM_STATE st);

/* ---- events through the shim's I/O manager (test_events.c, test_hardening.c) ---- */

#define BATCH SANCTUM_MAX_EVENT_SIZE
#define GUARD 16
/* The size of a MARK record carrying n bytes. */
#define MARK_BYTES(n) ((ULONG)((sizeof(SANCTUM_EVENT_HEADER) + sizeof(SANCTUM_MARK) + (n) + 7) & ~7u))

NTSTATUS subscribe(SHIM_FILE *f, ULONG types, ULONG queue);
NTSTATUS mark(SHIM_FILE *f, const void *data, ULONG len);
/* A GET_EVENTS in flight and the buffer it fills (its length, then GUARD canaries). */
typedef struct {
    SHIM_ASYNC *Async;
    UCHAR *Out;
    NTSTATUS Status;
    ULONG_PTR Info;
} WAIT;
WAIT get_events(SHIM_FILE *f, ULONG len);
/* The request's end, once done; its bytes stay in w->Out until end_wait. */
BOOLEAN collect(WAIT *w);
void end_wait(WAIT *w);
/* The record at Offset of a batch, whole and well formed, or NULL. */
const SANCTUM_EVENT_HEADER *record_at(const WAIT *w, ULONG offset);

/* Every counter of got against exp. */
#define check_stats(got, exp) check_stats_(__FILE__, __LINE__, (got), (exp))
void check_stats_(const char *file, int line, const SANCTUM_STATS *got, const SANCTUM_STATS *exp);
/* The state's PoolAllocations/PoolBytes and the shim's ledger both equal blocks/bytes
 * (single-threaded: the state is then the pool's only user). */
#define check_pool(st, blocks, bytes) check_pool_(__FILE__, __LINE__, (st), (blocks), (bytes))
void check_pool_(const char *file, int line, PSANCTUM_STATE st, ULONG64 blocks, ULONG64 bytes);
/* The end of a scenario: no handle open, nothing in the pool (state and ledger), then
 * SanctumStateRelease as DriverUnload would call it. */
#define end_scenario(st) end_scenario_(__FILE__, __LINE__, (st))
void end_scenario_(const char *file, int line, PSANCTUM_STATE st);

/* Runs fn in a child process (stderr silenced) and gives its wait status; 0 if it could not.
 * Only before any thread exists. */
int run_in_child(void (*fn)(void), int *status);
/* True if fn, run in a child process, died of abort(). */
int dies(void (*fn)(void));
/* What a child exits with when what it was to test could not even be set up. */
#define CHILD_NOT_SET_UP 77
/* True if fn, run in a child process, died: abort(), a fault, a sanitizer report (any exit
 * but 0 and CHILD_NOT_SET_UP). */
int crashes(void (*fn)(void));
/* True if fn, run in a child process, returned (exit status 0). */
int exits_cleanly(void (*fn)(void));

/* The shim's ledger is empty (pool, devices, links, handles, files, IRPs); reports it if not. */
#define check_ledger_empty(what) check_ledger_empty_(__FILE__, __LINE__, (what))
int check_ledger_empty_(const char *file, int line, const char *what);

/* driver.c's entry point: the tests load the real driver through the shim's I/O manager. */
DRIVER_INITIALIZE DriverEntry;

/* The driver's log lines for a load and a clean unload. */
#define UNLOAD_LINE \
    SANCTUM_LOG_PREFIX ": unloaded, pool outstanding: 0 allocations, 0 bytes\n"
#define LOAD_LINE \
    SANCTUM_LOG_PREFIX ": loaded, version " SANCTUM_VERSION_STRING ", protocol " SANCTUM_STR(SANCTUM_PROTOCOL_VERSION) "\n"
#define RW (FILE_READ_DATA | FILE_WRITE_DATA)

PSANCTUM_STATE state_of(PDRIVER_OBJECT driver);
/* The last line the driver printed, or "(nothing)". */
const char *last_log(void);
/* DriverEntry through the shim, and its one log line. */
#define load_ok() load_ok_(__FILE__, __LINE__)
PDRIVER_OBJECT load_ok_(const char *file, int line);
/* DriverUnload, its log line, and the ledger empty but for the `files` handles still held. */
#define unload_ok(driver, files) unload_ok_(__FILE__, __LINE__, (driver), (files))
void unload_ok_(const char *file, int line, PDRIVER_OBJECT driver, ULONG files);
/* An open of the device's link that must succeed, with its FsContext set. */
#define open_ok_as(access, caller) open_ok_as_(__FILE__, __LINE__, (access), (caller))
SHIM_FILE *open_ok_as_(const char *file, int line, ACCESS_MASK access, SHIM_CALLER caller);
#define open_rw() open_ok_as(RW, SHIM_CALLER_ADMIN)

/*
 * The suites: unit.c (the shim itself), test_ioctl.c, test_queue.c, test_threads.c (the
 * IRP-free handlers), test_shim_io.c (the shim's I/O manager and kernel calls), test_driver.c
 * (the whole driver through IRPs), test_faults.c (a failure at every failable call).
 */
void test_shim(void);
void test_shim_io(void);
void test_driver(void);
void test_faults(void);
void test_version(void);
void test_echo(void);
void test_stats(void);
void test_fill(void);
void test_unknown(void);
void test_queue(void);
void test_allocation_failures(void);
void test_concurrency(void);
void test_events(void);
void test_hardening(void);
/* test_gs.c: writes Length bytes into a 16-byte array of a frame with a stack cookie. */
int gs_victim(size_t Length);

#endif
