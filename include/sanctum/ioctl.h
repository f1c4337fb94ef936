/* SPDX-License-Identifier: MIT */
/*
 * The Sanctum device contract, shared by the driver, the client and the tests.
 * Include it after <ntddk.h> (kernel), after <windows.h> and <winioctl.h> (user mode),
 * or after the host shim's header (unit tests): it uses their ULONG and CTL_CODE.
 * Everything here is ABI: external clients compile against it.
 */
#ifndef SANCTUM_IOCTL_H
#define SANCTUM_IOCTL_H

#include "version.h"

/*
 * Vendor device types live above 0x8000 (0x0000-0x7FFF are Microsoft's). Unsigned, so that
 * CTL_CODE's shift by 16 stays defined and the codes compare cleanly with a DWORD or ULONG.
 */
#define SANCTUM_DEVICE_TYPE 0x8A5Cu

/*
 * The names. A fork renames them all at once with the Makefile's DRIVER_NAME, which defines
 * the SANCTUM_DEVICE_BASENAME, SANCTUM_SERVICE_NAME and SANCTUM_LOG_PREFIX below.
 */
#ifndef SANCTUM_DEVICE_BASENAME
#define SANCTUM_DEVICE_BASENAME L"SanctumEDR"
#endif
#ifndef SANCTUM_SERVICE_NAME
#define SANCTUM_SERVICE_NAME L"Sanctum"
#endif
#ifndef SANCTUM_LOG_PREFIX
#define SANCTUM_LOG_PREFIX "sanctum" /* every DbgPrint line of the driver starts "sanctum: " */
#endif
/*
 * What the unload line says (its pool outstanding), also as two REG_QWORD values under the
 * driver's service key, where a program can read it without a kernel debugger: both are
 * SANCTUM_UNLOAD_PENDING from DriverEntry until the unload writes them.
 */
#define SANCTUM_UNLOAD_ALLOCATIONS_VALUE L"LastUnloadPoolAllocations"
#define SANCTUM_UNLOAD_BYTES_VALUE       L"LastUnloadPoolBytes"
#define SANCTUM_UNLOAD_PENDING           0xFFFFFFFFFFFFFFFFull
#define SANCTUM_NT_DEVICE_NAME   L"\\Device\\" SANCTUM_DEVICE_BASENAME
#define SANCTUM_DOS_DEVICE_NAME  L"\\??\\" SANCTUM_DEVICE_BASENAME
#define SANCTUM_USER_DEVICE_PATH L"\\\\.\\" SANCTUM_DEVICE_BASENAME

/*
 * Bumped on any incompatible change to the codes or structures below. Protocol 3: DISCONNECT,
 * SUBSCRIBE needs read and write access (a new code), MARK records carry the sender's process
 * id, GET_STATS gains two counters, and new limits (GET_EVENTS' buffer, all handles' messages,
 * subscriptions per process).
 */
#define SANCTUM_PROTOCOL_VERSION 3

/* No input. Output: SANCTUM_VERSION. */
#define IOCTL_SANCTUM_GET_VERSION \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _SANCTUM_VERSION {
    ULONG Size;     /* sizeof(SANCTUM_VERSION) as the driver knows it */
    ULONG Protocol; /* SANCTUM_PROTOCOL_VERSION */
    ULONG Major;
    ULONG Minor;
    ULONG Patch;
} SANCTUM_VERSION, *PSANCTUM_VERSION;

/*
 * Input: 1..SANCTUM_MAX_ECHO bytes. Output: the same bytes (at least as large as the input).
 * Errors: no input or more than the maximum: STATUS_INVALID_PARAMETER; output smaller than
 * the input: STATUS_BUFFER_TOO_SMALL.
 */
#define IOCTL_SANCTUM_ECHO \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x801, METHOD_BUFFERED, FILE_READ_DATA | FILE_WRITE_DATA)
#define SANCTUM_MAX_ECHO 65536

