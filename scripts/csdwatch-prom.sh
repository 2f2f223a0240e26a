#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# csdwatch's counters and wait-time histogram in the Prometheus text format,
# for node_exporter's textfile collector (Documentation/csdwatch.rst,
# "Prometheus"). POSIX sh and awk only: runs under busybox too.
#
#   csdwatch-prom.sh [OUTFILE]
#
# Without OUTFILE the metrics go to stdout. With it they are written to a
# temporary file in OUTFILE's directory (a name node_exporter does not read:
# it reads *.prom only) and renamed over OUTFILE, so that a scrape never
# sees a half-written file. CSDWATCH_SYSFS (default /sys) is the root the
# files are read under, for a copy of them taken elsewhere:
#   $CSDWATCH_SYSFS/module/csdwatch/stats/*          counters and gauges
#   $CSDWATCH_SYSFS/module/csdwatch/parameters/hooks the hooks in use
#   $CSDWATCH_SYSFS/kernel/debug/csdwatch/wait_histogram (root only)
# Exit 0 when the metrics were written (a missing or unreadable
# wait_histogram, as on Linux 6.12 or for a user other than root, leaves the
# histogram out and says so in a comment line); 1 if csdwatch is not loaded
# (OUTFILE is then removed, so that node_exporter stops serving the last
# values) or the output could not be written.
set -u
me=csdwatch-prom
root=${CSDWATCH_SYSFS:-/sys}
stats=$root/module/csdwatch/stats
hooks=$root/module/csdwatch/parameters/hooks
hist=$root/kernel/debug/csdwatch/wait_histogram
out=${1:-}

if [ ! -d "$stats" ]; then
	echo "$me: csdwatch is not loaded: no $stats" >&2
	[ -z "$out" ] || rm -f "$out"
	exit 1
fi
if [ ! -e "$hist" ]; then
	hstate="no $hist (Linux 6.12's csdwatch has none; or debugfs is not mounted)"
elif [ ! -r "$hist" ]; then
	hstate="$hist is not readable (mode 0400: run as root)"
else
	hstate=ok
fi

