# Sanctum: build, test-sign and test a Windows kernel driver and its client from Linux or MSYS2.
# `make help` lists the targets and variables.

ARCH ?= x64
TOOLCHAIN ?= clang
TOOLCHAINS := clang gcc
# A fork renames everything here: files, service, device, link, log prefix and pool tag.
DRIVER_NAME ?= sanctum
V ?= 0

include toolchain/host.mk
$(foreach tc,$(TOOLCHAINS),$(eval include toolchain/$(tc).mk))
ifeq ($(filter $(TOOLCHAIN),$(TOOLCHAINS)),)
$(error TOOLCHAIN=$(TOOLCHAIN) is not supported; choose one of: $(TOOLCHAINS))
endif

VERSION := $(shell sed -n 's/^\#define SANCTUM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$$/\2/p' include/sanctum/version.h | paste -sd. -)

BUILD := build
HOST_OUT := $(BUILD)/host
CERT_DIR := $(BUILD)/cert
HOSTCC ?= cc

# The names a fork changes with DRIVER_NAME (4 to 32 of a-z, 0-9; starting with a letter).
ifeq ($(shell printf '%s' '$(DRIVER_NAME)' | grep -Ex '[a-z][a-z0-9]{3,31}'),)
$(error DRIVER_NAME=$(DRIVER_NAME): use 4 to 32 lower-case letters and digits, starting with a letter)
endif
DISPLAY_NAME := $(shell printf '%s' '$(DRIVER_NAME)' | sed 's/^./\U&/')
DEVICE_NAME := $(DISPLAY_NAME)EDR
SYS := $(DRIVER_NAME).sys
CTL := $(DRIVER_NAME)ctl.exe
# The pool tag is the first four characters, as the ULONG the WDK's 'cnaS' convention gives.
POOL_TAG := 0x$(shell printf '%s' '$(DISPLAY_NAME)' | head -c 4 | od -An -tx1 | awk '{print $$4 $$3 $$2 $$1}')
ifneq ($(DRIVER_NAME),sanctum)
NAME_SUFFIX := -$(DRIVER_NAME)
NAME_DEFINES := -DSANCTUM_SERVICE_NAME='L"$(DISPLAY_NAME)"' -DSANCTUM_DEVICE_BASENAME='L"$(DEVICE_NAME)"' \
	-DSANCTUM_LOG_PREFIX='"$(DRIVER_NAME)"' -DSANCTUM_POOL_TAG=$(POOL_TAG) \
	-DSANCTUM_DRIVER_FILE='L"$(SYS)"' -DSANCTUM_CTL_FILE='L"$(CTL)"' -DSANCTUM_CTL_NAME='L"$(DRIVER_NAME)ctl"' \
	-DSANCTUM_CERT_FILE='L"$(DRIVER_NAME)-test.cer"' -DSANCTUM_DISPLAY_NAME='L"$(DISPLAY_NAME) driver"'
endif

# Signing identity: the generated test certificate unless CERT/KEY or PFX is given.
TEST_CERT := $(CERT_DIR)/$(DRIVER_NAME)-test.crt
TEST_KEY := $(CERT_DIR)/$(DRIVER_NAME)-test.key
ifneq ($(PFX),)
SIGN_ARGS := --pfx $(PFX)
SIGN_DEPS := $(PFX)
CAFILE ?=
else ifneq ($(CERT),)
SIGN_ARGS := --cert $(CERT) --key $(KEY)
SIGN_DEPS := $(CERT) $(KEY)
CAFILE ?= $(CERT)
else
SIGN_ARGS := --cert $(TEST_CERT) --key $(TEST_KEY)
SIGN_DEPS := $(TEST_CERT)
CAFILE := $(TEST_CERT)
endif
ifeq ($(CAFILE),)
$(error PFX=$(PFX) given without CAFILE=: name the CA certificate (PEM) that verifies it)
endif
# Page hashes are off: public reports tie Windows' refusals of osslsigncode signatures to them,
# and a small non-boot driver does not need them. PAGE_HASHES=1 adds them. A change of the
# switch re-signs (the stamp holds its last value).
PAGE_HASHES ?= 0
ifeq ($(filter 0 1,$(PAGE_HASHES)),)
$(error PAGE_HASHES=$(PAGE_HASHES): use 0 (default) or 1)
endif
ifeq ($(PAGE_HASHES),1)
SIGN_ARGS += --page-hashes
endif
SIGN_STAMP := $(BUILD)/.page-hashes-$(PAGE_HASHES)
SIGN_DEPS += $(SIGN_STAMP)

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-7s %s\n' '$(1)' '$(2)'
endif

