#!/usr/bin/env bash
# The main job (README): set up, build the PREEMPT_RT guest kernel and
# csdwatch, boot it in QEMU with csdwatch loaded and show its status.
#   scripts/demo.sh            x86_64
#   ARCH=arm64 scripts/demo.sh
. "$(dirname "$0")/env.sh"
arch=${ARCH:-x86_64}
bash "$CSDWATCH_TOP/scripts/setup.sh"
bash "$CSDWATCH_TOP/scripts/build-kernel.sh" "$arch" >/dev/null
mod=$(bash "$CSDWATCH_TOP/scripts/build-module.sh" "$arch" . 2>/dev/null) || die "module build failed (run make for details)"
pl=$(mktemp -d); trap 'rm -rf "$pl"' EXIT
cp "$mod/csdwatch.ko" "$pl/"
cp "$CSDWATCH_TOP/selftests/demo-guest.sh" "$pl/run.sh"
log "booting $arch guest (PREEMPT_RT, 4 CPUs, TCG)"
bash "$CSDWATCH_TOP/scripts/qemu-run.sh" "$arch" "$pl" "$CSDWATCH_CACHE/demo-$arch.log" 600 "quiet"
