/* SPDX-License-Identifier: MIT */
/*
 * What only Windows shows, run by make vm-test in a test-signing VM. Under Wine each case
 * prints `skipped` with the reason: Wine applies no device DACL, passes an MDL even for zero
 * bytes, sends no IRP_MJ_CLEANUP while requests are pending, unloads a driver at once, and
 * never calls the process and thread notify routines.
 */
#include "harness.h"

#include <string.h>

#define RW (GENERIC_READ | GENERIC_WRITE)
#define EVENT_BUFFER (64u * 1024)
#define EVENT_WAIT_MS 10000
/* What ntstatus.h calls it; winnt.h in user mode has no STATUS_CANCELLED. */
#define NT_STATUS_CANCELLED ((LONG)0xC0000120L)

/* TRUE under Wine, after printing why `what` is skipped there. */
static BOOL wine_skips(const char *what, const char *why)
{
    const char *wine = wine_version();

    if (wine == NULL)
        return FALSE;
    skip("%s: Windows only (Wine %s %s)\n", what, wine, why);
    return TRUE;
}

/* The same open with and without Administrators in the token: the DACL admits only them and
 * LocalSystem, so a token whose Administrators SID is deny-only gets error 5. */
static void test_dacl(void)
{
    SID_AND_ATTRIBUTES admins = { 0 };
    BYTE sid[SECURITY_MAX_SID_SIZE];
    DWORD size = sizeof(sid);
    HANDLE token = NULL, restricted = NULL, h;

    if (wine_skips("the device's DACL refuses a token without Administrators",
                   "does not apply a device object's DACL"))
        return;
    if (!ok(CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, sid, &size),
            "CreateWellKnownSid: error %lu\n", GetLastError()) ||
        !ok(OpenProcessToken(GetCurrentProcess(), TOKEN_DUPLICATE | TOKEN_QUERY, &token),
            "OpenProcessToken: error %lu\n", GetLastError()))
        return;
    admins.Sid = sid;
    if (ok(CreateRestrictedToken(token, 0, 1, &admins, 0, NULL, 0, NULL, &restricted),
           "CreateRestrictedToken: error %lu\n", GetLastError()) &&
        ok(ImpersonateLoggedOnUser(restricted), "ImpersonateLoggedOnUser: error %lu\n",
           GetLastError())) {
        h = device_open(GENERIC_READ);
        ok(h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_ACCESS_DENIED,
           "open without Administrators: error %lu, expected 5\n", GetLastError());
        if (h != INVALID_HANDLE_VALUE)
            CloseHandle(h);
        ok(RevertToSelf(), "RevertToSelf: error %lu\n", GetLastError());
    }
    h = device_open(GENERIC_READ);
    ok(h != INVALID_HANDLE_VALUE, "open with Administrators: error %lu\n", GetLastError());
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (restricted)
        CloseHandle(restricted);
    CloseHandle(token);
}

/* Windows builds no MDL for a zero-length direct-I/O transfer: the driver must answer from
 * the lengths alone. */
