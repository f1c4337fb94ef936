/* SPDX-License-Identifier: MIT */
/*
 * The record walker of sanctum/events.h. Every length is checked against what is left of the
 * batch before a byte of it is read; the host tests and a fuzzer run it on Linux.
 */
#ifdef _WIN32
#include <windows.h>
#include <winioctl.h>
#else
#include <ntifs.h> /* the host tests' stand-in for the Windows types */
#endif

#include "sanctum/events.h"

#include <stdint.h>
#include <string.h>

#define HEADER_SIZE sizeof(SANCTUM_EVENT_HEADER)

void SanctumWalkBegin(SANCTUM_WALK *Walk, const void *Batch, size_t Length)
{
    Walk->Next = Batch;
    Walk->End = Walk->Next + Length;
    /* The records are read in place: their fields must be aligned. */
    Walk->Corrupt = ((uintptr_t)Batch & 7) != 0;
}

size_t SanctumWalkOffset(const SANCTUM_WALK *Walk, const void *Batch)
{
    return (size_t)(Walk->Next - (const unsigned char *)Batch);
}

/* A string of `bytes` at body + offset, inside the body's `room` bytes; 0 if it does not fit. */
static int take_string(const unsigned char *body, size_t room, size_t *offset, USHORT bytes,
                       SANCTUM_STRING *s)
{
    if (bytes % sizeof(WCHAR) != 0 || bytes > room - *offset)
        return 0;
    s->Chars = (const WCHAR *)(const void *)(body + *offset);
    s->Length = bytes / sizeof(WCHAR);
    *offset += bytes;
    return 1;
}

/* Fills in the body and strings of a known type; 0 if they do not fit in `room` bytes. */
static int take_body(SANCTUM_EVENT *e, const unsigned char *body, size_t room)
{
    size_t used;

    switch (e->Header->Type) {
    case SANCTUM_EVENT_PROCESS_CREATE: {
        const SANCTUM_PROCESS_CREATE *p = (const void *)body;
        used = sizeof *p;
        return room >= used && take_string(body, room, &used, p->ImageNameLength, &e->Name) &&
               take_string(body, room, &used, p->CommandLineLength, &e->CommandLine);
    }
    case SANCTUM_EVENT_PROCESS_EXIT:
        return room >= sizeof(SANCTUM_PROCESS_EXIT);
    case SANCTUM_EVENT_THREAD_CREATE:
    case SANCTUM_EVENT_THREAD_EXIT:
        return room >= sizeof(SANCTUM_THREAD);
    case SANCTUM_EVENT_IMAGE_LOAD: {
        const SANCTUM_IMAGE_LOAD *p = (const void *)body;
        used = sizeof *p;
        return room >= used && take_string(body, room, &used, p->NameLength, &e->Name);
    }
    case SANCTUM_EVENT_MARK: {
        const SANCTUM_MARK *p = (const void *)body;
        if (room < sizeof *p || p->Length > room - sizeof *p)
            return 0;
        e->Data = body + sizeof *p;
        e->DataLength = p->Length;
        return 1;
    }
    default:
        return 0;
    }
}

ULONG SanctumWalkNext(SANCTUM_WALK *Walk, SANCTUM_EVENT *Event)
{
    size_t left = (size_t)(Walk->End - Walk->Next);
    const SANCTUM_EVENT_HEADER *h = (const void *)Walk->Next;

    memset(Event, 0, sizeof *Event);
    if (Walk->Corrupt)
        return SANCTUM_WALK_CORRUPT;
    if (left == 0)
        return SANCTUM_WALK_END;
    if (left < HEADER_SIZE || h->Size < HEADER_SIZE || h->Size % 8 != 0 || h->Size > left) {
        Walk->Corrupt = 1;
        return SANCTUM_WALK_CORRUPT;
    }
    Event->Header = h;
    if (h->Type > 0 && h->Type < SANCTUM_EVENT_TYPE_COUNT) {
        if (!take_body(Event, Walk->Next + HEADER_SIZE, h->Size - HEADER_SIZE)) {
            memset(Event, 0, sizeof *Event);
            Walk->Corrupt = 1;
            return SANCTUM_WALK_CORRUPT;
        }
        Event->Body = Walk->Next + HEADER_SIZE;
    }
    Walk->Next += h->Size;
    return SANCTUM_WALK_OK;
}

/* The body if the event is of one of the types lo..hi, else NULL. */
static const void *body_of(const SANCTUM_EVENT *e, USHORT lo, USHORT hi)
{
    if (e->Header == NULL || e->Header->Type < lo || e->Header->Type > hi)
        return NULL;
    return e->Body;
}

const SANCTUM_PROCESS_CREATE *SanctumEventProcessCreate(const SANCTUM_EVENT *Event)
{
    return body_of(Event, SANCTUM_EVENT_PROCESS_CREATE, SANCTUM_EVENT_PROCESS_CREATE);
}

const SANCTUM_PROCESS_EXIT *SanctumEventProcessExit(const SANCTUM_EVENT *Event)
{
    return body_of(Event, SANCTUM_EVENT_PROCESS_EXIT, SANCTUM_EVENT_PROCESS_EXIT);
}

const SANCTUM_THREAD *SanctumEventThread(const SANCTUM_EVENT *Event)
{
    return body_of(Event, SANCTUM_EVENT_THREAD_CREATE, SANCTUM_EVENT_THREAD_EXIT);
}

const SANCTUM_IMAGE_LOAD *SanctumEventImageLoad(const SANCTUM_EVENT *Event)
{
    return body_of(Event, SANCTUM_EVENT_IMAGE_LOAD, SANCTUM_EVENT_IMAGE_LOAD);
}

const SANCTUM_MARK *SanctumEventMark(const SANCTUM_EVENT *Event)
{
    return body_of(Event, SANCTUM_EVENT_MARK, SANCTUM_EVENT_MARK);
}

const char *SanctumEventTypeName(ULONG Type)
{
    static const char *const names[SANCTUM_EVENT_TYPE_COUNT] = {
        [SANCTUM_EVENT_PROCESS_CREATE] = "process-create",
        [SANCTUM_EVENT_PROCESS_EXIT] = "process-exit",
        [SANCTUM_EVENT_THREAD_CREATE] = "thread-create",
        [SANCTUM_EVENT_THREAD_EXIT] = "thread-exit",
        [SANCTUM_EVENT_IMAGE_LOAD] = "image-load",
        [SANCTUM_EVENT_MARK] = "mark",
    };

    return Type < SANCTUM_EVENT_TYPE_COUNT ? names[Type] : NULL;
}
