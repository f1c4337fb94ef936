/* SPDX-License-Identifier: MIT */
/*
 * sanctumctl: installs, starts, stops and queries the driver, and exercises its protocol
 * (echo, stats, fill, message queues); trust-cert is in cert.c, doctor in doctor.c.
 * Exit status: 0 success, 1 the operation failed, 2 wrong usage. A failure prints exactly one
 * line on stderr: "sanctumctl: OPERATION: MESSAGE (error N)[; ADVICE]".
 */
#include "sanctumctl.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Output ---------------------------------------------------------------------------- */

/*
 * Consoles get UTF-16 through WriteConsoleW; pipes and files (Wine tests capture through pipes)
 * get UTF-8 through the CRT, which in text mode writes CRLF line ends.
 */
static void write_text(FILE *stream, const wchar_t *text)
{
    HANDLE h = GetStdHandle(stream == stderr ? STD_ERROR_HANDLE : STD_OUTPUT_HANDLE);
    DWORD mode, written;
    int len = (int)wcslen(text);

    if (h != NULL && h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode)) {
        WriteConsoleW(h, text, (DWORD)len, &written, NULL);
        return;
    }

    int need = WideCharToMultiByte(CP_UTF8, 0, text, len, NULL, 0, NULL, NULL);
    char *utf8 = need > 0 ? malloc((size_t)need) : NULL;
    if (utf8 != NULL && WideCharToMultiByte(CP_UTF8, 0, text, len, utf8, need, NULL, NULL) == need)
        fwrite(utf8, 1, (size_t)need, stream);
    free(utf8);
    fflush(stream);
}

/* Only %ls (wide string) and %lu / %u conversions: they mean the same to every CRT. */
static void vprint(FILE *stream, const wchar_t *fmt, va_list ap)
{
    wchar_t small[512];
    wchar_t *buf = small;
    size_t cap = sizeof small / sizeof small[0];

    for (;;) {
        va_list aq;
        va_copy(aq, ap);
        int n = vswprintf(buf, cap, fmt, aq);
        va_end(aq);
        /* mingw returns the needed length on truncation, ISO C a negative value. */
        if (n >= 0 && (size_t)n < cap)
            break;
        if (buf != small)
            free(buf);
        cap *= 4;
        buf = cap <= 65536 * 4 ? malloc(cap * sizeof *buf) : NULL;
        if (buf == NULL)
            return;
    }
    write_text(stream, buf);
    if (buf != small)
        free(buf);
}

void vformat(wchar_t *buf, size_t cap, const wchar_t *fmt, va_list ap)
{
    int n = vswprintf(buf, cap, fmt, ap);

    if (n < 0 || (size_t)n >= cap)
        buf[cap - 1] = L'\0';
}

void out(const wchar_t *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(stdout, fmt, ap);
    va_end(ap);
}

void err_line(const wchar_t *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(stderr, fmt, ap);
    va_end(ap);
}

/* ---- Errors ---------------------------------------------------------------------------- */

struct advice {
    DWORD error;
    enum err_ctx ctx;
    const wchar_t *text;
};

/* mingw-w64's winerror.h lacks it. */
#ifndef ERROR_INVALID_IMAGE_HASH
#define ERROR_INVALID_IMAGE_HASH 577L
#endif
#define ADVICE_SIGNATURE                                                                     \
    L"Windows refused the driver's signature: test signing is off, or ignored because Secure " \
    L"Boot is on, or Windows rejects the signature itself; the CodeIntegrity log says which: " \
    PROGRAM L" doctor reads it and checks test signing and Secure Boot"
#define ADVICE_DRIVER_FILE                                                                   \
    L"driver file missing: build it with make, or pass the path to " SANCTUM_DRIVER_FILE
#define ADVICE_IMAGE_MISSING                                                                 \
    L"driver file missing: the service points to a file that is not there; run "              \
    PROGRAM L" uninstall, then " PROGRAM L" install PATH-TO-SYS"
#define ADVICE_NO_DEVICE                                                                     \
    L"the device does not exist: is the driver started? try: " PROGRAM L" start"
#define ADVICE_NO_UNLOAD   L"the driver cannot be unloaded (no unload routine); reboot to unload it"
#define ADVICE_DEVICE_ACL                                                                  \
    L"only administrators and LocalSystem may open the device: run from an elevated prompt"
#define ADVICE_ELEVATE     L"run from an elevated (administrator) prompt"

static const struct advice advice_table[] = {
    { ERROR_FILE_NOT_FOUND,             CTX_DEVICE, ADVICE_NO_DEVICE },
    { ERROR_PATH_NOT_FOUND,             CTX_DEVICE, ADVICE_NO_DEVICE },
    { ERROR_ACCESS_DENIED,              CTX_DEVICE, ADVICE_DEVICE_ACL },
    { ERROR_INVALID_FUNCTION,           CTX_DEVICE,
      L"the driver does not know this request: are driver and client the same version? "
      L"try: " PROGRAM L" version" },
    { ERROR_FILE_NOT_FOUND,             CTX_START, ADVICE_IMAGE_MISSING },
    { ERROR_PATH_NOT_FOUND,             CTX_START, ADVICE_IMAGE_MISSING },
    { ERROR_TIMEOUT,                    CTX_START,
      L"the driver did not report running within 10 s" },
    { ERROR_DLL_INIT_FAILED,            CTX_START,
      L"the driver did not load, or its DriverEntry failed: its DbgPrint lines say why" },
    { ERROR_TIMEOUT,                    CTX_STOP,
      L"the driver did not stop within 10 s: close programs that have "
      SANCTUM_USER_DEVICE_PATH L" open" },
    { ERROR_TIMEOUT,                    CTX_STOP_REFUSED, ADVICE_NO_UNLOAD },
    { ERROR_SERVICE_CANNOT_ACCEPT_CTRL, CTX_STOP_REFUSED, ADVICE_NO_UNLOAD },
    { ERROR_ACCESS_DENIED,              CTX_ANY, ADVICE_ELEVATE },
    { ERROR_PRIVILEGE_NOT_HELD,         CTX_ANY, ADVICE_ELEVATE },
    { ERROR_FILE_NOT_FOUND,             CTX_ANY, ADVICE_DRIVER_FILE },
    { ERROR_PATH_NOT_FOUND,             CTX_ANY, ADVICE_DRIVER_FILE },
    { ERROR_SERVICE_EXISTS,             CTX_ANY,
      L"the service is already installed; run " PROGRAM L" uninstall first" },
    { ERROR_DUPLICATE_SERVICE_NAME,     CTX_ANY,
      L"another service already uses the name or display name "
      SANCTUM_DISPLAY_NAME L"; remove it first" },
    { ERROR_SERVICE_DOES_NOT_EXIST,     CTX_ANY,
      L"the service is not installed; run " PROGRAM L" install first" },
    { ERROR_SERVICE_NOT_ACTIVE,         CTX_ANY, L"the service is not running" },
    { ERROR_SERVICE_ALREADY_RUNNING,    CTX_ANY, L"the service is already running" },
    { ERROR_SERVICE_DISABLED,           CTX_ANY,
      L"the service is disabled; enable it with: sc config " SANCTUM_SERVICE_NAME
      L" start= demand" },
    { ERROR_SERVICE_MARKED_FOR_DELETE,  CTX_ANY,
      L"the service is marked for deletion: close programs that hold it open "
      L"(services.msc, sc), or reboot" },
    { ERROR_SERVICE_CANNOT_ACCEPT_CTRL, CTX_ANY,
      L"the service is busy starting or stopping; try again" },
    { ERROR_INVALID_SERVICE_CONTROL,    CTX_ANY, ADVICE_NO_UNLOAD },
    { ERROR_INVALID_IMAGE_HASH,         CTX_ANY, ADVICE_SIGNATURE },
    { ERROR_DRIVER_BLOCKED,             CTX_ANY,
      L"Windows blocked the driver; the CodeIntegrity log says why (" PROGRAM L" doctor reads "
      L"it); memory integrity (HVCI) is one cause: turn off Core isolation > Memory integrity "
      L"in the test VM, then reboot" },
};

