/* SPDX-License-Identifier: MIT */
/* IOCTL handlers: buffers and lengths in, a status and a byte count out. */
#include "sanctum.h"

NTSTATUS SanctumHandleGetVersion(const VOID *Input, ULONG InputLength, PVOID Output,
                                 ULONG OutputLength, PULONG_PTR Information)
{
    PSANCTUM_VERSION version = Output;

    /* Input is ignored, so that any client of any protocol can always ask. */
    UNREFERENCED_PARAMETER(Input);
    UNREFERENCED_PARAMETER(InputLength);

    *Information = 0;
    if (OutputLength < sizeof(SANCTUM_VERSION))
        return STATUS_BUFFER_TOO_SMALL;

    version->Size = sizeof(SANCTUM_VERSION);
    version->Protocol = SANCTUM_PROTOCOL_VERSION;
    version->Major = SANCTUM_VERSION_MAJOR;
    version->Minor = SANCTUM_VERSION_MINOR;
    version->Patch = SANCTUM_VERSION_PATCH;
    *Information = sizeof(SANCTUM_VERSION);
    return STATUS_SUCCESS;
}
