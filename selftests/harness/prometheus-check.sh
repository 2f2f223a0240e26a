#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host side of the Prometheus export test: the guest's selftest
# prometheus_export (selftests/csdwatch/prometheus_export.sh) prints a
# snapshot of csdwatch's files, taken after a lost IPI it rescued, as
# "# snap: " lines and scripts/csdwatch-prom.sh's export of it as "# prom: "
# lines. Here, on the console log of that guest run:
#   - promtool check metrics (Debian's prometheus) accepts the export;
#   - the exporter run on this host (its sh and awk) on the same snapshot
#     (CSDWATCH_SYSFS) writes the same metrics; without the histogram (as
#     on Linux 6.12) and without csdwatch it does what it says;
#   - Debian's prometheus-node-exporter, started on a free local port with
#     only its textfile collector on that file, serves every csdwatch
#     sample with its value, the injected stall (csdwatch_stalls_total
#     {class="lost_ipi"} >= 1) and the wait histogram among them.
#   selftests/harness/prometheus-check.sh CONSOLE_LOG
# Prints "ok - ..." and "not ok - ..." lines (scripts/run-tests.sh counts
# them); exits 1 if any is not ok. Needs promtool and
# prometheus-node-exporter (selftests/harness/setup.sh installs them), curl, python3.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
log=${1:?usage: prometheus-check.sh CONSOLE_LOG}
doc=selftest-prometheus_export
promtool=/usr/bin/promtool
nodeexp=/usr/bin/prometheus-node-exporter
exporter=$top/scripts/csdwatch-prom.sh

work=$(mktemp -d)
ne_pid=
cleanup() {
	if [ -n "$ne_pid" ]; then kill "$ne_pid" 2>/dev/null; wait "$ne_pid" 2>/dev/null; fi
	rm -rf "$work"
}
trap cleanup EXIT
nfail=0
# check DESCRIPTION COMMAND...: ok if the command succeeds; its output is
# shown as "# " lines when it fails. Run in this shell, not a subshell
# (start_ne sets ne_pid).
check() {
	local desc=$1
	shift
	if "$@" > "$work/out" 2>&1; then
		echo "ok - $desc"
	else
		echo "not ok - $desc"
		head -20 "$work/out" | sed 's/^/    # /'
		nfail=$((nfail + 1))
	fi
}

# the guest's lines of the document, without the console's CRs. Without
# them there is nothing to check: one failure, and stop.
{ tr -d '\r' < "$log"; } 2>/dev/null | sed -n "s/^.*KTAP|$doc|# prom: //p" > "$work/guest.prom"
{ tr -d '\r' < "$log"; } 2>/dev/null | sed -n "s/^.*KTAP|$doc|# snap: //p" > "$work/snap.txt"
if [ ! -s "$work/guest.prom" ] || ! grep -q '^stats ' "$work/snap.txt"; then
	echo "not ok - the guest printed the export and its snapshot: no '# prom: ' or '# snap: stats' lines of $doc in $log"
	exit 1
fi
echo "ok - the guest printed the export ($(wc -l < "$work/guest.prom") lines) and its snapshot ($(wc -l < "$work/snap.txt") lines)"

tools() {
	local t
	for t in "$promtool" "$nodeexp" curl python3; do
		command -v "$t" >/dev/null || { echo "$t missing (selftests/harness/setup.sh installs it)"; return 1; }
	done
}
check "promtool, prometheus-node-exporter, curl and python3 are there" tools

promtool_ok() { [ -s "$1" ] && "$promtool" check metrics < "$1"; }
check "promtool check metrics accepts the guest's export" promtool_ok "$work/guest.prom"

# the snapshot back as files under a root for CSDWATCH_SYSFS
snap=$work/snap
mkdir -p "$snap/module/csdwatch/stats" "$snap/module/csdwatch/parameters"
while read -r kind a b; do
	case $kind in
	stats) echo "$b" > "$snap/module/csdwatch/stats/$a" ;;
	hooks) echo "$a" > "$snap/module/csdwatch/parameters/hooks" ;;
	hist) mkdir -p "$snap/kernel/debug/csdwatch"
	      echo "$a${b:+ $b}" >> "$snap/kernel/debug/csdwatch/wait_histogram" ;;
	esac
done < "$work/snap.txt"

# the exporter here, into node_exporter's textfile directory; comment
# lines name the guest's paths, the metrics must be the same
tdir=$work/textfile
mkdir -p "$tdir"
same() {
	CSDWATCH_SYSFS=$snap sh "$exporter" "$tdir/csdwatch.prom" || { echo "exit $?"; return 1; }
	diff <(grep -v '^# csdwatch-prom: ' "$work/guest.prom") <(grep -v '^# csdwatch-prom: ' "$tdir/csdwatch.prom")
}
check "the exporter here ($(readlink -f /bin/sh), $(readlink -f "$(command -v awk)")) on the guest's snapshot (CSDWATCH_SYSFS) writes the guest's metrics" same

# the snapshot without its histogram, as Linux 6.12 has it
nohist() {
	local s=$work/snap-nohist
	cp -r "$snap" "$s" && rm -rf "$s/kernel"
	CSDWATCH_SYSFS=$s sh "$exporter" > "$work/nohist.prom" || { echo "exit $?"; return 1; }
	grep -q '^# csdwatch-prom: no wait histogram: no ' "$work/nohist.prom" || { echo "no comment"; return 1; }
	! grep -q '^csdwatch_wait_seconds' "$work/nohist.prom" || { echo "a histogram"; return 1; }
	grep -q '^csdwatch_stalls_total{class="lost_ipi"} ' "$work/nohist.prom" || { echo "no stalls"; return 1; }
	promtool_ok "$work/nohist.prom"
}
check "without wait_histogram (Linux 6.12): exit 0, the counters, no histogram, a comment saying so; promtool accepts it" nohist

