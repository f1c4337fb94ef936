/* SPDX-License-Identifier: MIT */
/* Between the shim's own files only: the device records that se.c and io.c share, and the
 * page pool that shim.c's ExAllocatePoolWithTag uses for large blocks. */
#ifndef SANCTUM_SHIM_PRIVATE_H
#define SANCTUM_SHIM_PRIVATE_H

#include "shim.h"

/* The security record of a live device (NULL if Device is not one); *Secured says whether
 * ZwSetSecurityObject ever succeeded on it. */
SHIM_SECURITY *shim_security_slot(PDEVICE_OBJECT Device, BOOLEAN **Secured);
/* Whether a symbolic link to the device's name exists now. */
BOOLEAN shim_device_has_link(PDEVICE_OBJECT Device);

/* A process, as PsGetProcessExitStatus, PsGetProcessId and IoGetRequestorProcess see it. */
struct _EPROCESS {
    HANDLE Id;
    NTSTATUS ExitStatus;
};

/* GENERIC_* as the I/O manager maps them for files and devices. */
ACCESS_MASK shim_map_generic(ACCESS_MASK Access);

/* Pool is not zeroed: code that reads what it never wrote sees this byte. */
#define SHIM_POOL_FILL 0xA5
/* Blocks of this many bytes or more come from the page pool (pages.c). */
#define SHIM_PAGE_POOL_MIN (16 * 1024)
/* A block of Bytes bytes, SHIM_POOL_FILL throughout, on pages of its own (NULL: no memory). */
PVOID shim_pages_alloc(SIZE_T Bytes);
VOID shim_pages_free(PVOID Block, SIZE_T Bytes);

#endif