static void test_zero_length(void)
{
    char buf[16];
    DWORD done = 1, returned, error, seed = 1;
    HANDLE h;

    if (wine_skips("a zero-length direct-I/O request arrives without an MDL",
                   "passes an MDL even for zero bytes"))
        return;
    h = device_open(RW);
    if (!ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    ok(ReadFile(h, buf, 0, &done, NULL) && done == 0,
       "read 0 bytes, nothing queued: error %lu, %lu bytes\n", GetLastError(), done);
    ok(!WriteFile(h, buf, 0, &done, NULL) && GetLastError() == ERROR_INVALID_PARAMETER,
       "write 0 bytes: error %lu, expected 87\n", GetLastError());
    ok(WriteFile(h, "message", 7, &done, NULL) && done == 7, "write: error %lu\n", GetLastError());
    ok(!ReadFile(h, buf, 0, &done, NULL) && GetLastError() == ERROR_INSUFFICIENT_BUFFER,
       "read 0 bytes, a message queued: error %lu, expected 122\n", GetLastError());
    ok(ReadFile(h, buf, sizeof(buf), &done, NULL) && done == 7 && !memcmp(buf, "message", 7),
       "the message stayed queued: error %lu, %lu bytes\n", GetLastError(), done);
    error = device_ioctl(h, IOCTL_SANCTUM_FILL, &seed, sizeof(seed), buf, 0, &returned);
    ok(error == ERROR_INVALID_PARAMETER, "FILL into 0 bytes: error %lu, expected 87\n", error);
    CloseHandle(h);
}

/* Subscribes h to `types`; the Win32 error, 0 on success. */
static DWORD subscribe(HANDLE h, ULONG types)
{
    SANCTUM_SUBSCRIBE s = { sizeof(s), types, 0 };
    DWORD returned;

    return device_ioctl(h, IOCTL_SANCTUM_SUBSCRIBE, &s, sizeof(s), NULL, 0, &returned);
}

/* Starts GET_EVENTS on an overlapped handle; FALSE (with the error) if it did not start. */
static BOOL start_get_events(HANDLE h, void *buf, OVERLAPPED *ov)
{
    memset(ov, 0, sizeof(*ov));
    ov->hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (ov->hEvent == NULL)
        return FALSE;
    if (DeviceIoControl(h, IOCTL_SANCTUM_GET_EVENTS, NULL, 0, buf, EVENT_BUFFER, NULL, ov) ||
        GetLastError() == ERROR_IO_PENDING)
        return TRUE;
    CloseHandle(ov->hEvent);
    return FALSE;
}

/* Waits up to timeout_ms for a started GET_EVENTS; cancels it after that. The Win32 error,
 * 0 on success, with *returned bytes. */
static DWORD finish_get_events(HANDLE h, OVERLAPPED *ov, DWORD timeout_ms, DWORD *returned)
{
    DWORD error = 0;

    *returned = 0;
    if (WaitForSingleObject(ov->hEvent, timeout_ms) != WAIT_OBJECT_0)
        CancelIoEx(h, ov);
    if (!GetOverlappedResult(h, ov, returned, TRUE))
        error = GetLastError();
    CloseHandle(ov->hEvent);
    return error;
}

/* IRP_MJ_CLEANUP comes when the last handle to a file object closes, before IRP_MJ_CLOSE, and
 * must end that handle's pending requests. */
static void test_cleanup_ends_pending(void)
{
    static BYTE buf[EVENT_BUFFER];
    SANCTUM_STATS before, after;
    OVERLAPPED ov;
    HANDLE h, stats;
    DWORD error;

    if (wine_skips("closing a handle sends IRP_MJ_CLEANUP, which ends its pending requests",
                   "sends no IRP_MJ_CLEANUP while requests are pending"))
        return;
    stats = device_open(GENERIC_READ);
    h = CreateFileW(SANCTUM_USER_DEVICE_PATH, RW, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                    NULL);
    if (!ok(stats != INVALID_HANDLE_VALUE && h != INVALID_HANDLE_VALUE, "open: error %lu\n",
            GetLastError()))
        goto out;
    error = subscribe(h, SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK));
    if (!ok(error == 0, "SUBSCRIBE: error %lu\n", error))
        goto out;
    if (!ok(start_get_events(h, buf, &ov), "GET_EVENTS: error %lu\n", GetLastError()))
        goto out;
    ok(WaitForSingleObject(ov.hEvent, 200) == WAIT_TIMEOUT,
       "GET_EVENTS with no event did not pend\n");
    ok(device_stats(stats, &before) && before.PendingRequests == 1 && before.Subscriptions == 1,
       "before close: %lu pending, %lu subscriptions\n", before.PendingRequests,
       before.Subscriptions);
    CloseHandle(h);
    h = INVALID_HANDLE_VALUE;
    /* The handle is gone: wait on the OVERLAPPED's event, not on the handle. */
    ok(WaitForSingleObject(ov.hEvent, 5000) == WAIT_OBJECT_0,
       "the pending GET_EVENTS did not complete when its handle closed\n");
    ok((LONG)ov.Internal == NT_STATUS_CANCELLED && ov.InternalHigh == 0,
       "the ended GET_EVENTS: status 0x%08lX, %lu bytes\n", (unsigned long)ov.Internal,
       (unsigned long)ov.InternalHigh);
    CloseHandle(ov.hEvent);
    ok(device_stats(stats, &after) && after.PendingRequests == 0 && after.Subscriptions == 0 &&
           after.OpenHandles == before.OpenHandles - 1,
       "after close: %lu pending, %lu subscriptions, %lu handles\n", after.PendingRequests,
       after.Subscriptions, after.OpenHandles);
out:
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (stats != INVALID_HANDLE_VALUE)
        CloseHandle(stats);
}

