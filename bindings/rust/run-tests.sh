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

# The toolchain: Debian's (apt-get install cargo rustc: cargo 0.66, rustc and
# rustdoc 1.63, what a fresh bookworm machine gets) whenever it is installed,
# so that the result does not depend on a rustup toolchain that happens to
# come first in PATH; otherwise PATH's. DMX_RUST_BINDIR=DIR takes cargo, rustc
# and rustdoc from DIR instead (e.g. ~/.cargo/bin for rustup's). RUSTC and
# RUSTDOC are exported because cargo runs both: doctests compiled by another
# version's rustdoc than the rustc that built the library fail (E0514).
if [ -n "${DMX_RUST_BINDIR:-}" ]; then
	bindir=$DMX_RUST_BINDIR
elif [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; then
	bindir=/usr/bin
else
	bindir=
fi
tool() { # tool NAME: the path of NAME in $bindir, or PATH's
	if [ -n "$bindir" ]; then
		[ -x "$bindir/$1" ] && echo "$bindir/$1"
	else
		command -v "$1"
	fi
}
cargo=$(tool cargo)
RUSTC=$(tool rustc)
RUSTDOC=$(tool rustdoc)
if [ -z "$cargo" ] || [ -z "$RUSTC" ]; then
	echo "cargo or rustc not found${bindir:+ in $bindir} (apt-get install cargo rustc)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
export RUSTC
[ -n "$RUSTDOC" ] && export RUSTDOC
echo "toolchain: $cargo ($("$cargo" --version 2>&1)), $RUSTC ($("$RUSTC" --version 2>&1))," \
	"${RUSTDOC:-no rustdoc}${RUSTDOC:+ ($("$RUSTDOC" --version 2>&1))}"
# The dev-dependencies (tokio, async-trait, futures: the tests and examples
# only) are Debian's packaged crates: .cargo/config.toml replaces crates.io
# with the directory /usr/share/cargo/registry, whatever the toolchain.
registry=/usr/share/cargo/registry
missing=
for crate in tokio async-trait futures; do
	compgen -G "$registry/$crate-[0-9]*" >/dev/null || missing="$missing $crate"
done
if [ -n "$missing" ]; then
	echo "crates missing in $registry:$missing" \
		"(apt-get install librust-tokio-dev librust-async-trait-dev librust-futures-dev)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -e "$builddir/api/libdockmux.so" ]; then
	echo "warning: $builddir/api/libdockmux.so missing: build it first (ninja -C $builddir)" >&2
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd "$here" && "$cargo" test --offline 2>&1) | tee "$log"
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
