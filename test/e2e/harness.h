/* SPDX-License-Identifier: MIT */
/* The end-to-end suite's helpers: checks, child processes, the driver's log, the device. */
#ifndef SANCTUM_E2E_HARNESS_H
#define SANCTUM_E2E_HARNESS_H

#include <windows.h>
#include <wincrypt.h>
#include <winioctl.h>
#include <stdio.h>
#include "sanctum/client.h"

/* The file names, which a fork's DRIVER_NAME changes like the names in ioctl.h. */
#ifndef SANCTUM_DRIVER_FILE
#define SANCTUM_DRIVER_FILE L"sanctum.sys"
#endif
#ifndef SANCTUM_CTL_FILE
#define SANCTUM_CTL_FILE L"sanctumctl.exe"
#endif
#ifndef SANCTUM_CERT_FILE
#define SANCTUM_CERT_FILE L"sanctum-test.cer"
#endif

/* One line per check, Wine-test style: `ok(cond, "got %lu\n", x)`. */
#define ok(cond, ...) ok_(__FILE__, __LINE__, (cond), __VA_ARGS__)
int ok_(const char *file, int line, int cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A case this platform cannot show: one `skipped: REASON` line; never counted as passed. */
void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int e2e_summary(const char *suite);

/* Wine's version when the suite runs under Wine (ntdll's wine_get_version), else NULL. */
const char *wine_version(void);

/* What a child process did: its exit code and everything it printed. */
typedef struct {
    DWORD exit_code;
    char out[65536];
    char err[8192];
} child_result;

/* Runs `cmdline` to completion (60 s at most); returns FALSE if it could not run. */
BOOL run_child(const wchar_t *cmdline, child_result *r);

/* A child still running, its output going to temporary files. */
typedef struct {
    PROCESS_INFORMATION pi;
    HANDLE out, err;
} child_process;

/* Starts `cmdline` with CreateProcess flags; FALSE if it could not. */
BOOL child_start(const wchar_t *cmdline, DWORD flags, child_process *c);
/* Waits up to timeout_ms (then ends it with exit code 255) and collects what it did. */
void child_finish(child_process *c, DWORD timeout_ms, child_result *r);
/* Number of lines in s (a last line without a newline counts). */
int count_lines(const char *s);

/* The Wine log that receives the driver's DbgPrint lines; "-" when there is none (on Windows,
 * DbgPrint goes to the kernel debugger). */
void log_init(const wchar_t *path);
BOOL log_available(void);
/* Occurrences of needle in the log so far. */
int log_count(const char *needle);
/* Waits up to 5 s for the count of needle to exceed `before`. */
BOOL log_wait_more(const char *needle, int before);

/* SanctumOpen for a synchronous handle; INVALID_HANDLE_VALUE and last error on failure. */
HANDLE device_open(DWORD access);
/* DeviceIoControl returning the Win32 error (0 on success) and the bytes returned. */
DWORD device_ioctl(HANDLE h, DWORD code, const void *in, DWORD in_len, void *out, DWORD out_len,
                   DWORD *returned);

/* SanctumGetStats: TRUE when the driver returned the whole structure. */
BOOL device_stats(HANDLE h, SANCTUM_STATS *s);

/* What the driver recorded under the service's key at its last unload (its pool outstanding;
 * SANCTUM_UNLOAD_PENDING while loaded); FALSE when there is no record. */
BOOL unload_record(const wchar_t *service, ULONG64 *allocations, ULONG64 *bytes);
/* The last unload recorded 0 allocations and 0 bytes outstanding (waits up to 2 s for it). */
BOOL unload_recorded_clean(const wchar_t *service);

/* The service's current state, or 0 with *error set when it cannot be queried. */
DWORD service_state(const wchar_t *name, DWORD *error);
/* Polls every 25 ms until the service reaches `wanted`; FALSE after timeout_ms or an error. */
BOOL service_wait(SC_HANDLE service, DWORD wanted, DWORD timeout_ms);
/* Stops and deletes a leftover service of that name from an earlier run; ignores errors. */
void service_remove_quietly(const wchar_t *name);

/* protocol.c: protocol v1 against a running driver. */
void test_protocol(void);
/* events.c: protocol 2 against its own service (with the probe driver beside it). */
void run_events(const wchar_t *driver_path, const wchar_t *probe_path, const wchar_t *self);
/* The consumer that test_killed_consumer starts and kills: `sanctum-e2e events-child`. */
int events_child(void);
/* watch.c: sanctumctl mark and watch against a running driver; ctl is sanctumctl's path. */
void test_watch(const wchar_t *ctl);
/* After test_watch: sanctumctl stop with a watcher attached; leaves the driver stopped. */
void test_watch_stop(void);
/* stress.c: load/unload cycles, threads, a fuzzer; installs its own service. */
void run_stress(const wchar_t *driver_path);

/* windows.c: what only Windows shows, each skipped under Wine with the reason. The driver
 * must be running; test_windows_stop stops it with a handle open and leaves it stopped. */
void test_windows(const wchar_t *self);
void test_windows_stop(const wchar_t *service);
/* The child process the event cases watch: `sanctum-e2e.exe child MARKER`. */
int child_main(void);
#define CHILD_EXIT_CODE 42
#define CHILD_DLL L"version.dll"


#endif
