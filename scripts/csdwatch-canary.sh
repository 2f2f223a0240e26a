#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# csdwatch's canary check: run as root on a canary host after installing
# csdwatch, on its running kernel (not in QEMU). It
#   - builds the fault injector (selftests/csd_inject) for the running
#     kernel (its headers: /lib/modules/$(uname -r)/build), or takes a
#     built one (--injector);
#   - loads csdwatch if it is not loaded (modprobe, or --ko PATH);
#   - injects one lost IPI behind a waiting call (smp_call_function_single,
#     wait=1) and one behind synchronize_rcu_expedited() (its calls go out
#     with wait=0: nobody spins on them), on CPU 1;
#   - checks that csdwatch rescued both: each released long before the
#     injector's own deadline, by csdwatch's resend (stats/ipis_resent);
#   - prints PASS or FAIL with the times, and unloads what it loaded.
# A fault stays at most DURATION ms (default 3000): the injector ends it
# itself then, so the host never hangs, with or without csdwatch.
#   csdwatch-canary.sh [--ko csdwatch.ko] [--injector csd_inject.ko]
#                      [--duration MS] [--control]
# --control runs the same faults without csdwatch (unloading it if it was
# loaded, and loading it back after): it must print FAIL, which shows
# the check can see a host that would hang. POSIX sh (busybox too).
# Exit: 0 PASS, 1 FAIL, 2 could not run.
set -u
KO=; INJ=; DUR=3000; CONTROL=0
while [ $# -gt 0 ]; do
	case $1 in
	--ko) KO=$2; shift ;;
	--injector) INJ=$2; shift ;;
	--duration) DUR=$2; shift ;;
	--control) CONTROL=1 ;;
	*) echo "usage: $0 [--ko csdwatch.ko] [--injector csd_inject.ko] [--duration MS] [--control]" >&2; exit 2 ;;
	esac
	shift
done
say() { echo "csdwatch-canary: $*"; }
die() { say "cannot run: $*"; exit 2; }
case $DUR in ''|*[!0-9]*) die "--duration $DUR: not a number of ms" ;; esac
[ "$DUR" -ge 1000 ] || die "--duration $DUR: at least 1000 ms (csdwatch's resend needs resend_ms plus two ticks)"
[ "$(id -u)" = 0 ] || die "run it as root"
[ "$(grep -c ^processor /proc/cpuinfo)" -ge 2 ] || die "needs 2 CPUs or more"
grep -q '^1$' /sys/devices/system/cpu/cpu1/online 2>/dev/null ||
	[ ! -e /sys/devices/system/cpu/cpu1/online ] || die "CPU 1 is offline"
D=/sys/kernel/debug/csd_inject
S=/sys/module/csdwatch/stats
[ -d /sys/kernel/debug/tracing ] || [ -n "$(ls /sys/kernel/debug 2>/dev/null)" ] ||
	mount -t debugfs none /sys/kernel/debug 2>/dev/null
TOP=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d) || die "mktemp"
loaded=; unloaded=
cleanup() {
	grep -q '^csd_inject ' /proc/modules && [ -n "$INJ_LOADED" ] && rmmod csd_inject
	[ -z "$loaded" ] || rmmod csdwatch
	[ -z "$unloaded" ] || load_csdwatch >/dev/null 2>&1 || say "could not load csdwatch back after --control"
	rm -rf "$tmp"
}
INJ_LOADED=
trap cleanup EXIT
trap 'exit 2' INT TERM

load_csdwatch() {
	if [ -n "$KO" ]; then insmod "$KO"; else modprobe csdwatch; fi
}

# the injector: given, or built for the running kernel
if [ -z "$INJ" ]; then
	kb=/lib/modules/$(uname -r)/build
	[ -d "$kb" ] || die "no kernel headers for $(uname -r) ($kb): install them (Debian: linux-headers-$(uname -r)) or give --injector"
	[ -d "$TOP/selftests/csd_inject" ] || die "no selftests/csd_inject beside this script: give --injector"
	cp "$TOP/selftests/csd_inject/"* "$tmp/"
	say "building the fault injector for $(uname -r)"
	make -C "$kb" M="$tmp" modules >"$tmp/build.log" 2>&1 ||
		{ tail -20 "$tmp/build.log"; die "the injector did not build"; }
	INJ=$tmp/csd_inject.ko
