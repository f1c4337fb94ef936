/* SPDX-License-Identifier: MIT */
/*
 * Reading a GET_EVENTS batch safely: the record walker and the accessors for each record's
 * body. Nothing here calls Windows: include it after the types sanctum/ioctl.h needs (as
 * ioctl.h says), so that an agent's tests can run it anywhere. sanctum/client.h includes it.
 *
 * The walker never reads outside the batch. A record of a type it does not know is handed
 * over with no body, to be skipped by its Size; a record whose Size is 0, not a multiple of
 * 8, smaller than the header or past the end of the batch, or a known record whose body or
 * strings do not fit in its Size, is corrupt: the walk stops there.
 */
#ifndef SANCTUM_EVENTS_H
#define SANCTUM_EVENTS_H

#include "ioctl.h"

#include <stddef.h>

/* The walker's results are Win32 error codes, spelled out so that it needs no <windows.h>. */
#define SANCTUM_WALK_OK      0   /* ERROR_SUCCESS: *event describes the next record */
#define SANCTUM_WALK_END     259 /* ERROR_NO_MORE_ITEMS: no more records */
#define SANCTUM_WALK_CORRUPT 13  /* ERROR_INVALID_DATA: a corrupt record; the walk is over */

/* A UTF-16 string of a record: Length characters, no terminator. */
typedef struct _SANCTUM_STRING {
    const WCHAR *Chars;
    ULONG Length;
} SANCTUM_STRING;

/* One record as the walker checked it. Pointers point into the batch. */
typedef struct _SANCTUM_EVENT {
    const SANCTUM_EVENT_HEADER *Header;
    const void *Body;            /* NULL for a type this reader does not know */
    SANCTUM_STRING Name;         /* PROCESS_CREATE: ImageName; IMAGE_LOAD: the full name */
    SANCTUM_STRING CommandLine;  /* PROCESS_CREATE */
    const unsigned char *Data;   /* MARK: the caller's bytes */
    ULONG DataLength;
} SANCTUM_EVENT;

/* Where the walk is in a batch; set up by SanctumWalkBegin. */
typedef struct _SANCTUM_WALK {
    const unsigned char *Next;
    const unsigned char *End;
    int Corrupt;
} SANCTUM_WALK;

/*
 * Starts a walk over Length bytes at Batch, which must be 8-byte aligned (what malloc and
 * VirtualAlloc give); an unaligned batch is corrupt.
 */
void SanctumWalkBegin(SANCTUM_WALK *Walk, const void *Batch, size_t Length);
/* The next record into *Event: SANCTUM_WALK_OK, _END or _CORRUPT (then always _CORRUPT). */
ULONG SanctumWalkNext(SANCTUM_WALK *Walk, SANCTUM_EVENT *Event);
/* Byte offset of the record the walk would read next: where a corrupt record starts. */
size_t SanctumWalkOffset(const SANCTUM_WALK *Walk, const void *Batch);

/* The body of each type, or NULL when the event is of another type. */
const SANCTUM_PROCESS_CREATE *SanctumEventProcessCreate(const SANCTUM_EVENT *Event);
const SANCTUM_PROCESS_EXIT *SanctumEventProcessExit(const SANCTUM_EVENT *Event);
/* THREAD_CREATE and THREAD_EXIT share the body. */
const SANCTUM_THREAD *SanctumEventThread(const SANCTUM_EVENT *Event);
const SANCTUM_IMAGE_LOAD *SanctumEventImageLoad(const SANCTUM_EVENT *Event);
const SANCTUM_MARK *SanctumEventMark(const SANCTUM_EVENT *Event);

/* "process-create", "mark", ...; NULL for an unknown type. */
const char *SanctumEventTypeName(ULONG Type);

#endif
