#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benchmark, not a test (selftests/harness/bench.sh boots this once per kernel): it
# prints one line per measurement, "bench|P|kernel|watcher|what|round|value",
# and the host makes the table. Which kernel it runs on it reads from the
# command line: csdlock_debug=1 (mainline's CONFIG_CSD_LOCK_WAIT_DEBUG on),
# nohz_full= (the tickless variant), or neither (the default guest kernel,
# where csdwatch is loaded and unloaded in turn); BENCH_KERNEL=stock says
# it is Debian's stock kernel (P2 only, as on the default kernel).
#   P1  lost-IPI recovery: the injector's sender stall, ms
#   P2  cost per cross-call: ns per call (csd_bench single / many) and per
#       loop of a TLB-shootdown program (tlbstorm)
#   P3  timer interrupts (LOC) on an idle and on a nohz_full busy CPU
#   P4  time from an IRQs-off fault's start to the first line naming it, ms
#   P5  cost of one watchdog tick with one wait in flight, ns (icount:
#       guest instructions), per hooks mode; round = the vCPU count
. /payload/selftests/csdwatch/lib.sh
B=/sys/kernel/debug/csd_bench
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-2000}
echo 1 > /proc/sys/kernel/printk
# the hang detectors are measured here (P4), not allowed to end the guest
echo 0 > /proc/sys/kernel/softlockup_panic
echo 0 > /proc/sys/kernel/panic_on_rcu_stall
taskset -p -c 0 $$ >/dev/null	# the measuring shell stays off CPUs 1-3

case " $(cat /proc/cmdline) " in
*" csdlock_debug=1 "*) K=mainline ;;
*" nohz_full="*) K=nohz ;;
*) K=default ;;
esac
# Debian's stock kernel (selftests/harness/bench.sh says so): P2 only
[ "${BENCH_KERNEL:-}" = stock ] && K=stock
out() { echo "bench|$*"; }
bval() { sed -n "s/^$1=//p" $B/result; }
on() { insmod /payload/csdwatch.ko || exit 1; }
off() { rmmod csdwatch || exit 1; }
insmod /payload/csd_inject.ko || exit 1
insmod /payload/csd_bench.ko || exit 1
echo 0 > $B/sender; echo 1 > $B/target

# P2: one round of the three loads, watcher $1, round $2 (0: warm-up)
p2() {
	echo $DUR > $B/duration_ms
	for m in single many; do
		echo $m > $B/run || exit 1
		[ "$2" = 0 ] || out "P2|$K|$1|$m|$2|$(bval ns_per_call)"
	done
	# 2 CPUs: 2 busy vCPUs on the host's 2 cores (with 4, every IPI waits
	# for the host to schedule a vCPU thread: ~12 ms per loop, all noise)
	t=$(/payload/tlbstorm $DUR 2 | sed -n 's/.*ns_per_loop=//p')
	[ "$2" = 0 ] || out "P2|$K|$1|tlb|$2|$t"
}

# P1: scenario $2 (lost IPI, 1 sender, 8 s: past mainline's 5 s), watcher $1
p1() {
	run "$2" 1 8000 || exit 1
	out "P1|$K|$1|$2|$3|$(val sender0_stall_ms)"
}

# P4: an IRQs-off target for $1 ms; the first kernel line after the start
# marker that matches $2, in ms after the marker (-1: none; -2: the
# injector failed)
p4() {
	echo "bench-guest: P4 start" > /dev/kmsg
	run irqs_off 1 "$1" || { echo "bench-guest: irqs_off failed: $(tr '\n' ' ' < $D/result)" >&2
		echo -2; return; }
	dmesg | awk -v pat="$2" '
		{ t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t) }
		/bench-guest: P4 start/ { t0 = t; found = 0; next }
		t0 != "" && !found && $0 ~ pat { ms = (t - t0) * 1000; found = 1 }
		END { printf "%d\n", found ? ms : -1 }'
}

