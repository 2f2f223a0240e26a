#!/usr/bin/env bash
# Make a build directory in which out-of-tree Rust modules build for an
# installed distribution kernel, from that kernel's headers and its source.
#
#   scripts/rust-kdir.sh [HEADERS_DIR] [SOURCE] [OUT_DIR]
#     HEADERS_DIR  default /lib/modules/$(uname -r)/build
#     SOURCE       the kernel source tree or tarball of the same version,
#                  default /usr/src/linux-source-X.Y.tar.xz (Debian's
#                  linux-source-X.Y package)
#     OUT_DIR      default /var/cache/csdwatch/kdir-RELEASE
#   CROSS_COMPILE=aarch64-linux-gnu- for an arm64 kernel on another host.
#   Prints OUT_DIR/build: pass it as KDIR= to make (and to dkms, see README).
#   OUT_DIR/build/toolchain.mk names the C compiler the kernel was built
#   with; csdwatch's Makefile uses it.
#
# Why this is needed: a distribution's linux-headers package has what C
# modules need but not the Rust artifacts (rust/libkernel.rmeta, libcore,
# libmacros.so, the bindings) that a Rust module is compiled against. They
# are rebuilt here with `make modules_prepare` from the kernel's own
# .config and source. Symbols a Rust module imports are named with each
# crate's hash (v0 mangling, e.g. _RNv...Cs2lKf6AS60Zg_4core...), and the
# hash is computed from the crate name and the compiler's full version
# string: only the very rustc the kernel was built with gives the names
# the kernel exports. So this refuses a different rustc, and the module
# build's modpost step refuses any name the kernel does not export
# ("undefined!"). Symbol CRCs (CONFIG_MODVERSIONS) come from the headers'
# Module.symvers.
#
# Nothing here runs as part of the kernel build itself; it only reads the
# headers and writes OUT_DIR.
set -euo pipefail
log() { printf '[rust-kdir] %s\n' "$*" >&2; }
die() { printf '[rust-kdir] error: %s\n' "$*" >&2; exit 1; }

hdr=${1:-/lib/modules/$(uname -r)/build}
[ -e "$hdr/.config" ] || die "no kernel config in $hdr (install the linux-headers package of the kernel)"
[ -e "$hdr/Module.symvers" ] || die "no Module.symvers in $hdr"
hdr=$(cd "$hdr" && pwd -P)
cfg=$hdr/.config
release=$(cat "$hdr/include/config/kernel.release" 2>/dev/null) ||
	die "no include/config/kernel.release in $hdr"
getcfg() { sed -n "s/^$1=//p" "$cfg" | tr -d '"'; }

# A kernel built without Rust cannot load any Rust module.
[ "$(getcfg CONFIG_RUST)" = y ] ||
	die "$release is built without CONFIG_RUST (CONFIG_RUSTC_VERSION=$(getcfg CONFIG_RUSTC_VERSION)): no Rust module can load into it; see README (kernels without Rust)"

# The exact rustc the kernel was built with (see above).
want=$(getcfg CONFIG_RUSTC_VERSION)
rustc=${RUSTC:-rustc}
have_text=$("$rustc" --version 2>/dev/null) || die "no $rustc: install the rustc the kernel was built with ($want)"
have=$(echo "$have_text" | awk '{split($2, v, /[.-]/); printf "%d%03d%02d", v[1], v[2], v[3]}')
[ "$have" = "$want" ] ||
	die "$release was built with rustc $((want / 100000)).$((want / 100 % 1000)).$((want % 100)) (CONFIG_RUSTC_VERSION=$want), this is $have_text: crate hashes would differ; install that rustc (and its rust-src)"
llvm=$(getcfg CONFIG_RUSTC_LLVM_VERSION)
bindgen_want=$(getcfg CONFIG_BINDGEN_VERSION_TEXT)

