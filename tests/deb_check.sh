#!/usr/bin/env bash
# tests/deb_check.sh: the Debian packages (debian/) end to end, on bookworm,
# as root: `dpkg-buildpackage -us -uc -b` builds libdockmux0, libdockmux-dev
# and dockmux (running the Criterion tests; nocheck skips them), lintian has
# no error and no warning left un-overridden, the three install with
# apt-get, the unit lands in /lib/systemd/system and is enabled, the config
# is a conffile, the man pages and libdockmux.pc are there, a program built
# with `pkg-config --cflags --libs libdockmux` runs (and one linked with
# libdockmux.a), `dockmux --version` answers; then `apt-get purge` leaves no
# file of theirs, and the machine has the packages it had before.
#
# It builds the COMMITTED HEAD: a `git clone` of this repository into a
# temporary directory (dpkg-buildpackage writes its .debs into the parent of
# the tree, so the tree must be a throwaway one). Uncommitted changes are not
# in it; a note says so. Everything it makes is under that directory.
#
# It refuses to run (one failing check) when any of the three packages is
# installed already, or when a file they ship (or /var/lib/dockmux,
# /var/log/dockmux) exists before they are installed: the purge would remove
# it.
# Needs: root, build-essential dpkg-dev debhelper lintian fakeroot git and debian/control's
# Build-Depends (tests/lib.sh's DMX_APT_PACKAGES). About 2-3 minutes.
# Usage: tests/deb_check.sh
# Prints `ok - name` / `not ok - name` per check, then "N passed, M failed";
# exits non-zero on any failure.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKGS=(libdockmux0 libdockmux-dev dockmux)
PASS=0
FAIL=0
T=
POLICY=
INSTALLED=
BEFORE=

ok() { echo "ok - $1"; PASS=$((PASS + 1)); }
not_ok() { echo "not ok - $1"; FAIL=$((FAIL + 1)); }
check() { # name command...: passes when the command succeeds
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
	exit
}
indent() { sed 's/^/    /' >&2; }
apt_quiet() { # apt-get ARGS...: log in $T/apt.log, its tail on failure
	if ! env DEBIAN_FRONTEND=noninteractive apt-get -q -y "$@" >"$T/apt.log" 2>&1; then
		tail -20 "$T/apt.log" | indent
		return 1
	fi
}
installed_set() { # every installed package, one a line, sorted
	dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' |
		awk '$1 == "ii" { print $2 }' | sort
}
# Purge the three (and whatever apt pulled in with them) if this run
# installed them and did not get as far as purging; drop our policy-rc.d.
cleanup() {
	if [ -n "$INSTALLED" ]; then
		env DEBIAN_FRONTEND=noninteractive apt-get -q -y purge "${PKGS[@]}" >/dev/null 2>&1
		local extra
		extra=$(comm -13 "$BEFORE" <(installed_set))
		# shellcheck disable=SC2086 # one package name a word
		[ -n "$extra" ] && env DEBIAN_FRONTEND=noninteractive apt-get -q -y purge $extra >/dev/null 2>&1
	fi
	[ -n "$POLICY" ] && rm -f "$POLICY"
	[ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT

# ---- can it run here? ----
if [ "$(id -u)" != 0 ]; then
	not_ok "runs as root (it installs and purges packages)"
	finish
fi
missing=
for c in dpkg-buildpackage dpkg-checkbuilddeps dh lintian fakeroot git cc make pkg-config apt-get; do
	command -v "$c" >/dev/null || missing="$missing $c"
done
if [ -n "$missing" ]; then
	not_ok "tools present (missing:$missing; apt-get install build-essential dpkg-dev debhelper lintian fakeroot git pkg-config)"
	finish
fi
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
	case $st in "" | un* | pn*) ;; *)
		not_ok "$p is not installed before the test (status '$st'): refusing to replace and purge it"
		finish
		;;
	esac
