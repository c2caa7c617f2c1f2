#!/usr/bin/env bash
# tests/e2e/podman.sh start|stop|purge|status|env: a PRIVATE podman API
# service (Debian's podman 4.3, root) for the end-to-end tests: a second real
# upstream beside tests/e2e/dockerd.sh's dockerd.
#
# Everything lives under one state dir, $DMX_PODMAN_DIR (the caller's mktemp
# dir; `start` makes one under /tmp when it is not set and says so): configs,
# storage, per-boot state, socket, logs, pid files. The service runs in a
# network namespace and a mount namespace of its own (`unshare --net
# --mount`). In the mount namespace /var and /run are overlays whose upper
# layer is a tmpfs that dies with the namespace, /etc/containers is this
# state dir's own (policy.json, registries.conf), /dev/shm is private (podman's
# lock segment): whatever podman 4.3 writes to fixed host paths (the blob info
# cache in /var/lib/containers/cache, /var/cache/containers'
# short-name-aliases lock, the OCI runtime's state in /run/runc or /run/crun,
# netavark's /run/containers/networks and /run/netns for a bridged container,
# the import's temporary files in /var/tmp) never reaches the host, and every
# mount the service makes (overlay rootfs, shm, ...) is gone with its last
# process. The host's /var/lib/containers, /run/containers and
# /etc/containers are never touched. Only the container cgroups
# (cgroupfs: <hierarchy>/libpod_parent/libpod-<id>) are the host's; `stop`
# removes this service's.
#
#   start   start the service (no-op when already up), import Debian's
#           busybox-static as dmx-busybox:latest with `docker import` through
#           the service; prints the socket path on stdout
#   stop    remove every container, stop the service, end every process of
#           its namespaces, remove its cgroups and per-boot state; keeps the
#           storage (images) for the next start. Safe to run any number of
#           times.
#   purge   stop, then delete the state dir
#   status  exit 0 when the service answers
#   env     print DOCKER_HOST=unix://<socket>
#
# Env: DMX_PODMAN_DIR; DMX_PODMAN_STORAGE (storage drivers to try, in order,
# default "overlay vfs"); DMX_PODMAN_WAIT (seconds to wait for the service,
# 60); DOCKER (the docker CLI used for the import, default Debian's).
#
# Use the service only through its socket: the host's `podman` CLI does not
# see the namespace's mounts or runtime state.
set -u
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
DOCKER=$(dmx_docker_cli)
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY CONTAINER_HOST
IMAGE=dmx-busybox:latest
WAIT=${DMX_PODMAN_WAIT:-60}
CMD=${1:-}

D=${DMX_PODMAN_DIR:-}
if [ -z "$D" ]; then
	case $CMD in
	start)
		D=$(mktemp -d /tmp/dmx-podman.XXXXXX) || exit 1
		echo "DMX_PODMAN_DIR is not set: using $D (export DMX_PODMAN_DIR=$D for stop/purge)" >&2
		;;
	stop | purge | status | env)
		echo "error: set DMX_PODMAN_DIR to the state dir given to start" >&2
		exit 2
		;;
	esac
fi
case $D in /*) ;; '') ;; *) D=$(pwd)/$D ;; esac
D=${D%/}
SOCK=$D/podman.sock
export DOCKER_CONFIG=$D/docker-config # no user config, credential helper or context

dk() { timeout 30 "$DOCKER" -H "unix://$SOCK" "$@"; }
up() { [ -S "$SOCK" ] && timeout 10 curl -sf --unix-socket "$SOCK" http://podman/_ping 2>/dev/null | grep -qx OK; }

# pids_with_arg ARG: pids of processes having exactly ARG as one argument
# (e.g. "$D/root", an argument of every conmon and cleanup process).
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

# pids_in_mntns NS: pids whose mount namespace is NS (e.g. "mnt:[4026532]").
pids_in_mntns() {
	local p
	[ -n "$1" ] || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
}

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
	kill_pid "$pid"
}

# kill_pid PID: SIGKILL and wait (at most 5 s) until it is gone.
kill_pid() {
	local i
	alive "$1" || return 0
	kill -KILL "$1" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
}

# mounts_under DIR: mount points (in the host's mount namespace) at or below
# DIR, deepest first.
mounts_under() {
	awk -v d="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' \
		/proc/self/mountinfo | sort -r
}

# container_ids: ids of this storage's containers, whatever the driver.
container_ids() {
	local c
	for c in "$D"/root/*-containers/*/; do
		c=${c%/}
		c=${c##*/}
		[[ $c =~ ^[0-9a-f]{64}$ ]] && echo "$c"
	done
}

