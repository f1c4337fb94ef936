/* SPDX-License-Identifier: MIT */
/*
 * The user-mode side of the Sanctum protocol, for sanctumctl, the tests and an agent: open the
 * device, check the protocol, read the counters, subscribe, send marks, keep GET_EVENTS
 * requests pending and take their batches; sanctum/events.h walks the records of a batch.
 * Include it after <windows.h> and <winioctl.h>. Nothing here prints; every function that can
 * fail returns a Win32 error code (ERROR_SUCCESS on success).
 *
 * An agent, in short:
 *     SanctumOpen(GENERIC_READ | GENERIC_WRITE, FILE_FLAG_OVERLAPPED, &device);
 *     SanctumCheckProtocol(device, &version);
 *     SanctumSubscribe(device, SANCTUM_EVENT_ALL, 0);
 *     SanctumReaderCreate(device, 4, 0, &reader);
 *     while (SanctumReaderWait(reader, INFINITE, &batch, &length) == ERROR_SUCCESS) {
 *         SanctumWalkBegin(&walk, batch, length);
 *         while (SanctumWalkNext(&walk, &event) == SANCTUM_WALK_OK)
 *             ...event.Header, SanctumEventProcessCreate(&event), event.Name...
 *     }
 *     SanctumReaderDestroy(reader);
 *     SanctumClose(device);
 */
#ifndef SANCTUM_CLIENT_H
#define SANCTUM_CLIENT_H

#include "events.h"

/*
 * Opens SANCTUM_USER_DEVICE_PATH. Access: GENERIC_READ for version and stats, GENERIC_WRITE for
 * marks and DISCONNECT, both to subscribe to events. Flags: 0, or FILE_FLAG_OVERLAPPED for a
 * handle that a reader uses (every function here works on both kinds).
 */
DWORD SanctumOpen(DWORD Access, DWORD Flags, HANDLE *Device);
/* Closes a handle from SanctumOpen; INVALID_HANDLE_VALUE is ignored. */
void SanctumClose(HANDLE Device);

/* One request, waited for: DeviceIoControl that also works on an overlapped handle. */
DWORD SanctumIoctl(HANDLE Device, DWORD Code, const void *In, DWORD InLength, void *Out,
                   DWORD OutLength, DWORD *Returned);

/*
 * GET_VERSION and GET_STATS. ERROR_INVALID_DATA unless the driver returned exactly the size
 * this client knows (*Returned bytes, with ->Size as the driver set it): driver and client
 * are from different builds.
 */
DWORD SanctumGetVersion(HANDLE Device, SANCTUM_VERSION *Version, DWORD *Returned);
DWORD SanctumGetStats(HANDLE Device, SANCTUM_STATS *Stats, DWORD *Returned);
/* GET_VERSION, then ERROR_REVISION_MISMATCH unless the driver speaks this protocol. */
DWORD SanctumCheckProtocol(HANDLE Device, SANCTUM_VERSION *Version);

/*
 * The driver is about to stop and has disconnected every handle that was open: SUBSCRIBE and
 * GET_EVENTS on them fail with this, and a reader's wait returns it. Close the handle (Windows
 * unloads the driver only once every handle is closed); open a new one to go on if the driver
 * did not stop after all.
 */
#define SANCTUM_ERROR_DISCONNECTED ERROR_DEVICE_NOT_CONNECTED

/*
 * SUBSCRIBE: Types a mask of SANCTUM_EVENT_MASK(type); QueueBytes 0 for the default. Needs a
 * handle with read and write access. ERROR_NOT_ENOUGH_QUOTA: the driver's subscriptions or
 * queue memory are all taken, or this process holds SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS.
 */
DWORD SanctumSubscribe(HANDLE Device, ULONG Types, ULONG QueueBytes);
/* MARK: 1..SANCTUM_MAX_MARK bytes, queued as one record to every subscriber of marks. */
DWORD SanctumSendMark(HANDLE Device, const void *Data, ULONG Length);
/*
 * DISCONNECT (write access): every handle open now is disconnected and every subscription
 * ends; their readers see SANCTUM_ERROR_DISCONNECTED. What sanctumctl stop sends first.
 */
DWORD SanctumDisconnect(HANDLE Device);

/*
 * A reader keeps Requests GET_EVENTS requests (1..SANCTUM_MAX_PENDING_PER_HANDLE) pending on a
 * subscribed handle opened with FILE_FLAG_OVERLAPPED, each with a buffer of BufferBytes (0:
 * SANCTUM_READER_DEFAULT_BUFFER; SANCTUM_MAX_EVENT_SIZE to SANCTUM_MAX_QUEUE_BYTES), so that
 * the driver always has one to complete while the agent reads the last.
 */
typedef struct _SANCTUM_READER SANCTUM_READER;
#define SANCTUM_READER_DEFAULT_BUFFER (64u * 1024)

DWORD SanctumReaderCreate(HANDLE Device, ULONG Requests, ULONG BufferBytes,
                          SANCTUM_READER **Reader);
/*
 * Hands the previous batch's buffer back to the driver, then waits up to TimeoutMs for the
 * next batch: that of the oldest request, as the driver completes them in order, so that
 * records arrive in Sequence order. ERROR_SUCCESS: *Batch and *Length hold whole records,
 * valid until the next call. ERROR_TIMEOUT: nothing yet; call again. ERROR_OPERATION_ABORTED:
 * SanctumReaderCancel was called, or the driver ended the request (handle closed, driver
 * unloaded). SANCTUM_ERROR_DISCONNECTED: the driver is stopping; close the handle. Any error
 * but ERROR_TIMEOUT ends the reader: destroy it.
 */
DWORD SanctumReaderWait(SANCTUM_READER *Reader, DWORD TimeoutMs, const void **Batch,
                        DWORD *Length);
/* Makes SanctumReaderWait return ERROR_OPERATION_ABORTED; safe from any thread (Ctrl+C). */
void SanctumReaderCancel(SANCTUM_READER *Reader);
/* Cancels every pending request (CancelIoEx), waits until each has ended, frees the reader. */
void SanctumReaderDestroy(SANCTUM_READER *Reader);

#endif
