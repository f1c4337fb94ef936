/* SPDX-License-Identifier: MIT */
/* The protocol library of sanctum/client.h: device calls and the reader of pending requests. */
#include <windows.h>
#include <winioctl.h>

#include "sanctum/client.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(SANCTUM_WALK_OK == ERROR_SUCCESS && SANCTUM_WALK_END == ERROR_NO_MORE_ITEMS &&
                   SANCTUM_WALK_CORRUPT == ERROR_INVALID_DATA,
               "the walker's results are these Win32 codes");

DWORD SanctumOpen(DWORD Access, DWORD Flags, HANDLE *Device)
{
    *Device = CreateFileW(SANCTUM_USER_DEVICE_PATH, Access, FILE_SHARE_READ | FILE_SHARE_WRITE,
                          NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | Flags, NULL);
    return *Device == INVALID_HANDLE_VALUE ? GetLastError() : ERROR_SUCCESS;
}

void SanctumClose(HANDLE Device)
{
    if (Device != INVALID_HANDLE_VALUE && Device != NULL)
        CloseHandle(Device);
}

/* Starts one request; ERROR_IO_PENDING when it goes on in the background. */
static DWORD start_ioctl(HANDLE device, DWORD code, const void *in, DWORD in_len, void *out,
                         DWORD out_len, OVERLAPPED *ov)
{
    DWORD ignored; /* the count arrives with the result */

    if (DeviceIoControl(device, code, (void *)in, in_len, out, out_len, &ignored, ov))
        return ERROR_SUCCESS;
    return GetLastError();
}

/*
 * With an event of its own the request can be waited for on either kind of handle, even while
 * a reader's requests are pending on the same one.
 */
DWORD SanctumIoctl(HANDLE Device, DWORD Code, const void *In, DWORD InLength, void *Out,
                   DWORD OutLength, DWORD *Returned)
{
    OVERLAPPED ov;

    *Returned = 0;
    memset(&ov, 0, sizeof ov);
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (ov.hEvent == NULL)
        return GetLastError();
    DWORD error = start_ioctl(Device, Code, In, InLength, Out, OutLength, &ov);
    if (error == ERROR_SUCCESS || error == ERROR_IO_PENDING)
        error = GetOverlappedResult(Device, &ov, Returned, TRUE) ? ERROR_SUCCESS : GetLastError();
    CloseHandle(ov.hEvent);
    return error;
}

/* A fixed-size answer whose first ULONG is its Size: exactly the size this client knows. */
static DWORD get_sized(HANDLE device, DWORD code, void *answer, DWORD size, DWORD *returned)
{
    ULONG claimed;

    memset(answer, 0, size);
    DWORD error = SanctumIoctl(device, code, NULL, 0, answer, size, returned);
    if (error != ERROR_SUCCESS)
        return error;
    memcpy(&claimed, answer, sizeof claimed);
    return *returned == size && claimed == size ? ERROR_SUCCESS : ERROR_INVALID_DATA;
}

DWORD SanctumGetVersion(HANDLE Device, SANCTUM_VERSION *Version, DWORD *Returned)
{
    return get_sized(Device, (DWORD)IOCTL_SANCTUM_GET_VERSION, Version, sizeof *Version,
                     Returned);
}

DWORD SanctumGetStats(HANDLE Device, SANCTUM_STATS *Stats, DWORD *Returned)
{
    return get_sized(Device, (DWORD)IOCTL_SANCTUM_GET_STATS, Stats, sizeof *Stats, Returned);
}

DWORD SanctumCheckProtocol(HANDLE Device, SANCTUM_VERSION *Version)
{
    DWORD returned;
    DWORD error = SanctumGetVersion(Device, Version, &returned);

    if (error == ERROR_SUCCESS && Version->Protocol != SANCTUM_PROTOCOL_VERSION)
        return ERROR_REVISION_MISMATCH;
    return error;
}

DWORD SanctumSubscribe(HANDLE Device, ULONG Types, ULONG QueueBytes)
{
    SANCTUM_SUBSCRIBE s = { sizeof s, Types, QueueBytes };
    DWORD returned;

    return SanctumIoctl(Device, (DWORD)IOCTL_SANCTUM_SUBSCRIBE, &s, sizeof s, NULL, 0, &returned);
}

DWORD SanctumSendMark(HANDLE Device, const void *Data, ULONG Length)
{
    DWORD returned;

    return SanctumIoctl(Device, (DWORD)IOCTL_SANCTUM_MARK, Data, Length, NULL, 0, &returned);
}

DWORD SanctumDisconnect(HANDLE Device)
{
    DWORD returned;

    return SanctumIoctl(Device, (DWORD)IOCTL_SANCTUM_DISCONNECT, NULL, 0, NULL, 0, &returned);
}

/* ---- The reader ---------------------------------------------------------------------------- */

struct request {
    OVERLAPPED ov;
    unsigned char *buffer;
    ULONG64 ticket; /* when it was issued: batches are taken oldest first */
    BOOL pending;   /* issued and not yet taken */
};

