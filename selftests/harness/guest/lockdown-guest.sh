#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the lockdown boot (scripts/run-tests.sh, the lockdown kernel
# variant: module signing and the lockdown LSM), booted with
# lockdown=integrity module.sig_enforce=1, as a Secure Boot machine runs.
# The payload has csdwatch.ko and csd_inject.ko signed with that kernel's
# build key, and csdwatch-unsigned.ko, the same module unsigned. One
# document, lockdown-secure_boot. KTAP output.
cd /payload
echo 1 > /proc/sys/kernel/printk
. /payload/ktap_helpers.sh
. /payload/selftests/csdwatch/lib.sh
L=/sys/kernel/security/lockdown
H=/sys/kernel/debug/csdwatch/wait_histogram
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null

doc() {
ktap_print_header
ktap_set_plan 9
ktap_print_msg "lockdown: $(cat $L 2>/dev/null); sig_enforce: $(cat /sys/module/module/parameters/sig_enforce 2>/dev/null)"
check "booted locked down (integrity) with signatures enforced" eval \
	'grep -q "\[integrity\]" $L && [ "$(cat /sys/module/module/parameters/sig_enforce)" = Y ]'
dmesg_mark
command insmod /payload/csdwatch-unsigned.ko 2>/tmp/err; rc=$?
ktap_print_msg "unsigned: insmod exit $rc: $(cat /tmp/err)"
check "csdwatch unsigned: refused, and nothing of it loaded" eval \
	'[ $rc != 0 ] && ! grep -q "^csdwatch " /proc/modules && [ ! -d /sys/module/csdwatch ]'
check "signed with the kernel's build key: csdwatch and csd_inject load" load_both
check "counters and parameters readable" eval \
	'cat $S/waits $S/ipis_resent $P/resend_ms $P/hooks >/dev/null'
check "parameters writable (not unsafe ones): resend_ms set and put back" eval \
	'echo 30 > $P/resend_ms && [ "$(cat $P/resend_ms)" = 30 ] && echo 20 > $P/resend_ms'
# No fault can be injected here: csd_inject is driven through debugfs
# files with a write bit, which lockdown closes (so is the canary check,
# scripts/csdwatch-canary.sh). The kernel's own cross calls are the waits:
# a shell moved over every CPU, whose exits flush the TLBs it left there.
check "the injector's debugfs controls are closed by lockdown (EPERM), as documented" eval \
	'! echo 1 2>/dev/null > /sys/kernel/debug/csd_inject/senders'
read -r W0 < $S/waits
for c in 0 1 2 3 0 1 2 3; do taskset -c $c sh -c 'i=0; while [ $i -lt 50 ]; do i=$((i + 1)); done' 2>/dev/null; done
read -r W1 < $S/waits
ktap_print_msg "waits +$((W1 - W0)); wait_histogram: $(ls -l $H 2>&1 | cut -c1-10), $(wc -l < $H 2>&1) lines"
check "the wait histogram is readable in debugfs (0400) and counts waits" eval \
	'[ $((W1 - W0)) -ge 1 ] && [ "$(awk "\$1 == \"all\" { n += \$4 } END { print n + 0 }" $H)" -ge 1 ]'
# raise to confidentiality (lockdown only goes up): what still works
echo confidentiality > $L
unload_both
dmesg_mark
check "confidentiality: csdwatch (signed) loads, and its load says the trace events cannot be read" eval \
	'insmod /payload/csdwatch.ko && dmesg_new | grep -q "csdwatch: kernel lockdown (confidentiality): tracefs, perf and BPF are closed"'
check "confidentiality: counters and the wait histogram still readable" eval \
	'cat $S/waits >/dev/null && cat $H >/dev/null'
rmmod csdwatch
ktap_finished
}
echo "csdwatch-guest: $(cut -d' ' -f1 /proc/uptime) s: selftest lockdown"
doc 2>&1 | sed "s/^/KTAP|lockdown-secure_boot|/"
echo "----- guest dmesg -----"
dmesg
exit 0
