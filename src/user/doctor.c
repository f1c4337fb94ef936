/* SPDX-License-Identifier: MIT */
/*
 * sanctumctl doctor: everything loading the driver depends on, one line per check:
 *   OK      NAME: DETAIL
 *   PROBLEM NAME: DETAIL; ADVICE
 * in a fixed order (elevated, test signing, Secure Boot, memory integrity, certificate,
 * service, code integrity log, device, protocol); --preflight stops after the first four.
 * Exit 0 when every check is OK, 1 otherwise; nothing goes to stderr but usage errors.
 */
#include "sanctumctl.h"

#include <winevt.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* SystemCodeIntegrityInformation and SystemSecureBootInformation, as ntdll answers them
 * (winternl.h does not have them). */
#define SYSTEM_CODE_INTEGRITY_INFORMATION 103
#define SYSTEM_SECURE_BOOT_INFORMATION    145
#define CODE_INTEGRITY_ENABLED            0x1u
#define CODE_INTEGRITY_TESTSIGN           0x2u
#define CODE_INTEGRITY_HVCI_KMCI_ENABLED  0x400u /* memory integrity enforces kernel code */
#define STATUS_INVALID_INFO_CLASS_        0xC0000003UL
#define STATUS_NOT_IMPLEMENTED_           0xC0000002UL
#define STATUS_NOT_SUPPORTED_             0xC00000BBUL

struct code_integrity {
    ULONG Length;
    ULONG CodeIntegrityOptions;
};

struct secure_boot {
    BOOLEAN SecureBootEnabled;
    BOOLEAN SecureBootCapable;
};

#define CI_LOG L"Microsoft-Windows-CodeIntegrity/Operational"
#define CI_LOG_COMMAND L"wevtutil qe " CI_LOG L" /c:10 /rd:true /f:text"
/* How many of the latest code integrity events are searched for the driver's file. */
#define CI_LOG_EVENTS 500

typedef LONG(NTAPI *query_system_information_fn)(ULONG, PVOID, ULONG, PULONG);
typedef const char *(CDECL *wine_get_version_fn)(void);

int doctor_line(int ok, const wchar_t *name, const wchar_t *fmt, ...)
{
    wchar_t detail[1024];
    va_list ap;

    va_start(ap, fmt);
    vformat(detail, sizeof detail / sizeof detail[0], fmt, ap);
    va_end(ap);
    out(L"%-8ls%ls: %ls\n", ok ? L"OK" : L"PROBLEM", name, detail);
    return ok;
}

/* Elevated token (UAC), or where there is no UAC, membership in Administrators. */
static int check_elevated(void)
{
    TOKEN_ELEVATION elevation;
    BYTE admins[SECURITY_MAX_SID_SIZE];
    DWORD size = sizeof admins, got;
    HANDLE token;
    BOOL member = FALSE;
    int known = 0, elevated = 0;

    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) {
        if (GetTokenInformation(token, TokenElevation, &elevation, sizeof elevation, &got)) {
            known = 1;
            elevated = elevation.TokenIsElevated != 0;
        }
        CloseHandle(token);
    }
    if (!known && CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, admins, &size) &&
        CheckTokenMembership(NULL, admins, &member)) {
        known = 1;
        elevated = member != FALSE;
    }
    if (!known) {
        wchar_t text[600];
        describe_error(GetLastError(), text, sizeof text / sizeof text[0]);
        return doctor_line(0, L"elevated",
                           L"cannot tell: %ls; run from an elevated prompt (Run as administrator)",
                           text);
    }
    if (elevated)
        return doctor_line(1, L"elevated", L"yes");
    return doctor_line(0, L"elevated",
                       L"no; run from an elevated prompt (Run as administrator): install, start, "
                       L"trust-cert and the device need it");
}

/* The Wine version when running under Wine, else NULL. */
static const char *wine_version(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    wine_get_version_fn get =
        ntdll != NULL ? (wine_get_version_fn)(void (*)(void))GetProcAddress(ntdll,
                                                                              "wine_get_version")
                      : NULL;

    return get != NULL ? get() : NULL;
}

/* NtQuerySystemInformation(cls) into buf: its status, or -1 when ntdll lacks the call. */
static LONG query_system(ULONG cls, void *buf, ULONG size)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    query_system_information_fn query =
        ntdll != NULL ? (query_system_information_fn)(void (*)(void))GetProcAddress(
                            ntdll, "NtQuerySystemInformation")
                      : NULL;
    ULONG got = 0;

    return query != NULL ? query(cls, buf, size, &got) : -1;
}

