/* SPDX-License-Identifier: MIT */
/* The device's counters, its pool accounting and the list of open handles. */
#include "sanctum.h"

VOID SanctumStateInit(PSANCTUM_STATE State)
{
    RtlZeroMemory(State, sizeof(*State));
    KeInitializeSpinLock(&State->HandlesLock);
    InitializeListHead(&State->Handles);
}

/* Every allocation of the driver goes through here, so that the stats show what is out. */
PVOID SanctumAllocate(PSANCTUM_STATE State, SIZE_T Bytes)
{
    PVOID block = ExAllocatePoolWithTag(NonPagedPoolNx, Bytes, SANCTUM_POOL_TAG);

    if (block) {
        InterlockedIncrement64(&State->PoolAllocations);
        InterlockedExchangeAdd64(&State->PoolBytes, (LONG64)Bytes);
    }
    return block;
}

VOID SanctumFree(PSANCTUM_STATE State, PVOID Block, SIZE_T Bytes)
{
    ExFreePoolWithTag(Block, SANCTUM_POOL_TAG);
    InterlockedDecrement64(&State->PoolAllocations);
    InterlockedExchangeAdd64(&State->PoolBytes, -(LONG64)Bytes);
}

VOID SanctumRecord(PSANCTUM_STATE State, NTSTATUS Status, ULONG64 BytesIn, ULONG64 BytesOut)
{
    if (!NT_SUCCESS(Status)) {
        InterlockedIncrement64(&State->Failures);
        return;
    }
    if (BytesIn)
        InterlockedExchangeAdd64(&State->BytesIn, (LONG64)BytesIn);
    if (BytesOut)
        InterlockedExchangeAdd64(&State->BytesOut, (LONG64)BytesOut);
}

/* An atomic read of a counter that other processors update. */
static ULONG64 SanctumRead64(volatile LONG64 *Counter)
{
    return (ULONG64)InterlockedCompareExchange64(Counter, 0, 0);
}

VOID SanctumSnapshot(PSANCTUM_STATE State, PSANCTUM_STATS Stats)
{
    RtlZeroMemory(Stats, sizeof(*Stats));
    Stats->Size = sizeof(*Stats);
    Stats->OpenHandles = (ULONG)InterlockedCompareExchange(&State->OpenHandles, 0, 0);
    Stats->Creates = SanctumRead64(&State->Creates);
    Stats->Closes = SanctumRead64(&State->Closes);
    Stats->Reads = SanctumRead64(&State->Reads);
    Stats->Writes = SanctumRead64(&State->Writes);
    Stats->Ioctls = SanctumRead64(&State->Ioctls);
    Stats->Failures = SanctumRead64(&State->Failures);
    Stats->BytesIn = SanctumRead64(&State->BytesIn);
    Stats->BytesOut = SanctumRead64(&State->BytesOut);
    Stats->PoolAllocations = SanctumRead64(&State->PoolAllocations);
    Stats->PoolBytes = SanctumRead64(&State->PoolBytes);
    Stats->EventsQueued = SanctumRead64(&State->EventsQueued);
    Stats->EventsDropped = SanctumRead64(&State->EventsDropped);
    Stats->Subscriptions = (ULONG)State->SubscriptionCount;
    Stats->PendingRequests = (ULONG)InterlockedCompareExchange(&State->PendingRequests, 0, 0);
    Stats->EventsDroppedNoMemory = SanctumRead64(&State->EventsDroppedNoMemory);
    Stats->MessageBytes = SanctumRead64(&State->MessageBytes);
}

VOID SanctumStateRelease(PSANCTUM_STATE State)
{
    KIRQL irql;

    /* Windows defers unload until every handle is closed; Wine does not, so free them here. */
    for (;;) {
        PLIST_ENTRY entry;

        KeAcquireSpinLock(&State->HandlesLock, &irql);
        entry = IsListEmpty(&State->Handles) ? NULL : State->Handles.Flink;
        KeReleaseSpinLock(&State->HandlesLock, irql);
        if (!entry)
            break;
        SanctumClose(State, CONTAINING_RECORD(entry, SANCTUM_HANDLE, Link));
    }
}
