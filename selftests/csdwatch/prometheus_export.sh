#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The Prometheus textfile exporter (scripts/csdwatch-prom.sh, in the
# payload) on the running module, after a lost IPI csdwatch rescued: it
# refuses to run without csdwatch (and removes its stale file), exports
# every stats file under its documented name with the value the file has,
# the stall among them, and the wait histogram as a cumulative Prometheus
# histogram that gives back the debugfs file's buckets; it writes its file
# by rename; given CSDWATCH_SYSFS it reads a snapshot. Values are compared
# with the files read just before and after, never with constants.
# The snapshot and its export are printed as "# snap: " and "# prom: "
# lines: selftests/harness/prometheus-check.sh takes them from the console and runs
# promtool and node_exporter on them on the host. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
X=/payload/csdwatch-prom.sh
H=/sys/kernel/debug/csdwatch/wait_histogram
R=$P/wait_histogram_reset
DUR=3000
OD=/tmp/prom-out; O=$OD/csdwatch.prom
SNAP=/tmp/prom-snap
W=/tmp/prom-work

# the value of sample $2 (name{labels} as printed) in export $1
pv() { awk -v s="$2" '$1 == s { print $2; exit }' "$1"; }

# every stats file as "NAME VALUE", read with builtins
stats_now() { for f in $S/*; do read -r v < "$f"; echo "${f##*/} $v"; done; }

