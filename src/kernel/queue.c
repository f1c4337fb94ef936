/* SPDX-License-Identifier: MIT */
/* Per-handle contexts and their message queues: create, cleanup, close, read and write. */
#include "sanctum.h"

typedef struct _SANCTUM_MESSAGE {
    LIST_ENTRY Link;
    ULONG Length;
    UCHAR Data[ANYSIZE_ARRAY];
} SANCTUM_MESSAGE, *PSANCTUM_MESSAGE;

static SIZE_T SanctumMessageSize(ULONG Length)
{
    return FIELD_OFFSET(SANCTUM_MESSAGE, Data) + (SIZE_T)Length;
}

NTSTATUS SanctumOpen(PSANCTUM_STATE State, PSANCTUM_HANDLE *Handle)
{
    PSANCTUM_HANDLE handle;
    KIRQL irql;

    *Handle = NULL;
    handle = SanctumAllocate(State, sizeof(*handle));
    if (!handle) {
        SanctumRecord(State, STATUS_INSUFFICIENT_RESOURCES, 0, 0);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    KeInitializeSpinLock(&handle->Lock);
    InitializeListHead(&handle->Messages);
    handle->Count = 0;
    handle->Subscription = NULL;

    KeAcquireSpinLock(&State->HandlesLock, &irql);
    InsertTailList(&State->Handles, &handle->Link);
    KeReleaseSpinLock(&State->HandlesLock, irql);

    InterlockedIncrement(&State->OpenHandles);
    InterlockedIncrement64(&State->Creates);
    *Handle = handle;
    return STATUS_SUCCESS;
}

/* Frees every queued message: the list is detached under the lock, freed outside it. */
static VOID SanctumDrain(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle)
{
    LIST_ENTRY detached;
    KIRQL irql;

    InitializeListHead(&detached);
    KeAcquireSpinLock(&Handle->Lock, &irql);
    if (!IsListEmpty(&Handle->Messages)) {
        detached.Flink = Handle->Messages.Flink;
        detached.Blink = Handle->Messages.Blink;
        detached.Flink->Blink = &detached;
        detached.Blink->Flink = &detached;
        InitializeListHead(&Handle->Messages);
    }
    Handle->Count = 0;
    KeReleaseSpinLock(&Handle->Lock, irql);

    while (!IsListEmpty(&detached)) {
        PSANCTUM_MESSAGE message =
            CONTAINING_RECORD(RemoveHeadList(&detached), SANCTUM_MESSAGE, Link);
        SanctumFree(State, message, SanctumMessageSize(message->Length));
    }
}

/*
 * The last user handle is gone: nobody can read the queue any more, and the handle's pending
 * GET_EVENTS requests must end now (Windows sends CLOSE only once they have all completed).
 */
VOID SanctumCleanup(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle)
{
    SanctumUnsubscribe(State, Handle);
    SanctumDrain(State, Handle);
}

VOID SanctumClose(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle)
{
    KIRQL irql;

    KeAcquireSpinLock(&State->HandlesLock, &irql);
    RemoveEntryList(&Handle->Link);
    KeReleaseSpinLock(&State->HandlesLock, irql);

    /*
     * Wine sends no CLEANUP when a handle closes with requests pending, only this CLOSE; and a
     * write or SUBSCRIBE still in flight when CLEANUP ran may have left something since.
     */
    SanctumUnsubscribe(State, Handle);
    SanctumDrain(State, Handle);
    SanctumFree(State, Handle, sizeof(*Handle));
    InterlockedDecrement(&State->OpenHandles);
    InterlockedIncrement64(&State->Closes);
}

static NTSTATUS SanctumEnqueue(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, const VOID *Data,
                               ULONG Length)
{
    PSANCTUM_MESSAGE message;
    BOOLEAN queued = FALSE;
    KIRQL irql;

    if (Length == 0 || Length > SANCTUM_MAX_MESSAGE || !Data)
        return STATUS_INVALID_PARAMETER;

    /* Allocate and copy before taking the lock: it is held only to link the message. */
    message = SanctumAllocate(State, SanctumMessageSize(Length));
    if (!message)
        return STATUS_INSUFFICIENT_RESOURCES;
    message->Length = Length;
    RtlCopyMemory(message->Data, Data, Length);

    KeAcquireSpinLock(&Handle->Lock, &irql);
    if (Handle->Count < SANCTUM_MAX_QUEUED) {
        InsertTailList(&Handle->Messages, &message->Link);
        Handle->Count++;
        queued = TRUE;
    }
    KeReleaseSpinLock(&Handle->Lock, irql);

    if (!queued) {
        SanctumFree(State, message, SanctumMessageSize(Length));
        return STATUS_DEVICE_BUSY;
    }
    return STATUS_SUCCESS;
}

NTSTATUS SanctumWrite(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, const VOID *Data, ULONG Length,
                      PULONG_PTR Information)
{
    NTSTATUS status;

    InterlockedIncrement64(&State->Writes);
    status = SanctumEnqueue(State, Handle, Data, Length);
    *Information = NT_SUCCESS(status) ? Length : 0;
    SanctumRecord(State, status, *Information, 0);
    return status;
}

static NTSTATUS SanctumDequeue(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, PVOID Buffer,
                               ULONG Length, PULONG_PTR Information)
{
    PSANCTUM_MESSAGE message = NULL;
    NTSTATUS status = STATUS_SUCCESS;
    KIRQL irql;

    KeAcquireSpinLock(&Handle->Lock, &irql);
    if (!IsListEmpty(&Handle->Messages)) {
        message = CONTAINING_RECORD(Handle->Messages.Flink, SANCTUM_MESSAGE, Link);
        /* Too small a buffer leaves the message queued: a read never loses data. */
        if (message->Length > Length || !Buffer) {
            status = STATUS_BUFFER_TOO_SMALL;
            message = NULL;
        } else {
            RemoveEntryList(&message->Link);
            Handle->Count--;
        }
    }
    KeReleaseSpinLock(&Handle->Lock, irql);

    if (message) {
        RtlCopyMemory(Buffer, message->Data, message->Length);
        *Information = message->Length;
        SanctumFree(State, message, SanctumMessageSize(message->Length));
    }
    return status;
}

NTSTATUS SanctumRead(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, PVOID Buffer, ULONG Length,
                     PULONG_PTR Information)
{
    NTSTATUS status;

    InterlockedIncrement64(&State->Reads);
    *Information = 0;
    status = SanctumDequeue(State, Handle, Buffer, Length, Information);
    SanctumRecord(State, status, 0, *Information);
    return status;
}