# Optimized and with debug information, which the link moves out of the shipped binaries.
COMMON_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -Iinclude -MMD -MP $(NAME_DEFINES)
# Freestanding kernel code: no CRT, no __chkstk (ntoskrnl exports none we can call), DDK
# headers as system headers (they trip -Wpragma-pack otherwise). Stack cookies in every
# function with a local array or an address-taken local: the driver defines the guard and the
# failure routine itself (src/kernel/gs.c). x64 Windows unwinds every kernel frame through
# .pdata; -ffreestanding would drop it. With no stack probes, a frame larger than the guard
# page could step over it: keep them small.
KERNEL_GS_CFLAGS := -fstack-protector-strong
KERNEL_CFLAGS := $(COMMON_CFLAGS) -ffreestanding $(KERNEL_GS_CFLAGS) -mno-stack-arg-probe \
	-Wframe-larger-than=2048 -fasynchronous-unwind-tables -isystem $(DDK_INCLUDE)
# Subsystem and OS version 10.0, as the WDK writes them for a Windows 10 driver.
KERNEL_LDFLAGS := -nostdlib -shared -Wl,--subsystem,native -Wl,--entry,DriverEntry \
	-Wl,--major-subsystem-version,10 -Wl,--minor-subsystem-version,0 \
	-Wl,--major-os-version,10 -Wl,--minor-os-version,0 \
	-Wl,--image-base,0x140000000 -Wl,--dynamicbase -Wl,--nxcompat -Wl,--high-entropy-va \
	-Wl,--file-alignment,0x200 -Wl,--section-alignment,0x1000 -Wl,--exclude-all-symbols
KERNEL_LIBS := -lntoskrnl -lhal
USER_CFLAGS := $(COMMON_CFLAGS) -municode -DUNICODE -D_UNICODE
USER_LDFLAGS := -municode -Wl,--subsystem,console -Wl,--dynamicbase -Wl,--nxcompat \
	-Wl,--high-entropy-va
USER_LIBS := -ladvapi32 -lcrypt32 -lwevtapi
# What the VERSIONINFO resources say; each toolchain's resource compiler quotes them itself.
RC_VERSION := $(VERSION)
RC_PRODUCT := $(DISPLAY_NAME)

