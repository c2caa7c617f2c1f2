#!/usr/bin/env bash
# tests/dist_check.sh: what `meson install` ships, checked from a DESTDIR
# install of an existing build: the systemd unit passes `systemd-analyze
# verify` (skipped with a note when systemd-analyze is absent), both man
# pages lint clean (groff -man -ww and mandoc -T lint), and
# every file lands where packagers and systemd look for it.
# Usage: tests/dist_check.sh [BUILD_DIR]   (default: build)
# Prints `ok - name` / `not ok - name` per check, then
# "dist_check: N passed, M failed"; exits non-zero on any failure.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory: ${1:-build}" >&2; exit 2; }
T=$(mktemp -d /tmp/dmx-dist.XXXXXX)
DEST=$T/root
PASS=0
FAIL=0
trap 'rm -rf "$T"' EXIT

ok() { echo "ok - $1"; PASS=$((PASS + 1)); }
not_ok() { echo "not ok - $1"; FAIL=$((FAIL + 1)); }
check() { # name command...: passes when the command succeeds
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# A lint run passes when it exits 0 and prints nothing.
quiet() {
	local out
	out=$("$@" 2>&1) && [ -z "$out" ] && return 0
	printf '%s\n' "$out" | sed 's/^/    /' >&2
	return 1
}

# ---- man pages ----
for page in "$ROOT"/docs/man/dockmux.8 "$ROOT"/docs/man/libdockmux.3; do
	check "groff lint $(basename "$page")" quiet groff -man -ww -z "$page"
	# -W warning: style notes are not failures, warnings are. mandoc is one of
	# tests/lib.sh's packages: a missing one fails here, never skips.
	check "mandoc lint $(basename "$page")" quiet mandoc -T lint -W warning "$page"
done

# ---- install ----
# Options as the build was configured: prefix, and sysconfdir (meson makes
# it /etc, absolute, for --prefix=/usr; else relative to the prefix).
opt() {
	meson introspect "$BUILD" --buildoptions |
		python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}
PREFIX=$(opt prefix)
LIBDIR=$(opt libdir)
SYSCONFDIR=$(opt sysconfdir)
case $LIBDIR in /*) ;; *) LIBDIR=$PREFIX/$LIBDIR ;; esac
case $SYSCONFDIR in /*) ;; *) SYSCONFDIR=$PREFIX/$SYSCONFDIR ;; esac
if ! meson install -C "$BUILD" --destdir "$DEST" >"$T/install.log" 2>&1; then
	tail -20 "$T/install.log" >&2
	not_ok "meson install --destdir"
else
	ok "meson install --destdir"
fi

installed() { # name path-under-DEST
	check "installs $1" test -e "$DEST$2"
}
installed bin/dockmux "$PREFIX/bin/dockmux"
check "bin/dockmux is executable" test -x "$DEST$PREFIX/bin/dockmux"
installed libdockmux.so.0 "$LIBDIR/libdockmux.so.0"
installed libdockmux.a "$LIBDIR/libdockmux.a"
installed dockmux.h "$PREFIX/include/dockmux.h"
installed libdockmux.pc "$LIBDIR/pkgconfig/libdockmux.pc"
installed dockmux.8 "$PREFIX/share/man/man8/dockmux.8"
installed libdockmux.3 "$PREFIX/share/man/man3/libdockmux.3"
# The unit's directory, as dist/meson.build chooses it: -Dsystemdunitdir
# when set; else systemd.pc's systemdsystemunitdir for prefix /usr (bookworm:
# /lib/systemd/system, where its dh_installsystemd looks); else
# <prefix>/lib/systemd/system.
UNITDIR=$(opt systemdunitdir)
if [ -z "$UNITDIR" ]; then
	UNITDIR=$PREFIX/lib/systemd/system
	if [ "$PREFIX" = /usr ] && pkg-config --exists systemd 2>/dev/null; then
		UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd)
	fi
fi
UNIT=$DEST$UNITDIR/dockmux.service
installed dockmux.service "$UNITDIR/dockmux.service"
installed dockmux.conf "$SYSCONFDIR/dockmux/dockmux.conf"
check "unit runs \$bindir/dockmux serve" grep -qx "ExecStart=$PREFIX/bin/dockmux serve" "$UNIT"

# The example config must change nothing: every setting commented out.
check "example config sets nothing" \
	bash -c '! grep -Ev "^[[:space:]]*(#|$)" "$1"' _ "$DEST$SYSCONFDIR/dockmux/dockmux.conf"
# ...and list every serve option: the long options in cmd/serve.c.
serve_opts() {
	sed -n '/^static const struct option serve_options/,/^};/p' "$ROOT/cmd/serve.c" |
		grep -o '{ "[a-z-]*", \(required\|no\)_argument' | cut -d'"' -f2 |
		grep -vx 'help\|config'
}
missing=
for o in $(serve_opts); do
	grep -q "^#$o = \|^#$o =\$" "$ROOT/dist/dockmux.conf" || missing="$missing $o"
done
check "example config lists every serve option${missing:+ (missing:$missing)}" test -z "$missing"
missing=
for o in $(serve_opts) config; do
	grep -q "^\.BI\? \\\\-\\\\-${o//-/\\\\-}\b" "$ROOT/docs/man/dockmux.8" || missing="$missing $o"
done
check "dockmux.8 documents every serve option${missing:+ (missing:$missing)}" test -z "$missing"

# ---- the unit ----
if command -v systemd-analyze >/dev/null; then
	# verify checks that ExecStart's binary exists: point it at the
	# DESTDIR copy (same unit otherwise).
	mkdir -p "$T/unit"
	sed "s|^ExecStart=$PREFIX/bin/dockmux|ExecStart=$DEST$PREFIX/bin/dockmux|" "$UNIT" \
		>"$T/unit/dockmux.service" 2>/dev/null
	check "systemd-analyze verify dockmux.service" \
		quiet env SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$T/unit/dockmux.service"
else
	echo "note: systemd-analyze not found: unit verification skipped (apt-get install systemd)"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
