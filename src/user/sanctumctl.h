/* SPDX-License-Identifier: MIT */
/*
 * What the client's files share: names, output, the failure line, device and service access.
 * sanctumctl.c has the commands that drive the service and the device, cert.c trust-cert,
 * doctor.c doctor.
 */
#ifndef SANCTUMCTL_H
#define SANCTUMCTL_H

#include <windows.h>
#include <winioctl.h>

#include "sanctum/ioctl.h"

#include <stdarg.h>
#include <stddef.h>
#include <wchar.h>

/*
 * Names a fork changes (the Makefile's DRIVER_NAME passes them as wide literals, e.g.
 * -DSANCTUM_DRIVER_FILE='L"mydrv.sys"'). The service, device and link names come from
 * sanctum/ioctl.h.
 */
#ifndef SANCTUM_DRIVER_FILE
#define SANCTUM_DRIVER_FILE L"sanctum.sys"
#endif
#ifndef SANCTUM_CERT_FILE
#define SANCTUM_CERT_FILE L"sanctum-test.cer"
#endif
#ifndef SANCTUM_DISPLAY_NAME
#define SANCTUM_DISPLAY_NAME SANCTUM_SERVICE_NAME L" driver"
#endif

/* The client's own name, in messages and advice ("run: sanctumctl start"), and its file. */
#ifndef SANCTUM_CTL_NAME
#define SANCTUM_CTL_NAME L"sanctumctl"
#endif
#ifndef SANCTUM_CTL_FILE
#define SANCTUM_CTL_FILE SANCTUM_CTL_NAME L".exe"
#endif

#define PROGRAM         SANCTUM_CTL_NAME
#define CLIENT_VERSION  L"" SANCTUM_VERSION_STRING
#define WAIT_TIMEOUT_MS 10000
#define WAIT_POLL_MS    100

enum exit_status { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* Output: only %ls, %lu, %u and %X-style conversions (they mean the same to every CRT). */
void out(const wchar_t *fmt, ...);
void err_line(const wchar_t *fmt, ...);
/* Formats into buf (cap characters), cut short rather than overflow. */
void vformat(wchar_t *buf, size_t cap, const wchar_t *fmt, va_list ap);

/* Where an error happened decides what advice fits: error 2 means different things. */
enum err_ctx { CTX_ANY, CTX_SERVICE, CTX_START, CTX_STOP, CTX_STOP_REFUSED, CTX_DEVICE };

const wchar_t *find_advice(DWORD error, enum err_ctx ctx);
/* The system's text for an error, on one line, without the trailing period. */
void error_text(DWORD error, wchar_t *buf, DWORD cap);
/* "TEXT (error N)", N in decimal for Win32 codes and 0x%08X for NTSTATUS and HRESULT values. */
void describe_error(DWORD error, wchar_t *buf, size_t cap);
/* The one failure line on stderr; each returns EXIT_FAILED. */
int fail(const wchar_t *op, DWORD error, enum err_ctx ctx);
int fail_because(const wchar_t *op, DWORD error, const wchar_t *fmt, ...);
/* A usage error (exit 2) naming the command's synopsis. */
int command_usage_error(const wchar_t *name, const wchar_t *fmt, ...);

DWORD device_open(DWORD access, HANDLE *device);
void device_close(HANDLE device);
DWORD device_get_version(HANDLE device, SANCTUM_VERSION *version, DWORD *returned);

/* Both handles belong to the command that connected; service_disconnect releases them. */
struct service {
    SC_HANDLE scm;
    SC_HANDLE svc;
};

DWORD service_connect(DWORD scm_access, DWORD svc_access, struct service *s);
void service_disconnect(struct service *s);
DWORD service_query(SC_HANDLE svc, SERVICE_STATUS_PROCESS *status);
/* The service's configuration in a buffer the caller frees, or NULL (GetLastError says why). */
QUERY_SERVICE_CONFIGW *service_config(SC_HANDLE svc);
const wchar_t *state_name(DWORD state);

/* Absolute form of `path` in a buffer the caller frees. */
DWORD full_path(const wchar_t *path, wchar_t **result);
/* `name` in the directory of the running client, in a buffer the caller frees. */
DWORD file_next_to_exe(const wchar_t *name, wchar_t **result);
/* Whether the file a service's ImagePath names is known to be absent. */
int image_file_missing(const wchar_t *image);

int cmd_trust_cert(int argc, wchar_t **argv);
int cmd_doctor(int argc, wchar_t **argv);

/* For doctor: is the certificate in FILE in both stores? One OK / PROBLEM line; 1 if OK. */
int cert_check(const wchar_t *file);
/* Prints a doctor line, "OK      name: detail" or "PROBLEM name: detail"; returns ok. */
int doctor_line(int ok, const wchar_t *name, const wchar_t *fmt, ...);

#endif