fi
[ -f "$INJ" ] || die "no injector at $INJ"
grep -q '^csd_inject ' /proc/modules && die "csd_inject is already loaded: something else is testing this host"

if grep -q '^csdwatch ' /proc/modules; then
	if [ $CONTROL = 1 ]; then
		rmmod csdwatch || die "--control: csdwatch is in use and cannot be unloaded"
		unloaded=1
	fi
elif [ $CONTROL = 0 ]; then
	load_csdwatch || die "csdwatch is not loaded and could not be loaded ($( [ -n "$KO" ] && echo "insmod $KO" || echo "modprobe csdwatch"))"
	loaded=1
fi
insmod "$INJ" || die "insmod $INJ failed"
INJ_LOADED=1
watching=0
grep -q '^csdwatch ' /proc/modules && watching=1
say "kernel $(uname -r), csdwatch $( [ $watching = 1 ] && echo "loaded (hooks: $(cat /sys/module/csdwatch/parameters/hooks 2>/dev/null), resend_ms $(cat /sys/module/csdwatch/parameters/resend_ms 2>/dev/null))" || echo "NOT loaded")"

val() { sed -n "s/^$1=//p" $D/result; }
resent() { [ $watching = 1 ] && cat $S/ipis_resent || echo 0; }

# one fault: SCENARIO LABEL; prints its line, returns 0 if rescued.
# A run that tested nothing is run again, at most twice, saying why (the
# injector's word, not csdwatch's): the fault did not stand (something
# flushed CPU 1 before the call: sender0_fault_at_call=0), or the kernel
# itself ran the planted call before the deadline with nothing resent
# (stale_ran_after_fault_end=0: a task on CPU 1 that flushed its queue).
fault() {
	n=0
	while :; do
		r0=$(resent)
		echo 1 > $D/senders && echo "$DUR" > $D/duration_ms && echo 1 > $D/target &&
			echo "$1" > $D/run || { say "$2: the injector refused the run (err $(val err))"; return 1; }
		[ "$(val err)" = 0 ] || { say "$2: the injector failed (err $(val err))"; return 1; }
		by=$(( $(resent) - r0 ))
		if [ "$(val sender0_fault_at_call)" != 1 ]; then
			why="the fault was gone before the call"
		elif [ "$by" = 0 ] && [ "$(val stale_ran_after_fault_end)" = 0 ]; then
			why="the kernel ran the planted call itself ($(val stale_ran_by), at $(val stale_ran_ms) ms)"
		else
			break
		fi
		n=$((n + 1))
		say "$2: $why: that run tested nothing; again"
		[ $n -lt 3 ] || { say "$2: no run in 3 tested the fault"; return 1; }
	done
	ms=$(val sender0_stall_ms); late=$(val sender0_released_after_fault_end)
	extra=
	[ "$1" = lost_ipi_rcu ] && extra=", grace period expedited: $(val expedited)"
	if [ "$late" = 0 ] && [ "$by" -ge 1 ] && { [ "$1" != lost_ipi_rcu ] || [ "$(val expedited)" = 1 ]; }; then
		say "$2: rescued after $ms ms (fault held up to $DUR ms; csdwatch resent $by IPI(s)$extra)"
		return 0
	fi
	say "$2: NOT rescued: released after $ms ms by $(val ended_by) (fault held up to $DUR ms; IPIs resent: $by$extra)"
	return 1
}

ok=0
fault lost_ipi "lost IPI behind smp_call_function_single(wait=1)" || ok=1
fault lost_ipi_rcu "lost IPI behind synchronize_rcu_expedited()" || ok=1
if [ $ok = 0 ]; then say "PASS"; else say "FAIL"; fi
exit $ok