/* NTSTATUS values that arrive instead of their Win32 codes (a driver's own load status). */
static const struct { DWORD status, error; } status_errors[] = {
    { 0xC0000022UL, ERROR_ACCESS_DENIED },      /* STATUS_ACCESS_DENIED */
    { 0xC0000034UL, ERROR_FILE_NOT_FOUND },     /* STATUS_OBJECT_NAME_NOT_FOUND */
    { 0xC000003AUL, ERROR_PATH_NOT_FOUND },     /* STATUS_OBJECT_PATH_NOT_FOUND */
    { 0xC000036BUL, ERROR_DRIVER_BLOCKED },     /* STATUS_DRIVER_BLOCKED_CRITICAL */
    { 0xC000036CUL, ERROR_DRIVER_BLOCKED },     /* STATUS_DRIVER_BLOCKED */
    { 0xC0000428UL, ERROR_INVALID_IMAGE_HASH }, /* STATUS_INVALID_IMAGE_HASH */
};

/* Errors can arrive as NTSTATUS or HRESULT wrappers of the same Win32 code. */
static DWORD normalize_error(DWORD error)
{
    if ((error & 0xFFFF0000UL) == 0x80070000UL) /* HRESULT_FROM_WIN32 */
        return error & 0xFFFF;
    for (size_t i = 0; i < sizeof status_errors / sizeof status_errors[0]; i++)
        if ((error & ~0x10000000UL) == status_errors[i].status) /* NTSTATUS, HRESULT_FROM_NT */
            return status_errors[i].error;
    return error;
}

const wchar_t *find_advice(DWORD error, enum err_ctx ctx)
{
    size_t i;

    error = normalize_error(error);
    for (i = 0; i < sizeof advice_table / sizeof advice_table[0]; i++)
        if (advice_table[i].error == error && advice_table[i].ctx == ctx)
            return advice_table[i].text;
    for (i = 0; i < sizeof advice_table / sizeof advice_table[0]; i++)
        if (advice_table[i].error == error && advice_table[i].ctx == CTX_ANY)
            return advice_table[i].text;
    return NULL;
}

/* Windows' texts for errors this client explains, for systems without them (Wine 8). */
static const struct { DWORD error; const wchar_t *text; } fallback_texts[] = {
    { ERROR_INVALID_IMAGE_HASH, L"Windows cannot verify the digital signature for this file" },
    { ERROR_DRIVER_BLOCKED,     L"This driver has been blocked from loading" },
    { 0xC0000428UL,             L"The hash for the image cannot be found in the system catalogs" },
    { 0x80092004UL,             L"Cannot find object or property" }, /* CRYPT_E_NOT_FOUND */
    { 0x80093102UL,             L"ASN1 unexpected end of data" },    /* CRYPT_E_ASN1_EOD */
    { 0x8009310BUL,             L"ASN1 bad tag value met" },         /* CRYPT_E_ASN1_BADTAG */
};

/* The system's text for an error, on one line, without the trailing period. */
void error_text(DWORD error, wchar_t *buf, DWORD cap)
{
    const DWORD flags = FORMAT_MESSAGE_IGNORE_INSERTS | FORMAT_MESSAGE_MAX_WIDTH_MASK;
    DWORD n = FormatMessageW(flags | FORMAT_MESSAGE_FROM_SYSTEM, NULL, error, 0, buf, cap, NULL);
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");

    if (n == 0 && ntdll != NULL) /* NTSTATUS texts live in ntdll's message table */
        n = FormatMessageW(flags | FORMAT_MESSAGE_FROM_HMODULE, ntdll, error, 0, buf, cap, NULL);
    for (size_t i = 0; n == 0 && i < sizeof fallback_texts / sizeof fallback_texts[0]; i++)
        if (fallback_texts[i].error == error && wcslen(fallback_texts[i].text) < cap)
            n = (DWORD)wcslen(wcscpy(buf, fallback_texts[i].text));
    if (n == 0 || n >= cap) {
        wcscpy(buf, L"unknown error");
        return;
    }
    buf[n] = L'\0';
    for (DWORD i = 0; i < n; i++)
        if (buf[i] == L'\r' || buf[i] == L'\n' || buf[i] == L'\t')
            buf[i] = L' ';
    while (n > 0 && (buf[n - 1] == L' ' || buf[n - 1] == L'.'))
        buf[--n] = L'\0';
    if (n == 0)
        wcscpy(buf, L"unknown error");
}

void describe_error(DWORD error, wchar_t *buf, size_t cap)
{
    wchar_t text[512];

    error_text(error, text, sizeof text / sizeof text[0]);
    /* Small codes read best in decimal; NTSTATUS and HRESULT values in hex. */
    if (error <= 0xFFFF)
        swprintf(buf, cap, L"%ls (error %lu)", text, error);
    else
        swprintf(buf, cap, L"%ls (error 0x%08lX)", text, error);
}

static void print_failure(const wchar_t *op, DWORD error, const wchar_t *advice)
{
    wchar_t text[600];

    describe_error(error, text, sizeof text / sizeof text[0]);
    err_line(PROGRAM L": %ls: %ls%ls%ls\n", op, text, advice ? L"; " : L"",
             advice ? advice : L"");
}

/* Prints the one failure line with the advice the table has for the error; returns 1. */
int fail(const wchar_t *op, DWORD error, enum err_ctx ctx)
{
    print_failure(op, error, find_advice(error, ctx));
    return EXIT_FAILED;
}

/* The same with advice that depends on what happened (sizes, versions). */
int fail_because(const wchar_t *op, DWORD error, const wchar_t *fmt, ...)
{
    wchar_t advice[512];
    va_list ap;

    va_start(ap, fmt);
    vformat(advice, sizeof advice / sizeof advice[0], fmt, ap);
    va_end(ap);
    print_failure(op, error, advice);
    return EXIT_FAILED;
}

/* A device open failure names the command and the step: "version: open \\.\SanctumEDR". */
static int fail_open(const wchar_t *command, DWORD error)
{
    wchar_t op[64];

    swprintf(op, sizeof op / sizeof op[0], L"%ls: open %ls", command, SANCTUM_USER_DEVICE_PATH);
    return fail(op, error, CTX_DEVICE);
}

