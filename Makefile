# Sanctum: build, test-sign and test a Windows kernel driver and its client from Linux or MSYS2.
# `make help` lists the targets and variables.

ARCH ?= x64
TOOLCHAIN ?= clang
TOOLCHAINS := clang gcc
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

# Signing identity: the generated test certificate unless CERT/KEY or PFX is given.
TEST_CERT := $(CERT_DIR)/sanctum-test.crt
TEST_KEY := $(CERT_DIR)/sanctum-test.key
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

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-7s %s\n' '$(1)' '$(2)'
endif

COMMON_CFLAGS := -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -MMD -MP
# Freestanding kernel code: no CRT, no stack cookies or __chkstk (ntoskrnl exports neither
# in a form we can call), DDK headers as system headers (they trip -Wpragma-pack otherwise).
KERNEL_CFLAGS := $(COMMON_CFLAGS) -ffreestanding -fno-stack-protector -mno-stack-arg-probe \
	-isystem $(DDK_INCLUDE)
KERNEL_LDFLAGS := -nostdlib -shared -Wl,--subsystem,native -Wl,--entry,DriverEntry \
	-Wl,--image-base,0x140000000 -Wl,--dynamicbase -Wl,--nxcompat -Wl,--high-entropy-va \
	-Wl,--file-alignment,0x200 -Wl,--section-alignment,0x1000 -Wl,--exclude-all-symbols -s
KERNEL_LIBS := -lntoskrnl -lhal
USER_CFLAGS := $(COMMON_CFLAGS) -municode -DUNICODE -D_UNICODE
USER_LDFLAGS := -municode -Wl,--subsystem,console -Wl,--dynamicbase -Wl,--nxcompat \
	-Wl,--high-entropy-va -s
USER_LIBS := -ladvapi32