done

T=$(mktemp -d /tmp/dmx-deb.XXXXXX)
SRC=$T/src
HEAD=$(git -C "$ROOT" rev-parse HEAD)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
	echo "note: building the committed HEAD ${HEAD:0:12}: uncommitted changes are not in the packages"
fi
if ! { git clone -q "$ROOT" "$SRC" && git -C "$SRC" checkout -q --detach "$HEAD"; } >"$T/clone.log" 2>&1; then
	indent <"$T/clone.log"
	not_ok "git clone of HEAD ${HEAD:0:12} into $T"
	finish
fi
ok "git clone of HEAD ${HEAD:0:12} into a temporary directory"

MESON_VERSION=$(sed -n "s/^  version: '\([^']*\)',\$/\1/p" "$SRC/meson.build")
VERSION=$(cd "$SRC" && dpkg-parsechangelog -S Version)
ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
check "debian/changelog's upstream version ($VERSION) is meson.build's ($MESON_VERSION)" \
	test "${VERSION%-*}" = "$MESON_VERSION"

# ---- build ----
if (cd "$SRC" && dpkg-checkbuilddeps) >"$T/builddeps.log" 2>&1; then
	ok "dpkg-checkbuilddeps: Build-Depends satisfied"
else
	indent <"$T/builddeps.log"
	not_ok "dpkg-checkbuilddeps: Build-Depends satisfied"
	finish
fi
if (cd "$SRC" && env -u DEB_BUILD_OPTIONS -u DEB_BUILD_PROFILES dpkg-buildpackage -us -uc -b) \
	>"$T/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	tail -40 "$T/build.log" | indent
	not_ok "dpkg-buildpackage -us -uc -b"
	finish
fi
DEBS=()
for p in "${PKGS[@]}"; do DEBS+=("$T/${p}_${VERSION}_$ARCH.deb"); done
check "builds ${PKGS[*]} ($VERSION, $ARCH)" test -f "${DEBS[0]}" -a -f "${DEBS[1]}" -a -f "${DEBS[2]}"
check "the .changes and .buildinfo land beside the clone, in the temporary directory" \
	test -f "$T/dockmux_${VERSION}_$ARCH.changes" -a -f "$T/dockmux_${VERSION}_$ARCH.buildinfo"

# dh_auto_test runs `meson test` (the Criterion suites), and all of them pass.
t_meson_test() {
	grep -q 'meson test' "$T/build.log" &&
		grep -Eq '^Ok: +[1-9]' "$T/build.log" && grep -Eq '^Fail: +0 *$' "$T/build.log"
}
check "dh_auto_test ran meson test: $(grep -Eo '^Ok: +[0-9]+' "$T/build.log" | tr -s ' ') Fail: 0" t_meson_test
check "no compiler warning with Debian's build flags" \
	bash -c '! grep -E "\.[ch]:[0-9]+(:[0-9]+)?: warning:" "$1" >&2' _ "$T/build.log"

# nocheck: dh_auto_test runs nothing, and the tests are not even configured
# (so the nocheck profile builds without libcriterion-dev).
BUILDDIR=$(echo "$SRC"/obj-*)
t_nocheck_test() {
	rm -f "$BUILDDIR"/meson-logs/testlog.*
	(cd "$SRC" && DEB_BUILD_OPTIONS=nocheck debian/rules override_dh_auto_test) >"$T/nocheck.log" 2>&1 &&
		! grep -q 'meson test' "$T/nocheck.log" && [ ! -e "$BUILDDIR/meson-logs/testlog.txt" ]
}
check "DEB_BUILD_OPTIONS=nocheck: dh_auto_test runs no test" t_nocheck_test
t_nocheck_configure() {
	local v
	for v in DEB_BUILD_OPTIONS DEB_BUILD_PROFILES; do
		(cd "$SRC" && env "$v=nocheck" make -s -n -f debian/rules override_dh_auto_configure) |
			grep -q -- '-Dtests=false' || return 1
	done
	(cd "$SRC" && env -u DEB_BUILD_OPTIONS -u DEB_BUILD_PROFILES make -s -n -f debian/rules \
		override_dh_auto_configure) | grep -q -- '-Dtests=true'
}
check "nocheck (option or profile) configures -Dtests=false, else -Dtests=true" t_nocheck_configure

