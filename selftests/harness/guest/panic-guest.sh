#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# panic_ms, in a guest of its own (it ends by panicking): a target with
# IRQs off for 5 s while csdwatch has panic_ms=1500 must panic the kernel
# at ~1.5 s with a csdwatch panic line, so kdump would capture the machine.
# scripts/run-tests.sh checks the console; reaching the end is a failure.
# Control: irqs_off_report.sh runs the same fault with panic_ms=0 (default)
# and the kernel stays up.
. /payload/selftests/csdwatch/lib.sh
load_both panic_ms=1500 || exit 1
echo "csdwatch-panic: injecting irqs_off for 5000 ms with panic_ms=1500"
run irqs_off 1 5000
echo "csdwatch-panic: still alive after the fault (panic_ms did not fire)"
exit 1
