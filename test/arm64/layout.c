/* SPDX-License-Identifier: MIT */
/*
 * The layouts the driver shares with the kernel and with user mode, as the compiler sees
 * them through the driver's own headers. Compiled to assembly (never run) for x64 and for
 * ARM64; test/arm64/run.sh reads the "->NAME OFFSET SIZE" lines and compares the two builds.
 * The ARM64 kernel uses the same layouts as x64's, so any difference is a header bug.
 */
#include "sanctum.h"

#include <stddef.h>

/* A field: its offset and size. A type: its size. A value: the number. */
#define FIELD(Type, Field)                                                               \
    __asm__ volatile(".ascii \"->" #Type "." #Field " %c0 %c1\\n\"" ::"i"(offsetof(Type, Field)), \
                     "i"(sizeof(((Type *)0)->Field)))
#define TYPE(Type) __asm__ volatile(".ascii \"->" #Type " %c0\\n\"" ::"i"(sizeof(Type)))
#define VALUE(Name, Value) __asm__ volatile(".ascii \"->" Name " %c0\\n\"" ::"i"(Value))

void SanctumLayout(void);

void SanctumLayout(void)
{
    /* Scalars and the basic kernel types. */
    TYPE(PVOID);
    TYPE(ULONG_PTR);
    TYPE(LONG);
    TYPE(LONG64);
    TYPE(WCHAR);
    TYPE(BOOLEAN);
    TYPE(NTSTATUS);
    TYPE(KIRQL);
    TYPE(KSPIN_LOCK);
    TYPE(HANDLE);
    TYPE(LARGE_INTEGER);
    TYPE(LIST_ENTRY);
    TYPE(SINGLE_LIST_ENTRY);
    TYPE(SLIST_HEADER);
    FIELD(UNICODE_STRING, Length);
    FIELD(UNICODE_STRING, MaximumLength);
    FIELD(UNICODE_STRING, Buffer);
    TYPE(UNICODE_STRING);
    FIELD(IO_STATUS_BLOCK, Status);
    FIELD(IO_STATUS_BLOCK, Information);
    TYPE(IO_STATUS_BLOCK);
    FIELD(CLIENT_ID, UniqueProcess);
    FIELD(CLIENT_ID, UniqueThread);
    TYPE(CLIENT_ID);
    FIELD(OBJECT_ATTRIBUTES, ObjectName);
    FIELD(OBJECT_ATTRIBUTES, Attributes);
    FIELD(OBJECT_ATTRIBUTES, SecurityQualityOfService);
    TYPE(OBJECT_ATTRIBUTES);

    /* The IRP and its stack location, every Parameters member the driver or the EDR uses. */
    FIELD(IRP, Type);
    FIELD(IRP, Size);
    FIELD(IRP, MdlAddress);
    FIELD(IRP, Flags);
    FIELD(IRP, AssociatedIrp.SystemBuffer);
    FIELD(IRP, ThreadListEntry);
    FIELD(IRP, IoStatus);
    FIELD(IRP, RequestorMode);
    FIELD(IRP, PendingReturned);
    FIELD(IRP, StackCount);
    FIELD(IRP, CurrentLocation);
    FIELD(IRP, Cancel);
    FIELD(IRP, CancelIrql);
    FIELD(IRP, ApcEnvironment);
    FIELD(IRP, AllocationFlags);
    FIELD(IRP, UserIosb);
    FIELD(IRP, UserEvent);
    FIELD(IRP, Overlay.AsynchronousParameters.UserApcRoutine);
    FIELD(IRP, Overlay.AllocationSize);
    FIELD(IRP, CancelRoutine);
    FIELD(IRP, UserBuffer);
    FIELD(IRP, Tail.Overlay.DeviceQueueEntry);
    FIELD(IRP, Tail.Overlay.DriverContext);
    FIELD(IRP, Tail.Overlay.Thread);
    FIELD(IRP, Tail.Overlay.AuxiliaryBuffer);
    FIELD(IRP, Tail.Overlay.ListEntry);
    FIELD(IRP, Tail.Overlay.CurrentStackLocation);
    FIELD(IRP, Tail.Overlay.OriginalFileObject);
    FIELD(IRP, Tail.Apc);
    FIELD(IRP, Tail.CompletionKey);
    TYPE(IRP);
    FIELD(IO_STACK_LOCATION, MajorFunction);
    FIELD(IO_STACK_LOCATION, MinorFunction);
    FIELD(IO_STACK_LOCATION, Flags);
    FIELD(IO_STACK_LOCATION, Control);
    FIELD(IO_STACK_LOCATION, Parameters);
    FIELD(IO_STACK_LOCATION, Parameters.Create.SecurityContext);
    FIELD(IO_STACK_LOCATION, Parameters.Create.Options);
    FIELD(IO_STACK_LOCATION, Parameters.Create.FileAttributes);
    FIELD(IO_STACK_LOCATION, Parameters.Create.ShareAccess);
    FIELD(IO_STACK_LOCATION, Parameters.Create.EaLength);
    FIELD(IO_STACK_LOCATION, Parameters.Read.Length);
    FIELD(IO_STACK_LOCATION, Parameters.Read.Key);
    FIELD(IO_STACK_LOCATION, Parameters.Read.ByteOffset);
    FIELD(IO_STACK_LOCATION, Parameters.Write.Length);
    FIELD(IO_STACK_LOCATION, Parameters.Write.Key);
    FIELD(IO_STACK_LOCATION, Parameters.Write.ByteOffset);
    FIELD(IO_STACK_LOCATION, Parameters.DeviceIoControl.OutputBufferLength);
    FIELD(IO_STACK_LOCATION, Parameters.DeviceIoControl.InputBufferLength);
    FIELD(IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode);
    FIELD(IO_STACK_LOCATION, Parameters.DeviceIoControl.Type3InputBuffer);
    FIELD(IO_STACK_LOCATION, Parameters.Others.Argument1);
    FIELD(IO_STACK_LOCATION, Parameters.Others.Argument4);
    FIELD(IO_STACK_LOCATION, DeviceObject);
    FIELD(IO_STACK_LOCATION, FileObject);
    FIELD(IO_STACK_LOCATION, CompletionRoutine);
    FIELD(IO_STACK_LOCATION, Context);
    TYPE(IO_STACK_LOCATION);

    /* The objects the I/O manager hands the driver. */
    FIELD(DEVICE_OBJECT, Type);
    FIELD(DEVICE_OBJECT, Size);
    FIELD(DEVICE_OBJECT, ReferenceCount);
    FIELD(DEVICE_OBJECT, DriverObject);
    FIELD(DEVICE_OBJECT, NextDevice);
    FIELD(DEVICE_OBJECT, AttachedDevice);
    FIELD(DEVICE_OBJECT, CurrentIrp);
    FIELD(DEVICE_OBJECT, Timer);
    FIELD(DEVICE_OBJECT, Flags);
    FIELD(DEVICE_OBJECT, Characteristics);
    FIELD(DEVICE_OBJECT, Vpb);
    FIELD(DEVICE_OBJECT, DeviceExtension);
    FIELD(DEVICE_OBJECT, DeviceType);
    FIELD(DEVICE_OBJECT, StackSize);
    FIELD(DEVICE_OBJECT, Queue);
    FIELD(DEVICE_OBJECT, AlignmentRequirement);
    FIELD(DEVICE_OBJECT, DeviceQueue);
    FIELD(DEVICE_OBJECT, Dpc);
    FIELD(DEVICE_OBJECT, ActiveThreadCount);
    FIELD(DEVICE_OBJECT, SecurityDescriptor);
    FIELD(DEVICE_OBJECT, DeviceLock);
    FIELD(DEVICE_OBJECT, SectorSize);
    FIELD(DEVICE_OBJECT, Spare1);
    FIELD(DEVICE_OBJECT, DeviceObjectExtension);
    FIELD(DEVICE_OBJECT, Reserved);
    TYPE(DEVICE_OBJECT);
    FIELD(KDEVICE_QUEUE, DeviceListHead);
    FIELD(KDEVICE_QUEUE, Lock);
    FIELD(KDEVICE_QUEUE, Busy);
    TYPE(KDEVICE_QUEUE);
    FIELD(DRIVER_OBJECT, Type);
    FIELD(DRIVER_OBJECT, DeviceObject);
    FIELD(DRIVER_OBJECT, Flags);
    FIELD(DRIVER_OBJECT, DriverStart);
    FIELD(DRIVER_OBJECT, DriverSize);
    FIELD(DRIVER_OBJECT, DriverSection);
    FIELD(DRIVER_OBJECT, DriverExtension);
    FIELD(DRIVER_OBJECT, DriverName);
    FIELD(DRIVER_OBJECT, HardwareDatabase);
    FIELD(DRIVER_OBJECT, FastIoDispatch);
    FIELD(DRIVER_OBJECT, DriverInit);
    FIELD(DRIVER_OBJECT, DriverStartIo);
    FIELD(DRIVER_OBJECT, DriverUnload);
    FIELD(DRIVER_OBJECT, MajorFunction);
    TYPE(DRIVER_OBJECT);
    FIELD(FILE_OBJECT, Type);
    FIELD(FILE_OBJECT, DeviceObject);
    FIELD(FILE_OBJECT, Vpb);
    FIELD(FILE_OBJECT, FsContext);
    FIELD(FILE_OBJECT, FsContext2);
    FIELD(FILE_OBJECT, SectionObjectPointer);
    FIELD(FILE_OBJECT, PrivateCacheMap);
    FIELD(FILE_OBJECT, FinalStatus);
    FIELD(FILE_OBJECT, RelatedFileObject);
    FIELD(FILE_OBJECT, LockOperation);
    FIELD(FILE_OBJECT, Flags);
    FIELD(FILE_OBJECT, FileName);
    FIELD(FILE_OBJECT, CurrentByteOffset);
    FIELD(FILE_OBJECT, Waiters);
    FIELD(FILE_OBJECT, Busy);
    FIELD(FILE_OBJECT, LastLock);
    FIELD(FILE_OBJECT, Lock);
    FIELD(FILE_OBJECT, Event);
    FIELD(FILE_OBJECT, CompletionContext);
    FIELD(FILE_OBJECT, IrpListLock);
    FIELD(FILE_OBJECT, IrpList);
    FIELD(FILE_OBJECT, FileObjectExtension);
    TYPE(FILE_OBJECT);
    FIELD(MDL, Next);
    FIELD(MDL, Size);
    FIELD(MDL, MdlFlags);
    FIELD(MDL, Process);
    FIELD(MDL, MappedSystemVa);
    FIELD(MDL, StartVa);
    FIELD(MDL, ByteCount);
    FIELD(MDL, ByteOffset);
    TYPE(MDL);

    /* Dispatcher objects, DPCs, timers, work items. */
    FIELD(DISPATCHER_HEADER, SignalState);
    FIELD(DISPATCHER_HEADER, WaitListHead);
    TYPE(DISPATCHER_HEADER);
    FIELD(KEVENT, Header);
    TYPE(KEVENT);
    TYPE(KSEMAPHORE);
    TYPE(KMUTEX);
    TYPE(FAST_MUTEX);
    FIELD(KTIMER, DueTime);
    FIELD(KTIMER, TimerListEntry);
    FIELD(KTIMER, Dpc);
    FIELD(KTIMER, Period);
    TYPE(KTIMER);
    FIELD(KDPC, Type);
    FIELD(KDPC, Importance);
    FIELD(KDPC, Number);
    FIELD(KDPC, DpcListEntry);
    FIELD(KDPC, DeferredRoutine);
    FIELD(KDPC, DeferredContext);
    FIELD(KDPC, SystemArgument1);
    FIELD(KDPC, SystemArgument2);
    FIELD(KDPC, DpcData);
    TYPE(KDPC);
    TYPE(KAPC);
    TYPE(KDEVICE_QUEUE_ENTRY);
    TYPE(KLOCK_QUEUE_HANDLE);
    TYPE(WORK_QUEUE_ITEM);
    TYPE(ERESOURCE);

    /* Lookaside lists: an obsolete 32-bit lock at the end doubles the size of the wrong one. */
    FIELD(GENERAL_LOOKASIDE, ListHead);
    FIELD(GENERAL_LOOKASIDE, Depth);
    FIELD(GENERAL_LOOKASIDE, TotalAllocates);
    FIELD(GENERAL_LOOKASIDE, Type);
    FIELD(GENERAL_LOOKASIDE, Tag);
    FIELD(GENERAL_LOOKASIDE, Size);
    FIELD(GENERAL_LOOKASIDE, AllocateEx);
    FIELD(GENERAL_LOOKASIDE, FreeEx);
    FIELD(GENERAL_LOOKASIDE, ListEntry);
    FIELD(GENERAL_LOOKASIDE, LastTotalAllocates);
    FIELD(GENERAL_LOOKASIDE, Future);
    TYPE(GENERAL_LOOKASIDE);
    TYPE(NPAGED_LOOKASIDE_LIST);
    TYPE(PAGED_LOOKASIDE_LIST);
    TYPE(LOOKASIDE_LIST_EX);

    /* The security structures the device's DACL is built from. */
    FIELD(SECURITY_DESCRIPTOR, Revision);
    FIELD(SECURITY_DESCRIPTOR, Control);
    FIELD(SECURITY_DESCRIPTOR, Owner);
    FIELD(SECURITY_DESCRIPTOR, Group);
    FIELD(SECURITY_DESCRIPTOR, Sacl);
    FIELD(SECURITY_DESCRIPTOR, Dacl);
    TYPE(SECURITY_DESCRIPTOR);
    TYPE(SECURITY_DESCRIPTOR_RELATIVE);
    FIELD(ACL, AclRevision);
    FIELD(ACL, AclSize);
    FIELD(ACL, AceCount);
    TYPE(ACL);
    FIELD(ACE_HEADER, AceSize);
    TYPE(ACE_HEADER);
    FIELD(ACCESS_ALLOWED_ACE, Mask);
    FIELD(ACCESS_ALLOWED_ACE, SidStart);
    TYPE(ACCESS_ALLOWED_ACE);
    FIELD(SID, IdentifierAuthority);
    FIELD(SID, SubAuthority);
    TYPE(SID);
    TYPE(SID_IDENTIFIER_AUTHORITY);
    TYPE(GENERIC_MAPPING);
    TYPE(SECURITY_QUALITY_OF_SERVICE);
    FIELD(IO_SECURITY_CONTEXT, SecurityQos);
    FIELD(IO_SECURITY_CONTEXT, AccessState);
    FIELD(IO_SECURITY_CONTEXT, DesiredAccess);
    FIELD(IO_SECURITY_CONTEXT, FullCreateOptions);
    TYPE(IO_SECURITY_CONTEXT);

    /* What the EDR's notify routines are given. */
    FIELD(PS_CREATE_NOTIFY_INFO, Size);
    FIELD(PS_CREATE_NOTIFY_INFO, Flags);
    FIELD(PS_CREATE_NOTIFY_INFO, ParentProcessId);
    FIELD(PS_CREATE_NOTIFY_INFO, CreatingThreadId);
    FIELD(PS_CREATE_NOTIFY_INFO, FileObject);
    FIELD(PS_CREATE_NOTIFY_INFO, ImageFileName);
    FIELD(PS_CREATE_NOTIFY_INFO, CommandLine);
    FIELD(PS_CREATE_NOTIFY_INFO, CreationStatus);
    TYPE(PS_CREATE_NOTIFY_INFO);
    FIELD(IMAGE_INFO, Properties);
    FIELD(IMAGE_INFO, ImageBase);
    FIELD(IMAGE_INFO, ImageSelector);
    FIELD(IMAGE_INFO, ImageSize);
    FIELD(IMAGE_INFO, ImageSectionNumber);
    TYPE(IMAGE_INFO);

    /* The shared user data page that KeQuerySystemTime reads. */
    FIELD(KSYSTEM_TIME, LowPart);
    FIELD(KSYSTEM_TIME, High1Time);
    FIELD(KSYSTEM_TIME, High2Time);
    FIELD(KUSER_SHARED_DATA, InterruptTime);
    FIELD(KUSER_SHARED_DATA, SystemTime);
    FIELD(KUSER_SHARED_DATA, TimeZoneBias);
    FIELD(KUSER_SHARED_DATA, NtMajorVersion);
    FIELD(KUSER_SHARED_DATA, TickCount);
    VALUE("KI_USER_SHARED_DATA", KI_USER_SHARED_DATA);
    VALUE("SharedSystemTime", SharedSystemTime);
    VALUE("SharedInterruptTime", SharedInterruptTime);
    VALUE("PAGE_SIZE", PAGE_SIZE);
    VALUE("PASSIVE_LEVEL", PASSIVE_LEVEL);
    VALUE("APC_LEVEL", APC_LEVEL);
    VALUE("DISPATCH_LEVEL", DISPATCH_LEVEL);

    /* Our public contract (include/sanctum/ioctl.h) and the driver's own state. */
    TYPE(SANCTUM_VERSION);
    FIELD(SANCTUM_STATS, Creates);
    FIELD(SANCTUM_STATS, PoolBytes);
    FIELD(SANCTUM_STATS, EventsQueued);
    FIELD(SANCTUM_STATS, Subscriptions);
    TYPE(SANCTUM_STATS);
    TYPE(SANCTUM_SUBSCRIBE);
    FIELD(SANCTUM_EVENT_HEADER, Sequence);
    FIELD(SANCTUM_EVENT_HEADER, Time);
    TYPE(SANCTUM_EVENT_HEADER);
    FIELD(SANCTUM_PROCESS_CREATE, ImageNameLength);
    TYPE(SANCTUM_PROCESS_CREATE);
    TYPE(SANCTUM_PROCESS_EXIT);
    TYPE(SANCTUM_THREAD);
    FIELD(SANCTUM_IMAGE_LOAD, Properties);
    TYPE(SANCTUM_IMAGE_LOAD);
    TYPE(SANCTUM_MARK);
    FIELD(SANCTUM_STATE, HandlesLock);
    FIELD(SANCTUM_STATE, Handles);
    TYPE(SANCTUM_STATE);
    TYPE(SANCTUM_HANDLE);
    FIELD(SANCTUM_SUBSCRIPTION, Pending);
    TYPE(SANCTUM_SUBSCRIPTION);
    FIELD(SANCTUM_STATE, Subscriptions);
}

