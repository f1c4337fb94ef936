/* SPDX-License-Identifier: MIT */
/*
 * Console output, the one failure line with its advice, and the parsing of arguments and
 * text. A failure prints exactly one line on stderr: "sanctumctl: OPERATION: MESSAGE (error
 * N)[; ADVICE]".
 */
#include "console.h"

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
/* Under Wine the services, and the driver with them, end with the last Wine process. */
#define ADVICE_NO_DEVICE_WINE                                                                \
    ADVICE_NO_DEVICE L"; under Wine the driver stops when the last Wine process exits: run the " \
    L"commands in one wine cmd, or keep the session with wineserver -p"
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

/* Wine's ntdll exports wine_get_version; Windows' does not. */
static int under_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");

    return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

const wchar_t *find_advice(DWORD error, enum err_ctx ctx)
{
    size_t i;

    error = normalize_error(error);
    if (ctx == CTX_DEVICE && (error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND) &&
        under_wine())
        return ADVICE_NO_DEVICE_WINE;
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
int fail_open(const wchar_t *command, DWORD error)
{
    wchar_t op[64];

    swprintf(op, sizeof op / sizeof op[0], L"%ls: open %ls", command, SANCTUM_USER_DEVICE_PATH);
    return fail(op, error, CTX_DEVICE);
}

/* An answer of the wrong size (ERROR_INVALID_DATA from SanctumGetVersion, SanctumGetStats). */
int fail_layout(const wchar_t *op, DWORD returned, ULONG size_field, size_t expected)
{
    return fail_because(op, ERROR_INVALID_DATA,
                        L"the driver answered %lu bytes with Size %lu, this client expects %lu: "
                        L"driver and client are from different builds",
                        returned, size_field, (unsigned long)expected);
}

/* ---- Arguments and text ------------------------------------------------------------------ */

/* Bytes of `text` in UTF-8 (0 for an empty text). */
DWORD utf8_length(const wchar_t *text)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, text, (int)wcslen(text), NULL, 0, NULL, NULL);
    return n > 0 ? (DWORD)n : 0;
}

/* `text` in UTF-8, without a terminator, into buf; the byte count, 0 if it does not fit. */
DWORD to_utf8(const wchar_t *text, char *buf, DWORD cap)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, text, (int)wcslen(text), buf, (int)cap, NULL, NULL);
    return n > 0 ? (DWORD)n : 0;
}

/* Prints bytes that came from the driver as one line of text. */
void out_utf8_line(const char *bytes, DWORD len)
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
const wchar_t *u64_text(ULONG64 value, wchar_t *buf)
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

int parse_size(const wchar_t *s, ULONG64 max, ULONG *size)
{
    ULONG64 value, unit = 1;

    if (!parse_digits(&s, 10, max, &value))
        return 0;
    if (*s == L'K' || *s == L'k')
        unit = 1024, s++;
    else if (*s == L'M' || *s == L'm')
        unit = 1024 * 1024, s++;
    if (*s != L'\0' || value == 0 || value * unit > max)
        return 0;
    *size = (ULONG)(value * unit);
    return 1;
}

/* A ULONG in decimal or with a 0x prefix in hexadecimal. */
int parse_ulong(const wchar_t *s, ULONG *result)
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