# The symbols file lists exactly the version script's exports, and ships.
map_syms() {
	sed -n '/global:/,/local:/p' "$SRC/api/libdockmux.map" | grep -o '^ *[a-z_0-9]*;' | tr -d ' ;' | sort
}
sym_syms() {
	grep -E '^ [a-z_0-9]+@LIBDOCKMUX_0 ' "$SRC/debian/libdockmux0.symbols" | sed 's/@.*//; s/^ //' | sort
}
check "debian/libdockmux0.symbols lists exactly api/libdockmux.map's $(map_syms | wc -l) globals" \
	diff <(map_syms) <(sym_syms)
check "libdockmux0's control area has the symbols file" \
	bash -c 'dpkg-deb -I "$1" symbols | grep -q "^libdockmux.so.0 libdockmux0 #MINVER#"' _ "${DEBS[0]}"

# ---- lintian ----
lintian --info "$T"/*.changes >"$T/lintian.log" 2>&1
t_lintian() { # TYPE: no tag of that type (E or W) left un-overridden
	if grep "^$1: " "$T/lintian.log" >"$T/lintian.$1"; then
		indent <"$T/lintian.$1"
		return 1
	fi
}
check "lintian: no error" t_lintian E
check "lintian: no warning left (each overridden in debian/*.lintian-overrides, with its reason)" t_lintian W

# ---- install ----
# No file of the packages may exist yet: the purge would take it away.
t_fresh() {
	local d f found=
	for d in "${DEBS[@]}"; do
		while read -r f; do
			f=${f#.}
			[ -n "$f" ] && [ ! -d "$f" ] && { [ -e "$f" ] || [ -L "$f" ]; } && found="$found $f"
		done < <(dpkg-deb --fsys-tarfile "$d" | tar -t)
	done
	for f in /var/lib/dockmux /var/log/dockmux /etc/dockmux; do [ -e "$f" ] && found="$found $f"; done
	[ -z "$found" ] || { echo "    exists already:$found" >&2; return 1; }
}
if ! t_fresh; then
	not_ok "no file of the packages exists before they are installed"
	finish
fi
ok "no file of the packages exists before they are installed"

BEFORE=$T/installed.before
installed_set >"$BEFORE"
# No service may start from this install on a machine booted with systemd;
# deb-systemd-invoke asks policy-rc.d (101: do not), as tests/lib.sh does.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	POLICY=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\n# dockmux tests/deb_check.sh: no service starts during its test install\nexit 101\n' \
		>"$POLICY" && chmod 755 "$POLICY"
fi
INSTALLED=1
if apt_quiet install --no-install-recommends "${DEBS[@]}"; then
	ok "apt-get install the three .debs (postinst with no systemd running: $([ -d /run/systemd/system ] && echo no || echo yes))"
else
	not_ok "apt-get install the three .debs"
	finish
fi
t_installed() {
	local p
	for p in "${PKGS[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p")" = "ii " ] || return 1
	done
}
check "dpkg: all three installed" t_installed
FILES=$T/files
dpkg -L "${PKGS[@]}" | sort -u >"$FILES"

owned() { # PACKAGE PATH: PATH exists and PACKAGE (any :arch) ships it
	[ -e "$2" ] && dpkg-query -S "$2" 2>/dev/null | grep -Eq "^$1(:[a-z0-9]+)?: $2\$"
}
UNIT=/lib/systemd/system/dockmux.service
check "dockmux: /usr/bin/dockmux, executable" bash -c 'test -x /usr/bin/dockmux'
check "dockmux: $UNIT (where bookworm's dh_installsystemd looks)" owned dockmux "$UNIT"
check "the unit runs /usr/bin/dockmux serve" grep -qx 'ExecStart=/usr/bin/dockmux serve' "$UNIT"
check "postinst enabled it (multi-user.target.wants symlink)" \
	bash -c '[ "$(readlink /etc/systemd/system/multi-user.target.wants/dockmux.service)" = "$1" ]' _ "$UNIT"
check "deb-systemd-helper recorded the enablement (so purge undoes it)" \
	test -f /var/lib/systemd/deb-systemd-helper-enabled/dockmux.service.dsh-also
# Upgrades never stop or restart the daemon (sockets are bind-mounted by
# inode): prerm stops only on remove, postinst signals SIGUSR2 instead.
t_no_restart() {
	local info=/var/lib/dpkg/info
	! grep -q 'deb-systemd-invoke.*restart' "$info/dockmux.postinst" &&
		grep -q 'kill --kill-who=main --signal=SIGUSR2 dockmux.service' "$info/dockmux.postinst" &&
		[ "$(grep -c 'deb-systemd-invoke stop' "$info/dockmux.prerm")" = 1 ] &&
		grep -B1 'deb-systemd-invoke stop' "$info/dockmux.prerm" | head -1 | grep -q '"$1" = remove'
}
check "maintainer scripts: no stop or restart on upgrade, SIGUSR2 takeover instead" t_no_restart
check "/etc/dockmux/dockmux.conf is a conffile" \
	bash -c 'dpkg-query -W -f="\${Conffiles}\n" dockmux | grep -q "^ /etc/dockmux/dockmux.conf [0-9a-f]\{32\}\$"'
check "dockmux: man page dockmux(8)" owned dockmux /usr/share/man/man8/dockmux.8.gz
check "libdockmux-dev: man page libdockmux(3)" owned libdockmux-dev /usr/share/man/man3/libdockmux.3.gz
check "man pages are gzipped man(7) sources" \
	bash -c 'zcat /usr/share/man/man8/dockmux.8.gz | grep -q "^\.TH DOCKMUX 8" &&
		zcat /usr/share/man/man3/libdockmux.3.gz | grep -q "^\.TH LIBDOCKMUX 3"'
check "libdockmux0: /usr/lib/$MA/libdockmux.so.0" owned libdockmux0 "/usr/lib/$MA/libdockmux.so.0"
check "libdockmux-dev: dockmux.h, libdockmux.so, libdockmux.a, libdockmux.pc" \
	bash -c 'for f in /usr/include/dockmux.h /usr/lib/$1/libdockmux.so /usr/lib/$1/libdockmux.a \
		/usr/lib/$1/pkgconfig/libdockmux.pc; do
			dpkg-query -S "$f" | grep -Eq "^libdockmux-dev(:[a-z0-9]+)?: " || exit 1; done' _ "$MA"
check "pkg-config --modversion libdockmux is $MESON_VERSION" \
	bash -c '[ "$(pkg-config --modversion libdockmux)" = "$1" ]' _ "$MESON_VERSION"

# A program using the public API, built the way README says.
cat >"$T/prog.c" <<'EOF'
#include <dockmux.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct dmx_config cfg;
	char path[DMX_PATH_MAX];
	int ret;

	if (argc != 2)
		return 2;
	dmx_config_init(&cfg);
	ret = dmx_path_in(cfg.socket_dir ? cfg.socket_dir : "/run/dockmux", argv[1], path, sizeof(path));
	if (ret < 0) {
		fprintf(stderr, "dmx_path_in: %s\n", dmx_strerror(ret));
		return 1;
	}
	puts(path);
	return 0;
}
EOF
CLI_PATH=$(/usr/bin/dockmux path ci-42 2>&1)
t_prog() {
	# shellcheck disable=SC2046 # pkg-config's words
	cc -Wall -Wextra -Werror -o "$T/prog" "$T/prog.c" $(pkg-config --cflags --libs libdockmux) \
		>"$T/cc.log" 2>&1 || { indent <"$T/cc.log"; return 1; }
	readelf -d "$T/prog" | grep -q 'NEEDED.*\[libdockmux\.so\.0\]' &&
		[ "$("$T/prog" ci-42)" = "$CLI_PATH" ]
}
check "cc \$(pkg-config --cflags --libs libdockmux): links libdockmux.so.0, prints dockmux path's $CLI_PATH" t_prog
t_prog_static() {
	# libdockmux.a and Libs.private (pkg-config --static), no libdockmux.so.
	# shellcheck disable=SC2046
	cc -o "$T/prog-static" "$T/prog.c" $(pkg-config --cflags libdockmux) "/usr/lib/$MA/libdockmux.a" \
		$(pkg-config --static --libs libdockmux | sed 's/-ldockmux\b//') \
		>"$T/cc.log" 2>&1 || { indent <"$T/cc.log"; return 1; }
	! readelf -d "$T/prog-static" | grep -q 'libdockmux' &&
		[ "$("$T/prog-static" ci-42)" = "$CLI_PATH" ]
}
check "links with libdockmux.a and pkg-config --static's libraries" t_prog_static
check "dockmux --version says dockmux $MESON_VERSION" \
	bash -c '[ "$(/usr/bin/dockmux --version)" = "dockmux $1" ]' _ "$MESON_VERSION"

# ---- purge ----
# What the daemon would have written: purge removes it (debian/dockmux.postrm).
mkdir -p /var/lib/dockmux /var/log/dockmux && echo '# test' >/var/lib/dockmux/state
if apt_quiet purge "${PKGS[@]}"; then
	ok "apt-get purge ${PKGS[*]}"
	INSTALLED=
else
	not_ok "apt-get purge ${PKGS[*]}"
fi
extra=$(comm -13 "$BEFORE" <(installed_set))
if [ -n "$extra" ]; then
	echo "note: apt-get installed with them:" $extra "(purged now)"
	# shellcheck disable=SC2086
	apt_quiet purge $extra || true
fi
t_gone() {
	local p st
	for p in "${PKGS[@]}"; do
		st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
		case $st in "" | un* | pn*) ;; *) echo "    $p: '$st'" >&2; return 1 ;; esac
	done
}
check "dpkg: none of the three left, not even its config files" t_gone
# Every file they shipped is gone; a directory may stay only while another
# package owns it (dpkg keeps those).
t_no_files() {
	local f left=
	while read -r f; do
		[ "$f" = /. ] && continue
		if [ -d "$f" ]; then
			# /lib and friends are symlinks into /usr on a merged-/usr
			# system (owned by no package): not ours to remove.
			[ -L "$f" ] || dpkg-query -S "$f" >/dev/null 2>&1 || left="$left $f"
		elif [ -e "$f" ] || [ -L "$f" ]; then
			left="$left $f"
		fi
	done <"$FILES"
	for f in /etc/dockmux /var/lib/dockmux /var/log/dockmux \
		/etc/systemd/system/multi-user.target.wants/dockmux.service; do
		{ [ -e "$f" ] || [ -L "$f" ]; } && left="$left $f"
	done
	left="$left $(find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
		/var/lib/dpkg/info -name 'dockmux*' -o -name 'libdockmux*' 2>/dev/null | tr '\n' ' ')"
	[ -z "${left// /}" ] || { echo "    left:$left" >&2; return 1; }
}
check "purge leaves no file: $(wc -l <"$FILES") paths of dpkg -L, /etc/dockmux, state, unit enablement" t_no_files
check "installed packages as before the test" diff "$BEFORE" <(installed_set)

finish