# export $1: every sample under a TYPE line of its family, csdwatch_*, a
# counter's name ends in _total, every value a number. Prints what is not.
format_ok() {
	awk '/^# TYPE / { t[$3] = $4; next }
	/^#/ || /^$/ { next }
	{
		n = $1; sub(/\{.*/, "", n); f = n
		if (!(f in t)) sub(/_(bucket|sum|count)$/, "", f)
		if (!(f in t) || (f != n && t[f] != "histogram")) { print "no TYPE: " $0; bad = 1 }
		if (n !~ /^csdwatch_/ || (t[f] == "counter" && f !~ /_total$/)) { print "bad name: " $0; bad = 1 }
		if ($2 !~ /^[0-9]+(\.[0-9]+)?$/ || NF != 2) { print "bad value: " $0; bad = 1 }
		s++
	}
	END { if (!s) print "no samples"; exit bad || !s }' "$1" > $W/fmt
	_rc=$?; sed 's/^/# format: /' $W/fmt; return $_rc
}

# export $1 against stats read before ($2) and after ($3) it: every stats
# file is exported under its documented name (Documentation/csdwatch.rst,
# "Prometheus"), counters and longest_wait between the two reads, in_flight
# a whole number. Prints the mismatches; fails on any. (The three files go
# to awk as one stream, each line tagged E, B or A: $2 and $3 may be one.)
stats_match() {
	{ sed 's/^/E /' "$1"; sed 's/^/B /' "$2"; sed 's/^/A /' "$3"; } | awk '
	function metric(n) {
		if (n ~ /^stalls_/) return "csdwatch_stalls_total{class=\"" substr(n, 8) "\"}"
		if (n == "longest_wait_us") return "csdwatch_longest_wait_seconds"
		if (n == "in_flight") return "csdwatch_waits_in_flight"
		if (n == "tick_ns") return "csdwatch_tick_seconds_total"
		return "csdwatch_" n "_total"
	}
	$1 == "E" { if ($2 !~ /^#/) e[$2] = $3; next }
	$1 == "B" { b[$2] = $3; next }
	{
		m = metric($2); n++
		if (!(m in e)) { print "# stats/" $2 ": no " m; bad = 1; next }
		v = e[m]
		if ($2 == "longest_wait_us") v = sprintf("%.0f", v * 1e6)
		if ($2 == "tick_ns") v = sprintf("%.0f", v * 1e9)
		if ($2 == "in_flight" ? v !~ /^[0-9]+$/ : !(v + 0 >= b[$2] + 0 && v + 0 <= $3 + 0)) {
			print "# stats/" $2 ": exported " m " " e[m] ", read " b[$2] " before and " $3 " after"; bad = 1
		}
	}
	END { if (!n) print "# no stats files"; exit bad || !n }'
}

# the export's histogram back as the debugfs file's rows "CPU LO HI COUNT"
# (non-empty buckets): le is HI less 1 ns, the counts are cumulative
unprom() {
	awk '$1 ~ /^csdwatch_wait_seconds_bucket\{/ {
		split($1, q, "\""); c = q[2]; le = q[4]
		hi = (le == "+Inf") ? "inf" : sprintf("%.0f", le * 1e9 + 1)
		if (!(c in lo)) { lo[c] = "0"; prev[c] = 0 }
		d = $2 - prev[c]; prev[c] = $2
		if (d != 0) printf "%s %s %s %.0f\n", c, lo[c], hi, d
		lo[c] = hi
	}' "$1"
}

# export $1 against the histogram file read before ($2) and after ($3):
# every bucket of every CPU between its two counts; +Inf = _count; _sum
# between the lower-bound sums (each wait at its bucket start) of the two.
# Tagged as in stats_match; U: the export's buckets as the file's rows.
hist_match() {
	{ sed 's/^/E /' "$1"; unprom "$1" | sed 's/^/U /'; sed 's/^/B /' "$2"; sed 's/^/A /' "$3"; } | awk '
	$1 == "E" {
		split($2, q, "\"")
		if ($2 ~ /^csdwatch_wait_seconds_bucket\{.*le="\+Inf"/) { inf[q[2]] = $3; cp[q[2]] = 1 }
		if ($2 ~ /^csdwatch_wait_seconds_count\{/) { cnt[q[2]] = $3; cp[q[2]] = 1 }
		if ($2 ~ /^csdwatch_wait_seconds_sum\{/) { sum[q[2]] = $3; cp[q[2]] = 1 }
		next
	}
	{ k = $2 " " $3 " " $4 }
	$1 == "U" { e[k] = $5; r[k] = 1; next }
	$2 == "cpu" || $2 == "all" { next }
	# a CPU whose first wait came after the export is in the second read only
	$1 == "B" { b[k] = $5; r[k] = 1; bs[$2] += $3 * $5; cp[$2] = 1; next }
	{ a[k] = $5; r[k] = 1; as[$2] += $3 * $5 }
	END {
		for (k in r) {
			n++
			if (!(e[k] + 0 >= b[k] + 0 && e[k] + 0 <= a[k] + 0)) {
				print "# bucket " k ": exported " e[k] + 0 ", file " b[k] + 0 " before, " a[k] + 0 " after"; bad = 1
			}
		}
		for (c in cp) {
			if (inf[c] == "" || inf[c] != cnt[c]) { print "# cpu " c ": +Inf " inf[c] ", _count " cnt[c]; bad = 1 }
			s = sum[c] * 1e9
			if (!(s >= bs[c] - 1 && s <= as[c] + 1)) {
				print "# cpu " c ": _sum " sum[c] " s, lower-bound sums " bs[c] " ns before, " as[c] " ns after"; bad = 1
			}
		}
		if (!n) print "# no buckets"
		exit bad || !n
	}'
}

ktap_print_header
ktap_set_plan 10
rm -rf $OD $SNAP $W; mkdir -p $OD $W

# 1. without csdwatch
grep -q '^csd_inject ' /proc/modules && rmmod csd_inject
grep -q '^csdwatch ' /proc/modules && rmmod csdwatch
echo stale > $O
sh $X $O 2> $W/err; rc=$?
ktap_print_msg "without csdwatch: exit $rc, stderr: $(cat $W/err)"
check "csdwatch not loaded: exit 1, an error that says so, the stale output file removed" eval \
	'[ $rc = 1 ] && grep -q "csdwatch is not loaded" $W/err && [ ! -e $O ]'

# 2. a lost IPI that csdwatch rescues (resend), counted as a lost-IPI
#    stall. Not every rescue is one: the queue side may resend for the
#    stale csd's queue before the wait's watchdog acts (seen: released
#    after 25 ms, queue_resends +1, no stall), and a run in which the host
#    left CPU 1 unrun past irq_frozen_ms is classed IRQs-off, rightly.
#    Such a run is run again, at most twice.
load_both || ktap_exit_fail_msg "insmod failed"
[ -e $H ] && echo 1 > $R
stats_mark
n=0
while :; do
	run_standing lost_ipi lost_ipi 1 $DUR && ran=1 || { ran=0; break; }
	ms=$(val sender0_stall_ms)
	# a stall is counted when its watchdog closes it, a tick or so after
	# the waiter returned: look for up to 1 s
	i=0
	while [ "$(delta stalls_lost_ipi)" -lt 1 ] || [ "$(delta recoveries)" -lt 1 ]; do
		i=$((i + 1)); [ $i -gt 20 ] && break; sleep 0.05
	done
	[ "$(delta stalls_lost_ipi)" -ge 1 ] && [ "$(delta recoveries)" -ge 1 ] && [ "$ms" -lt $((DUR / 2)) ] && break
	n=$((n + 1))
	ktap_print_msg "run $n: released after $ms ms, stalls_lost_ipi +$(delta stalls_lost_ipi), recoveries +$(delta recoveries), queue_resends +$(delta queue_resends), CPU 1 unrun for $(val target_gap_ms) ms at most; again"
	[ $n -lt 3 ] || break
done
ms=$(val sender0_stall_ms); cpu=$(val sender0_end_cpu)
ktap_print_msg "lost IPI: CPU $cpu released after $ms ms (fault $DUR ms); stalls_lost_ipi +$(delta stalls_lost_ipi), recoveries +$(delta recoveries)"
check "a lost IPI injected and rescued: released before half the fault, a lost-IPI stall and a recovery counted" eval \
	'[ $ran = 1 ] && [ "$ms" -lt $((DUR / 2)) ] && [ "$(delta stalls_lost_ipi)" -ge 1 ] && [ "$(delta recoveries)" -ge 1 ]'

# 3-7. the export, with the files read just before and just after it.
#      The old output file has a second name: a rename leaves it as it was.
settled
echo old > $O; ln $O $W/old
stats_now > $W/before; [ -e $H ] && cat $H > $W/hist-before
sh $X $O 2> $W/err; rc=$?
[ -e $H ] && cat $H > $W/hist-after; stats_now > $W/after
[ -s $W/err ] && ktap_print_msg "stderr: $(cat $W/err)"
check "export: exit 0, every sample under a TYPE line of its csdwatch_ family, counters end in _total" eval \
	'[ $rc = 0 ] && format_ok $O'
check "every stats file exported under its name, with a value between the file's before and after the export" \
	stats_match $O $W/before $W/after
lost=$(pv $O 'csdwatch_stalls_total{class="lost_ipi"}'); rec=$(pv $O csdwatch_recoveries_total)
ktap_print_msg "exported: lost_ipi stalls $lost (before the injection: $S0_stalls_lost_ipi), recoveries $rec (before: $S0_recoveries)"
check "the rescued stall comes back: csdwatch_stalls_total{class=\"lost_ipi\"} and csdwatch_recoveries_total above their values before the injection" eval \
	'[ "${lost:-0}" -gt "$S0_stalls_lost_ipi" ] && [ "${rec:-0}" -gt "$S0_recoveries" ]'
if [ -e $H ]; then
	check "the histogram gives back the file's buckets (le = HI - 1 ns, cumulative), between its reads before and after; +Inf = _count; _sum between the lower-bound sums" \
		hist_match $O $W/hist-before $W/hist-after
	lo=$((ms * 500000)); hi=$((ms * 2000000 + 2000000))
	k=$(unprom $O | awk -v c="$cpu" -v lo=$lo -v hi=$hi \
		'$1 == c && $2 <= hi && ($3 == "inf" || $3 + 0 > lo) { n += $4 } END { print n + 0 }')
	ktap_print_msg "waits of CPU $cpu in buckets meeting [$((ms / 2)), $((ms * 2 + 2))] ms: $k"
	check "the stall is in CPU $cpu's exported buckets meeting [$((ms / 2)), $((ms * 2 + 2))] ms" \
		eval '[ "$ms" -ge 1 ] && [ "$k" -ge 1 ]'
else
	check "no wait_histogram (Linux 6.12, the load said so): no histogram exported, a comment says why" eval \
		'case $(uname -r) in 6.12.*) true ;; *) false ;; esac &&
		 dmesg | grep -q "csdwatch: no debugfs/csdwatch/wait_histogram" &&
		 ! grep -q "^csdwatch_wait_seconds" $O && grep -q "^# csdwatch-prom: no wait histogram: no $H" $O'
	ktap_test_skip "no wait_histogram on Linux 6.12: no stall to find in it"
fi
mode=$(stat -c %a $O)
check "written by rename: the old file (second name) kept its content, the new one is mode 644, nothing else left in $OD" eval \
	'[ "$(cat $W/old)" = old ] && [ "$mode" = 644 ] && [ "$(ls -A $OD)" = csdwatch.prom ]'

# 8. a snapshot of the files, exported with CSDWATCH_SYSFS: its own values
mkdir -p $SNAP/module/csdwatch/stats $SNAP/module/csdwatch/parameters
for f in $S/*; do cat "$f" > $SNAP/module/csdwatch/stats/"${f##*/}"; done
cat $P/hooks > $SNAP/module/csdwatch/parameters/hooks
if [ -e $H ]; then
	mkdir -p $SNAP/kernel/debug/csdwatch
	cat $H > $SNAP/kernel/debug/csdwatch/wait_histogram
	hcheck="hist_match $W/snap.prom $SNAP/kernel/debug/csdwatch/wait_histogram $SNAP/kernel/debug/csdwatch/wait_histogram"
else
	hcheck=true
fi
(cd $SNAP/module/csdwatch/stats && for f in *; do read -r v < "$f"; echo "$f $v"; done) > $W/snap-stats
CSDWATCH_SYSFS=$SNAP sh $X > $W/snap.prom; rc=$?
check "a snapshot (CSDWATCH_SYSFS): exit 0, exactly its values exported, stats and histogram" eval \
	'[ $rc = 0 ] && stats_match $W/snap.prom $W/snap-stats $W/snap-stats && $hcheck'
# for the host (selftests/harness/prometheus-check.sh): the snapshot, then its export
sed 's/^/# snap: stats /' $W/snap-stats
echo "# snap: hooks $(cat $SNAP/module/csdwatch/parameters/hooks)"
[ -e $H ] && sed 's/^/# snap: hist /' $SNAP/kernel/debug/csdwatch/wait_histogram
sed 's/^/# prom: /' $W/snap.prom

[ -n "$DIAG" ] && diagnose
check "unload" unload_both
rm -rf $OD $SNAP $W
ktap_finished
