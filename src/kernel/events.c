/* SPDX-License-Identifier: MIT */
/*
 * Events: subscriptions, their queues of event records, and the GET_EVENTS requests that
 * agents keep pending here (the inverted call). The pending queue, its lock and its cancel
 * logic are all in this file: one place to read when a request hangs or completes twice.
 *
 * Who completes a pending request: whoever takes it off its subscription's Pending list AND
 * clears its cancel routine (IoSetCancelRoutine returns non-NULL). When the cancel routine was
 * already gone, IoCancelIrp is calling it: the taker leaves the IRP's list entry linked to
 * itself and walks away, and the cancel routine, once it gets the lock, completes the IRP.
 */
#include "sanctum.h"

static DRIVER_CANCEL SanctumCancelGetEvents;

#define SANCTUM_RECORD_ALIGN 8
#define SANCTUM_ALIGN_RECORD(n) (((n) + SANCTUM_RECORD_ALIGN - 1) & ~(ULONG)(SANCTUM_RECORD_ALIGN - 1))

/* Bit i of a slot bitmap; the slots fit in a LONG. */
_Static_assert(SANCTUM_MAX_SUBSCRIPTIONS <= 32 && SANCTUM_STAGING_BUFFERS <= 32, "one LONG of bits");
#define SANCTUM_BIT(i) ((LONG)(1u << (i)))
/* The lowest set bit's index; Bits is not 0. */
#define SANCTUM_LOWEST_BIT(Bits) ((ULONG)__builtin_ctz((ULONG)(Bits)))

VOID SanctumEventsInit(PSANCTUM_STATE State)
{
    ULONG i;

    for (i = 0; i < SANCTUM_MAX_SUBSCRIPTIONS; i++) {
        KeInitializeSpinLock(&State->Subscriptions[i].Lock);
        InitializeListHead(&State->Subscriptions[i].Pending);
    }
    KeInitializeSpinLock(&State->SubscriptionsLock);
}

VOID SanctumEventsOpen(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle)
{
    KIRQL irql;

    KeAcquireSpinLock(&State->SubscriptionsLock, &irql);
    Handle->Generation = State->Generation;
    KeReleaseSpinLock(&State->SubscriptionsLock, irql);
}

/*
 * The lookaside list's routines take no context: they account to the one device whose staging
 * block holds the list (set before the list exists, cleared after it is gone).
 */
static PSANCTUM_STATE SanctumSpareOwner;

static PVOID NTAPI SanctumSpareAllocate(POOL_TYPE PoolType, SIZE_T Bytes, ULONG Tag)
{
    UNREFERENCED_PARAMETER(PoolType);
    UNREFERENCED_PARAMETER(Tag);
    return SanctumAllocate(SanctumSpareOwner, Bytes);
}

static VOID NTAPI SanctumSpareFree(PVOID Block)
{
    SanctumFree(SanctumSpareOwner, Block, SANCTUM_MAX_EVENT_SIZE);
}

/*
 * The staging block (sanctum.h) comes with the first subscription and stays until unload: a
 * callback that saw a subscription may be using it at any moment after. Nobody subscribed,
 * nobody needs it.
 */
static NTSTATUS SanctumStagingEnsure(PSANCTUM_STATE State)
{
    PSANCTUM_STAGING staging;
    KIRQL irql;

    if (State->Staging)
        return STATUS_SUCCESS;
    staging = SanctumAllocate(State, sizeof(*staging));
    if (!staging)
        return STATUS_INSUFFICIENT_RESOURCES;
    SanctumSpareOwner = State;
    ExInitializeNPagedLookasideList(&staging->Spare, SanctumSpareAllocate, SanctumSpareFree, 0,
                                    SANCTUM_MAX_EVENT_SIZE, SANCTUM_POOL_TAG, 0);
    KeAcquireSpinLock(&State->SubscriptionsLock, &irql);
    if (!State->Staging) {
        State->StagingFree = (LONG)((1ull << SANCTUM_STAGING_BUFFERS) - 1);
        State->Staging = staging;
        staging = NULL;
    }
    KeReleaseSpinLock(&State->SubscriptionsLock, irql);
    /* Another SUBSCRIBE installed its own meanwhile. */
    if (staging) {
        ExDeleteNPagedLookasideList(&staging->Spare);
        SanctumFree(State, staging, sizeof(*staging));
    }
    return STATUS_SUCCESS;
}

