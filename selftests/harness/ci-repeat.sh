#!/usr/bin/env bash
# Run CI (.ci/run) N times, each from a fresh clone of this checkout's HEAD,
# optionally with the host loaded by a kernel build running beside it, and
# print one line per run plus a summary (logs kept in
# $CSDWATCH_CACHE/ci-repeat/). For the closing notes of issues
# that ask for repeated clean-clone runs; not a test itself.
#   selftests/harness/ci-repeat.sh N [--load]
# --load: a loop of `make -j2` of the x86_64 kernel in a scratch build
# directory (clean, then build) runs for as long as the CI runs do.
. "$(dirname "$0")/env.sh"
n=${1:?usage: ci-repeat.sh N [--load]}; load=${2:-}
work=$(mktemp -d /tmp/csdwatch-ci.XXXXXX)
shared=$(cd "$CSDWATCH_TOP/../shared" 2>/dev/null && pwd || true)
loadpid=
if [ "$load" = --load ]; then
	kdir=$(bash "$CSDWATCH_TOP/selftests/harness/build-kernel.sh" x86_64)
	scratch=$work/kbuild
	mkdir -p "$scratch" && cp "$kdir/.config" "$scratch/.config"
	# its own session, so the whole loop (make and its children) is killed
	setsid bash -c 'while :; do
		make -s -C "$0" O="$1" -j2 olddefconfig
		make -s -C "$0" O="$1" -j2 BINDGEN="$2" RUST_LIB_SRC="$3" vmlinux
		make -s -C "$0" O="$1" clean
	done' "$SRC_DIR" "$scratch" "$BINDGEN" "$RUST_LIB_SRC" >/dev/null 2>&1 &
	loadpid=$!
	log "host load: kernel build loop (pid $loadpid) in $scratch"
fi
trap '[ -n "$loadpid" ] && kill -- -"$loadpid" 2>/dev/null; rm -rf "$work"' EXIT
pass=0
stamp=$(date +%Y%m%d-%H%M%S)
for i in $(seq 1 "$n"); do
	rm -rf "$work/clone"; mkdir -p "$work/clone"
	git clone -q "$CSDWATCH_TOP" "$work/clone/main"
	[ -n "$shared" ] && ln -s "$shared" "$work/clone/shared"
	start=$SECONDS
	set +e
	(cd "$work/clone/main" && bash .ci/run) > "$work/run-$i.log" 2>&1
	rc=$?
	set -e
	line=$(tail -1 "$work/run-$i.log")
	echo "run $i: exit $rc, $((SECONDS - start)) s, $line, load avg $(cut -d' ' -f1 /proc/loadavg)"
	[ "$rc" = 0 ] && pass=$((pass + 1))
	# every run's log is kept, for the figures a closing note quotes
	mkdir -p "$CSDWATCH_CACHE/ci-repeat"
	cp "$work/run-$i.log" "$CSDWATCH_CACHE/ci-repeat/$stamp-$i-rc$rc.log"
	[ "$rc" = 0 ] || grep -E 'not ok|timed out|ended badly' "$work/run-$i.log" | head -20
done
echo "ci-repeat: $pass of $n runs passed$( [ "$load" = --load ] && echo ', host loaded by a kernel build')"
