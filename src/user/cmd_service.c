/* SPDX-License-Identifier: MIT */
/* The commands that drive the service: install, uninstall, start, stop, status. */
#include "sanctumctl.h"

#include <stdio.h>
#include <stdlib.h>

/* How long agents get to close their handles after DISCONNECT: one that honours it does so
 * at once. The SCM's stop then has its own 10 s. */
#define DISCONNECT_WAIT_MS 2000

/*
 * Before the SCM stops the driver: DISCONNECT tells every agent to close its handle (Windows
 * unloads a driver only once every handle to its device is closed, Wine at once), then this
 * waits a little for them. How many other handles were still open, or -1 when the driver could
 * not be asked (not running, or from before protocol 3).
 */
static LONG disconnect_agents(void)
{
    SANCTUM_STATS stats;
    HANDLE device;
    DWORD returned, start = GetTickCount();
    LONG others = -1;

    if (SanctumOpen(GENERIC_READ | GENERIC_WRITE, 0, &device) != ERROR_SUCCESS)
        return -1;
    if (SanctumDisconnect(device) == ERROR_SUCCESS) {
        while (SanctumGetStats(device, &stats, &returned) == ERROR_SUCCESS) {
            /* This command's own handle is one of them. */
            others = (LONG)stats.OpenHandles - 1;
            if (others <= 0 || GetTickCount() - start >= DISCONNECT_WAIT_MS)
                break;
            Sleep(20);
        }
    }
    SanctumClose(device);
    return others;
}

/* DISCONNECT, then the SCM's stop and its wait; *others as disconnect_agents gives it. */
static DWORD stop_driver(SC_HANDLE svc, enum err_ctx *ctx, LONG *others)
{
    *others = disconnect_agents();
    return service_stop(svc, ctx);
}

/* A stop that timed out with handles still open: say how many, and that it is pending. */
static int fail_stop(const wchar_t *op, DWORD error, enum err_ctx ctx, LONG others)
{
    if (error == ERROR_TIMEOUT && ctx == CTX_STOP && others > 0)
        return fail_because(op, error,
                            L"%ld other handle%ls to %ls stayed open after the driver "
                            L"disconnected them: Windows unloads the driver only once every "
                            L"handle is closed, so the stop is pending until they close",
                            (long)others, others == 1 ? L"" : L"s", SANCTUM_USER_DEVICE_PATH);
    return fail(op, error, ctx);
}

int cmd_install(int argc, wchar_t **argv)
{
    const wchar_t *file = NULL, *group = NULL;
    struct service s;
    wchar_t *path;

    for (int i = 0; i < argc; i++) {
        if (wcscmp(argv[i], L"--group") == 0) {
            if (++i == argc || argv[i][0] == L'\0')
                return command_usage_error(L"install", L"--group needs a NAME");
            group = argv[i];
        } else if (wcsncmp(argv[i], L"--", 2) == 0) {
            return command_usage_error(L"install", L"unknown option '%.64ls'", argv[i]);
        } else if (file != NULL) {
            return command_usage_error(L"install", L"more than one PATH-TO-SYS given");
        } else {
            file = argv[i];
        }
    }
    DWORD error = file != NULL ? full_path(file, &path)
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
                                       SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, path, group,
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
        out(L"installed service %ls (%ls)%ls%ls\n", SANCTUM_SERVICE_NAME, path,
            group != NULL ? L", load-order group " : L"", group != NULL ? group : L"");
    free(path);
    return rc;
}

int cmd_uninstall(int argc, wchar_t **argv)
{
    SERVICE_STATUS_PROCESS status;
    struct service s;
    enum err_ctx ctx = CTX_SERVICE;
    LONG others = -1;
    int stopped = 0;

    (void)argc;
    (void)argv;
    DWORD error = service_connect(SC_MANAGER_CONNECT,
                                  SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, &s);
    if (error != ERROR_SUCCESS)
        return fail(L"uninstall", error, CTX_SERVICE);

    error = service_query(s.svc, &status);
    if (error == ERROR_SUCCESS && status.dwCurrentState != SERVICE_STOPPED) {
        error = stop_driver(s.svc, &ctx, &others);
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
        return fail_stop(L"uninstall", error, ctx, others);
    out(L"uninstalled\n");
    return EXIT_OK;
}

int cmd_start(int argc, wchar_t **argv)
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

int cmd_stop(int argc, wchar_t **argv)
{
    struct service s;
    enum err_ctx ctx;
    LONG others;

    (void)argc;
    (void)argv;
    DWORD error = service_connect(SC_MANAGER_CONNECT, SERVICE_STOP | SERVICE_QUERY_STATUS, &s);
    if (error != ERROR_SUCCESS)
        return fail(L"stop", error, CTX_SERVICE);

    error = stop_driver(s.svc, &ctx, &others);
    service_disconnect(&s);

    if (error != ERROR_SUCCESS)
        return fail_stop(L"stop", error, ctx, others);
    out(L"stopped\n");
    return EXIT_OK;
}

static void print_device_status(void)
{
    SANCTUM_VERSION v;
    wchar_t text[512];
    HANDLE device;
    DWORD returned;

    DWORD error = SanctumOpen(GENERIC_READ, 0, &device);
    if (error != ERROR_SUCCESS) {
        error_text(error, text, sizeof text / sizeof text[0]);
        out(L"device: not reachable: %ls (error %lu)\n", text, error);
        return;
    }
    error = SanctumGetVersion(device, &v, &returned);
    SanctumClose(device);
    if (error != ERROR_SUCCESS) {
        error_text(error, text, sizeof text / sizeof text[0]);
        out(L"device: bad answer to GET_VERSION: %ls (error %lu)\n", text, error);
        return;
    }
    out(L"device: answers: driver %lu.%lu.%lu protocol %lu (%ls)\n", v.Major, v.Minor, v.Patch,
        v.Protocol,
        v.Protocol == SANCTUM_PROTOCOL_VERSION ? L"protocols match" : L"PROTOCOL MISMATCH");
}

/*
 * A stopped driver's last unload, as the driver recorded it under its service key (what its
 * unload line says, readable without a kernel debugger). Nothing when there is no record.
 */
static void print_last_unload(void)
{
    static const wchar_t key[] = L"SYSTEM\\CurrentControlSet\\Services\\" SANCTUM_SERVICE_NAME;
    ULONG64 allocations, bytes;
    DWORD size = sizeof(allocations);

    if (RegGetValueW(HKEY_LOCAL_MACHINE, key, SANCTUM_UNLOAD_ALLOCATIONS_VALUE, RRF_RT_REG_QWORD,
                     NULL, &allocations, &size) != ERROR_SUCCESS)
        return;
    size = sizeof(bytes);
    if (RegGetValueW(HKEY_LOCAL_MACHINE, key, SANCTUM_UNLOAD_BYTES_VALUE, RRF_RT_REG_QWORD, NULL,
                     &bytes, &size) != ERROR_SUCCESS)
        return;
    if (allocations == SANCTUM_UNLOAD_PENDING) {
        out(L"last unload: none recorded since the last load (the driver did not unload)\n");
    } else {
        wchar_t a[21], b[21];

        out(L"last unload: pool outstanding: %ls allocations, %ls bytes\n",
            u64_text(allocations, a), u64_text(bytes, b));
    }
}

int cmd_status(int argc, wchar_t **argv)
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
    if (status.dwCurrentState == SERVICE_STOPPED)
        print_last_unload();
    print_device_status();
    return EXIT_OK;
}

