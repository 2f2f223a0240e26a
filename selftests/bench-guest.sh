#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benchmark, not a test (scripts/bench-overhead.sh): cross-call throughput
# of the injector's load scenario without and with csdwatch, alternated in
# one boot, and the ratio. Under TCG the numbers are noisy; read the ratio.
. /payload/lib/csdwatch.sh
echo 1 > /proc/sys/kernel/printk
insmod /payload/csd_inject.ko || exit 1
DUR=${DUR:-3000}
total() { echo $(( $(val sender0_ran) + $(val sender1_ran) + $(val sender2_ran) )); }
sum_off=0; sum_on=0
for round in 1 2 3; do
	run load 3 $DUR || exit 1; off=$(total)
	insmod /payload/csdwatch.ko || exit 1
	run load 3 $DUR || exit 1; on=$(total)
	waits=$(cat $S/waits); rmmod csdwatch
	echo "bench: round $round: functions run in ${DUR} ms: without csdwatch $off, with $on (csdwatch saw $waits waits)"
	sum_off=$((sum_off + off)); sum_on=$((sum_on + on))
done
echo "bench: with/without csdwatch throughput ratio: $((sum_on * 1000 / sum_off / 10)).$((sum_on * 1000 / sum_off % 10))% ($sum_on / $sum_off)"
rmmod csd_inject
