/* SPDX-License-Identifier: MIT */
/*
 * Private to the driver. driver.c turns IRPs into calls to the functions declared here;
 * they see plain buffers and lengths, never an IRP, so the host tests can call them too.
 */
#ifndef SANCTUM_PRIVATE_H
#define SANCTUM_PRIVATE_H

#include "compat.h"
#include <sanctum/ioctl.h>

/* 'Sanc' as the WDK's multi-character constant 'cnaS' spells it, without -Wmultichar. */
#ifndef SANCTUM_POOL_TAG
#define SANCTUM_POOL_TAG \
    ((ULONG)'S' | ((ULONG)'a' << 8) | ((ULONG)'n' << 16) | ((ULONG)'c' << 24))
#endif

/* DbgPrintEx with the component and prefix every line of ours carries. */
#define SanctumLog(Level, Fmt, ...) \
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, (Level), SANCTUM_LOG_PREFIX ": " Fmt "\n", ##__VA_ARGS__)

/*
 * One subscription (protocol 2): the event types it takes, its queue of whole records and its
 * pending GET_EVENTS requests. The slots live in the device extension, so a cancel routine
 * can always take a slot's lock, whatever became of the handle that subscribed.
 */
typedef struct _SANCTUM_SUBSCRIPTION {
    KSPIN_LOCK Lock;          /* guards every field below but ProcessId */
    volatile ULONG Types;     /* SANCTUM_EVENT_MASK bits; 0 while the slot is free */
    struct _SANCTUM_HANDLE *Owner;
    HANDLE ProcessId;         /* who subscribed; guarded by SANCTUM_STATE.SubscriptionsLock */
    PUCHAR Ring;              /* Capacity bytes of records, the oldest at Head */
    ULONG Capacity;
    ULONG Head;
    ULONG Used;
    ULONG64 Sequence;         /* of the last event that matched Types, queued or dropped */
    LIST_ENTRY Pending;       /* pended GET_EVENTS IRPs (Tail.Overlay.ListEntry), oldest first */
    ULONG PendingCount;
} SANCTUM_SUBSCRIPTION, *PSANCTUM_SUBSCRIPTION;

/*
 * A record with names is built in one of these nonpaged buffers before it is copied to each
 * queue: the names a callback gets may be pageable, and only nonpaged memory may be touched
 * under a spin lock. Claimed and released with interlocked operations: a callback never waits
 * for one. When all are in use (a callback may hold one while it faults in a name), the record
 * is built in a block from a nonpaged lookaside list instead; only when pool itself is
 * exhausted is the event dropped (and counted as such) on every queue that wanted it. Both
 * come with the first SUBSCRIBE and go at unload.
 */
#define SANCTUM_STAGING_BUFFERS 16

/* One nonpaged block: the lookaside list first (it must be cache-aligned, and a block this
 * large starts on a page), then the staging buffers. */
typedef struct _SANCTUM_STAGING {
    NPAGED_LOOKASIDE_LIST Spare; /* records of the largest size when no buffer is free */
    UCHAR Buffers[SANCTUM_STAGING_BUFFERS][SANCTUM_MAX_EVENT_SIZE];
} SANCTUM_STAGING, *PSANCTUM_STAGING;

/* The longest service key path the driver records its unload under (driver.c). */
#define SANCTUM_REGISTRY_PATH_CHARS 256

/* The device's state, in its device extension. Counters change only through Interlocked*. */
typedef struct _SANCTUM_STATE {
    volatile LONG OpenHandles;
    volatile LONG64 Creates;
    volatile LONG64 Closes;
    volatile LONG64 Reads;
    volatile LONG64 Writes;
    volatile LONG64 Ioctls;
    volatile LONG64 Failures;
    volatile LONG64 BytesIn;
    volatile LONG64 BytesOut;
    volatile LONG64 PoolAllocations; /* outstanding now */
    volatile LONG64 PoolBytes;       /* outstanding now */
    volatile LONG64 MessageBytes;    /* of every handle's queued messages, at most
                                      * SANCTUM_MAX_TOTAL_MESSAGE_BYTES */
    KSPIN_LOCK HandlesLock;          /* guards Handles */
    LIST_ENTRY Handles;              /* every open SANCTUM_HANDLE */

    /* Protocol 2: events. */
    volatile LONG64 EventsQueued;
    volatile LONG64 EventsDropped;
    volatile LONG64 EventsDroppedNoMemory;
    volatile LONG PendingRequests;
    volatile LONG ActiveSlots;       /* bit i: Subscriptions[i] takes events */
    volatile LONG SubscribedTypes;   /* the union of every subscription's Types */
    volatile LONG StagingFree;       /* bit i: staging buffer i is free */
    PSANCTUM_STAGING Staging;        /* from the first SUBSCRIBE to unload; set under
                                      * SubscriptionsLock */
    KSPIN_LOCK SubscriptionsLock;    /* guards the five below and SANCTUM_HANDLE.Subscription
                                      * and .Flags */
    ULONG SlotsInUse;
    ULONG SubscriptionCount;
    ULONG QueueBytes;                /* of every subscription's queue */
    ULONG Generation;                /* DISCONNECTs so far: a handle opened before the last
                                      * one is disconnected */
    SANCTUM_SUBSCRIPTION Subscriptions[SANCTUM_MAX_SUBSCRIPTIONS];
    WCHAR RegistryPath[SANCTUM_REGISTRY_PATH_CHARS]; /* the service's key, terminated; empty
                                      * when DriverEntry's was too long to keep */
} SANCTUM_STATE, *PSANCTUM_STATE;

