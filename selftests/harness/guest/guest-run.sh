#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the QEMU guest as /payload/run.sh (scripts/run-tests.sh puts
# it there). Emits every result document as lines "KTAP|<doc>|<line>" so
# the host can take them apart from the console stream:
#   kunit-<suite>    the KTAP of each csdwatch KUnit suite (run at insmod)
#   selftest-<name>  the TAP of each selftest script
# The kernel console is turned down while documents are printed so kernel
# lines cannot split them; dmesg is printed in full at the end.
cd /payload
echo 1 > /proc/sys/kernel/printk

# The hooks this run loads csdwatch with: /payload/hooks (selftests/csdwatch/lib.sh's
# insmod() adds them to every test's load of csdwatch.ko).
echo "csdwatch-guest: hooks=$(cat /payload/hooks 2>/dev/null || echo auto)"

emit() {
	doc=$1; shift
	"$@" 2>&1 | sed "s/^/KTAP|$doc|/"
}

# Kernels with jump labels (Debian's) rewrite a tracepoint's call sites when
# its first probe comes and its last goes: csdwatch's ~60 loads in this run
# would rewrite the csd and ipi events' sites ~60 times each, under
# cross-call load, and QEMU's multi-threaded TCG then now and then runs a
# stale translation of such a site (selftests/harness/qemu-defects.sh: 3 of 4 boots
# of Debian's stock kernel in one loaded CI pair crashed so, in churn and
# cfd_reuse). ftrace's own probes on those events, with the ring buffer
# off, keep the sites enabled for the whole run; csdwatch's loads then only
# add and remove probes. Kernels without jump labels (the test kernels)
# rewrite nothing either way.
tr=/sys/kernel/tracing
[ -d $tr/events ] || tr=/sys/kernel/debug/tracing
if [ -d $tr/events/csd ]; then
	echo 0 > $tr/tracing_on
	for e in csd ipi/ipi_send_cpu ipi/ipi_send_cpumask sched/sched_wake_idle_without_ipi; do
		[ -e $tr/events/$e/enable ] && echo 1 > $tr/events/$e/enable
	done
	echo "csdwatch-guest: csd and ipi event sites held enabled (tracing off)"
fi

# KUnit: the suites run when the module loads (CONFIG_KUNIT=y); their
# results stay in debugfs until it unloads.
if insmod /payload/csdwatch.ko; then
	for d in /sys/kernel/debug/kunit/csdwatch_*; do
		[ -e "$d/results" ] && emit "kunit-${d##*/}" cat "$d/results"
	done
	rmmod csdwatch
else
	echo "KTAP|kunit-load|not ok 1 insmod csdwatch.ko"
fi

# a line per test with the uptime: a hung guest's console (qemu-run.sh
# dumps it before the host timeout) then tells which test hung, and since
# when in the kernel's timestamps
# A script marked "# csdwatch-selftest: runs-last" leaves the kernel in a
# state no other test may run on (kprobe_neighbour_control.sh): those run
# after all others.
run_selftest() {
	echo "csdwatch-guest: $(cut -d' ' -f1 /proc/uptime) s: selftest $(basename "$1" .sh)"
	emit "selftest-$(basename "$1" .sh)" sh "$1"
}
# The tests are the kselftest Makefile's TEST_PROGS, in its order (a
# payload pruned by hand for a quick run keeps only some of them).
tests=$(sed -n 's|^TEST_PROGS += |/payload/selftests/csdwatch/|p' /payload/selftests/csdwatch/Makefile)
for t in $tests; do
	[ -e "$t" ] || continue
	grep -q '^# csdwatch-selftest: runs-last' "$t" || run_selftest "$t"
done
for t in $tests; do
	[ -e "$t" ] || continue
	grep -q '^# csdwatch-selftest: runs-last' "$t" && run_selftest "$t"
done

echo "----- guest dmesg -----"
dmesg
exit 0
