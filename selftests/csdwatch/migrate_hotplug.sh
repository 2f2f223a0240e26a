#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A waiter that migrates while it waits, and whose watching CPU goes
# offline mid-stall: the injector's lost_ipi_migrate starts one waiter on
# CPU 3 and then lets it run anywhere but the target; this test takes CPU 3
# offline while it waits. csdwatch (resend off, reports at 500, 1000 and
# 2000 ms) must keep the wait, tracked by task and csd, hand it to another
# CPU's watchdog, report it from there and say when it ended. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
CPU3=/sys/devices/system/cpu/cpu3/online

ktap_print_header
case $(uname -r) in 6.12.*)
	# 6.12's smp_call_function_single() waits before put_cpu(): the
	# waiter spins with preemption off and can not migrate
	ktap_set_plan 1
	ktap_test_skip "Linux 6.12: a waiter spins with preemption off and can not migrate"
	ktap_finished ;;
esac
ktap_set_plan 6
[ "$(grep -c ^processor /proc/cpuinfo)" -ge 4 ] || ktap_exit_fail_msg "needs 4 CPUs"
dmesg_mark; M0=$MARK	# this test's warnings are those after here
load_both resend_ms=0 report_ms=500 || ktap_exit_fail_msg "insmod failed"
echo 1 > $D/target; echo 2500 > $D/duration_ms
# The stale csd on CPU 1 swallows every csd queued behind it, so a hotplug
# step that happens to need CPU 1 (a cross-call or queued wakeup) waits for
# the fault too, and CPU 3 then goes offline only after the waiter was
# released. That run proves nothing: try again, up to 3 times, then skip.
try=0
while :; do
	try=$((try + 1))
	dmesg_mark
	(echo lost_ipi_migrate > $D/run) & bg=$!
	sleep 0.4			# the waiter spins on CPU 3 by now
	echo 0 > $CPU3; off=$?
	echo "csdwatch-selftest: CPU 3 offline" > /dev/kmsg
	# the fault (and the run) must still be going when CPU 3 is gone
	kill -0 $bg 2>/dev/null; midfault=$?
	wait $bg; rc=$?
	echo "csdwatch-selftest: CPU 3 back" > /dev/kmsg
	echo 1 > $CPU3
	new=$(dmesg_new)
	# the premise: the waiter called on CPU 3, CPU 3 went offline while
	# it waited, and the fault stood until its end. A loaded host can
	# delay the call past the 0.4 s, and hotplug then moves the waiter
	# first; the fault can be over before CPU 3 is; and the kernel itself
	# can flush CPU 1 meanwhile (seen in 3 of 6 unloaded tickless runs,
	# before this change too, always as CPU 3 went offline; a stopper's
	# migration_cpu_stop() on CPU 1, for one, flushes its call queue).
	# Resends are off, so a release before the end with none sent is not
	# csdwatch's.
	late=
	[ "$(val sender0_released_after_fault_end)" = 1 ] || [ "$(cat $S/ipis_resent)" != 0 ] ||
		late="the kernel flushed CPU 1 itself after $(val sender0_stall_ms) ms, before the fault's end"
	[ "$(val sender0_call_cpu)" = 3 ] || late="the waiter called on CPU $(val sender0_call_cpu), after CPU 3 went offline"
	[ "$(val sender0_end_cpu)" = 3 ] || [ $midfault != 0 ] && late="CPU 3 went offline only after the fault ended"
	[ -z "$late" ] || [ $try -ge 3 ] && break
	ktap_print_msg "try $try: $late; again in 10 s"
	# the reports' rate limit (5 per 10 s) must have room for the next
	# try's 3 reports and its end: a third try right after two lost them all
	sleep 10
done
splat=$(echo "$new" | grep -A1 'stalled [0-9]* ms in csd_lock_wait() for CPU 1: lost IPI' | grep 'owner:' | tail -1)
# the reports printed while CPU 3 was offline, so by another CPU's watchdog
# (the kernel log's order is the order of printing; a caller field, on
# kernels with CONFIG_PRINTK_CALLER, must not name CPU 3 either). From the
# kernel's own line for the dead CPU (x86: "smpboot: CPU 3 is now offline",
# arm64 with PSCI: "psci: CPU3 killed"), or this test's marker, written once the
# offline write returned: on the KASAN kernel that returned 1.1 s after
# the CPU was dead, and the 2000 ms report came in between. The waiter,
# moved off the dead CPU, may not have run again yet: "preempted" (the
# KASAN kernel, 500 ms after CPU 3 was dead); the report is still printed
# by another CPU's watchdog, which is what this checks.
offline_splat=$(echo "$new" |
	sed -n -E '/CPU 3 is now offline|psci: CPU3 killed|csdwatch-selftest: CPU 3 offline/,/csdwatch-selftest: CPU 3 back/p' |
	grep -E 'csdwatch:   owner: .*queued on CPU 3, (spinning on CPU [012]|preempted)' | grep -v '\[ *C3\]')
ktap_print_msg "waiter began on CPU $(val sender0_cpu), released on CPU $(val sender0_end_cpu) after $(val sender0_stall_ms) ms"
ktap_print_msg "report: ${splat#*\] }"
check "lost_ipi_migrate ran, CPU 3 went offline and back" eval '[ $rc = 0 ] && [ $off = 0 ] && [ "$(val err)" = 0 ]'
if [ -n "$late" ]; then
	for t in "the waiter migrated off CPU 3 while it waited" "its wait, queued on CPU 3, was still reported" "and its end told"; do
		ktap_test_skip "$t ($late, $try tries)"
	done
else
	check "the waiter migrated off CPU 3 while it waited" eval \
		'[ "$(val sender0_cpu)" = 3 ] && [ "$(val sender0_stall_ms)" -ge 2400 ]'
	check "its wait, queued on CPU 3, was still reported from another CPU" eval '[ -n "$offline_splat" ]'
	check "and its end told" eval 'echo "$new" | grep -q "CPU 3 -> CPU 1 stall ended after [0-9]* ms: waiter released (lost IPI"'
fi
check "each function ran once, no kernel warning" eval \
	'all_ran_once && [ "$(val stale_ran)" = 1 ] && ! { MARK=$M0; klog_new; } | grep -q -E "WARNING:|BUG:|Oops"'
[ -n "$DIAG" ] && diagnose
check "unload, nothing in flight" eval 'settled && unload_both'
ktap_finished