/* An answer of the wrong size (ERROR_INVALID_DATA from device_get_sized). */
static int fail_layout(const wchar_t *op, DWORD returned, ULONG size_field, size_t expected)
{
    return fail_because(op, ERROR_INVALID_DATA,
                        L"the driver answered %lu bytes with Size %lu, this client expects %lu: "
                        L"driver and client are from different builds",
                        returned, size_field, (unsigned long)expected);
}

/* EXIT_OK when what came back is what was sent (echo, message queues), else the failure line. */
static int check_same(const wchar_t *op, const char *sent, DWORD sent_len, const char *back,
                      DWORD back_len)
{
    DWORD i = 0;

    if (back_len != sent_len)
        return fail_because(op, ERROR_INVALID_DATA, L"%lu bytes were sent, %lu came back",
                            sent_len, back_len);
    while (i < sent_len && sent[i] == back[i])
        i++;
    if (i == sent_len)
        return EXIT_OK;
    return fail_because(op, ERROR_INVALID_DATA,
                        L"the bytes that came back differ from those sent at offset %lu", i);
}

/* ---- Device access ----------------------------------------------------------------------- */

DWORD device_open(DWORD access, HANDLE *device)
{
    *device = CreateFileW(SANCTUM_USER_DEVICE_PATH, access, FILE_SHARE_READ | FILE_SHARE_WRITE,
                          NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    return *device == INVALID_HANDLE_VALUE ? GetLastError() : ERROR_SUCCESS;
}

void device_close(HANDLE device)
{
    if (device != INVALID_HANDLE_VALUE)
        CloseHandle(device);
}

static DWORD device_ioctl(HANDLE device, DWORD code, const void *in, DWORD in_len, void *out_buf,
                          DWORD out_len, DWORD *returned)
{
    *returned = 0;
    if (!DeviceIoControl(device, code, (void *)in, in_len, out_buf, out_len, returned, NULL))
        return GetLastError();
    return ERROR_SUCCESS;
}

/* One message of the handle's queue: a write queues `len` bytes, a read takes the oldest. */
static DWORD device_write(HANDLE device, const void *data, DWORD len, DWORD *written)
{
    *written = 0;
    if (!WriteFile(device, data, len, written, NULL))
        return GetLastError();
    return ERROR_SUCCESS;
}

static DWORD device_read(HANDLE device, void *buf, DWORD cap, DWORD *got)
{
    *got = 0;
    if (!ReadFile(device, buf, cap, got, NULL))
        return GetLastError();
    return ERROR_SUCCESS;
}

/*
 * A fixed-size answer whose first ULONG is its Size (SANCTUM_VERSION, SANCTUM_STATS):
 * ERROR_INVALID_DATA unless both the byte count and Size are the size this client knows.
 */
static DWORD device_get_sized(HANDLE device, DWORD code, void *answer, DWORD size,
                              DWORD *returned)
{
    ULONG claimed;

    ZeroMemory(answer, size);
    DWORD error = device_ioctl(device, code, NULL, 0, answer, size, returned);
    if (error != ERROR_SUCCESS)
        return error;
    memcpy(&claimed, answer, sizeof claimed);
    if (*returned != size || claimed != size)
        return ERROR_INVALID_DATA;
    return ERROR_SUCCESS;
}

DWORD device_get_version(HANDLE device, SANCTUM_VERSION *version, DWORD *returned)
{
    return device_get_sized(device, (DWORD)IOCTL_SANCTUM_GET_VERSION, version, sizeof *version,
                            returned);
}

/* ---- Service control --------------------------------------------------------------------- */

DWORD service_connect(DWORD scm_access, DWORD svc_access, struct service *s)
{
    s->svc = NULL;
    s->scm = OpenSCManagerW(NULL, NULL, scm_access);
    if (s->scm == NULL)
        return GetLastError();
    if (svc_access != 0) {
        s->svc = OpenServiceW(s->scm, SANCTUM_SERVICE_NAME, svc_access);
        if (s->svc == NULL) {
            DWORD error = GetLastError();
            CloseServiceHandle(s->scm);
            s->scm = NULL;
            return error;
        }
    }
    return ERROR_SUCCESS;
}

void service_disconnect(struct service *s)
{
    if (s->svc != NULL)
        CloseServiceHandle(s->svc);
    if (s->scm != NULL)
        CloseServiceHandle(s->scm);
    s->svc = s->scm = NULL;
}

DWORD service_query(SC_HANDLE svc, SERVICE_STATUS_PROCESS *status)
{
    DWORD needed;

    if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)status, sizeof *status,
                              &needed))
        return GetLastError();
    return ERROR_SUCCESS;
}

