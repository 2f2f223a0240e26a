#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Another kprobe user at csdwatch's probe sites (kprobe_neighbour.ko: a
# debugging module, systemtap, another watchdog), with and without a
# post_handler, unloaded before and after csdwatch. Each time: both see
# cross calls while loaded; once both are gone, cross calls and module
# unloads (whose TLB flushes cross-call: the moment the crash came) run,
# nothing is left in debugfs kprobes/list at those sites, and the kernel
# printed no "Failed to disarm kprobe-ftrace" and no warning. Its
# control, the kernel bug without csdwatch, is kprobe_neighbour_control.sh
# (it breaks the kernel's kprobe accounting, so it runs last). KTAP.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
NB=/payload/kprobe_neighbour.ko
KP=/sys/kernel/debug/kprobes/list
SITES='__flush_smp_call_function_queue|__smp_call_single_queue|smp_call_function_single|smp_call_function_many_cond|sched_tick|send_call_func|send_call_function'

ktap_print_header
ktap_set_plan 8
[ -e $NB ] || ktap_exit_fail_msg "no $NB"
[ -r $KP ] || ktap_exit_fail_msg "no $KP (debugfs)"
grep -q '^csd_inject ' /proc/modules || insmod /payload/csd_inject.ko || ktap_exit_fail_msg "insmod csd_inject"
NBP=/sys/module/kprobe_neighbour/parameters
# cross calls from three senders, and a module load and unload (module
# memory is freed behind a TLB flush of every CPU)
traffic() { run load 3 400 && rmmod csd_inject && insmod /payload/csd_inject.ko; }
left_at_sites() { grep -E "$SITES" $KP; }

for post in 1 0; do
	for first in kprobe_neighbour csdwatch; do
		case $first in csdwatch) second=kprobe_neighbour ;; *) second=csdwatch ;; esac
		what="post_handler=$post, $first unloaded first"
		dmesg_mark
		ok=1
		insmod /payload/csdwatch.ko && stats_mark || ok=0
		insmod $NB post=$post || ok=0
		[ $ok = 1 ] && traffic || ok=0
		nh=$(cat $NBP/hits 2>/dev/null); nr=$(cat $NBP/registered 2>/dev/null)
		w=$(delta waits)
		ktap_print_msg "$what: neighbour probes ${nr:-?}, hits ${nh:-?}; csdwatch waits +$w"
		[ $ok = 1 ] && [ "${nh:-0}" -gt 0 ] && [ "$w" -gt 0 ] || ok=0
		rmmod $first || ok=0
		traffic || ok=0
		rmmod $second || ok=0
		traffic || ok=0
		check "$what: both saw calls, both unloaded, calls and unloads ran after" [ $ok = 1 ]
		left=$(left_at_sites)
		bad=$(bad_dmesg; dmesg_new | grep -E 'Failed to disarm|kprobe-ftrace|aggr_pre_handler|NX-protected')
		[ -z "$left" ] || ktap_print_msg "left in kprobes/list: $left"
		[ -z "$bad" ] || ktap_print_msg "kernel said: $bad"
		check "$what: nothing left armed, no warning" [ -z "$left$bad" ]
	done
done

ktap_finished
