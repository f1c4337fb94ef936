/* SPDX-License-Identifier: MIT */
/* IRP_MJ_DEVICE_CONTROL: each IOCTL of protocol v1 is one small handler. */
#include "sanctum.h"

typedef NTSTATUS SANCTUM_IOCTL_HANDLER(PSANCTUM_STATE State, const VOID *Input, ULONG InputLength,
                                       PVOID Output, ULONG OutputLength, PULONG_PTR Information);

static NTSTATUS SanctumGetVersion(PSANCTUM_STATE State, const VOID *Input, ULONG InputLength,
                                  PVOID Output, ULONG OutputLength, PULONG_PTR Information)
{
    SANCTUM_VERSION version;

    /* Input is ignored, so that a client of any protocol can always ask. */
    UNREFERENCED_PARAMETER(State);
    UNREFERENCED_PARAMETER(Input);
    UNREFERENCED_PARAMETER(InputLength);

    if (OutputLength < sizeof(version) || !Output)
        return STATUS_BUFFER_TOO_SMALL;
    version.Size = sizeof(version);
    version.Protocol = SANCTUM_PROTOCOL_VERSION;
    version.Major = SANCTUM_VERSION_MAJOR;
    version.Minor = SANCTUM_VERSION_MINOR;
    version.Patch = SANCTUM_VERSION_PATCH;
    RtlCopyMemory(Output, &version, sizeof(version));
    *Information = sizeof(version);
    return STATUS_SUCCESS;
}

static NTSTATUS SanctumEcho(PSANCTUM_STATE State, const VOID *Input, ULONG InputLength,
                            PVOID Output, ULONG OutputLength, PULONG_PTR Information)
{
    UNREFERENCED_PARAMETER(State);

    if (InputLength == 0 || InputLength > SANCTUM_MAX_ECHO || !Input)
        return STATUS_INVALID_PARAMETER;
    if (OutputLength < InputLength || !Output)
        return STATUS_BUFFER_TOO_SMALL;
    /* METHOD_BUFFERED: input and output are the same system buffer; move, don't copy. */
    if (Output != Input)
        RtlMoveMemory(Output, Input, InputLength);
    *Information = InputLength;
    return STATUS_SUCCESS;
}

/* A protocol-1 client asks with SANCTUM_STATS_V1_SIZE bytes and gets exactly those fields. */
static NTSTATUS SanctumGetStats(PSANCTUM_STATE State, const VOID *Input, ULONG InputLength,
                                PVOID Output, ULONG OutputLength, PULONG_PTR Information)
{
    SANCTUM_STATS stats;
    ULONG size = OutputLength < sizeof(stats) ? SANCTUM_STATS_V1_SIZE : sizeof(stats);

    UNREFERENCED_PARAMETER(Input);
    UNREFERENCED_PARAMETER(InputLength);

    if (OutputLength < size || !Output)
        return STATUS_BUFFER_TOO_SMALL;
    SanctumSnapshot(State, &stats);
    stats.Size = size;
    RtlCopyMemory(Output, &stats, size);
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

static NTSTATUS SanctumFill(PSANCTUM_STATE State, const VOID *Input, ULONG InputLength,
                            PVOID Output, ULONG OutputLength, PULONG_PTR Information)
{
    ULONG seed;

    UNREFERENCED_PARAMETER(State);

    if (InputLength != sizeof(seed) || !Input)
        return STATUS_INVALID_PARAMETER;
    if (OutputLength == 0 || OutputLength > SANCTUM_MAX_FILL || !Output)
        return STATUS_INVALID_PARAMETER;
    RtlCopyMemory(&seed, Input, sizeof(seed));
    SanctumFillPattern(Output, OutputLength, (UCHAR)seed);
    *Information = OutputLength;
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
};

static ULONG SanctumIoctlIndex(ULONG Code)
{
    return ((Code >> 2) & 0xFFF) - SANCTUM_FIRST_FUNCTION;
}

BOOLEAN SanctumIsKnownIoctl(ULONG Code)
{
    ULONG index = SanctumIoctlIndex(Code);

    return index < ARRAYSIZE(SanctumIoctls) && SanctumIoctls[index].Code == Code;
}

NTSTATUS SanctumDeviceControl(PSANCTUM_STATE State, ULONG Code, const VOID *Input,
                              ULONG InputLength, PVOID Output, ULONG OutputLength,
                              PULONG_PTR Information)
{
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;

    InterlockedIncrement64(&State->Ioctls);
    *Information = 0;
    if (SanctumIsKnownIoctl(Code))
        status = SanctumIoctls[SanctumIoctlIndex(Code)].Handler(State, Input, InputLength, Output,
                                                                OutputLength, Information);
    if (!NT_SUCCESS(status))
        *Information = 0;
    SanctumRecord(State, status, NT_SUCCESS(status) ? InputLength : 0, *Information);
    return status;
}
