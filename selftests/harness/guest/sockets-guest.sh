#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the one-socket-per-CPU boot (scripts/run-tests.sh, QEMU
# -smp 4,sockets=4): CPUs that share no last-level cache, as on a
# multi-socket server. A wakeup from one such CPU to a busy other is queued
# on the target's call queue (TTWU_QUEUE), which the main suite's guest
# (one socket) never does: the remote-wakeup rescue is tested here.
# Documents are named sockets-<test>.
cd /payload
echo 1 > /proc/sys/kernel/printk

emit() {
	doc=$1; shift
	"$@" 2>&1 | sed "s/^/KTAP|$doc|/"
}

for t in lost_wakeup; do
	echo "csdwatch-guest: $(cut -d' ' -f1 /proc/uptime) s: selftest $t"
	emit "sockets-$t" sh "/payload/selftests/csdwatch/$t.sh"
done
echo "----- guest dmesg -----"
dmesg
exit 0
