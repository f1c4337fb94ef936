/* SPDX-License-Identifier: MIT */
/*
 * The system's notifications: process creation and exit, thread creation and exit, image
 * loads. Each callback turns its arguments into one record (events.c queues it); it never
 * waits, and allocates (from a nonpaged lookaside list) only when every staging buffer is
 * taken. They run at PASSIVE_LEVEL (thread exit: up to APC_LEVEL), in the context of the
 * thread that caused the event, so the names they are given may be pageable: a record with
 * names is built in nonpaged memory (events.c) before any spin lock is taken; one without is
 * built on the stack.
 */
#include "sanctum.h"

/* The callbacks take no context: they publish to the one device that registered them. */
static PSANCTUM_STATE SanctumNotifyState;

static ULONG64 SanctumId(HANDLE Id)
{
    return (ULONG64)(ULONG_PTR)Id;
}

/*
 * Copies a name into Out, cut to at most Max bytes (a whole number of UTF-16 units), and
 * returns its length in bytes. A cut sets Cut in *Flags; no name at all sets Missing.
 */
static USHORT SanctumCopyName(PUCHAR Out, PCUNICODE_STRING Name, ULONG Max, PULONG Flags,
                              ULONG Cut, ULONG Missing)
{
    ULONG length;

    if (!Name || !Name->Buffer) {
        *Flags |= Missing;
        return 0;
    }
    length = Name->Length & ~1u;
    if (length > Max) {
        length = Max & ~1u;
        *Flags |= Cut;
    }
    RtlCopyMemory(Out, Name->Buffer, length);
    return (USHORT)length;
}

static VOID SanctumProcessCreated(PSANCTUM_STATE State, HANDLE ProcessId,
                                  PPS_CREATE_NOTIFY_INFO Info)
{
    PSANCTUM_EVENT_HEADER record = SanctumEventBegin(State, SANCTUM_EVENT_PROCESS_CREATE);
    PSANCTUM_PROCESS_CREATE body;
    PUCHAR names;

    if (!record)
        return;
    body = (PSANCTUM_PROCESS_CREATE)(record + 1);
    names = (PUCHAR)(body + 1);
    RtlZeroMemory(body, sizeof(*body));
    body->ProcessId = SanctumId(ProcessId);
    body->ParentProcessId = SanctumId(Info->ParentProcessId);
    body->CreatingProcessId = SanctumId(Info->CreatingThreadId.UniqueProcess);
    body->CreatingThreadId = SanctumId(Info->CreatingThreadId.UniqueThread);
    body->ImageNameLength = SanctumCopyName(names, Info->ImageFileName, SANCTUM_MAX_NAME_BYTES,
                                            &record->Flags, SANCTUM_EVENT_FLAG_NAME_TRUNCATED,
                                            SANCTUM_EVENT_FLAG_NAME_MISSING);
    /* The kernel could not open the file by this name: it may lack its volume, say. */
    if (!Info->FileOpenNameAvailable && body->ImageNameLength)
        record->Flags |= SANCTUM_EVENT_FLAG_NAME_PARTIAL;
    /* No command line is not an anomaly worth a flag: it is optional in PS_CREATE_NOTIFY_INFO. */
    body->CommandLineLength = SanctumCopyName(names + body->ImageNameLength, Info->CommandLine,
                                              SANCTUM_MAX_COMMAND_LINE_BYTES, &record->Flags,
                                              SANCTUM_EVENT_FLAG_COMMAND_LINE_TRUNCATED, 0);
    SanctumEventCommit(State, record,
                       sizeof(*body) + body->ImageNameLength + body->CommandLineLength);
}

/*
 * The records without names are built on this thread's stack, which is nonpaged while it runs.
 * Their frames carry a stack cookie: kept out of line, so that only an event somebody wants
 * pays for it, not every thread and process of the machine.
 */
#define SANCTUM_OUT_OF_LINE __attribute__((noinline))

static SANCTUM_OUT_OF_LINE VOID SanctumProcessExited(PSANCTUM_STATE State, PEPROCESS Process,
                                                     HANDLE ProcessId)
{
    struct {
        SANCTUM_EVENT_HEADER Header;
        SANCTUM_PROCESS_EXIT Body;
    } record;

    SanctumEventInit(&record.Header, SANCTUM_EVENT_PROCESS_EXIT);
    record.Body.ProcessId = SanctumId(ProcessId);
    record.Body.ExitStatus = PsGetProcessExitStatus(Process);
    record.Body.Reserved = 0;
    SanctumEventPublish(State, &record.Header, sizeof(record.Body));
}

