#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Helpers for the csdwatch selftests (sourced in the guest, after the
# kernel's ktap_helpers.sh). Counters are compared as deltas over a test;
# kernel messages are read from the dmesg lines added since a mark.
D=/sys/kernel/debug/csd_inject
S=/sys/module/csdwatch/stats
P=/sys/module/csdwatch/parameters

val() { sed -n "s/^$1=//p" $D/result; }

# The hooks this guest's row loads csdwatch with (/payload/hooks, written
# by selftests/harness/payload.sh from CSDWATCH_HOOKS; none: the module's default,
# auto): every insmod of csdwatch.ko by a test gets hooks=MODE first, and a
# test's own hooks= comes after it and wins. A function, not a wrapper in
# PATH: busybox sh runs its own applets before it looks at PATH.
insmod() {
	case $1 in
	*/csdwatch.ko)
		if [ -s /payload/hooks ]; then
			_ko=$1; shift
			command insmod "$_ko" "hooks=$(cat /payload/hooks)" "$@"
			return
		fi ;;
	esac
	command insmod "$@"
}

# (re)load both modules; arguments go to csdwatch
load_both() {
	grep -q '^csd_inject ' /proc/modules && rmmod csd_inject
	grep -q '^csdwatch ' /proc/modules && rmmod csdwatch
	insmod /payload/csdwatch.ko "$@" && insmod /payload/csd_inject.ko
}

unload_both() { rmmod csd_inject && rmmod csdwatch; }

# no wait in flight: in_flight is a gauge, and the kernel's own cross-calls
# can be in flight at any instant, so wait up to 1 s for it to read 0
settled() {
	n=0
	while [ "$(cat $S/in_flight)" != 0 ]; do
		n=$((n + 1)); [ $n -gt 20 ] && return 1; sleep 0.05
	done
}

# remember every counter; `delta NAME` is its growth since
stats_mark() { for f in $S/*; do eval "S0_${f##*/}=$(cat "$f")"; done; }
delta() { eval "echo \$(( \$(cat $S/$1) - S0_$1 ))"; }

# resends by the waits' watchdogs since the mark (ipis_resent counts the
# queue side's too). Read in this order: the module counts a queue-side
# resend in queue_resends first, so a resend racing the reads can only
# make this smaller, never turn a queue-side resend into a wait's.
wait_resends() { a=$(delta ipis_resent); echo $((a - $(delta queue_resends))); }