/* Polls until the service reaches `want`; ERROR_TIMEOUT after WAIT_TIMEOUT_MS. */
static DWORD service_wait(SC_HANDLE svc, DWORD want)
{
    SERVICE_STATUS_PROCESS status;
    DWORD start = GetTickCount();

    for (;;) {
        DWORD error = service_query(svc, &status);
        if (error != ERROR_SUCCESS)
            return error;
        if (status.dwCurrentState == want)
            return ERROR_SUCCESS;
        if (want == SERVICE_RUNNING && status.dwCurrentState == SERVICE_STOPPED) {
            /* It gave up while starting: report why, if it said. */
            if (status.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
                return status.dwServiceSpecificExitCode;
            return status.dwWin32ExitCode != ERROR_SUCCESS ? status.dwWin32ExitCode
                                                           : ERROR_SERVICE_NOT_ACTIVE;
        }
        if (GetTickCount() - start >= WAIT_TIMEOUT_MS)
            return ERROR_TIMEOUT;
        Sleep(WAIT_POLL_MS);
    }
}

/*
 * Stops the service and waits for it. *ctx tells the advice apart: open handles keep a driver in
 * STOP_PENDING, while one without an unload routine stays RUNNING (Windows answers 1052; Wine
 * ignores the first STOP, so the wait times out, and answers 1061 to the next).
 */
static DWORD service_stop(SC_HANDLE svc, enum err_ctx *ctx)
{
    SERVICE_STATUS status;
    SERVICE_STATUS_PROCESS now;
    DWORD error = ERROR_SUCCESS;

    *ctx = CTX_STOP;
    if (!ControlService(svc, SERVICE_CONTROL_STOP, &status)) {
        error = GetLastError();
        /* Someone else already asked it to stop: just wait with them. */
        if (error == ERROR_SERVICE_CANNOT_ACCEPT_CTRL && service_query(svc, &now) == ERROR_SUCCESS &&
            now.dwCurrentState == SERVICE_STOP_PENDING)
            error = ERROR_SUCCESS;
        else if (error != ERROR_SERVICE_CANNOT_ACCEPT_CTRL)
            return error;
    }
    if (error == ERROR_SUCCESS)
        error = service_wait(svc, SERVICE_STOPPED);
    if (error != ERROR_SUCCESS && service_query(svc, &now) == ERROR_SUCCESS &&
        now.dwCurrentState == SERVICE_RUNNING)
        *ctx = CTX_STOP_REFUSED;
    return error;
}

const wchar_t *state_name(DWORD state)
{
    switch (state) {
    case SERVICE_STOPPED:          return L"stopped";
    case SERVICE_START_PENDING:    return L"start pending";
    case SERVICE_STOP_PENDING:     return L"stop pending";
    case SERVICE_RUNNING:          return L"running";
    case SERVICE_CONTINUE_PENDING: return L"continue pending";
    case SERVICE_PAUSE_PENDING:    return L"pause pending";
    case SERVICE_PAUSED:           return L"paused";
    default:                       return L"unknown state";
    }
}

QUERY_SERVICE_CONFIGW *service_config(SC_HANDLE svc)
{
    QUERY_SERVICE_CONFIGW *config;
    DWORD need = 0;

    if (QueryServiceConfigW(svc, NULL, 0, &need) || GetLastError() != ERROR_INSUFFICIENT_BUFFER)
        return NULL;
    config = malloc(need);
    if (config == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    if (!QueryServiceConfigW(svc, config, need, &need)) {
        DWORD error = GetLastError();
        free(config);
        SetLastError(error);
        return NULL;
    }
    return config;
}

/* The image path as the SCM stored it, or NULL; the caller frees it. */
static wchar_t *service_image_path(SC_HANDLE svc)
{
    QUERY_SERVICE_CONFIGW *config = service_config(svc);
    wchar_t *path = NULL;

    if (config != NULL && config->lpBinaryPathName != NULL) {
        size_t len = wcslen(config->lpBinaryPathName);
        path = malloc((len + 1) * sizeof *path);
        if (path != NULL)
            wcscpy(path, config->lpBinaryPathName);
    }
    free(config);
    return path;
}

/* ---- Paths -------------------------------------------------------------------------------- */

/*
 * The file an ImagePath names, in the forms the SCM stores: C:\x, \??\C:\x, \SystemRoot\x and
 * System32\drivers\x (relative to the Windows directory). Other NT paths cannot be checked here.
 */
int image_file_missing(const wchar_t *image)
{
    wchar_t root[MAX_PATH] = L"";
    const wchar_t *rest = image;
    int under_windows = 0, missing = 0;

    if (wcsncmp(image, L"\\??\\", 4) == 0)
        rest = image + 4;
    else if (_wcsnicmp(image, L"\\DosDevices\\", 12) == 0)
        rest = image + 12;
    else if (_wcsnicmp(image, L"\\SystemRoot\\", 12) == 0)
        rest = image + 12, under_windows = 1;
    else if (image[0] == L'\\' && image[1] != L'\\')
        return 0; /* \Device\... and the like */
    else if (image[0] != L'\\' && !(image[0] != L'\0' && image[1] == L':'))
        under_windows = 1; /* relative */
    if (under_windows) {
        UINT n = GetWindowsDirectoryW(root, MAX_PATH);
        if (n == 0 || n >= MAX_PATH)
            return 0;
    }

    size_t len = wcslen(root) + 1 + wcslen(rest) + 1;
    wchar_t *path = malloc(len * sizeof *path);
    if (path == NULL)
        return 0;
    swprintf(path, len, L"%ls%ls%ls", root, under_windows ? L"\\" : L"", rest);
    if (GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES) {
        DWORD error = GetLastError();
        missing = error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND;
    }
    free(path);
    return missing;
}

/* Absolute form of `path` in a buffer the caller frees. */
DWORD full_path(const wchar_t *path, wchar_t **result)
{
    DWORD need = GetFullPathNameW(path, 0, NULL, NULL);

    *result = NULL;
    if (need == 0)
        return GetLastError();
    *result = malloc(need * sizeof **result);
    if (*result == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;
    DWORD n = GetFullPathNameW(path, need, *result, NULL);
    if (n == 0 || n >= need) {
        DWORD error = n == 0 ? GetLastError() : ERROR_INSUFFICIENT_BUFFER;
        free(*result);
        *result = NULL;
        return error;
    }
    return ERROR_SUCCESS;
}

/* `name` in the directory of the running client, in a buffer the caller frees. */
DWORD file_next_to_exe(const wchar_t *name, wchar_t **result)
{
    const size_t name_len = wcslen(name);
    DWORD cap = MAX_PATH;

    *result = NULL;
    for (;;) {
        wchar_t *buf = malloc((cap + name_len + 1) * sizeof *buf);
        if (buf == NULL)
            return ERROR_NOT_ENOUGH_MEMORY;
        DWORD n = GetModuleFileNameW(NULL, buf, cap);
        if (n == 0) {
            DWORD error = GetLastError();
            free(buf);
            return error;
        }
        if (n < cap) {
            wchar_t *slash = wcsrchr(buf, L'\\');
            wchar_t *dir_end = slash != NULL ? slash + 1 : buf;
            wcscpy(dir_end, name);
            *result = buf;
            return ERROR_SUCCESS;
        }
        free(buf); /* truncated: try a larger buffer */
        if (cap >= 32768)
            return ERROR_INSUFFICIENT_BUFFER;
        cap *= 2;
    }
}

/* ---- Arguments and text ------------------------------------------------------------------ */

/* Bytes of `text` in UTF-8 (0 for an empty text). */
static DWORD utf8_length(const wchar_t *text)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, text, (int)wcslen(text), NULL, 0, NULL, NULL);
    return n > 0 ? (DWORD)n : 0;
}

/* `text` in UTF-8, without a terminator, into buf; the byte count, 0 if it does not fit. */
static DWORD to_utf8(const wchar_t *text, char *buf, DWORD cap)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, text, (int)wcslen(text), buf, (int)cap, NULL, NULL);
    return n > 0 ? (DWORD)n : 0;
}

/* The protocol carries 1..max bytes: anything else is a usage error, not a driver failure. */
static int check_text_arg(const wchar_t *command, const wchar_t *text, DWORD max)
{
    DWORD len = utf8_length(text);

    if (len >= 1 && len <= max)
        return EXIT_OK;
    return command_usage_error(command, L"TEXT must be 1 to %lu bytes of UTF-8, got %lu",
                               (unsigned long)max, len);
}

/* Prints bytes that came from the driver as one line of text. */
static void out_utf8_line(const char *bytes, DWORD len)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, bytes, (int)len, NULL, 0);
    wchar_t *text = n > 0 ? malloc(((size_t)n + 1) * sizeof *text) : NULL;

    if (text != NULL && MultiByteToWideChar(CP_UTF8, 0, bytes, (int)len, text, n) == n) {
        text[n] = L'\0';
        out(L"%ls\n", text);
    }
    free(text);
}

/* Decimal text of a 64-bit value into buf[21]: %llu and %I64u differ between CRTs. */
static const wchar_t *u64_text(ULONG64 value, wchar_t *buf)
{
    wchar_t *p = buf + 20;

    *p = L'\0';
    do {
        *--p = (wchar_t)(L'0' + value % 10);
        value /= 10;
    } while (value != 0);
    return p;
}

/* At least one digit in `base` (10 or 16) from *s on, the value at most `limit`; *s moves on. */
static int parse_digits(const wchar_t **s, unsigned base, ULONG64 limit, ULONG64 *value)
{
    const wchar_t *p = *s;

    for (*value = 0;; p++) {
        unsigned digit;
        if (*p >= L'0' && *p <= L'9')
            digit = (unsigned)(*p - L'0');
        else if (base == 16 && *p >= L'a' && *p <= L'f')
            digit = (unsigned)(*p - L'a' + 10);
        else if (base == 16 && *p >= L'A' && *p <= L'F')
            digit = (unsigned)(*p - L'A' + 10);
        else
            break;
        if (*value > (limit - digit) / base)
            return 0;
        *value = *value * base + digit;
    }
    if (p == *s)
        return 0;
    *s = p;
    return 1;
}

