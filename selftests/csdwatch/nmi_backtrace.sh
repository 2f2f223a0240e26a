#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every NMI csdwatch sends is claimed by its handler (x86_64: csdwatch's
# own no-wait NMI backtrace). An NMI nobody claims makes the kernel print
# "NMI received for unknown reason" and, with kernel.unknown_nmi_panic=1
# (set here), panic. Two reports naming the same CPU close together used
# to send two NMIs while the handler claimed only the first: the second
# panicked such a machine (measured with the old protocol: this test's
# first write panicked the guest). Asserted, unknown_nmi_panic=1 all along:
#   - two back-to-back asks for one CPU (selftest_nmi=CPU, a write-only
#     test parameter), 20 times over CPUs 1-3: every NMI claimed, no
#     unknown NMI;
#   - an ask right before rmmod: the unload waits for the NMI before it
#     unregisters the handler, no unknown NMI after.
# The guest staying up is itself the check of the panic. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
SYS=/proc/sys/kernel/unknown_nmi_panic

ktap_print_header
ktap_set_plan 4
case $(uname -m) in
x86_64) ;;
*)	ktap_test_skip "no csdwatch NMI handler on $(uname -m) (the kernel's backtrace is used)"
	ktap_test_skip "asks"
	ktap_test_skip "unload"
	ktap_test_skip "refusal"
	ktap_finished; exit 0 ;;
esac
[ -w $SYS ] || ktap_exit_fail_msg "no $SYS"
old=$(cat $SYS)
grep -q '^csdwatch ' /proc/modules && rmmod csdwatch
insmod /payload/csdwatch.ko || ktap_exit_fail_msg "insmod csdwatch.ko"
echo 1 > $SYS
dmesg_mark
n=0; bad=0
while [ $n -lt 20 ]; do
	c=$((n % 3 + 1))
	# from CPU 0: the writing CPU itself is refused
	taskset -c 0 sh -c "echo $c > $P/selftest_nmi" || bad=$((bad + 1))
	n=$((n + 1))
done
sleep 1
new=$(dmesg_new)
bt=$(echo "$new" | grep -c "csdwatch: NMI backtrace for cpu [1-3]")
unk=$(echo "$new" | grep -c "NMI received for unknown reason")
ktap_print_msg "20 writes of 2 asks each (unknown_nmi_panic=1): $bad refused, $bt backtraces printed, $unk unknown NMIs"
# an ask finding one in flight sends none; one finding it answered
# (under TCG the target may take it before the second ask) sends its own
check "two asks back to back: every NMI claimed, 1..40 backtraces, no unknown NMI" \
	eval '[ $bad = 0 ] && [ "$bt" -ge 1 ] && [ "$bt" -le 40 ] && [ "$unk" = 0 ]'
dmesg_mark
taskset -c 0 sh -c "echo 2 > $P/selftest_nmi" && rmmod csdwatch
rc=$?
sleep 1
new=$(dmesg_new)
unk=$(echo "$new" | grep -c "NMI received for unknown reason")
ktap_print_msg "ask then rmmod (rc $rc): $(echo "$new" | grep -c 'csdwatch: NMI backtrace for cpu 2') backtrace, $unk unknown NMIs$(echo "$new" | grep -m1 'did not take' | sed 's/.*csdwatch: /; /')"
check "an ask right before rmmod: the unload waits for its NMI, no unknown NMI" \
	eval '[ $rc = 0 ] && [ "$unk" = 0 ] && ! grep -q "^csdwatch " /proc/modules'
echo "$old" > $SYS
# bad input changes nothing: the writing CPU, a CPU that is not there
insmod /payload/csdwatch.ko || ktap_exit_fail_msg "insmod csdwatch.ko"
dmesg_mark
r1=0; r2=0
taskset -c 0 sh -c "echo 0 > $P/selftest_nmi" 2>/dev/null || r1=1
echo 9999 > $P/selftest_nmi 2>/dev/null || r2=1
check "selftest_nmi refuses its own CPU and a missing one, saying why" \
	eval '[ $r1 = 1 ] && [ $r2 = 1 ] && [ "$(dmesg_new | grep -c "selftest_nmi=.* refused")" = 2 ]'
check "unload" eval 'rmmod csdwatch'
ktap_finished
