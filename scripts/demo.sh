#!/usr/bin/env bash
# The main job (README): set up, build the PREEMPT_RT guest kernel, csdwatch
# and the fault injector, boot the guest in QEMU and run the live demo
# (selftests/demo-guest.sh): a lost IPI rescued, an IRQs-off target reported.
#   scripts/demo.sh            x86_64
#   ARCH=arm64 scripts/demo.sh
. "$(dirname "$0")/env.sh"
arch=${ARCH:-x86_64}
bash "$CSDWATCH_TOP/scripts/setup.sh"
bash "$CSDWATCH_TOP/scripts/build-kernel.sh" "$arch" >/dev/null
pl=$(mktemp -d); trap 'rm -rf "$pl"' EXIT
bash "$CSDWATCH_TOP/scripts/payload.sh" "$arch" "$pl" "$CSDWATCH_TOP/selftests/demo-guest.sh"
log "booting $arch guest (PREEMPT_RT, 4 CPUs, TCG); console log: $CSDWATCH_CACHE/demo-$arch.log"
bash "$CSDWATCH_TOP/scripts/qemu-run.sh" "$arch" "$pl" "$CSDWATCH_CACHE/demo-$arch.log" 600 "quiet"
