#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Lost IPI with resending off (resend_ms=0, observe only): the stall is
# not recovered, and the report classes it as a lost IPI from the evidence
# (target taking interrupts, csd flush not entered since the csd was
# queued, its queue not empty). KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
DUR=2500

ktap_print_header
ktap_set_plan 4
load_both resend_ms=0 || ktap_exit_fail_msg "insmod failed"
stats_mark; dmesg_mark
check "lost_ipi with 2 waiters on CPU1 ran" run lost_ipi 2 $DUR
new=$(dmesg_new)
splat=$(echo "$new" | grep 'csdwatch: CPU [0-9]* stalled [0-9]* ms in csd_lock_wait() for CPU 1: lost IPI' | head -1)
ktap_print_msg "waiters stalled (injector clock):$(stalls); first report: ${splat#*\] }"
check "not recovered with resend off: waiters held until the deadline, no resend" eval \
	'all_stalls ge $((DUR - 100)) && [ "$(delta ipis_resent)" = 0 ]'
check "reported as lost IPI: irqs moving, flush not entered, queue pending" eval \
	'[ -n "$splat" ] && echo "$new" | grep -q "evidence: target irqs +[1-9][0-9]* since seen, unchanged for [0-9]* ms; flush entered since queued: no; in flush: no; queue pending: yes"'
[ -n "$DIAG" ] && diagnose
check "unload" unload_both
ktap_finished
