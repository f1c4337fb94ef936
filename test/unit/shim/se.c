/* SPDX-License-Identifier: MIT */
/*
 * The security calls a driver makes to protect its device, on the Windows binary layouts of
 * SID, ACL, ACE and SECURITY_DESCRIPTOR, with the checks and status codes of ntoskrnl's Rtl
 * routines; object handles (ObOpenObjectByPointer, ZwClose); and the access check of an
 * open against the descriptor a device was given.
 */
#define _POSIX_C_SOURCE 200809L
#include "shim_private.h"

#include <pthread.h>
#include <stdio.h>

static ULONG sid_length(const SID *sid)
{
    return (ULONG)FIELD_OFFSET(SID, SubAuthority) + sid->SubAuthorityCount * (ULONG)sizeof(ULONG);
}

static ULONG sub_authority(const SID *sid, ULONG i)
{
    ULONG value;

    memcpy(&value, (const UCHAR *)sid + FIELD_OFFSET(SID, SubAuthority) + i * sizeof(ULONG),
           sizeof(value));
    return value;
}

BOOLEAN RtlValidSid(PSID Sid)
{
    const SID *sid = Sid;

    return (BOOLEAN)(sid && sid->Revision == SID_REVISION &&
                     sid->SubAuthorityCount <= SID_MAX_SUB_AUTHORITIES);
}

ULONG RtlLengthSid(PSID Sid)
{
    return sid_length(Sid);
}

BOOLEAN shim_sid_equal(PSID A, PSID B)
{
    const SID *a = A, *b = B;

    return (BOOLEAN)(RtlValidSid(A) && RtlValidSid(B) && sid_length(a) == sid_length(b) &&
                     !memcmp(a, b, sid_length(a)));
}

NTSTATUS RtlInitializeSid(PSID Sid, PSID_IDENTIFIER_AUTHORITY IdentifierAuthority,
                          UCHAR SubAuthorityCount)
{
    SID *sid = Sid;

    if (shim_fault("RtlInitializeSid", STATUS_INVALID_PARAMETER))
        return STATUS_INVALID_PARAMETER;
    if (SubAuthorityCount > SID_MAX_SUB_AUTHORITIES)
        return STATUS_INVALID_PARAMETER;
    /* Only the header: the sub-authorities are the caller's to set. */
    sid->Revision = SID_REVISION;
    sid->SubAuthorityCount = SubAuthorityCount;
    sid->IdentifierAuthority = *IdentifierAuthority;
    return STATUS_SUCCESS;
}

PULONG RtlSubAuthoritySid(PSID Sid, ULONG SubAuthority)
{
    SID *sid = Sid;

    /* Windows does not check; an index past the count is a bug the shim reports. */
    if (SubAuthority >= sid->SubAuthorityCount)
        shim_die("RtlSubAuthoritySid(%p, %u): the SID has %u sub-authorities", Sid, SubAuthority,
                 sid->SubAuthorityCount);
    return (PULONG)((PUCHAR)Sid + FIELD_OFFSET(SID, SubAuthority) + SubAuthority * sizeof(ULONG));
}

NTSTATUS RtlCreateAcl(PACL Acl, ULONG AclLength, ULONG AclRevision)
{
    shim_require_irql("RtlCreateAcl", APC_LEVEL);
    if (shim_fault("RtlCreateAcl", STATUS_BUFFER_TOO_SMALL))
        return STATUS_BUFFER_TOO_SMALL;
    if (AclLength < sizeof(ACL))
        return STATUS_BUFFER_TOO_SMALL;
    if (AclRevision < ACL_REVISION || AclRevision > ACL_REVISION_DS || AclLength > 0xFFFF)
        return STATUS_INVALID_PARAMETER;
    if ((ULONG_PTR)Acl & 3)
        shim_die("RtlCreateAcl(%p): an ACL must be ULONG-aligned", (void *)Acl);
    Acl->AclRevision = (UCHAR)AclRevision;
    Acl->Sbz1 = 0;
    Acl->AclSize = (USHORT)(AclLength & ~3u);
    Acl->AceCount = 0;
    Acl->Sbz2 = 0;
    return STATUS_SUCCESS;
}

/*
 * RtlValidAcl's rules: a known revision, a ULONG-multiple size, every ACE inside it with a
 * ULONG-multiple size, and a valid SID filling each allow or deny ACE. *FirstFree (if asked)
 * is where the next ACE goes.
 */
