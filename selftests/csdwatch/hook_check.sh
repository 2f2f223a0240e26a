#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The load-time hook check (rust/proof.rs): csdwatch makes a cross call of
# its own through each path it watches and refuses to load when a hook it
# relies on did not see it. A blinded hook (selftest_blind=, a testing
# parameter that makes the check ignore one hook) must refuse the load
# with a line naming the hook's function and leave nothing registered; a
# blinded IPI-send hook (optional) loads with a warning; an unknown name
# is refused as bad input. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
KO=/payload/csdwatch.ko
KP=/sys/kernel/debug/kprobes/list

ktap_print_header
ktap_set_plan 9
grep -q '^csdwatch ' /proc/modules && rmmod csdwatch
kp0=$(wc -l < $KP 2>/dev/null)

dmesg_mark
insmod $KO && line=$(dmesg_new | grep -m1 'csdwatch: loaded:')
ktap_print_msg "${line#*\] }"
check "loads, and its load line says the hooks saw its own calls" eval \
	'echo "$line" | grep -qE "hooks: (kprobes|tracepoints), each saw a cross call at load"'
rmmod csdwatch

# hook name, and the function (kprobes) or event (tracepoints) the
# refusal must name, by the mode the load line above says is in use. With
# the events a single call's wait begins at its push: no hook sits on its
# entry, so blinding that name refuses nothing.
if echo "$line" | grep -q "hooks: tracepoints"; then
	single=none; queue='the csd_queue_cpu event'
	flush='the csd_function_entry event'; ret='the csd_function_exit event'
else
	single='(__)?smp_call_function_single'; queue=__smp_call_single_queue
	flush=__flush_smp_call_function_queue; ret='the return of'
fi
for hk in "single_entry:$single" "queue:$queue" "flush:$flush" "return:$ret" \
	  many_entry:smp_call_function_many_cond; do
	h=${hk%%:*}; fn=${hk#*:}
	if [ "$fn" = none ]; then
		dmesg_mark
		if insmod $KO selftest_blind=$h; then
			l=$(dmesg_new | grep -m1 'csdwatch: loaded:')
			rmmod csdwatch
			check "selftest_blind=$h: loads with the events (no hook on the single call's entry)" eval \
				'echo "$l" | grep -q "hooks: tracepoints, each saw"'
		else
			ktap_test_fail "selftest_blind=$h: loads with the events (no hook on the single call's entry)"
		fi
		continue
	fi
	dmesg_mark
	if insmod $KO selftest_blind=$h 2>/dev/null; then
		rmmod csdwatch
		ktap_test_fail "selftest_blind=$h: the load was not refused"
		continue
	fi
	why=$(dmesg_new | grep -m1 'csdwatch: hook check:')
	ktap_print_msg "${why#*\] }"
	kp=$(wc -l < $KP 2>/dev/null)
	check "selftest_blind=$h: refused, naming ${fn#"(__)?"}; nothing left (kprobes $kp0 -> $kp)" eval \
		'echo "$why" | grep -qE "calls to CPU [0-9]+ were not seen by the hook on $fn " &&
		 echo "$why" | grep -qF "blinded by selftest_blind); not loading" &&
		 [ ! -e /sys/module/csdwatch ] && [ "$kp" = "$kp0" ]'
done

dmesg_mark
if insmod $KO selftest_blind=ipi_send; then
	w=$(dmesg_new | grep -m1 'the IPI send hook saw none of its calls')
	rmmod csdwatch
	check "selftest_blind=ipi_send: loads, warns that reports will not say whether an IPI was sent" [ -n "$w" ]
else
	ktap_test_fail "selftest_blind=ipi_send: loads"
fi

dmesg_mark
if insmod $KO selftest_blind=nonsense 2>/dev/null; then
	rmmod csdwatch
	ktap_test_fail "selftest_blind=nonsense: refused as bad input"
else
	check "selftest_blind=nonsense: refused as bad input, with a line" eval \
		'dmesg_new | grep -q "selftest_blind: no hook of that name" && [ ! -e /sys/module/csdwatch ]'
fi
kp=$(wc -l < $KP 2>/dev/null)
check "nothing left registered after it all (kprobes $kp0 -> $kp)" [ "$kp" = "$kp0" ]
ktap_finished
