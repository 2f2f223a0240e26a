#!/usr/bin/env bash
# dkms.conf's MAKE: build csdwatch.ko in the current directory (DKMS's copy
# of the source) for kernel KVER.
#   scripts/dkms-make.sh KVER KERNEL_BUILD_DIR [ARCH]
# A build tree with the Rust artifacts (rust/libkernel.rmeta: a kernel
# built from source) is used as it is. A distribution's headers lack them:
# they are made once per kernel from its headers and source by
# scripts/rust-kdir.sh (cached in /var/cache/csdwatch/kdir-KVER).
set -euo pipefail
kver=${1:?kernel version}; kbuild=${2:?kernel build dir}; arch=${3:-$(uname -m)}
case $arch in aarch64 | arm64) karch=arm64 ;; *) karch=$arch ;; esac
if [ -e "$kbuild/rust/libkernel.rmeta" ]; then
	kdir=$kbuild
else
	kdir=$(bash "$(dirname "$0")/rust-kdir.sh" "$kbuild" "${CSDWATCH_KSRC:-/usr/src/linux-source-$(echo "$kver" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/').tar.xz}" \
		"/var/cache/csdwatch/kdir-$kver")
fi
make KDIR="$kdir" ARCH="$karch" modules