/* A byte count 1..SANCTUM_MAX_FILL: digits, then optionally K (KiB) or M (MiB). */
static int parse_fill_size(const wchar_t *s, ULONG *size)
{
    ULONG64 value, unit = 1;

    if (!parse_digits(&s, 10, SANCTUM_MAX_FILL, &value))
        return 0;
    if (*s == L'K' || *s == L'k')
        unit = 1024, s++;
    else if (*s == L'M' || *s == L'm')
        unit = 1024 * 1024, s++;
    if (*s != L'\0' || value == 0 || value * unit > SANCTUM_MAX_FILL)
        return 0;
    *size = (ULONG)(value * unit);
    return 1;
}

/* A ULONG in decimal or with a 0x prefix in hexadecimal. */
static int parse_ulong(const wchar_t *s, ULONG *result)
{
    unsigned base = 10;
    ULONG64 value;

    if (s[0] == L'0' && (s[1] == L'x' || s[1] == L'X'))
        base = 16, s += 2;
    if (!parse_digits(&s, base, 0xFFFFFFFFUL, &value) || *s != L'\0')
        return 0;
    *result = (ULONG)value;
    return 1;
}

/* ---- Commands ---------------------------------------------------------------------------- */

static int cmd_install(int argc, wchar_t **argv)
{
    struct service s;
    wchar_t *path;
    DWORD error = argc > 0 ? full_path(argv[0], &path)
                           : file_next_to_exe(SANCTUM_DRIVER_FILE, &path);

    if (error != ERROR_SUCCESS)
        return fail(L"install", error, CTX_SERVICE);

    DWORD attributes = GetFileAttributesW(path);
    if (attributes == INVALID_FILE_ATTRIBUTES)
        error = GetLastError();
    else if (attributes & FILE_ATTRIBUTE_DIRECTORY)
        error = ERROR_FILE_NOT_FOUND; /* a directory is no driver file */
    if (error == ERROR_SUCCESS)
        error = service_connect(SC_MANAGER_CREATE_SERVICE, 0, &s);
    if (error == ERROR_SUCCESS) {
        SC_HANDLE svc = CreateServiceW(s.scm, SANCTUM_SERVICE_NAME, SANCTUM_DISPLAY_NAME,
                                       SERVICE_QUERY_STATUS, SERVICE_KERNEL_DRIVER,
                                       SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, path, NULL,
                                       NULL, NULL, NULL, NULL);
        if (svc == NULL)
            error = GetLastError();
        else
            CloseServiceHandle(svc);
        service_disconnect(&s);
    }

    int rc = EXIT_OK;
    if (error != ERROR_SUCCESS)
        rc = fail(L"install", error, CTX_SERVICE);
    else
        out(L"installed service %ls (%ls)\n", SANCTUM_SERVICE_NAME, path);
    free(path);
    return rc;
}

static int cmd_uninstall(int argc, wchar_t **argv)
{
    SERVICE_STATUS_PROCESS status;
    struct service s;
    enum err_ctx ctx = CTX_SERVICE;
    int stopped = 0;

    (void)argc;
    (void)argv;
    DWORD error = service_connect(SC_MANAGER_CONNECT,
                                  SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, &s);
    if (error != ERROR_SUCCESS)
        return fail(L"uninstall", error, CTX_SERVICE);

    error = service_query(s.svc, &status);
    if (error == ERROR_SUCCESS && status.dwCurrentState != SERVICE_STOPPED) {
        error = service_stop(s.svc, &ctx);
        stopped = error == ERROR_SUCCESS;
    }
    if (error == ERROR_SUCCESS) {
        ctx = CTX_SERVICE;
        if (!DeleteService(s.svc))
            error = GetLastError();
    }
    service_disconnect(&s);

    if (stopped)
        out(L"stopped\n");
    if (error != ERROR_SUCCESS)
        return fail(L"uninstall", error, ctx);
    out(L"uninstalled\n");
    return EXIT_OK;
}

static int cmd_start(int argc, wchar_t **argv)
{
    struct service s;
    wchar_t *image = NULL;

    (void)argc;
    (void)argv;
    DWORD error = service_connect(SC_MANAGER_CONNECT,
                                  SERVICE_START | SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG, &s);
    if (error != ERROR_SUCCESS)
        return fail(L"start", error, CTX_SERVICE);

    if (!StartServiceW(s.svc, 0, NULL))
        error = GetLastError();
    else
        error = service_wait(s.svc, SERVICE_RUNNING);
    /*
     * A failed load with the driver file gone names the file, whatever the code: Windows
     * answers 2 or 3, Wine 1114 (ERROR_DLL_INIT_FAILED).
     */
    if (error != ERROR_SUCCESS && error != ERROR_SERVICE_ALREADY_RUNNING &&
        error != ERROR_SERVICE_DISABLED && error != ERROR_ACCESS_DENIED &&
        error != ERROR_SERVICE_MARKED_FOR_DELETE) {
        image = service_image_path(s.svc);
        if (image != NULL && !image_file_missing(image)) {
            free(image);
            image = NULL;
        }
    }
    service_disconnect(&s);

    if (error == ERROR_SUCCESS) {
        out(L"started\n");
        return EXIT_OK;
    }
    int rc = image == NULL ? fail(L"start", error, CTX_START)
                           : fail_because(L"start", error,
                                          L"driver file missing: the service points to %ls; run "
                                          PROGRAM L" uninstall, then " PROGRAM L" install "
                                          L"PATH-TO-SYS",
                                          image);
    free(image);
    return rc;
}

static int cmd_stop(int argc, wchar_t **argv)
{
    struct service s;
    enum err_ctx ctx;

    (void)argc;
    (void)argv;
    DWORD error = service_connect(SC_MANAGER_CONNECT, SERVICE_STOP | SERVICE_QUERY_STATUS, &s);
    if (error != ERROR_SUCCESS)
        return fail(L"stop", error, CTX_SERVICE);

    error = service_stop(s.svc, &ctx);
    service_disconnect(&s);

    if (error != ERROR_SUCCESS)
        return fail(L"stop", error, ctx);
    out(L"stopped\n");
    return EXIT_OK;
}

static void print_device_status(void)
{
    SANCTUM_VERSION v;
    wchar_t text[512];
    HANDLE device;
    DWORD returned;

    DWORD error = device_open(GENERIC_READ, &device);
    if (error != ERROR_SUCCESS) {
        error_text(error, text, sizeof text / sizeof text[0]);
        out(L"device: not reachable: %ls (error %lu)\n", text, error);
        return;
    }
    error = device_get_version(device, &v, &returned);
    device_close(device);
    if (error != ERROR_SUCCESS) {
        error_text(error, text, sizeof text / sizeof text[0]);
        out(L"device: bad answer to GET_VERSION: %ls (error %lu)\n", text, error);
        return;
    }
    out(L"device: answers: driver %lu.%lu.%lu protocol %lu (%ls)\n", v.Major, v.Minor, v.Patch,
        v.Protocol,
        v.Protocol == SANCTUM_PROTOCOL_VERSION ? L"protocols match" : L"PROTOCOL MISMATCH");
}

