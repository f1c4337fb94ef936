/* SPDX-License-Identifier: MIT */
/*
 * The kernel calls of the host shim: spin locks with IRQL tracking, a checked pool, and the
 * one fault-injection counter that every failable call of the shim goes through.
 */
#define _POSIX_C_SOURCE 200809L
#include "shim_private.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Where Windows would bugcheck. abort() leaves no result line: run.sh reports the death. */
void shim_die(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("shim: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* Each thread's IRQL; its address-sized token marks the spin locks it owns. */
static _Thread_local KIRQL thread_irql = PASSIVE_LEVEL;
static _Thread_local ULONG thread_locks;
static _Thread_local char thread_token;

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

/* shim_before_lock's hook: armed while lock_hook_target is set; the first taker runs it. */
static PKSPIN_LOCK volatile lock_hook_target;
static void (*volatile lock_hook)(void *);
static void *volatile lock_hook_context;

VOID shim_before_lock(PKSPIN_LOCK Lock, void (*Hook)(void *Context), void *Context)
{
    __atomic_store_n(&lock_hook_target, NULL, __ATOMIC_SEQ_CST);
    lock_hook = Hook;
    lock_hook_context = Context;
    __atomic_store_n(&lock_hook_target, Hook ? Lock : NULL, __ATOMIC_SEQ_CST);
}

static void run_lock_hook(PKSPIN_LOCK SpinLock)
{
    PKSPIN_LOCK target = SpinLock;

    if (__atomic_load_n(&lock_hook_target, __ATOMIC_SEQ_CST) != SpinLock ||
        !__atomic_compare_exchange_n(&lock_hook_target, &target, NULL, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST))
        return;
    if (thread_locks)
        shim_die("shim_before_lock(%p): reached holding %u spin locks", (void *)SpinLock,
                 thread_locks);
    lock_hook(lock_hook_context);
}

KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    KSPIN_LOCK me = (KSPIN_LOCK)&thread_token, owner = 0;
    KIRQL old;

    if (__atomic_load_n(&lock_hook_target, __ATOMIC_RELAXED))
        run_lock_hook(SpinLock);
    if (thread_irql > DISPATCH_LEVEL)
        shim_die("KeAcquireSpinLock(%p) at IRQL %u", (void *)SpinLock, thread_irql);
    while (!__atomic_compare_exchange_n(SpinLock, &owner, me, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
        if (owner == me)
            shim_die("KeAcquireSpinLock(%p): already held by this thread (deadlock)",
                     (void *)SpinLock);
        owner = 0;
        sched_yield();
    }
    old = thread_irql;
    thread_irql = DISPATCH_LEVEL;
    thread_locks++;
    return old;
}

VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    KSPIN_LOCK me = (KSPIN_LOCK)&thread_token;

    if (!__atomic_compare_exchange_n(SpinLock, &me, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        shim_die("KeReleaseSpinLock(%p): not held by this thread", (void *)SpinLock);
    if (NewIrql > thread_irql)
        shim_die("KeReleaseSpinLock(%p) raises IRQL %u to %u", (void *)SpinLock, thread_irql,
                 NewIrql);
    thread_irql = NewIrql;
    thread_locks--;
}

KIRQL shim_current_irql(VOID)
{
    return thread_irql;
}

VOID shim_require_irql(const char *Api, KIRQL Max)
{
    if (thread_irql > Max)
        shim_die("%s called at IRQL %u (IRQL_NOT_LESS_OR_EQUAL: at most %u)", Api, thread_irql,
                 Max);
}

ULONG shim_spin_locks_held(VOID)
{
    return thread_locks;
}

/*
 * The pool ledger: every live block with its size and tag. Blocks come from malloc at their
 * exact size, so ASan sees any access past the end, or from the page pool when large (see
 * pages.c); a free is checked here before the block goes back.
 */
typedef struct {
    PVOID Block;
    SIZE_T Bytes;
    ULONG Tag;
} SHIM_BLOCK;

#define SHIM_MAX_BLOCKS 65536
static SHIM_BLOCK pool_blocks[SHIM_MAX_BLOCKS];
static size_t pool_count;
static ULONG64 pool_bytes;
static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;

/*
 * Fault injection: failable calls left until the injected failure (0: none armed). The call
 * that takes the countdown from 1 to 0 fails; later ones take it below 0 and never fail.
 */
static LONG64 fault_countdown;
static ULONG64 fault_calls, fault_injected;
static const char *volatile fault_api;
static volatile NTSTATUS fault_status;

BOOLEAN shim_fault(const char *Api, NTSTATUS Failure)
{
    __atomic_add_fetch(&fault_calls, 1, __ATOMIC_SEQ_CST);
    if (__atomic_fetch_sub(&fault_countdown, 1, __ATOMIC_SEQ_CST) != 1)
        return FALSE;
    fault_api = Api;
    fault_status = Failure;
    __atomic_add_fetch(&fault_injected, 1, __ATOMIC_SEQ_CST);
    return TRUE;
}

VOID shim_fail_call(ULONG64 n)
{
    __atomic_store_n(&fault_countdown, (LONG64)n, __ATOMIC_SEQ_CST);
}

ULONG64 shim_failable_calls(VOID)
{
    return __atomic_load_n(&fault_calls, __ATOMIC_SEQ_CST);
}

ULONG64 shim_injected_failures(VOID)
{
    return __atomic_load_n(&fault_injected, __ATOMIC_SEQ_CST);
}

const char *shim_last_injected_api(VOID)
{
    return fault_api;
}

NTSTATUS shim_last_injected_status(VOID)
{
    return fault_status;
}

static void tag_text(ULONG Tag, char text[5])
{
    int i;

    for (i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(Tag >> (8 * i));
        text[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    text[4] = 0;
}

PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    PVOID block;

    if (PoolType != NonPagedPoolNx)
        shim_die("ExAllocatePoolWithTag: pool type %d is not supported", (int)PoolType);
    shim_require_irql("ExAllocatePoolWithTag", DISPATCH_LEVEL);
    if (shim_fault("ExAllocatePoolWithTag", STATUS_INSUFFICIENT_RESOURCES))
        return NULL;
    if (NumberOfBytes >= SHIM_PAGE_POOL_MIN) {
        block = shim_pages_alloc(NumberOfBytes);
    } else {
        block = malloc(NumberOfBytes ? NumberOfBytes : 1);
        if (block)
            memset(block, SHIM_POOL_FILL, NumberOfBytes);
    }
    if (!block)
        return NULL;

    pthread_mutex_lock(&pool_mutex);
    if (pool_count == SHIM_MAX_BLOCKS)
        shim_die("ExAllocatePoolWithTag: more than %d live blocks", SHIM_MAX_BLOCKS);
    pool_blocks[pool_count].Block = block;
    pool_blocks[pool_count].Bytes = NumberOfBytes;
    pool_blocks[pool_count].Tag = Tag;
    pool_count++;
    pool_bytes += NumberOfBytes;
    pthread_mutex_unlock(&pool_mutex);
    return block;
}

VOID ExFreePoolWithTag(PVOID P, ULONG Tag)
{
    char want[5], got[5];
    SIZE_T bytes;
    size_t i;

    shim_require_irql("ExFreePoolWithTag", DISPATCH_LEVEL);
    pthread_mutex_lock(&pool_mutex);
    for (i = 0; i < pool_count; i++)
        if (pool_blocks[i].Block == P)
            break;
    if (i == pool_count)
        shim_die("ExFreePoolWithTag(%p): not a live pool block (double free, or never allocated)",
                 P);
    if (pool_blocks[i].Tag != Tag) {
        tag_text(pool_blocks[i].Tag, want);
        tag_text(Tag, got);
        shim_die("ExFreePoolWithTag(%p): allocated with tag '%s', freed with tag '%s'", P, want,
                 got);
    }
    bytes = pool_blocks[i].Bytes;
    pool_bytes -= bytes;
    pool_blocks[i] = pool_blocks[--pool_count];
    pthread_mutex_unlock(&pool_mutex);
    if (bytes >= SHIM_PAGE_POOL_MIN)
        shim_pages_free(P, bytes);
    else
        free(P);
}

ULONG64 shim_pool_outstanding(ULONG64 *Bytes)
{
    ULONG64 count;

    pthread_mutex_lock(&pool_mutex);
    count = pool_count;
    if (Bytes)
        *Bytes = pool_bytes;
    pthread_mutex_unlock(&pool_mutex);
    return count;
}

VOID shim_pool_report(VOID)
{
    char tag[5];
    size_t i;

    pthread_mutex_lock(&pool_mutex);
    for (i = 0; i < pool_count; i++) {
        tag_text(pool_blocks[i].Tag, tag);
        fprintf(stderr, "shim: outstanding pool block %p, %zu bytes, tag '%s'\n",
                pool_blocks[i].Block, (size_t)pool_blocks[i].Bytes, tag);
    }
    pthread_mutex_unlock(&pool_mutex);
}

/* ---- lookaside lists ---- */

#define LOOKASIDE_MAGIC 0x4C6B4173u

VOID ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                     PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag,
                                     USHORT Depth)
{
    (void)Depth; /* Windows manages the depth itself */
    shim_require_irql("ExInitializeNPagedLookasideList", DISPATCH_LEVEL);
    if ((ULONG_PTR)Lookaside % 16)
        shim_die("ExInitializeNPagedLookasideList(%p): not 16-byte aligned (its SLIST_HEADER "
                 "must be)", (void *)Lookaside);
    if (Flags || Size < sizeof(PVOID))
        shim_die("ExInitializeNPagedLookasideList: flags 0x%x, size %zu", Flags, (size_t)Size);
    memset(Lookaside, 0, sizeof(*Lookaside));
    Lookaside->Allocate = Allocate;
    Lookaside->Free = Free;
    Lookaside->Size = Size;
    Lookaside->Tag = Tag;
    Lookaside->Depth = ARRAYSIZE(Lookaside->Kept);
    Lookaside->Magic = LOOKASIDE_MAGIC;
}

static void check_lookaside(const char *Api, PNPAGED_LOOKASIDE_LIST Lookaside)
{
    shim_require_irql(Api, DISPATCH_LEVEL);
    if (Lookaside->Magic != LOOKASIDE_MAGIC)
        shim_die("%s(%p): not an initialized lookaside list", Api, (void *)Lookaside);
}

PVOID ExAllocateFromNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    KIRQL irql;
    PVOID entry = NULL;

    check_lookaside("ExAllocateFromNPagedLookasideList", Lookaside);
    KeAcquireSpinLock(&Lookaside->Lock, &irql);
    if (Lookaside->Count)
        entry = Lookaside->Kept[--Lookaside->Count];
    KeReleaseSpinLock(&Lookaside->Lock, irql);
    if (entry)
        return entry;
    if (Lookaside->Allocate)
        return Lookaside->Allocate(NonPagedPoolNx, Lookaside->Size, Lookaside->Tag);
    return ExAllocatePoolWithTag(NonPagedPoolNx, Lookaside->Size, Lookaside->Tag);
}

VOID ExFreeToNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    KIRQL irql;
    BOOLEAN kept = FALSE;
    USHORT i;

    check_lookaside("ExFreeToNPagedLookasideList", Lookaside);
    KeAcquireSpinLock(&Lookaside->Lock, &irql);
    for (i = 0; i < Lookaside->Count; i++)
        if (Lookaside->Kept[i] == Entry)
            shim_die("ExFreeToNPagedLookasideList(%p): freed twice", Entry);
    if (Lookaside->Count < Lookaside->Depth) {
        Lookaside->Kept[Lookaside->Count++] = Entry;
        kept = TRUE;
    }
    KeReleaseSpinLock(&Lookaside->Lock, irql);
    if (kept)
        return;
    if (Lookaside->Free)
        Lookaside->Free(Entry);
    else
        ExFreePoolWithTag(Entry, Lookaside->Tag);
}

VOID ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    check_lookaside("ExDeleteNPagedLookasideList", Lookaside);
    while (Lookaside->Count) {
        PVOID entry = Lookaside->Kept[--Lookaside->Count];

        if (Lookaside->Free)
            Lookaside->Free(entry);
        else
            ExFreePoolWithTag(entry, Lookaside->Tag);
    }
    Lookaside->Magic = 0;
}

/* ---- bug checks ---- */

static SHIM_BUGCHECK_HOOK bugcheck_hook;

VOID shim_on_bugcheck(SHIM_BUGCHECK_HOOK Hook)
{
    bugcheck_hook = Hook;
}

VOID KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR BugCheckParameter1, ULONG_PTR BugCheckParameter2,
                  ULONG_PTR BugCheckParameter3, ULONG_PTR BugCheckParameter4)
{
    if (bugcheck_hook)
        bugcheck_hook(BugCheckCode, BugCheckParameter1, BugCheckParameter2, BugCheckParameter3,
                      BugCheckParameter4);
    shim_die("KeBugCheckEx(0x%08x, %#zx, %#zx, %#zx, %#zx)", BugCheckCode,
             (size_t)BugCheckParameter1, (size_t)BugCheckParameter2, (size_t)BugCheckParameter3,
             (size_t)BugCheckParameter4);
}
