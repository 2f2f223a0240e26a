#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the lines of selftests/harness/guest/bench-guest.sh into the benchmark table.

    bench_table.py BENCH_TXT [OUT_DIR]

Input lines: bench|P|kernel|watcher|what|round|value. Prints reST tables
(medians, min..max, ratios); with OUT_DIR writes table.rst there and, if
gnuplot is installed, p2.svg (cost per call relative to nothing watching).
"""
import collections
import os
import shutil
import statistics
import subprocess
import sys


def load(path):
    d = collections.defaultdict(list)
    for line in open(path):
        f = line.strip().split("|")
        if len(f) != 7 or f[0] != "bench":
            continue
        _, p, kernel, watcher, what, rnd, value = f
        d[(p, kernel, watcher, what)].append((int(rnd), value))
    return d


def nums(d, key):
    return [float(v) for _, v in d.get(key, []) if v.lstrip("-").isdigit()]


def med(xs):
    return statistics.median(xs) if xs else None


def span(xs, fmt="{:.0f}"):
    if not xs:
        return "-"
    m = med(xs)
    if len(xs) == 1:
        return fmt.format(m)
    return (fmt + " ({}..{})").format(m, fmt.format(min(xs)), fmt.format(max(xs)))


def table(head, rows):
    cols = list(zip(*([head] + rows)))
    w = [max(len(str(c)) for c in col) for col in cols]
    rule = "  ".join("=" * n for n in w)
    fmt = lambda r: "  ".join(str(c).ljust(n) for c, n in zip(r, w)).rstrip()
    return "\n".join([rule, fmt(head), rule] + [fmt(r) for r in rows] + [rule])


def ratio(a, b, fmt="{:.0f}x"):
    return fmt.format(a / b) if a is not None and b else "-"


def paired(d, kernel, w1, w0, what):
    """Per-round ratio w1/w0 of the same boot (alternated): median (min..max)."""
    a = dict((r, float(v)) for r, v in d.get(("P2", kernel, w1, what), []))
    b = dict((r, float(v)) for r, v in d.get(("P2", kernel, w0, what), []))
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r]]


def main():
    d = load(sys.argv[1])
    outdir = sys.argv[2] if len(sys.argv) > 2 else None
    parts = []

    rows = []
    for sc, label in (("lost_ipi", "lost IPI behind smp_call_function_single(wait=1)"),
                      ("lost_ipi_rcu", "lost IPI behind synchronize_rcu_expedited()")):
        none = nums(d, ("P1", "default", "none", sc))
        cw = nums(d, ("P1", "default", "csdwatch", sc))
        c10 = nums(d, ("P1", "default", "csdwatch_resend10", sc))
        ml = nums(d, ("P1", "mainline", "mainline", sc))
        rows.append([label, span(none), span(ml), span(cw), ratio(med(ml), med(cw)),
                     span(c10), ratio(med(ml), med(c10))])
    parts.append("P1, lost-IPI recovery: the waiter's stall, ms (fault held 8000 ms)\n\n" + table(
        ["scenario", "nothing watching", "mainline debug", "csdwatch defaults",
         "mainline / csdwatch", "csdwatch resend_ms=10", "mainline / that"], rows))

    rows, plot = [], []
    for what, label in (("single", "smp_call_function_single(wait), ns/call"),
                        ("many", "on_each_cpu(wait), 4 CPUs, ns/call"),
                        ("tlb", "tlbstorm mmap/mprotect/munmap, ns/loop")):
        none = nums(d, ("P2", "default", "none", what))
        cw = nums(d, ("P2", "default", "csdwatch", what))
        ml = nums(d, ("P2", "mainline", "mainline", what))
        pr = paired(d, "default", "csdwatch", "none", what)
        st = paired(d, "stock", "csdwatch", "none", what)
        rows.append([label, span(none), span(cw), span(pr, "{:.3f}"), span(ml),
                     ratio(med(ml), med(none), "{:.3f}"), span(st, "{:.3f}")])
        mlr = [x / med(none) for x in ml] if none and ml else []
        plot.append((what, med(pr) or 0, min(pr or [0]), max(pr or [0]),
                     med(mlr) or 0, min(mlr or [0]), max(mlr or [0]),
                     med(st) or 0, min(st or [0]), max(st or [0])))
    parts.append("P2, cost per cross-call: median (min..max) over the rounds\n\n" + table(
        ["load", "nothing watching", "csdwatch", "csdwatch / nothing (paired)",
         "mainline debug", "mainline / nothing", "Debian stock: csdwatch / nothing (paired)"],
        rows))

    variants = sorted({k[2] for k in d if k[0] == "P2" and k[1] == "default"
                       and k[2] not in ("none", "csdwatch")})
    if variants:
        rows = []
        for what in ("single", "many", "tlb"):
            line = [what, span(paired(d, "default", "csdwatch", "none", what), "{:.3f}")]
            for w in variants:
                line.append(span(paired(d, "default", w, "none", what), "{:.3f}"))
            rows.append(line)
        parts.append("P2 breakdown: time per call relative to nothing watching, paired rounds, "
                     "median (min..max); each variant is csdwatch with one piece left out, "
                     "or (kprobes) loaded with hooks=kprobes\n\n" +
                     table(["load", "csdwatch"] + [w.split("-", 1)[-1] for w in variants],
                           rows))

    rows = []
    for ld, label in (("none", "no calls"), ("sparse2", "10 calls/s to CPU 2"),
                        ("sparse3", "10 calls/s to CPU 3")):
        line = [label]
        per = {}
        for w in ("none", "csdwatch"):
            for cpu in ("cpu2", "cpu3"):
                xs = []
                for _, v in d.get(("P3", "nohz", w, ld), []):
                    kv = dict(x.split("=") for x in v.split())
                    xs.append(float(kv[cpu]) / float(kv["s"]))
                per[(w, cpu)] = xs
                line.append(span(xs, "{:.1f}"))
        for cpu in ("cpu2", "cpu3"):
            a, b = med(per[("csdwatch", cpu)]), med(per[("none", cpu)])
            line.append("{:+.1f}".format(a - b) if a is not None and b is not None else "-")
        rows.append(line)
    ticks = nums(d, ("P3", "nohz", "csdwatch", "watchdog_ticks"))
    parts.append("P3, timer interrupts per second (LOC), nohz_full=1-3; CPU 2 idle, "
                 "CPU 3 running a user-space loop; csdwatch's own timer callbacks per "
                 "30 s window: " + span(ticks) + "\n\n" + table(
                     ["load", "CPU 2, nothing", "CPU 3, nothing", "CPU 2, csdwatch",
                      "CPU 3, csdwatch", "added on CPU 2", "added on CPU 3"], rows))

    rows = []
    for k, w, label in (("default", "csdwatch", "csdwatch defaults (report_ms=1000)"),
                        ("default", "csdwatch_report500", "csdwatch report_ms=500"),
                        ("mainline", "mainline", "mainline csdlock_debug=1"),
                        ("default", "softlockup", "soft-lockup detector"),
                        ("default", "rcu_stall", "RCU CPU stall warning")):
        xs = [x for x in nums(d, ("P4", k, w, "report")) if x >= 0]
        rows.append([label, span(xs)])
    parts.append("P4, an IRQs-off target: ms from the fault's start to the first line "
                 "naming it (soft lockup: the first line at all, which comes when the target's "
                 "IRQs are back on, and names the target)\n\n" + table(["detector", "ms"], rows))

    # P5: round = the guest's vCPU count, one run per mode and boot
    smps = sorted({r for k, v in d.items() if k[0] == "P5" and k[3] == "tick" for r, _ in v})
    if smps:
        rows = []
        for mode in ("tracepoints", "kprobes", "pushes"):
            per = {}
            for what in ("tick", "ticks"):
                for r, v in d.get(("P5", "default", "csdwatch-" + mode, what), []):
                    if v.lstrip("-").isdigit() and int(v) >= 0:
                        per.setdefault(r, {})[what] = int(v)
            line = ["hooks=" + mode]
            for n in smps:
                c = per.get(n, {})
                line.append("{} ({} ticks)".format(c["tick"], c.get("ticks", "?"))
                            if "tick" in c else "-")
            lo, hi = per.get(smps[0], {}).get("tick"), per.get(smps[-1], {}).get("tick")
            line.append(ratio(hi, lo, "{:.2f}") if len(smps) > 1 else "-")
            rows.append(line)
        parts.append("P5, tick cost, guest instructions per watchdog tick with one wait in flight "
                     "(icount; stats/tick_ns over stats/watchdog_ticks, CPU 0 waiting 2 s on "
                     "CPU 1 with IRQs off, report_ms=0 resend_ms=0)\n\n" + table(
                         ["hooks"] + ["{} vCPUs".format(n) for n in smps]
                         + ["{} / {}".format(smps[-1], smps[0])], rows))

    text = "\n\n".join(parts) + "\n"
    print(text)
    if outdir:
        open(os.path.join(outdir, "table.rst"), "w").write(text)
        if shutil.which("gnuplot"):
            dat = os.path.join(outdir, "p2.dat")
            with open(dat, "w") as f:
                for i, p in enumerate(plot):
                    f.write(("{} {}" + " {:.4f}" * 9 + "\n").format(i, p[0], *p[1:]))
            svg = os.path.join(outdir, "p2.svg")
            png = os.path.join(outdir, "p2.png")
            script = ""
            for term, path in (("svg size 720,400 noenhanced font 'sans,11'", svg),
                               ("pngcairo size 720,400 noenhanced font 'sans,10'", png)):
                script += f"""
set terminal {term}
set output '{path}'
set title 'Cost per cross-call relative to nothing watching (x86_64, icount: guest instructions)'
set ylabel 'cost per call / unwatched'
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
set grid ytics
set key top right
plot '{dat}' using 3:4:5:xtic(2) title 'csdwatch, test kernel', \\
     '' using 9:10:11 title 'csdwatch, Debian stock rt kernel', \\
     '' using 6:7:8 title 'mainline csdlock_debug=1', \\
     1 with lines dt 2 lc rgb 'black' notitle
"""
            subprocess.run(["gnuplot"], input=script.encode(), check=False)


if __name__ == "__main__":
    main()
