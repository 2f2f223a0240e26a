#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# hooks=auto|tracepoints|kprobes: each mode loads with the hooks it names
# (the parameter reads them back, the load line says them, the kprobes
# list shows the queue kprobe and the flush kretprobe only with kprobes),
# sees cross calls, and unloads leaving nothing; auto takes the tracepoints exactly when the
# kernel has the events (told by tracefs, not by csdwatch); a bad value is
# refused and changes nothing. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
KO=/payload/csdwatch.ko
KP=/sys/kernel/debug/kprobes/list
BB="/bin/busybox insmod"	# not the row's wrapper (guest-run.sh): no hooks= added

ktap_print_header
ktap_set_plan 5
grep -q '^csdwatch ' /proc/modules && rmmod csdwatch
grep -q '^csd_inject ' /proc/modules || insmod /payload/csd_inject.ko || ktap_exit_fail_msg "insmod csd_inject"
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null
if [ -d $T/events/csd/csd_queue_cpu ] && [ -d $T/events/ipi/ipi_send_cpu ] &&
   [ -d $T/events/ipi/ipi_send_cpumask ]; then has_tp=1; else has_tp=0; fi
ktap_print_msg "tracefs: the kernel's csd and ipi events $([ $has_tp = 1 ] && echo present || echo absent)"
kp0=$(wc -l < $KP)

# load_mode ARGS...: load, check the mode in use is $want, cross calls seen, unload
load_mode() {
	dmesg_mark
	$BB $KO "$@" || return 1
	got=$(cat /sys/module/csdwatch/parameters/hooks)
	line=$(dmesg_new | grep -m1 'csdwatch: loaded:')
	q=$(grep -c '__smp_call_single_queue' $KP)
	fl=$(grep -c "__flush_smp_call_function_queue" $KP)
	stats_mark; run load 2 300; w=$(delta waits)
	ktap_print_msg "${*:-no hooks= (default)}: parameter reads '$got'; ${line##*; }; queue kprobe entries $q, flush $fl; waits +$w"
	rmmod csdwatch || return 1
	case $want in
	kprobes) [ "$q" -ge 1 ] && [ "$fl" -ge 1 ] || return 1 ;;
	*) [ "$q" = 0 ] && [ "$fl" = 0 ] || return 1 ;;
	esac
	[ "$got" = "$want" ] && echo "$line" | grep -q "hooks: $want, each saw" && [ "$w" -gt 0 ] &&
		[ "$(wc -l < $KP)" = "$kp0" ]
}

want=kprobes
check "hooks=kprobes: kprobes in use, calls seen, nothing left" load_mode hooks=kprobes
if [ $has_tp = 1 ]; then
	want=tracepoints
	check "hooks=tracepoints: tracepoints in use, calls seen, nothing left" load_mode hooks=tracepoints
	check "hooks=auto (default): tracepoints, as the kernel has the events" load_mode
else
	dmesg_mark
	if $BB $KO hooks=tracepoints 2>/dev/null; then rmmod csdwatch; ktap_test_fail "hooks=tracepoints refused without the events"
	else check "hooks=tracepoints: refused without the events, naming one" eval \
		'dmesg_new | grep -q "hooks=tracepoints: this kernel has no "'; fi
	want=kprobes
	check "hooks=auto (default): kprobes, as the kernel lacks the events" load_mode
fi
dmesg_mark
if $BB $KO hooks=ftrace 2>/dev/null; then
	rmmod csdwatch; ktap_test_fail "hooks=ftrace: refused as bad input"
else
	check "hooks=ftrace: refused as bad input, with a line, nothing loaded" eval \
		'dmesg_new | grep -q "hooks=ftrace: must be auto, tracepoints, kprobes or pushes" && [ ! -e /sys/module/csdwatch ]'
fi
check "csd_inject unloads" rmmod csd_inject
ktap_finished
