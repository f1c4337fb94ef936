/* SPDX-License-Identifier: MIT */
/* IRP_MJ_DEVICE_CONTROL: each IOCTL of the protocol is one small handler. */
#include "sanctum.h"

typedef NTSTATUS SANCTUM_IOCTL_HANDLER(const SANCTUM_REQUEST *Request, PULONG_PTR Information);

/* Input is ignored, so that a client of any protocol can always ask. */
static NTSTATUS SanctumGetVersion(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    SANCTUM_VERSION version;

    if (Request->Output.Length < sizeof(version) || !Request->Output.Address)
        return STATUS_BUFFER_TOO_SMALL;
    version.Size = sizeof(version);
    version.Protocol = SANCTUM_PROTOCOL_VERSION;
    version.Major = SANCTUM_VERSION_MAJOR;
    version.Minor = SANCTUM_VERSION_MINOR;
    version.Patch = SANCTUM_VERSION_PATCH;
    RtlCopyMemory(Request->Output.Address, &version, sizeof(version));
    *Information = sizeof(version);
    return STATUS_SUCCESS;
}

static NTSTATUS SanctumEcho(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    ULONG length = Request->InputLength;

    if (length == 0 || length > SANCTUM_MAX_ECHO || !Request->Input)
        return STATUS_INVALID_PARAMETER;
    if (Request->Output.Length < length || !Request->Output.Address)
        return STATUS_BUFFER_TOO_SMALL;
    /* METHOD_BUFFERED: input and output are the same system buffer; move, don't copy. */
    if (Request->Output.Address != Request->Input)
        RtlMoveMemory(Request->Output.Address, Request->Input, length);
    *Information = length;
    return STATUS_SUCCESS;
}

/*
 * A client of an earlier protocol asks with its size (SANCTUM_STATS_V1_SIZE, _V2_SIZE) and gets
 * exactly the fields it knows: the largest version that fits.
 */
static NTSTATUS SanctumGetStats(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    SANCTUM_STATS stats;
    ULONG length = Request->Output.Length;
    ULONG size = length >= sizeof(stats)             ? sizeof(stats)
                 : length >= SANCTUM_STATS_V2_SIZE ? SANCTUM_STATS_V2_SIZE
                                                   : SANCTUM_STATS_V1_SIZE;

    if (length < size || !Request->Output.Address)
        return STATUS_BUFFER_TOO_SMALL;
    SanctumSnapshot(Request->State, &stats);
    stats.Size = size;
    RtlCopyMemory(Request->Output.Address, &stats, size);
    *Information = size;
    return STATUS_SUCCESS;
}

/*
 * Sixteen bytes of the pattern at a time: adding 16 to every byte of a block (mod 256, each
 * byte on its own) gives the next block. A byte loop costs 5 instructions a byte with gcc, 1.1
 * with clang's own vectorization; this costs 0.3 and runs as fast as memset. SSE2 registers
 * only: x64 kernel code may use them freely, but not AVX's without saving them first.
 */
typedef UCHAR SANCTUM_BLOCK __attribute__((vector_size(16)));

static VOID SanctumFillPattern(PUCHAR Out, ULONG Length, UCHAR Seed)
{
    SANCTUM_BLOCK block = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    ULONG i;

    block += Seed;
    for (i = 0; i < Length / sizeof(block); i++) {
        /* An unaligned 16-byte store; the builtin, since -ffreestanding leaves memcpy a call. */
        __builtin_memcpy(Out + i * sizeof(block), &block, sizeof(block));
        block += (UCHAR)sizeof(block);
    }
    for (i *= sizeof(block); i < Length; i++)
        Out[i] = (UCHAR)(Seed + i);
}

/* The lengths are checked before the caller's pages are mapped. */
static NTSTATUS SanctumFill(const SANCTUM_REQUEST *Request, PULONG_PTR Information)
{
    ULONG seed, length = Request->Output.Length;
    PVOID out;
    NTSTATUS status;

    if (Request->InputLength != sizeof(seed) || !Request->Input)
        return STATUS_INVALID_PARAMETER;
    if (length == 0 || length > SANCTUM_MAX_FILL)
        return STATUS_INVALID_PARAMETER;
    status = SanctumMapBuffer(&Request->Output, &out);
    if (!NT_SUCCESS(status))
        return status;
    if (!out)
        return STATUS_INVALID_PARAMETER;
    RtlCopyMemory(&seed, Request->Input, sizeof(seed));
    SanctumFillPattern(out, length, (UCHAR)seed);
    *Information = length;
    return STATUS_SUCCESS;
}

/*
 * Every IOCTL of the protocol, indexed by function number from 0x800. The whole code must
 * match, so a known function sent with another method or access is refused like any other.
 */
#define SANCTUM_FIRST_FUNCTION 0x800
static const struct {
    ULONG Code;
    SANCTUM_IOCTL_HANDLER *Handler;
} SanctumIoctls[] = {
    { IOCTL_SANCTUM_GET_VERSION, SanctumGetVersion },
    { IOCTL_SANCTUM_ECHO, SanctumEcho },
    { IOCTL_SANCTUM_GET_STATS, SanctumGetStats },
    { IOCTL_SANCTUM_FILL, SanctumFill },
    { IOCTL_SANCTUM_SUBSCRIBE, SanctumSubscribe },   /* events.c */
    { IOCTL_SANCTUM_GET_EVENTS, SanctumGetEvents },
    { IOCTL_SANCTUM_MARK, SanctumMark },
    { IOCTL_SANCTUM_DISCONNECT, SanctumDisconnect },
};

static ULONG SanctumIoctlIndex(ULONG Code)
{
    return ((Code >> 2) & 0xFFF) - SANCTUM_FIRST_FUNCTION;
}

/* Whether Code is one of ours, with its method and access exactly. */
static BOOLEAN SanctumIsKnownIoctl(ULONG Code)
{
    ULONG index = SanctumIoctlIndex(Code);

    return index < ARRAYSIZE(SanctumIoctls) && SanctumIoctls[index].Code == Code;
}

NTSTATUS SanctumDeviceControl(const SANCTUM_REQUEST *Request, ULONG Code, PULONG_PTR Information)
{
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;

    InterlockedIncrement64(&Request->State->Ioctls);
    *Information = 0;
    if (SanctumIsKnownIoctl(Code))
        status = SanctumIoctls[SanctumIoctlIndex(Code)].Handler(Request, Information);
    /* A pended request is counted when it completes (events.c). */
    if (status == STATUS_PENDING)
        return status;
    if (!NT_SUCCESS(status))
        *Information = 0;
    SanctumRecord(Request->State, status, NT_SUCCESS(status) ? Request->InputLength : 0,
                  *Information);
    return status;
}
