#!/usr/bin/env bash
# Install everything csdwatch needs on a fresh Debian 12 machine of this kind,
# from the package registries only (Debian, crates.io), into system packages
# and $CSDWATCH_CACHE. Idempotent: a second run with all in place is quick.
. "$(dirname "$0")/env.sh"

need_apt=0
for p in build-essential bc flex bison libelf-dev libssl-dev cpio xz-utils \
	 gcc-aarch64-linux-gnu libclang1-$LLVM_MAJOR libclang-common-$LLVM_MAJOR-dev \
	 busybox-static qemu-system-x86 qemu-system-arm kmod; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need_apt=1
done

add_suites() {
	# bookworm-backports: qemu 10 (matches the preinstalled qemu-utils).
	# trixie-backports: linux-source-7.3 and rust-src, both arch: all, only
	# downloaded and unpacked, never installed; pinned low so nothing upgrades.
	local f=/etc/apt/sources.list.d/csdwatch.sources
	[ -f $f ] && return 0
	local mirror
	mirror=$(debian_mirror) || die "cannot add apt suites without a Debian mirror"
	cat > $f <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	cat > /etc/apt/preferences.d/csdwatch <<'PIN'
Package: *
Pin: release n=trixie-backports
Pin-Priority: 50
PIN
	updated=0
}

updated=1
add_suites
# arm64 packages are only downloaded (the guest's busybox), never installed
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
	updated=0
fi
if [ $need_apt = 1 ] || [ $updated = 0 ]; then
	log "apt-get update"
	apt-get update -qq
	updated=1
fi
if [ $need_apt = 1 ]; then
	log "apt-get install build and QEMU packages"
	mkdir -p "$CSDWATCH_CACHE"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		build-essential bc flex bison libelf-dev libssl-dev cpio xz-utils python3 \
		gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
		libclang1-$LLVM_MAJOR libclang-common-$LLVM_MAJOR-dev \
		busybox-static kmod >"$CSDWATCH_CACHE/apt.log" 2>&1 || { tail -20 "$CSDWATCH_CACHE/apt.log"; die "apt-get install failed"; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-t bookworm-backports qemu-system-x86 qemu-system-arm ipxe-qemu qemu-efi-aarch64 \
		>>"$CSDWATCH_CACHE/apt.log" 2>&1 || { tail -20 "$CSDWATCH_CACHE/apt.log"; die "apt-get install (qemu) failed"; }
fi
# a kernel variant built with clang (a fragment's "#make LLVM=-19" line:
# the x86_64 debug kernel, for KASAN) needs bookworm's LLVM toolchain
llvm_pkgs="clang-$LLVM_MAJOR lld-$LLVM_MAJOR llvm-$LLVM_MAJOR"
if kernel_make_args x86_64 | grep -q '^LLVM=' || kernel_make_args arm64 | grep -q '^LLVM='; then
	# shellcheck disable=SC2086
	if ! dpkg-query -W -f='${Status}\n' $llvm_pkgs 2>/dev/null | grep -c 'ok installed' | grep -qx 3; then
		log "apt-get install $llvm_pkgs (kernel variant $CSDWATCH_VARIANT is built with clang)"
		[ $updated = 1 ] || { apt-get update -qq; updated=1; }
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $llvm_pkgs \
			>>"$CSDWATCH_CACHE/apt.log" 2>&1 || { tail -20 "$CSDWATCH_CACHE/apt.log"; die "apt-get install (llvm) failed"; }
	fi
fi
# selftests/harness/prometheus-check.sh: promtool (package prometheus) and
# prometheus-node-exporter, which the check starts itself on a port of its
# own. The packages' services are kept from starting while they install
# (a policy-rc.d that says no, unless the machine has one already) and
# are stopped and disabled after, if systemd runs them.
prom_pkgs="prometheus prometheus-node-exporter"
# shellcheck disable=SC2086
if ! dpkg-query -W -f='${Status}\n' $prom_pkgs 2>/dev/null | grep -c 'ok installed' | grep -qx 2; then
	log "apt-get install $prom_pkgs (promtool, node_exporter: selftests/harness/prometheus-check.sh; services left off)"
	[ $updated = 1 ] || { apt-get update -qq; updated=1; }
	prc=/usr/sbin/policy-rc.d; own_prc=
	if [ ! -e $prc ]; then printf '#!/bin/sh\nexit 101\n' > $prc; chmod 755 $prc; own_prc=1; fi
	set +e
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $prom_pkgs \
		>>"$CSDWATCH_CACHE/apt.log" 2>&1
	arc=$?
	set -e
	[ -z "$own_prc" ] || rm -f $prc
	[ $arc = 0 ] || { tail -20 "$CSDWATCH_CACHE/apt.log"; die "apt-get install (prometheus) failed"; }
	if [ -d /run/systemd/system ]; then
		systemctl disable --now prometheus.service prometheus-node-exporter.service >/dev/null 2>&1 || true
	fi
fi

mkdir -p "$TOOLS_DIR" "$CSDWATCH_CACHE/src"

# Fetch and unpack one arch-all (or foreign-arch) package whose upstream
# version starts with $2, into $3.
fetch_unpack() {
	local pkg=$1 ver_prefix=$2 dest=$3 ver tmp
	[ -e "$dest/.done" ] && return 0
	[ $updated = 1 ] || { apt-get update -qq; updated=1; }
	ver=$(apt-cache madison "$pkg" | awk -v p="$ver_prefix" '$3 ~ "^"p {print $3; exit}')
	[ -n "$ver" ] || die "no $pkg with version $ver_prefix* in the archive"
	tmp=$(mktemp -d); chmod 755 "$tmp"
	(cd "$tmp" && apt-get download -qq "$pkg=$ver" 2>/dev/null)
	rm -rf "$dest"; mkdir -p "$dest"
	dpkg -x "$tmp"/*.deb "$dest"
	rm -rf "$tmp"
	echo "$pkg=$ver" > "$dest/.done"
	log "unpacked $pkg=$ver"
}

fetch_unpack rust-src "$RUSTC_VERSION+" "$TOOLS_DIR/rust-src-$RUSTC_VERSION"
fetch_unpack busybox-static:arm64 "" "$TOOLS_DIR/busybox-arm64"

if [ ! -x "$BINDGEN" ]; then
	log "cargo install bindgen-cli $BINDGEN_VERSION"
	cargo install --locked --quiet --root "$TOOLS_DIR/bindgen-$BINDGEN_VERSION" \
		bindgen-cli --version "$BINDGEN_VERSION"
fi

if [ ! -e "$SRC_DIR/.done" ]; then
	fetch_unpack "linux-source-$KERNEL_SERIES" "$KERNEL_UPSTREAM-" "$CSDWATCH_CACHE/src/deb"
	log "extracting linux-source-$KERNEL_UPSTREAM"
	rm -rf "$SRC_DIR" "$SRC_DIR.tmp"; mkdir -p "$SRC_DIR.tmp"
	tar -xJf "$CSDWATCH_CACHE"/src/deb/usr/src/linux-source-$KERNEL_SERIES.tar.xz \
		-C "$SRC_DIR.tmp" --strip-components=1
	mv "$SRC_DIR.tmp" "$SRC_DIR"
	rm -rf "$CSDWATCH_CACHE/src/deb"
	touch "$SRC_DIR/.done"
fi
log "toolchain ready: rustc $RUSTC_VERSION, bindgen $BINDGEN_VERSION, linux $KERNEL_UPSTREAM"