/* What the child did, as the event records tell it. */
typedef struct {
    ULONG64 pid;
    int created, exited, threads_created, threads_exited, dlls, own_image;
    BOOL name_ok, command_line_ok, parent_ok;
    LONG exit_status;
    ULONG64 last_sequence;
    int bad_records, sequence_gaps;
} child_events;

/* Does the UTF-16 string (len bytes) end with `suffix`, case ignored? */
static BOOL ends_with(const WCHAR *s, USHORT len, const wchar_t *suffix)
{
    size_t n = len / sizeof(WCHAR), k = wcslen(suffix);

    return n >= k && _wcsnicmp(s + n - k, suffix, k) == 0;
}

static BOOL contains(const WCHAR *s, USHORT len, const wchar_t *needle)
{
    size_t n = len / sizeof(WCHAR), k = wcslen(needle), i;

    for (i = 0; i + k <= n; i++)
        if (_wcsnicmp(s + i, needle, k) == 0)
            return TRUE;
    return FALSE;
}

/* One record, already checked to lie whole inside the batch. */
static void note_record(const SANCTUM_EVENT_HEADER *e, child_events *c, const wchar_t *marker)
{
    const BYTE *body = (const BYTE *)(e + 1);
    size_t body_len = e->Size - sizeof(*e);

    if (c->last_sequence && e->Sequence != c->last_sequence + 1)
        c->sequence_gaps++;
    c->last_sequence = e->Sequence;
    switch (e->Type) {
    case SANCTUM_EVENT_PROCESS_CREATE: {
        const SANCTUM_PROCESS_CREATE *p = (const void *)body;
        const WCHAR *name = (const WCHAR *)(p + 1);

        if (body_len < sizeof(*p) ||
            body_len < sizeof(*p) + p->ImageNameLength + p->CommandLineLength) {
            c->bad_records++;
            return;
        }
        if (p->ProcessId != c->pid)
            return;
        c->created++;
        c->parent_ok = p->ParentProcessId == GetCurrentProcessId();
        c->name_ok = ends_with(name, p->ImageNameLength, L"\\sanctum-e2e.exe");
        c->command_line_ok = contains((const WCHAR *)((const BYTE *)name + p->ImageNameLength),
                                      p->CommandLineLength, marker);
        break;
    }
    case SANCTUM_EVENT_PROCESS_EXIT: {
        const SANCTUM_PROCESS_EXIT *p = (const void *)body;

        if (body_len < sizeof(*p)) {
            c->bad_records++;
            return;
        }
        if (p->ProcessId == c->pid) {
            c->exited++;
            c->exit_status = p->ExitStatus;
        }
        break;
    }
    case SANCTUM_EVENT_THREAD_CREATE:
    case SANCTUM_EVENT_THREAD_EXIT: {
        const SANCTUM_THREAD *t = (const void *)body;

        if (body_len < sizeof(*t)) {
            c->bad_records++;
            return;
        }
        if (t->ProcessId == c->pid && e->Type == SANCTUM_EVENT_THREAD_CREATE)
            c->threads_created++;
        else if (t->ProcessId == c->pid)
            c->threads_exited++;
        break;
    }
    case SANCTUM_EVENT_IMAGE_LOAD: {
        const SANCTUM_IMAGE_LOAD *l = (const void *)body;
        const WCHAR *name = (const WCHAR *)(l + 1);

        if (body_len < sizeof(*l) || body_len < sizeof(*l) + l->NameLength) {
            c->bad_records++;
            return;
        }
        if (l->ProcessId != c->pid)
            return;
        if (ends_with(name, l->NameLength, L"\\" CHILD_DLL))
            c->dlls++;
        if (ends_with(name, l->NameLength, L"\\sanctum-e2e.exe"))
            c->own_image++;
        break;
    }
    default: /* a type this suite does not know: skipped by its Size */
        break;
    }
}

