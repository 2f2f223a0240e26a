#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo, inside the guest: load csdwatch and show what an operator sees.
say() { echo; echo "== $*"; }
say "kernel: $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs, $(uname -v | grep -o PREEMPT_RT || echo "not RT")"
say "insmod csdwatch.ko"
insmod /payload/csdwatch.ko || exit 1
dmesg | grep 'csdwatch:' | grep -v 'taints' | sed 's/^/    /' | tail -3
say "tunables: /sys/module/csdwatch/parameters/"
for f in /sys/module/csdwatch/parameters/*; do printf '    %-16s %s\n' "${f##*/}" "$(cat "$f")"; done
say "counters: /sys/module/csdwatch/stats/"
for f in /sys/module/csdwatch/stats/*; do printf '    %-24s %s\n' "${f##*/}" "$(cat "$f")"; done
say "rmmod csdwatch"
rmmod csdwatch || exit 1
[ ! -e /sys/module/csdwatch ] && echo "    unloaded, nothing left in /sys/module"
