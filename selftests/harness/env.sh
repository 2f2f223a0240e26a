# shellcheck shell=bash
# Common settings for every csdwatch script: where the cache lives and which
# exact versions the project pins. Sourced, never run.
#
# Pins (upstream versions; Debian revisions are looked up at install time,
# because old backports revisions leave the archive):
#   - kernel: linux-source-7.3 7.3.4 from trixie-backports. The primary kernel
#     the project supports; 7.3 is the first with the Rust hrtimer HARD modes
#     and the put_cpu()-before-csd_lock_wait() behaviour csdwatch tracks.
#   - rust-src: must equal `rustc --version` exactly (the kernel compiles
#     `core` from it); derived from the installed rustc, not hard-coded.
#   - bindgen-cli 0.72.1: 7.3 needs >= 0.71.1; 0.72.1 was measured to work.
#   - libclang 19 (bookworm): 7.3 needs >= 17.0.1 for bindgen.
#   - busybox-static (bookworm): the guest userspace, one static binary.
#   - qemu 10.0.x (bookworm-backports): the same release as the qemu-utils
#     already on this kind of machine, so nothing else is upgraded.
set -euo pipefail

CSDWATCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CSDWATCH_CACHE=${CSDWATCH_CACHE:-$HOME/.cache/csdwatch}
# The kernel (CSDWATCH_KERNEL): 7.3, the primary one, or 6.12, Linux 6.12
# LTS (linux-source-6.12 of Debian 12's security archive, the same source
# Debian 13 ships; rust/kcompat.rs bridges its older kernel crate).
CSDWATCH_KERNEL=${CSDWATCH_KERNEL:-7.3}
case $CSDWATCH_KERNEL in
7.3) KERNEL_UPSTREAM=7.3.4 ;;
6.12) KERNEL_UPSTREAM=6.12.117 ;;
*) printf '[csdwatch] error: CSDWATCH_KERNEL=%s: 7.3 or 6.12\n' "$CSDWATCH_KERNEL" >&2; exit 1 ;;
esac
KERNEL_SERIES=$CSDWATCH_KERNEL
BINDGEN_VERSION=0.72.1
LLVM_MAJOR=19
RUSTC_VERSION=$(rustc --version | awk '{print $2}')

TOOLS_DIR=$CSDWATCH_CACHE/tools
SRC_DIR=$CSDWATCH_CACHE/src/linux-$KERNEL_UPSTREAM
RUST_LIB_SRC=$TOOLS_DIR/rust-src-$RUSTC_VERSION/usr/src/rustc-$RUSTC_VERSION/library
BINDGEN=$TOOLS_DIR/bindgen-$BINDGEN_VERSION/bin/bindgen
export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_MAJOR/lib
export RUST_LIB_SRC

# The Debian mirror this machine already uses (the first "debian" archive
# in its apt sources, deb822 or one-line form): suites csdwatch adds come
# from the same place, never from a host named here.
debian_mirror() {
	local m f files=()
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || { printf '[csdwatch] error: no apt sources in /etc/apt\n' >&2; return 1; }
	m=$(cat "${files[@]}" |
		awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}
		     /^deb / {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' |
		grep -E '/debian/?$' | head -1 || true)
	[ -n "$m" ] || { printf '[csdwatch] error: no Debian archive in /etc/apt/sources*\n' >&2; return 1; }
	echo "${m%/}"
}

log() { printf '[csdwatch] %s\n' "$*" >&2; }
die() { printf '[csdwatch] error: %s\n' "$*" >&2; exit 1; }

# cross prefix and image name per kernel ARCH
arch_cross() { case $1 in x86_64) echo "";; arm64) echo aarch64-linux-gnu-;; *) die "unsupported arch $1";; esac; }
arch_image() { case $1 in x86_64) echo arch/x86/boot/bzImage;; arm64) echo arch/arm64/boot/Image;; esac; }
arch_kbuild() { case $1 in x86_64) echo x86_64;; arm64) echo arm64;; esac; }

# A kernel variant (CSDWATCH_VARIANT): empty for the default kernel, or the
# name of an extra fragment selftests/harness/kconfig/NAME.config merged last (debug).
CSDWATCH_VARIANT=${CSDWATCH_VARIANT:-}
[ -z "$CSDWATCH_VARIANT" ] || [ -e "$CSDWATCH_TOP/selftests/harness/kconfig/$CSDWATCH_VARIANT.config" ] ||
	{ printf '[csdwatch] error: no kernel variant %s (selftests/harness/kconfig/%s.config)\n' \
		"$CSDWATCH_VARIANT" "$CSDWATCH_VARIANT" >&2; exit 1; }

# The config fragments of ARCH's kernel, in merge order: the variant's
# NAME.config, then its NAME-ARCH.config if it has one (what the variant
# adds on one arch only: KASAN on x86_64 for debug).
kernel_fragments() {
	local k=$CSDWATCH_TOP/selftests/harness/kconfig
	echo "$k/common.config" "$k/$1.config"
	[ -z "$CSDWATCH_VARIANT" ] && return
	echo "$k/$CSDWATCH_VARIANT.config"
	[ ! -e "$k/$CSDWATCH_VARIANT-$1.config" ] || echo "$k/$CSDWATCH_VARIANT-$1.config"
}
# Extra make arguments for ARCH's kernel and for every module built
# against it: its fragments' "#make ARG" lines (LLVM=-19 for a clang-built
# kernel; a module must be built with the kernel's compiler). None for the
# default kernel.
kernel_make_args() {
	# shellcheck disable=SC2046
	sed -n 's/^#make //p' $(kernel_fragments "$1")
}
# How many times the default guest timeouts a guest of ARCH's kernel gets:
# its fragments' "#timeout-x N" line (the largest), else 1. A debug kernel
# (lockdep, KASAN, kmemleak) runs the same suite several times slower.
kernel_timeout_x() {
	# shellcheck disable=SC2046
	sed -n 's/^#timeout-x \([0-9]*\)$/\1/p' $(kernel_fragments "$1") | sort -n | tail -1 | grep . || echo 1
}

# The kernel build directory for ARCH, keyed by everything the build depends
# on: kernel source version, the config fragments, toolchain versions. A
# variant gets its own directory; the default's key is what it always was.
# The fragments are hashed whole, comments too, so their comments still
# name the scripts/ paths they had before the harness moved under
# selftests/harness/: rewriting them would rebuild every cached kernel.
kernel_key() {
	local arch=$1
	{
		echo "$KERNEL_UPSTREAM $RUSTC_VERSION bindgen-$BINDGEN_VERSION llvm-$LLVM_MAJOR"
		gcc --version | head -1
		[ "$arch" = arm64 ] && aarch64-linux-gnu-gcc --version 2>/dev/null | head -1
		# shellcheck disable=SC2046
		cat $(kernel_fragments "$arch")
	} | sha256sum | cut -c1-16
}
# ARCH, the variant and (not the primary) the kernel series: the name of
# everything built for that kernel
kernel_tag() {
	local t=$1${CSDWATCH_VARIANT:+-$CSDWATCH_VARIANT}
	[ "$CSDWATCH_KERNEL" = 7.3 ] || t=$t-$CSDWATCH_KERNEL
	echo "$t"
}
kernel_dir() { echo "$CSDWATCH_CACHE/kernel/$(kernel_tag "$1")-$(kernel_key "$1")"; }
