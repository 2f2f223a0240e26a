#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the big-machine boot (scripts/run-tests.sh): an x86_64
# NR_CPUS=8192 kernel (off-stack cpumasks, as Debian's) booted with 16
# vCPUs; the wait table, per-CPU records and kretprobe instances are sized
# from nr_cpu_ids at load. (More than 255 possible CPUs needs x2APIC with
# interrupt remapping, which this TCG guest has not: the sizing for 300 and
# 8192 CPUs is covered by KUnit, and no fixed CPU limit is left.) Runs a
# subset of the selftests (TCG with 16 vCPUs on 2 host cores is slow) plus
# a check that csdwatch saw all CPUs. Documents are named big-<test>.
cd /payload
echo 1 > /proc/sys/kernel/printk
. /payload/ktap_helpers.sh

emit() {
	doc=$1; shift
	"$@" 2>&1 | sed "s/^/KTAP|$doc|/"
}

sizing() {
	. /payload/selftests/csdwatch/lib.sh
	ktap_print_header
	ktap_set_plan 3
	cpus=$(cat /sys/devices/system/cpu/possible)
	online=$(grep -c ^processor /proc/cpuinfo)
	ktap_print_msg "possible CPUs $cpus, online $online"
	check "16 CPUs online on an NR_CPUS=8192 kernel" eval \
		'[ "$online" -ge 16 ] && [ "${cpus#0-}" -ge 15 ]'
	dmesg_mark
	n=$((${cpus#0-} + 1)); slots=$((2 * n)); [ $slots -ge 64 ] || slots=64
	check "csdwatch loads and sizes itself from nr_cpu_ids ($n CPUs, $slots slots)" eval \
		'insmod /payload/csdwatch.ko && dmesg_new | grep -q "csdwatch: loaded: .* $n CPUs, $slots wait slots"'
	ktap_print_msg "$(dmesg_new | grep 'csdwatch: loaded' | sed 's/^.*csdwatch: //')"
	check "unload" rmmod csdwatch
	ktap_finished
}

emit big-sizing sizing
for t in module_lifecycle lost_ipi_recovery irqs_off_report; do
	emit "big-$t" sh "/payload/selftests/csdwatch/$t.sh"
done
echo "----- guest dmesg -----"
dmesg | tail -200
exit 0
