/* SPDX-License-Identifier: MIT */
/*
 * The client's bottom layer (console.c): its names and exit statuses, console output, the
 * failure line with its advice, and the parsing of arguments and text. It calls nothing else
 * of the client.
 */
#ifndef SANCTUM_CONSOLE_H
#define SANCTUM_CONSOLE_H

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
/* A device open failure names the command and the step: "version: open \\.\SanctumEDR". */
int fail_open(const wchar_t *command, DWORD error);
/* An answer of the wrong size (ERROR_INVALID_DATA from SanctumGetVersion, SanctumGetStats). */
int fail_layout(const wchar_t *op, DWORD returned, ULONG size_field, size_t expected);

/* Bytes of `text` in UTF-8 (0 for an empty text). */
DWORD utf8_length(const wchar_t *text);
/* `text` in UTF-8, without a terminator, into buf; the byte count, 0 if it does not fit. */
DWORD to_utf8(const wchar_t *text, char *buf, DWORD cap);
/* Prints bytes that came from the driver as one line of text. */
void out_utf8_line(const char *bytes, DWORD len);
/* Decimal text of a 64-bit value into buf[21]: %llu and %I64u differ between CRTs. */
const wchar_t *u64_text(ULONG64 value, wchar_t *buf);
/* A byte count 1..max: digits, then optionally K (KiB) or M (MiB). */
int parse_size(const wchar_t *s, ULONG64 max, ULONG *size);
/* A ULONG in decimal or with a 0x prefix in hexadecimal. */
int parse_ulong(const wchar_t *s, ULONG *result);

#endif
