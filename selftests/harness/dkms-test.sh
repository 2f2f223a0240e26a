#!/usr/bin/env bash
# DKMS as a Debian 13 user runs it, in the stock root of
# selftests/harness/stock-kernel.sh (trixie with Debian's dkms, the headers of the
# trixie-backports 7.3 rt kernel, which has Rust, and of trixie's own 6.12
# rt kernel, which has not):
#   dkms add, then dkms install for both kernels.
# Prints TAP-like "dkms: ok - ..." / "dkms: not ok - ..." lines and exits
# non-zero if one failed.
#   selftests/harness/dkms-test.sh [ARCH]   (x86_64: the root must be native)
. "$(dirname "$0")/env.sh"
arch=${1:-x86_64}
sdir=$(bash "$CSDWATCH_TOP/selftests/harness/stock-kernel.sh" "$arch")
root=$sdir/root
read -r _ rust_kver < "$sdir/.done"
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$CSDWATCH_TOP/dkms.conf")
norust_kver=$(cd "$root/usr/src" && ls -d linux-headers-*-rt-* 2>/dev/null | sed 's/^linux-headers-//' |
	grep -v -x "$rust_kver" | grep -v common | head -1 || true)
pass=0; fail=0
ok() { echo "dkms: ok - $*"; pass=$((pass + 1)); }
nok() { echo "dkms: not ok - $*"; fail=$((fail + 1)); }
in_root() { bash "$CSDWATCH_TOP/selftests/harness/stock-kernel.sh" "$arch" run "$@"; }
log_f=$(mktemp); trap 'rm -f "$log_f"' EXIT

# the source as a user unpacks it: /usr/src/csdwatch-VERSION
in_root sh -c "dkms remove csdwatch/$ver --all >/dev/null 2>&1; rm -rf /usr/src/csdwatch-$ver"
mkdir -p "$root/usr/src/csdwatch-$ver"
(cd "$CSDWATCH_TOP" && tar --exclude='*.o' --exclude='*.ko' --exclude='.git' -cf - \
	dkms.conf Makefile Kbuild rust scripts/dkms-make.sh scripts/rust-kdir.sh) |
	tar -xf - -C "$root/usr/src/csdwatch-$ver"

if in_root dkms add "csdwatch/$ver" >"$log_f" 2>&1; then ok "dkms add csdwatch/$ver"
else nok "dkms add csdwatch/$ver: $(tail -3 "$log_f")"; fi

start=$SECONDS
if in_root dkms install "csdwatch/$ver" -k "$rust_kver" >"$log_f" 2>&1; then
	ko=$(cd "$root" && ls lib/modules/"$rust_kver"/updates/dkms/csdwatch.ko* 2>/dev/null | head -1)
	vm=$(in_root modinfo -F vermagic "/$ko" 2>/dev/null || true)
	case $vm in
	"$rust_kver "*) ok "dkms install for $rust_kver (CONFIG_RUST=y): /$ko, vermagic $vm ($((SECONDS - start)) s)" ;;
	*) nok "dkms install for $rust_kver: module ${ko:-missing}, vermagic '${vm}'" ;;
	esac
else
	nok "dkms install for $rust_kver: $(tail -5 "$log_f")"
fi

if [ -z "$norust_kver" ]; then
	nok "no headers of a kernel without Rust in the root"
else
	set +e
	in_root dkms install "csdwatch/$ver" -k "$norust_kver" >"$log_f" 2>&1
	rc=$?
	set -e
	# dkms exits 77 (skipped) for a BUILD_EXCLUSIVE mismatch
	if [ $rc = 77 ] && grep -q BUILD_EXCLUSIVE "$log_f" &&
		! ls "$root/lib/modules/$norust_kver/updates/dkms/csdwatch.ko"* >/dev/null 2>&1; then
		ok "dkms install for $norust_kver (no CONFIG_RUST) skipped, exit 77: $(grep -m1 -o 'BUILD_EXCLUSIVE[^.]*' "$log_f")"
	else
		nok "dkms install for $norust_kver (no CONFIG_RUST): exit $rc, $(tail -3 "$log_f")"
	fi
fi
in_root dkms remove "csdwatch/$ver" --all >/dev/null 2>&1 || true
echo "dkms: $pass passed, $fail failed"
[ $fail = 0 ]
