#!/usr/bin/env bash
# Run the Rust binding's tests (cargo, offline) against a meson build of
# libdockmux and end with one line "N passed, M failed" for tests/run-all.sh.
# Usage: bindings/rust/run-tests.sh <meson builddir>   (the library must be built)
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 <meson builddir>" >&2
	exit 2
fi
builddir=$(cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)

# meson-uninstalled describes the build tree; meson-private the install prefix
# (build.rs falls back from the latter to the former if nothing is installed).
export PKG_CONFIG_PATH="$builddir/meson-uninstalled:$builddir/meson-private${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# Build products stay out of the source tree.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$builddir/bindings-rust-target}"

if ! command -v cargo >/dev/null; then
	echo "cargo not found" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -e "$builddir/api/libdockmux.so" ]; then
	echo "warning: $builddir/api/libdockmux.so missing: build it first (ninja -C $builddir)" >&2
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd "$here" && cargo test --offline 2>&1) | tee "$log"
status=${PIPESTATUS[0]}

# "test result: ok. 10 passed; 0 failed; 0 ignored; ..." once per test binary.
read -r passed failed < <(awk '/^test result:/ {
		for (i = 1; i <= NF; i++) {
			if ($(i) ~ /^passed;?$/) p += $(i - 1)
			if ($(i) ~ /^failed;?$/) f += $(i - 1)
		}
	} END { print p + 0, f + 0 }' "$log")
# A build failure or crash runs no test: count it as one failure, not zero.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	failed=1
fi
echo "$passed passed, $failed failed"
exit "$status"