/* No input. Output: SANCTUM_STATS; smaller: STATUS_BUFFER_TOO_SMALL. */
#define IOCTL_SANCTUM_GET_STATS \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x802, METHOD_BUFFERED, FILE_READ_DATA)

/*
 * Input: a ULONG seed (exactly 4 bytes). Output: 1..SANCTUM_MAX_FILL bytes, byte i being
 * (UCHAR)(seed + i), written through an MDL (direct I/O). Errors: STATUS_INVALID_PARAMETER.
 */
#define IOCTL_SANCTUM_FILL \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x803, METHOD_OUT_DIRECT, FILE_READ_DATA)
#define SANCTUM_MAX_FILL (16u * 1024 * 1024)

/*
 * ReadFile / WriteFile (direct I/O): each write of 1..SANCTUM_MAX_MESSAGE bytes queues one
 * message on the handle it was written to, up to SANCTUM_MAX_QUEUED (then STATUS_DEVICE_BUSY)
 * and, over every handle together, up to SANCTUM_MAX_TOTAL_MESSAGE_BYTES of messages (then
 * STATUS_QUOTA_EXCEEDED); a refused write stores nothing. Each read returns the oldest message
 * whole, or 0 bytes when there is none. A buffer smaller than the message gets
 * STATUS_BUFFER_TOO_SMALL and the message stays queued.
 */
#define SANCTUM_MAX_MESSAGE 65536
#define SANCTUM_MAX_QUEUED 64
#define SANCTUM_MAX_TOTAL_MESSAGE_BYTES (16u * 1024 * 1024)

/*
 * Output: SANCTUM_STATS, or its first SANCTUM_STATS_V2_SIZE bytes for a protocol-2 client and
 * SANCTUM_STATS_V1_SIZE for a protocol-1 client (Size then says how many bytes were written);
 * smaller: STATUS_BUFFER_TOO_SMALL.
 */
typedef struct _SANCTUM_STATS {
    ULONG Size;             /* bytes of this structure the driver filled in */
    ULONG OpenHandles;      /* handles open now */
    ULONG64 Creates;        /* successful opens */
    ULONG64 Closes;         /* closes */
    ULONG64 Reads;          /* read requests, failed or not */
    ULONG64 Writes;         /* write requests, failed or not */
    ULONG64 Ioctls;         /* device control requests, failed or not (this one included) */
    ULONG64 Failures;       /* requests of any kind that failed */
    ULONG64 BytesIn;        /* bytes taken from callers by successful writes and IOCTLs */
    ULONG64 BytesOut;       /* bytes returned to callers by successful reads and IOCTLs */
    ULONG64 PoolAllocations; /* pool allocations outstanding now */
    ULONG64 PoolBytes;      /* pool bytes outstanding now */
    /* Protocol 2. */
    ULONG64 EventsQueued;   /* event records queued, over every subscription */
    ULONG64 EventsDropped;  /* event records dropped because a subscription's queue was full */
    ULONG Subscriptions;    /* subscriptions now */
    ULONG PendingRequests;  /* GET_EVENTS requests pending now */
    /* Protocol 3. */
    ULONG64 EventsDroppedNoMemory; /* event records dropped because no pool was left to build
                                    * them in (apart from EventsDropped) */
    ULONG64 MessageBytes;   /* bytes of WriteFile messages queued now, over every handle */
} SANCTUM_STATS, *PSANCTUM_STATS;
#define SANCTUM_STATS_V1_SIZE 88
#define SANCTUM_STATS_V2_SIZE 112

/*
 * Protocol 2: events. A handle subscribes once to a set of event types; the driver then
 * queues a record on that handle for each event of those types, and GET_EVENTS takes them.
 * The agent keeps GET_EVENTS requests pending in the driver (the inverted call): each one
 * completes as soon as there is at least one record, or when it is cancelled (STATUS_CANCELLED),
 * its handle is closed or the driver unloads, or with STATUS_DEVICE_NOT_CONNECTED when the
 * driver is about to stop (DISCONNECT).
 */
