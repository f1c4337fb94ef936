/* SPDX-License-Identifier: MIT */
/*
 * The device's DACL: LocalSystem and Administrators only, protected from inheritance.
 * This is what IoCreateDeviceSecure with SDDL_DEVOBJ_SYS_ALL_ADM_ALL ("D:P(A;;GA;;;SY)
 * (A;;GA;;;BA)") gives, built by hand because mingw-w64 has no wdmsec library.
 */
#include "sanctum.h"

/* Room for S-1-5-32-544, the longer of our two SIDs; Bytes only sizes the union. */
typedef union {
    SID Sid;
    // cppcheck-suppress unusedStructMember
    UCHAR Bytes[FIELD_OFFSET(SID, SubAuthority) + 2 * sizeof(ULONG)];
} SANCTUM_SID;

static NTSTATUS SanctumInitSid(SANCTUM_SID *Sid, UCHAR Count, ULONG First, ULONG Second)
{
    SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;
    NTSTATUS status;

    status = RtlInitializeSid(&Sid->Sid, &nt, Count);
    if (!NT_SUCCESS(status))
        return status;
    *RtlSubAuthoritySid(&Sid->Sid, 0) = First;
    if (Count > 1)
        *RtlSubAuthoritySid(&Sid->Sid, 1) = Second;
    return STATUS_SUCCESS;
}

NTSTATUS SanctumProtectDevice(PDEVICE_OBJECT Device)
{
    SANCTUM_SID system, admins;
    SECURITY_DESCRIPTOR sd;
    /* An ACL header and two ACEs, ULONG-aligned as an ACL must be. */
    ULONG acl[(sizeof(ACL) + 2 * sizeof(ACCESS_ALLOWED_ACE) + sizeof(admins) + sizeof(system)) /
              sizeof(ULONG)];
    HANDLE handle;
    NTSTATUS status;

    status = SanctumInitSid(&system, 1, SECURITY_LOCAL_SYSTEM_RID, 0);
    if (NT_SUCCESS(status))
        status = SanctumInitSid(&admins, 2, SECURITY_BUILTIN_DOMAIN_RID, DOMAIN_ALIAS_RID_ADMINS);
    if (NT_SUCCESS(status))
        status = RtlCreateAcl((PACL)acl, sizeof(acl), ACL_REVISION);
    /* FILE_ALL_ACCESS is GENERIC_ALL as the I/O manager maps it for a device. */
    if (NT_SUCCESS(status))
        status = RtlAddAccessAllowedAce((PACL)acl, ACL_REVISION, FILE_ALL_ACCESS, &system.Sid);
    if (NT_SUCCESS(status))
        status = RtlAddAccessAllowedAce((PACL)acl, ACL_REVISION, FILE_ALL_ACCESS, &admins.Sid);
    if (NT_SUCCESS(status))
        status = RtlCreateSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION);
    if (NT_SUCCESS(status))
        status = RtlSetDaclSecurityDescriptor(&sd, TRUE, (PACL)acl, FALSE);
    if (!NT_SUCCESS(status))
        return status;

    status = ObOpenObjectByPointer(Device, OBJ_KERNEL_HANDLE, NULL, WRITE_DAC, NULL, KernelMode,
                                   &handle);
    if (!NT_SUCCESS(status))
        return status;
    status = ZwSetSecurityObject(handle, DACL_SECURITY_INFORMATION |
                                             PROTECTED_DACL_SECURITY_INFORMATION, &sd);
    ZwClose(handle);
    return status;
}