/*
 * The kernel calls the EDR core makes, so that a gap in the ARM64 headers (a macro missing,
 * an inline that reads the PCR) fails here, in make check, before the code that needs it.
 */
static VOID ProcessNotify(PEPROCESS Process, HANDLE Id, PPS_CREATE_NOTIFY_INFO Info)
{
    (VOID)Process, (VOID)Id, (VOID)Info;
}

static VOID ThreadNotify(HANDLE Process, HANDLE Thread, BOOLEAN Create)
{
    (VOID)Process, (VOID)Thread, (VOID)Create;
}

static VOID ImageNotify(PUNICODE_STRING Name, HANDLE Process, PIMAGE_INFO Info)
{
    (VOID)Name, (VOID)Process, (VOID)Info;
}

LONG64 SanctumApiProbe(PIRP Irp, PDRIVER_CANCEL Cancel, PKSPIN_LOCK Lock, PVOID volatile *Slot);

LONG64 SanctumApiProbe(PIRP Irp, PDRIVER_CANCEL Cancel, PKSPIN_LOCK Lock, PVOID volatile *Slot)
{
    LARGE_INTEGER Now;
    KIRQL Irql;
    LONG64 Sum = 0;
    volatile LONG64 Counter = 0;
    volatile LONG Flags = 0;

    KeQuerySystemTime(&Now);
    Sum += Now.QuadPart + (LONG64)KeQueryInterruptTime();
    Sum += PsSetCreateProcessNotifyRoutineEx(ProcessNotify, FALSE);
    Sum += PsSetCreateProcessNotifyRoutineEx(ProcessNotify, TRUE);
    Sum += PsSetCreateThreadNotifyRoutine(ThreadNotify);
    Sum += PsRemoveCreateThreadNotifyRoutine(ThreadNotify);
    Sum += PsSetLoadImageNotifyRoutine(ImageNotify);
    Sum += PsRemoveLoadImageNotifyRoutine(ImageNotify);
    KeAcquireSpinLock(Lock, &Irql);
    KeAcquireSpinLockAtDpcLevel(Lock + 1);
    KeReleaseSpinLockFromDpcLevel(Lock + 1);
    KeReleaseSpinLock(Lock, Irql);
    IoAcquireCancelSpinLock(&Irql);
    Sum += IoSetCancelRoutine(Irp, Cancel) != NULL;
    IoReleaseCancelSpinLock(Irql);
    IoMarkIrpPending(Irp);
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    Sum += InterlockedExchangePointer(Slot, NULL) != NULL;
    Sum += InterlockedCompareExchangePointer(Slot, Irp, NULL) != NULL;
    Sum += InterlockedIncrement64(&Counter) + InterlockedExchangeAdd64(&Counter, 2);
    Sum += InterlockedCompareExchange64(&Counter, 0, 3) + InterlockedDecrement64(&Counter);
    Sum += InterlockedIncrement(&Flags) + InterlockedOr(&Flags, 4) + InterlockedAnd(&Flags, 1);
    Sum += InterlockedExchange(&Flags, 0) + InterlockedCompareExchange(&Flags, 1, 0);
    return Sum;
}