#define SANCTUM_EVENT_PROCESS_CREATE 1
#define SANCTUM_EVENT_PROCESS_EXIT   2
#define SANCTUM_EVENT_THREAD_CREATE  3
#define SANCTUM_EVENT_THREAD_EXIT    4
#define SANCTUM_EVENT_IMAGE_LOAD     5
#define SANCTUM_EVENT_MARK           6
#define SANCTUM_EVENT_TYPE_COUNT     7 /* one more than the highest type */
#define SANCTUM_EVENT_MASK(Type) (1u << (Type))
#define SANCTUM_EVENT_ALL                                                                  \
    (SANCTUM_EVENT_MASK(SANCTUM_EVENT_PROCESS_CREATE) |                                   \
     SANCTUM_EVENT_MASK(SANCTUM_EVENT_PROCESS_EXIT) |                                     \
     SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_CREATE) |                                    \
     SANCTUM_EVENT_MASK(SANCTUM_EVENT_THREAD_EXIT) |                                      \
     SANCTUM_EVENT_MASK(SANCTUM_EVENT_IMAGE_LOAD) | SANCTUM_EVENT_MASK(SANCTUM_EVENT_MARK))

/*
 * Input: SANCTUM_SUBSCRIBE, exactly. Size must be sizeof(SANCTUM_SUBSCRIBE); Types a nonzero
 * mask of SANCTUM_EVENT_MASK(type) (any other bit: STATUS_INVALID_PARAMETER); QueueBytes the
 * handle's queue, 0 for SANCTUM_DEFAULT_QUEUE_BYTES, else SANCTUM_MIN_QUEUE_BYTES to
 * SANCTUM_MAX_QUEUE_BYTES (rounded up to a multiple of 8), else STATUS_INVALID_PARAMETER.
 * No output. A handle subscribes once (again: STATUS_OBJECT_NAME_COLLISION). At most
 * SANCTUM_MAX_SUBSCRIPTIONS subscriptions and SANCTUM_MAX_TOTAL_QUEUE_BYTES of queues exist
 * at once, and at most SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS of them were made by one process
 * (beyond: STATUS_QUOTA_EXCEEDED). The subscription ends when its handle closes. After the
 * handle's IRP_MJ_CLEANUP: STATUS_DELETE_PENDING; on a handle that was open when DISCONNECT
 * came: STATUS_DEVICE_NOT_CONNECTED. Needs read and write access: protocol 2's code, which
 * needed only read access (0x8A5C6010), is refused like any unknown code.
 */
#define IOCTL_SANCTUM_SUBSCRIBE \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_READ_DATA | FILE_WRITE_DATA)

typedef struct _SANCTUM_SUBSCRIBE {
    ULONG Size;       /* sizeof(SANCTUM_SUBSCRIBE) */
    ULONG Types;      /* SANCTUM_EVENT_MASK(type) | ... */
    ULONG QueueBytes; /* 0: SANCTUM_DEFAULT_QUEUE_BYTES */
} SANCTUM_SUBSCRIBE, *PSANCTUM_SUBSCRIBE;

#define SANCTUM_DEFAULT_QUEUE_BYTES (256u * 1024)
#define SANCTUM_MIN_QUEUE_BYTES (16u * 1024)
#define SANCTUM_MAX_QUEUE_BYTES (8u * 1024 * 1024)
#define SANCTUM_MAX_SUBSCRIPTIONS 32
#define SANCTUM_MAX_TOTAL_QUEUE_BYTES (32u * 1024 * 1024)
#define SANCTUM_MAX_SUBSCRIPTIONS_PER_PROCESS 4

/*
 * No input. Output (direct I/O): as many whole records as fit, at least one; the request
 * pends while the handle's queue is empty. Errors: output smaller than SANCTUM_MAX_EVENT_SIZE:
 * STATUS_BUFFER_TOO_SMALL; larger than SANCTUM_MAX_QUEUE_BYTES: STATUS_INVALID_PARAMETER
 * (refused before the buffer is mapped); a handle without a subscription:
 * STATUS_INVALID_DEVICE_STATE; SANCTUM_MAX_PENDING_PER_HANDLE already pending on the handle:
 * STATUS_DEVICE_BUSY; after the handle's IRP_MJ_CLEANUP: STATUS_DELETE_PENDING; on a handle
 * that was open when DISCONNECT came: STATUS_DEVICE_NOT_CONNECTED (also how a pending one ends
 * then).
 */
