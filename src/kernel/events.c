/* SPDX-License-Identifier: MIT */
/*
 * Protocol 2: subscriptions, their queues of event records, and the GET_EVENTS requests that
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

#define SANCTUM_STAGING_BYTES ((SIZE_T)SANCTUM_STAGING_BUFFERS * SANCTUM_MAX_EVENT_SIZE)

/*
 * The staging buffers (sanctum.h) come with the first subscription and stay until unload: a
 * callback that saw a subscription may be using them at any moment after. Nobody subscribed,
 * nobody needs them.
 */
static NTSTATUS SanctumStagingEnsure(PSANCTUM_STATE State)
{
    PUCHAR staging;
    KIRQL irql;

    if (State->Staging)
        return STATUS_SUCCESS;
    staging = SanctumAllocate(State, SANCTUM_STAGING_BYTES);
    if (!staging)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeAcquireSpinLock(&State->SubscriptionsLock, &irql);
    if (!State->Staging) {
        State->StagingFree = (LONG)((1ull << SANCTUM_STAGING_BUFFERS) - 1);
        State->Staging = staging;
        staging = NULL;
    }
    KeReleaseSpinLock(&State->SubscriptionsLock, irql);
    /* Another SUBSCRIBE installed its own meanwhile. */
    if (staging)
        SanctumFree(State, staging, SANCTUM_STAGING_BYTES);
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

/* ---- subscribe, unsubscribe ---- */

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

NTSTATUS SanctumSubscribe(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    PSANCTUM_STATE state = Request->State;
    PSANCTUM_HANDLE handle = Request->Handle;
    SANCTUM_SUBSCRIBE in;
    PSANCTUM_SUBSCRIPTION sub;
    PUCHAR ring;
    ULONG bytes, i;
    NTSTATUS status = STATUS_SUCCESS;
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
    if (handle->Subscription) {
        status = STATUS_OBJECT_NAME_COLLISION;
    } else if (state->SubscriptionCount >= SANCTUM_MAX_SUBSCRIPTIONS ||
               bytes > SANCTUM_MAX_TOTAL_QUEUE_BYTES - state->QueueBytes) {
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

VOID SanctumUnsubscribe(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle)
{
    PSANCTUM_SUBSCRIPTION sub;
    LIST_ENTRY cancelled;
    PUCHAR ring;
    ULONG capacity, i;
    PIRP irp;
    KIRQL irql;

    /* Taking the pointer makes this call the one that ends the subscription. */
    KeAcquireSpinLock(&State->SubscriptionsLock, &irql);
    sub = Handle->Subscription;
    Handle->Subscription = NULL;
    KeReleaseSpinLock(&State->SubscriptionsLock, irql);
    if (!sub)
        return;
    i = (ULONG)(sub - State->Subscriptions);
    InterlockedAnd(&State->ActiveSlots, ~SANCTUM_BIT(i));

    InitializeListHead(&cancelled);
    KeAcquireSpinLock(&sub->Lock, &irql);
    sub->Types = 0;
    sub->Owner = NULL;
    ring = sub->Ring;
    capacity = sub->Capacity;
    sub->Ring = NULL;
    sub->Capacity = sub->Head = sub->Used = 0;
    while ((irp = SanctumTakePending(State, sub)) != NULL)
        InsertTailList(&cancelled, &irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&sub->Lock, irql);

    while (!IsListEmpty(&cancelled)) {
        irp = CONTAINING_RECORD(RemoveHeadList(&cancelled), IRP, Tail.Overlay.ListEntry);
        SanctumCompletePending(State, irp, STATUS_CANCELLED, 0);
    }
    SanctumFree(State, ring, capacity);

    KeAcquireSpinLock(&State->SubscriptionsLock, &irql);
    State->SlotsInUse &= ~(1u << i);
    State->SubscriptionCount--;
    State->QueueBytes -= capacity;
    SanctumUpdateSubscribedTypes(State);
    KeReleaseSpinLock(&State->SubscriptionsLock, irql);
}

VOID SanctumEventsRelease(PSANCTUM_STATE State)
{
    KIRQL irql;

    for (;;) {
        PSANCTUM_HANDLE owner = NULL;

        KeAcquireSpinLock(&State->SubscriptionsLock, &irql);
        if (State->SlotsInUse)
            owner = State->Subscriptions[SANCTUM_LOWEST_BIT(State->SlotsInUse)].Owner;
        KeReleaseSpinLock(&State->SubscriptionsLock, irql);
        if (!owner)
            break;
        SanctumUnsubscribe(State, owner);
    }
    if (State->Staging) {
        SanctumFree(State, State->Staging, SANCTUM_STAGING_BYTES);
        State->Staging = NULL;
    }
}

/* ---- GET_EVENTS ---- */

NTSTATUS SanctumGetEvents(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    PSANCTUM_STATE state = Request->State;
    PSANCTUM_SUBSCRIPTION sub;
    PIRP irp = Request->Irp;
    NTSTATUS status = STATUS_PENDING;
    KIRQL irql;

    if (!Request->Output || Request->OutputLength < SANCTUM_MAX_EVENT_SIZE)
        return STATUS_BUFFER_TOO_SMALL;
    if (!Request->Handle || !irp)
        return STATUS_INVALID_DEVICE_STATE;
    KeAcquireSpinLock(&state->SubscriptionsLock, &irql);
    sub = Request->Handle->Subscription;
    KeReleaseSpinLock(&state->SubscriptionsLock, irql);
    if (!sub)
        return STATUS_INVALID_DEVICE_STATE;

    KeAcquireSpinLock(&sub->Lock, &irql);
    if (sub->Owner != Request->Handle) {
        /* The handle's CLEANUP ended the subscription while this request was on its way. */
        status = STATUS_INVALID_DEVICE_STATE;
    } else if (sub->Used) {
        *Information = SanctumRingRead(sub, Request->Output, Request->OutputLength);
        status = STATUS_SUCCESS;
    } else if (sub->PendingCount >= SANCTUM_MAX_PENDING_PER_HANDLE) {
        status = STATUS_DEVICE_BUSY;
    } else {
        irp->Tail.Overlay.DriverContext[0] = Request->Output;
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

/* Nothing could be built for this event: a drop for every subscription that wanted it. */
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
            InterlockedIncrement64(&State->EventsDropped);
        }
        KeReleaseSpinLock(&sub->Lock, irql);
    }
}

VOID SanctumEventInit(PSANCTUM_EVENT_HEADER Header, USHORT Type)
{
    LARGE_INTEGER now = { .QuadPart = 0 }; /* x64's KeQuerySystemTime stores through a cast */

    KeQuerySystemTime(&now);
    Header->Size = 0;
    Header->Type = Type;
    Header->Flags = 0;
    Header->Sequence = 0;
    Header->Time = now.QuadPart;
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
            SanctumEventDrop(State, SANCTUM_EVENT_MASK(Type));
            return NULL;
        }
        i = SANCTUM_LOWEST_BIT(free);
    } while (InterlockedCompareExchange(&State->StagingFree, free & ~SANCTUM_BIT(i), free) != free);

    record = (PSANCTUM_EVENT_HEADER)(State->Staging + (SIZE_T)i * SANCTUM_MAX_EVENT_SIZE);
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
    ULONG i = (ULONG)(((PUCHAR)Record - State->Staging) / SANCTUM_MAX_EVENT_SIZE);

    SanctumEventPublish(State, Record, BodyLength);
    InterlockedOr(&State->StagingFree, SANCTUM_BIT(i));
}

/* ---- MARK ---- */

/* The caller's bytes, in a record built on the stack (the system buffer is nonpaged anyway). */
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
    RtlCopyMemory(record.Data, Request->Input, Request->InputLength);
    SanctumEventPublish(Request->State, &record.Header, sizeof(record.Body) + Request->InputLength);
    return STATUS_SUCCESS;
}
