#!/usr/bin/env bash
# Set up, build the guest kernel, csdwatch and csd_inject for ARCH, and boot
# a guest that runs GUEST_SCRIPT (console on stdout and in LOG). Shared by
# the demo and the benchmark.
#   selftests/harness/boot-guest.sh ARCH GUEST_SCRIPT LOG [KERNEL_APPEND]
. "$(dirname "$0")/env.sh"
arch=${1:?arch}; script=${2:?guest script}; logf=${3:?log}; append=${4:-quiet}
bash "$CSDWATCH_TOP/selftests/harness/setup.sh"
bash "$CSDWATCH_TOP/selftests/harness/build-kernel.sh" "$arch" >/dev/null
pl=$(mktemp -d); trap 'rm -rf "$pl"' EXIT
bash "$CSDWATCH_TOP/selftests/harness/payload.sh" "$arch" "$pl" "$script"
log "booting $arch guest (PREEMPT_RT, 4 CPUs, TCG); console log: $logf"
bash "$CSDWATCH_TOP/selftests/harness/qemu-run.sh" "$arch" "$pl" "$logf" 600 "$append"
