#!/usr/bin/env bash
# Debian's stock PREEMPT_RT kernel, the exact binary, for ARCH: what a
# Debian 13 user with trixie-backports' linux-image-rt-* installed has.
#
#   selftests/harness/stock-kernel.sh ARCH          prepare; prints the stock dir
#   selftests/harness/stock-kernel.sh ARCH ready    exit 0 if prepared, 1 if not
#   selftests/harness/stock-kernel.sh ARCH run CMD  run CMD in its Debian 13 root
#   selftests/harness/stock-kernel.sh ARCH build D  build csdwatch.ko, csd_inject.ko, csd_bench.ko and kprobe_neighbour.ko
#                                         for it into D, and the kernel's
#                                         scftorture into D/kernel
#
# The stock dir (in the cache, keyed by the package version and this
# recipe) holds:
#   vmlinuz   the kernel image, from Debian's linux-binary-RELEASE package
#   root/     a Debian 13 (trixie) system: the user's machine, minus the
#             kernel. In it, exactly what README tells a user to install:
#             linux-headers-RELEASE and linux-source-7.3 (trixie-backports),
#             rustc, rust-src, bindgen, libclang and gcc-14 (trixie: the
#             versions the kernel was built with, CONFIG_RUSTC_VERSION and
#             CONFIG_CC_VERSION_TEXT), and the Rust build directory that
#             scripts/rust-kdir.sh makes from them.
# The host (Debian 12) has another rustc; the crate hashes in the Rust
# symbols the kernel exports depend on the exact compiler (rust-kdir.sh),
# hence a trixie root rather than the host's toolchain.
. "$(dirname "$0")/env.sh"
arch=${1:?usage: stock-kernel.sh x86_64|arm64 [ready | run CMD | build DIR]}
case $arch in
x86_64) darch=amd64 ;;
arm64) darch=arm64 ;;
*) die "unsupported arch $arch" ;;
esac
flavour=rt-$darch

# The newest linux-image-rt-* of the pinned upstream version in
# trixie-backports, and its release name (linux-image-RELEASE).
ver=$(apt-cache madison "linux-image-$flavour" 2>/dev/null |
	awk -v p="$KERNEL_UPSTREAM-" '$3 ~ "^"p && /trixie-backports/ {print $3; exit}')
[ -n "$ver" ] || { apt-get update -qq; ver=$(apt-cache madison "linux-image-$flavour" |
	awk -v p="$KERNEL_UPSTREAM-" '$3 ~ "^"p && /trixie-backports/ {print $3; exit}'); }
[ -n "$ver" ] || die "no linux-image-$flavour $KERNEL_UPSTREAM-* in trixie-backports"
release=$(apt-cache depends "linux-image-$flavour:$darch=$ver" 2>/dev/null |
	sed -n "s/.*Depends: linux-image-\([0-9].*-$flavour\)\(:$darch\)\{0,1\}$/\1/p" | head -1)
[ -n "$release" ] || die "cannot tell the release of linux-image-$flavour=$ver"

# What the trixie root holds (the user's install list; see README).
pkgs="ca-certificates make gcc-14 libc6-dev bc flex bison libelf-dev libssl-dev dwarves
python3 kmod cpio xz-utils rustc rust-src bindgen libclang-19-dev
linux-headers-$release linux-source-$KERNEL_SERIES dkms"
# cross: the arm64 compiler; native: Debian 13's own 6.12 rt kernel headers
# too, a kernel without Rust for DKMS to skip (selftests/harness/dkms-test.sh)
# The headers of another arch's kernel do not install in this root (their
# kbuild tools are that arch's binaries, and rust-kdir.sh builds its own):
# their files are unpacked into it instead (below).
cross_hdrs=
if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
	# Debian's arm64 config says its compiler links programs (CC_CAN_LINK:
	# the arm64 libc) and builds the 32-bit compat vDSO (COMPAT_VDSO: an
	# armhf compiler, CROSS_COMPILE_COMPAT below); without them
	# olddefconfig would turn both off and rust-kdir.sh refuses
	pkgs="${pkgs/linux-headers-$release /} gcc-14-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf"
	cross_hdrs="linux-headers-$release:$darch=$ver $(apt-cache depends "linux-headers-$release:$darch=$ver" 2>/dev/null |
		sed -n 's/.*Depends: <\{0,1\}\(linux-headers-[^:>]*-common\)[:>].*/\1/p' | head -1)=$ver"
else
	pkgs="$pkgs linux-headers-$flavour"
fi
key=$( { echo "$ver $release $pkgs"; cat "$CSDWATCH_TOP/scripts/rust-kdir.sh"; } | sha256sum | cut -c1-16)
dir=$CSDWATCH_CACHE/stock/$release-$key
root=$dir/root
kdir=/var/cache/csdwatch/kdir-$release/build

# "ready": is the stock dir prepared (exit 0) or not (exit 1); prepares nothing
if [ "${2:-}" = ready ]; then
	[ -e "$dir/.done" ]
	exit
fi

# Run a command in the trixie root, with /proc mounted for its lifetime.
in_root() {
	mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
	local rc=0
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@" || rc=$?
	umount "$root/proc" 2>/dev/null || true
	return $rc
}

