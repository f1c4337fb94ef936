# Where we build: Debian/Ubuntu (cross) or MSYS2 on Windows (native mingw-w64).
# Sets HOST, the target triple for ARCH, where the DDK headers are, and package names.

UNAME_S := $(shell uname -s 2>/dev/null)
ifneq ($(filter MINGW% MSYS% CLANG% UCRT%,$(UNAME_S)),)
HOST := msys2
else
HOST := debian
endif

TRIPLE.x64 := x86_64-w64-mingw32
PEMACHINE.x64 := x64
# Windows on Arm: the driver only, with clang (toolchain/arm64.mk).
TRIPLE.arm64 := aarch64-w64-mingw32
PEMACHINE.arm64 := arm64
TRIPLE := $(TRIPLE.$(ARCH))
ifeq ($(TRIPLE),)
$(error ARCH=$(ARCH) is not supported; supported: $(patsubst TRIPLE.%,%,$(filter TRIPLE.%,$(.VARIABLES))))
endif

ifeq ($(HOST),msys2)
# MINGW_PREFIX is set by MSYS2's shells, e.g. /clang64 or /mingw64.
DDK_INCLUDE := $(MINGW_PREFIX)/include/ddk
PKG_CLANG := mingw-w64-clang-x86_64-clang mingw-w64-clang-x86_64-llvm (pacman, CLANG64 shell)
PKG_GCC := mingw-w64-x86_64-gcc (pacman, MINGW64 shell)
PKG_HEADERS := mingw-w64-x86_64-headers-git (pacman)
PKG_SIGN := mingw-w64-x86_64-osslsigncode (pacman)
PKG_OPENSSL := openssl (pacman)
PKG_HOSTCC := gcc or clang of your MSYS2 environment
else
DDK_INCLUDE := /usr/share/mingw-w64/include/ddk
PKG_CLANG := clang lld llvm gcc-mingw-w64-x86-64 (apt)
PKG_GCC := gcc-mingw-w64-x86-64 (apt)
PKG_HEADERS := mingw-w64-x86-64-dev (apt)
PKG_SIGN := osslsigncode (apt)
PKG_OPENSSL := openssl (apt)
PKG_HOSTCC := gcc (apt)
endif
