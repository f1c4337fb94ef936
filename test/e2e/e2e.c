/* SPDX-License-Identifier: MIT */
/*
 * Sanctum's end-to-end suite. It runs under Wine (test/e2e/run.sh) or in a Windows test VM
 * (make vm-test), and knows which (ntdll's wine_get_version): each platform's truth is checked,
 * and what a platform cannot show is skipped with the reason.
 *   sanctum-e2e.exe e2e|stress NAME BIN-DIR LOG-FILE
 * BIN-DIR holds the signed sanctum.sys and sanctumctl.exe; LOG-FILE receives the driver's
 * DbgPrint lines (Wine's stderr), or is "-" where there is none (Windows). One process drives
 * every scenario, so that Wine keeps the driver's service alive between steps.
 * `sanctum-e2e.exe child MARKER` is the child process whose events windows.c checks.
 */
#include "harness.h"

#include <stdarg.h>
#include <string.h>

#define LOADED_LINE                                                                        \
    SANCTUM_LOG_PREFIX ": loaded, version " SANCTUM_VERSION_STRING ", protocol "             \
        SANCTUM_STR(SANCTUM_PROTOCOL_VERSION)
#define UNLOADED_LINE SANCTUM_LOG_PREFIX ": unloaded"
#define NOTHING_LEAKED "pool outstanding: 0 allocations, 0 bytes"
#define SC_SERVICE L"SanctumSc"

static wchar_t bin_dir[MAX_PATH];
static wchar_t driver_path[MAX_PATH];
static wchar_t cert_path[MAX_PATH];
static wchar_t self_path[MAX_PATH];

/* The driver logged needle again since `before`: where its DbgPrint lines can be read. */
static void expect_logged(const char *needle, int before, const char *what)
{
    if (!log_available()) {
        skip("%s: no DbgPrint log here (on Windows it goes to the kernel debugger)\n", what);
        return;
    }
    ok(log_wait_more(needle, before), "%s: no new '%s' line in the log\n", what, needle);
}

/* A command line for ctl() or sc(), formatted; valid until the next call. */
static const wchar_t *argsf(const wchar_t *fmt, ...)
{
    static wchar_t buf[MAX_PATH + 128];
    va_list ap;

    va_start(ap, fmt);
    _vsnwprintf(buf, ARRAYSIZE(buf), fmt, ap);
    va_end(ap);
    buf[ARRAYSIZE(buf) - 1] = 0;
    return buf;
}

/* Runs `sanctumctl ARGS` from the build directory. */
static void ctl(const wchar_t *args, child_result *r)
{
    wchar_t cmd[1024];

    _snwprintf(cmd, ARRAYSIZE(cmd), L"\"%ls\\%ls\" %ls", bin_dir, SANCTUM_CTL_FILE, args);
    cmd[ARRAYSIZE(cmd) - 1] = 0;
    if (!run_child(cmd, r))
        ok(0, "cannot run sanctumctl %ls: error %lu\n", args, GetLastError());
}

/* A failure must be exactly one line on stderr, naming the operation and the advice. */
static void expect_failure(const wchar_t *args, DWORD code, const char *operation,
                           const char *advice)
{
    child_result r;

    ctl(args, &r);
    ok(r.exit_code == code, "sanctumctl %ls: exit %lu, expected %lu\n", args, r.exit_code, code);
    ok(count_lines(r.err) == 1, "sanctumctl %ls: %d lines on stderr: %s\n", args,
       count_lines(r.err), r.err);
    ok(strstr(r.err, operation) != NULL, "sanctumctl %ls: no '%s' in: %s\n", args, operation, r.err);
    if (advice)
        ok(strstr(r.err, advice) != NULL, "sanctumctl %ls: no '%s' in: %s\n", args, advice, r.err);
}

static void expect_success(const wchar_t *args, const char *needle)
{
    child_result r;

    ctl(args, &r);
    ok(r.exit_code == 0, "sanctumctl %ls: exit %lu, stderr: %s\n", args, r.exit_code, r.err);
    if (needle)
        ok(strstr(r.out, needle) != NULL, "sanctumctl %ls: no '%s' in: %s\n", args, needle, r.out);
}

