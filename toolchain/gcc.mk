# GCC + GNU binutils from mingw-w64.
# Sets <toolchain>_* variables; the Makefile turns them into rules.

# MSYS2's MINGW64 environment names its native compiler plain gcc.
ifeq ($(HOST),msys2)
gcc_CC := gcc
else
gcc_CC := $(TRIPLE)-gcc
endif
gcc_PACKAGE := $(PKG_GCC)
gcc_CFLAGS :=
gcc_KERNEL_LDFLAGS :=
# No libgcc_s DLL next to the client: link GCC's runtime support statically.
gcc_USER_LDFLAGS := -static-libgcc
gcc_TOOLS := $(firstword $(gcc_CC))
