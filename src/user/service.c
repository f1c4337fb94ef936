/* SPDX-License-Identifier: MIT */
/* Service control over the SCM, and the paths of the files the service and the client name. */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_TIMEOUT_MS 10000
#define WAIT_POLL_MS    100

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
DWORD service_wait(SC_HANDLE svc, DWORD want)
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
DWORD service_stop(SC_HANDLE svc, enum err_ctx *ctx)
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
wchar_t *service_image_path(SC_HANDLE svc)
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
