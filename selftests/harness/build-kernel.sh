#!/usr/bin/env bash
# Build the csdwatch guest kernel for ARCH (x86_64 | arm64) into the cache:
# tinyconfig + selftests/harness/kconfig/{common,ARCH}.config (+ the variant's
# fragment if CSDWATCH_VARIANT is set, selftests/harness/env.sh), out of tree
# (O=), keyed by source version, fragments and toolchain (selftests/harness/env.sh).
# A second run with nothing changed only checks the stamp and returns.
# Prints the build directory on stdout.
. "$(dirname "$0")/env.sh"
arch=${1:?usage: build-kernel.sh x86_64|arm64}
out=$(kernel_dir "$arch")
# One build per kernel at a time: run-tests.sh builds the later kernels
# beside the first guests, and any script that needs one of them meanwhile
# waits here for that build, then finds it done.
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [ -e "$out/.csdwatch-built" ]; then
	echo "$out"; exit 0
fi
[ -e "$SRC_DIR/.done" ] || die "no kernel source: run selftests/harness/setup.sh first"

karch=$(arch_kbuild "$arch")
cross=$(arch_cross "$arch")
# shellcheck disable=SC2207
mk=(make -s -C "$SRC_DIR" O="$out" ARCH="$karch" CROSS_COMPILE="$cross"
    BINDGEN="$BINDGEN" RUST_LIB_SRC="$RUST_LIB_SRC" -j"$(nproc)" $(kernel_make_args "$arch"))
frag="$out/csdwatch.config"
mkdir -p "$out"
# shellcheck disable=SC2046
cat $(kernel_fragments "$arch") > "$frag"

log "configuring $arch kernel in $out"
"${mk[@]}" tinyconfig >/dev/null
KCONFIG_CONFIG="$out/.config" "$SRC_DIR/scripts/kconfig/merge_config.sh" \
	-m -O "$out" "$out/.config" "$frag" >/dev/null
"${mk[@]}" olddefconfig >/dev/null

# Every fragment line must have survived olddefconfig.
missing=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) grep -qxF "$line" "$out/.config" || { log "dropped: $line"; missing=1; } ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		grep -q "^$opt=" "$out/.config" && { log "still set: $opt"; missing=1; } ;;
	esac
done < "$frag"
[ $missing = 0 ] || die "config fragment not honoured (see above): an option's dependencies are unmet"

log "building $arch kernel (make -j$(nproc)); log: $out/build.log"
start=$SECONDS
if ! "${mk[@]}" all > "$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	die "$arch kernel build failed"
fi
log "$arch kernel built in $((SECONDS - start)) s"
touch "$out/.csdwatch-built"
echo "$out"
