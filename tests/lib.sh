# shellcheck shell=bash
# tests/lib.sh: shell functions shared by tests/run-all.sh, tests/e2e/dockerd.sh
# and demo/run.sh: install what is missing from Debian's packages, configure
# and build with meson. Source it (bash); it only defines functions and
# variables.

# Everything the build, the tests and the demo need on Debian bookworm.
# clang and libclang-rt-14-dev (libFuzzer's runtime) are for tests/fuzz/run.sh;
# groff-base and mandoc (man page lint) and systemd (systemd-analyze verify) for
# tests/dist_check.sh; prometheus for its promtool (tests/cmd_metrics_promtool.sh);
# cargo and rustc (1.63) and Debian's tokio, async-trait and futures crates
# (the binding's tests build offline against /usr/share/cargo/registry) for
# bindings/rust/run-tests.sh; procps for the ps that
# dockerd runs for `docker top` and the unit's /bin/kill (not in a minimal install);
# dpkg-dev, debhelper, lintian, fakeroot, build-essential and git (the clone it
# builds from) for tests/deb_check.sh; podman (4.3, with runc from docker.io)
# for tests/e2e/podman.sh.
DMX_APT_PACKAGES="meson ninja-build pkg-config gcc liburing-dev libxxhash-dev libmimalloc-dev
libcriterion-dev libjansson-dev docker.io containerd busybox-static curl python3 valgrind clang libclang-rt-14-dev
groff-base mandoc systemd prometheus cargo rustc procps
dpkg-dev debhelper lintian fakeroot build-essential git
librust-tokio-dev librust-async-trait-dev librust-futures-dev podman"

# The docker CLI the demo and the end-to-end tests drive: Debian's (docker.io,
# which dmx_need_packages installs), so that every machine runs the same CLI
# against the same daemon; another one (e.g. a newer static CLI that happens to
# be in /usr/local/bin) only when asked for with DOCKER=.
dmx_docker_cli() {
	if [ -n "${DOCKER:-}" ]; then
		printf '%s\n' "$DOCKER"
	elif [ -x /usr/bin/docker ]; then
		echo /usr/bin/docker
	else
		command -v docker
	fi
}

# Root of the git checkout this file belongs to.
DMX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

dmx_log() { printf '==> %s\n' "$*" >&2; }
dmx_die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# dmx_missing_packages PKG...: print the packages (one a line) not installed.
dmx_missing_packages() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
	done
}

# dmx_need_packages [PKG...]: apt-get install whatever of PKG... (default: all
# of DMX_APT_PACKAGES) is missing. `apt-get update` runs only when something
# is missing. Returns non-zero (after printing apt's log tail) on failure.
dmx_need_packages() {
	local want missing log sudo=
	if [ $# -gt 0 ]; then want=("$@"); else read -r -d "" -a want <<<"$DMX_APT_PACKAGES"; fi
	command -v dpkg-query >/dev/null || {
		dmx_log "not a Debian system (no dpkg-query): assuming ${want[*]} are present"
		return 0
	}
	mapfile -t missing < <(dmx_missing_packages "${want[@]}")
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || {
			printf 'error: missing packages %s, and not root\n' "${missing[*]}" >&2
			return 1
		}
		sudo=sudo
	fi
	dmx_log "installing: ${missing[*]}"
	log=$(mktemp /tmp/dmx-apt.XXXXXX)
	# Package scripts must not start services: on a machine booted with
	# systemd, docker.io and containerd would otherwise start the host's own
	# dockerd (its bridge, its iptables rules) although only a private one is
	# used. invoke-rc.d and deb-systemd-invoke ask policy-rc.d (exit 101: do
	# not start); one is put in place for the install only, when none exists.
	local policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\n# dockmux tests/lib.sh: no service starts during its apt-get install\nexit 101\n' |
			$sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy"
	fi
	if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${missing[@]}"; } >"$log" 2>&1; then
		tail -30 "$log" >&2
		rm -f "$log"
		[ -n "$policy" ] && $sudo rm -f "$policy"
		return 1
	fi
	[ -n "$policy" ] && $sudo rm -f "$policy"
	rm -f "$log"
	mapfile -t missing < <(dmx_missing_packages "${want[@]}")
	if [ ${#missing[@]} -ne 0 ]; then
		printf 'error: still missing after apt-get install: %s\n' "${missing[*]}" >&2
		return 1
	fi
}

# dmx_build DIR [MESON OPTION...]: configure DIR once (options only apply
# then), then build it with ninja. Quiet on success; the log tail on failure.
dmx_build() {
	local dir=$1 log
	shift
	log=$(mktemp /tmp/dmx-build.XXXXXX)
	if [ ! -f "$dir/build.ninja" ]; then
		if ! meson setup "$dir" "$DMX_ROOT" "$@" >"$log" 2>&1; then
			tail -40 "$log" >&2
			rm -f "$log"
			return 1
		fi
	fi
	if ! ninja -C "$dir" >"$log" 2>&1; then
		tail -60 "$log" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
}

# dmx_wait_for TENTHS CMD...: retry CMD every 0.1 s, at most TENTHS times.
dmx_wait_for() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
