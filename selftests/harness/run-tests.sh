#!/usr/bin/env bash
# The test command (README): on a fresh machine of this kind, install what
# is needed, build the guest kernels and csdwatch, boot each arch in QEMU,
# run the KUnit suites and the selftests in the guest, parse the results
# with the kernel's KTAP parser and print "N passed, N failed".
#   scripts/run-tests.sh            both arches, then the tickless, 6.12 LTS
#                                   and Debian stock kernel runs (x86_64);
#                                   the last two only once prepared
#                                   (CSDWATCH_ROWS=all, selftests/harness/matrix.sh)
#   ARCHES=x86_64 scripts/run-tests.sh
#   ARCHES= TICKLESS_ARCHES= LTS_ARCHES= STOCK_ARCHES= ...   (empty: skip that run)
. "$(dirname "$0")/env.sh"
arches=${ARCHES-x86_64 arm64}
# one directory per run, unique even for two runs started in the same
# second (two guests writing one console log splice each other's output)
mkdir -p "$CSDWATCH_CACHE/results"
results=$(mktemp -d "$CSDWATCH_CACHE/results/$(date +%Y%m%d-%H%M%S)-XXXX")
chmod 755 "$results"

bash "$CSDWATCH_TOP/selftests/harness/setup.sh"
# The first arch's kernel now. The other arches' and the tickless ones are
# built beside the first guests, at nice 19, so that a fresh run spends the
# CPU a TCG guest leaves idle (its sleeps) on them rather than building
# them one after the other; whatever needs one of them before it is done
# waits for it (build-kernel.sh's lock). The suite is run repeatedly
# beside a kernel build at nice 0 to show it passes on a loaded host
# (selftests/harness/ci-repeat.sh --load), so a nice 19 one is no new condition.
first=${arches%% *}
[ -z "$first" ] || bash "$CSDWATCH_TOP/selftests/harness/build-kernel.sh" "$first" >/dev/null
later=   # VARIANT:ARCH ...
for arch in ${arches#"$first"}; do later="$later $CSDWATCH_VARIANT:$arch"; done
for arch in ${TICKLESS_ARCHES-x86_64}; do later="$later nohz:$arch"; done
bg=
if [ -n "$later" ]; then
	# its own session, so that an early exit stops make and its children
	setsid bash -c 'for k in $1; do
		CSDWATCH_VARIANT=${k%%:*} nice -n 19 bash "$0/selftests/harness/build-kernel.sh" "${k##*:}" >/dev/null || true
	done' "$CSDWATCH_TOP" "$later" >"$results/later-kernels.log" 2>&1 &
	bg=$!
fi
trap '[ -z "$bg" ] || kill -- -"$bg" 2>/dev/null || true' EXIT

# The console of a guest that ended badly (timeout, crash): from 20 lines
# before the first dump on (the guest watchdog, sysrq, a hang detector, a
# panic: qemu-run.sh makes a hung guest print every CPU's and every blocked
# task's stack), at most 400 lines; without a dump, the last 200 lines.
console_tail() {
	local first
	first=$(grep -n -m1 -E 'csdwatch-guest: watchdog:|sysrq: |Kernel panic|BUG: soft lockup|rcu: INFO: |INFO: task .* blocked for|NMI backtrace for cpu' \
		"$1" | cut -d: -f1 || true)
	if [ -n "$first" ]; then
		sed -n "$((first > 20 ? first - 20 : 1)),$((first + 379))p" "$1"
	else
		tail -200 "$1"
	fi | sed 's/^/    /'
}

# Boot a guest: "$@" is the qemu-run.sh command whose console is LOG; sets
# qrc. Up to two reruns, each only for a known QEMU TCG defect
# (selftests/harness/qemu-defects.sh: a signature the guest cannot produce itself);
# each crashed console is kept as LOG with -qemu-N before .log. Two: on
# Debian's stock kernel the stale-translation defect struck the csd_queue_cpu
# tracepoint's patched branch in 3 of 4 boots of one loaded CI pair (the
# suite loads and unloads csdwatch, so toggles it, about 60 times under
# cross-call load), twice in one run.
. "$CSDWATCH_TOP/selftests/harness/qemu-defects.sh"
guest_boot() {
	local log=$1 try why
	shift
	for try in 1 2 3; do
		set +e
		"$@" >/dev/null
		qrc=$?
		set -e
		[ "$qrc" != 0 ] && [ $try -lt 3 ] && why=$(qemu_defect "$log") || break
		mv "$log" "${log%.log}-qemu-$try.log"
		echo "# $(basename "$log"): the guest crashed with $why; console ${log%.log}-qemu-$try.log: run again"
	done
}

# the result documents every guest run of the suite must print
# (KUnit: every suite the crate declares, #[kunit_tests(NAME)] in rust/)
expected=$(grep -ho 'kunit_tests(csdwatch_[a-z_]*)' "$CSDWATCH_TOP"/rust/*.rs |
	sed 's/^kunit_tests(\(.*\))$/kunit-\1/' | tr '\n' ' ')
for t in $(sed -n 's/^TEST_PROGS += //p' "$CSDWATCH_TOP/selftests/csdwatch/Makefile"); do expected="$expected selftest-${t%.sh}"; done

# The results of guest run NAME (console $results/NAME-console.log, QEMU
# verdict QRC): prints what failed, sets p, f, s (passed, failed, skipped).
# EXPECTED (optional) replaces the list of documents it must print.
guest_result() {
	local name=$1 qrc=$2 docs=${3:-$expected} summary line
	set +e
	summary=$(python3 "$CSDWATCH_TOP/selftests/harness/ktap_summary.py" "$SRC_DIR" \
		"$results/$name-console.log" "$name" "$results/$name-ktap" $docs)
	set -e
	echo "$summary" | grep -v ": [0-9]* passed, 0 failed" | grep -v "^$name: [0-9]" || true
	line=$(echo "$summary" | tail -1)
	# which hooks csdwatch used in this run: its load lines, counted by mode
	# (selftest hooks_param loads each mode once on purpose)
	echo "$name: csdwatch hooks: $(grep -o 'csdwatch: loaded: .*; hooks: [a-z]*' \
		"$results/$name-console.log" | sed 's/.*hooks: //' | sort | uniq -c |
		awk '{ printf "%s%s (%d load lines)", (NR > 1 ? ", " : ""), $2, $1 }' || true)"
	p=$(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	if [ "$qrc" != 0 ]; then
		echo "$name: not ok - guest run ended badly (verdict $qrc); console tail:"
		console_tail "$results/$name-console.log"
		f=$((${f:-0} + 1))
	fi
}

# A boot of its own for ARCH beside the suite, as guest run NAME (console
# $results/NAME.log): selftests/harness/guest/GUEST on QEMU -smp SMP within TIMEOUT s;
# the result documents DOCS it must print are added to p, f and s.
side_boot() {
	local name=$1 guest=$2 smp=$3 tmo=$4 log
	shift 4
	log=$results/$name.log
	bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$results/$name-payload" \
		"$CSDWATCH_TOP/selftests/harness/guest/$guest" "$results/$arch-build.log"
	guest_boot "$log" env CSDWATCH_SMP="$smp" \
		bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" "$arch" "$results/$name-payload" "$log" "$tmo"
	side_result "$name" "$log" "$qrc" "$@"
}
# The result of side guest run NAME (console LOG, QEMU verdict RC): the
# documents DOCS... it must print are added to p, f and s.
side_result() {
	local name=$1 log=$2 rc=$3 sum line
	shift 3
	set +e
	sum=$(python3 "$CSDWATCH_TOP/selftests/harness/ktap_summary.py" "$SRC_DIR" "$log" "$name" "$results/$name-ktap" "$@")
	set -e
	echo "$sum" | grep -v ": [0-9]* passed, 0 failed" | grep -v "^$name: [0-9]" || true
	line=$(echo "$sum" | tail -1)
	p=$((${p:-0} + $(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')))
	f=$((${f:-0} + $(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')))
	s=$((${s:-0} + $(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')))
	if [ "$rc" != 0 ]; then
		echo "$name: not ok - guest run ended badly (verdict $rc); log $log, console tail:"
		console_tail "$log"
		f=$((f + 1))
	fi
}

total_p=0; total_f=0; total_s=0
for arch in $arches; do
	# guest timeouts, times the kernel's "#timeout-x" (env.sh)
	tmo_x=$(kernel_timeout_x "$arch")
	log "$arch: building csdwatch and csd_inject"
	pl=$results/$arch-payload
	bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$pl" "$CSDWATCH_TOP/selftests/harness/guest/guest-run.sh" \
		"$results/$arch-build.log"

	log "$arch: booting QEMU (log: $results/$arch-console.log)"
	start=$SECONDS
	guest_boot "$results/$arch-console.log" \
		bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" "$arch" "$pl" "$results/$arch-console.log" $((900 * tmo_x))
	log "$arch: guest ran $((SECONDS - start)) s, verdict $qrc"
	guest_result "$arch" "$qrc"
	# Prometheus (x86_64): selftest prometheus_export's export, through
	# promtool and a node_exporter on this host
	if [ "$arch" = x86_64 ]; then
		set +e
		prom=$(bash "$CSDWATCH_TOP/selftests/harness/prometheus-check.sh" "$results/$arch-console.log" 2>&1)
		set -e
		echo "$prom" | grep -v '^ok - ' | sed "s/^/$arch-prometheus: /" || true
		po=$(echo "$prom" | grep -c '^ok - ' || true); pn=$(echo "$prom" | grep -c '^not ok - ' || true)
		[ $((po + pn)) -gt 0 ] || pn=1
		p=$((${p:-0} + po)); f=$((${f:-0} + pn))
	fi
	# big machine (x86_64): NR_CPUS=8192 kernel, 16 vCPUs
	if [ "$arch" = x86_64 ]; then
		side_boot "$arch-big" big-guest.sh 16 $((900 * tmo_x)) \
			big-sizing big-module_lifecycle big-lost_ipi_recovery big-irqs_off_report
	fi
	# one socket per CPU (no shared last-level cache): a remote wakeup is
	# queued on the target's call queue only there
	side_boot "$arch-sockets" sockets-guest.sh 4,sockets=4 $((300 * tmo_x)) sockets-lost_wakeup
	# panic_ms gets a boot of its own: it ends the guest by design
	plp=$results/$arch-panic-payload
	bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$plp" "$CSDWATCH_TOP/selftests/harness/guest/panic-guest.sh" \
		"$results/$arch-build.log"
	set +e
	bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" "$arch" "$plp" "$results/$arch-panic.log" 300 >/dev/null
	prc=$?
	set -e
	pline=$(grep -o 'Kernel panic - not syncing: csdwatch: CPU [0-9]* waited [0-9]* ms for CPU 1 (target IRQs off): panic_ms reached' \
		"$results/$arch-panic.log" | head -1)
	if [ "$prc" = 125 ] && [ -n "$pline" ] && ! grep -q 'csdwatch-panic: still alive' "$results/$arch-panic.log"; then
		echo "$arch: ok - panic_ms=1500 panicked the guest: $pline"
		p=$((${p:-0} + 1))
	else
		echo "$arch: not ok - panic_ms=1500 did not panic the guest (verdict $prc); log $results/$arch-panic.log"
		f=$((${f:-0} + 1))
	fi
	echo "$arch: ${p:-0} passed, ${f:-1} failed, ${s:-0} skipped"
	total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-1})); total_s=$((total_s + ${s:-0}))
done
# The whole selftest suite on another kernel of ARCH, as guest run NAME:
# ENV (VAR=value ...) is the environment every script gets, DOCS the
# result documents the run must print.
suite_on() {
	local arch=$1 name=$2 envs=$3 docs=$4 start
	log "$name: building its kernel, csdwatch and csd_inject"
	# shellcheck disable=SC2086
	env $envs bash "$CSDWATCH_TOP/selftests/harness/setup.sh"
	# shellcheck disable=SC2086
	env $envs bash "$CSDWATCH_TOP/selftests/harness/build-kernel.sh" "$arch" >/dev/null
	pl=$results/$name-payload
	# shellcheck disable=SC2086
	env $envs bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$pl" \
		"$CSDWATCH_TOP/selftests/harness/guest/guest-run.sh" "$results/$name-build.log"
	start=$SECONDS
	# shellcheck disable=SC2086
	guest_boot "$results/$name-console.log" env $envs bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" "$arch" "$pl" \
		"$results/$name-console.log" 900
	log "$name: guest ran $((SECONDS - start)) s, verdict $qrc"
	guest_result "$name" "$qrc" "$docs"
	echo "$name: ${p:-0} passed, ${f:-1} failed, ${s:-0} skipped"
	total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-1})); total_s=$((total_s + ${s:-0}))
}
# Rows beyond the primary kernel's (Linux 6.12 LTS; Debian's stock binary
# and DKMS) need a kernel or a Debian root of their own, 10-17 min each to
# prepare on 2 cores: with them a fresh run would not end within the 60
# minutes CI gives it. Such a row runs when what it needs is in the cache
# (CI's own machine keeps it), is prepared too with CSDWATCH_ROWS=all
# (selftests/harness/matrix.sh), and is otherwise skipped with a line that says so.
# row_ready NAME CMD...: CMD tells whether NAME's kernel is prepared.
row_ready() {
	local name=$1
	shift
	if [ "${CSDWATCH_ROWS:-}" = all ] || "$@" >/dev/null 2>&1; then return 0; fi
	echo "$name: skipped - its kernel is not prepared in $CSDWATCH_CACHE (a fresh run leaves it out to end within 60 min); bash selftests/harness/matrix.sh prepares and runs it"
	total_s=$((total_s + 1))
	return 1
}
# kernel_built ENV ARCH: the kernel of ENV (VAR=value ...) and ARCH is built
kernel_built() {
	# shellcheck disable=SC2086
	[ -n "$(env $1 bash "$CSDWATCH_TOP/selftests/harness/kdir.sh" "$2")" ]
}
# the documents of a run without KUnit suites (a kernel without CONFIG_KUNIT,
# or whose kernel crate has no kunit_tests: they are compiled out)
selftests_only=$(printf '%s\n' $expected | grep -v '^kunit-' | tr '\n' ' ')
# The tickless variant (selftests/harness/kconfig/nohz.config, booted nohz_full=1-3):
# the kernel distro RT images resemble (NO_HZ_FULL). x86_64
# (TICKLESS_ARCHES to change; empty to skip).
# It runs csdwatch with hooks=kprobes: the fallback a kernel without the
# csd and ipi tracepoints gets, under the whole suite (the other rows use
# the default, auto: the tracepoints).
for arch in ${TICKLESS_ARCHES-x86_64}; do
	suite_on "$arch" "$arch-nohz" "CSDWATCH_VARIANT=nohz CSDWATCH_HOOKS=kprobes" "$expected"
done
# Linux 6.12 LTS (Debian's linux-source-6.12, the same fragments): the
# kernel users build their own LTS RT kernels from. Its kernel crate has
# no kunit_tests, so the run has the selftests only. x86_64 (LTS_ARCHES
# to change; empty to skip).
for arch in ${LTS_ARCHES-x86_64}; do
	row_ready "$arch-6.12" kernel_built CSDWATCH_KERNEL=6.12 "$arch" || continue
	suite_on "$arch" "$arch-6.12" CSDWATCH_KERNEL=6.12 "$selftests_only"
done
# Debian's stock RT kernel, the exact binary of linux-image-rt-* in
# trixie-backports (selftests/harness/stock-kernel.sh): csdwatch built as README tells
# a Debian 13 user to, loaded into that kernel, the whole selftest suite
# (it has no KUnit: the suites are compiled out). x86_64 and arm64 (built
# on an x86_64 host with Debian's cross compilers, selftests/harness/stock-kernel.sh);
# STOCK_ARCHES to change, empty to skip.
for arch in ${STOCK_ARCHES-x86_64 arm64}; do
	name=$arch-stock
	row_ready "$name$([ "$arch" = x86_64 ] && echo " (and DKMS)")" bash "$CSDWATCH_TOP/selftests/harness/stock-kernel.sh" "$arch" ready || continue
	log "$name: Debian's linux-image-rt kernel, csdwatch built for it"
	start=$SECONDS
	bash "$CSDWATCH_TOP/selftests/harness/stock-kernel.sh" "$arch" >/dev/null
	mods=$results/$name-modules
	bash "$CSDWATCH_TOP/selftests/harness/stock-kernel.sh" "$arch" build "$mods" 2>"$results/$name-build.log" ||
		{ cat "$results/$name-build.log"; echo "$name: not ok - csdwatch build for the stock kernel"; total_f=$((total_f + 1)); continue; }
	log "$name: prepared and built in $((SECONDS - start)) s"
	sdir=$(bash "$CSDWATCH_TOP/selftests/harness/stock-kernel.sh" "$arch")
	pl=$results/$name-payload
	CSDWATCH_PREBUILT=$mods bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$pl" \
		"$CSDWATCH_TOP/selftests/harness/guest/guest-run.sh"
	start=$SECONDS
	# arm64 under TCG runs the suite about 1.5 times slower
	guest_boot "$results/$name-console.log" env CSDWATCH_IMAGE="$sdir/vmlinuz" \
		bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" "$arch" "$pl" "$results/$name-console.log" \
		$([ "$arch" = arm64 ] && echo 1500 || echo 900)
	log "$name: guest ran $((SECONDS - start)) s, verdict $qrc"
	guest_result "$name" "$qrc" "$selftests_only"
	echo "$name: ${p:-0} passed, ${f:-1} failed, ${s:-0} skipped"
	total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-1})); total_s=$((total_s + ${s:-0}))
	# DKMS in the same Debian 13 root: installs for this kernel, skips
	# trixie's own 6.12 rt kernel (no Rust)
	if [ "$arch" = x86_64 ]; then
		set +e
		bash "$CSDWATCH_TOP/selftests/harness/dkms-test.sh" "$arch" > "$results/dkms.log" 2>&1
		set -e
		grep '^dkms: \(not \)\?ok' "$results/dkms.log" || tail -5 "$results/dkms.log"
		total_p=$((total_p + $(grep -c '^dkms: ok' "$results/dkms.log" || true)))
		dk_f=$(grep -c '^dkms: not ok' "$results/dkms.log" || true)
		grep -q '^dkms: [0-9]* passed' "$results/dkms.log" || dk_f=$((dk_f + 1))
		total_f=$((total_f + dk_f))
	fi
done
# Secure Boot: the lockdown variant (selftests/harness/kconfig/lockdown.config: module
# signing, the lockdown LSM), booted with lockdown=integrity
# module.sig_enforce=1; csdwatch and csd_inject signed with that kernel's
# build key, csdwatch also unsigned (selftests/harness/guest/lockdown-guest.sh). x86_64
# (LOCKDOWN_ARCHES to change; empty to skip); a kernel of its own, so
# prepared by selftests/harness/matrix.sh.
for arch in ${LOCKDOWN_ARCHES-x86_64}; do
	name=$arch-lockdown
	row_ready "$name" kernel_built CSDWATCH_VARIANT=lockdown "$arch" || continue
	lk=$(CSDWATCH_VARIANT=lockdown bash "$CSDWATCH_TOP/selftests/harness/build-kernel.sh" "$arch")
	pl=$results/$name-payload
	CSDWATCH_VARIANT=lockdown bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$pl" \
		"$CSDWATCH_TOP/selftests/harness/guest/lockdown-guest.sh" "$results/$name-build.log"
	cp "$pl/csdwatch.ko" "$pl/csdwatch-unsigned.ko"
	for m in csdwatch csd_inject; do
		"$lk/scripts/sign-file" sha256 "$lk/certs/signing_key.pem" "$lk/certs/signing_key.x509" "$pl/$m.ko"
	done
	log "$name: booting with lockdown=integrity module.sig_enforce=1"
	p=0; f=0; s=0
	guest_boot "$results/$name.log" env CSDWATCH_VARIANT=lockdown bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" \
		"$arch" "$pl" "$results/$name.log" 300 "lockdown=integrity module.sig_enforce=1"
	side_result "$name" "$results/$name.log" "$qrc" lockdown-secure_boot
	echo "$name: ${p:-0} passed, ${f:-1} failed, ${s:-0} skipped"
	total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-1})); total_s=$((total_s + ${s:-0}))
done
# host side: the reST documentation parses cleanly (docutils, errors fail)
python3 -c 'import docutils' 2>/dev/null || python3 -m pip install -q docutils >/dev/null 2>&1 || true
for doc in "$CSDWATCH_TOP"/Documentation/*.rst; do
	if python3 - "$doc" <<'PY' 2>"$results/docs.log"
import sys, docutils.core
docutils.core.publish_string(open(sys.argv[1]).read(), writer_name="null",
                             settings_overrides={"report_level": 2, "halt_level": 2})
PY
	then echo "docs: ok - ${doc##*/} parses"; total_p=$((total_p + 1))
	else echo "docs: not ok - ${doc##*/}: $(head -3 "$results/docs.log")"; total_f=$((total_f + 1)); fi
done
# host side: every repository path README.md and Documentation name exists
while read -r line; do
	echo "docs: $line"
	case $line in ok*) total_p=$((total_p + 1)) ;; *) total_f=$((total_f + 1)) ;; esac
done < <(python3 "$CSDWATCH_TOP/selftests/harness/doc_paths.py" "$CSDWATCH_TOP" "$SRC_DIR" || true)
echo "results: $results"
echo "($total_s skipped)"
echo "$total_p passed, $total_f failed"
[ "$total_f" = 0 ]