/* The Wine version as text, for the lines that say what Wine cannot show. */
static const wchar_t *wine_version_text(void)
{
    static wchar_t version[32];
    const char *wine = wine_version();

    if (wine == NULL)
        return NULL;
    if (MultiByteToWideChar(CP_UTF8, 0, wine, -1, version, 32) == 0)
        wcscpy(version, L"?");
    return version;
}

/*
 * Windows loads a test-signed driver only with test signing on. Wine 8 loads drivers without
 * looking at signatures, and its answer to this query is a stub (status 0, options 0x1:
 * "enabled", never "test signing"); under Wine the check says so rather than report the stub
 * as "off".
 */
static int check_test_signing(void)
{
    struct code_integrity ci = { sizeof ci, 0 };
    const wchar_t *version = wine_version_text();
    LONG status = query_system(SYSTEM_CODE_INTEGRITY_INFORMATION, &ci, sizeof ci);

    if (version != NULL) {
        return doctor_line(1, L"test signing",
                           L"not needed: Wine %ls loads drivers without checking signatures "
                           L"(its code integrity answer is a stub: status 0x%08lX, options "
                           L"0x%08lX)",
                           version, (unsigned long)status, ci.CodeIntegrityOptions);
    }
    if (status == -1)
        return doctor_line(0, L"test signing",
                           L"unknown: ntdll has no NtQuerySystemInformation; check with: "
                           L"bcdedit /enum {current} (testsigning Yes)");
    if (status != 0)
        return doctor_line(0, L"test signing",
                           L"unknown: NtQuerySystemInformation(SystemCodeIntegrityInformation) "
                           L"returned status 0x%08lX; check with: bcdedit /enum {current} "
                           L"(testsigning Yes)",
                           (unsigned long)status);
    if (ci.CodeIntegrityOptions & CODE_INTEGRITY_TESTSIGN)
        return doctor_line(1, L"test signing", L"on (code integrity options 0x%08lX)",
                           ci.CodeIntegrityOptions);
    if (!(ci.CodeIntegrityOptions & CODE_INTEGRITY_ENABLED))
        return doctor_line(1, L"test signing",
                           L"not needed: code integrity is off (code integrity options 0x%08lX)",
                           ci.CodeIntegrityOptions);
    return doctor_line(0, L"test signing",
                       L"off (code integrity options 0x%08lX); run: bcdedit /set testsigning on "
                       L"(elevated; Secure Boot must be off), then reboot",
                       ci.CodeIntegrityOptions);
}

/* Windows ignores test signing while Secure Boot is on: test-signed drivers then fail with 577. */
static int check_secure_boot(void)
{
    struct secure_boot sb = { 0, 0 };
    const wchar_t *version = wine_version_text();
    LONG status = query_system(SYSTEM_SECURE_BOOT_INFORMATION, &sb, sizeof sb);

    if (version != NULL)
        return doctor_line(1, L"Secure Boot", L"not applicable: Wine %ls has no firmware",
                           version);
    if ((ULONG)status == STATUS_INVALID_INFO_CLASS_ || (ULONG)status == STATUS_NOT_IMPLEMENTED_ ||
        (ULONG)status == STATUS_NOT_SUPPORTED_)
        return doctor_line(1, L"Secure Boot", L"off (legacy BIOS boot, status 0x%08lX)",
                           (unsigned long)status);
    if (status != 0)
        return doctor_line(0, L"Secure Boot",
                           L"unknown: NtQuerySystemInformation(SystemSecureBootInformation) "
                           L"returned status 0x%08lX; check with: msinfo32 (Secure Boot State)",
                           (unsigned long)status);
    if (sb.SecureBootEnabled)
        return doctor_line(0, L"Secure Boot",
                           L"on; Windows ignores test signing while it is on: turn it off in "
                           L"the VM's firmware settings (Hyper-V: Settings > Security), then "
                           L"reboot");
    return doctor_line(1, L"Secure Boot", L"off");
}