static BOOLEAN valid_acl(const ACL *acl, PUCHAR *FirstFree)
{
    const UCHAR *base = (const UCHAR *)acl;
    ULONG offset = sizeof(ACL), i;

    if (acl->AclRevision < ACL_REVISION || acl->AclRevision > ACL_REVISION_DS ||
        acl->AclSize < sizeof(ACL) || (acl->AclSize & 3))
        return FALSE;
    for (i = 0; i < acl->AceCount; i++) {
        ACE_HEADER header;

        if (offset + sizeof(ACE_HEADER) > acl->AclSize)
            return FALSE;
        memcpy(&header, base + offset, sizeof(header));
        if (header.AceSize < sizeof(ACE_HEADER) || (header.AceSize & 3) ||
            offset + header.AceSize > acl->AclSize)
            return FALSE;
        if (header.AceType == ACCESS_ALLOWED_ACE_TYPE || header.AceType == ACCESS_DENIED_ACE_TYPE) {
            const SID *sid =
                (const SID *)(base + offset + FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart));

            if (header.AceSize < FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart) + 8 ||
                !RtlValidSid((PSID)sid) ||
                FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart) + sid_length(sid) > header.AceSize)
                return FALSE;
        }
        offset += header.AceSize;
    }
    if (FirstFree)
        *FirstFree = (PUCHAR)base + offset;
    return TRUE;
}

NTSTATUS RtlAddAccessAllowedAce(PACL Acl, ULONG AceRevision, ACCESS_MASK AccessMask, PSID Sid)
{
    ACCESS_ALLOWED_ACE ace;
    PUCHAR free_ace;
    ULONG size;

    shim_require_irql("RtlAddAccessAllowedAce", APC_LEVEL);
    if (shim_fault("RtlAddAccessAllowedAce", STATUS_ALLOTTED_SPACE_EXCEEDED))
        return STATUS_ALLOTTED_SPACE_EXCEEDED;
    if (!RtlValidSid(Sid))
        return STATUS_INVALID_SID;
    if (AceRevision < ACL_REVISION || AceRevision > ACL_REVISION_DS ||
        Acl->AclRevision > ACL_REVISION_DS)
        return STATUS_REVISION_MISMATCH;
    if (!valid_acl(Acl, &free_ace))
        return STATUS_INVALID_ACL;
    size = FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart) + RtlLengthSid(Sid);
    if (free_ace + size > (PUCHAR)Acl + Acl->AclSize)
        return STATUS_ALLOTTED_SPACE_EXCEEDED;
    ace.Header.AceType = ACCESS_ALLOWED_ACE_TYPE;
    ace.Header.AceFlags = 0;
    ace.Header.AceSize = (USHORT)size;
    ace.Mask = AccessMask;
    memcpy(free_ace, &ace, FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart));
    memcpy(free_ace + FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart), Sid, RtlLengthSid(Sid));
    Acl->AceCount++;
    if (AceRevision > Acl->AclRevision)
        Acl->AclRevision = (UCHAR)AceRevision;
    return STATUS_SUCCESS;
}

NTSTATUS RtlCreateSecurityDescriptor(PSECURITY_DESCRIPTOR SecurityDescriptor, ULONG Revision)
{
    SECURITY_DESCRIPTOR *sd = SecurityDescriptor;

    if (shim_fault("RtlCreateSecurityDescriptor", STATUS_UNKNOWN_REVISION))
        return STATUS_UNKNOWN_REVISION;
    if (Revision != SECURITY_DESCRIPTOR_REVISION)
        return STATUS_UNKNOWN_REVISION;
    memset(sd, 0, sizeof(*sd));
    sd->Revision = (UCHAR)Revision;
    return STATUS_SUCCESS;
}

