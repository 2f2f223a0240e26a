#!/usr/bin/env bash
# Investigation tool, not a test (never run by CI): kprobe register and
# unregister churn on the functions csdwatch probes, in the x86_64 test
# guest, counting "Oops: int3" crashes and naming those with a QEMU
# signature (selftests/harness/qemu-defects.sh). It narrowed down the int3 crash at
# rmmod, a stale translation of multi-threaded TCG (selftests/investigations/qemu-xmc.sh).
#   selftests/investigations/kprobe-churn.sh [--csdwatch] [--batch] [--post] [--noopt] [--noload] [--single] [ROUNDS]
#     (default)   selftests/investigations/kprobe_churn: ROUNDS rounds of registering and
#                 unregistering probes on csdwatch's 7 functions, shaped as
#                 csdwatch does (3 kretprobes, one by one, in its order)
#     --batch     plain kprobes, all 7 in one register_kprobes() and
#                 unregister_kprobes() call
#     --csdwatch  reload csdwatch itself ROUNDS times instead
#     --post      every kprobe_churn probe gets a post_handler (never optimized)
#     --noopt     sysctl debug.kprobes-optimization=0 in the guest
#     --noload    no per-CPU cross-call load
#     --single    QEMU single-threaded TCG (one host thread for all vCPUs)
# ROUNDS defaults to 500. Prints the guest's churn| lines and the verdict.
. "$(dirname "$0")/../harness/env.sh"
mode=probes batch=0 post=0 noopt=0 load=1 rounds=500
for a in "$@"; do
	case $a in
	--csdwatch) mode=csdwatch ;;
	--batch) batch=1 ;;
	--post) post=1 ;;
	--noopt) noopt=1 ;;
	--noload) load=0 ;;
	--single) export CSDWATCH_ICOUNT=1 ;;
	[0-9]*) rounds=$a ;;
	*) die "unknown argument $a" ;;
	esac
done
work=$(mktemp -d /tmp/csdwatch-churn.XXXXXX)
trap 'rm -rf "$work"' EXIT
pl=$work/payload
bash "$CSDWATCH_TOP/selftests/harness/payload.sh" x86_64 "$pl" "$CSDWATCH_TOP/selftests/investigations/kprobe-churn-guest.sh" "$work/build.log"
kc=$(bash "$CSDWATCH_TOP/selftests/harness/build-module.sh" x86_64 selftests/investigations/kprobe_churn 2>>"$work/build.log") \
	|| { cat "$work/build.log" >&2; die "kprobe_churn build failed"; }
cp "$kc/kprobe_churn.ko" "$pl/"
printf 'MODE=%s\nCYCLES=%s\nBATCH=%s\nPOST=%s\nNOOPT=%s\nLOAD=%s\n' "$mode" "$rounds" "$batch" "$post" "$noopt" "$load" > "$pl/churn.conf"
log=$CSDWATCH_CACHE/results/churn-$(date +%Y%m%d-%H%M%S)-$$.log
mkdir -p "$(dirname "$log")"
set +e
bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" x86_64 "$pl" "$log" 7200 >/dev/null 2>&1
rc=$?
set -e
grep '^churn|' "$log" | cut -d'|' -f2-
oops=$(grep -c 'Oops: ' "$log" || true)
echo "kprobe-churn: mode=$mode batch=$batch post=$post noopt=$noopt load=$load single=${CSDWATCH_ICOUNT:-0}: guest exit $rc, $oops Oops line(s); console: $log"
grep -m1 -A4 'Oops: ' "$log" || true
. "$CSDWATCH_TOP/selftests/harness/qemu-defects.sh"
qemu_defect "$log" || true
