/* SPDX-License-Identifier: MIT */
/* The end-to-end suite's helpers. */
#include "harness.h"

#include <stdarg.h>
#include <string.h>

static int passed, failed, skipped;
static wchar_t log_path[MAX_PATH];

int ok_(const char *file, int line, int cond, const char *fmt, ...)
{
    va_list ap;

    if (cond) {
        passed++;
        return 1;
    }
    failed++;
    printf("FAIL: %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    return 0;
}

void skip(const char *fmt, ...)
{
    va_list ap;

    skipped++;
    printf("skipped: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

int e2e_summary(const char *suite)
{
    printf("%s: %d passed, %d failed, %d skipped\n", suite, passed, failed, skipped);
    fflush(stdout);
    return failed ? 1 : 0;
}

const char *wine_version(void)
{
    typedef const char *(CDECL * wine_get_version_fn)(void);
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    wine_get_version_fn get =
        ntdll ? (wine_get_version_fn)(void (*)(void))GetProcAddress(ntdll, "wine_get_version")
              : NULL;

    return get ? get() : NULL;
}

/* An inheritable temporary file for a child's stdout or stderr. */
static HANDLE temp_output(void)
{
    SECURITY_ATTRIBUTES sa = { .nLength = sizeof(sa), .bInheritHandle = TRUE };
    wchar_t dir[MAX_PATH], path[MAX_PATH];

    if (!GetTempPathW(MAX_PATH, dir) || !GetTempFileNameW(dir, L"e2e", 0, path))
        return INVALID_HANDLE_VALUE;
    return CreateFileW(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                       CREATE_ALWAYS, FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE, NULL);
}

static void read_back(HANDLE file, char *buf, DWORD size)
{
    DWORD got = 0;

    SetFilePointer(file, 0, NULL, FILE_BEGIN);
    if (!ReadFile(file, buf, size - 1, &got, NULL))
        got = 0;
    buf[got] = 0;
}

BOOL child_start(const wchar_t *cmdline, DWORD flags, child_process *c)
{
    STARTUPINFOW si;
    wchar_t cmd[2048];

    memset(c, 0, sizeof(*c));
    wcsncpy(cmd, cmdline, ARRAYSIZE(cmd) - 1);
    cmd[ARRAYSIZE(cmd) - 1] = 0;
    c->out = temp_output();
    c->err = temp_output();
    if (c->out != INVALID_HANDLE_VALUE && c->err != INVALID_HANDLE_VALUE) {
        memset(&si, 0, sizeof(si));
        si.cb = sizeof(si);
        si.dwFlags = STARTF_USESTDHANDLES;
        si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
        si.hStdOutput = c->out;
        si.hStdError = c->err;
        if (CreateProcessW(NULL, cmd, NULL, NULL, TRUE, flags, NULL, NULL, &si, &c->pi))
            return TRUE;
    }
    if (c->out != INVALID_HANDLE_VALUE)
        CloseHandle(c->out);
    if (c->err != INVALID_HANDLE_VALUE)
        CloseHandle(c->err);
    return FALSE;
}

void child_finish(child_process *c, DWORD timeout_ms, child_result *r)
{
    memset(r, 0, sizeof(*r));
    r->exit_code = (DWORD)-1;
    if (WaitForSingleObject(c->pi.hProcess, timeout_ms) != WAIT_OBJECT_0)
        TerminateProcess(c->pi.hProcess, 255);
    WaitForSingleObject(c->pi.hProcess, INFINITE);
    GetExitCodeProcess(c->pi.hProcess, &r->exit_code);
    CloseHandle(c->pi.hThread);
    CloseHandle(c->pi.hProcess);
    read_back(c->out, r->out, sizeof(r->out));
    read_back(c->err, r->err, sizeof(r->err));
    CloseHandle(c->out);
    CloseHandle(c->err);
}

BOOL run_child(const wchar_t *cmdline, child_result *r)
{
    child_process c;

    memset(r, 0, sizeof(*r));
    r->exit_code = (DWORD)-1;
    if (!child_start(cmdline, 0, &c))
        return FALSE;
    child_finish(&c, 60000, r);
    return TRUE;
}

int count_lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        if (*s == '\n' || (s[1] == 0))
            n++;
    return n;
}

void log_init(const wchar_t *path)
{
    wcsncpy(log_path, wcscmp(path, L"-") ? path : L"", ARRAYSIZE(log_path) - 1);
}

BOOL log_available(void)
{
    return log_path[0] != 0;
}

int log_count(const char *needle)
{
    static char buf[1 << 20];
    HANDLE h;
    DWORD got = 0;
    const char *p;
    int n = 0;

    /* Wine writes this file from other processes: share everything. */
    h = CreateFileW(log_path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    if (!ReadFile(h, buf, sizeof(buf) - 1, &got, NULL))
        got = 0;
    CloseHandle(h);
    buf[got] = 0;
    for (p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

BOOL log_wait_more(const char *needle, int before)
{
    int i;

    for (i = 0; i < 50; i++) {
        if (log_count(needle) > before)
            return TRUE;
        Sleep(100);
    }
    return FALSE;
}

HANDLE device_open(DWORD access)
{
    HANDLE h;

    SanctumOpen(access, 0, &h); /* CreateFileW's last error stays for the caller */
    return h;
}

DWORD device_ioctl(HANDLE h, DWORD code, const void *in, DWORD in_len, void *out, DWORD out_len,
                   DWORD *returned)
{
    *returned = 0;
    if (DeviceIoControl(h, code, (void *)in, in_len, out, out_len, returned, NULL))
        return 0;
    return GetLastError();
}

BOOL device_stats(HANDLE h, SANCTUM_STATS *s)
{
    DWORD returned;

    return SanctumGetStats(h, s, &returned) == ERROR_SUCCESS;
}

BOOL unload_record(const wchar_t *service, ULONG64 *allocations, ULONG64 *bytes)
{
    wchar_t key[128];
    DWORD size = sizeof(*allocations);

    _snwprintf(key, ARRAYSIZE(key), L"SYSTEM\\CurrentControlSet\\Services\\%ls", service);
    key[ARRAYSIZE(key) - 1] = 0;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, key, SANCTUM_UNLOAD_ALLOCATIONS_VALUE, RRF_RT_REG_QWORD,
                     NULL, allocations, &size) != ERROR_SUCCESS)
        return FALSE;
    size = sizeof(*bytes);
    return RegGetValueW(HKEY_LOCAL_MACHINE, key, SANCTUM_UNLOAD_BYTES_VALUE, RRF_RT_REG_QWORD, NULL,
                        bytes, &size) == ERROR_SUCCESS;
}

BOOL unload_recorded_clean(const wchar_t *service)
{
    ULONG64 allocations, bytes;
    int i;

    /* The SCM reports STOPPED once the driver object is gone: the values are written by then. */
    for (i = 0; i < 100; i++) {
        if (unload_record(service, &allocations, &bytes) && allocations != SANCTUM_UNLOAD_PENDING)
            return allocations == 0 && bytes == 0;
        Sleep(20);
    }
    return FALSE;
}

DWORD service_state(const wchar_t *name, DWORD *error)
{
    SERVICE_STATUS status;
    SC_HANDLE scm, svc;
    DWORD state = 0;

    *error = 0;
    scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    if (!scm) {
        *error = GetLastError();
        return 0;
    }
    svc = OpenServiceW(scm, name, SERVICE_QUERY_STATUS);
    if (!svc)
        *error = GetLastError();
    else if (!QueryServiceStatus(svc, &status))
        *error = GetLastError();
    else
        state = status.dwCurrentState;
    if (svc)
        CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return state;
}

BOOL service_wait(SC_HANDLE service, DWORD wanted, DWORD timeout_ms)
{
    SERVICE_STATUS status;
    DWORD waited;

    for (waited = 0; waited < timeout_ms; waited += 25) {
        if (!QueryServiceStatus(service, &status))
            return FALSE;
        if (status.dwCurrentState == wanted)
            return TRUE;
        Sleep(25);
    }
    return FALSE;
}

void service_remove_quietly(const wchar_t *name)
{
    SERVICE_STATUS status;
    SC_HANDLE scm, svc;

    scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    if (!scm)
        return;
    svc = OpenServiceW(scm, name, SERVICE_ALL_ACCESS);
    if (svc) {
        if (ControlService(svc, SERVICE_CONTROL_STOP, &status))
            service_wait(svc, SERVICE_STOPPED, 10000);
        DeleteService(svc);
        CloseServiceHandle(svc);
    }
    CloseServiceHandle(scm);
}