/* Walks a batch by Header.Size, each record checked against what is left of the batch. */
static void note_batch(const BYTE *buf, DWORD returned, child_events *c, const wchar_t *marker)
{
    DWORD off = 0;

    while (off < returned) {
        const SANCTUM_EVENT_HEADER *e = (const void *)(buf + off);

        if (returned - off < sizeof(*e) || e->Size < sizeof(*e) || e->Size % 8 ||
            e->Size > returned - off) {
            c->bad_records++;
            return;
        }
        note_record(e, c, marker);
        off += e->Size;
    }
}

/* A child process the suite starts, seen through process, thread and image-load events. */
static void test_child_events(const wchar_t *self)
{
    static BYTE buf[EVENT_BUFFER];
    const ULONG types = SANCTUM_EVENT_MASK(SANCTUM_EVENT_PROCESS_CREATE) |
                        SANCTUM_EVENT_MASK(SANCTUM_EVENT_PROCESS_EXIT) |
                        SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_CREATE) |
                        SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_EXIT) |
                        SANCTUM_EVENT_MASK(SANCTUM_EVENT_IMAGE_LOAD);
    STARTUPINFOW si = { .cb = sizeof(si) };
    PROCESS_INFORMATION pi;
    child_events c = { 0 };
    wchar_t marker[64], cmd[MAX_PATH + 128];
    DWORD error, returned, waited;
    OVERLAPPED ov;
    HANDLE h;

    if (wine_skips("process, thread and image-load events for a child process",
                   "never calls the process and thread notify routines, and reports image "
                   "loads only for drivers"))
        return;
    h = CreateFileW(SANCTUM_USER_DEVICE_PATH, RW, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                    NULL);
    if (!ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    error = subscribe(h, types);
    if (!ok(error == 0, "SUBSCRIBE: error %lu\n", error))
        goto out;

    _snwprintf(marker, ARRAYSIZE(marker), L"sanctum-marker-%lu", GetCurrentProcessId());
    marker[ARRAYSIZE(marker) - 1] = 0;
    _snwprintf(cmd, ARRAYSIZE(cmd), L"\"%ls\" child %ls", self, marker);
    cmd[ARRAYSIZE(cmd) - 1] = 0;
    if (!ok(CreateProcessW(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi),
            "cannot start the child: error %lu\n", GetLastError()))
        goto out;
    c.pid = pi.dwProcessId;
    ok(WaitForSingleObject(pi.hProcess, EVENT_WAIT_MS) == WAIT_OBJECT_0, "the child did not end\n");
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);

    /* Batches until the child's exit record, or the time is up. */
    for (waited = 0; !c.exited && waited < EVENT_WAIT_MS; waited += 1000) {
        if (!ok(start_get_events(h, buf, &ov), "GET_EVENTS: error %lu\n", GetLastError()))
            break;
        error = finish_get_events(h, &ov, 1000, &returned);
        if (error == ERROR_OPERATION_ABORTED)
            continue;
        if (!ok(error == 0, "GET_EVENTS: error %lu\n", error))
            break;
        note_batch(buf, returned, &c, marker);
    }
    ok(c.bad_records == 0, "%d records overran their batch or had a bad Size\n", c.bad_records);
    ok(c.sequence_gaps == 0, "%d gaps in the sequence numbers (records dropped)\n",
       c.sequence_gaps);
    ok(c.created == 1, "%d PROCESS_CREATE records for the child (pid %llu)\n", c.created,
       (unsigned long long)c.pid);
    ok(c.parent_ok, "PROCESS_CREATE: the parent is not this process\n");
    ok(c.name_ok, "PROCESS_CREATE: the image name does not end in sanctum-e2e.exe\n");
    ok(c.command_line_ok, "PROCESS_CREATE: the command line lacks %ls\n", marker);
    ok(c.exited == 1 && c.exit_status == CHILD_EXIT_CODE,
       "%d PROCESS_EXIT records, exit status %ld, expected %d\n", c.exited, (long)c.exit_status,
       CHILD_EXIT_CODE);
    /* The main thread and the one the child starts; each ends before the process does. */
    ok(c.threads_created >= 2, "%d THREAD_CREATE records for the child\n", c.threads_created);
    ok(c.threads_exited >= 1, "%d THREAD_EXIT records for the child\n", c.threads_exited);
    ok(c.own_image == 1, "%d IMAGE_LOAD records for the child's own image\n", c.own_image);
    ok(c.dlls == 1, "%d IMAGE_LOAD records for %ls, which the child loads\n", c.dlls, CHILD_DLL);
