#!/usr/bin/env bash
# Benchmark (never run by CI, never a pass/fail): csdwatch side by side
# with mainline's CONFIG_CSD_LOCK_WAIT_DEBUG and the kernel's lockup and
# RCU stall detectors, on one kernel source and one QEMU (x86_64, TCG).
#
#   selftests/harness/bench.sh [OUT_DIR]      (ROUNDS=5; DUR=1000 icount, 2000 real)
#   RUNS=default:p2:icount ROUNDS=3 selftests/harness/bench.sh   (a quick P2 comparison)
#   RUNS=default:tick:icount selftests/harness/bench.sh   the cost of one watchdog
#       tick with one wait in flight (P5), per hooks mode, the default
#       kernel booted once per vCPU count in TICK_SMP (default "4 16 64")
#   BENCH_TMO=S: the host's timeout per guest boot (default 1800 s)
#   BREAKDOWN=1 selftests/harness/bench.sh    where the cost per call goes: P2 on the
#       default kernel with csdwatch and with builds of it that each leave
#       one piece out (a patched copy in a temp dir, never shipped; its
#       load-time hook check is left out too, as it would refuse a build
#       without one of its hooks):
#         no_tracepoints  every event probe (csd_queue_cpu, csd_function_*,
#                         ipi_send_*): no push, flush or single wait is seen
#         empty_probes    not a piece: every event probe registered, each
#                         returning at once (the floor any design on the
#                         events pays: the kernel's tracepoint calls)
#         no_origin       the record of who pushed first (rust/origin.rs)
#         no_ipi_events   what the ipi_send_* probes record (the events
#                         still call them)
#         no_flush_record what csd_function_entry records on the target
#         no_anchor       the post_handlers and anchor kprobes that keep
#                         kprobes on ftrace safe beside other probers
#         no_timer        the watchdog timer's arm and cancel
#         per_wait_cancel not a piece: the timer cancelled after every wait,
#                         as before bursts kept it armed
#
# Boots four guest kernels, each cached like the test kernels
# (selftests/harness/build-kernel.sh, selftests/harness/stock-kernel.sh):
#   default    the test kernel: nothing watching, then csdwatch, in turn
#   csddebug   the same + CONFIG_CSD_LOCK_WAIT_DEBUG, booted csdlock_debug=1
#   nohz       the tickless variant, booted nohz_full=1-3
#   stock      Debian's linux-image-7.3.4+deb13-rt-amd64 (P2 only: nothing
#              watching and csdwatch, in turn)
# and runs selftests/harness/guest/bench-guest.sh in each. Prints the table
# (selftests/harness/bench_table.py: medians with min..max, ratios) and writes
# OUT_DIR (default $CSDWATCH_CACHE/bench/DATE): bench.txt (raw lines),
# table.rst, and with gnuplot (installed from Debian if missing) p2.svg.
. "$(dirname "$0")/env.sh"
arch=x86_64
out=${1:-$CSDWATCH_CACHE/bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
raw=$out/bench.txt; : > "$raw"
bash "$CSDWATCH_TOP/selftests/harness/setup.sh"
command -v gnuplot >/dev/null || { log "installing gnuplot-nox for the plot"; \
	apt-get install -y -q gnuplot-nox >/dev/null 2>&1 || log "no gnuplot: no plot"; }

# variant_ko NAME SED_SCRIPT [FILE]: csdwatch built from a copy of the tree
# whose FILE (default rust/shim.c) went through SED_SCRIPT (which must
# change it), as csdwatch-NAME.ko
variant_ko() {
	local name=$1 expr=$2 f=${3:-rust/shim.c} d
	d=$(mktemp -d)
	(cd "$CSDWATCH_TOP" && tar --exclude=.git -cf - .) | tar -xf - -C "$d"
	sed -i -e "$expr" "$d/$f"
	cmp -s "$d/$f" "$CSDWATCH_TOP/$f" && die "variant $name: the patch no longer applies"
	# a build without one of its hooks would refuse itself at load
	sed -i 's/let proven = hookup::prove()?;/let proven = hookup::Proven::Seen;/' "$d/rust/csdwatch_main.rs"
	cmp -s "$d/rust/csdwatch_main.rs" "$CSDWATCH_TOP/rust/csdwatch_main.rs" &&
		die "variant $name: the hook check is no longer where bench.sh takes it out"
	cp "$(bash "$d/selftests/harness/build-module.sh" "$arch" .)/csdwatch.ko" "$pl/csdwatch-$name.ko" \
		|| die "variant $name: build failed"
	rm -rf "$d"
}
# The guest boots, KERNEL:PART:CLOCK. CLOCK icount: guest time is
# instruction count (selftests/harness/qemu-run.sh CSDWATCH_ICOUNT), so the cost
# per call is measured free of the host's noise; real: wall-clock time
# (P1, P4: recovery and report times; P3: interrupt counts).
RUNS=${RUNS:-default:p2:icount csddebug:p2:icount stock:p2:icount default:p1p4:real csddebug:p1p4:real nohz:p3:real}
[ -n "${BREAKDOWN:-}" ] && RUNS=default:breakdown:icount

start=$SECONDS
for run in $RUNS; do
	IFS=: read -r name ONLY clock <<< "$run"
	pl=$(mktemp -d)
	image=""
	case $name in
	stock)	# Debian's own binary, csdwatch built for it as README says
		unset CSDWATCH_VARIANT
		bash "$CSDWATCH_TOP/selftests/harness/stock-kernel.sh" "$arch" >/dev/null
		mods=$(mktemp -d)
		bash "$CSDWATCH_TOP/selftests/harness/stock-kernel.sh" "$arch" build "$mods" || die "stock build failed"
		image=$(bash "$CSDWATCH_TOP/selftests/harness/stock-kernel.sh" "$arch")/vmlinuz
		CSDWATCH_PREBUILT=$mods bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$pl" \
			"$CSDWATCH_TOP/selftests/harness/guest/bench-guest.sh"
		cp "$mods/csd_bench.ko" "$pl/"
		rm -rf "$mods" ;;
	*)	export CSDWATCH_VARIANT=${name#default}
		bash "$CSDWATCH_TOP/selftests/harness/build-kernel.sh" "$arch" >/dev/null
		bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$pl" "$CSDWATCH_TOP/selftests/harness/guest/bench-guest.sh"
		bm=$(bash "$CSDWATCH_TOP/selftests/harness/build-module.sh" "$arch" selftests/csd_bench) \
			|| die "csd_bench build failed"
		cp "$bm/csd_bench.ko" "$pl/" ;;
	esac
	gcc -O2 -static -pthread -o "$pl/tlbstorm" "$CSDWATCH_TOP/selftests/csd_bench/tlbstorm.c" \
		|| die "tlbstorm build failed"
	printf 'export ROUNDS=%s DUR=%s ONLY=%s BENCH_KERNEL=%s\n' "${ROUNDS:-5}" \
		"${DUR:-$([ "$clock" = icount ] && echo 1000 || echo 2000)}" \
		"$ONLY" "$([ $name = stock ] && echo stock)" | cat - "$pl/run.sh" > "$pl/run2.sh"
	mv "$pl/run2.sh" "$pl/run.sh"
	if [ "${ONLY:-}" = breakdown ]; then
		variant_ko no_tracepoints 's/ret = csdw_tps_register(&failed);/ret = 0;/'
		variant_ko empty_probes '/^static void csdw_tp_\(queue\|func_entry\|func_exit\|ipi_cpu\|ipi_mask\)(/,/^{$/ s/^{$/{ if (data != (void *)1) return;/'
		variant_ko no_origin '/^        record_push(sh, cpu, /d' rust/hooks.rs
		variant_ko no_ipi_events 's/if (callback != csdw_cfsi || cpu >= nr_cpu_ids)$/if (1)/; s/if (callback != csdw_cfsi)$/if (1)/'
		variant_ko no_flush_record 's/^\t\tcsdwatch_rs_function_enter(raw_smp_processor_id(), csd, (unsigned long)func);/\t\t;/'
		variant_ko no_anchor 's/^#ifdef CONFIG_KPROBES_ON_FTRACE$/#if 0/'
		variant_ko no_timer '/^void csdw_watchdog_arm(u64 now, u64 delay_ns)$/,/^{$/ s/^{$/{ return;/; /^void csdw_watchdog_quiesce(void)$/,/^{$/ s/^{$/{ return;/'
		variant_ko per_wait_cancel 's/watcher == cpu \&\& !t.ended_in_burst(now, Param::Tick.ns())/watcher == cpu/' rust/hooks.rs
	fi
	append=""
	[ "$name" = csddebug ] && append="csdlock_debug=1"
	# the tick part boots once per vCPU count; the others once, with
	# CSDWATCH_SMP's (qemu-run.sh: default 4)
	smps=${CSDWATCH_SMP:-4}
	[ "$ONLY" = tick ] && smps=${TICK_SMP:-4 16 64}
	for smp in $smps; do
		clog=$out/$name-$ONLY-console.log
		[ "$ONLY" = tick ] && clog=$out/$name-$ONLY-smp$smp-console.log
		log "bench: booting the $name kernel for $ONLY ($clock clock, $smp vCPUs)"
		CSDWATCH_SMP=$smp CSDWATCH_ICOUNT=$([ "$clock" = icount ] && echo 1) CSDWATCH_IMAGE=$image \
			bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" "$arch" "$pl" "$clog" "${BENCH_TMO:-1800}" "$append" \
			>/dev/null || log "bench: the $name guest ended with $? (see $clog)"
		tr -d '\r' < "$clog" | grep '^bench|' >> "$raw" || log "bench: no bench lines in $clog"
	done
	rm -rf "$pl"
done
unset CSDWATCH_VARIANT
log "bench: guests ran in $((SECONDS - start)) s; raw lines in $raw"
python3 "$CSDWATCH_TOP/selftests/harness/bench_table.py" "$raw" "$out"