/* One per open handle (FileObject->FsContext): its own message queue, its subscription. */
typedef struct _SANCTUM_HANDLE {
    LIST_ENTRY Link;     /* in SANCTUM_STATE.Handles, guarded by HandlesLock */
    KSPIN_LOCK Lock;     /* guards Messages and Count */
    LIST_ENTRY Messages; /* SANCTUM_MESSAGE, oldest first */
    ULONG Count;
    /* The four below are guarded by SANCTUM_STATE.SubscriptionsLock. */
    PSANCTUM_SUBSCRIPTION Subscription;
    ULONG Generation;    /* SANCTUM_STATE.Generation when the handle was opened */
    BOOLEAN CleanedUp;   /* IRP_MJ_CLEANUP (or CLOSE) came: requests still in flight to it
                          * must not subscribe or pend any more */
} SANCTUM_HANDLE, *PSANCTUM_HANDLE;

/*
 * A caller's buffer for direct I/O: the MDL the I/O manager built, mapped into system space
 * (SanctumMapBuffer) only once a handler has checked the request, so that a request it refuses
 * costs no system address space. The host tests, and METHOD_BUFFERED, give Address instead.
 */
typedef struct _SANCTUM_BUFFER {
    PVOID Address;  /* already mapped, or NULL */
    PMDL Mdl;       /* NULL when the caller gave no buffer (Windows, for 0 bytes) */
    ULONG Length;
} SANCTUM_BUFFER, *PSANCTUM_BUFFER;
/*
 * The buffer's system address: NULL with STATUS_SUCCESS when it has no bytes (Wine passes an
 * MDL even then), NULL with STATUS_INSUFFICIENT_RESOURCES when it cannot be mapped. Mapped
 * non-executable; a second call returns the same mapping.
 */
NTSTATUS SanctumMapBuffer(const SANCTUM_BUFFER *Buffer, PVOID *Address);

/* state.c: the counters, pool accounting and the list of open handles. */
VOID SanctumStateInit(PSANCTUM_STATE State);
PVOID SanctumAllocate(PSANCTUM_STATE State, SIZE_T Bytes);
VOID SanctumFree(PSANCTUM_STATE State, PVOID Block, SIZE_T Bytes);
/* Counts one finished request: a failure, or the bytes it took and returned. */
VOID SanctumRecord(PSANCTUM_STATE State, NTSTATUS Status, ULONG64 BytesIn, ULONG64 BytesOut);
VOID SanctumSnapshot(PSANCTUM_STATE State, PSANCTUM_STATS Stats);
/* Frees every handle still open (DriverUnload, when Wine stops a driver with open handles). */
VOID SanctumStateRelease(PSANCTUM_STATE State);

/* queue.c: the per-handle life cycle and message queue (IRP_MJ_CREATE/CLEANUP/CLOSE/READ/WRITE). */
NTSTATUS SanctumOpen(PSANCTUM_STATE State, PSANCTUM_HANDLE *Handle);
VOID SanctumCleanup(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle);
VOID SanctumClose(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle);
/* The buffers are mapped only for a message that is stored or returned. */
NTSTATUS SanctumWrite(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, const SANCTUM_BUFFER *Data,
                      PULONG_PTR Information);
NTSTATUS SanctumRead(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle, const SANCTUM_BUFFER *Buffer,
                     PULONG_PTR Information);

/*
 * ioctl.c: IRP_MJ_DEVICE_CONTROL. Input is what the caller sent; Output is where the reply
 * goes: the system buffer for METHOD_BUFFERED, the caller's pages for METHOD_OUT_DIRECT (a
 * handler maps them with SanctumMapBuffer once it has checked the request). Irp is there only
 * for a request that may pend (GET_EVENTS): then the handler returns STATUS_PENDING and
 * completes the IRP later itself. ProcessId is the process that sent the request.
 */