# P3: LOC interrupts on CPUs 0 (the sparse calls' sender), 2 and 3 over
# $2 s, watcher $1, load $3
loc() { awk -v c="$1" '$1 == "LOC:" { print $(c + 2) }' /proc/interrupts; }
p3() {
	a0=$(loc 0); a2=$(loc 2); a3=$(loc 3); calls=0
	case $3 in
	none) sleep "$2" ;;
	sparse*) echo "${3#sparse}" > $B/target; echo $(($2 * 1000)) > $B/duration_ms
		 echo 100 > $B/period_ms; echo sparse > $B/run || exit 1; calls=$(bval calls) ;;
	esac
	out "P3|$K|$1|$3|$4|cpu0=$(($(loc 0) - a0)) cpu2=$(($(loc 2) - a2)) cpu3=$(($(loc 3) - a3)) s=$2 calls=$calls"
}

# the default kernel: nothing watching, csdwatch (its default hooks:
# the kernel's tracepoints where it has them), csdwatch hooks=kprobes
# (watcher csdwatch-kprobes) and hooks=pushes (csdwatch-pushes), in
# rotating order: drift falls on all sides
default_p2() {
	p2 none 0
	ws="none csdwatch csdwatch-kprobes csdwatch-pushes"
	r=1
	while [ $r -le "$ROUNDS" ]; do
		for w in $ws; do
			case $w in
			none) p2 none $r ;;
			csdwatch) on; p2 csdwatch $r; off ;;
			csdwatch-kprobes) insmod /payload/csdwatch.ko hooks=kprobes || exit 1
				p2 $w $r; off ;;
			csdwatch-pushes) insmod /payload/csdwatch.ko hooks=pushes || exit 1
				p2 $w $r; off ;;
			esac
		done
		ws="${ws#* } ${ws%% *}"
		r=$((r + 1))
	done
}
default_p1() {
	for r in 1 2; do p1 none lost_ipi $r; done
	on; for r in 1 2 3; do p1 csdwatch lost_ipi $r; done; off
	insmod /payload/csdwatch.ko resend_ms=10 || exit 1
	for r in 1 2 3; do p1 csdwatch_resend10 lost_ipi $r; done; off
	p1 none lost_ipi_rcu 1
	on; for r in 1 2; do p1 csdwatch lost_ipi_rcu $r; done; off
}
# csdwatch's reports are rate-limited (5 per 10 s): each run waits out
# the window, or a later run's first report would be held back
p4_csdwatch() {
	for r in 1 2 3; do
		sleep 11
		out "P4|$K|$1|report|$r|$(p4 3000 'csdwatch: CPU [0-9]+ stalled .*for CPU 1: target IRQs off')"
	done
}
default_p4() {
	on; p4_csdwatch csdwatch; off
	insmod /payload/csdwatch.ko report_ms=500 || exit 1
	p4_csdwatch csdwatch_report500; off
	# the kernel's own detectors, nothing else watching: 30 s of IRQs off
	# each, one detector at a time (an RCU stall report touches the
	# soft-lockup watchdogs, which then never fire within the fault)
	R=/sys/module/rcupdate/parameters/rcu_cpu_stall_suppress
	echo 1 > $R
	out "P4|$K|softlockup|report|1|$(p4 30000 'soft lockup - CPU')"
	echo 0 > $R; echo 0 > /proc/sys/kernel/soft_watchdog
	out "P4|$K|rcu_stall|report|1|$(p4 30000 'detected stalls on CPUs')"
	echo 1 > /proc/sys/kernel/soft_watchdog
}

