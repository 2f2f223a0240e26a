#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Slow csd handler, csdwatch loaded with its defaults: the stall is reported
# as "slow handler" naming the function the target is running (slow_fn),
# no IPI is resent (the target is already in its flush), every function
# runs once. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
DUR=2500

ktap_print_header
ktap_set_plan 5
load_both || ktap_exit_fail_msg "insmod failed"
stats_mark; dmesg_mark
check "slow_handler with 2 waiters on CPU1 ran" run slow_handler 2 $DUR
new=$(dmesg_new)
splat=$(echo "$new" | grep 'csdwatch: CPU [0-9]* stalled [0-9]* ms in csd_lock_wait() for CPU 1: slow handler' | head -1)
ktap_print_msg "waiters stalled (injector clock):$(stalls); first report: ${splat#*\] }"
check "reported as slow handler naming the running function slow_fn" eval \
	'[ -n "$splat" ] && echo "$new" | grep -q "csdwatch:   slow handler: CPU 1 in csd flush for [0-9]* ms, running slow_fn \[csd_inject\]"'
ktap_print_msg "counters: stalls_slow_handler +$(delta stalls_slow_handler) ipis_resent +$(delta ipis_resent) (queue side +$(delta queue_resends)) reports +$(delta reports)"
# the resends of the waits on CPU 1, from their end lines: a loaded host
# that does not run some other vCPU for a while earns other waits (and the
# queue side) a resend to it, and so may a CPU standing in for CPU 1's own
# watchdog while CPU 1 runs slow_fn with IRQs off; none may go into the
# flush (the queue side never resends into one, KUnit csdwatch_queues)
ends=$(echo "$new" | grep -o "csdwatch: CPU [0-9]* -> CPU 1 stall ended after [0-9]* ms: waiter released (.*")
ktap_print_msg "ends: $(echo "$ends" | sed 's/.*stall ended/ended/' | tr '\n' ';')"
check "no pointless resend, stall counted as slow handler" eval \
	'[ -n "$ends" ] && ! echo "$ends" | grep -v -q "(slow handler; [0-9]* report(s), 0 IPI resend(s))" && [ "$(delta stalls_slow_handler)" -ge 1 ]'
check "each function ran once" eval 'all_ran_once 1 && [ "$(val slow_ran)" = 1 ]'
[ -n "$DIAG" ] && diagnose
check "unload" unload_both
ktap_finished
