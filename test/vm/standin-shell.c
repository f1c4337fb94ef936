/* SPDX-License-Identifier: MIT */
/*
 * The stand-in VM's shell: runs the SSH command as OpenSSH for Windows does with cmd.exe as
 * its default shell, `cmd.exe /c COMMAND`, the command line passed through untouched (wine
 * would quote and escape it as an argument). The command comes in SANCTUM_SSH_COMMAND; the
 * exit status is cmd's.
 */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

int wmain(void)
{
    static const wchar_t prefix[] = L"cmd.exe /c ";
    STARTUPINFOW si = { .cb = sizeof si };
    PROCESS_INFORMATION pi;
    DWORD length, code = 1;
    wchar_t *line;

    length = GetEnvironmentVariableW(L"SANCTUM_SSH_COMMAND", NULL, 0);
    if (length == 0) {
        fwprintf(stderr, L"standin-shell: SANCTUM_SSH_COMMAND is not set\n");
        return 1;
    }
    line = malloc((wcslen(prefix) + length) * sizeof *line);
    if (line == NULL) {
        fwprintf(stderr, L"standin-shell: out of memory\n");
        return 1;
    }
    wcscpy(line, prefix);
    GetEnvironmentVariableW(L"SANCTUM_SSH_COMMAND", line + wcslen(prefix), length);
    /* The child must not see the variable as part of the VM's environment. */
    SetEnvironmentVariableW(L"SANCTUM_SSH_COMMAND", NULL);
    if (!CreateProcessW(NULL, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        fwprintf(stderr, L"standin-shell: cannot run cmd.exe: error %lu\n", GetLastError());
        free(line);
        return 1;
    }
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    free(line);
    return (int)code;
}