/* Memory integrity (HVCI) is one cause of error 1275: it blocks drivers it finds unfit. */
static int check_memory_integrity(void)
{
    struct code_integrity ci = { sizeof ci, 0 };
    const wchar_t *version = wine_version_text();
    LONG status = query_system(SYSTEM_CODE_INTEGRITY_INFORMATION, &ci, sizeof ci);

    if (version != NULL)
        return doctor_line(1, L"memory integrity", L"not applicable: Wine %ls has no hypervisor",
                           version);
    if (status != 0)
        return doctor_line(0, L"memory integrity",
                           L"unknown: NtQuerySystemInformation(SystemCodeIntegrityInformation) "
                           L"returned status 0x%08lX; see Windows Security > Device security > "
                           L"Core isolation",
                           (unsigned long)status);
    if (ci.CodeIntegrityOptions & CODE_INTEGRITY_HVCI_KMCI_ENABLED)
        return doctor_line(1, L"memory integrity",
                           L"on (code integrity options 0x%08lX); if start fails with error "
                           L"1275, turn off Core isolation > Memory integrity, then reboot",
                           ci.CodeIntegrityOptions);
    return doctor_line(1, L"memory integrity", L"off (code integrity options 0x%08lX)",
                       ci.CodeIntegrityOptions);
}

static int check_certificate(const wchar_t *given)
{
    wchar_t *path;
    DWORD error = given != NULL ? full_path(given, &path)
                                : file_next_to_exe(SANCTUM_CERT_FILE, &path);

    if (error != ERROR_SUCCESS) {
        wchar_t text[600];
        describe_error(error, text, sizeof text / sizeof text[0]);
        return doctor_line(0, L"certificate", L"cannot find the file: %ls; pass --cert FILE.cer",
                           text);
    }
    int ok = cert_check(path);
    free(path);
    return ok;
}

/* The service's state and configuration; *config (freed by the caller) is set on success. */
static DWORD query_service(SERVICE_STATUS_PROCESS *status, QUERY_SERVICE_CONFIGW **config)
{
    struct service s;

    *config = NULL;
    DWORD error = service_connect(SC_MANAGER_CONNECT, SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG,
                                  &s);
    if (error != ERROR_SUCCESS)
        return error;
    error = service_query(s.svc, status);
    if (error == ERROR_SUCCESS && (*config = service_config(s.svc)) == NULL)
        error = GetLastError() != ERROR_SUCCESS ? GetLastError() : ERROR_GEN_FAILURE;
    service_disconnect(&s);
    return error;
}

/* Installed, enabled and running; *running tells the device check what to advise. */
static int check_service(int *running)
{
    SERVICE_STATUS_PROCESS status;
    QUERY_SERVICE_CONFIGW *config;
    const wchar_t *name = SANCTUM_SERVICE_NAME;

    *running = 0;
    DWORD error = query_service(&status, &config);
    if (error == ERROR_SERVICE_DOES_NOT_EXIST)
        return doctor_line(0, L"service", L"%ls not installed; run: " PROGRAM L" install", name);
    if (error != ERROR_SUCCESS || config == NULL) {
        const wchar_t *advice = find_advice(error, CTX_SERVICE);
        wchar_t text[600];
        describe_error(error, text, sizeof text / sizeof text[0]);
        free(config);
        return doctor_line(0, L"service", L"cannot query %ls: %ls; %ls", name, text,
                           advice != NULL ? advice : L"run: " PROGRAM L" status");
    }

    const wchar_t *image = config->lpBinaryPathName != NULL ? config->lpBinaryPathName : L"";
    const wchar_t *state = state_name(status.dwCurrentState);
    int ok = 0;
    *running = status.dwCurrentState == SERVICE_RUNNING;
    if (*running)
        ok = doctor_line(1, L"service", L"%ls running, image %ls", name, image);
    else if (config->dwStartType == SERVICE_DISABLED)
        doctor_line(0, L"service",
                    L"%ls disabled (%ls), image %ls; run: sc config %ls start= demand, then "
                    PROGRAM L" start",
                    name, state, image, name);
    else if (status.dwCurrentState == SERVICE_STOPPED && image_file_missing(image))
        doctor_line(0, L"service",
                    L"%ls stopped, image file missing: %ls; run: " PROGRAM L" uninstall, then "
                    PROGRAM L" install PATH-TO-SYS",
                    name, image);
    else if (status.dwCurrentState == SERVICE_STOPPED)
        doctor_line(0, L"service", L"%ls stopped, image %ls; run: " PROGRAM L" start", name,
                    image);
    else if (status.dwCurrentState == SERVICE_STOP_PENDING)
        doctor_line(0, L"service",
                    L"%ls stop pending, image %ls; close programs that have %ls open, or reboot",
                    name, image, SANCTUM_USER_DEVICE_PATH);
    else
        doctor_line(0, L"service", L"%ls %ls, image %ls; wait a moment and run " PROGRAM
                    L" doctor again", name, state, image);
    free(config);
    return ok;
}