struct _SANCTUM_READER {
    HANDLE device;
    HANDLE cancel; /* set by SanctumReaderCancel */
    ULONG count;
    ULONG buffer_bytes;
    ULONG64 tickets;
    int held;      /* the request whose batch the caller has, or -1 */
    struct request requests[SANCTUM_MAX_PENDING_PER_HANDLE];
};

static DWORD issue(SANCTUM_READER *r, struct request *q)
{
    ResetEvent(q->ov.hEvent);
    q->ov.Internal = q->ov.InternalHigh = 0;
    DWORD error = start_ioctl(r->device, (DWORD)IOCTL_SANCTUM_GET_EVENTS, NULL, 0, q->buffer,
                              r->buffer_bytes, &q->ov);
    if (error != ERROR_SUCCESS && error != ERROR_IO_PENDING)
        return error;
    q->pending = TRUE;
    q->ticket = r->tickets++;
    return ERROR_SUCCESS;
}

DWORD SanctumReaderCreate(HANDLE Device, ULONG Requests, ULONG BufferBytes,
                          SANCTUM_READER **Reader)
{
    DWORD error = ERROR_SUCCESS;

    *Reader = NULL;
    if (BufferBytes == 0)
        BufferBytes = SANCTUM_READER_DEFAULT_BUFFER;
    if (Requests == 0 || Requests > SANCTUM_MAX_PENDING_PER_HANDLE ||
        BufferBytes < SANCTUM_MAX_EVENT_SIZE || BufferBytes > SANCTUM_MAX_QUEUE_BYTES)
        return ERROR_INVALID_PARAMETER;
    SANCTUM_READER *r = calloc(1, sizeof *r);
    if (r == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;
    r->device = Device;
    r->count = Requests;
    r->buffer_bytes = BufferBytes;
    r->held = -1;
    r->cancel = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (r->cancel == NULL)
        error = GetLastError();
    for (ULONG i = 0; i < Requests && error == ERROR_SUCCESS; i++) {
        struct request *q = &r->requests[i];
        q->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
        /* malloc's alignment (16 bytes) is what the walker needs. */
        q->buffer = malloc(BufferBytes);
        if (q->ov.hEvent == NULL)
            error = GetLastError();
        else if (q->buffer == NULL)
            error = ERROR_NOT_ENOUGH_MEMORY;
        else
            error = issue(r, q);
    }
    if (error != ERROR_SUCCESS) {
        SanctumReaderDestroy(r);
        return error;
    }
    *Reader = r;
    return ERROR_SUCCESS;
}

/*
 * The oldest pending request. The driver completes requests in the order they came, so its
 * batch holds the next records; taking a younger one that happens to be signalled first
 * would hand records over out of order.
 */
static struct request *oldest_pending(SANCTUM_READER *r)
{
    struct request *best = NULL;

    for (ULONG i = 0; i < r->count; i++) {
        struct request *q = &r->requests[i];
        if (q->pending && (best == NULL || q->ticket < best->ticket))
            best = q;
    }
    return best;
}

DWORD SanctumReaderWait(SANCTUM_READER *Reader, DWORD TimeoutMs, const void **Batch,
                        DWORD *Length)
{
    SANCTUM_READER *r = Reader;

    *Batch = NULL;
    *Length = 0;
    if (WaitForSingleObject(r->cancel, 0) == WAIT_OBJECT_0)
        return ERROR_OPERATION_ABORTED;
    if (r->held >= 0) {
        DWORD error = issue(r, &r->requests[r->held]);
        r->held = -1;
        if (error != ERROR_SUCCESS)
            return error;
    }
    struct request *q = oldest_pending(r);
    if (q == NULL)
        return ERROR_OPERATION_ABORTED; /* nothing left pending */
    HANDLE events[2] = { r->cancel, q->ov.hEvent };
    DWORD w = WaitForMultipleObjects(2, events, FALSE, TimeoutMs);
    if (w == WAIT_TIMEOUT)
        return ERROR_TIMEOUT;
    if (w == WAIT_OBJECT_0)
        return ERROR_OPERATION_ABORTED;
    if (w == WAIT_FAILED)
        return GetLastError();
    q->pending = FALSE;
    if (!GetOverlappedResult(r->device, &q->ov, Length, FALSE))
        return GetLastError();
    r->held = (int)(q - r->requests);
    *Batch = q->buffer;
    return ERROR_SUCCESS;
}

void SanctumReaderCancel(SANCTUM_READER *Reader)
{
    SetEvent(Reader->cancel);
}

void SanctumReaderDestroy(SANCTUM_READER *Reader)
{
    SANCTUM_READER *r = Reader;
    DWORD ignored;

    if (r == NULL)
        return;
    for (ULONG i = 0; i < r->count; i++)
        if (r->requests[i].pending)
            CancelIoEx(r->device, &r->requests[i].ov);
    /* Each buffer stays the driver's until its request has ended. */
    for (ULONG i = 0; i < r->count; i++) {
        struct request *q = &r->requests[i];
        if (q->pending)
            GetOverlappedResult(r->device, &q->ov, &ignored, TRUE);
        if (q->ov.hEvent != NULL)
            CloseHandle(q->ov.hEvent);
        free(q->buffer);
    }
    if (r->cancel != NULL)
        CloseHandle(r->cancel);
    free(r);
}
