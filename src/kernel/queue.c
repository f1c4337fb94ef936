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
    handle->CleanedUp = FALSE;
    SanctumEventsOpen(State, handle);

    KeAcquireSpinLock(&State->HandlesLock, &irql);
    InsertTailList(&State->Handles, &handle->Link);
    KeReleaseSpinLock(&State->HandlesLock, irql);

    InterlockedIncrement(&State->OpenHandles);
    InterlockedIncrement64(&State->Creates);
    *Handle = handle;
    return STATUS_SUCCESS;
}

/* The global budget of queued message bytes: taken before a message is stored, given back
 * when it goes. */
static BOOLEAN SanctumTakeMessageBytes(PSANCTUM_STATE State, ULONG Length)
{
    LONG64 used;

    do {
        used = State->MessageBytes;
        if ((ULONG64)used + Length > SANCTUM_MAX_TOTAL_MESSAGE_BYTES)
            return FALSE;
    } while (InterlockedCompareExchange64(&State->MessageBytes, used + Length, used) != used);
    return TRUE;
}

static VOID SanctumFreeMessage(PSANCTUM_STATE State, PSANCTUM_MESSAGE Message)
{
    ULONG length = Message->Length;

    SanctumFree(State, Message, SanctumMessageSize(length));
    InterlockedExchangeAdd64(&State->MessageBytes, -(LONG64)length);
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

    while (!IsListEmpty(&detached))
        SanctumFreeMessage(State, CONTAINING_RECORD(RemoveHeadList(&detached), SANCTUM_MESSAGE,
                                                    Link));
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
     * write still in flight when CLEANUP ran may have queued a message since.
     */
    SanctumUnsubscribe(State, Handle);
    SanctumDrain(State, Handle);
    SanctumFree(State, Handle, sizeof(*Handle));
    InterlockedDecrement(&State->OpenHandles);
    InterlockedIncrement64(&State->Closes);
}

static NTSTATUS SanctumEnqueue(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle,
                               const SANCTUM_BUFFER *Data)
{
    ULONG length = Data->Length;
    PSANCTUM_MESSAGE message;
    BOOLEAN queued = FALSE;
    PVOID data;
    NTSTATUS status;
    KIRQL irql;

    /* The limits first: a write the driver refuses is never mapped. */
    if (length == 0 || length > SANCTUM_MAX_MESSAGE)
        return STATUS_INVALID_PARAMETER;
    if (!SanctumTakeMessageBytes(State, length))
        return STATUS_QUOTA_EXCEEDED;
    status = SanctumMapBuffer(Data, &data);
    if (NT_SUCCESS(status) && !data)
        status = STATUS_INVALID_PARAMETER;
    /* Allocate and copy before taking the lock: it is held only to link the message. */
    message = NT_SUCCESS(status) ? SanctumAllocate(State, SanctumMessageSize(length)) : NULL;
    if (!message) {
        InterlockedExchangeAdd64(&State->MessageBytes, -(LONG64)length);
        return NT_SUCCESS(status) ? STATUS_INSUFFICIENT_RESOURCES : status;
    }
    message->Length = length;
    RtlCopyMemory(message->Data, data, length);

    KeAcquireSpinLock(&Handle->Lock, &irql);
    if (Handle->Count < SANCTUM_MAX_QUEUED) {
        InsertTailList(&Handle->Messages, &message->Link);
        Handle->Count++;
        queued = TRUE;
    }
    KeReleaseSpinLock(&Handle->Lock, irql);

    if (!queued) {
        SanctumFreeMessage(State, message);
        return STATUS_DEVICE_BUSY;
    }
    return STATUS_SUCCESS;
}

NTSTATUS SanctumWrite(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, const SANCTUM_BUFFER *Data,
                      PULONG_PTR Information)
{
    NTSTATUS status;

    InterlockedIncrement64(&State->Writes);
    status = SanctumEnqueue(State, Handle, Data);
    *Information = NT_SUCCESS(status) ? Data->Length : 0;
    SanctumRecord(State, status, *Information, 0);
    return status;
}

/*
 * The oldest message, if Buffer holds it. The caller's pages are mapped only once a message
 * that fits is there; the lock is not held meanwhile, so the head is looked at again after.
 */
static NTSTATUS SanctumDequeue(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle,
                               const SANCTUM_BUFFER *Buffer, PULONG_PTR Information)
{
    PSANCTUM_MESSAGE message;
    PVOID out = NULL;
    NTSTATUS status;
    KIRQL irql;

    for (;;) {
        status = STATUS_SUCCESS;
        KeAcquireSpinLock(&Handle->Lock, &irql);
        message = IsListEmpty(&Handle->Messages)
                      ? NULL
                      : CONTAINING_RECORD(Handle->Messages.Flink, SANCTUM_MESSAGE, Link);
        /* Too small a buffer leaves the message queued: a read never loses data. */
        if (message && message->Length > Buffer->Length) {
            status = STATUS_BUFFER_TOO_SMALL;
            message = NULL;
        } else if (message && out) {
            RemoveEntryList(&message->Link);
            Handle->Count--;
        }
        KeReleaseSpinLock(&Handle->Lock, irql);
        if (!message || out)
            break;
        status = SanctumMapBuffer(Buffer, &out);
        if (!NT_SUCCESS(status))
            return status;
        if (!out)
            return STATUS_BUFFER_TOO_SMALL;
    }

    if (message) {
        RtlCopyMemory(out, message->Data, message->Length);
        *Information = message->Length;
        SanctumFreeMessage(State, message);
    }
    return status;
}

NTSTATUS SanctumRead(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, const SANCTUM_BUFFER *Buffer,
                     PULONG_PTR Information)
{
    NTSTATUS status;

    InterlockedIncrement64(&State->Reads);
    *Information = 0;
    status = SanctumDequeue(State, Handle, Buffer, Information);
    SanctumRecord(State, status, 0, *Information);
    return status;
}
