# ARM64 (Windows on Arm): the driver, built with clang + lld, and what make check needs of it.
# Included by the Makefile before its tool checks and per-toolchain rules; docs/arm64.md
# explains the why.

ARM64_OUT := $(BUILD)/arm64-clang$(NAME_SUFFIX)
X64_CLANG_OUT := $(BUILD)/x64-clang$(NAME_SUFFIX)
ARM64_DEF := toolchain/arm64/ntoskrnl.def
# The mingw-w64 headers are architecture-neutral: the DDK's parent directory.
MINGW_INCLUDE := $(patsubst %/,%,$(dir $(DDK_INCLUDE)))

# The ARM64 .def follows the x64 driver's imports: regenerate it after adding an import.
.PHONY: arm64-def build-arm64
arm64-def: $(X64_CLANG_OUT)/unsigned/$(SYS)
	$(Q)toolchain/arm64/imports.sh write $< $(ARM64_DEF)

# make check builds ARM64 too, after checking that the .def still matches the x64 imports,
# and the layout probe (test/arm64/layout.c) for both architectures.
build-arm64: $(X64_CLANG_OUT)/unsigned/$(SYS)
	$(Q)toolchain/arm64/imports.sh check $< $(ARM64_DEF) >/dev/null
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 TOOLCHAIN=clang all $(ARM64_OUT)/test/layout.s \
		$(ARM64_OUT)/test/layout-without-fixes.s
check: build-arm64 $(X64_CLANG_OUT)/test/layout.s

# The layout probe, compiled (never linked) exactly as the driver's sources are.
$(BUILD)/$(ARCH)-clang$(NAME_SUFFIX)/test/layout.s: test/arm64/layout.c toolchain/arm64.mk
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(clang_CC) $(clang_CFLAGS) $(KERNEL_CFLAGS) -Isrc/kernel -S $< -o $@
-include $(wildcard $(BUILD)/$(ARCH)-clang$(NAME_SUFFIX)/test/*.d)

ifeq ($(ARCH),arm64)
ifneq ($(TOOLCHAIN),clang)
$(error ARCH=arm64 needs TOOLCHAIN=clang: the mingw-w64 GCC here targets only x86 Windows)
endif
# The client's libgcc (clang.mk) is x64's; the import library comes from llvm-dlltool.
clang_FILES :=
clang_TOOLS += llvm-dlltool

# The DDK headers with the ARM64 gaps closed, generated from the installed ones.
ARM64_DDK := $(ARM64_OUT)/ddk
ARM64_HEADERS := $(ARM64_DDK)/wdm.h $(ARM64_DDK)/ntddk.h
ARM64_IMPLIB := $(ARM64_OUT)/lib/libntoskrnl.a
# No aarch64 mingw sysroot on Debian: never search the Linux headers. No NEON/FP registers
# in kernel code (no Microsoft rule we found lets a driver use them unsaved); x18, the
# platform register, is already reserved by the aarch64-w64-mingw32 target (test/arm64 checks).
KERNEL_CFLAGS := -nostdlibinc -isystem $(ARM64_DDK) -isystem toolchain/arm64/include \
	-isystem $(MINGW_INCLUDE) $(KERNEL_CFLAGS) -mgeneral-regs-only
KERNEL_LIBS := -L$(ARM64_OUT)/lib -lntoskrnl

$(ARM64_HEADERS) &: $(DDK_INCLUDE)/wdm.h $(DDK_INCLUDE)/ntddk.h toolchain/arm64/gen-ddk.sh toolchain/arm64/ddk.edits
	$(call msg,GEN,$(ARM64_DDK))
	$(Q)toolchain/arm64/gen-ddk.sh $(DDK_INCLUDE) toolchain/arm64/ddk.edits $(ARM64_DDK)

# -MMD leaves system headers out of the dependencies, so name them here.
$(patsubst src/kernel/%.c,$(ARM64_OUT)/obj/kernel/%.o,$(KERNEL_SRC)): $(ARM64_HEADERS) \
	$(wildcard toolchain/arm64/include/*.h) toolchain/arm64.mk

$(ARM64_IMPLIB): $(ARM64_DEF)
	$(call msg,DLLTOOL,$@)
	@mkdir -p $(@D)
	$(Q)llvm-dlltool -m arm64 -d $< -l $@

$(ARM64_OUT)/unsigned/$(SYS): $(ARM64_IMPLIB)

# The same probe against headers without the layout edits: the layout test must see them fail.
$(ARM64_OUT)/test/layout.s: $(ARM64_HEADERS) $(wildcard toolchain/arm64/include/*.h)
$(ARM64_DDK)-without-fixes/wdm.h: $(ARM64_HEADERS)
	$(call msg,GEN,$(@D))
	$(Q)toolchain/arm64/gen-ddk.sh --without-layout $(DDK_INCLUDE) toolchain/arm64/ddk.edits $(@D)
$(ARM64_OUT)/test/layout-without-fixes.s: test/arm64/layout.c $(ARM64_DDK)-without-fixes/wdm.h
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(clang_CC) $(clang_CFLAGS) $(subst $(ARM64_DDK),$(ARM64_DDK)-without-fixes,$(KERNEL_CFLAGS)) \
		-Isrc/kernel -S $< -o $@

# No user-mode ARM64 build (no aarch64 mingw CRT here): the driver and its PDB.
ARCH_ALL := $(ARM64_OUT)/$(SYS) $(ARM64_OUT)/$(DRIVER_NAME).pdb

# The bundle carries the x64 client: Windows 11 on Arm runs it under emulation.
ARCH_DIST_FILES := $(ARM64_OUT)/$(SYS) $(ARM64_OUT)/$(DRIVER_NAME).pdb \
	$(X64_CLANG_OUT)/$(CTL) $(X64_CLANG_OUT)/$(DRIVER_NAME)ctl.pdb
.PHONY: x64-client
$(X64_CLANG_OUT)/$(CTL) $(X64_CLANG_OUT)/$(DRIVER_NAME)ctl.pdb: x64-client ;
x64-client:
	$(Q)$(MAKE) -s --no-print-directory ARCH=x64 TOOLCHAIN=clang $(X64_CLANG_OUT)/$(CTL)
endif
