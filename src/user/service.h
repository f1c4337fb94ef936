/* SPDX-License-Identifier: MIT */
/*
 * Service control over the SCM (service.c): connect, query, wait, stop, configuration, and the
 * files the service and the client name. No output: errors are returned.
 */
#ifndef SANCTUM_SERVICE_H
#define SANCTUM_SERVICE_H

#include "console.h"

/* Both handles belong to the command that connected; service_disconnect releases them. */
struct service {
    SC_HANDLE scm;
    SC_HANDLE svc;
};

DWORD service_connect(DWORD scm_access, DWORD svc_access, struct service *s);
void service_disconnect(struct service *s);
DWORD service_query(SC_HANDLE svc, SERVICE_STATUS_PROCESS *status);
/* Polls until the service reaches `want`; ERROR_TIMEOUT after 10 s. */
DWORD service_wait(SC_HANDLE svc, DWORD want);
/* Stops the service and waits for it; *ctx says which advice fits a failure. */
DWORD service_stop(SC_HANDLE svc, enum err_ctx *ctx);
/* The service's configuration in a buffer the caller frees, or NULL (GetLastError says why). */
QUERY_SERVICE_CONFIGW *service_config(SC_HANDLE svc);
/* The image path as the SCM stored it, or NULL; the caller frees it. */
wchar_t *service_image_path(SC_HANDLE svc);
const wchar_t *state_name(DWORD state);

/* Absolute form of `path` in a buffer the caller frees. */
DWORD full_path(const wchar_t *path, wchar_t **result);
/* `name` in the directory of the running client, in a buffer the caller frees. */
DWORD file_next_to_exe(const wchar_t *name, wchar_t **result);
/* Whether the file a service's ImagePath names is known to be absent. */
int image_file_missing(const wchar_t *image);

#endif