#define IOCTL_SANCTUM_GET_EVENTS \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x805, METHOD_OUT_DIRECT, FILE_READ_DATA)
#define SANCTUM_MAX_PENDING_PER_HANDLE 16

/*
 * Input: 1..SANCTUM_MAX_MARK bytes (else STATUS_INVALID_PARAMETER), queued as one MARK record
 * on every subscription that asked for marks, this handle's included, with the sending
 * process's id. No output.
 */
#define IOCTL_SANCTUM_MARK \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x806, METHOD_BUFFERED, FILE_WRITE_DATA)
#define SANCTUM_MAX_MARK 256

/*
 * Protocol 3. No input (else STATUS_INVALID_PARAMETER), no output. The driver is about to
 * stop: every subscription on every handle ends, each pending GET_EVENTS completes with
 * STATUS_DEVICE_NOT_CONNECTED (Win32 ERROR_DEVICE_NOT_CONNECTED, 1167), and a later SUBSCRIBE
 * or GET_EVENTS on any handle that was open then fails with it too: its owner should close it,
 * since Windows unloads a driver only once every handle to its device is closed. Handles
 * opened afterwards work as before. sanctumctl stop sends it before asking the SCM to stop.
 */
#define IOCTL_SANCTUM_DISCONNECT \
    CTL_CODE(SANCTUM_DEVICE_TYPE, 0x807, METHOD_BUFFERED, FILE_WRITE_DATA)

/*
 * Every record starts with this header and is a multiple of 8 bytes long (Size counts the
 * header, the body and zeroed padding). Sequence starts at 1 on each subscription and grows
 * by one for every event that matched its Types, queued or dropped: a gap of N is N records
 * lost to a full queue. Time is the system time of the event (100 ns units since 1601, UTC).
 * A reader skips a type it does not know by its Size.
 */
typedef struct _SANCTUM_EVENT_HEADER {
    USHORT Size;
    USHORT Type;     /* SANCTUM_EVENT_* */
    ULONG Flags;     /* SANCTUM_EVENT_FLAG_* */
    ULONG64 Sequence;
    LONG64 Time;
} SANCTUM_EVENT_HEADER, *PSANCTUM_EVENT_HEADER;

#define SANCTUM_EVENT_FLAG_NAME_TRUNCATED         0x1 /* ImageName / FullName was cut */
#define SANCTUM_EVENT_FLAG_COMMAND_LINE_TRUNCATED 0x2 /* CommandLine was cut */
#define SANCTUM_EVENT_FLAG_NAME_MISSING           0x4 /* the kernel gave no name */
/* PROCESS_CREATE (protocol 3): the kernel could not open the image by the name it gives
 * (FileOpenNameAvailable false), so ImageName may be partial, e.g. without its volume. */
#define SANCTUM_EVENT_FLAG_NAME_PARTIAL           0x8

/* The longest record; GET_EVENTS needs an output buffer at least this large. */
#define SANCTUM_MAX_EVENT_SIZE 4096
/* Strings are UTF-16 without terminator, cut at these many bytes. */
#define SANCTUM_MAX_NAME_BYTES 1024
#define SANCTUM_MAX_COMMAND_LINE_BYTES                                                     \
    (SANCTUM_MAX_EVENT_SIZE - sizeof(SANCTUM_EVENT_HEADER) - sizeof(SANCTUM_PROCESS_CREATE) - \
     SANCTUM_MAX_NAME_BYTES)

/*
 * Process and thread ids are the kernel's HANDLE values widened to 64 bits, so that 32- and
 * 64-bit readers see the same layout.
 */

