#!/usr/bin/env bash
# Boot a csdwatch guest kernel in QEMU (TCG) with a payload and return the
# guest's verdict as the exit code.
#
#   selftests/harness/qemu-run.sh ARCH PAYLOAD_DIR LOG [TIMEOUT_S] [EXTRA_APPEND]
#
# PAYLOAD_DIR is copied to /payload in a busybox initramfs; /init mounts
# proc, sys, devtmpfs and debugfs, runs /payload/run.sh, prints
# "csdwatch-guest: exit=N" and reboots (-no-reboot makes QEMU exit).
# The serial console goes to LOG and to stdout. Exit code: N, or 124 if the
# guest timed out, or 125 if it ended without a verdict (panic, oops).
# It always ends: timeout(1) kills QEMU, panic=-1 and oops=panic turn any
# crash into an immediate reboot.
#
# A hung guest explains itself before the host kills it (its console then
# holds every CPU's and every blocked task's stack):
#   - the kernel's detectors panic, and a panic prints all CPUs' backtraces
#     and the blocked tasks (panic_sys_info=all_bt,blocked_tasks): soft
#     lockup (a CPU that schedules nothing for 2 x watchdog_thresh = 20 s),
#     RCU CPU stall (21 s, CONFIG_RCU_CPU_STALL_TIMEOUT), hung task (a task
#     in D state for 60-120 s). The tests hold stalls of at most a few
#     seconds on purpose (4 s IRQs off, 5 s in the panic run), far below;
#   - a guest-side watchdog, started by /init, that fires WATCHDOG_MARGIN
#     seconds of guest uptime before TIMEOUT_S (the host timeout): it
#     prints the kernel log's tail, sysrq l (all CPUs' backtraces, NMI) and
#     w (blocked tasks) with the console turned up, then sysrq c (panic).
#     It needs one CPU that can still run a task; the detectors need none.
# The guest verdict is then 125 (no verdict), and scripts/run-tests.sh
# prints the console from the first dump on.
#
# Why not virtme-ng: evaluated first (PyPI/Debian virtme-ng). vng boots the
# host's root filesystem over 9p/virtiofs with its own init, so the guest
# kernel needs virtio-pci, 9p/virtiofs, overlayfs, net and vsock options
# (vng --kconfig), which are not in a tinyconfig kernel; for arm64 it also
# needs an arm64 root filesystem on an x86_64 host. That is a ~15 min
# defconfig-sized build per arch here instead of ~7 min, and a second
# userspace to bring in. Our payload is a handful of shell scripts and .ko
# files: a 1.2 MB busybox initramfs boots in seconds under TCG and needs
# nothing from the host at run time.
. "$(dirname "$0")/env.sh"
arch=${1:?arch}; payload=${2:?payload dir}; logf=${3:?log file}
tmo=${4:-600}; extra=${5:-}
# CSDWATCH_IMAGE: boot that kernel image instead of the guest kernel (a
# distribution's binary, selftests/harness/stock-kernel.sh)
if [ -n "${CSDWATCH_IMAGE:-}" ]; then
	image=$CSDWATCH_IMAGE
else
	kdir=$(bash "$CSDWATCH_TOP/selftests/harness/build-kernel.sh" "$arch")
	image=$kdir/$(arch_image "$arch")