/* ---- the ring of records: called with the subscription's lock held ---- */

static VOID SanctumRingWrite(PSANCTUM_SUBSCRIPTION Sub, const VOID *Record, ULONG Size)
{
    ULONG tail = Sub->Head + Sub->Used;
    ULONG room;

    if (tail >= Sub->Capacity)
        tail -= Sub->Capacity;
    room = Sub->Capacity - tail;
    if (Size <= room) {
        RtlCopyMemory(Sub->Ring + tail, Record, Size);
    } else {
        /* The record wraps: its rest goes to the ring's start. */
        RtlCopyMemory(Sub->Ring + tail, Record, room);
        RtlCopyMemory(Sub->Ring, (const UCHAR *)Record + room, Size - room);
    }
    Sub->Used += Size;
}

/* Moves whole records, oldest first, into Out while they fit; returns the bytes moved. */
static ULONG SanctumRingRead(PSANCTUM_SUBSCRIPTION Sub, PUCHAR Out, ULONG Length)
{
    ULONG done = 0;

    while (Sub->Used) {
        /* Records start 8-aligned and the capacity is a multiple of 8: Size never wraps. */
        USHORT size = ((const SANCTUM_EVENT_HEADER *)(Sub->Ring + Sub->Head))->Size;
        ULONG room = Sub->Capacity - Sub->Head;

        if (size > Length - done)
            break;
        if (size <= room) {
            RtlCopyMemory(Out + done, Sub->Ring + Sub->Head, size);
        } else {
            RtlCopyMemory(Out + done, Sub->Ring + Sub->Head, room);
            RtlCopyMemory(Out + done + room, Sub->Ring, size - room);
        }
        Sub->Head += size;
        if (Sub->Head >= Sub->Capacity)
            Sub->Head -= Sub->Capacity;
        Sub->Used -= size;
        done += size;
    }
    if (!Sub->Used)
        Sub->Head = 0;
    return done;
}

/* ---- pending GET_EVENTS requests ---- */

static PVOID SanctumPendingOutput(PIRP Irp)
{
    return Irp->Tail.Overlay.DriverContext[0];
}

/* The one completion of a request that was pended: counted, then completed. */
static VOID SanctumCompletePending(PSANCTUM_STATE State, PIRP Irp, NTSTATUS Status,
                                   ULONG_PTR Information)
{
    SanctumRecord(State, Status, 0, Information);
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

/*
 * Takes the oldest pending request that this caller may complete, or NULL. Called with the
 * subscription's lock held. A request whose cancel routine is already running is unlinked
 * and left to that routine (see the top of this file).
 */
static PIRP SanctumTakePending(PSANCTUM_STATE State, PSANCTUM_SUBSCRIPTION Sub)
{
    while (!IsListEmpty(&Sub->Pending)) {
        PLIST_ENTRY entry = RemoveHeadList(&Sub->Pending);
        PIRP irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);

        Sub->PendingCount--;
        InterlockedDecrement(&State->PendingRequests);
        if (IoSetCancelRoutine(irp, NULL))
            return irp;
        InitializeListHead(entry);
    }
    return NULL;
}

/* IoCancelIrp calls this holding the cancel spin lock, on Windows and on Wine alike. */
static VOID SanctumCancelGetEvents(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSANCTUM_STATE state = Irp->Tail.Overlay.DriverContext[1];
    PSANCTUM_SUBSCRIPTION sub = Irp->Tail.Overlay.DriverContext[2];
    PLIST_ENTRY entry = &Irp->Tail.Overlay.ListEntry;
    KIRQL irql;

    UNREFERENCED_PARAMETER(DeviceObject);
    IoReleaseCancelSpinLock(Irp->CancelIrql);

    KeAcquireSpinLock(&sub->Lock, &irql);
    /* Still queued, unless a completer unlinked it (then it points to itself). */
    if (!IsListEmpty(entry)) {
        RemoveEntryList(entry);
        sub->PendingCount--;
        InterlockedDecrement(&state->PendingRequests);
    }
    KeReleaseSpinLock(&sub->Lock, irql);
    SanctumCompletePending(state, Irp, STATUS_CANCELLED, 0);
}

