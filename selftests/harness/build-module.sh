#!/usr/bin/env bash
# Build a module directory (default: csdwatch, the repo top) for ARCH
# against the cached guest kernel, in a copy under the cache so the repo
# stays free of build output. Prints the build directory.
#   selftests/harness/build-module.sh ARCH [SUBDIR] [EXTRA_MAKE_ARGS...]
. "$(dirname "$0")/env.sh"
arch=${1:?arch}; sub=${2:-.}; shift $(( $# < 2 ? $# : 2 ))
kdir=$(bash "$CSDWATCH_TOP/selftests/harness/build-kernel.sh" "$arch")
name=$(basename "$(cd "$CSDWATCH_TOP/$sub" && pwd)"); [ "$sub" = . ] && name=csdwatch
# keyed by the checkout too, so two checkouts (worktrees) never share a build
out=$CSDWATCH_CACHE/build/$(kernel_tag "$arch")/$(echo "$CSDWATCH_TOP" | sha256sum | cut -c1-8)-$name
mkdir -p "$out"
# copy sources only (tar keeps it dependency-free; stale outputs stay and
# kbuild rebuilds what changed)
(cd "$CSDWATCH_TOP/$sub" && tar --exclude='*.o' --exclude='*.ko' --exclude='selftests' \
	--exclude='.git' --exclude='Documentation' -cf - .) | tar -xf - -C "$out"
# shellcheck disable=SC2046
make -s -C "$kdir" M="$out" ARCH="$(arch_kbuild "$arch")" CROSS_COMPILE="$(arch_cross "$arch")" \
	$(kernel_make_args "$arch") "$@" modules >&2 || die "module build failed: $sub for $arch"
echo "$out"