fi

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,payload,etc}
case $arch in
x86_64) cp /bin/busybox "$root/bin/busybox" ;;
arm64) cp "$TOOLS_DIR/busybox-arm64/bin/busybox" "$root/bin/busybox" ;;
esac
cp -a "$payload"/. "$root/payload/"
# the guest watchdog's deadline, in guest uptime: the guest boots a few
# seconds after QEMU starts, the margin leaves time to print the stacks
margin=60; [ "$tmo" -le 240 ] && margin=$((tmo / 4))
echo $((tmo - margin)) > "$root/etc/watchdog_s"
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmp /tmp
echo "csdwatch-guest: booted $(uname -r) $(uname -m) cpus=$(grep -c ^processor /proc/cpuinfo)"
# x86 under TCG: the switch from tsc-early to the refined tsc, a few
# seconds into boot, once moved the clock 15 s at a stroke in the middle of
# a test (a fault's safety deadline then fired early). Start the tests
# once the clocksource has settled (at most 30 s).
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
n=0
while [ "$(cat $cs 2>/dev/null)" = tsc-early ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
echo "csdwatch-guest: clocksource $(cat $cs 2>/dev/null) after $((n / 10)).$((n % 10)) s"
# guest watchdog (see qemu-run.sh): dump and crash before the host timeout
wd=$(cat /etc/watchdog_s)
(
	up=$(cut -d. -f1 /proc/uptime)
	[ "$up" -lt "$wd" ] && sleep $((wd - up))
	echo "csdwatch-guest: watchdog: no verdict after ${wd} s; kernel log tail, sysrq l (CPUs), w (blocked tasks), then c"
	dmesg | tail -80 | sed 's/^/csdwatch-guest: dmesg: /'
	echo 7 > /proc/sys/kernel/printk	# sysrq handlers print at the console level
	echo l > /proc/sysrq-trigger
	echo w > /proc/sysrq-trigger
	sleep 5
	echo c > /proc/sysrq-trigger
) &
cd /payload
sh /payload/run.sh
echo "csdwatch-guest: exit=$?"
sync
# the tty returns before the UART has sent what it buffered: a reboot at
# once lost the tail of a 200-line dmesg dump and the verdict line with
# it, under a loaded host (x86_64-big, verdict 125 after all tests passed)
sleep 3
reboot -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

# CSDWATCH_ICOUNT=1 (selftests/harness/bench.sh): one host thread runs the vCPUs in
# turn and guest time is their instruction count (1 ns per instruction;
# an idle guest jumps to its next timer): what the guest measures is then
# work done, not the host's scheduling, and two runs agree to a few 0.1 %.
# CSDWATCH_TCG=single: one host thread runs the vCPUs in turn, without
# icount (selftests/investigations/qemu-xmc.sh's control run: multi-threaded TCG can run a
# stale translation of code another vCPU rewrote, single-threaded cannot).
accel=(-accel "tcg,thread=${CSDWATCH_TCG:-multi}")
[ -n "${CSDWATCH_ICOUNT:-}" ] && accel=(-accel tcg,thread=single -icount shift=0,sleep=off)
common=(-smp "${CSDWATCH_SMP:-4}" -m 1024 -nographic -no-reboot "${accel[@]}"
	-kernel "$image" -initrd "$work/initrd.gz")
# hang detectors: panic with every CPU's and every blocked task's stack
hang="softlockup_panic=1 softlockup_all_cpu_backtrace=1 hung_task_panic=1
	sysctl.kernel.hung_task_timeout_secs=60 sysctl.kernel.hung_task_all_cpu_backtrace=1
	sysctl.kernel.panic_on_rcu_stall=1 panic_sys_info=all_bt,blocked_tasks"
# noirqdebug: with the host loaded, the x86 guest once declared the serial
# port's IRQ spurious ("Disabling IRQ #4") and its console fell silent
# until the host timeout; the spurious-IRQ detector has nothing to find in
# these guests.
# the tickless variant: CPUs 1-3 stop their tick while idle or running
# one task (CPU 0 keeps time)
[ "$CSDWATCH_VARIANT" = nohz ] && extra="nohz_full=1-$((${CSDWATCH_SMP:-4} - 1)) $extra"
append="panic=-1 oops=panic loglevel=7 log_buf_len=4M noirqdebug $(echo $hang) $extra"
case $arch in
x86_64) cmd=(qemu-system-x86_64 -machine q35 -cpu max "${common[@]}"
	     -append "console=ttyS0 $append") ;;
arm64) cmd=(qemu-system-aarch64 -machine virt,gic-version=3 -cpu max "${common[@]}"
	    -append "console=ttyAMA0 irqchip.gicv3_pseudo_nmi=1 $append") ;;
esac
set +e
timeout -k 5 "$tmo" "${cmd[@]}" </dev/null 2>&1 | tee "$logf"
qrc=${PIPESTATUS[0]}
set -e
[ "$qrc" = 124 ] && { log "$arch guest timed out after ${tmo}s"; exit 124; }
rc=$(sed -n 's/^.*csdwatch-guest: exit=\([0-9]*\).*$/\1/p' "$logf" | tail -1)
[ -n "$rc" ] || { log "$arch guest ended without a verdict (qemu rc=$qrc)"; exit 125; }
exit "$rc"
