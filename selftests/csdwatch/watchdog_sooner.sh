#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A CPU's watchdog armed for later is brought forward for a wait that
# needs it sooner. A call nobody waits for arms the pusher's watchdog
# resend_ms out (here 1000 ms, an allowed value); a waited call right
# after it needs its first look tick_ms out. A watchdog left armed for the
# later time looks at that wait up to resend_ms late, and meanwhile its
# CPU counts as overdue (no tick for 50 ms while it watches), so other
# CPUs stand in for it on a healthy machine (stats/stand_ins).
#
# The injector's load_mixed makes exactly that traffic, with no fault:
# each sender's unwaited call (smp_call_function_single_async()), then
# its waited call to the same CPU, in a loop. Asserted: both kinds ran,
# every function once; no report; stand-ins stay rare. Measured on
# x86_64 under TCG, the host loaded by a CI run and a kernel build, 3
# senders for 3 s: 0 stand-ins for 1634 waited calls with the watchdog
# brought forward; 71 for 215 with it left armed (the shortening in
# rust/shim.c, csdw_watchdog_arm(), taken out; the senders also made 8x
# fewer calls). The bound is 1 stand-in per 100 waited calls. KTAP.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
DUR=3000

ktap_print_header
ktap_set_plan 5
load_both resend_ms=1000 || ktap_exit_fail_msg "insmod failed"
stats_mark; dmesg_mark
check "load_mixed: 3 senders of unwaited and waited calls for $DUR ms ran" run load_mixed 3 $DUR
a=0; ar=0; sc=0; sr=0
for i in 0 1 2; do
	a=$((a + $(val sender${i}_async_calls))); ar=$((ar + $(val sender${i}_async_ran)))
	sc=$((sc + $(val sender${i}_single_calls))); sr=$((sr + $(val sender${i}_single_ran)))
done
st=$(delta stand_ins); r=$(delta reports); qw=$(delta queue_watches); w=$(delta waits)
ktap_print_msg "unwaited calls $a (ran $ar), waited single calls $sc (ran $sr); csdwatch: queue_watches +$qw, waits +$w, stand_ins +$st, reports +$r"
check "both kinds of call ran, each function once (injector's count)" \
	eval '[ "$a" -ge 100 ] && [ "$a" = "$ar" ] && [ "$sc" -ge 100 ] && [ "$sc" = "$sr" ]'
check "csdwatch saw both kinds (queue watches and waits >= 100)" eval '[ "$qw" -ge 100 ] && [ "$w" -ge 100 ]'
check "no report, stand-ins <= 1 per 100 waited calls ($st for $sc)" \
	eval '[ "$r" = 0 ] && [ $((st * 100)) -le "$sc" ]'
check "unload, nothing in flight" eval 'settled && unload_both'
ktap_finished
