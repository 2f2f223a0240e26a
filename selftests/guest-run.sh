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

# The hooks this run loads csdwatch with: /payload/hooks (lib/csdwatch.sh's
# insmod() adds them to every test's load of csdwatch.ko).
echo "csdwatch-guest: hooks=$(cat /payload/hooks 2>/dev/null || echo auto)"

emit() {
	doc=$1; shift
	"$@" 2>&1 | sed "s/^/KTAP|$doc|/"
}

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
for t in /payload/selftests/csdwatch/*.sh; do
	grep -q '^# csdwatch-selftest: runs-last' "$t" || run_selftest "$t"
done
for t in /payload/selftests/csdwatch/*.sh; do
	grep -q '^# csdwatch-selftest: runs-last' "$t" && run_selftest "$t"
done

echo "----- guest dmesg -----"
dmesg
exit 0