NTSTATUS RtlSetDaclSecurityDescriptor(PSECURITY_DESCRIPTOR SecurityDescriptor,
                                      BOOLEAN DaclPresent, PACL Dacl, BOOLEAN DaclDefaulted)
{
    SECURITY_DESCRIPTOR *sd = SecurityDescriptor;

    if (shim_fault("RtlSetDaclSecurityDescriptor", STATUS_INVALID_SECURITY_DESCR))
        return STATUS_INVALID_SECURITY_DESCR;
    if (sd->Revision != SECURITY_DESCRIPTOR_REVISION)
        return STATUS_UNKNOWN_REVISION;
    if (sd->Control & SE_SELF_RELATIVE)
        return STATUS_INVALID_SECURITY_DESCR;
    if (!DaclPresent) {
        sd->Control &= (USHORT)~SE_DACL_PRESENT;
        return STATUS_SUCCESS;
    }
    sd->Control |= SE_DACL_PRESENT;
    sd->Dacl = Dacl;
    if (DaclDefaulted)
        sd->Control |= SE_DACL_DEFAULTED;
    else
        sd->Control &= (USHORT)~SE_DACL_DEFAULTED;
    return STATUS_SUCCESS;
}

/* Object handles: kernel handles have the high bit set, as on Windows. */
typedef struct {
    HANDLE Value;
    PVOID Object;
    ACCESS_MASK Access;
    ULONG Attributes;
    KPROCESSOR_MODE Mode;
} HANDLE_ENTRY;

#define MAX_HANDLES 64
static HANDLE_ENTRY handles[MAX_HANDLES];
static ULONG handle_count;
static ULONG64 handle_serial;
static pthread_mutex_t handle_mutex = PTHREAD_MUTEX_INITIALIZER;

ULONG shim_handles_open(VOID)
{
    ULONG n;

    pthread_mutex_lock(&handle_mutex);
    n = handle_count;
    pthread_mutex_unlock(&handle_mutex);
    return n;
}

/* A copy of the entry for Handle; FALSE if it is not open. */
static BOOLEAN find_handle(HANDLE Handle, HANDLE_ENTRY *Entry, BOOLEAN Remove)
{
    BOOLEAN found = FALSE;
    ULONG i;

    pthread_mutex_lock(&handle_mutex);
    for (i = 0; i < handle_count; i++) {
        if (handles[i].Value != Handle)
            continue;
        *Entry = handles[i];
        if (Remove)
            handles[i] = handles[--handle_count];
        found = TRUE;
        break;
    }
    pthread_mutex_unlock(&handle_mutex);
    return found;
}

NTSTATUS ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes,
                               PACCESS_STATE PassedAccessState, ACCESS_MASK DesiredAccess,
                               POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode,
                               PHANDLE Handle)
{
    BOOLEAN *secured;
    HANDLE_ENTRY *entry;

    shim_require_irql("ObOpenObjectByPointer", PASSIVE_LEVEL);
    if (shim_fault("ObOpenObjectByPointer", STATUS_INSUFFICIENT_RESOURCES))
        return STATUS_INSUFFICIENT_RESOURCES;
    /* The shim's only objects with handles are devices. */
    if (!shim_security_slot(Object, &secured))
        shim_die("ObOpenObjectByPointer(%p): not an object the shim knows (a live device)", Object);
    if (PassedAccessState || ObjectType)
        shim_die("ObOpenObjectByPointer: an access state or object type is not supported");
    if (AccessMode != KernelMode && AccessMode != UserMode)
        shim_die("ObOpenObjectByPointer: access mode %d", AccessMode);

    pthread_mutex_lock(&handle_mutex);
    if (handle_count == MAX_HANDLES)
        shim_die("ObOpenObjectByPointer: more than %d handles open", MAX_HANDLES);
    entry = &handles[handle_count++];
    handle_serial++;
    entry->Value = (HANDLE)(ULONG_PTR)((HandleAttributes & OBJ_KERNEL_HANDLE
                                            ? 0xFFFFFFFF80000000ull
                                            : 0) +
                                       4 * handle_serial);
    entry->Object = Object;
    entry->Access = DesiredAccess;
    entry->Attributes = HandleAttributes;
    entry->Mode = AccessMode;
    *Handle = entry->Value;
    pthread_mutex_unlock(&handle_mutex);
    return STATUS_SUCCESS;
}