/* ---- subscribe, unsubscribe, disconnect ---- */

/* Called with SubscriptionsLock held. */
static VOID SanctumUpdateSubscribedTypes(PSANCTUM_STATE State)
{
    ULONG slots = State->SlotsInUse, types = 0;

    while (slots) {
        ULONG i = SANCTUM_LOWEST_BIT(slots);

        slots &= slots - 1;
        types |= State->Subscriptions[i].Types;
    }
    InterlockedExchange(&State->SubscribedTypes, (LONG)types);
}

/*
 * Why a handle may no longer subscribe or pend, or STATUS_SUCCESS. Called with SubscriptionsLock
 * held, or with a slot's lock after its subscription was seen gone: whoever ended it set these
 * first, under SubscriptionsLock.
 */
static NTSTATUS SanctumHandleStatus(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle)
{
    if (Handle->CleanedUp)
        return STATUS_DELETE_PENDING;
    if (Handle->Generation != State->Generation)
        return STATUS_DEVICE_NOT_CONNECTED;
    return STATUS_SUCCESS;
}

/* Subscriptions made by Process (an id, never dereferenced), in use now. Called with
 * SubscriptionsLock held. */
// cppcheck-suppress constParameter
static ULONG SanctumSubscriptionsOf(PSANCTUM_STATE State, HANDLE Process)
{
    ULONG slots = State->SlotsInUse, n = 0;

    while (slots) {
        n += State->Subscriptions[SANCTUM_LOWEST_BIT(slots)].ProcessId == Process;
        slots &= slots - 1;
    }
    return n;
}

NTSTATUS SanctumSubscribe(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    PSANCTUM_STATE state = Request->State;
    PSANCTUM_HANDLE handle = Request->Handle;
    SANCTUM_SUBSCRIBE in;
    PSANCTUM_SUBSCRIPTION sub;
    PUCHAR ring;
    ULONG bytes, i;
    NTSTATUS status;
    KIRQL irql, subIrql;

    UNREFERENCED_PARAMETER(Information);
    if (Request->InputLength != sizeof(in) || !Request->Input)
        return STATUS_INVALID_PARAMETER;
    RtlCopyMemory(&in, Request->Input, sizeof(in));
    if (in.Size != sizeof(in) || in.Types == 0 || (in.Types & ~(ULONG)SANCTUM_EVENT_ALL))
        return STATUS_INVALID_PARAMETER;
    bytes = in.QueueBytes ? in.QueueBytes : SANCTUM_DEFAULT_QUEUE_BYTES;
    if (bytes < SANCTUM_MIN_QUEUE_BYTES || bytes > SANCTUM_MAX_QUEUE_BYTES)
        return STATUS_INVALID_PARAMETER;
    bytes = SANCTUM_ALIGN_RECORD(bytes);
    if (!handle)
        return STATUS_INVALID_DEVICE_STATE;

    status = SanctumStagingEnsure(state);
    if (!NT_SUCCESS(status))
        return status;
    /* Allocated before the lock, so the checks and the install below are one step. */
    ring = SanctumAllocate(state, bytes);
    if (!ring)
        return STATUS_INSUFFICIENT_RESOURCES;

    KeAcquireSpinLock(&state->SubscriptionsLock, &irql);
    status = SanctumHandleStatus(state, handle);
    if (!NT_SUCCESS(status)) {
        /* A SUBSCRIBE dispatched after its handle's CLEANUP, or one DISCONNECT ended. */
    } else if (handle->Subscription) {
        status = STATUS_OBJECT_NAME_COLLISION;
    } else if (state->SubscriptionCount >= SANCTUM_MAX_SUBSCRIPTIONS ||
               bytes > SANCTUM_MAX_TOTAL_QUEUE_BYTES - state->QueueBytes ||
               SanctumSubscriptionsOf(state, Request->ProcessId) >=
                   SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS) {
        status = STATUS_QUOTA_EXCEEDED;
    } else {
        i = SANCTUM_LOWEST_BIT(~state->SlotsInUse);
        sub = &state->Subscriptions[i];
        KeAcquireSpinLock(&sub->Lock, &subIrql);
        sub->Owner = handle;
        sub->Ring = ring;
        sub->Capacity = bytes;
        sub->Head = sub->Used = 0;
        sub->Sequence = 0;
        sub->Types = in.Types;
        KeReleaseSpinLock(&sub->Lock, subIrql);
        sub->ProcessId = Request->ProcessId;
        state->SlotsInUse |= 1u << i;
        state->SubscriptionCount++;
        state->QueueBytes += bytes;
        handle->Subscription = sub;
        SanctumUpdateSubscribedTypes(state);
        InterlockedOr(&state->ActiveSlots, SANCTUM_BIT(i));
        ring = NULL;
    }
    KeReleaseSpinLock(&state->SubscriptionsLock, irql);

    if (ring)
        SanctumFree(state, ring, bytes);
    return status;
}

