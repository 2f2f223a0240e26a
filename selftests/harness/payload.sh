#!/usr/bin/env bash
# Build csdwatch and the csd_inject test module for ARCH and put together a
# guest payload directory (selftests/harness/qemu-run.sh boots it and runs run.sh):
#   selftests/harness/payload.sh ARCH DIR RUN_SCRIPT [BUILD_LOG]
# CSDWATCH_HOOKS=MODE: every load of csdwatch in guest-run.sh gets hooks=MODE.
# With CSDWATCH_PREBUILT=D, the modules are taken from D instead (and
# D/kernel/{torture,scftorture}.ko if there).
# DIR gets csdwatch.ko, csd_inject.ko, kprobe_neighbour.ko, run.sh,
# selftests/csdwatch/ (the tests and their lib.sh), the kernel's ktap_helpers.sh and csdwatch-prom.sh (the
# Prometheus exporter, for selftests/csdwatch/prometheus_export.sh) and
# csdwatch-canary.sh (for selftests/csdwatch/canary.sh).
. "$(dirname "$0")/env.sh"
arch=${1:?arch}; pl=${2:?dir}; run=${3:?run script}; blog=${4:-/dev/null}
mkdir -p "$pl/selftests"
if [ -n "${CSDWATCH_PREBUILT:-}" ]; then
	# modules built elsewhere (selftests/harness/stock-kernel.sh, for a distro kernel)
	cp "$CSDWATCH_PREBUILT/csdwatch.ko" "$CSDWATCH_PREBUILT/csd_inject.ko" \
		"$CSDWATCH_PREBUILT/kprobe_neighbour.ko" "$pl/"
else
	mod=$(bash "$CSDWATCH_TOP/selftests/harness/build-module.sh" "$arch" . 2>"$blog") \
		|| { cat "$blog" >&2; die "$arch: csdwatch build failed"; }
	inj=$(bash "$CSDWATCH_TOP/selftests/harness/build-module.sh" "$arch" selftests/csd_inject 2>>"$blog") \
		|| { cat "$blog" >&2; die "$arch: csd_inject build failed"; }
	nb=$(bash "$CSDWATCH_TOP/selftests/harness/build-module.sh" "$arch" selftests/kprobe_neighbour 2>>"$blog") \
		|| { cat "$blog" >&2; die "$arch: kprobe_neighbour build failed"; }
	cp "$mod/csdwatch.ko" "$inj/csd_inject.ko" "$nb/kprobe_neighbour.ko" "$pl/"
fi
# the kernel's smp_call_function torture, for selftests/csdwatch/scftorture.sh
kd=${CSDWATCH_PREBUILT:-$(kernel_dir "$arch")}
for m in kernel/torture.ko kernel/scftorture.ko; do
	[ -e "$kd/$m" ] && cp "$kd/$m" "$pl/"
done
cp "$run" "$pl/run.sh"
# the hooks csdwatch is loaded with in this guest (guest-run.sh): empty for
# its default (auto), or auto|tracepoints|kprobes
rm -f "$pl/hooks"
[ -z "${CSDWATCH_HOOKS:-}" ] || echo "$CSDWATCH_HOOKS" > "$pl/hooks"
# The suite is what its kselftest Makefile lists: a test file left out of
# TEST_PROGS would never run, a listed one missing would never be noticed.
st=$CSDWATCH_TOP/selftests/csdwatch
listed=$(sed -n 's/^TEST_PROGS += //p' "$st/Makefile" | sort)
present=$(cd "$st" && ls -- *.sh | grep -vx lib.sh | sort)
[ "$listed" = "$present" ] || die "selftests/csdwatch: *.sh and the Makefile's TEST_PROGS differ: $(diff <(echo "$listed") <(echo "$present") | grep '^[<>]' | tr '\n' ' ')"
# ... and runs on a kernel with what its config fragment asks for (a
# distro kernel, CSDWATCH_PREBUILT, is what it is: the tests that need
# KUnit or scftorture there say so and skip)
if [ -z "${CSDWATCH_PREBUILT:-}" ]; then
	missing=$(grep -vxFf "$kd/.config" <(grep '^CONFIG_' "$st/config") | tr '\n' ' ' || true)
	[ -z "$missing" ] || die "$arch kernel $kd lacks what selftests/csdwatch/config needs: $missing"
fi
cp -r "$st" "$pl/selftests/"
cp "$SRC_DIR/tools/testing/selftests/kselftest/ktap_helpers.sh" "$pl/"
cp "$CSDWATCH_TOP/scripts/csdwatch-prom.sh" "$pl/"
cp "$CSDWATCH_TOP/scripts/csdwatch-canary.sh" "$pl/"
