#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Churn under cross-call load: csdwatch is unloaded and loaded RELOADS
# times, then CPUs 2 and 3 go offline and online HOTPLUG times, while the
# injector's load senders make cross-calls back to back (runs of 3 s,
# restarted until the churn is done). Asserted: every insmod, rmmod and
# hotplug step succeeds; in every load run each queued function ran
# exactly once (smp_call_function_single: as often as it returned 0;
# on_each_cpu: never twice on a CPU); no kernel warning, lockdep, KASAN or
# sleep-in-atomic report and no stall report; nothing left registered; on
# a kernel with kmemleak, nothing left unreferenced; idle afterwards, no
# watchdog left ticking.
# CI runs a short churn (defaults); selftests/harness/soak.sh sets CHURN_RELOADS=200
# CHURN_HOTPLUG=100. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
RELOADS=${CHURN_RELOADS:-8}
HOTPLUG=${CHURN_HOTPLUG:-4}
KP=/sys/kernel/debug/kprobes/list

ktap_print_header
ktap_set_plan 7
[ "$(grep -c ^processor /proc/cpuinfo)" -ge 4 ] || ktap_exit_fail_msg "needs 4 CPUs"
load_both || ktap_exit_fail_msg "insmod failed"
dmesg_mark; kmemleak_mark
rm -f /tmp/churn.done /tmp/churn.runs /tmp/churn.bad
echo 3 > $D/senders; echo 3000 > $D/duration_ms
(
	while [ ! -e /tmp/churn.done ]; do
		if echo load > $D/run && [ "$(val err)" = 0 ] && load_exact; then
			echo ok >> /tmp/churn.runs
		else
			echo "run: err=$(val err) $(grep -E 'sender[0-9]_(single|many)' $D/result | tr '\n' ' ')" >> /tmp/churn.bad
		fi
	done
) & bg=$!

fail=0; k=0
while [ $k -lt "$RELOADS" ]; do
	rmmod csdwatch && insmod /payload/csdwatch.ko || { fail=$((fail + 1)); insmod /payload/csdwatch.ko 2>/dev/null; }
	k=$((k + 1))
done
ktap_print_msg "$RELOADS reloads: $fail failed"
check "$RELOADS rmmod/insmod cycles under cross-call load" [ $fail = 0 ]

fail=0; k=0
while [ $k -lt "$HOTPLUG" ]; do
	for c in 2 3; do
		echo 0 > /sys/devices/system/cpu/cpu$c/online || fail=$((fail + 1))
		echo 1 > /sys/devices/system/cpu/cpu$c/online || fail=$((fail + 1))
	done
	k=$((k + 1))
done
ktap_print_msg "$HOTPLUG rounds of CPU 2 and 3 offline/online: $fail steps failed"
check "$HOTPLUG CPU offline/online rounds under cross-call load" [ $fail = 0 ]

touch /tmp/churn.done; wait $bg
runs=$(wc -l < /tmp/churn.runs 2>/dev/null || echo 0)
bad=0; [ -e /tmp/churn.bad ] && bad=$(wc -l < /tmp/churn.bad)
ktap_print_msg "$runs load runs exact; $bad not"
[ -s /tmp/churn.bad ] && sed 's/^/# /' /tmp/churn.bad | head -5
check "every queued function ran exactly once (every load run)" eval '[ "$runs" -ge 1 ] && [ ! -s /tmp/churn.bad ]'
# After the churn nothing may stay armed: a CPU left counting a wait that
# is gone (a waiter ending while its slot moved to an heir) looks overdue
# for ever, and a stand-in then ticks every tick_ms for it. Idle for 2 s:
# no stand-in, and no tick beyond the kernel's own calls (two each, as in
# ordinary_load). KUnit csdwatch_waits has the interleaving itself.
settled; stats_mark; sleep 2
t=$(delta watchdog_ticks); st=$(delta stand_ins); iw=$(delta waits); qw=$(delta queue_watches)
ktap_print_msg "idle 2 s after the churn: watchdog_ticks +$t, stand_ins +$st (kernel waits +$iw, queue_watches +$qw)"
check "idle after the churn: no stand-in, no tick beyond the kernel's own calls" \
	eval '[ "$st" = 0 ] && [ "$t" -le $((iw * 2 + qw * 2)) ]'
check "no kernel warning, lockdep, KASAN or stall report" eval '! bad_dmesg'
check "nothing left: both unload, no probe registered" eval \
	'settled && unload_both && ! grep -q csdw $KP 2>/dev/null'
if [ -w /sys/kernel/debug/kmemleak ]; then
	n=$(kmemleak_new)
	ktap_print_msg "kmemleak: $n unreferenced object(s) since the start"
	[ "$n" = 0 ] || head -40 /sys/kernel/debug/kmemleak | sed 's/^/# /'
	check "kmemleak: nothing unreferenced after the churn" [ "$n" = 0 ]
else
	ktap_test_skip "kmemleak: not in this kernel"
fi
[ -n "$DIAG" ] && bad_dmesg | head -20 | sed 's/^/# dmesg: /'
ktap_finished