/* GET_VERSION at every boundary of its output buffer. */
static void test_get_version(void)
{
    const DWORD size = sizeof(SANCTUM_VERSION);
    const DWORD sizes[] = { 0, 1, size - 1, size, size + 1, size + 64 };
    unsigned char buf[sizeof(SANCTUM_VERSION) + 64];
    SANCTUM_VERSION v;
    DWORD returned, error, i, j;
    HANDLE h;

    h = device_open(0);
    if (!ok(h != INVALID_HANDLE_VALUE, "open %ls: error %lu\n", SANCTUM_USER_DEVICE_PATH,
            GetLastError()))
        return;

    for (i = 0; i < ARRAYSIZE(sizes); i++) {
        memset(buf, 0xCC, sizeof(buf));
        error = device_ioctl(h, IOCTL_SANCTUM_GET_VERSION, NULL, 0, sizes[i] ? buf : NULL,
                             sizes[i], &returned);
        if (sizes[i] < size) {
            ok(error == ERROR_INSUFFICIENT_BUFFER, "size %lu: error %lu\n", sizes[i], error);
            ok(returned == 0, "size %lu: %lu bytes returned\n", sizes[i], returned);
        } else {
            ok(error == 0, "size %lu: error %lu\n", sizes[i], error);
            ok(returned == size, "size %lu: %lu bytes returned\n", sizes[i], returned);
            memcpy(&v, buf, size);
            ok(v.Size == size && v.Protocol == SANCTUM_PROTOCOL_VERSION &&
                   v.Major == SANCTUM_VERSION_MAJOR && v.Minor == SANCTUM_VERSION_MINOR &&
                   v.Patch == SANCTUM_VERSION_PATCH,
               "size %lu: got %lu %lu %lu.%lu.%lu\n", sizes[i], v.Size, v.Protocol, v.Major,
               v.Minor, v.Patch);
        }
        /* Nothing past what the driver wrote reaches the caller's buffer. */
        for (j = returned; j < sizeof(buf) && buf[j] == 0xCC; j++)
            ;
        ok(j == sizeof(buf), "size %lu: byte %lu changed beyond the %lu returned\n", sizes[i], j,
           returned);
    }

    /* Unknown codes, in our device type and outside it, are refused. */
    error = device_ioctl(h, CTL_CODE(SANCTUM_DEVICE_TYPE, 0xFFF, METHOD_BUFFERED, FILE_ANY_ACCESS),
                         NULL, 0, buf, sizeof(buf), &returned);
    ok(error == ERROR_INVALID_FUNCTION, "unknown code: error %lu\n", error);
    ok(returned == 0, "unknown code: %lu bytes\n", returned);
    error = device_ioctl(h, CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS),
                         NULL, 0, buf, sizeof(buf), &returned);
    ok(error == ERROR_INVALID_FUNCTION, "foreign device type: error %lu\n", error);
    CloseHandle(h);
}

/* The device is gone once the driver is unloaded. */
static void expect_device_gone(const char *when)
{
    HANDLE h = device_open(0);

    ok(h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_FILE_NOT_FOUND,
       "%s: device still opens (error %lu)\n", when, GetLastError());
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
}

static void test_client_usage(void)
{
    child_result r;

    ctl(L"--help", &r);
    ok(r.exit_code == 0, "--help: exit %lu\n", r.exit_code);
    ok(strstr(r.out, "install") && strstr(r.out, "uninstall") && strstr(r.out, "version"),
       "--help does not list the commands: %s\n", r.out);

    ctl(L"", &r);
    ok(r.exit_code == 2, "no command: exit %lu\n", r.exit_code);
    ok(count_lines(r.err) >= 1, "no command: nothing on stderr\n");
    expect_failure(L"frobnicate", 2, "frobnicate", NULL);
    expect_failure(L"install a b", 2, "install", NULL);

    expect_failure(argsf(L"install \"%ls\\no-such-driver.sys\"", bin_dir), 1, "install",
                   "driver file missing");
    expect_failure(L"watch --bogus", 2, "unknown option '--bogus'", NULL);
    expect_failure(L"watch --count", 2, "--count needs a value", NULL);
    expect_failure(L"watch --count 0", 2, "--count takes", NULL);
    expect_failure(L"watch --count 12x", 2, "--count takes", NULL);
    expect_failure(L"watch --types disk", 2, "--types takes", NULL);
    expect_failure(L"watch --types mark,", 2, "--types takes", NULL);
    expect_failure(L"watch --timeout 0", 2, "--timeout takes", NULL);
    expect_failure(L"watch --queue 1K", 2, "--queue takes", NULL);
    expect_failure(L"watch --queue 9M", 2, "--queue takes", NULL);
    expect_failure(L"watch --json --json --json --json --json --json --json --json --json --json", 2,
                   "wrong number of arguments for watch", NULL);
    expect_failure(L"mark", 2, "wrong number of arguments for mark", NULL);
    expect_failure(L"mark \"\"", 2, "TEXT must be 1 to 256 bytes", NULL);
    expect_failure(L"mark 12345678901234567890123456789012345678901234567890123456789012345678901234567890"
                   L"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
                   L"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
                   L"12345678901234567",
                   2, "got 257", NULL);
    expect_failure(L"watch --count 1", 1, "watch: open", "ctl start");
    expect_failure(L"mark x", 1, "mark: open", "ctl start");
    expect_failure(L"stop", 1, "stop", "not installed");
    expect_failure(L"start", 1, "start", "not installed");
    expect_failure(L"uninstall", 1, "uninstall", "not installed");
    expect_failure(L"status", 1, "status", "not installed");
}

