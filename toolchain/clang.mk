# clang + lld for a mingw-w64 target: the default toolchain.
# Sets <toolchain>_* variables; the Makefile turns them into rules.

clang_CC := clang --target=$(TRIPLE)
clang_PACKAGE := $(PKG_CLANG)
clang_CFLAGS :=
# lld rejects /align and friends on a non-driver image unless told this is one.
clang_KERNEL_LDFLAGS := -fuse-ld=lld -Xlinker -Xlink=-driver
clang_USER_LDFLAGS := -fuse-ld=lld
ifeq ($(HOST),debian)
# Debian's clang does not find the cross GCC's libgcc (it lives in a "12-win32" style
# directory); the client needs it for its CRT start-up code. MSYS2's clang uses compiler-rt.
clang_LIBGCC_DIR := $(lastword $(sort $(wildcard /usr/lib/gcc/$(TRIPLE)/*-win32)))
clang_USER_LDFLAGS += $(if $(clang_LIBGCC_DIR),-L$(clang_LIBGCC_DIR))
clang_FILES := $(or $(clang_LIBGCC_DIR),/usr/lib/gcc/$(TRIPLE)/*-win32)/libgcc.a
endif
clang_TOOLS := clang ld.lld
