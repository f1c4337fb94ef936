/* SPDX-License-Identifier: MIT */
/*
 * Process, thread and image-load notify routines as ntoskrnl keeps them: registered and
 * removed with Windows' statuses (a routine twice: STATUS_INVALID_PARAMETER; removing one that
 * is not there: STATUS_PROCEDURE_NOT_FOUND), registrations failable on demand, a removal that
 * returns only once no call of the routine is running, and the tests' calls that fire them.
 * Also the system time that KeQuerySystemTime reads.
 */
#define _DEFAULT_SOURCE
#include "shim_private.h"

#include <pthread.h>

/* Windows allows 64 of each kind. */
#define MAX_ROUTINES 64

static pthread_rwlock_t calls = PTHREAD_RWLOCK_INITIALIZER; /* held shared while firing */
static PCREATE_PROCESS_NOTIFY_ROUTINE_EX process_routines[MAX_ROUTINES];
static PCREATE_THREAD_NOTIFY_ROUTINE thread_routines[MAX_ROUTINES];
static PLOAD_IMAGE_NOTIFY_ROUTINE image_routines[MAX_ROUTINES];
static ULONG registered; /* in the three tables, for the ledger (read after every fuzz step) */
static LONG64 system_time = 133000000000000000LL; /* a day in 2022 */

/* Adds or removes Routine in Table (of void function pointers, so one function serves all). */
typedef void (*ROUTINE)(void);

static NTSTATUS update(ROUTINE *Table, ROUTINE Routine, BOOLEAN Remove)
{
    NTSTATUS status = Remove ? STATUS_PROCEDURE_NOT_FOUND : STATUS_INSUFFICIENT_RESOURCES;
    size_t i, free_slot = MAX_ROUTINES;

    shim_require_irql(Remove ? "Ps*NotifyRoutine (remove)" : "Ps*NotifyRoutine", PASSIVE_LEVEL);
    if (!Routine)
        shim_die("a notify routine registered or removed as NULL");
    /* Exclusive: a removal waits until no call of any routine is running. */
    pthread_rwlock_wrlock(&calls);
    for (i = 0; i < MAX_ROUTINES; i++) {
        if (Table[i] == Routine) {
            if (Remove) {
                Table[i] = NULL;
                registered--;
                status = STATUS_SUCCESS;
            } else {
                status = STATUS_INVALID_PARAMETER;
            }
            break;
        }
        if (!Table[i] && free_slot == MAX_ROUTINES)
            free_slot = i;
    }
    if (!Remove && i == MAX_ROUTINES && free_slot < MAX_ROUTINES) {
        Table[free_slot] = Routine;
        registered++;
        status = STATUS_SUCCESS;
    }
    pthread_rwlock_unlock(&calls);
    return status;
}

NTSTATUS PsSetCreateProcessNotifyRoutineEx(PCREATE_PROCESS_NOTIFY_ROUTINE_EX NotifyRoutine,
                                           BOOLEAN Remove)
{
    /* The failure Windows gives an image linked without FORCE_INTEGRITY. */
    if (!Remove && shim_fault("PsSetCreateProcessNotifyRoutineEx", STATUS_ACCESS_DENIED))
        return STATUS_ACCESS_DENIED;
    return update((ROUTINE *)process_routines, (ROUTINE)NotifyRoutine, Remove);
}

NTSTATUS PsSetCreateThreadNotifyRoutine(PCREATE_THREAD_NOTIFY_ROUTINE NotifyRoutine)
{
    if (shim_fault("PsSetCreateThreadNotifyRoutine", STATUS_INSUFFICIENT_RESOURCES))
        return STATUS_INSUFFICIENT_RESOURCES;
    return update((ROUTINE *)thread_routines, (ROUTINE)NotifyRoutine, FALSE);
}

