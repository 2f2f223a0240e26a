#!/usr/bin/env bash
# Benchmark (never run by CI, never a pass/fail): cross-call throughput with
# and without csdwatch loaded, measured side by side in one guest boot
# (selftests/bench-guest.sh), printed as a ratio.
#   scripts/bench-overhead.sh            x86_64
#   ARCH=arm64 scripts/bench-overhead.sh
. "$(dirname "$0")/env.sh"
arch=${ARCH:-x86_64}
bash "$CSDWATCH_TOP/scripts/setup.sh"
bash "$CSDWATCH_TOP/scripts/build-kernel.sh" "$arch" >/dev/null
pl=$(mktemp -d); trap 'rm -rf "$pl"' EXIT
bash "$CSDWATCH_TOP/scripts/payload.sh" "$arch" "$pl" "$CSDWATCH_TOP/selftests/bench-guest.sh"
bash "$CSDWATCH_TOP/scripts/qemu-run.sh" "$arch" "$pl" "$CSDWATCH_CACHE/bench-$arch.log" 600 "quiet" \
	| grep '^bench:'