/* A subscription taken from its handle, on its way out (SanctumDetach, then SanctumRetire). */
typedef struct _SANCTUM_DETACHED {
    PSANCTUM_SUBSCRIPTION Sub;
    PUCHAR Ring;
    ULONG Capacity;
    LIST_ENTRY Requests; /* its pending GET_EVENTS, to complete */
} SANCTUM_DETACHED;

/*
 * Takes Sub from its owner: from now on no callback queues to it and no request finds it.
 * Called with SubscriptionsLock held; the slot's lock nests inside it, as in SUBSCRIBE. Owner is
 * written under both locks, so either lock is enough to read it.
 */
static VOID SanctumDetach(PSANCTUM_STATE State, PSANCTUM_SUBSCRIPTION Sub, SANCTUM_DETACHED *Out)
{
    PIRP irp;
    KIRQL irql;

    Sub->Owner->Subscription = NULL;
    InterlockedAnd(&State->ActiveSlots, ~SANCTUM_BIT((ULONG)(Sub - State->Subscriptions)));
    Out->Sub = Sub;
    InitializeListHead(&Out->Requests);
    KeAcquireSpinLock(&Sub->Lock, &irql);
    Sub->Types = 0;
    Sub->Owner = NULL;
    Out->Ring = Sub->Ring;
    Out->Capacity = Sub->Capacity;
    Sub->Ring = NULL;
    Sub->Capacity = Sub->Head = Sub->Used = 0;
    while ((irp = SanctumTakePending(State, Sub)) != NULL)
        InsertTailList(&Out->Requests, &irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&Sub->Lock, irql);
}

/* The rest of the way out, holding no lock: its requests end with Status, its slot is free. */
static VOID SanctumRetire(PSANCTUM_STATE State, SANCTUM_DETACHED *Detached, NTSTATUS Status)
{
    ULONG i = (ULONG)(Detached->Sub - State->Subscriptions);
    KIRQL irql;

    while (!IsListEmpty(&Detached->Requests)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(&Detached->Requests), IRP,
                                     Tail.Overlay.ListEntry);
        SanctumCompletePending(State, irp, Status, 0);
    }
    SanctumFree(State, Detached->Ring, Detached->Capacity);

    KeAcquireSpinLock(&State->SubscriptionsLock, &irql);
    Detached->Sub->ProcessId = NULL;
    State->SlotsInUse &= ~(1u << i);
    State->SubscriptionCount--;
    State->QueueBytes -= Detached->Capacity;
    SanctumUpdateSubscribedTypes(State);
    KeReleaseSpinLock(&State->SubscriptionsLock, irql);
}