NTSTATUS ZwSetSecurityObject(HANDLE Handle, SECURITY_INFORMATION SecurityInformation,
                             PSECURITY_DESCRIPTOR SecurityDescriptor)
{
    const SECURITY_DESCRIPTOR *sd = SecurityDescriptor;
    HANDLE_ENTRY entry;
    SHIM_SECURITY *record;
    BOOLEAN *secured;
    const ACL *dacl = NULL;
    BOOLEAN present = FALSE;

    shim_require_irql("ZwSetSecurityObject", PASSIVE_LEVEL);
    if (shim_fault("ZwSetSecurityObject", STATUS_ACCESS_DENIED))
        return STATUS_ACCESS_DENIED;
    if (!find_handle(Handle, &entry, FALSE))
        return STATUS_INVALID_HANDLE;
    record = shim_security_slot(entry.Object, &secured);
    if (!record)
        shim_die("ZwSetSecurityObject(%p): its device was deleted while the handle was open",
                 Handle);
    if (!sd)
        return STATUS_INVALID_SECURITY_DESCR;
    if (sd->Revision != SECURITY_DESCRIPTOR_REVISION)
        return STATUS_UNKNOWN_REVISION;
    if (SecurityInformation & ~(OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
                                DACL_SECURITY_INFORMATION | SACL_SECURITY_INFORMATION |
                                PROTECTED_DACL_SECURITY_INFORMATION))
        return STATUS_INVALID_PARAMETER;
    if (SecurityInformation & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
                               SACL_SECURITY_INFORMATION))
        shim_die("ZwSetSecurityObject: only the DACL is supported by the shim (info 0x%08x)",
                 SecurityInformation);
    if (SecurityInformation & DACL_SECURITY_INFORMATION) {
        present = (BOOLEAN)((sd->Control & SE_DACL_PRESENT) != 0);
        if (sd->Control & SE_SELF_RELATIVE) {
            ULONG offset;

            /* SECURITY_DESCRIPTOR_RELATIVE: the Dacl is a ULONG offset at byte 16. */
            memcpy(&offset, (const UCHAR *)sd + 16, sizeof(offset));
            dacl = present && offset ? (const ACL *)((const UCHAR *)sd + offset) : NULL;
        } else {
            dacl = present ? sd->Dacl : NULL;
        }
        if (dacl && !valid_acl(dacl, NULL))
            return STATUS_INVALID_ACL;
        if (dacl && dacl->AclSize > sizeof(record->DaclBytes))
            shim_die("ZwSetSecurityObject: a DACL of %u bytes is beyond the shim's room",
                     dacl->AclSize);
    }

    /* The object's descriptor now: a deep copy of what was given. */
    if (SecurityInformation & DACL_SECURITY_INFORMATION) {
        memset(&record->Descriptor, 0, sizeof(record->Descriptor));
        record->Descriptor.Revision = SECURITY_DESCRIPTOR_REVISION;
        record->Descriptor.Control = sd->Control & (SE_DACL_PRESENT | SE_DACL_DEFAULTED |
                                                    SE_DACL_PROTECTED);
        if (SecurityInformation & PROTECTED_DACL_SECURITY_INFORMATION)
            record->Descriptor.Control |= SE_DACL_PROTECTED;
        memset(record->DaclBytes, 0, sizeof(record->DaclBytes));
        if (dacl) {
            memcpy(record->DaclBytes, dacl, dacl->AclSize);
            record->Descriptor.Dacl = (PACL)record->DaclBytes;
        }
    }
    record->Sets++;
    record->Information = SecurityInformation;
    record->LinkExisted = shim_device_has_link(entry.Object);
    record->Initializing =
        (BOOLEAN)((((PDEVICE_OBJECT)entry.Object)->Flags & DO_DEVICE_INITIALIZING) != 0);
    record->HandleAttributes = entry.Attributes;
    record->HandleAccess = entry.Access;
    record->HandleMode = entry.Mode;
    *secured = TRUE;
    return STATUS_SUCCESS;
}

NTSTATUS ZwClose(HANDLE Handle)
{
    HANDLE_ENTRY entry;

    shim_require_irql("ZwClose", PASSIVE_LEVEL);
    memset(&entry, 0, sizeof(entry));
    if (!find_handle(Handle, &entry, TRUE)) {
        if ((ULONG_PTR)Handle & 0x8000000000000000ull)
            shim_die("ZwClose(%p): not an open kernel handle (INVALID_KERNEL_HANDLE)", Handle);
        return STATUS_INVALID_HANDLE;
    }
    return STATUS_SUCCESS;
}

const SHIM_SECURITY *shim_device_security(PDEVICE_OBJECT Device)
{
    BOOLEAN *secured;
    SHIM_SECURITY *record = shim_security_slot(Device, &secured);

    return record && *secured ? record : NULL;
}

/* The token of each kind of caller: its user and groups. */
typedef struct {
    UCHAR Count;
    ULONG Sub[5];
    UCHAR Authority;
} TOKEN_SID;