/* The protocol commands of the client, against the running driver. */
static void test_ctl_protocol(void)
{
    child_result r;

    expect_success(L"echo \"hello driver\"", "hello driver");
    expect_success(L"stats", "pool allocations");
    expect_success(L"stats", "open handles      1");
    expect_success(L"stats --json", "\"Size\":128,\"OpenHandles\":1,");
    expect_success(L"fill 16M 0x10", "filled 16777216 bytes, pattern ok");
    expect_success(L"fill 1", "filled 1 bytes, pattern ok");
    expect_success(L"mark \"nobody listens\"", "sent a mark (14 bytes)");
    ctl(L"roundtrip first second third", &r);
    ok(r.exit_code == 0 && strstr(r.out, "first\r\nsecond\r\nthird\r\n") != NULL,
       "roundtrip: exit %lu, output: %s%s\n", r.exit_code, r.out, r.err);
    expect_failure(L"roundtrip 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 "
                   L"27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 "
                   L"53 54 55 56 57 58 59 60 61 62 63 64 65",
                   1, "roundtrip", "at most 64 messages");
    expect_failure(L"echo \"\"", 2, "TEXT must be", NULL);
    expect_failure(L"stats --xml", 2, "--xml", NULL);
    expect_failure(L"fill 0", 2, "SIZE must be", NULL);
    expect_failure(L"fill 17M", 2, "SIZE must be", NULL);
    expect_failure(L"fill 4K 0x100000000", 2, "SEED must be", NULL);
    /* Nothing is left behind by the client: only the stats call's own handle is open (and no
     * subscription has been made yet, so no event staging buffers either). */
    expect_success(L"stats --json", "\"PoolAllocations\":1,");
}

/* Is the certificate in FILE in LocalMachine\STORE? -1 when that cannot be told. */
static int cert_in_store(const wchar_t *file, const wchar_t *store_name)
{
    BYTE der[8192];
    DWORD got = 0;
    HANDLE h = CreateFileW(file, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    PCCERT_CONTEXT cert = NULL, found = NULL;
    HCERTSTORE store;

    if (h == INVALID_HANDLE_VALUE)
        return -1;
    ReadFile(h, der, sizeof(der), &got, NULL);
    CloseHandle(h);
    cert = CertCreateCertificateContext(X509_ASN_ENCODING, der, got);
    store = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                          CERT_SYSTEM_STORE_LOCAL_MACHINE | CERT_STORE_READONLY_FLAG, store_name);
    if (!cert || !store) {
        if (cert)
            CertFreeCertificateContext(cert);
        if (store)
            CertCloseStore(store, 0);
        return -1;
    }
    found = CertFindCertificateInStore(store, X509_ASN_ENCODING, 0, CERT_FIND_EXISTING, cert, NULL);
    if (found)
        CertFreeCertificateContext(found);
    CertFreeCertificateContext(cert);
    CertCloseStore(store, 0);
    return found != NULL;
}