if [ ! -e "$dir/.done" ]; then
	command -v mmdebstrap >/dev/null || {
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap \
			>>"$CSDWATCH_CACHE/apt.log" 2>&1 || die "apt-get install mmdebstrap failed"; }
	rm -rf "$dir"; mkdir -p "$dir"
	mirror=$(debian_mirror) || die "no Debian mirror for the stock root"
	log "stock $arch: Debian 13 root with $release's headers, source and toolchain (mmdebstrap)"
	start=$SECONDS
	mmdebstrap --variant=apt --mode=root --components=main \
		--include="$(echo $pkgs | tr ' ' ,)" trixie "$root" \
		"deb $mirror trixie main" \
		"deb $mirror trixie-backports main" \
		>"$dir/mmdebstrap.log" 2>&1 || { tail -20 "$dir/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
	if [ -n "$cross_hdrs" ]; then
		tmp=$(mktemp -d); chmod 755 "$tmp"
		# shellcheck disable=SC2086
		(cd "$tmp" && apt-get download -qq $cross_hdrs 2>/dev/null) || die "cannot download $cross_hdrs"
		for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$root"; done
		rm -rf "$tmp"
	fi
	log "stock $arch: root in $((SECONDS - start)) s; building the Rust artifacts (scripts/rust-kdir.sh)"
	mkdir -p "$root/usr/local/bin"
	cp "$CSDWATCH_TOP/scripts/rust-kdir.sh" "$root/usr/local/bin/"
	cross=()
	[ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ] &&
		cross=(CROSS_COMPILE=aarch64-linux-gnu- CROSS_COMPILE_COMPAT=arm-linux-gnueabihf-)
	in_root env "${cross[@]}" bash /usr/local/bin/rust-kdir.sh "/usr/src/linux-headers-$release" \
		>"$dir/rust-kdir.out" 2>&1 || { cat "$dir/rust-kdir.out" >&2; die "rust-kdir.sh failed"; }
	# the image, from the package the user's linux-image-rt-* depends on
	tmp=$(mktemp -d); chmod 755 "$tmp"
	(cd "$tmp" && apt-get download -qq "linux-binary-$release:$darch=$ver" 2>/dev/null) ||
		die "cannot download linux-binary-$release=$ver"
	dpkg -x "$tmp"/*.deb "$tmp/x"
	cp "$tmp/x/usr/lib/modules/$release/vmlinuz" "$dir/vmlinuz"
	rm -rf "$tmp"
	echo "$ver $release" > "$dir/.done"
	log "stock $arch: ready in $((SECONDS - start)) s ($release, $ver)"
fi

if [ "${2:-}" = run ]; then
	shift 2
	in_root "$@"
	exit
fi

if [ "${2:-}" = build ]; then
	out=${3:?build DIR}
	mkdir -p "$out"
	src=$root/tmp/csdwatch-src
	rm -rf "$src"; mkdir -p "$src"
	(cd "$CSDWATCH_TOP" && tar --exclude='*.o' --exclude='*.ko' --exclude='.git' \
		--exclude='Documentation' -cf - Makefile Kbuild rust selftests/csd_inject selftests/csd_bench selftests/kprobe_neighbour) \
		| tar -xf - -C "$src"
	mkargs=(KDIR="$kdir")
	[ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ] && mkargs+=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
	cc=$(sed -n 's/^CC_KDIR := //p' "$root$kdir/toolchain.mk")
	hostcc=$(sed -n 's/^HOSTCC_KDIR := //p' "$root$kdir/toolchain.mk")
	# an external module M (a path in the root) with the kernel's compilers
	build_ext() { in_root make -s -C "$kdir" M="$1" CC="$cc" HOSTCC="$hostcc" "${mkargs[@]:1}" modules >&2; }
	in_root make -s -C /tmp/csdwatch-src "${mkargs[@]}" >&2 || die "stock $arch: csdwatch build failed"
	build_ext /tmp/csdwatch-src/selftests/csd_inject || die "stock $arch: csd_inject build failed"
	build_ext /tmp/csdwatch-src/selftests/csd_bench || die "stock $arch: csd_bench build failed"
	build_ext /tmp/csdwatch-src/selftests/kprobe_neighbour || die "stock $arch: kprobe_neighbour build failed"
	# The kernel's own cross-call torture (selftests/csdwatch/scftorture.sh):
	# Debian builds it not (CONFIG_SCF_TORTURE_TEST unset), so it is built
	# here from the same source as two out-of-tree modules.
	ksrc=$root/var/cache/csdwatch/kdir-$release/src
	tort=$root/tmp/csdwatch-torture
	rm -rf "$tort"; mkdir -p "$tort/rcu"
	cp "$ksrc/kernel/torture.c" "$ksrc/kernel/scftorture.c" "$tort/"
	cp "$ksrc/kernel/rcu/rcu.h" "$tort/rcu/"
	printf 'obj-m := torture.o scftorture.o\nccflags-y := -DCONFIG_SCF_TORTURE_TEST_MODULE=1\n' > "$tort/Kbuild"
	build_ext /tmp/csdwatch-torture || die "stock $arch: scftorture build failed"
	cp "$src/csdwatch.ko" "$src/selftests/csd_inject/csd_inject.ko" \
		"$src/selftests/csd_bench/csd_bench.ko" \
		"$src/selftests/kprobe_neighbour/kprobe_neighbour.ko" "$out/"
	mkdir -p "$out/kernel"
	cp "$tort/torture.ko" "$tort/scftorture.ko" "$out/kernel/"
	exit 0
fi
echo "$dir"