static int cmd_status(int argc, wchar_t **argv)
{
    SERVICE_STATUS_PROCESS status;
    struct service s;

    (void)argc;
    (void)argv;
    DWORD error = service_connect(SC_MANAGER_CONNECT, SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG,
                                  &s);
    if (error == ERROR_SERVICE_DOES_NOT_EXIST)
        out(L"service: not installed\n");
    if (error != ERROR_SUCCESS)
        return fail(L"status", error, CTX_SERVICE);

    error = service_query(s.svc, &status);
    wchar_t *image = error == ERROR_SUCCESS ? service_image_path(s.svc) : NULL;
    service_disconnect(&s);
    if (error != ERROR_SUCCESS)
        return fail(L"status", error, CTX_SERVICE);

    out(L"service: %ls\n", state_name(status.dwCurrentState));
    if (image != NULL)
        out(L"image: %ls\n", image);
    free(image);
    print_device_status();
    return EXIT_OK;
}

static int cmd_version(int argc, wchar_t **argv)
{
    SANCTUM_VERSION v;
    HANDLE device;
    DWORD returned;

    (void)argc;
    (void)argv;
    out(L"client %ls protocol %lu\n", CLIENT_VERSION, (unsigned long)SANCTUM_PROTOCOL_VERSION);

    DWORD error = device_open(GENERIC_READ, &device);
    if (error != ERROR_SUCCESS)
        return fail_open(L"version", error);
    error = device_get_version(device, &v, &returned);
    device_close(device);

    if (error == ERROR_INVALID_DATA)
        return fail_layout(L"version", returned, v.Size, sizeof v);
    if (error != ERROR_SUCCESS)
        return fail(L"version", error, CTX_DEVICE);

    out(L"driver %lu.%lu.%lu protocol %lu\n", v.Major, v.Minor, v.Patch, v.Protocol);
    if (v.Protocol != SANCTUM_PROTOCOL_VERSION) {
        out(L"PROTOCOL MISMATCH\n");
        return fail_because(L"version", ERROR_REVISION_MISMATCH,
                            L"PROTOCOL MISMATCH: the driver speaks protocol %lu, this client "
                            L"protocol %lu: install a driver and client from the same build",
                            v.Protocol, (unsigned long)SANCTUM_PROTOCOL_VERSION);
    }
    out(L"protocols match\n");
    return EXIT_OK;
}

/* IOCTL_SANCTUM_ECHO; the output buffer is as large as the input: the contract's minimum. */
static int echo_and_check(HANDLE device, const char *sent, char *back, DWORD len)
{
    DWORD returned;

    DWORD error = device_ioctl(device, (DWORD)IOCTL_SANCTUM_ECHO, sent, len, back, len,
                               &returned);
    if (error != ERROR_SUCCESS)
        return fail(L"echo", error, CTX_DEVICE);
    int rc = check_same(L"echo", sent, len, back, returned);
    if (rc == EXIT_OK)
        out_utf8_line(back, returned);
    return rc;
}

static int cmd_echo(int argc, wchar_t **argv)
{
    HANDLE device;

    (void)argc;
    int rc = check_text_arg(L"echo", argv[0], SANCTUM_MAX_ECHO);
    if (rc != EXIT_OK)
        return rc;
    DWORD len = utf8_length(argv[0]);
    char *sent = malloc(2 * (size_t)len);
    if (sent == NULL)
        return fail(L"echo", ERROR_NOT_ENOUGH_MEMORY, CTX_ANY);
    to_utf8(argv[0], sent, len);

    /* ECHO needs FILE_READ_DATA | FILE_WRITE_DATA on the handle. */
    DWORD error = device_open(GENERIC_READ | GENERIC_WRITE, &device);
    rc = error != ERROR_SUCCESS ? fail_open(L"echo", error)
                                : echo_and_check(device, sent, sent + len, len);
    device_close(device);
    free(sent);
    return rc;
}