# by timestamp, not line count: the ring buffer may wrap between the two
dmesg_mark() { MARK=$(dmesg | tail -1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'); }
dmesg_new() { dmesg | awk -v m="${MARK:-0}" '{ t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t); if (t + 0 > m + 0) print }'; }

# check "description" command...: pass if the command succeeds
check() {
	desc=$1; shift
	if "$@"; then ktap_test_pass "$desc"; else ktap_test_fail "$desc"; DIAG=1; fi
}

# run one injector scenario: run SCENARIO SENDERS DURATION_MS
run() {
	echo "$2" > $D/senders && echo "$3" > $D/duration_ms && echo 1 > $D/target \
		&& echo "$1" > $D/run && [ "$(val err)" = 0 ]
}

# Run a lost-IPI scenario with one sender: run_standing LABEL SCENARIO
# TARGET DURATION_MS. Now and then (1 of ~10 runs, loaded host) something
# flushes the target between the plant and the call
# (sender0_fault_at_call=0): that run tested nothing, so it is run again,
# at most twice; likewise when $STANDING (a command, if set) fails. A
# control run (csdwatch not loaded) must also have held the fault to its
# end: now and then the kernel flushes the target's queue itself before
# the deadline (stale_ran_by names who: the stopper's migration_cpu_stop()
# when a task on the target execs and is moved, for one), and a run
# released by that shows nothing either. $BEFORE_RUN (a command, if set)
# runs before each run.
# A lost-IPI control run (csdwatch not loaded) whose stale csd the kernel
# itself ran before the deadline: prints why and succeeds, else fails.
flushed_by_kernel() {
	! grep -q "^csdwatch " /proc/modules && [ "$(val stale_ran_after_fault_end)" != 1 ] &&
		echo "the kernel flushed the target itself before the deadline (stale csd ran at $(val stale_ran_ms) ms, by $(val stale_ran_by))"
}

run_standing() {
	_rs_n=0
	while :; do
		[ -z "$BEFORE_RUN" ] || eval "$BEFORE_RUN"
		echo 1 > $D/senders && echo "$4" > $D/duration_ms && echo "$3" > $D/target &&
			echo "$2" > $D/run && [ "$(val err)" = 0 ] ||
			{ ktap_print_msg "$1: run failed, err=$(val err)"; return 1; }
		if [ "$(val sender0_fault_at_call)" != 1 ]; then
			_rs_why="the fault was gone before the call"
		elif [ -n "$STANDING" ] && ! eval "$STANDING"; then
			_rs_why="the fault did not stand ($STANDING)"
		elif _rs_why=$(flushed_by_kernel); then
			:
		else
			break
		fi
		_rs_n=$((_rs_n + 1))
		ktap_print_msg "$1: $_rs_why (run $_rs_n); again"
		[ $_rs_n -lt 3 ] || return 1
	done
}

# "cpu0=27ms cpu2=28ms" from the last run
stalls() {
	i=0; out=""
	while [ $i -lt "$(val senders)" ]; do
		out="$out cpu$(val sender${i}_cpu)=$(val sender${i}_stall_ms)ms"; i=$((i + 1))
	done
	echo "$out"
}

# every sender: stall below $1 ms (lt) or at least $1 ms (ge)
all_stalls() {
	i=0
	while [ $i -lt "$(val senders)" ]; do
		[ "$(val sender${i}_stall_ms)" -"$1" "$2" ] || return 1; i=$((i + 1))
	done
}

# every sender's function ran exactly once (from sender $1 on)
all_ran_once() {
	i=${1:-0}
	while [ $i -lt "$(val senders)" ]; do
		[ "$(val sender${i}_ran)" = 1 ] || return 1; i=$((i + 1))
	done
}

# on a failed check: what csdwatch saw, for the log
diagnose() {
	ktap_print_msg "diagnosis: $(for f in $S/*; do printf '%s=%s ' "${f##*/}" "$(cat "$f")"; done)"
	[ -r $D/result ] && ktap_print_msg "diagnosis: injector: $(tr '\n' ' ' < $D/result)"
	ktap_print_msg "diagnosis: probes: $(grep -c csdwatch /sys/kernel/debug/kprobes/list 2>/dev/null) registered, $(grep -v OPTIMIZED /sys/kernel/debug/kprobes/list 2>/dev/null | grep -c -E 'GONE|DISABLED') gone or disabled"
	dmesg | tail -20 | sed 's/^/# dmesg: /'
}

# after a load run: every sender made calls, each single call's function
# ran exactly once, and no CPU ran an on_each_cpu() function twice
load_exact() {
	i=0
	while [ $i -lt "$(val senders)" ]; do
		c=$(val sender${i}_single_calls)
		[ "${c:-0}" -gt 0 ] && [ "$c" = "$(val sender${i}_single_ran)" ] &&
			[ "$(val sender${i}_many_dups)" = 0 ] || return 1
		i=$((i + 1))
	done
}

# The kernel log (klog) or its lines since the mark (klog_new) without the
# one warning the kernel's own kretprobe core prints on a lockdep
# (PROVE_RCU) kernel when a CPU going offline calls a kretprobed function:
# cpuhp_report_idle_dead() calls smp_call_function_single() after RCU
# stopped watching the CPU, and rethook_try_get() reads its handler with
# rcu_dereference_check() before it checks rcu_is_watching(). A bare no-op
# kretprobe on __smp_call_function_single prints the same; csdwatch's
# handler is never reached (Documentation/csdwatch.rst, "Known kernel
# issues"). Only that exact warning is left out: its "WARNING:" line when
# the next lines name kernel/trace/rethook.c and an offline CPU. Also the
# WARNING selftest kprobe_neighbour_control provokes on purpose
# (the kprobes-on-ftrace disarm bug), when the line before names that
# test module's own function, nb_site.
known_ok() {
	awk '{ l[NR] = $0 }
	END {
		for (i = 1; i <= NR; i++) {
			# selftest kprobe_neighbour_control: the kernel bug it
			# shows, on a function of that test module only (nb_site)
			if (l[i] ~ /WARNING: .*disarm_kprobe_ftrace/ && i > 1 &&
			    l[i - 1] ~ /Failed to disarm kprobe-ftrace at nb_site/) {
				print "[known: kprobe_neighbour_control] kprobes-on-ftrace disarm bug at nb_site"; continue
			}
			if (l[i] ~ /WARNING: suspicious RCU usage/) {
				r = 0; o = 0
				for (j = i + 1; j <= i + 8 && j <= NR; j++) {
					if (l[j] ~ /kernel\/trace\/rethook\.c:[0-9]+ suspicious rcu_dereference_check/) r = 1
					if (l[j] ~ /RCU used illegally from offline CPU/) o = 1
				}
				if (r && o) { print "[known kernel issue] rethook: RCU used from an offline CPU"; continue }
			}
			print l[i]
		}
	}'
}
klog() { dmesg | known_ok; }
klog_new() { dmesg_new | known_ok; }

# kernel messages since the mark that say something went wrong (lockdep,
# KASAN, kmemleak and the sleep-in-atomic check print through these)
bad_dmesg() {
	klog_new | grep -E "WARNING:|BUG:|Oops|INFO: possible|INFO: trying|circular locking|KASAN|kmemleak|sleeping function called|in csd_lock_wait\(\) for CPU"
}

# kmemleak, if the kernel has it: forget what it found so far
kmemleak_mark() { [ -w /sys/kernel/debug/kmemleak ] && echo clear > /sys/kernel/debug/kmemleak; }
# unreferenced objects found since the mark (two scans: kmemleak reports an
# object only once it stayed unreferenced across scans)
kmemleak_new() {
	echo scan > /sys/kernel/debug/kmemleak; sleep 2; echo scan > /sys/kernel/debug/kmemleak
	grep -c '^unreferenced object' /sys/kernel/debug/kmemleak
}
