#!/usr/bin/env bash
# Print the cached guest kernel build directory for ARCH if it is built
# (used by the top-level Makefile when no KDIR= is given).
. "$(dirname "$0")/env.sh"
d=$(kernel_dir "${1:-x86_64}")
[ -e "$d/.csdwatch-built" ] && echo "$d"
exit 0
