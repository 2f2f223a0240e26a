#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Load and unload csdwatch; check modinfo fields, sysfs, and that unload
# leaves nothing behind. Runs in the guest; KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"	# insmod(): the row's hooks=
KO=/payload/csdwatch.ko
SYS=/sys/module/csdwatch

ktap_print_header
ktap_set_plan 9

# busybox modinfo looks modules up by name under /lib/modules/$(uname -r)
MODDIR=/lib/modules/$(uname -r)
mkdir -p "$MODDIR" && cp "$KO" "$MODDIR/" && depmod 2>/dev/null
field() { modinfo -F "$1" csdwatch 2>/dev/null; }
[ "$(field license)" = GPL ] && ktap_test_pass "modinfo license is GPL" \
	|| ktap_test_fail "modinfo license is GPL (got '$(field license)')"
field description | grep -q "csd_lock_wait" && ktap_test_pass "modinfo description" \
	|| ktap_test_fail "modinfo description (got '$(field description)')"
n=$(modinfo csdwatch | grep -c '^parm:')
[ "$n" -ge 5 ] && ktap_test_pass "modinfo lists $n parameters" \
	|| ktap_test_fail "modinfo lists parameters (got $n)"

before_kprobes=$(cat /sys/kernel/debug/kprobes/list 2>/dev/null | wc -l)
if insmod "$KO"; then ktap_test_pass "insmod"; else ktap_test_fail "insmod"; fi
[ -d $SYS ] && [ "$(cat $SYS/initstate 2>/dev/null)" = live ] \
	&& ktap_test_pass "$SYS present and live" || ktap_test_fail "$SYS present and live"
ok=1
for p in resend_ms report_ms panic_ms irq_frozen_ms tick_ms; do
	perm=$(stat -c %a $SYS/parameters/$p 2>/dev/null)
	[ "$perm" = 644 ] || { ok=0; ktap_print_msg "$p: mode '$perm'"; }
done
[ $ok = 1 ] && ktap_test_pass "parameters present, mode 0644" \
	|| ktap_test_fail "parameters present, mode 0644"
[ -r $SYS/stats/waits ] && ktap_test_pass "stats/ present" || ktap_test_fail "stats/ present"

if rmmod csdwatch; then ktap_test_pass "rmmod"; else ktap_test_fail "rmmod"; fi
after_kprobes=$(cat /sys/kernel/debug/kprobes/list 2>/dev/null | wc -l)
if [ ! -e $SYS ] && [ "$after_kprobes" = "$before_kprobes" ] && ! grep -q csdwatch /proc/modules; then
	ktap_test_pass "unload leaves nothing (no $SYS, kprobes $after_kprobes = $before_kprobes)"
else
	ktap_test_fail "unload leaves nothing (kprobes $before_kprobes -> $after_kprobes)"
fi
ktap_finished
