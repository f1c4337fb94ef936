/* SPDX-License-Identifier: MIT */
/*
 * Large pool blocks on pages of their own, in the spirit of Driver Verifier's special pool:
 * a block starts on a page, what is left of its last page is poisoned for ASan (an access one
 * byte past the end is reported), and a no-access page lies on each side. A freed block's
 * pages become no-access and stay reserved for a while (a use after free faults), then are
 * unmapped.
 *
 * Why not malloc: every pool block is filled with SHIM_POOL_FILL (pool is not zeroed), and a
 * subscription's queue may be 8 MiB. Filled by memset, each such block costs a page fault per
 * page and 8 MiB of writes, most of which the driver never touches. Here the pages are a
 * private copy-on-write mapping of one file that holds the fill: untouched pages cost nothing,
 * and a page is copied only when the driver writes to it.
 */
#define _GNU_SOURCE /* memfd_create */
#include "shim_private.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef __has_feature
#define __has_feature(x) 0 /* GCC says __SANITIZE_ADDRESS__ instead */
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#define SHIM_ASAN 1
#endif
#ifndef SHIM_ASAN
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#define PAGE ((size_t)4096)
/* Freed blocks whose addresses stay reserved before they are unmapped. */
#define QUARANTINE 64

static pthread_mutex_t pages_mutex = PTHREAD_MUTEX_INITIALIZER;
static int fill_fd = -1;  /* a memory file of fill_bytes bytes of SHIM_POOL_FILL */
static size_t fill_bytes;
static struct {
    UCHAR *Base;
    size_t Span;
} quarantine[QUARANTINE];
static size_t quarantine_next;

static size_t page_round(SIZE_T Bytes)
{
    return ((size_t)Bytes + PAGE - 1) & ~(PAGE - 1);
}

/* The fill file holds at least Bytes bytes. Called with pages_mutex held. */
static void fill_grow(size_t Bytes)
{
    static UCHAR chunk[64 * 1024];
    size_t at, n;

    if (fill_fd < 0) {
        fill_fd = memfd_create("shim-pool-fill", MFD_CLOEXEC);
        if (fill_fd < 0)
            shim_die("memfd_create failed: the page pool needs Linux 3.17 or later");
        memset(chunk, SHIM_POOL_FILL, sizeof(chunk));
    }
    if (Bytes <= fill_bytes)
        return;
    if (ftruncate(fill_fd, (off_t)Bytes))
        shim_die("the page pool's fill file cannot grow to %zu bytes", Bytes);
    for (at = fill_bytes; at < Bytes; at += n) {
        n = Bytes - at < sizeof(chunk) ? Bytes - at : sizeof(chunk);
        if (pwrite(fill_fd, chunk, n, (off_t)at) != (ssize_t)n)
            shim_die("the page pool's fill file cannot be written");
    }
    fill_bytes = Bytes;
}

PVOID shim_pages_alloc(SIZE_T Bytes)
{
    size_t data = page_round(Bytes);
    UCHAR *base, *block;

    pthread_mutex_lock(&pages_mutex);
    fill_grow(data);
    pthread_mutex_unlock(&pages_mutex);
    /* Reserve the block and its two guard pages, then map the fill over the middle. */
    base = mmap(NULL, data + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    block = mmap(base + PAGE, data, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fill_fd, 0);
    if (block == MAP_FAILED) {
        munmap(base, data + 2 * PAGE);
        return NULL;
    }
    ASAN_POISON_MEMORY_REGION(block + Bytes, data - Bytes);
#ifdef SHIM_ASAN
    /* A pointer kept in the block keeps what it points to reachable for LeakSanitizer. */
    __lsan_register_root_region(block, Bytes);
#endif
    return block;
}

VOID shim_pages_free(PVOID Block, SIZE_T Bytes)
{
    size_t data = page_round(Bytes);
    UCHAR *block = Block, *old;
    size_t old_span;

#ifdef SHIM_ASAN
    __lsan_unregister_root_region(block, Bytes);
#endif
    ASAN_UNPOISON_MEMORY_REGION(block + Bytes, data - Bytes);
    /* No access from now on; the private pages are dropped, the addresses kept. */
    if (mmap(block, data, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
             -1, 0) == MAP_FAILED)
        shim_die("ExFreePoolWithTag(%p): its pages cannot be made no-access", Block);
    pthread_mutex_lock(&pages_mutex);
    old = quarantine[quarantine_next].Base;
    old_span = quarantine[quarantine_next].Span;
    quarantine[quarantine_next].Base = block - PAGE;
    quarantine[quarantine_next].Span = data + 2 * PAGE;
    quarantine_next = (quarantine_next + 1) % QUARANTINE;
    pthread_mutex_unlock(&pages_mutex);
    if (old)
        munmap(old, old_span);
}
