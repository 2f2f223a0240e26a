#!/usr/bin/env bash
# Boot a csdwatch guest kernel in QEMU (TCG) with a payload and return the
# guest's verdict as the exit code.
#
#   scripts/qemu-run.sh ARCH PAYLOAD_DIR LOG [TIMEOUT_S] [EXTRA_APPEND]
#
# PAYLOAD_DIR is copied to /payload in a busybox initramfs; /init mounts
# proc, sys, devtmpfs and debugfs, runs /payload/run.sh, prints
# "csdwatch-guest: exit=N" and reboots (-no-reboot makes QEMU exit).
# The serial console goes to LOG and to stdout. Exit code: N, or 124 if the
# guest timed out, or 125 if it ended without a verdict (panic, oops).
# It always ends: timeout(1) kills QEMU, panic=-1 and oops=panic turn any
# crash into an immediate reboot.
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
kdir=$(bash "$CSDWATCH_TOP/scripts/build-kernel.sh" "$arch")
image=$kdir/$(arch_image "$arch")

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,payload,etc}
case $arch in
x86_64) cp /bin/busybox "$root/bin/busybox" ;;
arm64) cp "$TOOLS_DIR/busybox-arm64/bin/busybox" "$root/bin/busybox" ;;
esac
cp -a "$payload"/. "$root/payload/"
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmp /tmp
echo "csdwatch-guest: booted $(uname -r) $(uname -m) cpus=$(grep -c ^processor /proc/cpuinfo)"
cd /payload
sh /payload/run.sh
echo "csdwatch-guest: exit=$?"
sync
reboot -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

common=(-smp "${CSDWATCH_SMP:-4}" -m 1024 -nographic -no-reboot -accel tcg,thread=multi
	-kernel "$image" -initrd "$work/initrd.gz")
append="panic=-1 oops=panic loglevel=7 log_buf_len=4M $extra"
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