# P5 (ONLY=tick): the cost of one watchdog tick, stats/tick_ns over
# stats/watchdog_ticks, with one wait in flight: CPU 0 waits for 2 s on
# CPU 1, whose IRQs are off, in each hooks mode. No report, no resend: the
# looking alone. Round: the number of vCPUs (bench.sh boots once per
# TICK_SMP value), to see whether a tick's cost grows with nr_cpu_ids.
default_tick() {
	n=$(grep -c ^processor /proc/cpuinfo)
	echo "bench-guest: tick: $n CPUs, possible $(cat /sys/devices/system/cpu/possible)"
	for mode in tracepoints kprobes pushes; do
		insmod /payload/csdwatch.ko hooks=$mode report_ms=0 resend_ms=0 || exit 1
		t0=$(cat $S/watchdog_ticks); n0=$(cat $S/tick_ns)
		ok=1
		run irqs_off 1 2000 || { ok=0; echo "bench-guest: irqs_off failed: $(tr '\n' ' ' < $D/result)" >&2; }
		t=$(($(cat $S/watchdog_ticks) - t0)); ns=$(($(cat $S/tick_ns) - n0))
		off
		# -1: no tick; -2: the injector failed
		v=-2; [ $ok = 1 ] && { v=-1; [ $t -gt 0 ] && v=$((ns / t)); }
		out "P5|$K|csdwatch-$mode|tick|$n|$v"
		out "P5|$K|csdwatch-$mode|ticks|$n|$t"
	done
}

# the cost breakdown (selftests/harness/bench.sh BREAKDOWN=1): P2 with nothing,
# csdwatch, and each /payload/csdwatch-VARIANT.ko, in rotating order
default_breakdown() {
	ws="none csdwatch"
	for f in /payload/csdwatch-*.ko; do w=${f##*/}; ws="$ws ${w%.ko}"; done
	p2 none 0
	r=1
	while [ $r -le "$ROUNDS" ]; do
		for w in $ws; do
			case $w in
			none) p2 none $r ;;
			*) insmod /payload/$w.ko || exit 1; p2 $w $r; off ;;
			esac
		done
		ws="${ws#* } ${ws%% *}"	# rotate: each goes first once in a while
		r=$((r + 1))
	done
}

# mainline's csdlock_debug=1 kernel
mainline_p2() {
	p2 mainline 0
	r=1
	while [ $r -le "$ROUNDS" ]; do p2 mainline $r; r=$((r + 1)); done
}
mainline_p1p4() {
	for r in 1 2; do p1 mainline lost_ipi $r; done
	p1 mainline lost_ipi_rcu 1
	for r in 1 2; do
		out "P4|$K|mainline|report|$r|$(p4 8000 'csd: Detected non-responsive CSD lock')"
	done
}

case $K in
stock) default_p2 ;;
default)
	# ONLY=p2, p1p4, breakdown or tick: that part alone
	case ${ONLY:-all} in
	all) default_p2; default_p1; default_p4 ;;
	p1p4) default_p1; default_p4 ;;
	*) default_$ONLY ;;
	esac
	;;
mainline)
	case ${ONLY:-all} in
	all) mainline_p2; mainline_p1p4 ;;
	*) mainline_$ONLY ;;
	esac
	;;
nohz)
	# CPU 3: a user-space busy loop (nohz_full: its tick stops); CPU 2 idle
	taskset -c 3 sh -c 'while :; do :; done' &
	busy=$!
	sleep 2
	for r in 1 2; do
		for w in none csdwatch csdwatch-pushes; do
			case $w in
			csdwatch) on && stats_mark ;;
			csdwatch-pushes) insmod /payload/csdwatch.ko hooks=pushes && stats_mark ;;
			esac
			p3 $w 10 none $r
			p3 $w 10 sparse2 $r
			p3 $w 10 sparse3 $r
			[ $w = none ] || { out "P3|$K|$w|watchdog_ticks|$r|$(delta watchdog_ticks)"; off; }
		done
	done
	kill $busy
	;;
esac
dmesg | grep -E "csd: |csd_inject|soft lockup|detected stalls|csdwatch: " | head -40 | sed 's/^/bench-guest dmesg: /'
rmmod csd_bench
rmmod csd_inject
echo "bench-guest: done"