/* Case-insensitive search of a wide string. */
static const wchar_t *find_nocase(const wchar_t *s, const wchar_t *needle)
{
    size_t n = wcslen(needle);

    for (; *s; s++)
        if (_wcsnicmp(s, needle, n) == 0)
            return s;
    return NULL;
}

/* The text between `open` and the next '<' or quote in xml, into buf (cap characters). */
static void xml_value(const wchar_t *xml, const wchar_t *open, wchar_t *buf, size_t cap)
{
    const wchar_t *p = wcsstr(xml, open);
    size_t n = 0;

    if (p != NULL)
        for (p += wcslen(open); *p && *p != L'<' && *p != L'\'' && n + 1 < cap; p++)
            buf[n++] = *p;
    buf[n] = 0;
}

/* The event's message on one line, cut to cap characters; empty when Windows has none. */
static void event_message(EVT_HANDLE publisher, EVT_HANDLE event, wchar_t *buf, DWORD cap)
{
    DWORD used = 0;

    buf[0] = 0;
    if (publisher == NULL ||
        !EvtFormatMessage(publisher, event, 0, 0, NULL, EvtFormatMessageEvent, cap, buf, &used))
        buf[0] = 0;
    buf[cap - 1] = 0;
    for (wchar_t *p = buf; *p; p++)
        if (*p == L'\r' || *p == L'\n' || *p == L'\t')
            *p = L' ';
}

/*
 * Why Windows refused the driver is written to the CodeIntegrity log (577: a signature it
 * rejects; 1275: a block, memory integrity one cause). The latest event naming the driver's
 * file is the answer; while the driver runs, such an event is from an earlier attempt.
 */
static int check_code_integrity_log(int running)
{
    static wchar_t xml[16384], message[512];
    EVT_HANDLE query, events[16], publisher, found = NULL;
    const wchar_t *version = wine_version_text();
    wchar_t id[16], when[40];
    DWORD got = 0, used, props, seen = 0;

    query = EvtQuery(NULL, CI_LOG, L"*", EvtQueryChannelPath | EvtQueryReverseDirection);
    if (query == NULL) {
        DWORD error = GetLastError();
        wchar_t text[600];
        if (version != NULL)
            return doctor_line(1, L"code integrity log",
                               L"not applicable: Wine %ls checks no signatures and keeps no "
                               L"such log (EvtQuery: error %lu)",
                               version, error);
        describe_error(error, text, sizeof text / sizeof text[0]);
        return doctor_line(0, L"code integrity log", L"cannot read %ls: %ls; run: %ls", CI_LOG,
                           text, CI_LOG_COMMAND);
    }
    while (found == NULL && seen < CI_LOG_EVENTS && EvtNext(query, 16, events, INFINITE, 0, &got)) {
        for (DWORD i = 0; i < got; i++) {
            if (found == NULL &&
                EvtRender(NULL, events[i], EvtRenderEventXml, sizeof xml - sizeof xml[0], xml,
                          &used, &props)) {
                xml[used / sizeof xml[0]] = 0;
                if (find_nocase(xml, SANCTUM_DRIVER_FILE) != NULL) {
                    found = events[i];
                    continue;
                }
            }
            EvtClose(events[i]);
        }
        seen += got;
    }
    EvtClose(query);
    if (found == NULL)
        return doctor_line(1, L"code integrity log", L"no event names %ls (of the latest %lu)",
                           SANCTUM_DRIVER_FILE, (unsigned long)seen);

    xml_value(xml, L"<EventID>", id, sizeof id / sizeof id[0]);
    xml_value(xml, L"SystemTime='", when, sizeof when / sizeof when[0]);
    publisher = EvtOpenPublisherMetadata(NULL, L"Microsoft-Windows-CodeIntegrity", NULL, 0, 0);
    event_message(publisher, found, message, sizeof message / sizeof message[0]);
    if (publisher != NULL)
        EvtClose(publisher);
    EvtClose(found);
    if (running)
        return doctor_line(1, L"code integrity log",
                           L"event %ls at %ls, from before the running load: %ls", id, when,
                           message);
    return doctor_line(0, L"code integrity log",
                       L"event %ls at %ls: %ls; this is why Windows refused %ls; all of it: %ls",
                       id, when, message, SANCTUM_DRIVER_FILE, CI_LOG_COMMAND);
}