/* SANCTUM_EVENT_PROCESS_CREATE: this body, then ImageNameLength bytes of the image's file
 * name, then CommandLineLength bytes of its command line, then zeroed padding. */
typedef struct _SANCTUM_PROCESS_CREATE {
    ULONG64 ProcessId;
    ULONG64 ParentProcessId;
    ULONG64 CreatingProcessId; /* who called CreateProcess: not always the parent */
    ULONG64 CreatingThreadId;
    USHORT ImageNameLength;    /* bytes */
    USHORT CommandLineLength;  /* bytes */
    ULONG Reserved;            /* 0 */
} SANCTUM_PROCESS_CREATE, *PSANCTUM_PROCESS_CREATE;

/* SANCTUM_EVENT_PROCESS_EXIT */
typedef struct _SANCTUM_PROCESS_EXIT {
    ULONG64 ProcessId;
    LONG ExitStatus; /* the process's exit code (an NTSTATUS for a crash) */
    ULONG Reserved;  /* 0 */
} SANCTUM_PROCESS_EXIT, *PSANCTUM_PROCESS_EXIT;

/* SANCTUM_EVENT_THREAD_CREATE and SANCTUM_EVENT_THREAD_EXIT */
typedef struct _SANCTUM_THREAD {
    ULONG64 ProcessId;
    ULONG64 ThreadId;
} SANCTUM_THREAD, *PSANCTUM_THREAD;

/* SANCTUM_EVENT_IMAGE_LOAD: this body, then NameLength bytes of the image's full name. */
typedef struct _SANCTUM_IMAGE_LOAD {
    ULONG64 ProcessId;  /* 0 for a kernel image */
    ULONG64 ImageBase;
    ULONG64 ImageSize;
    ULONG Properties;   /* SANCTUM_IMAGE_* */
    USHORT NameLength;  /* bytes */
    USHORT Reserved;    /* 0 */
} SANCTUM_IMAGE_LOAD, *PSANCTUM_IMAGE_LOAD;
#define SANCTUM_IMAGE_KERNEL 0x1 /* a driver or other kernel-mode image */

/* SANCTUM_EVENT_MARK: this body, then Length bytes as the caller sent them. */
typedef struct _SANCTUM_MARK {
    ULONG Length;
    ULONG Reserved;            /* 0 */
    ULONG64 SenderProcessId;   /* the process that sent the MARK (protocol 3) */
} SANCTUM_MARK, *PSANCTUM_MARK;

/* The layouts are fixed: a 32-bit and a 64-bit client see the same bytes. */
typedef char SANCTUM_VERSION_SIZE_CHECK[sizeof(SANCTUM_VERSION) == 20 ? 1 : -1];
typedef char SANCTUM_STATS_SIZE_CHECK[sizeof(SANCTUM_STATS) == 128 ? 1 : -1];
typedef char SANCTUM_SUBSCRIBE_SIZE_CHECK[sizeof(SANCTUM_SUBSCRIBE) == 12 ? 1 : -1];
typedef char SANCTUM_EVENT_HEADER_SIZE_CHECK[sizeof(SANCTUM_EVENT_HEADER) == 24 ? 1 : -1];
typedef char SANCTUM_PROCESS_CREATE_SIZE_CHECK[sizeof(SANCTUM_PROCESS_CREATE) == 40 ? 1 : -1];
typedef char SANCTUM_PROCESS_EXIT_SIZE_CHECK[sizeof(SANCTUM_PROCESS_EXIT) == 16 ? 1 : -1];
typedef char SANCTUM_THREAD_SIZE_CHECK[sizeof(SANCTUM_THREAD) == 16 ? 1 : -1];
typedef char SANCTUM_IMAGE_LOAD_SIZE_CHECK[sizeof(SANCTUM_IMAGE_LOAD) == 32 ? 1 : -1];
typedef char SANCTUM_MARK_SIZE_CHECK[sizeof(SANCTUM_MARK) == 16 ? 1 : -1];

#endif