VOID SanctumUnsubscribe(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle)
{
    SANCTUM_DETACHED detached;
    PSANCTUM_SUBSCRIPTION sub;
    KIRQL irql;

    /* One step: no request that reaches this handle later can subscribe or pend again. */
    KeAcquireSpinLock(&State->SubscriptionsLock, &irql);
    Handle->CleanedUp = TRUE;
    sub = Handle->Subscription;
    if (sub)
        SanctumDetach(State, sub, &detached);
    KeReleaseSpinLock(&State->SubscriptionsLock, irql);
    if (sub)
        SanctumRetire(State, &detached, STATUS_CANCELLED);
}

/*
 * Ends, one at a time, every subscription whose owner Gone says must go, with Status. Gone is
 * called with SubscriptionsLock held; a slot whose owner is already gone is being retired by
 * whoever took it.
 */
static VOID SanctumEndEvery(PSANCTUM_STATE State,
                            BOOLEAN (*Gone)(PSANCTUM_STATE State, PSANCTUM_HANDLE Owner),
                            NTSTATUS Status)
{
    for (;;) {
        SANCTUM_DETACHED detached;
        ULONG slots;
        BOOLEAN found = FALSE;
        KIRQL irql;

        KeAcquireSpinLock(&State->SubscriptionsLock, &irql);
        for (slots = State->SlotsInUse; slots && !found; slots &= slots - 1) {
            PSANCTUM_SUBSCRIPTION sub = &State->Subscriptions[SANCTUM_LOWEST_BIT(slots)];

            if (sub->Owner && Gone(State, sub->Owner)) {
                SanctumDetach(State, sub, &detached);
                found = TRUE;
            }
        }
        KeReleaseSpinLock(&State->SubscriptionsLock, irql);
        if (!found)
            break;
        SanctumRetire(State, &detached, Status);
    }
}

static BOOLEAN SanctumAnyOwner(PSANCTUM_STATE State, PSANCTUM_HANDLE Owner)
{
    UNREFERENCED_PARAMETER(State);
    UNREFERENCED_PARAMETER(Owner);
    return TRUE;
}

static BOOLEAN SanctumOwnerDisconnected(PSANCTUM_STATE State, PSANCTUM_HANDLE Owner)
{
    return Owner->Generation != State->Generation;
}

VOID SanctumEventsRelease(PSANCTUM_STATE State)
{
    SanctumEndEvery(State, SanctumAnyOwner, STATUS_CANCELLED);
    if (State->Staging) {
        ExDeleteNPagedLookasideList(&State->Staging->Spare);
        SanctumFree(State, State->Staging, sizeof(*State->Staging));
        State->Staging = NULL;
        SanctumSpareOwner = NULL;
    }
}

/*
 * Every handle open now is disconnected (a new generation begins), and every subscription
 * they hold ends: pending GET_EVENTS complete with STATUS_DEVICE_NOT_CONNECTED. The generation
 * changes before the first subscription ends, so a SUBSCRIBE racing this one either comes
 * first and is ended here, or comes after and is refused.
 */
NTSTATUS SanctumDisconnect(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    PSANCTUM_STATE state = Request->State;
    KIRQL irql;

    UNREFERENCED_PARAMETER(Information);
    if (Request->InputLength != 0)
        return STATUS_INVALID_PARAMETER;
    KeAcquireSpinLock(&state->SubscriptionsLock, &irql);
    state->Generation++;
    KeReleaseSpinLock(&state->SubscriptionsLock, irql);
    SanctumEndEvery(state, SanctumOwnerDisconnected, STATUS_DEVICE_NOT_CONNECTED);
    return STATUS_SUCCESS;
}

/* ---- GET_EVENTS ---- */

