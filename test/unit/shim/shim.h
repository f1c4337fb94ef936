/* SPDX-License-Identifier: MIT */
/*
 * The shim's test-only side: the ledger (pool, devices, links, object handles), failures on
 * demand, lock state, the captured debug output, and a small I/O manager that loads a driver
 * and sends it IRPs built the way Windows builds them.
 */
#ifndef SANCTUM_SHIM_H
#define SANCTUM_SHIM_H

#include "ntifs.h"

/* ---- shim.c: pool ledger, spin locks, fault injection ---- */

/* Pool blocks allocated and not freed yet: the count, and their bytes in *Bytes if not NULL. */
ULONG64 shim_pool_outstanding(ULONG64 *Bytes);
/* Prints every outstanding block (address, size, tag) to stderr. */
VOID shim_pool_report(VOID);

/*
 * Fault injection over every failable kernel call (pool allocation, IoCreateDevice,
 * IoCreateSymbolicLink, the security calls, MDL mapping): shim_fail_call(n) makes the n-th
 * failable call from now fail, once (n = 1: the next one); shim_fail_call(0) disarms.
 */
VOID shim_fail_call(ULONG64 n);
/* Failable calls made so far, failed or not. */
ULONG64 shim_failable_calls(VOID);
/* How many calls have been failed on purpose so far. */
ULONG64 shim_injected_failures(VOID);
/* The API and status of the last injected failure (NULL / STATUS_SUCCESS before the first). */
const char *shim_last_injected_api(VOID);
NTSTATUS shim_last_injected_status(VOID);
/* For the shim's own calls: true if this call of Api is to fail (then with Failure). */
BOOLEAN shim_fault(const char *Api, NTSTATUS Failure);

/* The calling thread's IRQL and the number of spin locks it holds. */
KIRQL shim_current_irql(VOID);
ULONG shim_spin_locks_held(VOID);
/* Dies unless the calling thread is at or below Max (Windows would bugcheck). */
VOID shim_require_irql(const char *Api, KIRQL Max);

/*
 * A one-shot hook on the next acquire of Lock by any thread: Hook(Context) runs on that thread
 * just before it takes the lock, holding no other spin lock of the driver's (it dies if it
 * does). Tests use it to put a second request between two steps of a first one, at exactly the
 * point a race would. shim_before_lock(NULL, NULL, NULL) disarms it.
 */
VOID shim_before_lock(PKSPIN_LOCK Lock, void (*Hook)(void *Context), void *Context);

/*
 * KeBugCheckEx calls this first (then the shim dies): a test in a child process can exit with
 * what it saw. NULL: none.
 */
typedef void (*SHIM_BUGCHECK_HOOK)(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                   ULONG_PTR P4);
VOID shim_on_bugcheck(SHIM_BUGCHECK_HOOK Hook);

/* ---- registry.c: the values RtlWriteRegistryValue wrote ---- */

/* The service key shim_load_driver gives DriverEntry as its RegistryPath. */
#define SHIM_SERVICE_KEY L"\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Sanctum"
/* The REG_QWORD value Name under the absolute key Path, if it was written. */
BOOLEAN shim_registry_qword(PCWSTR Path, PCWSTR Name, ULONG64 *Value);
/* Forgets every value. */
VOID shim_registry_clear(VOID);
/* FALSE: every write fails with STATUS_ACCESS_DENIED (a key the driver may not write). */
VOID shim_registry_writable(BOOLEAN Writable);

/* ---- process.c: which process the calling thread acts as ---- */

/* Requests and PsGetCurrentProcessId on this thread come from Pid from now on (every thread
 * starts as SHIM_DEFAULT_PROCESS). */
#define SHIM_DEFAULT_PROCESS ((HANDLE)(ULONG_PTR)0x1000)
VOID shim_set_process(HANDLE Pid);
/* What IRPs sent from this thread name as their thread (Irp->Tail.Overlay.Thread). */
PVOID shim_current_thread(VOID);

/* ---- dbgprint.c: DbgPrintEx, formatted the Windows way and captured ---- */

typedef struct _SHIM_LOG_LINE {
    ULONG ComponentId;
    ULONG Level;
    char Text[512]; /* as DbgPrint would print it (at most 511 characters), newline included */
} SHIM_LOG_LINE;

/* Lines printed since the last shim_log_clear (the most recent 256 are kept). */
ULONG shim_log_count(VOID);
const SHIM_LOG_LINE *shim_log_line(ULONG Index);
/* How many kept lines contain Text. */
ULONG shim_log_find(const char *Text);
VOID shim_log_clear(VOID);
/* Echo every line to stderr as it is printed (off by default). */
VOID shim_log_echo(BOOLEAN On);
/* The formatter alone, for the shim's own tests: returns the length it wanted. */
int shim_format(char *Out, size_t Size, const char *Format, ...);

