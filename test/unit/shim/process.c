/* SPDX-License-Identifier: MIT */
/*
 * Which process a request comes from. Each test thread acts as one process at a time
 * (shim_set_process); the I/O manager names the sending thread in every IRP it builds
 * (Irp->Tail.Overlay.Thread), and IoGetRequestorProcess reads the process from there.
 */
#include "shim_private.h"

/* A thread object, as far as the shim's IRPs need one. */
typedef struct _SHIM_THREAD {
    struct _EPROCESS Process;
} SHIM_THREAD;

static _Thread_local SHIM_THREAD this_thread = { { SHIM_DEFAULT_PROCESS, STATUS_PENDING } };

VOID shim_set_process(HANDLE Pid)
{
    this_thread.Process.Id = Pid;
}

PVOID shim_current_thread(VOID)
{
    return &this_thread;
}

HANDLE PsGetCurrentProcessId(VOID)
{
    return this_thread.Process.Id;
}

HANDLE PsGetProcessId(PEPROCESS Process)
{
    return Process->Id;
}

PEPROCESS IoGetRequestorProcess(PIRP Irp)
{
    SHIM_THREAD *thread = Irp->Tail.Overlay.Thread;

    return thread ? &thread->Process : NULL;
}