write_configs() {
	local driver=$1
	mkdir -p "$D/root" "$D/run" "$D/tmp" "$D/vartmp" "$D/networks" "$D/ns" "$D/home" \
		"$D/etc-containers" "$DOCKER_CONFIG"
	chmod 0700 "$D/ns" "$D/home"
	# CONTAINERS_CONF is the only containers.conf podman 4.3 reads when it is
	# set. The ulimits: no CAP_SYS_RESOURCE here and a hard nofile limit of
	# 20,000, so podman's defaults (1048576) fail with "error setting rlimit".
	# runc, not crun: apt may satisfy podman's "crun | runc" with crun, and
	# bookworm's crun 1.8.1 refuses a hybrid cgroup host (v1 controllers and
	# a v2 "unified" mount, as here): "cgroups in hybrid mode not supported".
	cat >"$D/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "none"
seccomp_profile = "/usr/share/containers/seccomp.json"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$D/tmp/events.log"
tmp_dir = "$D/tmp"
static_dir = "$D/root/libpod"
volume_path = "$D/root/volumes"
image_copy_tmp_dir = "$D/vartmp"

[network]
network_config_dir = "$D/networks"
EOF
	cat >"$D/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$D/root"
runroot = "$D/run"
EOF
	# Nothing is pulled: no registry to search, short names stay local.
	cat >"$D/registries.conf" <<'EOF'
unqualified-search-registries = []
short-name-mode = "permissive"
EOF
	# Bind-mounted over /etc/containers in the service's mount namespace:
	# podman 4.3 reads policy.json from there, with no setting to move it.
	cp "$D/registries.conf" "$D/etc-containers/registries.conf"
	cat >"$D/etc-containers/policy.json" <<'EOF'
{ "default": [ { "type": "insecureAcceptAnything" } ] }
EOF
}

# The service's namespaces: run by `unshare`, as root, with $1 = state dir
# and $2 = "netns" or "" (for the log), then the podman command line.
# shellcheck disable=SC2016
NS_SCRIPT='
set -e
D=$1
shift 2
mount -t tmpfs -o mode=0700 dmx-podman-ns "$D/ns"
for d in var run; do
	mkdir -p "$D/ns/$d.up" "$D/ns/$d.work"
	mount -t overlay "dmx-podman-$d" -o "lowerdir=/$d,upperdir=$D/ns/$d.up,workdir=$D/ns/$d.work" "/$d"
done
if [ -d /etc/containers ]; then mount --bind "$D/etc-containers" /etc/containers; fi
mount -t tmpfs -o mode=1777 dmx-podman-shm /dev/shm
readlink /proc/self/ns/mnt >"$D/mntns"
echo $$ >"$D/podman.pid"
exec "$@"
'

