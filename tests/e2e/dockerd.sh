#!/usr/bin/env bash
# tests/e2e/dockerd.sh start|stop|purge|status|env: a PRIVATE containerd +
# dockerd for the end-to-end tests and the demo.
#
# Everything lives under one state dir (env DMX_E2E_DIR, default
# /tmp/dockmux-e2e): sockets, configs, data, exec state, logs, pid files. It
# never touches /var/run/docker.sock, /etc/docker/daemon.json,
# /etc/containerd/config.toml, systemd or the host's iptables. `start` also
# builds the test image dmx-busybox:latest from Debian's busybox-static with
# `docker import` (nothing is pulled).
#
#   start   start containerd and dockerd (no-op when already up), import the
#           image; prints the daemon socket path on stdout
#   stop    remove every container, stop dockerd, containerd and leftover
#           shims, unmount whatever is mounted under the state dir; keeps the
#           data (images) for the next start. Safe to run any number of times.
#   purge   stop, then delete the state dir
#   status  exit 0 when dockerd answers
#   env     print DOCKER_HOST=unix://<socket>
#
# Env: DMX_E2E_DIR; DMX_E2E_STORAGE (storage drivers to try, in order,
# default "overlay2 vfs"); DMX_E2E_WAIT (seconds to wait for dockerd, 60).
set -u
D=${DMX_E2E_DIR:-/tmp/dockmux-e2e}
case $D in /*) ;; *) D=$(pwd)/$D ;; esac
D=${D%/}
SOCK=$D/docker.sock
CSOCK=$D/containerd.sock
IMAGE=dmx-busybox:latest
WAIT=${DMX_E2E_WAIT:-60}
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# Debian's CLI unless DOCKER is set: it matches the daemon (tests/lib.sh).
DOCKER=$(dmx_docker_cli)
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY

dk() { timeout 30 "$DOCKER" -H "unix://$SOCK" "$@"; }
up() { [ -S "$SOCK" ] && dk version >/dev/null 2>&1; }

# pids_with_arg ARG: pids of processes having exactly ARG as one argument
# (e.g. "$D/containerd.sock"): this state dir's daemons and shims only.
pids_with_arg() {
	local p arg
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$$" ] && continue
		{ while IFS= read -r -d '' arg; do
			if [ "$arg" = "$1" ]; then
				echo "${p#/proc/}"
				break
			fi
		done <"$p/cmdline"; } 2>/dev/null # the process may be gone
	done
}

# children PID: direct children of PID.
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . ; }

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" != Z ]; }

# stop_pid PID SECONDS: SIGTERM, wait, then SIGKILL.
stop_pid() {
	local pid=$1 i
	alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < $2 * 10; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	echo "pid $pid did not exit on SIGTERM: SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
}

# mounts_under DIR: mount points at or below DIR, deepest first.
mounts_under() {
	awk -v d="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' \
		/proc/self/mountinfo | sort -r
}

write_configs() {
	mkdir -p "$D/containerd" "$D/data" "$D/exec"
	# containerd: own root/state/address, no CRI, no debug/metrics listeners,
	# nothing under /opt or /var/lib.
	cat >"$D/containerd.toml" <<EOF
version = 2
root = "$D/containerd/root"
state = "$D/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$CSOCK"

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$D/containerd/opt"
EOF
	# dockerd: an empty config file, so /etc/docker/daemon.json is ignored.
	echo '{}' >"$D/daemon.json"
}

start_containerd() {
	local pid
	rm -f "$CSOCK" "$CSOCK.ttrpc"
	setsid containerd --config "$D/containerd.toml" --address "$CSOCK" \
		--root "$D/containerd/root" --state "$D/containerd/state" \
		</dev/null >>"$D/containerd.log" 2>&1 &
	pid=$!
	echo "$pid" >"$D/containerd.pid"
	local i
	for ((i = 0; i < 200; i++)); do
		[ -S "$CSOCK" ] && return 0
		alive "$pid" || break
		sleep 0.1
	done
	echo "error: containerd did not listen on $CSOCK; last lines of $D/containerd.log:" >&2
	tail -20 "$D/containerd.log" >&2
	return 1
}

# start_dockerd DRIVER: 0 when dockerd answers within WAIT seconds.
# dockerd runs in a network namespace of its own (unshare --net: no mount
# namespace, so cgroups and the state dir are the host's): it never sees or
# changes the host's interfaces, and net.ipv4.ip_forward there is 0, a new
# machine's default, whatever the host's is. Its API is a Unix socket, which
# is reached by path from any namespace.
start_dockerd() {
	local driver=$1 pid i
	rm -f "$SOCK" "$D/dockerd.pid"
	echo "---- dockerd --storage-driver $driver ----" >>"$D/dockerd.log"
	setsid unshare --net dockerd \
		--config-file "$D/daemon.json" \
		--containerd "$CSOCK" \
		--data-root "$D/data" \
		--exec-root "$D/exec" \
		--pidfile "$D/dockerd.pid" \
		-H "unix://$SOCK" \
		--storage-driver "$driver" \
		--bridge=none \
		--iptables=false \
		--ip6tables=false \
		--ip-forward=false \
		--ip-masq=false \
		--userland-proxy=false \
		</dev/null >>"$D/dockerd.log" 2>&1 &
	pid=$!
	for ((i = 0; i < WAIT * 10; i++)); do
		up && return 0
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		echo "dockerd ($driver) did not answer within ${WAIT}s" >&2
		stop_pid "$pid" 10
	else
		echo "dockerd exited with --storage-driver $driver" >&2
	fi
	rm -f "$D/dockerd.pid"
	return 1
}

import_image() {
	local root rc out
	dk image inspect "$IMAGE" >/dev/null 2>&1 && return 0
	[ -x /bin/busybox ] || dmx_need_packages busybox-static || return 1
	if ldd /bin/busybox >/dev/null 2>&1; then
		echo "error: /bin/busybox is not static (install busybox-static)" >&2
		return 1
	fi
	root=$(mktemp -d /tmp/dmx-rootfs.XXXXXX)
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,proc,sys,dev}
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	# Every applet as a symlink: sh, echo, cat, sleep, ls, wc, head, ...
	/bin/busybox --list-full | while read -r a; do
		[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
		dk import \
			--change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'CMD ["sh"]' \
			--change 'LABEL org.dockmux.e2e=1' \
			--message 'dockmux e2e: busybox-static' \
			- "$IMAGE" >/dev/null
	rc=$?
	rm -rf "$root"
	[ $rc -eq 0 ] || { echo "error: docker import of $IMAGE failed" >&2; return 1; }
	# Only stdout is compared: the CLI prints the daemon's warnings (such as
	# "IPv4 forwarding is disabled", the default on a new machine) on stderr.
	out=$(dk run --rm "$IMAGE" echo ok 2>"$D/import-run.err")
	[ "$out" = ok ] || {
		echo "error: $IMAGE imported but cannot run a container (stdout: '$out'), stderr:" >&2
		cat "$D/import-run.err" >&2
		tail -20 "$D/dockerd.log" >&2
		return 1
	}
}

start() {
	local drv ok=
	if [ "$(id -u)" != 0 ]; then
		echo "error: a private dockerd needs root" >&2
		return 1
	fi
	dmx_need_packages docker.io containerd busybox-static || return 1
	mkdir -p "$D"
	if up; then
		echo "dockerd already running on $SOCK" >&2
	else
		QUIET=1 stop
		write_configs
		start_containerd || { QUIET=1 stop; return 1; }
		for drv in ${DMX_E2E_STORAGE:-overlay2 vfs}; do
			if start_dockerd "$drv"; then
				ok=1
				break
			fi
		done
		if [ -z "$ok" ]; then
			echo "error: dockerd did not start on $SOCK; last lines of $D/dockerd.log:" >&2
			tail -25 "$D/dockerd.log" >&2
			QUIET=1 stop
			return 1
		fi
	fi
	import_image || return 1
	echo "dockerd ready on $SOCK (storage $(dk info --format '{{.Driver}}' 2>/dev/null)," \
		"cgroup v$(dk info --format '{{.CgroupVersion}}' 2>/dev/null)), image $IMAGE" >&2
	echo "$SOCK"
}

stop() {
	local pid shims s c m i
	[ -d "$D" ] || return 0
	# Containers first, while dockerd can still do it cleanly.
	if up; then
		ids=$(dk ps -aq 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$ids" ] && timeout 60 "$DOCKER" -H "unix://$SOCK" rm -f $ids >/dev/null 2>&1
	fi
	# dockerd: its pid file, or any dockerd of this containerd socket.
	pid=$(cat "$D/dockerd.pid" 2>/dev/null)
	for p in $pid $(pids_with_arg "unix://$SOCK"); do
		stop_pid "$p" 30
	done
	# Shims of this containerd (they outlive it), and their containers.
	shims=$(pids_with_arg "$CSOCK")
	for s in $shims; do
		[ "$(cat /proc/"$s"/comm 2>/dev/null)" = containerd ] && continue
		for c in $(children "$s"); do kill -KILL "$c" 2>/dev/null; done
		stop_pid "$s" 5
	done
	pid=$(cat "$D/containerd.pid" 2>/dev/null)
	for p in $pid $(pids_with_arg "$CSOCK"); do
		stop_pid "$p" 20
	done
	# Empty cgroups of this daemon's containers, left when a shim was killed
	# (cgroupfs driver: <hierarchy>/docker/<id>, v1 and v2).
	for c in "$D"/data/containers/*; do
		[ -d "$c" ] || continue
		for cg in /sys/fs/cgroup/*/docker/"${c##*/}" /sys/fs/cgroup/docker/"${c##*/}"; do
			[ -d "$cg" ] && rmdir "$cg" 2>/dev/null
		done
	done
	# Mounts left behind (overlay rootfs, shm, netns, ...): deepest first.
	for i in 1 2 3; do
		m=$(mounts_under "$D")
		[ -z "$m" ] && break
		while IFS= read -r mp; do
			umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
		done <<<"$m"
	done
	if [ -n "$(mounts_under "$D")" ]; then
		echo "warning: still mounted under $D:" >&2
		mounts_under "$D" >&2
	fi
	rm -f "$SOCK" "$CSOCK" "$CSOCK.ttrpc" "$D/dockerd.pid" "$D/containerd.pid"
	[ -n "${QUIET:-}" ] || echo "dockerd and containerd of $D stopped" >&2
	return 0
}

purge() {
	stop
	[ -d "$D" ] || return 0
	[ -n "$(mounts_under "$D")" ] && { echo "error: not deleting $D: mounts remain" >&2; return 1; }
	rm -rf "$D"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
purge) purge ;;
status) up ;;
env) echo "DOCKER_HOST=unix://$SOCK" ;;
*)
	echo "usage: $0 start|stop|purge|status|env   (state dir: \$DMX_E2E_DIR, now $D)" >&2
	exit 2
	;;
esac