KERNEL_SRC := $(wildcard src/kernel/*.c)
USER_SRC := $(wildcard src/user/*.c)
E2E_SRC := $(wildcard test/e2e/*.c)

# Tools are checked before anything is built, so a missing one stops make at once.
need = $(if $(shell command -v $(1) 2>/dev/null),,$(error $(1) not found: install $(2), or run make setup))
BUILD_GOALS := $(filter-out help setup clean distclean,$(or $(MAKECMDGOALS),all))
ifneq ($(BUILD_GOALS),)
NEED_TOOLCHAINS := $(if $(filter check check-%,$(BUILD_GOALS)),$(TOOLCHAINS),$(TOOLCHAIN))
$(foreach tc,$(NEED_TOOLCHAINS),$(foreach t,$($(tc)_TOOLS),$(call need,$(t),$($(tc)_PACKAGE))))
$(foreach tc,$(NEED_TOOLCHAINS),$(foreach f,$($(tc)_FILES),$(if $(wildcard $(f)),,$(error $(f) not found: install $($(tc)_PACKAGE), or run make setup))))
$(call need,osslsigncode,$(PKG_SIGN))
$(call need,openssl,$(PKG_OPENSSL))
$(call need,$(HOSTCC),$(PKG_HOSTCC))
$(if $(wildcard $(DDK_INCLUDE)/ntddk.h),,$(error $(DDK_INCLUDE)/ntddk.h not found: install $(PKG_HEADERS), or run make setup))
endif

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SUFFIXES:
.PHONY: all check analyze clean distclean setup help

# Rules for one toolchain: objects, unsigned links, then signing as the last step.
define toolchain_rules
$(1)_OUT := $(BUILD)/$(ARCH)-$(1)
$(1)_KOBJ := $$(patsubst src/kernel/%.c,$$($(1)_OUT)/obj/kernel/%.o,$(KERNEL_SRC))
$(1)_UOBJ := $$(patsubst src/user/%.c,$$($(1)_OUT)/obj/user/%.o,$(USER_SRC))
$(1)_EOBJ := $$(patsubst test/e2e/%.c,$$($(1)_OUT)/obj/e2e/%.o,$(E2E_SRC))
$(1)_SHIPPED := $$($(1)_OUT)/sanctum.sys $$($(1)_OUT)/sanctumctl.exe

$$($(1)_OUT)/obj/kernel/%.o: src/kernel/%.c
	$$(call msg,CC,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_CFLAGS) $(KERNEL_CFLAGS) -c $$< -o $$@

$$($(1)_OUT)/obj/user/%.o: src/user/%.c
	$$(call msg,CC,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_CFLAGS) $(USER_CFLAGS) -c $$< -o $$@

$$($(1)_OUT)/obj/e2e/%.o: test/e2e/%.c
	$$(call msg,CC,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_CFLAGS) $(USER_CFLAGS) -c $$< -o $$@

$$($(1)_OUT)/unsigned/sanctum.sys: $$($(1)_KOBJ)
	$$(call msg,LINK,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_KERNEL_LDFLAGS) $(KERNEL_LDFLAGS) $$^ $(KERNEL_LIBS) -o $$@

$$($(1)_OUT)/unsigned/sanctumctl.exe: $$($(1)_UOBJ)
	$$(call msg,LINK,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_USER_LDFLAGS) $(USER_LDFLAGS) $$^ $(USER_LIBS) -o $$@

$$($(1)_OUT)/test/sanctum-e2e.exe: $$($(1)_EOBJ)
	$$(call msg,LINK,$$@)
	@mkdir -p $$(@D)
	$(Q)$$($(1)_CC) $$($(1)_USER_LDFLAGS) $(USER_LDFLAGS) $$^ $(USER_LIBS) -o $$@

$$($(1)_SHIPPED): $$($(1)_OUT)/%: $$($(1)_OUT)/unsigned/% toolchain/sign.sh $(SIGN_DEPS)
	$$(call msg,SIGN,$$@)
	$(Q)toolchain/sign.sh $(SIGN_ARGS) --cafile $(CAFILE) $$< $$@

.PHONY: build-$(1)
build-$(1): $$($(1)_SHIPPED)

-include $$($(1)_KOBJ:.o=.d) $$($(1)_UOBJ:.o=.d) $$($(1)_EOBJ:.o=.d)
endef
$(foreach tc,$(TOOLCHAINS),$(eval $(call toolchain_rules,$(tc))))

all: build-$(TOOLCHAIN)

# Made once: a new certificate would have to be trusted again in every test VM.
$(TEST_CERT) $(TEST_KEY) &: | toolchain/make-test-cert.sh
	$(call msg,CERT,$(CERT_DIR))
	$(Q)toolchain/make-test-cert.sh $(CERT_DIR)

# Host unit tests: the driver's IRP-free handlers against a small kernel shim, under ASan/UBSan.
UNIT_SRC := $(wildcard test/unit/*.c test/unit/shim/*.c) \
	src/kernel/state.c src/kernel/queue.c src/kernel/ioctl.c
UNIT_OBJ := $(patsubst %.c,$(HOST_OUT)/unit/%.o,$(UNIT_SRC))
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all
UNIT_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror $(SANITIZE) -pthread -MMD -MP \
	-Itest/unit/shim -Iinclude -Isrc/kernel

$(HOST_OUT)/unit/%.o: %.c
	$(call msg,HOSTCC,$@)
	@mkdir -p $(@D)
	$(Q)$(HOSTCC) $(UNIT_CFLAGS) -c $< -o $@

$(HOST_OUT)/unit-tests: $(UNIT_OBJ)
	$(call msg,HOSTLD,$@)
	$(Q)$(HOSTCC) $(SANITIZE) -pthread $^ -o $@

-include $(UNIT_OBJ:.o=.d)

$(HOST_OUT)/pecheck: toolchain/pecheck.c
	$(call msg,HOSTCC,$@)
	@mkdir -p $(@D)
	$(Q)$(HOSTCC) -std=c99 -O2 -Wall -Wextra -Werror $< -o $@

# Every suite prints `<suite>: N passed, M failed`; test/summary.sh adds them up.
check: $(foreach tc,$(TOOLCHAINS),build-$(tc) $($(tc)_OUT)/test/sanctum-e2e.exe) \
	$(HOST_OUT)/pecheck $(HOST_OUT)/unit-tests
	@DDK_INCLUDE=$(DDK_INCLUDE) test/check.sh $(foreach tc,$(TOOLCHAINS),$($(tc)_OUT))

# clang's static analyzer and cppcheck over driver and client (also part of check).
analyze:
	@test/analyze.sh $(DDK_INCLUDE)

setup:
	@toolchain/setup.sh

clean:
	rm -rf $(foreach tc,$(TOOLCHAINS),$($(tc)_OUT)) $(HOST_OUT) $(BUILD)/check $(BUILD)/wine

distclean:
	rm -rf $(BUILD)

help:
	@echo 'Sanctum $(VERSION): a Windows kernel driver and its client, cross-built and test-signed.'
	@echo
	@echo 'Targets:'
	@echo '  all        build and sign sanctum.sys and sanctumctl.exe (default)'
	@echo '  check      build with every toolchain and run every test suite'
	@echo '  analyze    clang static analyzer and cppcheck over driver and client'
	@echo '  setup      install the Debian/Ubuntu packages the build and tests need'
	@echo '  clean      remove build outputs (keeps the test certificate in $(CERT_DIR))'
	@echo '  distclean  remove all of $(BUILD)/, test certificate included'
	@echo
	@echo 'Variables:'
	@echo '  TOOLCHAIN=clang|gcc   compiler and linker (default clang); outputs in $(BUILD)/$(ARCH)-$$TOOLCHAIN/'
	@echo '  ARCH=x64              target architecture'
	@echo '  CERT=crt.pem KEY=key.pem   sign with your own certificate (CAFILE= to verify against another CA)'
	@echo '  PFX=file.pfx CAFILE=ca.pem sign with a PKCS#12 file (password file in $$PFX_PASSWORD_FILE if any)'
	@echo '  V=1                   show full commands'