/* GET_VERSION through the device; *answered and *v feed the protocol check. */
static int check_device(int running, SANCTUM_VERSION *v, int *answered)
{
    const wchar_t *path = SANCTUM_USER_DEVICE_PATH;
    wchar_t text[600];
    HANDLE device;
    DWORD returned;

    *answered = 0;
    DWORD error = SanctumOpen(GENERIC_READ, 0, &device);
    if (error != ERROR_SUCCESS) {
        const wchar_t *advice = find_advice(error, CTX_DEVICE);
        describe_error(error, text, sizeof text / sizeof text[0]);
        if (!running && (error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND))
            advice = L"the driver is not running; fix the service line first";
        return doctor_line(0, L"device", L"%ls does not open: %ls; %ls", path, text,
                           advice != NULL ? advice : L"run: " PROGRAM L" status");
    }
    error = SanctumGetVersion(device, v, &returned);
    SanctumClose(device);
    if (error == ERROR_INVALID_DATA)
        return doctor_line(0, L"device",
                           L"%ls answered GET_VERSION with %lu bytes and Size %lu, this client "
                           L"expects %lu; install a driver and client from the same build",
                           path, returned, v->Size, (unsigned long)sizeof *v);
    if (error != ERROR_SUCCESS) {
        const wchar_t *advice = find_advice(error, CTX_DEVICE);
        describe_error(error, text, sizeof text / sizeof text[0]);
        return doctor_line(0, L"device", L"%ls refused GET_VERSION: %ls; %ls", path, text,
                           advice != NULL ? advice : L"run: " PROGRAM L" version");
    }
    *answered = 1;
    return doctor_line(1, L"device", L"%ls answers GET_VERSION, driver %lu.%lu.%lu", path,
                       v->Major, v->Minor, v->Patch);
}

static int check_protocol(int answered, const SANCTUM_VERSION *v)
{
    if (!answered)
        return doctor_line(0, L"protocol",
                           L"unknown, the device did not answer (client protocol %lu); fix the "
                           L"device line first",
                           (unsigned long)SANCTUM_PROTOCOL_VERSION);
    int ok = v->Protocol == SANCTUM_PROTOCOL_VERSION;
    return doctor_line(ok, L"protocol",
                       L"driver %lu, client %lu (driver %lu.%lu.%lu, client %ls)%ls", v->Protocol,
                       (unsigned long)SANCTUM_PROTOCOL_VERSION, v->Major, v->Minor, v->Patch,
                       CLIENT_VERSION,
                       ok ? L"" : L"; install a driver and client from the same build");
}

int cmd_doctor(int argc, wchar_t **argv)
{
    const wchar_t *cert = NULL;
    SANCTUM_VERSION v;
    int running, answered, ok = 1, preflight = 0;

    for (int i = 0; i < argc; i++) {
        if (wcscmp(argv[i], L"--preflight") == 0) {
            preflight = 1;
            continue;
        }
        if (wcscmp(argv[i], L"--cert") != 0)
            return command_usage_error(L"doctor", L"unknown argument '%.64ls'", argv[i]);
        if (i + 1 >= argc)
            return command_usage_error(L"doctor", L"--cert needs a FILE.cer");
        cert = argv[++i];
    }

    /* Every check runs, whatever the earlier ones found: the user gets the whole list. */
    ok &= check_elevated();
    ok &= check_test_signing();
    ok &= check_secure_boot();
    ok &= check_memory_integrity();
    /* --preflight: only what must hold before anything is installed (install scripts). */
    if (preflight)
        return ok ? EXIT_OK : EXIT_FAILED;
    ok &= check_certificate(cert);
    ok &= check_service(&running);
    ok &= check_code_integrity_log(running);
    ok &= check_device(running, &v, &answered);
    ok &= check_protocol(answered, &v);
    return ok ? EXIT_OK : EXIT_FAILED;
}
