#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Tunables: written at run time, bad values refused with EINVAL and a log
# line, old value kept; values given at insmod are taken. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"	# insmod(): the row's hooks=
KO=/payload/csdwatch.ko
P=/sys/module/csdwatch/parameters

ktap_print_header
ktap_set_plan 10

insmod "$KO" report_ms=700 || { ktap_exit_fail_msg "insmod failed"; }
[ "$(cat $P/report_ms)" = 700 ] && ktap_test_pass "insmod report_ms=700 taken" \
	|| ktap_test_fail "insmod report_ms=700 taken (got $(cat $P/report_ms))"

echo 50 > $P/resend_ms && [ "$(cat $P/resend_ms)" = 50 ] \
	&& ktap_test_pass "resend_ms=50 written at run time" \
	|| ktap_test_fail "resend_ms=50 written at run time"

refused() { # file value
	before=$(cat $P/$1)
	err=$( (echo "$2" > $P/$1) 2>&1 )
	case $err in *"Invalid argument"*) ;; *) return 1 ;; esac
	[ "$(cat $P/$1)" = "$before" ] || return 1
	dmesg | tail -5 | grep -q "csdwatch: .*$1" || return 1
}
refused tick_ms 0 && ktap_test_pass "tick_ms=0 refused with EINVAL, logged, kept" \
	|| ktap_test_fail "tick_ms=0 refused with EINVAL, logged, kept"
refused report_ms 600001 && ktap_test_pass "report_ms=600001 refused" \
	|| ktap_test_fail "report_ms=600001 refused"
refused panic_ms banana && ktap_test_pass "panic_ms=banana refused" \
	|| ktap_test_fail "panic_ms=banana refused"
# an empty line (echo with nothing) is not a value
refused panic_ms "" && ktap_test_pass "panic_ms='' refused" \
	|| ktap_test_fail "panic_ms='' refused"
# the floor: a production machine must not panic on a 1 ms wait
refused panic_ms 1 && refused panic_ms 499 && ktap_test_pass "panic_ms=1 and 499 refused (floor 500)" \
	|| ktap_test_fail "panic_ms=1 and 499 refused (floor 500)"
echo 500 > $P/panic_ms && [ "$(cat $P/panic_ms)" = 500 ] && echo 0 > $P/panic_ms \
	&& [ "$(cat $P/panic_ms)" = 0 ] && ktap_test_pass "panic_ms=500 and 0 (off) accepted" \
	|| ktap_test_fail "panic_ms=500 and 0 (off) accepted"
rmmod csdwatch
if insmod "$KO" panic_ms= 2>/dev/null; then
	rmmod csdwatch; ktap_test_fail "insmod panic_ms= (empty) refused"
else
	ktap_test_pass "insmod panic_ms= (empty) refused"
fi
if insmod "$KO" irq_frozen_ms=0 2>/dev/null; then
	rmmod csdwatch; ktap_test_fail "insmod irq_frozen_ms=0 refused"
else
	ktap_test_pass "insmod irq_frozen_ms=0 refused"
fi
ktap_finished