/* trust-cert puts the certificate in both stores and --remove takes it out again. */
static void test_trust_cert(void)
{
    expect_success(argsf(L"trust-cert \"%ls\"", cert_path), "added to LocalMachine\\Root");
    ok(cert_in_store(cert_path, L"Root") == 1, "the certificate is not in LocalMachine\\Root\n");
    ok(cert_in_store(cert_path, L"TrustedPublisher") == 1,
       "the certificate is not in LocalMachine\\TrustedPublisher\n");
    expect_success(argsf(L"trust-cert \"%ls\"", cert_path),
                   "already in LocalMachine\\TrustedPublisher");

    expect_success(argsf(L"trust-cert \"%ls\" --remove", cert_path),
                   "removed from LocalMachine\\Root");
    ok(cert_in_store(cert_path, L"Root") == 0, "the certificate is still in LocalMachine\\Root\n");
    ok(cert_in_store(cert_path, L"TrustedPublisher") == 0,
       "the certificate is still in LocalMachine\\TrustedPublisher\n");
    expect_success(argsf(L"trust-cert \"%ls\" --remove", cert_path),
                   "not in LocalMachine\\TrustedPublisher");

    expect_failure(argsf(L"trust-cert \"%ls\\no-such.cer\"", bin_dir), 1, "trust-cert",
                   "no such file");
    expect_failure(argsf(L"trust-cert \"%ls\\%ls\"", bin_dir, SANCTUM_DRIVER_FILE), 1,
                   "trust-cert", "not a certificate");
}

/* doctor: one OK or PROBLEM line per check, exit 0 only when all are OK. */
static void doctor(const char *when, DWORD code, const char *const *lines)
{
    child_result r;

    ctl(argsf(L"doctor --cert \"%ls\"", cert_path), &r);
    ok(r.exit_code == code, "doctor %s: exit %lu, expected %lu: %s\n", when, r.exit_code, code,
       r.out);
    ok(count_lines(r.out) == 9, "doctor %s: %d lines, expected 9: %s\n", when, count_lines(r.out),
       r.out);
    for (; *lines; lines++)
        ok(strstr(r.out, *lines) != NULL, "doctor %s: no '%s' in: %s\n", when, *lines, r.out);
}

/*
 * sanctumctl stop while a handle that ignores DISCONNECT stays open: Windows keeps the driver
 * until the handle closes, and stop says so (how many handles, and that the stop is pending).
 * Then the close lets the unload happen, and the driver starts again. Leaves it running.
 */
static void test_stop_pending(void)
{
    child_result r;
    HANDLE h;
    SC_HANDLE scm, svc;

    if (wine_version()) {
        skip("sanctumctl stop with a handle that ignores DISCONNECT: Windows only (Wine %s unloads "
             "the driver at once)\n", wine_version());
        return;
    }
    h = device_open(GENERIC_READ | GENERIC_WRITE);
    if (!ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError()))
        return;
    ctl(L"stop", &r);
    ok(r.exit_code == 1 && count_lines(r.err) == 1 &&
           strstr(r.err, "stop: ") != NULL && strstr(r.err, "1 other handle to ") != NULL &&
           strstr(r.err, "the stop is pending until they close") != NULL,
       "stop with a handle that ignores DISCONNECT: exit %lu, stderr: %s\n", r.exit_code, r.err);
    CloseHandle(h);
    scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    svc = scm ? OpenServiceW(scm, SANCTUM_SERVICE_NAME, SERVICE_QUERY_STATUS) : NULL;
    ok(svc && service_wait(svc, SERVICE_STOPPED, 10000),
       "no STOPPED within 10 s of the last handle's close\n");
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    ok(unload_recorded_clean(SANCTUM_SERVICE_NAME), "the deferred unload did not record 0 0\n");
    expect_success(L"start", "started");
}