# start_service DRIVER: 0 when the service answers within WAIT seconds.
start_service() {
	local driver=$1 pid i nsflags
	rm -f "$SOCK" "$D/podman.pid" "$D/mntns"
	write_configs "$driver"
	# A network namespace when this machine allows one (as dockerd.sh); a
	# mount namespace always: without it podman writes to host paths.
	if unshare --net --mount true 2>/dev/null; then
		nsflags="--net --mount"
	elif unshare --mount true 2>/dev/null; then
		nsflags="--mount"
		echo "warning: no network namespace here: podman runs in the host's (containers use --network none)" >&2
	else
		echo "error: unshare --mount fails here: a private podman would write to host paths" >&2
		return 1
	fi
	echo "---- podman system service, storage $driver, unshare $nsflags ----" >>"$D/podman.log"
	# shellcheck disable=SC2086
	setsid unshare $nsflags --propagation private bash -c "$NS_SCRIPT" podman-ns "$D" "$nsflags" \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$D/home" LANG=C.UTF-8 TMPDIR="$D/vartmp" \
		CONTAINERS_CONF="$D/containers.conf" CONTAINERS_STORAGE_CONF="$D/storage.conf" \
		CONTAINERS_REGISTRIES_CONF="$D/registries.conf" \
		podman --root "$D/root" --runroot "$D/run" --storage-driver "$driver" \
		--cgroup-manager cgroupfs --events-backend file --log-level info \
		system service --time=0 "unix://$SOCK" \
		</dev/null >>"$D/podman.log" 2>&1 &
	pid=$!
	for ((i = 0; i < WAIT * 10; i++)); do
		up && return 0
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		echo "podman ($driver) did not answer within ${WAIT}s" >&2
	else
		echo "podman exited with --storage-driver $driver" >&2
	fi
	QUIET=1 stop
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
	/bin/busybox --list-full | while read -r a; do
		[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
		timeout 120 "$DOCKER" -H "unix://$SOCK" import \
			--change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'CMD ["sh"]' \
			--change 'LABEL org.dockmux.e2e=1' \
			--message 'dockmux e2e: busybox-static' \
			- "$IMAGE" >/dev/null 2>"$D/import.err"
	rc=$?
	rm -rf "$root"
	[ $rc -eq 0 ] || {
		echo "error: docker import of $IMAGE through podman failed:" >&2
		cat "$D/import.err" >&2
		return 1
	}
	# Only stdout is compared (warnings go to stderr).
	out=$(dk run --rm --network none "$IMAGE" echo ok 2>"$D/import-run.err")
	[ "$out" = ok ] || {
		echo "error: $IMAGE imported but cannot run a container (stdout: '$out'), stderr:" >&2
		cat "$D/import-run.err" >&2
		tail -20 "$D/podman.log" >&2
		return 1
	}
}

start() {
	local drv drivers ok=
	if [ "$(id -u)" != 0 ]; then
		echo "error: a private podman service needs root" >&2
		return 1
	fi
	case $(realpath -m "$D")/ in
	/var/* | /run/* | /etc/*)
		echo "error: the state dir $D must not be under /var, /run or /etc (overlaid in the service's namespace)" >&2
		return 1
		;;
	esac
	dmx_need_packages podman runc docker.io busybox-static curl || return 1
	mkdir -p "$D"
	if up; then
		echo "podman already running on $SOCK" >&2
	else
		QUIET=1 stop
		# The driver that worked last time first: its storage holds the image.
		drivers=
		for drv in $(cat "$D/driver" 2>/dev/null) ${DMX_PODMAN_STORAGE:-overlay vfs}; do
			case " $drivers " in *" $drv "*) ;; *) drivers="$drivers $drv" ;; esac
		done
		for drv in $drivers; do
			if [ -s "$D/driver" ] && [ "$(cat "$D/driver")" != "$drv" ]; then
				# Another driver's storage: podman refuses to mix them.
				rm -rf "$D/root" "$D/run" "$D/tmp"
				rm -f "$D/driver"
			fi
			if start_service "$drv" && import_image; then
				echo "$drv" >"$D/driver"
				ok=1
				break
			fi
			QUIET=1 stop
			rm -rf "$D/root" "$D/run" "$D/tmp"
			rm -f "$D/driver"
		done
		if [ -z "$ok" ]; then
			echo "error: podman did not start on $SOCK; last lines of $D/podman.log:" >&2
			tail -25 "$D/podman.log" >&2
			QUIET=1 stop
			return 1
		fi
	fi
	import_image || return 1
	echo "podman $(dk version --format '{{.Server.Version}}' 2>/dev/null) ready on $SOCK" \
		"(storage $(cat "$D/driver" 2>/dev/null), cgroup manager cgroupfs), image $IMAGE" >&2
	echo "$SOCK"
}

stop() {
	local pid ids ns p c cg i m
	[ -d "$D" ] || return 0
	ns=$(cat "$D/mntns" 2>/dev/null)
	# Containers first, while the service can still do it cleanly.
	if up; then
		ids=$(dk ps -aq 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$ids" ] && timeout 60 "$DOCKER" -H "unix://$SOCK" rm -f $ids >/dev/null 2>&1
	fi
	pid=$(cat "$D/podman.pid" 2>/dev/null)
	for p in $pid $(pids_with_arg "unix://$SOCK"); do
		stop_pid "$p" 30
	done
	# conmon (one per container and exec session) and `podman container
	# cleanup` carry "$D/root" as an argument; conmon's children are the
	# containers' first processes.
	for p in $(pids_with_arg "$D/root"); do
		for c in $(children "$p"); do kill -KILL "$c" 2>/dev/null; done
		kill_pid "$p"
	done
	# Whatever is left in the containers' cgroups, then the cgroups.
	for c in $(container_ids); do
		for cg in /sys/fs/cgroup/*/libpod_parent/libpod-"$c" /sys/fs/cgroup/libpod_parent/libpod-"$c"; do
			[ -d "$cg" ] || continue
			for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill_pid "$p"; done
			rmdir "$cg" 2>/dev/null
		done
	done
	# Anything else in the service's mount namespace; when the last one is
	# gone, so are the namespace and every mount in it.
	for i in 1 2 3; do
		p=$(pids_in_mntns "$ns")
		[ -z "$p" ] && break
		for c in $p; do kill_pid "$c"; done
	done
	if [ -n "$(pids_in_mntns "$ns")" ]; then
		echo "warning: processes left in the service's mount namespace: $(pids_in_mntns "$ns" | tr '\n' ' ')" >&2
	fi
	# Nothing should be mounted under D in the host's namespace; if anything
	# is (a service started by hand without the namespace), unmount it.
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
	# Per-boot state goes (podman "refreshes" on the next start, as after a
	# reboot); the storage stays.
	rm -rf "$D/run" "$D/tmp" "$D/vartmp"
	rm -f "$SOCK" "$D/podman.pid" "$D/mntns"
	[ -n "${QUIET:-}" ] || echo "podman service of $D stopped" >&2
	return 0
}

purge() {
	stop
	[ -d "$D" ] || return 0
	[ -n "$(mounts_under "$D")" ] && { echo "error: not deleting $D: mounts remain" >&2; return 1; }
	rm -rf "$D"
}

case "$CMD" in
start) start ;;
stop) stop ;;
purge) purge ;;
status) up ;;
env) echo "DOCKER_HOST=unix://$SOCK" ;;
*)
	echo "usage: DMX_PODMAN_DIR=DIR $0 start|stop|purge|status|env   (now: '${D}')" >&2
	exit 2
	;;
esac
