#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Every repository path that README.md and Documentation/ name exists.

    selftests/harness/doc_paths.py [TOP [KERNEL_SRC]]

Paths are words beginning with one of the repository's top-level
directories (rust/, scripts/, selftests/, Documentation/) that are not
part of a longer path (/sys/..., /usr/src/...). Braces are expanded
(csdwatch-prom.{service,timer}) and a glob must match at least one file.
Not the repository's, so not checked: build products (.ko, .rmeta, .o)
and paths of the kernel's own tree (rust/helpers/sync.c, scripts/sign-file)
that exist in KERNEL_SRC.
Prints one TAP-like line per document, "ok - ..." or "not ok - ...",
naming the missing paths; exits 1 if any is missing.
"""
import glob
import os
import re
import sys

TOP = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(os.path.dirname(__file__), ".."))
KSRC = sys.argv[2] if len(sys.argv) > 2 else None
BUILT = (".ko", ".rmeta", ".o")
DIRS = ("rust", "scripts", "selftests", "Documentation")
WORD = re.compile(r"(?<![\w./~$-])((?:%s)/[\w.{},*/+-]*[\w}*/])" % "|".join(DIRS))


def expand(p):
    m = re.search(r"\{([^{}]*)\}", p)
    if not m:
        return [p]
    return [q for alt in m.group(1).split(",")
            for q in expand(p[:m.start()] + alt + p[m.end():])]


def missing_in(doc):
    bad = set()
    n = 0
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    for word in WORD.findall(text):
        for p in expand(word.rstrip(".,")):
            if p.endswith(BUILT) or (KSRC and os.path.exists(os.path.join(KSRC, p))):
                continue
            n += 1
            full = os.path.join(TOP, p)
            if not (glob.glob(full) if "*" in p else os.path.exists(full)):
                bad.add(p)
    return n, sorted(bad)


def main():
    docs = [os.path.join(TOP, "README.md")]
    for root, _, files in os.walk(os.path.join(TOP, "Documentation")):
        docs += [os.path.join(root, f) for f in sorted(files) if not f.endswith(".svg")]
    failed = 0
    for doc in docs:
        n, bad = missing_in(doc)
        rel = os.path.relpath(doc, TOP)
        if bad:
            failed = 1
            print("not ok - %s names %d path(s) not in the repository: %s" % (rel, len(bad), " ".join(bad)))
        else:
            print("ok - every repository path %s names exists (%d)" % (rel, n))
    return failed


if __name__ == "__main__":
    sys.exit(main())