typedef struct _SANCTUM_REQUEST {
    PSANCTUM_STATE State;
    PSANCTUM_HANDLE Handle; /* the caller's handle context */
    PIRP Irp;
    HANDLE ProcessId;
    const VOID *Input;
    ULONG InputLength;
    SANCTUM_BUFFER Output;
} SANCTUM_REQUEST, *PSANCTUM_REQUEST;

/* *Information is the number of bytes written, 0 on failure or when the request pends. */
NTSTATUS SanctumDeviceControl(const SANCTUM_REQUEST *Request, ULONG Code, PULONG_PTR Information);

/* events.c: subscriptions, their queues of records and their pending GET_EVENTS requests. */
VOID SanctumEventsInit(PSANCTUM_STATE State);
/* Ends every subscription (their pending requests complete with STATUS_CANCELLED), then
 * frees the staging buffers and the lookaside list. The callbacks must be gone already. */
VOID SanctumEventsRelease(PSANCTUM_STATE State);
NTSTATUS SanctumSubscribe(const SANCTUM_REQUEST *Request, PULONG_PTR Information);
NTSTATUS SanctumGetEvents(const SANCTUM_REQUEST *Request, PULONG_PTR Information);
NTSTATUS SanctumMark(const SANCTUM_REQUEST *Request, PULONG_PTR Information);
NTSTATUS SanctumDisconnect(const SANCTUM_REQUEST *Request, PULONG_PTR Information);
/* A new handle takes part in the current generation (see SANCTUM_STATE.Generation). */
VOID SanctumEventsOpen(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle);
/*
 * The handle is being cleaned up (IRP_MJ_CLEANUP, or CLOSE): it is marked so that no request
 * still in flight to it subscribes or pends again, and its subscription ends (its pending
 * requests complete with STATUS_CANCELLED).
 */
VOID SanctumUnsubscribe(PSANCTUM_STATE State, PSANCTUM_HANDLE Handle);
/*
 * Publishing, from a callback or a MARK. A record of fixed size is built by the caller on its
 * stack (SanctumEventInit, then SanctumEventPublish); a record with names is built in a
 * staging buffer: SanctumEventBegin returns one (header set), or NULL when nobody wants the
 * type or every staging buffer is in use (the drop is counted), and SanctumEventCommit
 * publishes it and gives the buffer back. Publishing queues the record, BodyLength bytes after
 * its header, on every subscription that wants it, or hands it to a pending request there.
 */
static inline BOOLEAN SanctumEventWanted(PSANCTUM_STATE State, USHORT Type)
{
    /*
     * The common case costs one load: nobody wants this type. An acquire load (a plain one on
     * x64), so that a caller who sees a subscription also sees the staging block it came with.
     */
    return (__atomic_load_n(&State->SubscribedTypes, __ATOMIC_ACQUIRE) &
            SANCTUM_EVENT_MASK(Type)) != 0;
}
/* Inline: every record starts here, on the callbacks' path too. */
static inline VOID SanctumEventInit(PSANCTUM_EVENT_HEADER Header, USHORT Type)
{
    LARGE_INTEGER now = { .QuadPart = 0 }; /* x64's KeQuerySystemTime stores through a cast */

    KeQuerySystemTime(&now);
    Header->Size = 0;
    Header->Type = Type;
    Header->Flags = 0;
    Header->Sequence = 0;
    Header->Time = now.QuadPart;
}
VOID SanctumEventPublish(PSANCTUM_STATE State, PSANCTUM_EVENT_HEADER Record, ULONG BodyLength);
PSANCTUM_EVENT_HEADER SanctumEventBegin(PSANCTUM_STATE State, USHORT Type);
VOID SanctumEventCommit(PSANCTUM_STATE State, PSANCTUM_EVENT_HEADER Record, ULONG BodyLength);

/* notify.c: the process, thread and image-load callbacks of one device's state. */
NTSTATUS SanctumNotifyRegister(PSANCTUM_STATE State);
VOID SanctumNotifyUnregister(VOID);

/* security.c: only LocalSystem and Administrators may open the device. */
NTSTATUS SanctumProtectDevice(PDEVICE_OBJECT Device);

/*
 * gs.c: stack cookies (-fstack-protector-strong). DriverEntry gives the guard a fresh value
 * before anything else runs; a smashed frame bugchecks with DRIVER_OVERRAN_STACK_BUFFER.
 * Functions that run before the guard is set, or whose frame outlives the change, must not
 * carry a cookie themselves.
 */
#define SANCTUM_NO_STACK_PROTECTOR __attribute__((no_stack_protector))
SANCTUM_NO_STACK_PROTECTOR VOID SanctumInitStackGuard(PVOID Seed);

#endif