/* ---- se.c: security calls and object handles ---- */

/* What ZwSetSecurityObject was given for a device, deep-copied when it was called. */
typedef struct _SHIM_SECURITY {
    ULONG Sets;                       /* ZwSetSecurityObject calls that succeeded */
    SECURITY_INFORMATION Information; /* of the last one */
    BOOLEAN LinkExisted;              /* a symbolic link to the device existed at that moment */
    BOOLEAN Initializing;             /* DO_DEVICE_INITIALIZING was still set: no open could
                                       * reach the device, not even by its \Device name */
    SECURITY_DESCRIPTOR Descriptor;   /* absolute; Dacl points into DaclBytes */
    ULONG DaclBytes[256];
    /* The handle it went through, as ObOpenObjectByPointer was asked for it. */
    ULONG HandleAttributes;
    ACCESS_MASK HandleAccess;
    KPROCESSOR_MODE HandleMode;
} SHIM_SECURITY;

/* NULL if nothing was ever applied to the device. */
const SHIM_SECURITY *shim_device_security(PDEVICE_OBJECT Device);
/* Object handles open now. */
ULONG shim_handles_open(VOID);
BOOLEAN shim_sid_equal(PSID A, PSID B);

/* Who opens a file: their token's SIDs decide what the device's DACL lets through. */
typedef enum _SHIM_CALLER {
    SHIM_CALLER_SYSTEM, /* S-1-5-18, with BUILTIN\Administrators */
    SHIM_CALLER_ADMIN,  /* an elevated administrator: S-1-5-32-544 and the user's groups */
    SHIM_CALLER_USER,   /* a standard user: S-1-5-21-...-1001, Users, Everyone */
} SHIM_CALLER;
/* The access check of an open against the descriptor last set on Device (none: granted). */
NTSTATUS shim_access_check(PDEVICE_OBJECT Device, SHIM_CALLER Caller, ACCESS_MASK Desired,
                           ACCESS_MASK *Granted);

/* ---- io.c: objects, the ledger, and the I/O manager ---- */

/* What the shim's object manager holds now. All zero after a clean unload. */
typedef struct _SHIM_LEDGER {
    ULONG64 PoolBlocks;
    ULONG64 PoolBytes;
    ULONG Devices;
    ULONG Links;
    ULONG Handles; /* object handles (ObOpenObjectByPointer) */
    ULONG Files;   /* file objects not yet closed */
    ULONG Irps;    /* IRPs sent and not yet completed */
    ULONG Notifications; /* process, thread and image-load routines still registered */
} SHIM_LEDGER;
VOID shim_ledger(SHIM_LEDGER *Ledger);
BOOLEAN shim_ledger_empty(VOID);
/* Prints whatever the ledger holds to stderr. */
VOID shim_ledger_report(VOID);

/* Device and link lookups by name (case-insensitive, as the object manager compares). */
PDEVICE_OBJECT shim_find_device(PCWSTR Name);
/* The target of a symbolic link, or NULL when there is no such link. */
PCUNICODE_STRING shim_find_link(PCWSTR Name);
BOOLEAN shim_unicode_equal(PCUNICODE_STRING A, PCWSTR B);

/*
 * Loading: a driver object as the I/O manager makes it (every MajorFunction pointing at the
 * invalid-request routine), DriverEntry at PASSIVE_LEVEL. On failure the driver object is
 * freed and *Driver is NULL; whatever the driver left behind stays in the ledger.
 */
NTSTATUS shim_load_driver(PDRIVER_INITIALIZE Entry, PDRIVER_OBJECT *Driver);
/* DriverUnload (which must exist, or Windows could not stop the driver), then the object. */
VOID shim_unload_driver(PDRIVER_OBJECT Driver);

/*
 * User-mode I/O through the shim's I/O manager. A SHIM_FILE is one handle to one file object.
 * The buffers are the caller's ("user") memory: for direct I/O the driver writes into them
 * through an MDL, for METHOD_BUFFERED the shim copies back exactly Information bytes (when the
 * status is not an error), as the I/O manager does. Requests the I/O manager refuses (access,
 * probe, buffer allocation) never reach the driver: see shim_last_dispatched().
 */
typedef struct _SHIM_FILE SHIM_FILE;

/* Path: \Device\Name[\rest] or \??\Link[\rest]. Access: FILE_*, GENERIC_*. */
NTSTATUS shim_create(PCWSTR Path, ACCESS_MASK Access, SHIM_CALLER Caller, SHIM_FILE **File);
NTSTATUS shim_read(SHIM_FILE *File, PVOID Buffer, ULONG Length, ULONG_PTR *Information);
NTSTATUS shim_write(SHIM_FILE *File, const VOID *Buffer, ULONG Length, ULONG_PTR *Information);
NTSTATUS shim_ioctl(SHIM_FILE *File, ULONG Code, const VOID *Input, ULONG InputLength,
                    PVOID Output, ULONG OutputLength, ULONG_PTR *Information);