NTSTATUS SanctumGetEvents(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    PSANCTUM_STATE state = Request->State;
    PSANCTUM_HANDLE handle = Request->Handle;
    PSANCTUM_SUBSCRIPTION sub = NULL;
    PIRP irp = Request->Irp;
    PVOID output;
    NTSTATUS status;
    KIRQL irql;

    /* The lengths first: a buffer larger than any queue could fill is never mapped. */
    if (Request->Output.Length < SANCTUM_MAX_EVENT_SIZE)
        return STATUS_BUFFER_TOO_SMALL;
    if (Request->Output.Length > SANCTUM_MAX_QUEUE_BYTES)
        return STATUS_INVALID_PARAMETER;
    if (!handle || !irp)
        return STATUS_INVALID_DEVICE_STATE;
    KeAcquireSpinLock(&state->SubscriptionsLock, &irql);
    status = SanctumHandleStatus(state, handle);
    if (NT_SUCCESS(status))
        sub = handle->Subscription;
    KeReleaseSpinLock(&state->SubscriptionsLock, irql);
    if (!NT_SUCCESS(status))
        return status;
    if (!sub)
        return STATUS_INVALID_DEVICE_STATE;
    status = SanctumMapBuffer(&Request->Output, &output);
    if (!NT_SUCCESS(status))
        return status;
    if (!output)
        return STATUS_BUFFER_TOO_SMALL;

    status = STATUS_PENDING;
    KeAcquireSpinLock(&sub->Lock, &irql);
    if (sub->Owner != handle) {
        /* The handle's CLEANUP, or a DISCONNECT, ended the subscription meanwhile. */
        status = SanctumHandleStatus(state, handle);
        if (NT_SUCCESS(status))
            status = STATUS_INVALID_DEVICE_STATE;
    } else if (sub->Used) {
        *Information = SanctumRingRead(sub, output, Request->Output.Length);
        status = STATUS_SUCCESS;
    } else if (sub->PendingCount >= SANCTUM_MAX_PENDING_PER_HANDLE) {
        status = STATUS_DEVICE_BUSY;
    } else {
        irp->Tail.Overlay.DriverContext[0] = output;
        irp->Tail.Overlay.DriverContext[1] = state;
        irp->Tail.Overlay.DriverContext[2] = sub;
        (VOID)IoSetCancelRoutine(irp, SanctumCancelGetEvents);
        if (irp->Cancel && IoSetCancelRoutine(irp, NULL)) {
            /* Cancelled before it was queued, and its cancel routine will not run. */
            status = STATUS_CANCELLED;
        } else {
            /* Queued even when IoCancelIrp holds the routine: the routine unlinks it. */
            IoMarkIrpPending(irp);
            InsertTailList(&sub->Pending, &irp->Tail.Overlay.ListEntry);
            sub->PendingCount++;
            InterlockedIncrement(&state->PendingRequests);
        }
    }
    KeReleaseSpinLock(&sub->Lock, irql);
    return status;
}

/* ---- publishing ---- */

/*
 * No pool was left to build this event in: a drop for every subscription that wanted it,
 * counted apart from the drops of full queues.
 */
static VOID SanctumEventDrop(PSANCTUM_STATE State, ULONG Mask)
{
    ULONG slots = (ULONG)State->ActiveSlots;

    while (slots) {
        PSANCTUM_SUBSCRIPTION sub = &State->Subscriptions[SANCTUM_LOWEST_BIT(slots)];
        KIRQL irql;

        slots &= slots - 1;
        KeAcquireSpinLock(&sub->Lock, &irql);
        if (sub->Types & Mask) {
            sub->Sequence++;
            InterlockedIncrement64(&State->EventsDroppedNoMemory);
        }
        KeReleaseSpinLock(&sub->Lock, irql);
    }
}

PSANCTUM_EVENT_HEADER SanctumEventBegin(PSANCTUM_STATE State, USHORT Type)
{
    PSANCTUM_EVENT_HEADER record;
    LONG free;
    ULONG i;

    if (!SanctumEventWanted(State, Type))
        return NULL;
    do {
        free = State->StagingFree;
        if (!free) {
            /* Every buffer is held (by callbacks faulting names in, say): nonpaged pool,
             * which these callbacks may allocate from, is the fallback. */
            record = ExAllocateFromNPagedLookasideList(&State->Staging->Spare);
            if (!record) {
                SanctumEventDrop(State, SANCTUM_EVENT_MASK(Type));
                return NULL;
            }
            SanctumEventInit(record, Type);
            return record;
        }
        i = SANCTUM_LOWEST_BIT(free);
    } while (InterlockedCompareExchange(&State->StagingFree, free & ~SANCTUM_BIT(i), free) != free);

    record = (PSANCTUM_EVENT_HEADER)State->Staging->Buffers[i];
    SanctumEventInit(record, Type);
    return record;
}

