/* SPDX-License-Identifier: MIT */
/*
 * Large pool blocks on pages of their own, in the spirit of Driver Verifier's special pool:
 * a block starts on a page with a no-access page on each side, and under ASan what is left of
 * its last page is poisoned, so that an access one byte past the end is reported too (without
 * ASan, only one that reaches the next page). A freed block is poisoned and its pages become
 * no-access; its addresses stay reserved while the quarantine holds it (up to 256 MiB of
 * blocks, as ASan's own quarantine), so that a use after free is reported, not served by a new
 * block at the same address.
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
#include <sys/stat.h>
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
/* Larger requests fail as an exhausted pool would (NULL), before any memory is touched. */
#define LARGEST ((size_t)1 << 30)
/* Freed blocks whose addresses stay reserved: this many at most, of this many bytes in all. */
#define QUARANTINE 1024
#define QUARANTINE_BYTES ((size_t)256 << 20)

static pthread_mutex_t pages_mutex = PTHREAD_MUTEX_INITIALIZER;
static int fill_fd = -1; /* a memory file that holds SHIM_POOL_FILL */
static struct {
    UCHAR *Block;
    size_t Data; /* the block's pages; a guard page on each side */
} quarantine[QUARANTINE];
static size_t quarantine_head, quarantine_count, quarantine_bytes;

static size_t page_round(SIZE_T Bytes)
{
    return ((size_t)Bytes + PAGE - 1) & ~(PAGE - 1);
}

/*
 * The fill file holds at least Bytes bytes. Called with pages_mutex held. Its size is read
 * from the file, never remembered: a child process made by fork() shares the file, and it only
 * ever grows.
 */
static BOOLEAN fill_grow(size_t Bytes)
{
    static UCHAR chunk[64 * 1024];
    struct stat st;
    size_t at, n;

    if (fill_fd < 0) {
        fill_fd = memfd_create("shim-pool-fill", MFD_CLOEXEC);
        if (fill_fd < 0)
            shim_die("memfd_create failed: the page pool needs Linux 3.17 or later");
        memset(chunk, SHIM_POOL_FILL, sizeof(chunk));
    }
    if (fstat(fill_fd, &st))
        shim_die("the page pool's fill file cannot be read");
    if ((size_t)st.st_size >= Bytes)
        return TRUE;
    if (ftruncate(fill_fd, (off_t)Bytes))
        return FALSE;
    for (at = (size_t)st.st_size; at < Bytes; at += n) {
        n = Bytes - at < sizeof(chunk) ? Bytes - at : sizeof(chunk);
        if (pwrite(fill_fd, chunk, n, (off_t)at) != (ssize_t)n)
            shim_die("the page pool's fill file cannot be written");
    }
    return TRUE;
}

PVOID shim_pages_alloc(SIZE_T Bytes)
{
    size_t data = page_round(Bytes);
    UCHAR *base, *block;
    BOOLEAN filled;

    if (!Bytes || Bytes > LARGEST)
        return NULL;
    pthread_mutex_lock(&pages_mutex);
    filled = fill_grow(data);
    pthread_mutex_unlock(&pages_mutex);
    if (!filled)
        return NULL;
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
    size_t old_data;

#ifdef SHIM_ASAN
    __lsan_unregister_root_region(block, Bytes);
#endif
    /* ASan names a touch from now on (use-after-poison); the pages fault on it anyway. */
    ASAN_POISON_MEMORY_REGION(block, data);
    if (mmap(block, data, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
             -1, 0) == MAP_FAILED)
        shim_die("ExFreePoolWithTag(%p): its pages cannot be made no-access", Block);
    /* Into the quarantine; first the oldest blocks leave it, each unmapped with its shadow
     * clean again for whatever is mapped there next. */
    for (;;) {
        pthread_mutex_lock(&pages_mutex);
        if (quarantine_count &&
            (quarantine_count == QUARANTINE || quarantine_bytes + data > QUARANTINE_BYTES)) {
            old = quarantine[quarantine_head].Block;
            old_data = quarantine[quarantine_head].Data;
            quarantine_head = (quarantine_head + 1) % QUARANTINE;
            quarantine_count--;
            quarantine_bytes -= old_data;
            pthread_mutex_unlock(&pages_mutex);
            ASAN_UNPOISON_MEMORY_REGION(old, old_data);
            munmap(old - PAGE, old_data + 2 * PAGE);
            continue;
        }
        quarantine[(quarantine_head + quarantine_count) % QUARANTINE].Block = block;
        quarantine[(quarantine_head + quarantine_count) % QUARANTINE].Data = data;
        quarantine_count++;
        quarantine_bytes += data;
        pthread_mutex_unlock(&pages_mutex);
        return;
    }
}
