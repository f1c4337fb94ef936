/* SPDX-License-Identifier: MIT */
/*
 * The host shim's stand-in for the DDK's <ntifs.h>: only what state.c, queue.c and ioctl.c
 * use, with Windows x64 sizes (LLP64: ULONG is 32-bit even on LP64 Linux). Put
 * -Itest/unit/shim first on the include path; test/unit/shim/shim.h has the test-only calls.
 */
#ifndef SANCTUM_SHIM_NTIFS_H
#define SANCTUM_SHIM_NTIFS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VOID void
typedef void *PVOID;
typedef char CHAR, *PCHAR;
typedef uint8_t UCHAR, *PUCHAR;
typedef UCHAR BOOLEAN;
typedef int32_t LONG, *PLONG;
typedef uint32_t ULONG, *PULONG;
typedef int64_t LONG64, LONGLONG;
typedef uint64_t ULONG64, ULONGLONG;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR, *PULONG_PTR;
typedef ULONG_PTR SIZE_T;
typedef LONG NTSTATUS;

#define TRUE 1
#define FALSE 0

_Static_assert(sizeof(ULONG) == 4 && sizeof(LONG) == 4, "ULONG is 32-bit on Windows");
_Static_assert(sizeof(ULONG64) == 8 && sizeof(LONG64) == 8, "64-bit integers");
_Static_assert(sizeof(ULONG_PTR) == sizeof(void *) && sizeof(SIZE_T) == 8, "x64 pointers");

/* ntstatus.h */
#define STATUS_SUCCESS ((NTSTATUS)0x00000000)
#define STATUS_DEVICE_BUSY ((NTSTATUS)0x80000011)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000D)
#define STATUS_INVALID_DEVICE_REQUEST ((NTSTATUS)0xC0000010)
#define STATUS_BUFFER_TOO_SMALL ((NTSTATUS)0xC0000023)
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009A)
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)

#define ANYSIZE_ARRAY 1
#define FIELD_OFFSET(Type, Field) __builtin_offsetof(Type, Field)
#define CONTAINING_RECORD(Address, Type, Field) \
    ((Type *)((PCHAR)(Address) - __builtin_offsetof(Type, Field)))
#define ARRAYSIZE(A) (sizeof(A) / sizeof((A)[0]))
#define UNREFERENCED_PARAMETER(P) ((void)(P))

#define RtlZeroMemory(Destination, Length) memset((Destination), 0, (Length))
/* memcpy, as in the DDK: ASan reports overlapping buffers, which need RtlMoveMemory. */
#define RtlCopyMemory(Destination, Source, Length) memcpy((Destination), (Source), (Length))
#define RtlMoveMemory(Destination, Source, Length) memmove((Destination), (Source), (Length))

/* I/O control codes (wdm.h). */
#define CTL_CODE(DeviceType, Function, Method, Access) \
    (((DeviceType) << 16) | ((Access) << 14) | ((Function) << 2) | (Method))
#define DEVICE_TYPE_FROM_CTL_CODE(Code) (((ULONG)((Code) & 0xffff0000)) >> 16)
#define METHOD_FROM_CTL_CODE(Code) ((ULONG)((Code) & 3))
#define METHOD_BUFFERED 0
#define METHOD_IN_DIRECT 1
#define METHOD_OUT_DIRECT 2
#define METHOD_NEITHER 3
#define FILE_ANY_ACCESS 0x0000
#define FILE_READ_ACCESS 0x0001
#define FILE_WRITE_ACCESS 0x0002
#define FILE_READ_DATA 0x0001
#define FILE_WRITE_DATA 0x0002

/* Only named in sanctum.h's prototype of SanctumProtectDevice (security.c, not built here). */
typedef struct _DEVICE_OBJECT *PDEVICE_OBJECT;

/*
 * Doubly linked lists, with the integrity checks of the WDK's (Windows 8+) inline versions:
 * Windows bugchecks (KERNEL_SECURITY_CHECK_FAILURE) on a corrupt entry, the shim aborts.
 */
typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY;

void shim_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static inline VOID InitializeListHead(PLIST_ENTRY ListHead)
{
    ListHead->Flink = ListHead->Blink = ListHead;
}

static inline BOOLEAN IsListEmpty(const LIST_ENTRY *ListHead)
{
    return (BOOLEAN)(ListHead->Flink == ListHead);
}

static inline BOOLEAN RemoveEntryList(PLIST_ENTRY Entry)
{
    PLIST_ENTRY flink = Entry->Flink, blink = Entry->Blink;

    if (flink->Blink != Entry || blink->Flink != Entry)
        shim_die("RemoveEntryList(%p): corrupt list entry", (void *)Entry);
    blink->Flink = flink;
    flink->Blink = blink;
    return (BOOLEAN)(flink == blink);
}

static inline PLIST_ENTRY RemoveHeadList(PLIST_ENTRY ListHead)
{
    PLIST_ENTRY entry = ListHead->Flink, flink = entry->Flink;

    if (entry->Blink != ListHead || flink->Blink != entry)
        shim_die("RemoveHeadList(%p): corrupt list", (void *)ListHead);
    ListHead->Flink = flink;
    flink->Blink = ListHead;
    return entry;
}

static inline VOID InsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry)
{
    PLIST_ENTRY blink = ListHead->Blink;

    if (blink->Flink != ListHead)
        shim_die("InsertTailList(%p): corrupt list", (void *)ListHead);
    Entry->Flink = ListHead;
    Entry->Blink = blink;
    blink->Flink = Entry;
    ListHead->Blink = Entry;
}

/* Interlocked operations: full barriers, and the return values of the Windows ones. */
static inline LONG InterlockedIncrement(LONG volatile *Addend)
{
    return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}

static inline LONG InterlockedDecrement(LONG volatile *Addend)
{
    return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}

static inline LONG64 InterlockedIncrement64(LONG64 volatile *Addend)
{
    return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}

static inline LONG64 InterlockedDecrement64(LONG64 volatile *Addend)
{
    return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}

/* Returns the value before the addition. */
static inline LONG64 InterlockedExchangeAdd64(LONG64 volatile *Addend, LONG64 Value)
{
    return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);
}

/* Both return the value found at Destination. */
static inline LONG InterlockedCompareExchange(LONG volatile *Destination, LONG Exchange,
                                              LONG Comparand)
{
    __atomic_compare_exchange_n(Destination, &Comparand, Exchange, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return Comparand;
}

static inline LONG64 InterlockedCompareExchange64(LONG64 volatile *Destination, LONG64 Exchange,
                                                  LONG64 Comparand)
{
    __atomic_compare_exchange_n(Destination, &Comparand, Exchange, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return Comparand;
}

/*
 * Spin locks: a real lock (the tests run threads) that also tracks each thread's IRQL and
 * aborts on a recursive acquire (a deadlock on Windows) or a release by a non-owner.
 */
typedef UCHAR KIRQL, *PKIRQL;
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
#define PASSIVE_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock);
VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql);
VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);

/* Pool: host malloc behind a ledger that checks every free (see shim.h). */
typedef enum _POOL_TYPE {
    NonPagedPoolNx = 512,
} POOL_TYPE;

PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
VOID ExFreePoolWithTag(PVOID P, ULONG Tag);

#endif
