#!/usr/bin/env bash
# The test command (README): KUnit suites and selftests in QEMU guests on
# every row of the tested matrix, ending with "N passed, N failed". The
# rows, their variables (ARCHES=, TICKLESS_ARCHES=, ...) and the harness
# are in selftests/harness/run-tests.sh; Documentation/testing.rst says
# what each row runs.
exec bash "$(dirname "$0")/../selftests/harness/run-tests.sh" "$@"