static const TOKEN_SID system_token[] = {
    { 1, { 18 }, 5 },       /* S-1-5-18 LocalSystem */
    { 2, { 32, 544 }, 5 },  /* S-1-5-32-544 Administrators */
    { 1, { 0 }, 1 },        /* S-1-1-0 Everyone */
    { 1, { 11 }, 5 },       /* S-1-5-11 Authenticated Users */
};
static const TOKEN_SID admin_token[] = {
    { 5, { 21, 1004336348, 1177238915, 682003330, 1000 }, 5 },
    { 2, { 32, 544 }, 5 },
    { 2, { 32, 545 }, 5 }, /* Users */
    { 1, { 0 }, 1 },
    { 1, { 4 }, 5 },       /* Interactive */
    { 1, { 11 }, 5 },
};
static const TOKEN_SID user_token[] = {
    { 5, { 21, 1004336348, 1177238915, 682003330, 1001 }, 5 },
    { 2, { 32, 545 }, 5 },
    { 1, { 0 }, 1 },
    { 1, { 4 }, 5 },
    { 1, { 11 }, 5 },
};

static BOOLEAN token_has(SHIM_CALLER Caller, const SID *sid)
{
    const TOKEN_SID *token;
    size_t n, i;
    ULONG k;

    switch (Caller) {
    case SHIM_CALLER_SYSTEM:
        token = system_token, n = ARRAYSIZE(system_token);
        break;
    case SHIM_CALLER_ADMIN:
        token = admin_token, n = ARRAYSIZE(admin_token);
        break;
    default:
        token = user_token, n = ARRAYSIZE(user_token);
        break;
    }
    for (i = 0; i < n; i++) {
        if (sid->SubAuthorityCount != token[i].Count ||
            memcmp(sid->IdentifierAuthority.Value, "\0\0\0\0\0", 5) ||
            sid->IdentifierAuthority.Value[5] != token[i].Authority)
            continue;
        for (k = 0; k < token[i].Count; k++)
            if (sub_authority(sid, k) != token[i].Sub[k])
                break;
        if (k == token[i].Count)
            return TRUE;
    }
    return FALSE;
}

/* GENERIC_* as the I/O manager maps them for files and devices. */
ACCESS_MASK shim_map_generic(ACCESS_MASK access)
{
    if (access & GENERIC_READ)
        access |= FILE_GENERIC_READ;
    if (access & GENERIC_WRITE)
        access |= FILE_GENERIC_WRITE;
    if (access & GENERIC_EXECUTE)
        access |= FILE_GENERIC_EXECUTE;
    if (access & GENERIC_ALL)
        access |= FILE_ALL_ACCESS;
    return access & ~(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
}

NTSTATUS shim_access_check(PDEVICE_OBJECT Device, SHIM_CALLER Caller, ACCESS_MASK Desired,
                           ACCESS_MASK *Granted)
{
    const SHIM_SECURITY *security = shim_device_security(Device);
    const ACL *dacl;
    const UCHAR *ace;
    ACCESS_MASK wanted = shim_map_generic(Desired), granted = 0, denied = 0;
    ULONG i;

    *Granted = 0;
    /* No descriptor set (the shim's stand-in for a default that admits all), or a NULL DACL. */
    if (!security || !(security->Descriptor.Control & SE_DACL_PRESENT) ||
        !security->Descriptor.Dacl) {
        *Granted = wanted;
        return STATUS_SUCCESS;
    }
    dacl = security->Descriptor.Dacl;
    ace = (const UCHAR *)dacl + sizeof(ACL);
    for (i = 0; i < dacl->AceCount; i++) {
        ACCESS_ALLOWED_ACE header;
        const SID *sid = (const SID *)(ace + FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart));

        memcpy(&header, ace, FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart));
        if (token_has(Caller, sid)) {
            ACCESS_MASK mask = shim_map_generic(header.Mask);

            if (header.Header.AceType == ACCESS_ALLOWED_ACE_TYPE)
                granted |= mask & ~denied;
            else if (header.Header.AceType == ACCESS_DENIED_ACE_TYPE)
                denied |= mask & ~granted;
        }
        ace += header.Header.AceSize;
    }
    if (wanted & ~granted)
        return STATUS_ACCESS_DENIED;
    *Granted = wanted;
    return STATUS_SUCCESS;
}
