#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# hooks=pushes: the one hook is the csd_queue_cpu event, and the watchdog
# reads the queues at its tick (rust/push_watch.rs). It must still rescue a
# lost IPI behind waited calls, behind calls nobody waits for and behind an
# expedited grace period, report a target with IRQs off with its stack, and
# refuse the load when its one hook is blind. Control first: the unwaited
# call's work runs only at the injector's deadline without csdwatch. KTAP.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
KO=/payload/csdwatch.ko
KP=/sys/kernel/debug/kprobes/list
DUR=3000

ktap_print_header
grep -q "^csd_inject " /proc/modules && rmmod csd_inject
grep -q "^csdwatch " /proc/modules && rmmod csdwatch
# Without the event (the kernel's word: tracefs) the mode cannot load: the
# refusal, naming the missing event, is then the whole test.
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null
if [ ! -d $T/events/csd/csd_queue_cpu ]; then
	ktap_set_plan 1
	ktap_print_msg "tracefs: this kernel has no csd:csd_queue_cpu event"
	dmesg_mark
	if command insmod $KO hooks=pushes 2>/dev/null; then
		rmmod csdwatch; ktap_test_fail "hooks=pushes refused without the event"
	else
		check "hooks=pushes refused without the events, naming one" eval \
			'dmesg_new | grep -q "hooks=pushes: this kernel has no "'
	fi
	ktap_finished
fi
ktap_set_plan 10

# the work of one unwaited scenario: its delay is sender0_stall_ms
one() {
	run_standing "$1 $2" "$1" 1 $DUR || return 1
	ktap_print_msg "$1 $2: work ran after $(val sender0_stall_ms) ms (fault ${DUR} ms, ended_by $(val ended_by))"
	[ "$(val sender0_ran)" = 1 ] && [ "$(val stale_ran)" = 1 ] ||
		{ ktap_print_msg "$1: work ran $(val sender0_ran) times, stale csd $(val stale_ran)"; return 1; }
	[ "$1" != lost_ipi_rcu ] || [ "$(val expedited)" = 1 ] ||
		{ ktap_print_msg "$1: the grace period was not expedited"; return 1; }
}

insmod /payload/csd_inject.ko || ktap_exit_fail_msg "insmod csd_inject.ko failed"
STANDING='[ "$(val sender0_released_after_fault_end)" = 1 ]'
check "control, lost_ipi_async without csdwatch: the work runs only at the deadline" eval \
	'one lost_ipi_async "without csdwatch"'
STANDING=
rmmod csd_inject

kp0=$(wc -l < $KP 2>/dev/null)
dmesg_mark
load_both hooks=pushes || ktap_exit_fail_msg "insmod hooks=pushes failed"
line=$(dmesg_new | grep -m1 'csdwatch: loaded:')
ktap_print_msg "${line#*\] }"
check "loads: hooks shows pushes, the load line says its hook saw the load's calls" eval \
	'[ "$(cat $P/hooks)" = pushes ] && echo "$line" | grep -q "hooks: pushes, each saw a cross call at load"'
kp1=$(wc -l < $KP 2>/dev/null)
ktap_print_msg "kprobes registered: ${kp0:-?} before the load, ${kp1:-?} with csdwatch"
check "no kprobe of its own (the one hook is the event)" [ "${kp0:-x}" = "${kp1:-y}" ]

stats_mark
run lost_ipi 2 $DUR; rc=$?
ktap_print_msg "lost_ipi, 2 waiters:$(stalls); stale_ran=$(val stale_ran) waits +$(delta waits) queue_recoveries +$(delta queue_recoveries) queue_resends +$(delta queue_resends)"
check "lost_ipi behind 2 waiters: each released before half the fault, each function once, by the queue side" eval \
	'[ $rc = 0 ] && all_ran_once && all_stalls lt $((DUR / 2)) && [ "$(delta waits)" = 0 ] && [ "$(delta queue_recoveries)" -ge 1 ] && [ "$(delta queue_resends)" -ge 1 ]'
for sc in lost_ipi_async lost_ipi_rcu; do
	check "$sc: the work runs before half the fault ($((DUR / 2)) ms)" eval \
		'one $sc "with hooks=pushes" && [ "$(val sender0_released_after_fault_end)" = 0 ] && [ "$(val sender0_stall_ms)" -lt $((DUR / 2)) ]'
done

# IRQs off on the target: nothing can release it early; the queue's report
# names the target, says the IPI sends are not recorded in this mode, and
# shows the target's stack (NMI) or why it cannot
dmesg_mark
run irqs_off 1 $DUR; rc=$?
new=$(dmesg_new)
rep=$(echo "$new" | grep -m1 'csdwatch: CPU 1: call queue not flushed for [0-9]* ms')
ktap_print_msg "irqs_off: ${rep#*\] }"
case $(uname -m) in
x86_64) nmi=1 ;;
aarch64) dmesg | grep -q "Pseudo-NMIs enabled" && nmi=1 || nmi=0 ;;
*) nmi=0 ;;
esac
if [ $nmi = 1 ]; then
	stack='echo "$new" | grep -q "NMI backtrace for cpu 1" && echo "$new" | grep -q "target_fn.*\[csd_inject\]"'
else
	stack='echo "$new" | grep -q "target stack: not available: ."'
fi
check "irqs_off: the stuck queue is reported, IPI sends said unrecorded, the target's stack (NMI: $nmi)" eval \
	'[ $rc = 0 ] && [ -n "$rep" ] && echo "$new" | grep -q "ipi: not recorded (hooks=pushes" && eval "$stack"'
# A CPU that went down and came back arms its watchdog again on its next
# push (shim.c, csdw_pushes_reset): CPU 2, one of the two waiters' CPUs
# of lost_ipi, is taken down and brought back first.
C2=/sys/devices/system/cpu/cpu2/online
if [ -w $C2 ] && echo 0 > $C2 && echo 1 > $C2; then
	stats_mark
	run lost_ipi 2 $DUR; rc=$?
	ktap_print_msg "after CPU 2 went down and up: lost_ipi, 2 waiters:$(stalls); queue_recoveries +$(delta queue_recoveries)"
	check "after CPU 2 went down and up: lost_ipi behind 2 waiters still rescued before half the fault" eval \
		'[ $rc = 0 ] && all_ran_once && all_stalls lt $((DUR / 2)) && [ "$(delta queue_recoveries)" -ge 1 ]'
else
	ktap_test_skip "CPU 2 cannot be taken down here (no $C2, or the kernel refused)"
fi
[ -n "$DIAG" ] && diagnose
check "unload, no warning" eval 'unload_both && [ -z "$(bad_dmesg)" ]'

# its one hook blinded: the load is refused, naming the event, and nothing
# stays loaded
dmesg_mark
if insmod $KO hooks=pushes selftest_blind=queue 2>/dev/null; then
	rmmod csdwatch
	ktap_test_fail "selftest_blind=queue: the load was not refused"
else
	why=$(dmesg_new | grep -m1 'csdwatch: hook check:')
	ktap_print_msg "${why#*\] }"
	check "selftest_blind=queue: refused, naming the csd_queue_cpu event, nothing left loaded" eval \
		'echo "$why" | grep -q "not seen by the hook on the csd_queue_cpu event" && ! grep -q "^csdwatch " /proc/modules'
fi
ktap_finished