NTSTATUS PsRemoveCreateThreadNotifyRoutine(PCREATE_THREAD_NOTIFY_ROUTINE NotifyRoutine)
{
    return update((ROUTINE *)thread_routines, (ROUTINE)NotifyRoutine, TRUE);
}

NTSTATUS PsSetLoadImageNotifyRoutine(PLOAD_IMAGE_NOTIFY_ROUTINE NotifyRoutine)
{
    if (shim_fault("PsSetLoadImageNotifyRoutine", STATUS_INSUFFICIENT_RESOURCES))
        return STATUS_INSUFFICIENT_RESOURCES;
    return update((ROUTINE *)image_routines, (ROUTINE)NotifyRoutine, FALSE);
}

NTSTATUS PsRemoveLoadImageNotifyRoutine(PLOAD_IMAGE_NOTIFY_ROUTINE NotifyRoutine)
{
    return update((ROUTINE *)image_routines, (ROUTINE)NotifyRoutine, TRUE);
}

NTSTATUS PsGetProcessExitStatus(PEPROCESS Process)
{
    return Process->ExitStatus;
}

ULONG shim_notify_registered(VOID)
{
    ULONG n;

    pthread_rwlock_rdlock(&calls);
    n = registered;
    pthread_rwlock_unlock(&calls);
    return n;
}

/* A notify routine must return as it was called: at PASSIVE_LEVEL, holding no spin lock. */
static void check_routine_returned(const char *Kind)
{
    if (shim_current_irql() != PASSIVE_LEVEL || shim_spin_locks_held())
        shim_die("a %s notify routine returned at IRQL %u holding %u spin locks", Kind,
                 shim_current_irql(), shim_spin_locks_held());
}

/* Runs Call for every routine of Table; the shared lock holds removals off meanwhile. */
#define FIRE(Table, Kind, Call)                                                 \
    do {                                                                        \
        size_t i_;                                                              \
        shim_require_irql(Kind " notification", PASSIVE_LEVEL);                 \
        pthread_rwlock_rdlock(&calls);                                          \
        for (i_ = 0; i_ < MAX_ROUTINES; i_++) {                                 \
            if (!Table[i_])                                                     \
                continue;                                                       \
            Table[i_] Call;                                                     \
            check_routine_returned(Kind);                                       \
            called++;                                                           \
        }                                                                       \
        pthread_rwlock_unlock(&calls);                                          \
    } while (0)

ULONG shim_notify_process_create(HANDLE ProcessId, PPS_CREATE_NOTIFY_INFO Info)
{
    struct _EPROCESS process = { ProcessId, STATUS_PENDING };
    ULONG called = 0;

    FIRE(process_routines, "process", (&process, ProcessId, Info));
    return called;
}

ULONG shim_notify_process_exit(HANDLE ProcessId, NTSTATUS ExitStatus)
{
    struct _EPROCESS process = { ProcessId, ExitStatus };
    ULONG called = 0;

    FIRE(process_routines, "process", (&process, ProcessId, NULL));
    return called;
}

ULONG shim_notify_thread(HANDLE ProcessId, HANDLE ThreadId, BOOLEAN Create)
{
    ULONG called = 0;

    FIRE(thread_routines, "thread", (ProcessId, ThreadId, Create));
    return called;
}

ULONG shim_notify_image(PUNICODE_STRING FullImageName, HANDLE ProcessId, PIMAGE_INFO Info)
{
    ULONG called = 0;

    FIRE(image_routines, "image-load", (FullImageName, ProcessId, Info));
    return called;
}

static void (*volatile time_hook)(void);

VOID shim_on_system_time(void (*Hook)(void))
{
    time_hook = Hook;
}

LONG64 shim_system_time(VOID)
{
    void (*hook)(void) = time_hook;

    if (hook)
        hook();
    return __atomic_load_n(&system_time, __ATOMIC_RELAXED);
}

VOID shim_set_system_time(LONG64 Time)
{
    __atomic_store_n(&system_time, Time, __ATOMIC_RELAXED);
}
