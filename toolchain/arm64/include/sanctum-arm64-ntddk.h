/* SPDX-License-Identifier: MIT */
/*
 * ntddk.h's definitions for ARM64, included by the generated ntddk.h in place of its
 * "#error Unknown Architecture" (toolchain/arm64/ddk.edits). Empty on purpose: the
 * driver uses none of that block's contents (CONTEXT, KPCR, stack sizes, MM_* bounds), and
 * leaving them undefined makes a later use fail to build rather than use a guessed value.
 */
#ifndef SANCTUM_ARM64_NTDDK_H
#define SANCTUM_ARM64_NTDDK_H
#endif
