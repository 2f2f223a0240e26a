#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Take the result documents out of a guest console log and count them.

The guest prints each document as lines "KTAP|<doc>|<line>"
(selftests/harness/guest/guest-run.sh). Each document is parsed by the kernel tree's own
KTAP parser, `tools/testing/kunit/kunit.py parse --json`, never grepped;
leaf test cases are counted. A document the parser rejects, or an expected
document that never appeared, counts as one failure.

usage: ktap_summary.py KERNEL_SRC LOG LABEL OUTDIR [EXPECTED_DOC ...]
prints one line per case failure and per document, then
"<LABEL>: P passed, F failed, S skipped" on stdout; exit 1 if F > 0.
"""
import json
import os
import subprocess
import sys


def leaves(group):
    for case in group.get("test_cases", []):
        yield case
    for sub in group.get("sub_groups", []):
        yield from leaves(sub)


def main():
    ksrc, log, label, outdir, *expected = sys.argv[1:]
    docs = {}
    with open(log, errors="backslashreplace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            i = line.find("KTAP|")
            if i < 0:
                continue
            parts = line[i:].split("|", 2)
            if len(parts) == 3:
                docs.setdefault(parts[1], []).append(parts[2])
    kunit = os.path.join(ksrc, "tools/testing/kunit/kunit.py")
    passed = failed = skipped = 0
    os.makedirs(outdir, exist_ok=True)
    for name in expected:
        if name not in docs:
            print(f"{label}: not ok - {name}: no result document (did it run?)")
            failed += 1
    for name, lines in docs.items():
        src = os.path.join(outdir, f"{name}.ktap")
        out = os.path.join(outdir, f"{name}.json")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        if os.path.exists(out):
            os.unlink(out)
        r = subprocess.run([sys.executable, kunit, "parse", "--json=" + out, src],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            with open(out) as f:
                cases = list(leaves(json.load(f)))
        except (OSError, ValueError):
            cases = []
        p = sum(c["status"] == "PASS" for c in cases)
        s = sum(c["status"] == "SKIP" for c in cases)
        bad = [c for c in cases if c["status"] not in ("PASS", "SKIP")]
        for c in bad:
            print(f"{label}: not ok - {name}: {c['name']} ({c['status']})")
        fl = len(bad)
        # a document whose every case is skipped parses to SKIPPED, which
        # kunit.py exits non-zero for: its cases count as skipped
        only_skips = cases and all(c["status"] == "SKIP" for c in cases)
        if r.returncode != 0 and fl == 0 and not only_skips:
            print(f"{label}: not ok - {name}: kunit.py parse rejected it:")
            print("\n".join("    " + l for l in r.stdout.splitlines()[-15:]))
            fl = 1
        if not cases and fl == 0:
            print(f"{label}: not ok - {name}: no test cases")
            fl = 1
        print(f"{label}: {name}: {p} passed, {fl} failed, {s} skipped")
        passed, failed, skipped = passed + p, failed + fl, skipped + s
    print(f"{label}: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