# without csdwatch: exit 1, a message, and the stale file removed
unloaded() {
	local d=$work/unloaded
	mkdir -p "$d/module" "$d/out"
	echo stale > "$d/out/csdwatch.prom"
	if CSDWATCH_SYSFS=$d sh "$exporter" "$d/out/csdwatch.prom" 2> "$d/err"; then echo "exit 0"; return 1; fi
	grep -q 'csdwatch is not loaded' "$d/err" && [ ! -e "$d/out/csdwatch.prom" ]
}
check "without csdwatch: exit 1, 'csdwatch is not loaded', the stale file removed" unloaded

# node_exporter with only the textfile collector, on a free local port
start_ne() {
	local port
	[ -s "$tdir/csdwatch.prom" ] || cp "$work/guest.prom" "$tdir/csdwatch.prom"
	for _ in 1 2 3; do
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		"$nodeexp" --collector.disable-defaults --collector.textfile \
			--collector.textfile.directory="$tdir" --web.listen-address="127.0.0.1:$port" \
			> "$work/node-exporter.log" 2>&1 &
		ne_pid=$!
		for _ in $(seq 50); do
			if curl -sf "http://127.0.0.1:$port/metrics" > "$work/scrape.txt"; then
				echo "node_exporter pid $ne_pid on 127.0.0.1:$port"
				return 0
			fi
			kill -0 "$ne_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$ne_pid" 2>/dev/null; wait "$ne_pid" 2>/dev/null; ne_pid=
	done
	tail -5 "$work/node-exporter.log"
	return 1
}
check "prometheus-node-exporter --collector.textfile.directory=DIR on 127.0.0.1 answers /metrics" start_ne

# the scrape against the file: python3 parses both (node_exporter writes le
# and values in its own float format)
serves() {
	python3 - "$tdir/csdwatch.prom" "$work/scrape.txt" "$1" <<'PY'
import re, sys
line = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
def samples(path):
    out = {}
    for l in open(path):
        l = l.rstrip("\n")
        if not l or l.startswith("#"):
            continue
        m = line.match(l)
        if not m:
            sys.exit("unparsed line in %s: %s" % (path, l))
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if "le" in labels:
            labels["le"] = repr(float(labels["le"]))
        out[(m.group(1), tuple(sorted(labels.items())))] = float(m.group(4))
    return out
f, s = samples(sys.argv[1]), samples(sys.argv[2])
what = sys.argv[3]
if what == "served":
    if s.get(("node_textfile_scrape_error", ())) != 0.0:
        sys.exit("node_textfile_scrape_error is %s" % s.get(("node_textfile_scrape_error", ())))
    sc = {k: v for k, v in s.items() if k[0].startswith("csdwatch_")}
    missing = [k for k in f if sc.get(k) != f[k]]
    extra = [k for k in sc if k not in f]
    for k in missing[:5]:
        print("file %s %s = %s, scrape %s" % (k[0], dict(k[1]), f[k], sc.get(k)))
    for k in extra[:5]:
        print("scrape only: %s %s = %s" % (k[0], dict(k[1]), sc[k]))
    print("%d csdwatch samples in the file, %d in the scrape" % (len(f), len(sc)))
    sys.exit(1 if missing or extra or not f else 0)
if what == "stall":
    v = s.get(("csdwatch_stalls_total", (("class", "lost_ipi"),)))
    print('csdwatch_stalls_total{class="lost_ipi"} = %s in the scrape' % v)
    sys.exit(0 if v is not None and v >= 1 else 1)
if what == "histogram":
    cpus = {dict(k[1])["cpu"] for k in s if k[0] == "csdwatch_wait_seconds_count"}
    bad = 0
    for c in sorted(cpus):
        b = sorted((float(dict(k[1])["le"]), v) for k, v in s.items()
                   if k[0] == "csdwatch_wait_seconds_bucket" and dict(k[1])["cpu"] == c)
        cnt = s[("csdwatch_wait_seconds_count", (("cpu", c),))]
        sm = s.get(("csdwatch_wait_seconds_sum", (("cpu", c),)))
        if not b or b[-1][0] != float("inf") or b[-1][1] != cnt or sm is None or \
           any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            print("cpu %s: buckets %s, _count %s, _sum %s" % (c, b[-3:], cnt, sm))
            bad = 1
    total = sum(s[("csdwatch_wait_seconds_count", (("cpu", c),))] for c in cpus)
    print("%d CPUs, %d waits" % (len(cpus), total))
    sys.exit(1 if bad or not cpus or total < 1 else 0)
PY
}
if [ -n "$ne_pid" ]; then
	check "node_exporter serves every csdwatch sample of the file with its value, node_textfile_scrape_error 0" serves served
	check "the injected stall comes back through node_exporter: csdwatch_stalls_total{class=\"lost_ipi\"} >= 1" serves stall
	check "the wait histogram comes back through node_exporter: per-CPU cumulative buckets, le=\"+Inf\" = _count, _sum, waits counted" serves histogram
else
	for d in "served with its values" "the injected stall" "the wait histogram"; do
		echo "not ok - node_exporter: $d (node_exporter did not start)"; nfail=$((nfail + 1))
	done
fi
[ "$nfail" = 0 ]
