#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A remote wakeup whose IPI is lost is rescued (issue 9, deliverable 2).
# The injector's lost_wakeup_busy: a kthread sleeps on CPU 1, a SCHED_FIFO
# spinner keeps CPU 1 busy, the stale csd stands on its call queue with no
# IPI, and CPU 0 wakes the kthread. With the scheduler feature TTWU_QUEUE
# on (off by default on PREEMPT_RT; turned on for the test and restored)
# and waker and target sharing no last-level cache, the wakeup is queued
# on CPU 1's call queue behind the stale csd (wakeup_queued=1) and needs
# the IPI nobody sends: the kthread stays TASK_WAKING.
#   control, csd_inject alone: woken only at the injector's deadline;
#   csdwatch at its defaults: woken long before (a queue-side resend).
# The wakeup is queued only when the CPUs share no cache: scripts/
# run-tests.sh boots a guest of its own for this with one socket per CPU;
# in a guest whose CPUs share one (the main suite's) it is skipped.
# KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
DUR=2500
T=1
F=/sys/kernel/debug/sched/features

ktap_print_header
ktap_set_plan 4
[ "$(grep -c ^processor /proc/cpuinfo)" -ge 2 ] || ktap_exit_fail_msg "needs 2 CPUs"
if [ ! -w $F ]; then
	ktap_print_msg "no $F (a kernel without CONFIG_SCHED_DEBUG): TTWU_QUEUE cannot be turned on"
	for c in "control" "defaults" "resent" "unload"; do ktap_test_skip "$c: no scheduler features file"; done
	ktap_finished
fi
grep -q "^csd_inject " /proc/modules && rmmod csd_inject
grep -q "^csdwatch " /proc/modules && rmmod csdwatch
was=TTWU_QUEUE; grep -q -w NO_TTWU_QUEUE $F && was=NO_TTWU_QUEUE
echo TTWU_QUEUE > $F
restore() { echo $was > $F; }

# one run (run_standing), the stale csd still queued at the wakeup, and
# flushed by an IPI (stale_ran_by=irq: the injector's at the deadline, or
# a resent one). Now and then the kernel flushes the busy target's queue
# itself first, from a task: the stopper's migration_cpu_stop() when a
# task that RT throttling let run on CPU 1 is moved; such a run shows
# nothing, so run_standing runs it again. Likewise a rescue that the
# queue side did not make: a waited call of the kernel's own to CPU 1 that
# lands during the fault queues behind the stale csd too, and its wait's
# watchdog resends first (the queue side stands back while a tracked wait
# blocks on the target): rescued, but not by the path under test.
STANDING='[ "$(val stale_before_wake)" = 1 ] && [ "$(val stale_ran_by)" = irq ] && ! { grep -q "^csdwatch " /proc/modules && [ "$(delta queue_resends)" = 0 ] && [ "$(wait_resends)" -ge 1 ]; }'
one() {
	run_standing "$1" lost_wakeup_busy $T $DUR || return 1
	ktap_print_msg "$1: woken after $(val sender0_stall_ms) ms (fault ${DUR} ms, ended_by $(val ended_by)); queued behind the stale csd: $(val wakeup_queued); wakee state before $(val wakee_state)"
}

insmod /payload/csd_inject.ko || { restore; ktap_exit_fail_msg "insmod csd_inject.ko failed"; }
one control || { restore; ktap_exit_fail_msg "control run failed"; }
if [ "$(val wakeup_queued)" != 1 ]; then
	ktap_print_msg "the wakeup was not queued on CPU $T's call queue: waker and target share a cache here"
	rmmod csd_inject; restore
	ktap_test_skip "control: the wakeup is queued behind the lost IPI and waits for the deadline"
	ktap_test_skip "csdwatch at its defaults: woken before half the fault"
	ktap_test_skip "the queue side resent"
	ktap_test_skip "unload"
	ktap_finished
fi
check "control without csdwatch: the wakeup is queued behind the lost IPI and waits for the deadline" eval \
	'[ "$(val sender0_stall_ms)" -ge $((DUR - 100)) ] && [ "$(val sender0_released_after_fault_end)" = 1 ]'
rmmod csd_inject

load_both || { restore; ktap_exit_fail_msg "insmod failed"; }
stats_mark
one rescue || DIAG=1
ktap_print_msg "queue_watches +$(delta queue_watches), queue_resends +$(delta queue_resends), queue_recoveries +$(delta queue_recoveries), resent by waits +$(wait_resends), stale csd run by $(val stale_ran_by)"
check "csdwatch at its defaults: woken before half the fault" eval \
	'[ "$(val wakeup_queued)" = 1 ] && [ "$(val sender0_stall_ms)" -lt $((DUR / 2)) ]'
check "the queue side resent" [ "$(delta queue_resends)" -ge 1 ]
[ -n "$DIAG" ] && diagnose
restore
check "unload" unload_both
ktap_finished
