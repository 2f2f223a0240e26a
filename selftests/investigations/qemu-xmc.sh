#!/usr/bin/env bash
# Diagnostic, not a test (CI does not run it): does this host's QEMU keep
# x86's cross-modifying-code rule? selftests/investigations/qemu_xmc/xmc.c in the x86_64
# test guest, first with multi-threaded TCG (what the suite runs), then
# with one TCG thread (the control). A stale count above 0 means a vCPU ran
# code older than a write it had seen published and serialized after: the
# cause of selftests/harness/qemu-defects.sh's "stale translation" int3 crashes.
#   selftests/investigations/qemu-xmc.sh [SECONDS]   (each run; default 40)
. "$(dirname "$0")/../harness/env.sh"
secs=${1:-40}
work=$(mktemp -d /tmp/csdwatch-xmc.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pl"
gcc -O2 -Wall -static -pthread -o "$work/pl/xmc" "$CSDWATCH_TOP/selftests/investigations/qemu_xmc/xmc.c"
printf './xmc %s\nexit 0\n' "$secs" > "$work/pl/run.sh"
for tcg in multi single; do
	log=$work/$tcg.log
	set +e
	CSDWATCH_TCG=$tcg bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" x86_64 "$work/pl" "$log" $((secs * 8 + 120)) >/dev/null 2>&1
	set -e
	line=$(tr -d '\r' < "$log" | grep -a -m1 '^xmc: ' || echo "xmc: no result (see the console)")
	echo "qemu-xmc: $(qemu-system-x86_64 --version | head -1 | sed 's/QEMU emulator version //'), tcg thread=$tcg, -smp ${CSDWATCH_SMP:-4}: $line"
done
