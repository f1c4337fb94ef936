/* SPDX-License-Identifier: MIT */
/* Between the shim's own files only: the device records that se.c and io.c share. */
#ifndef SANCTUM_SHIM_PRIVATE_H
#define SANCTUM_SHIM_PRIVATE_H

#include "shim.h"

/* The security record of a live device (NULL if Device is not one); *Secured says whether
 * ZwSetSecurityObject ever succeeded on it. */
SHIM_SECURITY *shim_security_slot(PDEVICE_OBJECT Device, BOOLEAN **Secured);
/* Whether a symbolic link to the device's name exists now. */
BOOLEAN shim_device_has_link(PDEVICE_OBJECT Device);

/* GENERIC_* as the I/O manager maps them for files and devices. */
ACCESS_MASK shim_map_generic(ACCESS_MASK Access);

#endif
