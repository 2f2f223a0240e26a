#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Investigation tool, not a test (selftests/investigations/kprobe-churn.sh boots this): churn
# kprobes on csdwatch's functions, either with selftests/investigations/kprobe_churn alone
# (MODE=probes) or by reloading csdwatch itself beside kprobe_churn's
# cross-call load (MODE=csdwatch); prints "churn|..." lines for the host.
# A crash ends the guest; the host counts the "Oops:" lines.
. /payload/churn.conf	# MODE CYCLES BATCH POST NOOPT LOAD
K=/sys/kernel/debug/kprobes/list
[ "$NOOPT" = 1 ] && echo 0 > /proc/sys/debug/kprobes-optimization
echo "churn|mode $MODE, $CYCLES rounds, batch=$BATCH post=$POST load=$LOAD, kprobes-optimization $(cat /proc/sys/debug/kprobes-optimization)"
t0=$(cut -d. -f1 /proc/uptime)
if [ "$MODE" = probes ]; then
	insmod /payload/kprobe_churn.ko cycles="$CYCLES" batch="$BATCH" post="$POST" load="$LOAD" || exit 1
	n=0
	while [ "$(cat /sys/module/kprobe_churn/parameters/finished)" = 0 ]; do
		sleep 5
		n=$((n + 1))
		# progress for the host's log (pr_info is below the console level)
		[ $((n % 12)) = 0 ] && dmesg | grep 'kprobe_churn: [0-9]* rounds' | tail -1 | sed 's/.*kprobe_churn: /churn|  /'
	done
	dmesg | grep 'kprobe_churn: done' | tail -1 | sed 's/.*kprobe_churn: /churn|/'
	rmmod kprobe_churn
else
	[ "$LOAD" = 1 ] && { insmod /payload/kprobe_churn.ko cycles=0 || exit 1; }
	i=0
	while [ $i -lt "$CYCLES" ]; do
		insmod /payload/csdwatch.ko || exit 1
		[ $i = 0 ] && sed 's/^/churn|  /' $K
		sleep 0.$((i % 10))
		rmmod csdwatch || exit 1
		i=$((i + 1))
		[ $((i % 50)) = 0 ] && echo "churn|$i reloads"
	done
	echo "churn|done $i reloads of csdwatch"
	[ "$LOAD" = 1 ] && rmmod kprobe_churn
fi
echo "churn|$(( $(cut -d. -f1 /proc/uptime) - t0 )) s"
. /payload/selftests/csdwatch/lib.sh
MARK=0	# the whole log: selftests/csdwatch/lib.sh's bad_dmesg, the known warning left out
splats=$(bad_dmesg)
[ -z "$splats" ] || { echo "$splats" | head -5; exit 1; }
exit 0
