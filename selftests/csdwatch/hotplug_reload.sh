#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Safe life cycle: csdwatch is loaded and unloaded while cross-calls are in
# flight (ordinary load, and waiters stuck on a lost IPI), and CPUs go
# offline and online while waits are in flight; the kernel stays up
# (oops=panic would end the guest), logs no warning, and the injected work
# completes. (The injector's fault scenarios hold the CPU-hotplug lock, so
# hotplug runs under the load scenario, whose waits are ordinary ones.)
# KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
CPU3=/sys/devices/system/cpu/cpu3/online

ktap_print_header
ktap_set_plan 4
dmesg_mark	# this test's warnings are those after here
load_both || ktap_exit_fail_msg "insmod failed"

# 1) reload 3 times and hotplug CPU 3 twice during 6 s of cross-call load
echo 3 > $D/senders; echo 6000 > $D/duration_ms
(echo load > $D/run) & bg=$!
ok=1
for k in 1 2 3; do
	sleep 0.5; rmmod csdwatch || ok=0
	sleep 0.3; insmod /payload/csdwatch.ko || ok=0
done
for k in 1 2; do
	echo 0 > $CPU3 || ok=0; sleep 0.3
	echo 1 > $CPU3 || ok=0; sleep 0.3
done
wait $bg
check "reload x3 and CPU3 offline/online x2 under cross-call load" eval \
	'[ $ok = 1 ] && [ "$(val err)" = 0 ] && [ "$(val sender0_ran)" -gt 0 ]'

# 2) unload and load while waiters are stuck on a lost IPI (no resend).
# The fault ends at its 2.5 s deadline from the injector's HARD timer, off
# the target, whatever is starved meanwhile (once a kworker queued behind
# the stale csd with preemption off starved the task that was to end it,
# and the guest hung): rmmod and insmod may wait for it, never forever.
# The test's shell stays off the target, so `sleep 1` really ends 1 s into
# the fault. Whether rmmod returned before the fault's end is printed;
# unload_during_stall.sh asserts unloading under a fault that stays.
rmmod csdwatch; insmod /payload/csdwatch.ko resend_ms=0
taskset -p 0xd $$ >/dev/null
echo 2 > $D/senders; echo 2500 > $D/duration_ms
(echo lost_ipi > $D/run) & bg=$!
sleep 1; rmmod csdwatch; r1=$?
t_rm=$(cut -d' ' -f1 /proc/uptime)
insmod /payload/csdwatch.ko resend_ms=0; r2=$?
wait $bg
taskset -p 0xf $$ >/dev/null
ktap_print_msg "rmmod returned at ${t_rm} s uptime; the fault began at $(($(val stall_begin_ns) / 1000000)) ms and was ended by $(val ended_by) at $(($(val fault_end_ns) / 1000000)) ms; waiters released after$(stalls)"
check "unload and load while waiters are stuck, injected work completes" eval \
	'[ $r1 = 0 ] && [ $r2 = 0 ] && [ "$(val err)" = 0 ] && all_ran_once && [ "$(val stale_ran)" = 1 ]'

check "no kernel warning or bug since the test began" eval '! klog_new | grep -q -E "WARNING:|BUG:|Oops"'
check "unload, nothing armed" eval 'settled && unload_both && ! grep -q csdw /proc/kallsyms'
ktap_finished
