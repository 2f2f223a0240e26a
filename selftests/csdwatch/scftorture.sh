#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel's own smp_call_function torture (scftorture: single, many and
# all-CPU calls, with and without wait, RPC-style and resched_cpu()) runs
# SCF_SECS seconds with csdwatch loaded. On a correct kernel csdwatch must
# stay quiet: 0 stall reports, and IPI resends within the rate a correct
# kernel under TCG earns (a wait gets one only when older than resend_ms,
# which a host-descheduled vCPU causes: bound 5 per 100 waits, as in
# ordinary_load). scftorture itself must end in SUCCESS (every invoked
# function ran, none twice), and no warning, lockdep or KASAN report.
# CI runs 20 s; selftests/harness/soak.sh sets SCF_SECS=600. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
SECS=${SCF_SECS:-20}

ktap_print_header
# one skipped test, not "1..0 # SKIP", which the KTAP parser rejects
skip_all() { ktap_set_plan 1; ktap_test_skip "$1"; ktap_finished; }
[ -e /payload/scftorture.ko ] ||
	skip_all "scftorture.ko not in the payload (CONFIG_SCF_TORTURE_TEST=m)"
# 6.12's scftorture kmallocs with preemption off, which PREEMPT_RT forbids
# (fixed in 6.13): "scheduling while atomic", then its invokers hang, with
# no csdwatch loaded (measured on 6.12.117)
case "$(uname -r) $(uname -v)" in 6.12.*PREEMPT_RT*)
	skip_all "6.12's scftorture allocates with preemption off: it hangs on PREEMPT_RT without csdwatch too (fixed in 6.13)" ;;
esac
ktap_set_plan 5
grep -q '^csdwatch ' /proc/modules && rmmod csdwatch
insmod /payload/csdwatch.ko || ktap_exit_fail_msg "insmod csdwatch failed"
dmesg_mark; stats_mark
grep -q '^torture ' /proc/modules || insmod /payload/torture.ko || ktap_exit_fail_msg "insmod torture failed"
# stat_interval: one progress line a minute; stutter off: calls all along
insmod /payload/scftorture.ko stat_interval=60 stutter=0 holdoff=0
r1=$?
sleep "$SECS"
rmmod scftorture; r2=$?
rmmod torture
w=$(delta waits); s=$(delta ipis_resent); r=$(delta reports)
inv=$(dmesg_new | grep -o 'scf_invoked_count.*' | tail -1 | cut -c1-160)
ktap_print_msg "scftorture ${SECS} s: csdwatch waits +$w, ipis_resent +$s, reports +$r, longest_wait_us $(cat $S/longest_wait_us); ${inv:-no count}"
check "scftorture ran and ended in SUCCESS" eval \
	'[ $r1 = 0 ] && [ $r2 = 0 ] && dmesg_new | grep -q "End of test: SUCCESS"'
check "csdwatch saw scftorture's waits (>= 100)" [ "$w" -ge 100 ]
check "zero stall reports" eval '[ "$r" = 0 ]'
check "resends <= 5 per 100 waits" [ $((s * 20)) -le "$w" ]
check "no kernel warning, lockdep, KASAN or stall report; csdwatch unloads" eval \
	'! bad_dmesg && settled && rmmod csdwatch'
[ -n "$DIAG" ] && dmesg_new | grep -E "scf|csdwatch|WARNING|BUG" | tail -20 | sed 's/^/# dmesg: /'
ktap_finished