/* install, start, talk, stop, uninstall: all through sanctumctl. */
static void test_ctl_lifecycle(void)
{
    static const char *const missing[] = { "OK      elevated: yes", "OK      test signing:",
                                           "PROBLEM service:", "not installed", "PROBLEM device:",
                                           "PROBLEM protocol:", NULL };
    static const char *const untrusted[] = { "PROBLEM certificate:", "trust-cert",
                                             "OK      service:", "OK      device:", NULL };
    static const char *const working[] = { "OK      elevated:", "OK      test signing:",
                                           "OK      Secure Boot:", "OK      memory integrity:",
                                           "OK      code integrity log:",
                                           "OK      certificate:", "OK      service:",
                                           "OK      device:", "OK      protocol:", NULL };
    DWORD error, state, done;
    int loaded, unloaded, clean, i;
    HANDLE h;

    doctor("before install", 1, missing);
    expect_success(L"install", "installed");
    state = service_state(SANCTUM_SERVICE_NAME, &error);
    ok(state == SERVICE_STOPPED, "after install: state %lu error %lu\n", state, error);
    expect_failure(L"install", 1, "install", "already installed");
    expect_success(L"status", "stopped");
    expect_failure(L"version", 1, "version", "ctl start");
    expect_failure(L"stats", 1, "stats", "ctl start");
    expect_failure(L"stop", 1, "stop", "not running");

    loaded = log_count(LOADED_LINE);
    expect_success(L"start", "started");
    expect_logged(LOADED_LINE, loaded, "the load line after start");
    state = service_state(SANCTUM_SERVICE_NAME, &error);
    ok(state == SERVICE_RUNNING, "after start: state %lu error %lu\n", state, error);
    expect_failure(L"start", 1, "start", "already running");
    expect_success(L"status", "running");
    expect_success(L"version", "protocols match");
    expect_success(L"version", "driver " SANCTUM_VERSION_STRING);

    test_get_version();
    test_protocol();
    test_windows(self_path);
    test_ctl_protocol();
    test_watch(argsf(L"%ls\\%ls", bin_dir, SANCTUM_CTL_FILE));
    test_trust_cert();
    doctor("with the certificate removed", 1, untrusted);
    expect_success(argsf(L"trust-cert \"%ls\"", cert_path), "added to");
    doctor("on a working install", 0, working);
    expect_success(argsf(L"trust-cert \"%ls\" --remove", cert_path), "removed from");

    /* The stop a user runs while an agent watches: DISCONNECT first, then the unload. */
    unloaded = log_count(UNLOADED_LINE);
    test_watch_stop();
    expect_logged(UNLOADED_LINE, unloaded, "the unload line after a stop with a watcher");
    state = service_state(SANCTUM_SERVICE_NAME, &error);
    ok(state == SERVICE_STOPPED, "after a stop with a watcher: state %lu error %lu\n", state,
       error);
    expect_device_gone("after the stop with a watcher");
    /* status reads what the unload recorded under the service key, on Windows too. */
    expect_success(L"status", "last unload: pool outstanding: 0 allocations, 0 bytes");
    expect_success(L"start", "started");

    /* Stop with a handle open and messages queued. Wine unloads at once, and the unload frees
     * them: nothing leaks. Windows defers the unload until the handle closes (windows.c). */
    if (wine_version()) {
        h = device_open(GENERIC_READ | GENERIC_WRITE);
        ok(h != INVALID_HANDLE_VALUE, "open: error %lu\n", GetLastError());
        for (i = 0; i < 3; i++)
            ok(WriteFile(h, "queued", 6, &done, NULL), "write %d: error %lu\n", i, GetLastError());
        unloaded = log_count(UNLOADED_LINE);
        clean = log_count(NOTHING_LEAKED);
        expect_success(L"stop", "stopped");
        expect_logged(UNLOADED_LINE, unloaded, "the unload line after stop");
        if (log_available())
            ok(log_count(NOTHING_LEAKED) == clean + 1, "the unload line does not say '%s'\n",
               NOTHING_LEAKED);
        if (h != INVALID_HANDLE_VALUE)
            CloseHandle(h);
    }
    test_stop_pending();
    test_windows_stop(SANCTUM_SERVICE_NAME);
    expect_device_gone("after the stop");
    expect_failure(L"stop", 1, "stop", "not running");

    /* uninstall stops a running driver first. */
    expect_success(L"start", "started");
    unloaded = log_count(UNLOADED_LINE);
    expect_success(L"uninstall", "uninstalled");
    expect_logged(UNLOADED_LINE, unloaded, "the unload line after uninstall");
    state = service_state(SANCTUM_SERVICE_NAME, &error);
    ok(error == ERROR_SERVICE_DOES_NOT_EXIST, "after uninstall: state %lu error %lu\n", state,
       error);
    expect_failure(L"uninstall", 1, "uninstall", "not installed");
}