KERNEL_SRC := $(wildcard src/kernel/*.c)
USER_SRC := $(wildcard src/user/*.c)
E2E_SRC := $(wildcard test/e2e/*.c)

# ARM64: its flags, generated headers and import library, and its part of make check.
include toolchain/arm64.mk

# Tools are checked before anything is built, so a missing one stops make at once.
need = $(if $(shell command -v $(1) 2>/dev/null),,$(error $(1) not found: install $(2), or run make setup))
BUILD_GOALS := $(filter-out help setup clean distclean,$(or $(MAKECMDGOALS),all))
ifneq ($(BUILD_GOALS),)
NEED_TOOLCHAINS := $(if $(filter check repro-check bench,$(BUILD_GOALS)),$(TOOLCHAINS),\
	$(sort $(TOOLCHAIN) $(if $(filter dist vm-test,$(BUILD_GOALS)),clang)))
$(foreach tc,$(NEED_TOOLCHAINS),$(foreach t,$($(tc)_TOOLS),$(call need,$(t),$($(tc)_PACKAGE))))
$(foreach tc,$(NEED_TOOLCHAINS),$(foreach f,$($(tc)_FILES),$(if $(wildcard $(f)),,$(error $(f) not found: install $($(tc)_PACKAGE), or run make setup))))
$(call need,osslsigncode,$(PKG_SIGN))
$(call need,openssl,$(PKG_OPENSSL))
$(call need,$(HOSTCC),$(PKG_HOSTCC))
$(if $(wildcard $(DDK_INCLUDE)/ntddk.h),,$(error $(DDK_INCLUDE)/ntddk.h not found: install $(PKG_HEADERS), or run make setup))
$(if $(filter demo,$(BUILD_GOALS)),$(call need,wine,wine wine64 (apt))$(call need,wineserver,wine wine64 (apt)))
endif

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SUFFIXES:
.PHONY: all check demo fuzz analyze repro-check dist bench vm-test clean distclean setup help compile_commands.json

# Rules for one toolchain: objects, resources, unsigned links (debug information moved out
# to a PDB or a .debug file), then signing as the last step that touches the bytes.
define toolchain_rules
$(1)_OUT := $(BUILD)/$(ARCH)-$(1)$(NAME_SUFFIX)
$(1)_KOBJ := $$(patsubst src/kernel/%.c,$$($(1)_OUT)/obj/kernel/%.o,$(KERNEL_SRC))
$(1)_UOBJ := $$(patsubst src/user/%.c,$$($(1)_OUT)/obj/user/%.o,$(USER_SRC))
$(1)_KRES := $$($(1)_OUT)/obj/kernel/version$$($(1)_RES)
$(1)_URES := $$($(1)_OUT)/obj/user/version$$($(1)_RES)
$(1)_EOBJ := $$(patsubst test/e2e/%.c,$$($(1)_OUT)/obj/e2e/%.o,$(E2E_SRC))
$(1)_SHIPPED := $$($(1)_OUT)/$(SYS) $$($(1)_OUT)/$(CTL)
$(1)_DEBUG := $$(call $(1)_debug_file,$$($(1)_OUT)/$(SYS)) $$(call $(1)_debug_file,$$($(1)_OUT)/$(CTL))

$$($(1)_OUT)/obj/kernel/%.o: src/kernel/%.c toolchain/$(1).mk
	$$(call msg,CC,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_CFLAGS) $(KERNEL_CFLAGS) -c $$< -o $$@

$$($(1)_OUT)/obj/user/%.o: src/user/%.c toolchain/$(1).mk
	$$(call msg,CC,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_CFLAGS) $(USER_CFLAGS) -c $$< -o $$@

$$($(1)_OUT)/obj/e2e/%.o: test/e2e/%.c toolchain/$(1).mk
	$$(call msg,CC,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_CFLAGS) $(USER_CFLAGS) -c $$< -o $$@

$$($(1)_KRES): toolchain/version.rc include/sanctum/version.h
	$$(call msg,RC,$$@)
	@mkdir -p $$(@D)
	$(Q)$$(call $(1)_rc,$$<,$$@,$(SYS),driver,3,7)

$$($(1)_URES): toolchain/version.rc include/sanctum/version.h
	$$(call msg,RC,$$@)
	@mkdir -p $$(@D)
	$(Q)$$(call $(1)_rc,$$<,$$@,$(CTL),control program,1,0)

$$($(1)_OUT)/unsigned/$(SYS) $$(call $(1)_debug_file,$$($(1)_OUT)/$(SYS)) &: $$($(1)_KOBJ) $$($(1)_KRES) toolchain/$(1).mk
	$$(call msg,LINK,$$@)
	@mkdir -p $$($(1)_OUT)/unsigned
	$(Q)$$($(1)_CC) $$($(1)_KERNEL_LDFLAGS) $(KERNEL_LDFLAGS) $$($(1)_KOBJ) $$($(1)_KRES) $(KERNEL_LIBS) \
		$$(call $(1)_link_debug,$$($(1)_OUT)/$(SYS)) -o $$($(1)_OUT)/unsigned/$(SYS)
	$(Q)$$(call $(1)_split_debug,$$($(1)_OUT)/unsigned/$(SYS),$$($(1)_OUT)/$(SYS))

$$($(1)_OUT)/unsigned/$(CTL) $$(call $(1)_debug_file,$$($(1)_OUT)/$(CTL)) &: $$($(1)_UOBJ) $$($(1)_URES) toolchain/$(1).mk
	$$(call msg,LINK,$$@)
	@mkdir -p $$($(1)_OUT)/unsigned
	$(Q)$$($(1)_CC) $$($(1)_USER_LDFLAGS) $(USER_LDFLAGS) $$($(1)_UOBJ) $$($(1)_URES) $(USER_LIBS) \
		$$(call $(1)_link_debug,$$($(1)_OUT)/$(CTL)) -o $$($(1)_OUT)/unsigned/$(CTL)
	$(Q)$$(call $(1)_split_debug,$$($(1)_OUT)/unsigned/$(CTL),$$($(1)_OUT)/$(CTL))

# The e2e suite's second driver (test/probe), loaded beside ours to see its IMAGE_LOAD record;
# signed like ours, so that a test-signing VM loads it too.
$$($(1)_OUT)/test/unsigned/sanctum-probe.sys: test/probe/probe.c toolchain/$(1).mk
	$$(call msg,LINK,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_CFLAGS) $(KERNEL_CFLAGS) $$($(1)_KERNEL_LDFLAGS) $(KERNEL_LDFLAGS) \
		-MF $$@.d $$< $(KERNEL_LIBS) -s -o $$@

$$($(1)_OUT)/test/sanctum-probe.sys: $$($(1)_OUT)/test/unsigned/sanctum-probe.sys toolchain/sign.sh $(SIGN_DEPS)
	$$(call msg,SIGN,$$@)
	$(Q)toolchain/sign.sh $(SIGN_ARGS) --cafile $(CAFILE) $$< $$@

# The suite talks to the device through the client's protocol library, as an agent would.
$(1)_ELIB := $$($(1)_OUT)/obj/user/client.o $$($(1)_OUT)/obj/user/events.o
$$($(1)_OUT)/test/sanctum-e2e.exe: $$($(1)_EOBJ) $$($(1)_ELIB) $$($(1)_OUT)/test/sanctum-probe.sys
	$$(call msg,LINK,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_USER_LDFLAGS) $(USER_LDFLAGS) -s $$($(1)_EOBJ) $$($(1)_ELIB) $(USER_LIBS) \
		-o $$@

$$($(1)_SHIPPED): $$($(1)_OUT)/%: $$($(1)_OUT)/unsigned/% toolchain/sign.sh $(SIGN_DEPS)
	$$(call msg,SIGN,$$@)
	$(Q)toolchain/sign.sh $(SIGN_ARGS) --cafile $(CAFILE) $$< $$@

.PHONY: build-$(1)
build-$(1): $$($(1)_SHIPPED) $$($(1)_DEBUG)

-include $$($(1)_KOBJ:.o=.d) $$($(1)_UOBJ:.o=.d) $$($(1)_EOBJ:.o=.d)
endef
$(foreach tc,$(TOOLCHAINS),$(eval $(call toolchain_rules,$(tc))))

all: $(or $(ARCH_ALL),build-$(TOOLCHAIN))

$(SIGN_STAMP):
	@mkdir -p $(@D)
	@rm -f $(BUILD)/.page-hashes-*
	@touch $@

# Made once: a new certificate would have to be trusted again in every test VM.
$(TEST_CERT) $(TEST_KEY) &: | toolchain/make-test-cert.sh
	$(call msg,CERT,$(CERT_DIR))
	$(Q)toolchain/make-test-cert.sh $(CERT_DIR) $(DRIVER_NAME)

# Host unit tests: all of the driver's own sources against a small kernel shim (test/unit/shim,
# which stands in for <ntifs.h>), under ASan/UBSan. -fshort-wchar: WCHAR and L"" are UTF-16.
SHIM_SRC := $(wildcard test/unit/shim/*.c)
UNIT_SRC := $(wildcard test/unit/*.c) $(SHIM_SRC) $(KERNEL_SRC)
UNIT_OBJ := $(patsubst %.c,$(HOST_OUT)/unit/%.o,$(UNIT_SRC))
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all
HOST_TEST_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -fshort-wchar -MMD -MP \
	-Itest/unit/shim -Iinclude -Isrc/kernel
UNIT_CFLAGS := $(HOST_TEST_CFLAGS) $(SANITIZE) -pthread
# The driver's sources check their stack cookies against the driver's own guard, as in the
# kernel build (glibc's is in TLS); nothing else may (DriverEntry changes the guard under live
# frames of the test harness), and test/unit/test_gs.c holds a frame to smash.
HOST_GS_CFLAGS := $(KERNEL_GS_CFLAGS) -mstack-protector-guard=global
HOST_GS_SRC := $(KERNEL_SRC) test/unit/test_gs.c
$(foreach src,$(HOST_GS_SRC),$(eval $(HOST_OUT)/unit/$(src:.c=.o): GS_CFLAGS := $(HOST_GS_CFLAGS)))
GS_CFLAGS ?= -fno-stack-protector

$(HOST_OUT)/unit/%.o: %.c
	$(call msg,HOSTCC,$@)
	@mkdir -p $(@D)
	$(Q)$(HOSTCC) $(UNIT_CFLAGS) $(GS_CFLAGS) -c $< -o $@

$(HOST_OUT)/unit-tests: $(UNIT_OBJ)
	$(call msg,HOSTLD,$@)
	$(Q)$(HOSTCC) $(SANITIZE) -pthread $^ -o $@

-include $(UNIT_OBJ:.o=.d)

# libFuzzer target (clang only; libFuzzer is in libclang-rt-dev). The driver's sources get
# coverage tracing to steer the search; the shim and the target are sanitized, not traced.
FUZZCC ?= clang
FUZZ_TIME ?= 60
FUZZ_OUT := $(BUILD)/fuzz
FUZZ_OBJ := $(patsubst %.c,$(HOST_OUT)/fuzz/%.o,$(SHIM_SRC) test/fuzz/fuzz_driver.c) \
	$(patsubst %.c,$(HOST_OUT)/fuzz-traced/%.o,$(KERNEL_SRC))

$(HOST_OUT)/fuzz/%.o: %.c
	$(call msg,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZCC) $(HOST_TEST_CFLAGS) $(SANITIZE) -fno-stack-protector -c $< -o $@

$(HOST_OUT)/fuzz-traced/%.o: %.c test/fuzz/coverage-ignore.txt
	$(call msg,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZCC) $(HOST_TEST_CFLAGS) $(SANITIZE) $(HOST_GS_CFLAGS) -fsanitize=fuzzer-no-link \
		-fsanitize-coverage-ignorelist=test/fuzz/coverage-ignore.txt -c $< -o $@

$(HOST_OUT)/fuzz-driver: $(FUZZ_OBJ)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZCC) -fsanitize=fuzzer,address,undefined $^ -o $@

-include $(FUZZ_OBJ:.o=.d)

# The client library's record walker on the host: its unit tests and a libFuzzer target.
CLIENT_TEST_OBJ := $(patsubst %.c,$(HOST_OUT)/unit/%.o,test/client/test_events.c src/user/events.c)

$(HOST_OUT)/client-tests: $(CLIENT_TEST_OBJ)
	$(call msg,HOSTLD,$@)
	$(Q)$(HOSTCC) $(SANITIZE) $^ -o $@

$(HOST_OUT)/fuzz-events: test/client/fuzz_events.c src/user/events.c
	$(call msg,FUZZLD,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZCC) $(HOST_TEST_CFLAGS) -fsanitize=fuzzer,address,undefined $^ -o $@

-include $(CLIENT_TEST_OBJ:.o=.d)

# New inputs go to $(FUZZ_OUT)/corpus, never into test/fuzz/corpus.
fuzz: $(HOST_OUT)/fuzz-driver
	@test/fuzz/run.sh $< $(FUZZ_TIME) $(FUZZ_OUT)

$(HOST_OUT)/pecheck: toolchain/pecheck.c
	$(call msg,HOSTCC,$@)
	@mkdir -p $(@D)
	$(Q)$(HOSTCC) -std=c99 -O2 -Wall -Wextra -Werror $< -o $@

# Every suite prints `<suite>: N passed, M failed`; test/summary.sh adds them up.
check: $(foreach tc,$(TOOLCHAINS),build-$(tc) $($(tc)_OUT)/test/sanctum-e2e.exe) \
	$(HOST_OUT)/pecheck $(HOST_OUT)/unit-tests $(HOST_OUT)/fuzz-driver \
	$(HOST_OUT)/client-tests $(HOST_OUT)/fuzz-events
	@DDK_INCLUDE=$(DDK_INCLUDE) test/check.sh $(foreach tc,$(TOOLCHAINS),$($(tc)_OUT))

# The driver and its client end to end under the machine's Wine, in a prefix of its own
# (build/demo/prefix), with the e2e suite's probe driver loaded beside ours; make check runs it.
ifneq ($(filter demo,$(MAKECMDGOALS)),)
ifeq ($(ARCH),arm64)
$(error make demo runs the x64 build under Wine (there is no ARM64 Wine here): drop ARCH=arm64)
endif
endif
demo: build-$(TOOLCHAIN) $($(TOOLCHAIN)_OUT)/test/sanctum-probe.sys
	@test/demo/demo.sh $($(TOOLCHAIN)_OUT) $(DRIVER_NAME)

# clang's static analyzer and cppcheck over driver and client (also part of check).
analyze:
	@test/analyze.sh $(DDK_INCLUDE)

# The bundle for a test VM, from the clang build: its PDBs are what WinDbg reads, and only it is
# CET-compatible. TOOLCHAIN=gcc bundles the gcc build instead, with a warning, every time.
ifeq ($(TOOLCHAIN)$(ARCH),gccx64)
DIST_ZIP := $(BUILD)/dist/$(DRIVER_NAME)-$(VERSION)-$(ARCH)-gcc.zip
DIST_FILES := $(gcc_SHIPPED) $(gcc_DEBUG)
DIST_WARNING := make dist: warning: the gcc build is not CET-compatible (GNU ld 2.40 cannot mark it): \
	Windows 11 with kernel-mode hardware-enforced stack protection refuses to load it; \
	ship the clang build (make dist) to such a machine
else
DIST_ZIP := $(BUILD)/dist/$(DRIVER_NAME)-$(VERSION)-$(ARCH).zip
DIST_FILES := $(or $(ARCH_DIST_FILES),$(clang_SHIPPED) $(clang_DEBUG))
endif
dist: $(DIST_ZIP)
	$(if $(DIST_WARNING),@echo '$(DIST_WARNING)' >&2)
$(DIST_ZIP): $(DIST_FILES) $(CAFILE) toolchain/make-dist.sh $(wildcard toolchain/dist/*)
	$(call msg,ZIP,$@)
	@mkdir -p $(@D)
	$(Q)DIST_TOOLCHAIN=$(if $(DIST_WARNING),gcc,clang) toolchain/make-dist.sh $@ $(DRIVER_NAME) \
		$(DISPLAY_NAME) $(VERSION) $(ARCH) $(CAFILE) $(DIST_FILES)

# ---- make vm-test: the end-to-end suite in the user's Windows test-signing VM, over OpenSSH.
# test/vm/run.sh copies the dist bundle and the clang build's suite there and runs them;
# make check runs it against a stand-in VM (test/vm/standin.sh: a local sshd whose commands
# run under Wine), whose shell is the small Windows program built here.
VM_OUT := $(BUILD)/vm
VM_STANDIN_SHELL := $(VM_OUT)/standin-shell.exe
ifneq ($(filter vm-test,$(MAKECMDGOALS)),)
ifeq ($(VM),)
$(error make vm-test needs VM=user@host (an OpenSSH server on Windows); see docs/vm.md)
endif
endif
vm-test: $(DIST_ZIP) $(clang_OUT)/test/sanctum-e2e.exe
	@VM='$(VM)' VM_PORT='$(VM_PORT)' VM_DIR='$(VM_DIR)' VM_SSH_CONFIG='$(VM_SSH_CONFIG)' \
		test/vm/run.sh $(DRIVER_NAME) $(DIST_ZIP) $(clang_OUT)/test/sanctum-e2e.exe $(VM_OUT)/run

$(VM_STANDIN_SHELL): test/vm/standin-shell.c toolchain/clang.mk
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(clang_CC) $(clang_CFLAGS) $(USER_CFLAGS) $(clang_USER_LDFLAGS) $(USER_LDFLAGS) -s $< -o $@
# make check runs make vm-test against the stand-in.
check: $(VM_STANDIN_SHELL) $(DIST_ZIP)
# ---- end of make vm-test

# For editors and clangd: every compile of a full rebuild, recorded by bear.
compile_commands.json:
	$(call need,bear,bear (apt))
	bear --output $@ -- $(MAKE) --no-print-directory -B build-$(TOOLCHAIN)

# The driver's costs against their floors, both toolchains: build time, sizes, CPU per request
# and per event callback (callgrind), events per second on the host, throughput and
# mark-to-consumer latency under Wine, in build/bench/report.md and report.json. It builds
# in its own copy of the tree under build/bench/; make check runs its quick mode.
bench:
	@test/bench/run.sh

# Two clean builds in two directories must give identical bytes (also part of check).
repro-check:
	@test/repro.sh

setup:
	@toolchain/setup.sh

clean:
	rm -rf $(filter-out $(CERT_DIR),$(wildcard $(BUILD)/*))

distclean:
	rm -rf $(BUILD)

help:
	@echo 'Sanctum $(VERSION): a Windows kernel driver and its client, cross-built and test-signed.'
	@echo
	@echo 'Targets:'
	@echo '  all        build and sign sanctum.sys and sanctumctl.exe (default)'
	@echo '  check      build with every toolchain and ARM64, run every test suite'
	@echo '  demo       the driver and sanctumctl end to end under Wine, in a prefix of its own'
	@echo '             ($(BUILD)/demo/prefix, made once in about 15 s); takes seconds, leaves nothing behind'
	@echo '  analyze    clang static analyzer and cppcheck over driver and client'
	@echo '  fuzz       run the libFuzzer target for FUZZ_TIME seconds; new inputs in $(FUZZ_OUT)/corpus'
	@echo '  repro-check  two clean builds in two directories give identical binaries'
	@echo '  bench      build time, sizes, CPU per request and per event, events/s, Wine throughput'
	@echo '             and mark-to-consumer latency against their floors'
	@echo '             (build/bench/report.md and report.json; about 2 minutes)'
	@echo '  dist       build/dist/$(DRIVER_NAME)-$(VERSION)-$(ARCH).zip: the bundle for a test VM'
	@echo '             (the clang build; TOOLCHAIN=gcc: the gcc build, which is not CET-compatible)'
	@echo '  vm-test    VM=user@host [VM_PORT=22] [VM_DIR=dir]: the end-to-end suite in a Windows'
	@echo '             test-signing VM over OpenSSH (see docs/vm.md)'
	@echo '  arm64-def  rewrite toolchain/arm64/ntoskrnl.def from the x64 driver'"'"'s imports (after adding one)'
	@echo '  compile_commands.json  the compile database for editors (clangd), made with bear'
	@echo '  setup      install the Debian/Ubuntu packages the build and tests need'
	@echo '  clean      remove build outputs (keeps the test certificate in $(CERT_DIR))'
	@echo '  distclean  remove all of $(BUILD)/, test certificate included'
	@echo
	@echo 'Variables:'
	@echo '  TOOLCHAIN=clang|gcc   compiler and linker (default clang); outputs in $(BUILD)/$(ARCH)-$$TOOLCHAIN/'
	@echo '  ARCH=x64|arm64        target architecture (arm64: the driver only, TOOLCHAIN=clang)'
	@echo '  DRIVER_NAME=name      rename the driver for a fork: files, service, device, link,'
	@echo '                        log prefix and pool tag follow (default sanctum)'
	@echo '  CERT=crt.pem KEY=key.pem   sign with your own certificate (CAFILE= to verify against another CA)'
	@echo '  PFX=file.pfx CAFILE=ca.pem sign with a PKCS#12 file (password file in $$PFX_PASSWORD_FILE if any)'
	@echo '  PAGE_HASHES=1         sign with page hashes (default 0: none; see docs/building.md)'
	@echo '  V=1                   show full commands'
	@echo '  SOURCE_DATE_EPOCH=t   the timestamp of the files in the dist zip'
	@echo '  FUZZ_TIME=s           how long make fuzz runs (default 60)'
