/* SPDX-License-Identifier: MIT */
/*
 * sanctumctl: installs, starts, stops and queries the driver, exercises its protocol and
 * watches its events. This file holds the command table, help and wmain; each group of
 * commands has its own file (sanctumctl.h lists them).
 * Exit status: 0 success, 1 the operation failed, 2 wrong usage. A failure prints exactly one
 * line on stderr: "sanctumctl: OPERATION: MESSAGE (error N)[; ADVICE]".
 */
#include "sanctumctl.h"

#include <limits.h>
#include <stdio.h>

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
    { L"install",   L"[PATH-TO-SYS] [--group NAME]", 0, 3, cmd_install,
      L"register the driver service (default: " SANCTUM_DRIVER_FILE L" next to "
      SANCTUM_CTL_FILE L")" },
    { L"uninstall", L"",              0, 0, cmd_uninstall,
      L"stop the driver if it is loaded, then delete the service" },
    { L"start",     L"",              0, 0, cmd_start,
      L"load the driver and wait (up to 10 s) until it runs" },
    { L"stop",      L"",              0, 0, cmd_stop,
      L"disconnect watchers, unload the driver, wait (up to 10 s) until it has stopped" },
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
    { L"mark",      L"TEXT",          1, 1, cmd_mark,
      L"put TEXT into every event stream that asked for marks" },
    { L"watch",     L"[--json] [--types process,thread,image,mark] [--count N] [--timeout SECONDS] "
                    L"[--queue SIZE]", 0, 9, cmd_watch,
      L"print each event as it arrives, one line of text or of JSON per event; Ctrl+C ends it" },
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
        wchar_t synopsis[128];
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
        L"install: --group NAME puts the service in that load-order group (Wine runs the drivers\n"
        L"  of one group in one winedevice.exe, so each sees the others' image loads).\n"
        L"fill: SIZE is 1 to %luM bytes, K = KiB, M = MiB (4K, 16M); SEED is decimal or 0x-hex,\n"
        L"default 0. roundtrip: at most %lu messages, each of 1 to %lu bytes.\n"
        L"mark: TEXT is 1 to %lu bytes of UTF-8.\n"
        L"watch: --types takes a comma-separated list (default all four); --count ends it after N\n"
        L"  events, --timeout after SECONDS (exit 1 if --count was not reached by then); --queue\n"
        L"  is the driver's queue for this watcher, %luK to %luM (default %luK). When watch ends it\n"
        L"  prints on stderr how many events it saw and how many the driver dropped because\n"
        L"  the queue was full (the gaps in their sequence numbers). When the driver is about to\n"
        L"  stop (stop sends DISCONNECT first), watch says so on stderr and exits 1.\n"
        L"stop and uninstall first tell every client to close its handle (DISCONNECT): Windows\n"
        L"  unloads a driver only once every handle to its device is closed.\n"
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
        (unsigned long)SANCTUM_MAX_MESSAGE, (unsigned long)SANCTUM_MAX_MARK,
        (unsigned long)(SANCTUM_MIN_QUEUE_BYTES / 1024),
        (unsigned long)(SANCTUM_MAX_QUEUE_BYTES / (1024 * 1024)),
        (unsigned long)(SANCTUM_DEFAULT_QUEUE_BYTES / 1024), CLIENT_VERSION,
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
