#!/usr/bin/env bash
# The main job (README): set up, build the PREEMPT_RT guest kernel, csdwatch
# and the fault injector, boot the guest in QEMU and run the live demo
# (selftests/harness/guest/demo-guest.sh): a lost IPI rescued, an IRQs-off target reported.
#   scripts/demo.sh            x86_64
#   ARCH=arm64 scripts/demo.sh
. "$(dirname "$0")/../selftests/harness/env.sh"
arch=${ARCH:-x86_64}
bash "$CSDWATCH_TOP/selftests/harness/boot-guest.sh" "$arch" "$CSDWATCH_TOP/selftests/harness/guest/demo-guest.sh" \
	"$CSDWATCH_CACHE/demo-$arch.log"