/* An IRP of any major function without buffers (Parameters zeroed). */
NTSTATUS shim_irp(SHIM_FILE *File, UCHAR MajorFunction, ULONG_PTR *Information);
/* The last handle is closed: IRP_MJ_CLEANUP. The file object lives on until shim_close. */
VOID shim_cleanup(SHIM_FILE *File);
/*
 * The last reference is gone: IRP_MJ_CLEANUP if not sent yet, IRP_MJ_CLOSE, then freed.
 * Dies if a request of the handle is still pending after CLEANUP (Windows would wait).
 */
VOID shim_close(SHIM_FILE *File);
/* Wine 8's close of a handle with requests pending: IRP_MJ_CLOSE at once, no CLEANUP. */
VOID shim_close_wine(SHIM_FILE *File);
/* Frees the handle without any IRP: its driver was unloaded under it (Wine allows that). */
VOID shim_abandon(SHIM_FILE *File);
PFILE_OBJECT shim_file_object(SHIM_FILE *File);
ACCESS_MASK shim_file_access(SHIM_FILE *File);

/*
 * Overlapped I/O: a request the driver may pend. The handle says how it ended once
 * shim_async_done; shim_async_cancel is IoCancelIrp (CancelIoEx, thread or process exit) and
 * returns whether a cancel routine was called. Free every one with shim_async_free, which dies
 * if the driver never completed it.
 */
typedef struct _SHIM_ASYNC SHIM_ASYNC;
SHIM_ASYNC *shim_ioctl_async(SHIM_FILE *File, ULONG Code, const VOID *Input, ULONG InputLength,
                             PVOID Output, ULONG OutputLength);
BOOLEAN shim_async_pended(SHIM_ASYNC *Async);
BOOLEAN shim_async_done(SHIM_ASYNC *Async);
NTSTATUS shim_async_status(SHIM_ASYNC *Async, ULONG_PTR *Information);
BOOLEAN shim_async_cancel(SHIM_ASYNC *Async);
VOID shim_async_free(SHIM_ASYNC *Async);
/* Requests of the handle sent and not completed yet. */
ULONG shim_pending_on(SHIM_FILE *File);

/* Whether the last request of this thread reached the driver's dispatch routine. */
BOOLEAN shim_last_dispatched(VOID);
/* The Priority argument of the last MDL mapping (MmMapLockedPagesSpecifyCache). */
ULONG shim_last_mapping_priority(VOID);
/* MDL mappings made so far (MmMapLockedPagesSpecifyCache calls that succeeded), all threads. */
ULONG64 shim_mappings(VOID);
#define SHIM_MDL_MAPPING_NO_EXECUTE 0x40000000u
/*
 * Wine passes an MDL even for a 0-byte read or write, Windows none: TRUE behaves like Wine.
 * Returns the previous setting.
 */
BOOLEAN shim_zero_length_mdl(BOOLEAN Wine);
/* METHOD_BUFFERED and direct-I/O input buffers larger than this fail in the I/O manager
 * with STATUS_INSUFFICIENT_RESOURCES before the driver sees them (nonpaged pool is finite). */
#define SHIM_MAX_SYSTEM_BUFFER (64u * 1024 * 1024)

/* ---- notify.c: process, thread and image-load notifications, and the system time ---- */

/* Routines registered now, of the three kinds together. */
ULONG shim_notify_registered(VOID);
/*
 * Each calls every registered routine of its kind, at PASSIVE_LEVEL, on the calling thread (any
 * thread: tests fire from several at once), and returns how many it called. A removal waits
 * for the calls in progress, as Windows' does.
 */
ULONG shim_notify_process_create(HANDLE ProcessId, PPS_CREATE_NOTIFY_INFO Info);
ULONG shim_notify_process_exit(HANDLE ProcessId, NTSTATUS ExitStatus);
ULONG shim_notify_thread(HANDLE ProcessId, HANDLE ThreadId, BOOLEAN Create);
ULONG shim_notify_image(PUNICODE_STRING FullImageName, HANDLE ProcessId, PIMAGE_INFO Info);
/* What KeQuerySystemTime returns from now on. */
VOID shim_set_system_time(LONG64 Time);
/* A hook KeQuerySystemTime calls first, on the caller's thread (NULL: none): the driver reads
 * the time once a record has its buffer, so a test can hold callbacks there. */
VOID shim_on_system_time(void (*Hook)(void));

#endif
