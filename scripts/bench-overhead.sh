#!/usr/bin/env bash
# Benchmark (never run by CI, never a pass/fail): cross-call throughput with
# and without csdwatch loaded, measured side by side in one guest boot
# (selftests/bench-guest.sh), printed as a ratio.
#   scripts/bench-overhead.sh            x86_64
#   ARCH=arm64 scripts/bench-overhead.sh
. "$(dirname "$0")/env.sh"
arch=${ARCH:-x86_64}
bash "$CSDWATCH_TOP/scripts/boot-guest.sh" "$arch" "$CSDWATCH_TOP/selftests/bench-guest.sh" \
	"$CSDWATCH_CACHE/bench-$arch.log" | grep '^bench:'
