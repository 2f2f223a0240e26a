#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The wait-time histogram (/sys/kernel/debug/csdwatch/wait_histogram):
# every tracked wait is counted once, on its waiting CPU, in the log2
# bucket of its length. The file is read-only (0400: a kernel in lockdown
# refuses debugfs files with a write bit); writing 1 to
# parameters/wait_histogram_reset resets it, anything else is refused and
# changes nothing. Counts are compared with csdwatch's own waits counter
# and the injector's stall times, never with a clock. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
H=/sys/kernel/debug/csdwatch/wait_histogram
R=/sys/module/csdwatch/parameters/wait_histogram_reset

# rows of cpu $1 whose bucket [from, to) meets [$2, $3] ns
hmeets() {
	awk -v c="$1" -v lo="$2" -v hi="$3" \
		'$1 == c && $2 <= hi && ($3 == "inf" || $3 + 0 > lo) { n += $4 } END { print n + 0 }' $H
}

ktap_print_header
load_both || ktap_exit_fail_msg "insmod failed"
if [ ! -e $H ] && case $(uname -r) in 6.12.*) true ;; *) false ;; esac &&
	dmesg | grep -q 'csdwatch: no debugfs/csdwatch/wait_histogram: .*(Linux 6.12)'; then
	# Linux 6.12's kernel crate has no debugfs: no file, as the load said
	ktap_set_plan 1
	ktap_test_skip "no wait_histogram on Linux 6.12: its kernel crate has no debugfs (the load said so)"
	unload_both
	ktap_finished
fi
ktap_set_plan 7

# 1. ordinary traffic: histogram total = waits counted. Both are read with
#    shell builtins and nothing forked in between: a fork, exec or exit
#    (a $(cat), an awk) costs the kernel TLB-flush waits of its own, up to
#    7 each, counted on one side only (seen: 10-25 apart with three forks
#    between the reads, under a loaded host). The kernel's own cross-calls
#    between the two reads still fall on one side: a few, against the
#    load's hundreds or more.
# summed by shell builtins, without a fork
hs_all() { HS=0; while read -r c lo hi k; do [ "$c" = all ] && HS=$((HS + k)); done < $H; }
settled
read -r W0 < $S/waits; echo 1 > $R
check "load ran" run load 3 1000
settled
# a wait the watchdog acted on (a resend) is counted when its watchdog
# closes it, a tick after its waiter returned: look again for up to 2 s
n=0
while :; do
	hs_all; read -r W1 < $S/waits
	h=$HS; w=$((W1 - W0))
	[ $((h - w)) -le 16 ] && [ $((w - h)) -le 16 ] && break
	n=$((n + 1)); [ $n -ge 20 ] && break; sleep 0.1
done
ktap_print_msg "load: waits +$w, histogram total $h (looked $((n + 1)) times)"
check "every wait counted once (|histogram - waits| <= 16 of $w, waits >= 100)" \
	eval '[ "$w" -ge 100 ] && [ $((h - w)) -le 16 ] && [ $((w - h)) -le 16 ]'

# 2. a lost IPI: the sender's long wait sits in the bucket of its stall,
#    on the sender's CPU
echo 1 > $R
check "lost_ipi ran" run lost_ipi 1 2000
settled
ms=$(val sender0_stall_ms); cpu=$(val sender0_end_cpu)
lo=$((ms * 500000)); hi=$((ms * 2000000 + 2000000))
ktap_print_msg "lost_ipi: sender on CPU $cpu waited $ms ms (injector clock); rows:"
grep -v '^cpu ' $H | sed 's/^/# /'
check "the stall is counted on CPU $cpu in a bucket meeting [$((ms / 2)), $((ms * 2 + 2))] ms" \
	eval '[ "$ms" -ge 1 ] && [ "$(hmeets "$cpu" $lo $hi)" -ge 1 ]'

# 3. the file is read-only (no write bit at all); bad input to the reset
#    is refused and changes nothing; 1 resets
dmesg_mark
before=$(hmeets all $lo $hi)
mode=$(stat -c %a $H)
ktap_print_msg "$H: mode $mode"
check "read-only file (0400), writes to it fail; a reset other than 1 is refused (-EINVAL, log line); the counts stay" eval \
	'[ "$mode" = 400 ] && ! echo 0 > $H 2>/dev/null && ! echo 5 > $R 2>/dev/null && ! echo > $R 2>/dev/null && [ "$(hmeets all $lo $hi)" -ge "$before" ] && [ "$before" -ge 1 ] && dmesg_new | grep -q "wait_histogram_reset=5 refused: write 1"'
# reset: the counts go (the kernel's own waits may add a few between the
# write and the read: under a loaded host one of 8-16 ms once did, so the
# stall's neighbourhood is no test; the total is)
# summed by hs_all (builtins): starting a reader (awk) costs the kernel
# TLB-flush waits of its own, up to 7 between reset and read
hs_all; total=$HS
echo 1 > $R
hs_all; after=$HS
ktap_print_msg "reset: total $total before, $after after"
check "1 to wait_histogram_reset resets it: the total drops from $total to below it and to at most 4" eval \
	'[ "$after" -lt "$total" ] && [ "$after" -le 4 ]'
check "unload" unload_both
ktap_finished