/* Every field of SANCTUM_STATS: its label in the table, and its name as the JSON key. */
#define WIDE_(s) L##s
#define WIDE(s)  WIDE_(s)
#define STAT_FIELD(label, field) \
    { label, WIDE(#field), offsetof(SANCTUM_STATS, field), sizeof(((SANCTUM_STATS *)0)->field) }

static const struct stat_field {
    const wchar_t *label;
    const wchar_t *key;
    size_t offset;
    size_t size;
} stat_fields[] = {
    STAT_FIELD(L"size", Size),
    STAT_FIELD(L"open handles", OpenHandles),
    STAT_FIELD(L"creates", Creates),
    STAT_FIELD(L"closes", Closes),
    STAT_FIELD(L"reads", Reads),
    STAT_FIELD(L"writes", Writes),
    STAT_FIELD(L"ioctls", Ioctls),
    STAT_FIELD(L"failures", Failures),
    STAT_FIELD(L"bytes in", BytesIn),
    STAT_FIELD(L"bytes out", BytesOut),
    STAT_FIELD(L"pool allocations", PoolAllocations),
    STAT_FIELD(L"pool bytes", PoolBytes),
    STAT_FIELD(L"events queued", EventsQueued),
    STAT_FIELD(L"events dropped", EventsDropped),
    STAT_FIELD(L"subscriptions", Subscriptions),
    STAT_FIELD(L"pending requests", PendingRequests),
};

/* A field added to SANCTUM_STATS after PendingRequests must be added to stat_fields too. */
_Static_assert(offsetof(SANCTUM_STATS, PendingRequests) + sizeof(ULONG) == sizeof(SANCTUM_STATS),
               "stat_fields must list every field of SANCTUM_STATS");

#define STAT_FIELD_COUNT (sizeof stat_fields / sizeof stat_fields[0])

static ULONG64 stat_value(const SANCTUM_STATS *stats, const struct stat_field *f)
{
    const unsigned char *p = (const unsigned char *)stats + f->offset;
    ULONG64 wide;
    ULONG narrow;

    if (f->size == sizeof wide) {
        memcpy(&wide, p, sizeof wide);
        return wide;
    }
    memcpy(&narrow, p, sizeof narrow);
    return narrow;
}

static void print_stats_table(const SANCTUM_STATS *stats)
{
    wchar_t number[21];

    for (size_t i = 0; i < STAT_FIELD_COUNT; i++)
        out(L"%-18ls%ls\n", stat_fields[i].label,
            u64_text(stat_value(stats, &stat_fields[i]), number));
}

/* One JSON object on one line, the struct's field names as keys. */
static void print_stats_json(const SANCTUM_STATS *stats)
{
    wchar_t line[1024], number[21];
    size_t used = 0;

    /* 16 keys of at most 17 characters and values of at most 20 digits fit with room to spare. */
    for (size_t i = 0; i < STAT_FIELD_COUNT; i++) {
        int n = swprintf(line + used, sizeof line / sizeof line[0] - used, L"%ls\"%ls\":%ls",
                         i == 0 ? L"{" : L",", stat_fields[i].key,
                         u64_text(stat_value(stats, &stat_fields[i]), number));
        if (n < 0)
            return;
        used += (size_t)n;
    }
    out(L"%ls}\n", line);
}

static int cmd_stats(int argc, wchar_t **argv)
{
    SANCTUM_STATS stats;
    HANDLE device;
    DWORD returned;

    if (argc > 0 && wcscmp(argv[0], L"--json") != 0)
        return command_usage_error(L"stats", L"unknown option '%.64ls'", argv[0]);

    DWORD error = device_open(GENERIC_READ, &device);
    if (error != ERROR_SUCCESS)
        return fail_open(L"stats", error);
    error = device_get_sized(device, (DWORD)IOCTL_SANCTUM_GET_STATS, &stats, sizeof stats,
                             &returned);
    device_close(device);

    if (error == ERROR_INVALID_DATA)
        return fail_layout(L"stats", returned, stats.Size, sizeof stats);
    if (error != ERROR_SUCCESS)
        return fail(L"stats", error, CTX_DEVICE);
    if (argc > 0)
        print_stats_json(&stats);
    else
        print_stats_table(&stats);
    return EXIT_OK;
}

/* Throughput in MiB/s, to a tenth, as text in buf[32]. */
static const wchar_t *rate_text(ULONG bytes, LONGLONG ticks, LONGLONG frequency, wchar_t *buf)
{
    wchar_t whole[21];
    double mib_per_s = (double)bytes * (double)frequency / (double)(ticks > 0 ? ticks : 1) /
                       (1024.0 * 1024.0);
    ULONG64 tenths = (ULONG64)(mib_per_s * 10.0 + 0.5);

    swprintf(buf, 32, L"%ls.%u", u64_text(tenths / 10, whole), (unsigned)(tenths % 10));
    return buf;
}

/* IOCTL_SANCTUM_FILL into buf, timed; then every byte checked against the pattern. */
static int fill_and_check(HANDLE device, unsigned char *buf, ULONG size, ULONG seed)
{
    LARGE_INTEGER frequency, start, end;
    wchar_t rate[32];
    DWORD returned;
    ULONG i;

    QueryPerformanceFrequency(&frequency);
    QueryPerformanceCounter(&start);
    DWORD error = device_ioctl(device, (DWORD)IOCTL_SANCTUM_FILL, &seed, sizeof seed, buf, size,
                               &returned);
    QueryPerformanceCounter(&end);

    if (error != ERROR_SUCCESS)
        return fail(L"fill", error, CTX_DEVICE);
    if (returned != size)
        return fail_because(L"fill", ERROR_INVALID_DATA,
                            L"%lu bytes were asked for, the driver returned %lu", size, returned);
    for (i = 0; i < size && buf[i] == (unsigned char)(seed + i); i++)
        ;
    if (i < size)
        return fail_because(L"fill", ERROR_INVALID_DATA,
                            L"pattern error at offset %lu: byte 0x%02X, expected 0x%02X "
                            L"(seed 0x%08lX)",
                            i, (unsigned)buf[i], (unsigned)(unsigned char)(seed + i), seed);
    out(L"filled %lu bytes, pattern ok, %ls MiB/s\n", size,
        rate_text(size, end.QuadPart - start.QuadPart, frequency.QuadPart, rate));
    return EXIT_OK;
}

static int cmd_fill(int argc, wchar_t **argv)
{
    ULONG size, seed = 0;
    HANDLE device;

    if (!parse_fill_size(argv[0], &size))
        return command_usage_error(L"fill",
                                   L"SIZE must be 1 to %lu bytes, optionally with K (KiB) or M "
                                   L"(MiB), e.g. 4K or 16M; got '%.64ls'",
                                   (unsigned long)SANCTUM_MAX_FILL, argv[0]);
    if (argc > 1 && !parse_ulong(argv[1], &seed))
        return command_usage_error(L"fill",
                                   L"SEED must be a decimal or 0x-prefixed hexadecimal number "
                                   L"up to 0xFFFFFFFF; got '%.64ls'",
                                   argv[1]);

    /* Page-aligned and committed up front: the driver writes it through an MDL. */
    unsigned char *buf = VirtualAlloc(NULL, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if (buf == NULL)
        return fail(L"fill: allocate the buffer", GetLastError(), CTX_ANY);
    DWORD error = device_open(GENERIC_READ, &device);
    int rc = error != ERROR_SUCCESS ? fail_open(L"fill", error)
                                    : fill_and_check(device, buf, size, seed);
    device_close(device);
    VirtualFree(buf, 0, MEM_RELEASE);
    return rc;
}

/* Queues each text as one message, in order; buf holds SANCTUM_MAX_MESSAGE bytes. */
static int write_messages(HANDLE device, int count, wchar_t **texts, char *buf)
{
    wchar_t op[64];
    DWORD written;

    for (int i = 0; i < count; i++) {
        DWORD len = to_utf8(texts[i], buf, SANCTUM_MAX_MESSAGE);
        DWORD error = device_write(device, buf, len, &written);
        swprintf(op, sizeof op / sizeof op[0], L"roundtrip: write message %u", (unsigned)i + 1);
        if (error == ERROR_BUSY)
            return fail_because(op, error, L"at most %lu messages can be queued on one handle",
                                (unsigned long)SANCTUM_MAX_QUEUED);
        if (error != ERROR_SUCCESS)
            return fail(op, error, CTX_DEVICE);
        if (written != len)
            return fail_because(op, ERROR_INVALID_DATA, L"the driver took %lu of %lu bytes",
                                written, len);
    }
    return EXIT_OK;
}

/* Reads until the queue is empty: the messages written, whole and in order, and no more. */
static int read_messages(HANDLE device, int count, wchar_t **texts, char *expected, char *got)
{
    wchar_t op[64];
    DWORD n;
    int i;

    for (i = 0; i <= count; i++) {
        swprintf(op, sizeof op / sizeof op[0], L"roundtrip: read message %u", (unsigned)i + 1);
        DWORD error = device_read(device, got, SANCTUM_MAX_MESSAGE, &n);
        if (error != ERROR_SUCCESS)
            return fail(op, error, CTX_DEVICE);
        if (n == 0)
            break;
        if (i == count)
            return fail_because(op, ERROR_INVALID_DATA,
                                L"%u messages were written, more came back", (unsigned)count);
        DWORD len = to_utf8(texts[i], expected, SANCTUM_MAX_MESSAGE);
        int rc = check_same(op, expected, len, got, n);
        if (rc != EXIT_OK)
            return rc;
        out_utf8_line(got, n);
    }
    if (i != count)
        return fail_because(op, ERROR_INVALID_DATA, L"%u messages were written, %u came back",
                            (unsigned)count, (unsigned)i);
    return EXIT_OK;
}

static int cmd_roundtrip(int argc, wchar_t **argv)
{
    HANDLE device;

    for (int i = 0; i < argc; i++) {
        int rc = check_text_arg(L"roundtrip", argv[i], SANCTUM_MAX_MESSAGE);
        if (rc != EXIT_OK)
            return rc;
    }
    char *buf = malloc(2 * (size_t)SANCTUM_MAX_MESSAGE);
    if (buf == NULL)
        return fail(L"roundtrip", ERROR_NOT_ENOUGH_MEMORY, CTX_ANY);

    /* One handle for both: the queue belongs to the handle it was written to. */
    DWORD error = device_open(GENERIC_READ | GENERIC_WRITE, &device);
    int rc = error != ERROR_SUCCESS ? fail_open(L"roundtrip", error)
                                    : write_messages(device, argc, argv, buf);
    if (rc == EXIT_OK)
        rc = read_messages(device, argc, argv, buf, buf + SANCTUM_MAX_MESSAGE);
    device_close(device);
    free(buf);
    return rc;
}

static int cmd_help(int argc, wchar_t **argv);

struct command {
    const wchar_t *name;
    const wchar_t *args;  /* argument synopsis for help and usage errors */
    int min_args;
    int max_args;
    int (*run)(int argc, wchar_t **argv);
    const wchar_t *help;  /* NULL: an alias, not listed */
};

static const struct command commands[] = {
    { L"install",   L"[PATH-TO-SYS]", 0, 1, cmd_install,
      L"register the driver service (default: " SANCTUM_DRIVER_FILE L" next to "
      SANCTUM_CTL_FILE L")" },
    { L"uninstall", L"",              0, 0, cmd_uninstall,
      L"stop the driver if it is loaded, then delete the service" },
    { L"start",     L"",              0, 0, cmd_start,
      L"load the driver and wait (up to 10 s) until it runs" },
    { L"stop",      L"",              0, 0, cmd_stop,
      L"unload the driver and wait (up to 10 s) until it has stopped" },
    { L"status",    L"",              0, 0, cmd_status,
      L"show the service state and whether the device answers" },
    { L"version",   L"",              0, 0, cmd_version,
      L"show client and driver versions; fails if the protocols differ" },
    { L"echo",      L"TEXT",          1, 1, cmd_echo,
      L"send TEXT through the driver (ECHO) and print what comes back" },
    { L"stats",     L"[--json]",      0, 1, cmd_stats,
      L"show the driver's counters, or one JSON object with --json" },
    { L"fill",      L"SIZE [SEED]",   1, 2, cmd_fill,
      L"have the driver fill SIZE bytes counting up from SEED; verify and time it" },
    { L"roundtrip", L"TEXT...",       1, INT_MAX, cmd_roundtrip,
      L"queue each TEXT as a message on one handle, read them all back in order" },
    { L"trust-cert", L"FILE.cer [--remove]", 1, 2, cmd_trust_cert,
      L"trust the certificate (DER or PEM): add it to LocalMachine Root and TrustedPublisher" },
    { L"doctor",    L"[--cert FILE.cer] [--preflight]", 0, 3, cmd_doctor,
      L"check what loading the driver needs: one OK or PROBLEM line per check" },
    { L"help",      L"",              0, 0, cmd_help, L"show this text (also -h, --help)" },
    { L"--help",    L"",              0, 0, cmd_help, NULL },
    { L"-h",        L"",              0, 0, cmd_help, NULL },
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static int cmd_help(int argc, wchar_t **argv)
{
    (void)argc;
    (void)argv;
    out(L"usage: " PROGRAM L" COMMAND [ARGS]\n"
        L"\n"
        L"Controls the kernel driver " SANCTUM_DRIVER_FILE L" (service %ls, device %ls).\n"
        L"\n"
        L"commands:\n",
        SANCTUM_SERVICE_NAME, SANCTUM_USER_DEVICE_PATH);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        wchar_t synopsis[64];
        if (commands[i].help == NULL)
            continue;
        swprintf(synopsis, sizeof synopsis / sizeof synopsis[0], L"%ls%ls%ls", commands[i].name,
                 commands[i].args[0] ? L" " : L"", commands[i].args);
        if (wcslen(synopsis) < 24)
            out(L"  %-24ls%ls\n", synopsis, commands[i].help);
        else /* a long synopsis gets a line of its own */
            out(L"  %ls\n  %-24ls%ls\n", synopsis, L"", commands[i].help);
    }
    out(L"\n"
        L"Exit status: 0 success, 1 the operation failed, 2 wrong usage.\n"
        L"start on a running driver and stop on a stopped one are failures (exit 1).\n"
        L"status exits 0 whenever it could query the service (running or not) and 1 when the\n"
        L"service is not installed.\n"
        L"fill: SIZE is 1 to %luM bytes, K = KiB, M = MiB (4K, 16M); SEED is decimal or 0x-hex,\n"
        L"default 0. roundtrip: at most %lu messages, each of 1 to %lu bytes.\n"
        L"A failure prints one line on stderr:\n"
        L"  " PROGRAM L": OPERATION: MESSAGE (error N); ADVICE\n"
        L"install, uninstall, start, stop and trust-cert need an elevated (administrator)\n"
        L"prompt, and so do the commands that open the device: only administrators and\n"
        L"LocalSystem may.\n"
        L"trust-cert --remove takes the certificate out of both stores again.\n"
        L"doctor checks elevation, test signing, the certificate (--cert FILE.cer, default\n"
        L"  " SANCTUM_CERT_FILE L" next to " SANCTUM_CTL_FILE
        L"), the service, the device and the\n"
        L"  protocol; it exits 0 when every check is OK and 1 when one is not. --preflight\n"
        L"  checks only elevation and test signing (what an install script needs first).\n"
        L"\n"
        PROGRAM L" %ls, protocol %lu\n",
        (unsigned long)(SANCTUM_MAX_FILL / (1024 * 1024)), (unsigned long)SANCTUM_MAX_QUEUED,
        (unsigned long)SANCTUM_MAX_MESSAGE, CLIENT_VERSION,
        (unsigned long)SANCTUM_PROTOCOL_VERSION);
    return EXIT_OK;
}

static const struct command *find_command(const wchar_t *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (wcscmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

static int usage_error(const wchar_t *problem, const wchar_t *name, const wchar_t *args)
{
    if (name != NULL)
        err_line(PROGRAM L": %ls; usage: " PROGRAM L" %ls%ls%ls\n", problem, name,
                 args[0] ? L" " : L"", args);
    else
        err_line(PROGRAM L": %ls; usage: " PROGRAM L" COMMAND [ARGS] (" PROGRAM
                 L" --help lists the commands)\n", problem);
    return EXIT_USAGE;
}

int command_usage_error(const wchar_t *name, const wchar_t *fmt, ...)
{
    const struct command *c = find_command(name);
    wchar_t problem[256];
    va_list ap;

    va_start(ap, fmt);
    vformat(problem, sizeof problem / sizeof problem[0], fmt, ap);
    va_end(ap);
    return usage_error(problem, name, c != NULL ? c->args : L"");
}

int wmain(int argc, wchar_t **argv)
{
    wchar_t problem[256];

    if (argc < 2)
        return usage_error(L"no command given", NULL, NULL);

    const struct command *c = find_command(argv[1]);
    int nargs = argc - 2;
    if (c == NULL) {
        /* Keep the line short: the unknown word is user input of any length. */
        swprintf(problem, sizeof problem / sizeof problem[0], L"unknown command '%.64ls'",
                 argv[1]);
        return usage_error(problem, NULL, NULL);
    }
    if (nargs < c->min_args || nargs > c->max_args) {
        swprintf(problem, sizeof problem / sizeof problem[0], L"wrong number of arguments for %ls",
                 c->name);
        return usage_error(problem, c->name, c->args);
    }
    return c->run(nargs, argv + 2);
}
