#!/usr/bin/env bash
# The tested matrix's rows that a fresh run of scripts/run-tests.sh leaves
# out to end within 60 minutes (README, "Supported"): Linux 6.12 LTS
# (x86_64), Debian's stock rt kernel binaries (x86_64 with DKMS, and
# arm64) and the lockdown kernel (x86_64); LTS_ARCHES, STOCK_ARCHES and
# LOCKDOWN_ARCHES as for run-tests.sh. Prepares what they need into the cache
# (a kernel, a Debian 13 root; once) and runs them; from then on
# run-tests.sh, and so CI on the same machine, runs them too.
# Ends with "N passed, N failed".
#   selftests/harness/matrix.sh
. "$(dirname "$0")/env.sh"
CSDWATCH_ROWS=all ARCHES= TICKLESS_ARCHES= exec bash "$CSDWATCH_TOP/scripts/run-tests.sh"
