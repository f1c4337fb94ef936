# clang + lld for a mingw-w64 target: the default toolchain.
# Sets <toolchain>_* variables and functions; the Makefile turns them into rules.

clang_CC := clang --target=$(TRIPLE)
clang_PACKAGE := $(PKG_CLANG)
# CodeView for a PDB that WinDbg reads; paths relative to the tree, so builds reproduce.
clang_CFLAGS := -gcodeview -ffile-compilation-dir=.
# lld rejects /align and friends on a non-driver image unless told this is one.
# lld's MinGW driver has no --forceinteg: pass link.exe's /integritycheck through, and
# /cetcompat, which marks the driver compatible with kernel shadow stacks (Windows 11).
clang_KERNEL_LDFLAGS := -fuse-ld=lld -Xlinker -Xlink=-driver -Wl,-Xlink=-integritycheck \
	-Wl,-Xlink=-cetcompat
clang_USER_LDFLAGS := -fuse-ld=lld
ifeq ($(HOST),debian)
# Debian's clang does not find the cross GCC's libgcc (it lives in a "12-win32" style
# directory); the client needs it for its CRT start-up code. MSYS2's clang uses compiler-rt.
clang_LIBGCC_DIR := $(lastword $(sort $(wildcard /usr/lib/gcc/$(TRIPLE)/*-win32)))
clang_USER_LDFLAGS += $(if $(clang_LIBGCC_DIR),-L$(clang_LIBGCC_DIR))
clang_FILES := $(or $(clang_LIBGCC_DIR),/usr/lib/gcc/$(TRIPLE)/*-win32)/libgcc.a
endif
clang_TOOLS := clang ld.lld llvm-rc llvm-objcopy

# Resources: llvm-rc (it preprocesses with clang) to a .res that lld links directly.
clang_RES := .res
clang_rc = llvm-rc -I include $(NAME_DEFINES) -D 'SANCTUM_RC_VERSION="$(RC_VERSION)"' \
	-D 'SANCTUM_RC_PRODUCT="$(RC_PRODUCT)"' -D 'SANCTUM_RC_FILE="$(3)"' \
	-D 'SANCTUM_RC_ROLE="$(4)"' -D SANCTUM_RC_FILETYPE=$(5) -D SANCTUM_RC_FILESUBTYPE=$(6) -fo $(2) $(1)

# The PDB lies beside the binary; the binary names it by file name only (no build path), and
# /Brepro makes the timestamp and PDB GUID a hash of the content.
clang_debug_file = $(basename $(1)).pdb
clang_link_debug = -Wl,--pdb=$(call clang_debug_file,$(1)) \
	-Xlinker -Xlink=-pdbaltpath:$(notdir $(call clang_debug_file,$(1))) \
	-Xlinker -Xlink=-pdbsourcepath:/$(DRIVER_NAME) -Xlinker -Xlink=-Brepro
# The mingw CRT's objects bring DWARF that lld copies into the image (150 KB in the client):
# the PDB has what a debugger needs, so it goes.
clang_split_debug = llvm-objcopy --strip-debug $(1)
