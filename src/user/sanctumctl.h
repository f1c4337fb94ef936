/* SPDX-License-Identifier: MIT */
/*
 * What the command files share. The layers, each calling only those below it:
 *   sanctumctl.c   the command table, help and wmain
 *   cmd_service.c  install, uninstall, start, stop, status
 *   cmd_device.c   version, echo, stats, fill, roundtrip, mark
 *   cmd_watch.c    watch
 *   cert.c         trust-cert (and the certificate check doctor uses)
 *   doctor.c       doctor
 *   service.c      service control over the SCM (service.h)
 *   client.c       the protocol library (sanctum/client.h, sanctum/events.h)
 *   console.c      names, output, the failure line and its advice, arguments (console.h)
 */
#ifndef SANCTUMCTL_H
#define SANCTUMCTL_H

#include "console.h"
#include "service.h"
#include "sanctum/client.h"

/* A usage error (exit 2) naming the command's synopsis from the table in sanctumctl.c. */
int command_usage_error(const wchar_t *name, const wchar_t *fmt, ...);

int cmd_install(int argc, wchar_t **argv);
int cmd_uninstall(int argc, wchar_t **argv);
int cmd_start(int argc, wchar_t **argv);
int cmd_stop(int argc, wchar_t **argv);
int cmd_status(int argc, wchar_t **argv);
int cmd_version(int argc, wchar_t **argv);
int cmd_echo(int argc, wchar_t **argv);
int cmd_stats(int argc, wchar_t **argv);
int cmd_fill(int argc, wchar_t **argv);
int cmd_roundtrip(int argc, wchar_t **argv);
int cmd_mark(int argc, wchar_t **argv);
int cmd_watch(int argc, wchar_t **argv);
int cmd_trust_cert(int argc, wchar_t **argv);
int cmd_doctor(int argc, wchar_t **argv);

/* For doctor: is the certificate in FILE in both stores? One OK / PROBLEM line; 1 if OK. */
int cert_check(const wchar_t *file);
/* Prints a doctor line, "OK      name: detail" or "PROBLEM name: detail"; returns ok. */
int doctor_line(int ok, const wchar_t *name, const wchar_t *fmt, ...);

#endif
