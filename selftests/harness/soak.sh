#!/usr/bin/env bash
# Reliability soak: what CI runs in short form, at full length.
#   selftests/harness/soak.sh [--arch x86_64|arm64] [--debug] [--minutes N]
#
# One guest (4 vCPUs) runs, with csdwatch loaded:
#   - scftorture (mainline's smp_call_function torture) for N minutes
#     (default 10): it must end in SUCCESS, csdwatch must print 0 stall
#     reports, and resend at most 5 IPIs per 100 waits (the rate a correct
#     kernel under TCG earns, selftests/csdwatch/scftorture.sh);
#   - churn: 200 rmmod/insmod cycles, then 100 rounds of CPUs 2 and 3
#     offline/online, under cross-call load; every queued function ran
#     exactly once, no warning, nothing left (selftests/csdwatch/churn.sh).
# --debug: on the debug kernel variant (selftests/harness/kconfig/debug.config:
# lockdep, sleep-in-atomic, debugobjects, kmemleak; on x86_64 also KASAN,
# debug-x86_64.config, built with clang; built once and cached),
# and first the whole selftest suite on that kernel (scripts/run-tests.sh
# with CSDWATCH_VARIANT=debug), where any lockdep or kmemleak report fails
# the test that caused it.
# Ends with "N passed, N failed". A benchmark it is not: no timing gates.
. "$(dirname "$0")/env.sh"
arch=x86_64; debug=0; minutes=10
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=${2:?}; shift ;;
	--debug) debug=1 ;;
	--minutes) minutes=${2:?}; shift ;;
	*) die "usage: soak.sh [--arch x86_64|arm64] [--debug] [--minutes N]" ;;
	esac
	shift
done
[ $debug = 1 ] && export CSDWATCH_VARIANT=debug
bash "$CSDWATCH_TOP/selftests/harness/setup.sh"
bash "$CSDWATCH_TOP/selftests/harness/build-kernel.sh" "$arch" >/dev/null
results=$CSDWATCH_CACHE/results/soak-$(date +%Y%m%d-%H%M%S)-$arch${CSDWATCH_VARIANT:+-$CSDWATCH_VARIANT}
mkdir -p "$results"
p=0; f=0
if [ $debug = 1 ]; then
	log "$arch: whole selftest suite on the debug kernel"
	# a failing suite is counted, not the end of the soak: under pipefail
	# (env.sh) its exit status would end this script before the soak guest
	line=$(ARCHES=$arch TICKLESS_ARCHES= LTS_ARCHES= STOCK_ARCHES= bash "$CSDWATCH_TOP/scripts/run-tests.sh" 2>&1 | tee "$results/suite.log" | tail -1 || true)
	echo "debug suite: $line"
	p=$((p + $(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')))
	f=$((f + $(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')))
fi

pl=$results/payload
bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$pl" "$CSDWATCH_TOP/selftests/harness/guest/soak-guest.sh" "$results/build.log"
[ -e "$pl/scftorture.ko" ] || die "no scftorture.ko in the kernel build (CONFIG_SCF_TORTURE_TEST=m)"
printf 'SCF_SECS=%s\nCHURN_RELOADS=200\nCHURN_HOTPLUG=100\n' $((minutes * 60)) > "$pl/soak.env"
# the churn's 200 reloads each run the KUnit suites at insmod (CONFIG_KUNIT=y):
# beside a loaded CI run and a kernel build, fewer than 200 took over 1730 s;
# beside a cold CI run the whole churn took about 3500 s
tmo=$((minutes * 60 + 5400))
log "$arch: soak guest (scftorture $minutes min, churn 200/100; timeout $tmo s; log $results/console.log)"
start=$SECONDS
set +e
bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" "$arch" "$pl" "$results/console.log" $tmo >/dev/null
qrc=$?
sum=$(python3 "$CSDWATCH_TOP/selftests/harness/ktap_summary.py" "$SRC_DIR" "$results/console.log" "$arch-soak" \
	"$results/ktap" soak-scftorture soak-churn)
set -e
log "$arch: soak guest ran $((SECONDS - start)) s, verdict $qrc"
grep -h -E 'KTAP\|soak-[a-z]*\|#' "$results/console.log" | sed 's/^KTAP|/  /' || true
echo "$sum"
line=$(echo "$sum" | tail -1)
p=$((p + $(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')))
f=$((f + $(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')))
if [ "$qrc" != 0 ]; then
	# a known QEMU defect is named (selftests/harness/qemu-defects.sh), still a failure:
	# the soak's figures are those of a whole run
	. "$CSDWATCH_TOP/selftests/harness/qemu-defects.sh"
	why=$(qemu_defect "$results/console.log" || true)
	echo "$arch-soak: not ok - guest ended badly (verdict $qrc)${why:+: $why}"
	f=$((f + 1))
fi
echo "$p passed, $f failed"
[ "$f" = 0 ]