metrics() {
	# every stats file: the metric it becomes, its type and help, in the
	# order of the ABI document; files not named here are listed in a
	# comment. The histogram: see the HELP line and the rst.
	(cd "$stats" && ls) | awk -v S="$stats" -v H="$hist" -v HS="$hstate" -v HK="$hooks" '
	function num(v) { return v ~ /^[0-9]+$/ }
	function family(name, type, help) {
		printf "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type
	}
	# stats/FILE as metric NAME of TYPE; the value as the file has it
	function stat(file, name, type, help,    v) {
		known[file] = 1
		if (!(file in present)) { printf "# %s: no stats/%s, left out\n", ME, file; return }
		v = ""; getline v < (S "/" file); close(S "/" file)
		if (!num(v)) { printf "# %s: stats/%s is not a number, left out\n", ME, file; return }
		family(name, type, help); print name, v
	}
	# microseconds (an integer string) as seconds, exactly
	function us2s(v) {
		while (length(v) < 7) v = "0" v
		return substr(v, 1, length(v) - 6) "." substr(v, length(v) - 5)
	}
	# nanoseconds as seconds, exactly (integers below 2^53)
	function ns2s(v,    i) { i = int(v / 1e9); return sprintf("%.0f.%09.0f", i, v - i * 1e9) }
	BEGIN { ME = "csdwatch-prom" }
	{ present[$0] = 1; order[++np] = $0 }
	END {
		stat("waits", "csdwatch_waits_total", "counter",
		     "Synchronous cross-CPU call waits with a remote target seen since csdwatch was loaded.")
		# the four stall classes: one family, label class
		nc = split("lost_ipi irqs_off slow_handler target_offline", cls, " ")
		nv = 0
		for (i = 1; i <= nc; i++) {
			f = "stalls_" cls[i]; known[f] = 1; v = ""
			if (f in present) { getline v < (S "/" f); close(S "/" f) }
			if (num(v)) sv[++nv] = "csdwatch_stalls_total{class=\"" cls[i] "\"} " v
			else printf "# %s: no number in stats/%s, left out\n", ME, f
		}
		if (nv) {
			family("csdwatch_stalls_total", "counter",
			       "Stalled waits (the watchdog resent their IPI, reported or panicked), by stall class, counted once each.")
			for (i = 1; i <= nv; i++) print sv[i]
		}
		stat("ipis_resent", "csdwatch_ipis_resent_total", "counter",
		     "Call-function IPIs csdwatch sent again (waits and queue side).")
		stat("recoveries", "csdwatch_recoveries_total", "counter",
		     "Lost-IPI stalls that ended after csdwatch resent their IPI.")
		stat("reports", "csdwatch_reports_total", "counter",
		     "Stall reports printed (after the rate limit).")
		known["longest_wait_us"] = 1; v = ""
		if ("longest_wait_us" in present) { getline v < (S "/longest_wait_us"); close(S "/longest_wait_us") }
		if (num(v)) {
			family("csdwatch_longest_wait_seconds", "gauge",
			       "Longest wait seen since csdwatch was loaded (stats/longest_wait_us).")
			print "csdwatch_longest_wait_seconds", us2s(v)
		} else printf "# %s: no number in stats/longest_wait_us, left out\n", ME
		stat("in_flight", "csdwatch_waits_in_flight", "gauge",
		     "Waits in flight when read.")
		stat("dropped", "csdwatch_dropped_total", "counter",
		     "Waits not tracked (all slots busy, waiter on a CPU going offline, kretprobe instance missing).")
		stat("watchdog_ticks", "csdwatch_watchdog_ticks_total", "counter",
		     "Watchdog timer callbacks run, all CPUs together.")
		stat("idle_ticks", "csdwatch_idle_ticks_total", "counter",
		     "Watchdog ticks that had nothing to look at (counted in csdwatch_watchdog_ticks_total too).")
		stat("queue_stalls", "csdwatch_queue_stalls_total", "counter",
		     "Call queues (calls nobody waits for) left unflushed that the queue side acted on, one per episode.")
		stat("queue_recoveries", "csdwatch_queue_recoveries_total", "counter",
		     "Queue stalls flushed after the queue side resent the IPI.")
		stat("queue_watches", "csdwatch_queue_watches_total", "counter",
		     "Queue watches taken by a pushing CPU watchdog.")
		stat("queue_resends", "csdwatch_queue_resends_total", "counter",
		     "Call-function IPIs the queue side resent (counted in csdwatch_ipis_resent_total too).")
		stat("stand_ins", "csdwatch_stand_ins_total", "counter",
		     "Watchdog ticks a CPU ran for another CPU whose own watchdog was late (counted in csdwatch_watchdog_ticks_total too).")
		known["tick_ns"] = 1; v = ""
		if ("tick_ns" in present) { getline v < (S "/tick_ns"); close(S "/tick_ns") }
		if (num(v)) {
			family("csdwatch_tick_seconds_total", "counter",
			       "Time spent in watchdog ticks, all CPUs together (stats/tick_ns).")
			print "csdwatch_tick_seconds_total", ns2s(v)
		} else printf "# %s: no number in stats/tick_ns, left out\n", ME
		for (i = 1; i <= np; i++)
			if (!((f = order[i]) in known)) printf "# %s: stats/%s is not known to this exporter, left out\n", ME, f

		h = ""; getline h < HK; close(HK)
		if (h ~ /^[a-z_]+$/) {
			family("csdwatch_info", "gauge", "csdwatch is loaded; label hooks: where it learns of pushes and IPI sends.")
			print "csdwatch_info{hooks=\"" h "\"} 1"
		}

		if (HS != "ok") { printf "# %s: no wait histogram: %s\n", ME, HS; exit 0 }
		# Kernel bucket k holds waits of [2^k, 2^(k+1)) ns (bucket 0:
		# [0, 2), bucket 39: from 2^39 on). Waits are whole ns, so bucket
		# k is exactly the waits <= 2^(k+1) - 1 ns: that is its le.
		p[0] = 1
		for (k = 1; k <= 40; k++) p[k] = p[k - 1] * 2
		for (k = 1; k <= 39; k++) klo[sprintf("%.0f", p[k])] = k
		klo["0"] = 0
		bad = ""; n = 0; line = 0
		while ((getline r < H) > 0) {
			line++
			m = split(r, c, " ")
			if (line == 1) { if (r != "cpu from_ns to_ns count") bad = "unknown header: " r; continue }
			if (c[1] == "all") continue
			k = (c[2] in klo) ? klo[c[2]] : -1
			if (m != 4 || !num(c[1]) || !num(c[4]) || k < 0 ||
			    c[3] != (k == 39 ? "inf" : sprintf("%.0f", p[k + 1]))) { bad = "unknown row: " r; break }
			if (!(c[1] in seen)) { seen[c[1]] = 1; cpu[++n] = c[1] }
			cnt[c[1], k] += c[4]
		}
		close(H)
		if (bad != "") { printf "# %s: wait histogram left out, %s\n", ME, bad; exit 0 }
		family("csdwatch_wait_seconds", "histogram",
		       "Tracked csd wait times by waiting CPU (debugfs csdwatch/wait_histogram, log2 buckets; le is the bucket end less 1 ns, exact for whole-ns waits). _sum is a lower bound: each wait at its bucket start.")
		for (i = 1; i <= n; i++) {
			c1 = cpu[i]; cum = 0; sum = 0
			for (k = 0; k <= 39; k++) {
				cum += cnt[c1, k]; sum += cnt[c1, k] * (k ? p[k] : 0)
				if (k < 39)
					printf "csdwatch_wait_seconds_bucket{cpu=\"%s\",le=\"%s\"} %.0f\n", c1, ns2s(p[k + 1] - 1), cum
			}
			printf "csdwatch_wait_seconds_bucket{cpu=\"%s\",le=\"+Inf\"} %.0f\n", c1, cum
			printf "csdwatch_wait_seconds_sum{cpu=\"%s\"} %.9f\n", c1, sum / 1e9
			printf "csdwatch_wait_seconds_count{cpu=\"%s\"} %.0f\n", c1, cum
		}
	}'
}

if [ -z "$out" ]; then
	metrics
	exit
fi
if tmp=$(mktemp "$(dirname "$out")/.csdwatch-prom.XXXXXX"); then
	if metrics > "$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$out"; then
		exit 0
	fi
	rm -f "$tmp"
fi
echo "$me: could not write $out" >&2
exit 1