/* Runs `sc ARGS` (Wine's own sc.exe, a client nobody here wrote). */
static void sc(const wchar_t *args, child_result *r, DWORD expected_exit)
{
    wchar_t cmd[1024];

    _snwprintf(cmd, ARRAYSIZE(cmd), L"sc.exe %ls", args);
    cmd[ARRAYSIZE(cmd) - 1] = 0;
    if (!run_child(cmd, r))
        ok(0, "cannot run sc %ls: error %lu\n", args, GetLastError());
    ok(r->exit_code == expected_exit, "sc %ls: exit %lu, output: %s%s\n", args, r->exit_code,
       r->out, r->err);
}

static void test_sc_lifecycle(void)
{
    child_result r;
    DWORD error, state;
    int unloaded;

    sc(argsf(L"create %ls type= kernel start= demand binPath= \"%ls\"", SC_SERVICE, driver_path),
       &r, 0);
    sc(L"start " SC_SERVICE, &r, 0);
    sc(L"query " SC_SERVICE, &r, 0);
    ok(strstr(r.out, "RUNNING") != NULL, "sc query after start: %s\n", r.out);

    test_get_version();

    unloaded = log_count(UNLOADED_LINE);
    sc(L"stop " SC_SERVICE, &r, 0);
    expect_logged(UNLOADED_LINE, unloaded, "the unload line after sc stop");
    state = service_state(SC_SERVICE, &error);
    ok(state == SERVICE_STOPPED, "after sc stop: state %lu error %lu\n", state, error);
    expect_device_gone("after sc stop");
    sc(L"delete " SC_SERVICE, &r, 0);
    state = service_state(SC_SERVICE, &error);
    ok(error == ERROR_SERVICE_DOES_NOT_EXIST, "after sc delete: state %lu error %lu\n", state,
       error);
}

int wmain(int argc, wchar_t **argv)
{
    char suite[64];
    wchar_t probe_path[MAX_PATH], *slash;

    if (argc == 2 && !wcscmp(argv[1], L"events-child"))
        return events_child();
    if (argc == 3 && !wcscmp(argv[1], L"child"))
        return child_main();
    if (argc != 5 || (wcscmp(argv[1], L"e2e") && wcscmp(argv[1], L"stress"))) {
        fprintf(stderr, "usage: sanctum-e2e e2e|stress NAME BIN-DIR LOG-FILE\n");
        return 2;
    }
    snprintf(suite, sizeof(suite), "%ls-%ls", argv[1], argv[2]);
    wcsncpy(bin_dir, argv[3], ARRAYSIZE(bin_dir) - 1);
    _snwprintf(driver_path, ARRAYSIZE(driver_path), L"%ls\\%ls", bin_dir, SANCTUM_DRIVER_FILE);
    driver_path[ARRAYSIZE(driver_path) - 1] = 0;
    /* The test certificate lives in build/cert, beside build/<arch>-<toolchain>. */
    _snwprintf(cert_path, ARRAYSIZE(cert_path), L"%ls\\..\\cert\\%ls", bin_dir, SANCTUM_CERT_FILE);
    cert_path[ARRAYSIZE(cert_path) - 1] = 0;
    if (!GetModuleFileNameW(NULL, self_path, ARRAYSIZE(self_path)))
        ok(0, "GetModuleFileName: error %lu\n", GetLastError());
    log_init(argv[4]);
    if (log_available())
        ok(log_count(UNLOADED_LINE) >= 0, "cannot read the log %ls\n", argv[4]);
    printf("%s: running %s\n", suite, wine_version() ? "under Wine" : "on Windows");

    if (!wcscmp(argv[1], L"stress")) {
        run_stress(driver_path);
        return e2e_summary(suite);
    }

    /* A run that died half-way must not poison this one. */
    service_remove_quietly(SANCTUM_SERVICE_NAME);
    service_remove_quietly(SC_SERVICE);

    test_client_usage();
    test_ctl_lifecycle();
    test_sc_lifecycle();
    /* The probe driver lies beside this program (build/<arch>-<toolchain>/test/ or the VM's). */
    wcsncpy(probe_path, self_path, ARRAYSIZE(probe_path) - 1);
    slash = wcsrchr(probe_path, L'\\');
    if (slash && slash + 20 < probe_path + ARRAYSIZE(probe_path))
        wcscpy(slash + 1, L"sanctum-probe.sys");
    run_events(driver_path, probe_path, self_path);

    service_remove_quietly(SANCTUM_SERVICE_NAME);
    service_remove_quietly(SC_SERVICE);
    return e2e_summary(suite);
}