static VOID SanctumOnProcess(PEPROCESS Process, HANDLE ProcessId, PPS_CREATE_NOTIFY_INFO CreateInfo)
{
    if (CreateInfo)
        SanctumProcessCreated(SanctumNotifyState, ProcessId, CreateInfo);
    else if (SanctumEventWanted(SanctumNotifyState, SANCTUM_EVENT_PROCESS_EXIT))
        SanctumProcessExited(SanctumNotifyState, Process, ProcessId);
}

static SANCTUM_OUT_OF_LINE VOID SanctumThreadEvent(PSANCTUM_STATE State, USHORT Type,
                                                   HANDLE ProcessId, HANDLE ThreadId)
{
    struct {
        SANCTUM_EVENT_HEADER Header;
        SANCTUM_THREAD Body;
    } record;

    SanctumEventInit(&record.Header, Type);
    record.Body.ProcessId = SanctumId(ProcessId);
    record.Body.ThreadId = SanctumId(ThreadId);
    SanctumEventPublish(State, &record.Header, sizeof(record.Body));
}

static VOID SanctumOnThread(HANDLE ProcessId, HANDLE ThreadId, BOOLEAN Create)
{
    PSANCTUM_STATE state = SanctumNotifyState;
    USHORT type = Create ? SANCTUM_EVENT_THREAD_CREATE : SANCTUM_EVENT_THREAD_EXIT;

    if (SanctumEventWanted(state, type))
        SanctumThreadEvent(state, type, ProcessId, ThreadId);
}

static VOID SanctumOnImage(PUNICODE_STRING FullImageName, HANDLE ProcessId, PIMAGE_INFO ImageInfo)
{
    PSANCTUM_EVENT_HEADER record = SanctumEventBegin(SanctumNotifyState, SANCTUM_EVENT_IMAGE_LOAD);
    PSANCTUM_IMAGE_LOAD body;

    if (!record)
        return;
    body = (PSANCTUM_IMAGE_LOAD)(record + 1);
    RtlZeroMemory(body, sizeof(*body));
    body->ProcessId = SanctumId(ProcessId);
    body->ImageBase = (ULONG64)(ULONG_PTR)ImageInfo->ImageBase;
    body->ImageSize = ImageInfo->ImageSize;
    body->Properties = ImageInfo->SystemModeImage ? SANCTUM_IMAGE_KERNEL : 0;
    body->NameLength = SanctumCopyName((PUCHAR)(body + 1), FullImageName, SANCTUM_MAX_NAME_BYTES,
                                       &record->Flags, SANCTUM_EVENT_FLAG_NAME_TRUNCATED,
                                       SANCTUM_EVENT_FLAG_NAME_MISSING);
    SanctumEventCommit(SanctumNotifyState, record, sizeof(*body) + body->NameLength);
}

/*
 * Registers the three callbacks, or none: a failure unwinds those already registered, in
 * reverse order. PsSetCreateProcessNotifyRoutineEx needs FORCE_INTEGRITY in the image (the
 * linker flags in toolchain/clang.mk and gcc.mk); without it Windows answers STATUS_ACCESS_DENIED.
 */
NTSTATUS SanctumNotifyRegister(PSANCTUM_STATE State)
{
    NTSTATUS status;

    SanctumNotifyState = State;
    status = PsSetCreateProcessNotifyRoutineEx(SanctumOnProcess, FALSE);
    if (!NT_SUCCESS(status)) {
        SanctumLog(DPFLTR_ERROR_LEVEL, "PsSetCreateProcessNotifyRoutineEx failed: 0x%08lx",
                   (unsigned long)status);
        goto fail;
    }
    status = PsSetCreateThreadNotifyRoutine(SanctumOnThread);
    if (!NT_SUCCESS(status)) {
        SanctumLog(DPFLTR_ERROR_LEVEL, "PsSetCreateThreadNotifyRoutine failed: 0x%08lx",
                   (unsigned long)status);
        goto fail_process;
    }
    status = PsSetLoadImageNotifyRoutine(SanctumOnImage);
    if (!NT_SUCCESS(status)) {
        SanctumLog(DPFLTR_ERROR_LEVEL, "PsSetLoadImageNotifyRoutine failed: 0x%08lx",
                   (unsigned long)status);
        goto fail_thread;
    }
    return STATUS_SUCCESS;

fail_thread:
    PsRemoveCreateThreadNotifyRoutine(SanctumOnThread);
fail_process:
    PsSetCreateProcessNotifyRoutineEx(SanctumOnProcess, TRUE);
fail:
    SanctumNotifyState = NULL;
    return status;
}

/* Windows returns from each removal only when no call of that callback is still running. */
VOID SanctumNotifyUnregister(VOID)
{
    PsRemoveLoadImageNotifyRoutine(SanctumOnImage);
    PsRemoveCreateThreadNotifyRoutine(SanctumOnThread);
    PsSetCreateProcessNotifyRoutineEx(SanctumOnProcess, TRUE);
    SanctumNotifyState = NULL;
}