# The C compiler the kernel was built with: its CC_VERSION_TEXT's first word
# (x86_64-linux-gnu-gcc-14 on Debian), so olddefconfig keeps every option.
cc_text=$(getcfg CONFIG_CC_VERSION_TEXT)
cc=${cc_text%% *}
command -v "$cc" >/dev/null || die "$release was built with $cc_text: install $cc"
# the host compiler for the build's tools: the same gcc without the target
# prefix (gcc-14 for x86_64-linux-gnu-gcc-14), else gcc
hostcc=${HOSTCC:-${cc##*-linux-gnu-}}
command -v "$hostcc" >/dev/null || hostcc=gcc
karch=$(sed -n 's/^CONFIG_\(X86_64\|ARM64\)=y$/\1/p' "$cfg" | head -1)
case $karch in X86_64) karch=x86_64 ;; ARM64) karch=arm64 ;; *) die "unsupported arch in $cfg" ;; esac

series=$(echo "$release" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
src=${2:-/usr/src/linux-source-$series.tar.xz}
out=${3:-/var/cache/csdwatch/kdir-$release}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
stamp="$release $have_text $cc_text $(sha256sum "$cfg" | cut -c1-16)"
if [ -e "$out/build/.rust-kdir-done" ] && [ "$(cat "$out/build/.rust-kdir-done")" = "$stamp" ]; then
	echo "$out/build"; exit 0
fi

if [ -d "$src" ]; then
	srcdir=$(cd "$src" && pwd -P)
else
	[ -e "$src" ] || die "no kernel source $src (install linux-source-$series, or pass the source tree)"
	srcdir=$out/src
	if [ ! -e "$srcdir/.extracted" ]; then
		log "extracting $src"
		rm -rf "$srcdir"; mkdir -p "$srcdir"
		tar -xf "$src" -C "$srcdir" --strip-components=1
		touch "$srcdir/.extracted"
	fi
fi
srcver=$(make -s -C "$srcdir" kernelversion 2>/dev/null)
case $release in "$srcver"*) ;; *) die "source $srcdir is $srcver, the kernel is $release" ;; esac

b=$out/build
mkdir -p "$b"
cp "$cfg" "$b/.config"
mk=(make -s -C "$srcdir" O="$b" ARCH="$karch" CROSS_COMPILE="${CROSS_COMPILE:-}" CC="$cc"
    HOSTCC="$hostcc" KERNELRELEASE="$release"
    -j"$(nproc)")
[ -n "${BINDGEN:-}" ] && mk+=(BINDGEN="$BINDGEN")
log "configuring $release in $b (rustc $have, LLVM $llvm, $bindgen_want)"
"${mk[@]}" olddefconfig >/dev/null
# olddefconfig must not have changed an option: a changed option means a
# different toolchain, and struct layouts or code could differ.
changed=$(diff <(grep '^CONFIG_' "$cfg" | sort) <(grep '^CONFIG_' "$b/.config" | sort) | grep '^[<>]' || true)
[ -z "$changed" ] || { echo "$changed" >&2; die "the toolchain changes the kernel's config (above): use the compilers it was built with"; }
log "make modules_prepare (the Rust artifacts; a few minutes)"
start=$SECONDS
"${mk[@]}" modules_prepare > "$b/rust-kdir.log" 2>&1 || { tail -30 "$b/rust-kdir.log" >&2; die "modules_prepare failed"; }
[ -e "$b/rust/libkernel.rmeta" ] || die "modules_prepare built no rust/libkernel.rmeta"
cp "$hdr/Module.symvers" "$b/Module.symvers"
# the compilers to build modules with, for csdwatch's Makefile (Debian's
# own headers say the same in their .kernelvariables)
printf 'CC_KDIR := %s\nHOSTCC_KDIR := %s\n' "$cc" "$hostcc" > "$b/toolchain.mk"
# the headers' BTF base (for the module's .BTF section), if the package has it
[ -e "$hdr/vmlinux" ] && ln -sf "$hdr/vmlinux" "$b/vmlinux"
log "prepared in $((SECONDS - start)) s"
echo "$stamp" > "$b/.rust-kdir-done"
echo "$b"