VOID SanctumEventPublish(PSANCTUM_STATE State, PSANCTUM_EVENT_HEADER Record, ULONG BodyLength)
{
    static const UCHAR zeros[SANCTUM_RECORD_ALIGN];
    ULONG size = sizeof(*Record) + BodyLength;
    ULONG mask = SANCTUM_EVENT_MASK(Record->Type);
    ULONG slots = (ULONG)State->ActiveSlots;

    /* Padding is zeroed: not a byte the driver did not mean to send reaches user mode. */
    if (SANCTUM_ALIGN_RECORD(size) != size)
        RtlCopyMemory((PUCHAR)Record + size, zeros, SANCTUM_ALIGN_RECORD(size) - size);
    size = SANCTUM_ALIGN_RECORD(size);
    Record->Size = (USHORT)size;

    while (slots) {
        PSANCTUM_SUBSCRIPTION sub = &State->Subscriptions[SANCTUM_LOWEST_BIT(slots)];
        PIRP irp = NULL;
        KIRQL irql;

        slots &= slots - 1;
        if (!(sub->Types & mask))
            continue;
        KeAcquireSpinLock(&sub->Lock, &irql);
        if (sub->Types & mask) {
            Record->Sequence = ++sub->Sequence;
            /* A request pends only while the ring is empty, and its buffer holds the largest
             * record: this one, the oldest, goes straight to it. */
            irp = SanctumTakePending(State, sub);
            if (irp) {
                RtlCopyMemory(SanctumPendingOutput(irp), Record, size);
                InterlockedIncrement64(&State->EventsQueued);
            } else if (size <= sub->Capacity - sub->Used) {
                SanctumRingWrite(sub, Record, size);
                InterlockedIncrement64(&State->EventsQueued);
            } else {
                InterlockedIncrement64(&State->EventsDropped);
            }
        }
        KeReleaseSpinLock(&sub->Lock, irql);
        if (irp)
            SanctumCompletePending(State, irp, STATUS_SUCCESS, size);
    }
}

VOID SanctumEventCommit(PSANCTUM_STATE State, PSANCTUM_EVENT_HEADER Record, ULONG BodyLength)
{
    PSANCTUM_STAGING staging = State->Staging;
    ULONG_PTR offset = (ULONG_PTR)((PUCHAR)Record - (PUCHAR)staging->Buffers);

    SanctumEventPublish(State, Record, BodyLength);
    if (offset < sizeof(staging->Buffers))
        InterlockedOr(&State->StagingFree, SANCTUM_BIT((ULONG)(offset / SANCTUM_MAX_EVENT_SIZE)));
    else
        ExFreeToNPagedLookasideList(&staging->Spare, Record);
}

/* ---- MARK ---- */

/*
 * The caller's bytes and process id, in a record built on the stack (the system buffer is
 * nonpaged anyway).
 */
NTSTATUS SanctumMark(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    struct {
        SANCTUM_EVENT_HEADER Header;
        SANCTUM_MARK Body;
        UCHAR Data[SANCTUM_MAX_MARK + SANCTUM_RECORD_ALIGN];
    } record;

    UNREFERENCED_PARAMETER(Information);
    if (Request->InputLength == 0 || Request->InputLength > SANCTUM_MAX_MARK || !Request->Input)
        return STATUS_INVALID_PARAMETER;
    if (!SanctumEventWanted(Request->State, SANCTUM_EVENT_MARK))
        return STATUS_SUCCESS;
    SanctumEventInit(&record.Header, SANCTUM_EVENT_MARK);
    record.Body.Length = Request->InputLength;
    record.Body.Reserved = 0;
    record.Body.SenderProcessId = (ULONG64)(ULONG_PTR)Request->ProcessId;
    RtlCopyMemory(record.Data, Request->Input, Request->InputLength);
    SanctumEventPublish(Request->State, &record.Header, sizeof(record.Body) + Request->InputLength);
    return STATUS_SUCCESS;
}
