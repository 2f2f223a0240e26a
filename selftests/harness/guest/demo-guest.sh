#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The live demo, inside the guest (scripts/demo.sh): load csdwatch, inject a
# lost IPI and watch it rescued, then a target with IRQs off and its report.
. /payload/selftests/csdwatch/lib.sh
echo 1 > /proc/sys/kernel/printk	# kernel messages are shown from dmesg below
say() { echo; echo "== $*"; }
counters() {
	for f in waits stalls_lost_ipi stalls_irqs_off ipis_resent recoveries reports longest_wait_us in_flight; do
		printf '    %-18s %s\n' "$f" "$(cat $S/$f)"
	done
}
say "kernel $(uname -r) $(uname -m), $(grep -c ^processor /proc/cpuinfo) CPUs, $(uname -v | grep -o 'PREEMPT_RT' || echo 'not RT')"

say "insmod csdwatch.ko (defaults); tunables in $P:"
load_both || exit 1
for f in $P/*; do printf '    %-14s %s\n' "${f##*/}" "$(cat "$f")"; done

say "1) without a rescue this hangs: CPU1's call_single_queue holds a csd but no IPI was sent;"
echo "   2 CPUs now call smp_call_function_single(1, ...) and wait. The fault lasts 3000 ms."
dmesg_mark
run lost_ipi 2 3000 || exit 1
echo "   waiters released after (injector clock):$(stalls)  -- instead of 3000 ms"
echo "   each function ran once: waiters $(val sender0_ran),$(val sender1_ran); stale csd $(val stale_ran)"
dmesg_new | grep 'csdwatch:' | sed 's/^\[[^]]*\] */   /'
counters

say "2) CPU1 spins with hard IRQs off for 2500 ms while 2 CPUs wait on it (on_each_cpu_mask)."
echo "   Nothing can release them early; csdwatch reports the culprit:"
dmesg_mark
run irqs_off 2 2500 || exit 1
dmesg_new | grep -v 'csd_inject: ' | sed 's/^\[[^]]*\] */   /'
echo "   waiters released after (injector clock):$(stalls)"
counters

say "rmmod"
unload_both && [ ! -e /sys/module/csdwatch ] && echo "    unloaded, nothing left armed"
