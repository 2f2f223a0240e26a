#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The operator's canary check (scripts/csdwatch-canary.sh), run in the
# guest as on a host, with the modules of this payload: with csdwatch it
# says PASS, both lost IPIs (behind a waiting call and behind
# synchronize_rcu_expedited()) rescued, and unloads what it loaded; with
# --control (no csdwatch) the same faults make it say FAIL. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
C="sh /payload/csdwatch-canary.sh --ko /payload/csdwatch.ko --injector /payload/csd_inject.ko"

ktap_print_header
ktap_set_plan 4
grep -q '^csd_inject ' /proc/modules && rmmod csd_inject
grep -q '^csdwatch ' /proc/modules && rmmod csdwatch
out=$($C 2>&1); rc=$?
echo "$out" | while read -r l; do ktap_print_msg "$l"; done
check "PASS (exit 0), both faults rescued by csdwatch's resends" eval \
	'[ $rc = 0 ] && echo "$out" | grep -q "csdwatch-canary: PASS$" && [ "$(echo "$out" | grep -c ": rescued after [0-9]* ms")" = 2 ]'
check "it unloaded what it loaded (csdwatch, csd_inject)" eval \
	'! grep -q -E "^(csdwatch|csd_inject) " /proc/modules'
out=$($C --control 2>&1); rc=$?
echo "$out" | while read -r l; do ktap_print_msg "control: $l"; done
check "control (csdwatch not loaded): FAIL (exit 1), neither fault rescued" eval \
	'[ $rc = 1 ] && echo "$out" | grep -q "csdwatch-canary: FAIL$" && [ "$(echo "$out" | grep -c ": NOT rescued")" = 2 ]'
# csdwatch loaded by the operator stays loaded; the control loads it back
insmod /payload/csdwatch.ko
$C --control >/dev/null 2>&1
check "csdwatch loaded before the check stays loaded, after a control too" eval \
	'grep -q "^csdwatch " /proc/modules && ! grep -q "^csd_inject " /proc/modules'
grep -q '^csdwatch ' /proc/modules && rmmod csdwatch
ktap_finished
