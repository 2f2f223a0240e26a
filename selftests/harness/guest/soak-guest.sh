#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of selftests/harness/soak.sh (as /payload/run.sh): the long forms of
# the reliability selftests, with the sizes soak.sh wrote to
# /payload/soak.env (SCF_SECS, CHURN_RELOADS, CHURN_HOTPLUG). Documents
# "KTAP|soak-<name>|<line>", as selftests/harness/guest/guest-run.sh prints them.
cd /payload
echo 1 > /proc/sys/kernel/printk
set -a; . /payload/soak.env; set +a
for t in scftorture churn; do
	echo "csdwatch-guest: $(cut -d' ' -f1 /proc/uptime) s: soak $t"
	sh /payload/selftests/csdwatch/$t.sh 2>&1 | sed "s/^/KTAP|soak-$t|/"
done
echo "----- guest dmesg -----"
dmesg
exit 0