out:
    CloseHandle(h);
}

static DWORD WINAPI child_thread(void *arg)
{
    (void)arg;
    return 0;
}

int child_main(void)
{
    HANDLE thread = CreateThread(NULL, 0, child_thread, NULL, 0, NULL);
    HMODULE dll;

    if (thread == NULL)
        return 1;
    WaitForSingleObject(thread, INFINITE);
    CloseHandle(thread);
    dll = LoadLibraryW(CHILD_DLL);
    if (dll == NULL)
        return 2;
    FreeLibrary(dll);
    return CHILD_EXIT_CODE;
}

void test_windows(const wchar_t *self)
{
    test_dacl();
    test_zero_length();
    test_cleanup_ends_pending();
    test_child_events(self);
}

/*
 * Stopping the service while a handle is open: Windows keeps the driver until the handle
 * closes (the SCM reports STOP_PENDING meanwhile), then unloads it. The driver still answers
 * on the open handle, the unload follows the close, and the driver loads again afterwards.
 */
void test_windows_stop(const wchar_t *service)
{
    SERVICE_STATUS status;
    SANCTUM_VERSION v;
    SC_HANDLE scm, svc;
    DWORD returned, error, state;
    HANDLE h;

    if (wine_skips("stopping with a handle open defers the unload until the handle closes",
                   "unloads the driver at once"))
        return;
    h = device_open(GENERIC_READ);
    if (!ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    svc = scm ? OpenServiceW(scm, service, SERVICE_STOP | SERVICE_START | SERVICE_QUERY_STATUS)
              : NULL;
    if (!ok(svc != NULL, "open the service: error %lu\n", GetLastError()))
        goto out;
    if (!ControlService(svc, SERVICE_CONTROL_STOP, &status))
        ok(0, "ControlService STOP with a handle open: error %lu\n", GetLastError());
    Sleep(1000);
    state = service_state(service, &error);
    ok(state == SERVICE_STOP_PENDING || state == SERVICE_RUNNING,
       "with the handle open: state %lu (error %lu), expected STOP_PENDING (3) or RUNNING (4)\n",
       state, error);
    error = device_ioctl(h, IOCTL_SANCTUM_GET_VERSION, NULL, 0, &v, sizeof(v), &returned);
    ok(error == 0 && returned == sizeof(v), "GET_VERSION on the open handle: error %lu\n", error);

    CloseHandle(h);
    h = INVALID_HANDLE_VALUE;
    ok(service_wait(svc, SERVICE_STOPPED, 10000), "no STOPPED within 10 s of the close\n");
    h = device_open(0);
    ok(h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_FILE_NOT_FOUND,
       "after the unload: the device opens (error %lu)\n", GetLastError());
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    h = INVALID_HANDLE_VALUE;
    /* A clean unload leaves nothing behind that stops the next load. */
    ok(StartServiceW(svc, 0, NULL), "start again: error %lu\n", GetLastError());
    ok(service_wait(svc, SERVICE_RUNNING, 10000), "not RUNNING again within 10 s\n");
    ok(ControlService(svc, SERVICE_CONTROL_STOP, &status), "stop again: error %lu\n",
       GetLastError());
    ok(service_wait(svc, SERVICE_STOPPED, 10000), "not STOPPED again within 10 s\n");
out:
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
}
