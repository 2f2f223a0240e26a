#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# csdwatch-selftest: runs-last
# The control of kprobe_neighbour.sh, without csdwatch: the kprobes-on-
# ftrace bug csdwatch guards against (rust/shim.c), a probe left armed
# after its unregistration, on a function of kprobe_neighbour.ko itself
# (which then stays loaded).
#
# Why it runs last (guest-run.sh runs scripts marked "runs-last" after
# all others): the failed disarm leaves the kernel's count of probes on
# kprobe_ipmodify_ops at -1 (kernel/kprobes.c, __disarm_kprobe_ftrace()),
# so from then on every kprobe user's last-but-one disarm unregisters
# that ftrace_ops while a probe still sits in it. A csdwatch unload on
# such a kernel once ended in a jump to address 0 at the entry of
# __flush_smp_call_function_queue (CI, selftest unload_during_stall):
# the kernel's own state, broken on purpose here, not something a later
# test may run on. csdwatch checks for it at load (rust/shim.c,
# csdw_ftrace_check()): on the broken kernel it must refuse to load,
# saying why, and leave nothing registered. KTAP.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
NB=/payload/kprobe_neighbour.ko
KP=/sys/kernel/debug/kprobes/list

ktap_print_header
ktap_set_plan 2
[ -e $NB ] || ktap_exit_fail_msg "no $NB"
[ -r $KP ] || ktap_exit_fail_msg "no $KP (debugfs)"
grep -q '^kprobe_neighbour ' /proc/modules && rmmod kprobe_neighbour
grep -q '^csdwatch ' /proc/modules && rmmod csdwatch

dmesg_mark
if insmod $NB control=1; then
	new=$(dmesg_new)
	ktap_print_msg "control: $(echo "$new" | grep -m1 'control: probe A' | sed 's/.*\] //')"
	if ! echo "$new" | grep -q 'control: probe A .*ftrace-based'; then
		ktap_test_skip "control: kprobes here are not ftrace-based (the kernel put probe A on a breakpoint): the bug cannot occur"
		why="kprobes are not ftrace-based here"
	else
		ktap_print_msg "control: $(echo "$new" | grep -m1 'control: A and B unregistered' | sed 's/.*\] //')"
		ktap_print_msg "control: kprobes/list: $(grep nb_site $KP || echo 'nothing at nb_site')"
		if echo "$new" | grep -q 'control: A and B unregistered; a call after that still ran A' &&
		   grep -q nb_site $KP; then
			ktap_test_pass "control: without csdwatch's anchor, the kernel leaves an unregistered ftrace kprobe armed (its handler ran, still listed)"
			broken=1
		elif echo "$new" | grep -q 'control: A and B unregistered; a call after that ran no handler' &&
		     ! grep -q nb_site $KP; then
			ktap_test_skip "control: this kernel disarmed both probes (no handler ran after, nothing listed): it does not have the bug"
			why="this kernel does not have the bug"
		else
			ktap_test_fail "control: the kernel's state after unregistering (see above) is neither the bug nor its absence"
		fi
	fi
else
	ktap_test_fail "control: insmod kprobe_neighbour control=1"
fi

# csdwatch on the kernel the control left broken (evidence from the kernel
# above: its handler ran after its unregistration, and it is still listed)
if [ "$broken" = 1 ]; then
	dmesg_mark
	before=$(grep -c . $KP)
	if insmod /payload/csdwatch.ko; then
		ktap_print_msg "csdwatch loaded on the broken kernel; unloading it may crash"
		rmmod csdwatch
		ktap_test_fail "csdwatch refuses to load on a kernel whose kprobes-on-ftrace count is broken"
	else
		said=$(dmesg_new | grep -m1 'csdwatch: a kprobe on ftrace did not fire' | sed 's/.*\] //')
		after=$(grep -c . $KP)
		ktap_print_msg "refused: ${said:-no such line in dmesg}; kprobes/list $before -> $after lines"
		ok=0
		[ -n "$said" ] && [ "$before" = "$after" ] && ! grep -q '^csdwatch ' /proc/modules && ok=1
		check "csdwatch refuses to load on a kernel whose kprobes-on-ftrace count is broken, says why, leaves nothing" [ $ok = 1 ]
	fi
else
	ktap_test_skip "csdwatch on a broken kernel: no broken kernel here (${why:-the control failed})"
fi
ktap_finished
