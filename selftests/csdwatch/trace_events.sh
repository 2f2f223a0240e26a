#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# csdwatch's own trace events (tracefs events/csdwatch/: stall, resend,
# recovered), enabled through tracefs as perf or bpftrace would: a lost IPI
# (plant=unsent: the kernel sent no IPI, the planter's pid is known from the
# injector) rescued by a resend, then a target with IRQs off. Each event's
# fields are checked against the injector's result, and the number of
# events against csdwatch's counters over the same runs. KTAP output.
. /payload/ktap_helpers.sh
. "$(dirname "$0")/lib.sh"
TR=/sys/kernel/tracing
[ -d $TR/events ] || TR=/sys/kernel/debug/tracing
E=$TR/events/csdwatch
# a trace instance of its own: its own buffer, events and tracing_on, so
# whatever the top-level buffer records (guest-run.sh keeps the csd events
# on there, with tracing off) neither fills nor is touched by this test
T=$TR/instances/csdwatch_test
DUR=1500

ktap_print_header
if [ ! -d $TR/events ]; then
	ktap_set_plan 1
	ktap_test_skip "no tracefs in this kernel (CONFIG_TRACING off): no trace events to test"
	ktap_finished
fi
ktap_set_plan 8
load_both || ktap_exit_fail_msg "insmod failed"
check "the events are in tracefs while csdwatch is loaded" \
	eval '[ -d $E/stall ] && [ -d $E/resend ] && [ -d $E/recovered ]'
check "their format has every field" eval \
	'for e in stall resend recovered; do for w in waiter target func class age_us ipi_sent pusher_pid resends; do grep -q "field:.* $w;" $E/$e/format || exit 1; done; done'
rmdir $T 2>/dev/null; mkdir $T
echo 1 > $T/events/csdwatch/enable; echo 1 > $T/tracing_on

# field VALUE of event line $1: "waiter=0 target=1 ..."
fld() { echo "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
# counts X: X_r (IPIs resent) and X_s (stalls counted) now, read with
# shell builtins, no fork: the kernel's own stalls keep coming (under TCG, a
# vCPU the host left unrun), so the reads must be close together
counts() {
	read -r _r < $S/ipis_resent; _s=0
	for _c in stalls_lost_ipi stalls_irqs_off stalls_slow_handler stalls_target_offline queue_stalls; do
		read -r _v < $S/$_c; _s=$((_s + _v))
	done
	eval "${1}_r=$_r ${1}_s=$_s"
}
# the trace is cleared between counter reads k0 and k1, and read between
# k2 and k3: each count of events N of kind K lies in [k2 - k1, k3 - k0]
within() {
	eval '[ "$1" -ge $((k2_'$2' - k1_'$2')) ] && [ "$1" -le $((k3_'$2' - k0_'$2')) ]'
}

# 1. a lost IPI nobody sent, rescued by a resend
settled
counts k0; echo > $T/trace; counts k1
echo unsent > $D/plant
run_standing "lost IPI" lost_ipi 1 $DUR || ktap_print_msg "lost IPI: the plant did not stand"
echo raw > $D/plant
sleep 0.3 # the waiter's watchdog closes a wait it acted on a tick after it ended
counts k2; tr=$(grep -E ' (stall|resend|recovered): ' $T/trace); counts k3
w=$(val sender0_cpu)
ktap_print_msg "lost IPI: waiter CPU $w, stall $(val sender0_stall_ms) ms, planter pid $(val planter_pid); events:"
echo "$tr" | sed 's/^ *//' | while read -r l; do ktap_print_msg "  $l"; done
# The rescue comes from the waiter's watchdog, or from the queue side when
# its look at CPU 1's queue comes first (the planted call is one nobody
# waits on): the events are the waiter's (waiter=W, class lost_ipi, the
# waited function) or the queue's (waiter=-1, class unwaited_queue, no
# function). Both name the planter as first pusher and no IPI sent.
rs=$(echo "$tr" | grep -E " resend: waiter=($w|-1) target=1 " | head -1)
side=$(fld "$rs" waiter)
if [ "$side" = -1 ]; then cls=unwaited_queue fn=0x0; else cls=lost_ipi fn=count_fn; fi
ktap_print_msg "rescued by the $( [ "$side" = -1 ] && echo "queue side" || echo "waiter's watchdog")"
st=$(echo "$tr" | grep " stall: waiter=$side target=1 " | head -1)
rc=$(echo "$tr" | grep " recovered: waiter=$side target=1 " | head -1)
check "resend: waiter, target, function, class, no IPI sent, the planter's pid" eval \
	'[ -n "$rs" ] && [ "$(fld "$rs" func)" = "$fn" ] && [ "$(fld "$rs" class)" = $cls ] && [ "$(fld "$rs" ipi_sent)" = 0 ] && [ "$(fld "$rs" pusher_pid)" = "$(val planter_pid)" ]'
check "stall and recovered: the same stall, the planter named, recovered after a resend, aged within the injector's stall (+ 2 ticks: the queue side sees the flush at its next look)" eval \
	'[ -n "$st" ] && [ -n "$rc" ] && [ "$(fld "$st" class)" = $cls ] && [ "$(fld "$st" pusher_pid)" = "$(val planter_pid)" ] && [ "$(fld "$rc" resends)" -ge 1 ] && [ "$(fld "$rc" age_us)" -le $(( ($(val sender0_stall_ms) + 2 * $(cat $P/tick_ms) + 1) * 1000 )) ]'
n_rs=$(echo "$tr" | grep -c " resend: ")
n_st=$(echo "$tr" | grep -c " stall: ")
ktap_print_msg "events: resend $n_rs, stall $n_st; counters (ipis_resent stalls) around the clear $k0_r $k0_s / $k1_r $k1_s, around the read $k2_r $k2_s / $k3_r $k3_s"
check "one resend event per IPI resent, one stall event per stall counted" eval \
	'within $n_rs r && within $n_st s'

# 2. a target with hard IRQs off: classed so
settled; echo > $T/trace
run irqs_off 1 $DUR || ktap_print_msg "irqs_off: run failed, err=$(val err)"
sleep 0.3
tr=$(grep -E ' (stall|resend|recovered): ' $T/trace)
w=$(val sender0_cpu)
ktap_print_msg "irqs_off: waiter CPU $w, stall $(val sender0_stall_ms) ms; events:"
echo "$tr" | sed 's/^ *//' | while read -r l; do ktap_print_msg "  $l"; done
st=$(echo "$tr" | grep " stall: waiter=$w target=1 " | head -1)
check "IRQs off: a stall event of class irqs_off for the waiter and CPU 1, func count_fn" eval \
	'[ -n "$st" ] && [ "$(fld "$st" class)" = irqs_off ] && [ "$(fld "$st" func)" = count_fn ]'
check "IRQs off: a recovered event when the target let it run" eval \
	'echo "$tr" | grep " recovered: waiter=$w target=1 " | grep -q "class=irqs_off"'
echo 0 > $T/events/csdwatch/enable; rmdir $T
[ -n "$DIAG" ] && diagnose
unload_both
check "unload: the events leave tracefs with the module" eval '[ ! -d $E ]'
ktap_finished
