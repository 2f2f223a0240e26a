# SPDX-License-Identifier: GPL-2.0
#
# Build csdwatch.ko the way kernel people expect:
#   make                                  against the cached guest kernel (selftests/harness/build-kernel.sh)
#   make ARCH=arm64                       same, arm64 guest kernel (cross-compiled)
#   make KDIR=/lib/modules/$(uname -r)/build
#   make KDIR=/path/to/build ARCH=arm64   any Rust-enabled kernel build tree
#   make CLIPPY=1                         with clippy lints
#   make install                          modules_install into the kernel's
#                                         /lib/modules/RELEASE/updates (and depmod)
#   make clean | make fmt | make fmtcheck

HOST_ARCH := $(shell uname -m | sed -e s/aarch64/arm64/)
ARCH ?= $(HOST_ARCH)
ifneq ($(ARCH),$(HOST_ARCH))
ifeq ($(ARCH),arm64)
CROSS_COMPILE ?= aarch64-linux-gnu-
endif
endif
ifeq ($(KDIR),)
KDIR := $(shell bash $(CURDIR)/selftests/harness/kdir.sh $(ARCH))
endif

# a build dir made by scripts/rust-kdir.sh names its kernel's C compiler
-include $(KDIR)/toolchain.mk
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) ARCH=$(ARCH) CROSS_COMPILE=$(CROSS_COMPILE) \
	$(if $(CC_KDIR),CC=$(CC_KDIR) HOSTCC=$(HOSTCC_KDIR))

all: modules

modules:
	@test -n "$(KDIR)" || { echo "no KDIR: run selftests/harness/setup.sh && selftests/harness/build-kernel.sh $(ARCH), or pass KDIR="; exit 1; }
	$(KMAKE) modules

# the kernel's modules_install for an external module: INSTALL_MOD_DIR
# (default updates), INSTALL_MOD_PATH (a staging root) and depmod
install modules_install: modules
	$(KMAKE) modules_install

clean:
	$(KMAKE) clean

fmt:
	rustfmt --edition 2021 rust/*.rs

fmtcheck:
	rustfmt --edition 2021 --check rust/*.rs

.PHONY: all modules install modules_install clean fmt fmtcheck
