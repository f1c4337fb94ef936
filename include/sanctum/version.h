/* SPDX-License-Identifier: MIT */
/* The one place the Sanctum version lives: driver, client, Makefile and README read it. */
#ifndef SANCTUM_VERSION_H
#define SANCTUM_VERSION_H

#define SANCTUM_VERSION_MAJOR 0
#define SANCTUM_VERSION_MINOR 1
#define SANCTUM_VERSION_PATCH 0

#define SANCTUM_STR_(x) #x
#define SANCTUM_STR(x) SANCTUM_STR_(x)
#define SANCTUM_VERSION_STRING                                                  \
    SANCTUM_STR(SANCTUM_VERSION_MAJOR) "." SANCTUM_STR(SANCTUM_VERSION_MINOR) "." \
        SANCTUM_STR(SANCTUM_VERSION_PATCH)

#endif
