# GCC + GNU binutils from mingw-w64.
# Sets <toolchain>_* variables and functions; the Makefile turns them into rules.

# MSYS2's MINGW64 environment names its native tools plain gcc, windres, objcopy.
ifeq ($(HOST),msys2)
gcc_CC := gcc
gcc_WINDRES := windres
gcc_OBJCOPY := objcopy
else
gcc_CC := $(TRIPLE)-gcc
gcc_WINDRES := $(TRIPLE)-windres
gcc_OBJCOPY := $(TRIPLE)-objcopy
endif
gcc_PACKAGE := $(PKG_GCC)
# DWARF with paths relative to the tree, so builds reproduce.
gcc_CFLAGS := -ffile-prefix-map=$(CURDIR)=.
# GNU ld 2.40 has no option for CET compatibility: only the clang build is marked.
gcc_KERNEL_LDFLAGS := -Wl,--forceinteg
# No libgcc_s DLL next to the client: link GCC's runtime support statically.
gcc_USER_LDFLAGS := -static-libgcc
gcc_TOOLS := $(firstword $(gcc_CC)) $(gcc_WINDRES) $(gcc_OBJCOPY)

# Resources: windres (it preprocesses with gcc) to a COFF object.
gcc_RES := .res.o
gcc_rc = $(gcc_WINDRES) -I include $(NAME_DEFINES) -D 'SANCTUM_RC_VERSION=\"$(RC_VERSION)\"' \
	-D 'SANCTUM_RC_PRODUCT=\"$(RC_PRODUCT)\"' -D 'SANCTUM_RC_FILE=\"$(3)\"' \
	-D 'SANCTUM_RC_ROLE=\"$(4)\"' -D SANCTUM_RC_FILETYPE=$(5) -D SANCTUM_RC_FILESUBTYPE=$(6) -O coff -i $(1) -o $(2)

# DWARF goes to FILE.debug beside the binary (gdb reads it; WinDbg needs clang's PDB).
# The PE timestamp is SOURCE_DATE_EPOCH, or 0: objcopy would otherwise write the time of day.
gcc_debug_file = $(1).debug
gcc_link_debug = -Wl,--no-insert-timestamp
gcc_split_debug = export SOURCE_DATE_EPOCH=$(or $(SOURCE_DATE_EPOCH),0) && \
	$(gcc_OBJCOPY) --only-keep-debug $(1) $(call gcc_debug_file,$(2)) && \
	$(gcc_OBJCOPY) --strip-all $(1)
