#!/usr/bin/env bash
# demo/run.sh: dockmux's main job, end to end (`bash demo/run.sh`, as root on
# Debian bookworm). Installs what is missing and builds (tests/lib.sh), starts
# a private containerd + dockerd (tests/e2e/dockerd.sh), runs `dockmux serve`
# in front of it, spawns three container sockets with their own tokens, pushes
# real Docker API traffic through them with the docker CLI and curl, shows the
# per-container counters, tears one container down, then stops everything.
#
# Env: BUILD_DIR (default build), DMX_E2E_DIR (dockerd's state dir; default a
# fresh one, deleted at the end), DOCKER (the docker CLI).
set -u
# shellcheck source=../tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib.sh"
cd "$DMX_ROOT" || exit 1

BUILD_DIR=${BUILD_DIR:-build}
case $BUILD_DIR in /*) DOCKMUX=$BUILD_DIR/cmd/dockmux ;; *) DOCKMUX=$DMX_ROOT/$BUILD_DIR/cmd/dockmux ;; esac
if [ -z "${DMX_E2E_DIR:-}" ]; then
	export DMX_E2E_DIR=/tmp/dockmux-demo.$$
	OWN_DIR=1
else
	OWN_DIR=
fi
UPSTREAM=$DMX_E2E_DIR/docker.sock
unset DOCKER_HOST DOCKER_CONTEXT
W=$(mktemp -d /tmp/dockmux-demo-run.XXXXXX)
export DOCKER_CONFIG=$W/docker-config
SOCKDIR=$W/sockets
CTL=$W/control.sock
SERVE_PID=
DOCKERD_UP=
FAILED=0

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'; else B='' G='' R='' N=''; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
say() { printf '   %s\n' "$*"; }
# run CMD...: show it, run it (60 s at most), indent its output; a failure
# makes the demo fail.
run() {
	printf '%s$ %s%s\n' "$G" "$(short "$(quote "$@")")" "$N"
	timeout 60 "$@" 2>&1 | sed 's/^/    /'
	local rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ]; then
		printf '    %s(exit %s: unexpected)%s\n' "$R" "$rc" "$N"
		FAILED=$((FAILED + 1))
	fi
	return "$rc"
}
# refused CMD...: like run, for a command that must fail.
refused() {
	printf '%s$ %s%s\n' "$G" "$(short "$(quote "$@")")" "$N"
	timeout 20 "$@" 2>&1 | sed 's/^/    /'
	local rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
		printf '    %s(exit %s: it should have failed)%s\n' "$R" "$rc" "$N"
		FAILED=$((FAILED + 1))
	else
		printf '    (exit %s, as expected)\n' "$rc"
	fi
}
# quote ARGS...: a shell-quoted command line, for display.
quote() {
	local a out=
	for a; do
		if [[ $a =~ ^[][A-Za-z0-9_./:=@%+,{}-]+$ ]]; then
			out+=" $a"
		else
			out+=" '${a//\'/\'\\\'\'}'"
		fi
	done
	printf '%s' "${out# }"
}
# short TEXT: the command line as shown, with the long paths abbreviated.
short() {
	local s=$1 v
	for v in CI_SOCK DASH_SOCK BUILD_SOCK; do
		[ -n "${!v:-}" ] && s=${s//"${!v}"/\$$v}
	done
	s=${s//"$DOCKMUX"/dockmux}
	[ -n "${DOCKER:-}" ] && s=${s//"$DOCKER"/docker}
	s=${s//"$SOCKDIR"/\$SOCKDIR}
	s=${s//"$CTL"/\$CTL}
	s=${s//"$W"/\$W}
	printf '%s' "$s"
}
die() {
	printf '%serror: %s%s\n' "$R" "$*" "$N" >&2
	exit 1
}

cleanup() {
	if [ -n "$SERVE_PID" ]; then
		kill "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
	fi
	if [ -n "$DOCKERD_UP" ]; then
		if [ -n "$OWN_DIR" ]; then bash tests/e2e/dockerd.sh purge; else bash tests/e2e/dockerd.sh stop; fi
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "run the demo as root: it starts a private dockerd"

# ----------------------------------------------------------------------------
step "1. Install what is missing, build dockmux"
dmx_need_packages || die "could not install the packages"
dmx_build "$BUILD_DIR" || die "the build failed"
DOCKER=$(dmx_docker_cli)
say "built $DOCKMUX"
say "docker CLI: $("$DOCKER" --version)"

# ----------------------------------------------------------------------------
step "2. A private dockerd: the upstream every container socket forwards to"
DOCKERD_UP=1
bash tests/e2e/dockerd.sh start >/dev/null || die "the private dockerd did not start"
say "containerd + dockerd under $DMX_E2E_DIR, listening on $UPSTREAM"
say "image dmx-busybox:latest made with 'docker import' from busybox-static (nothing pulled)"
say "dockerd has a network namespace of its own, with IPv4 forwarding off (the demo's"
say "containers need no network), so docker run prints dockerd's warning about it: expected."

# ----------------------------------------------------------------------------
step "3. Start the dockmux daemon"
printf '%s$ dockmux serve --upstream %s --dir $SOCKDIR --control $CTL --state $W/state &%s\n' "$G" "$UPSTREAM" "$N"
"$DOCKMUX" serve --upstream "$UPSTREAM" --dir "$SOCKDIR" --control "$CTL" --state "$W/state" 2>"$W/serve.log" &
SERVE_PID=$!
dmx_wait_for 100 grep -q 'msg="ready"' "$W/serve.log" || {
	cat "$W/serve.log"
	die "dockmux serve did not get ready"
}
sed 's/^/    /' "$W/serve.log"

# ----------------------------------------------------------------------------
step "4. Spawn three container sockets, each with its own token"
say "The token goes in on stdin (never argv, never the log); dockmux prints the socket"
say "path, which the container runtime would bind-mount at /var/run/docker.sock."
TOK_CI=ci-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOK_DASH=dash-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOK_BUILD=build-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
spawn() { # KEY TOKEN [OPTIONS...]
	local key=$1 tok=$2 path
	shift 2
	printf '%s$ printf %%s "$TOKEN" | dockmux spawn --control $CTL %s%s%s\n' "$G" "${*:+$* }" "$key" "$N" >&2
	path=$(printf '%s' "$tok" | timeout 10 "$DOCKMUX" spawn --control "$CTL" "$@" "$key") ||
		die "spawn $key failed"
	printf '    %s\n' "$path" >&2
	printf '    (in this demo: $%s)\n' "$SHOWN_AS" >&2
	printf '%s' "$path"
}
CI_SOCK=
DASH_SOCK=
BUILD_SOCK=
CI_SOCK=$(SHOWN_AS=CI_SOCK spawn ci-runner-1 "$TOK_CI")
if "$DOCKMUX" spawn --help 2>&1 | grep -q -- '--read-only'; then
	DASH_SOCK=$(SHOWN_AS=DASH_SOCK spawn dashboard "$TOK_DASH" --read-only)
	DASH_RO=1
else
	DASH_SOCK=$(SHOWN_AS=DASH_SOCK spawn dashboard "$TOK_DASH")
	DASH_RO=
fi
BUILD_SOCK=$(SHOWN_AS=BUILD_SOCK spawn builder "$TOK_BUILD")
say "The path is pure: <dir>/<16 hex of XXH3-64(key)>.sock"
run "$DOCKMUX" path --dir "$SOCKDIR" ci-runner-1
run ls -l "$SOCKDIR"

# ----------------------------------------------------------------------------
step "5. ci-runner-1: real Docker API traffic through its socket"
run curl -sS --max-time 10 --unix-socket "$CI_SOCK" http://docker/_ping
echo
run "$DOCKER" -H "unix://$CI_SOCK" version --format \
	'client {{.Client.Version}} -> server {{.Server.Version}} (API {{.Server.APIVersion}}, {{.Server.Os}}/{{.Server.Arch}})'
run "$DOCKER" -H "unix://$CI_SOCK" ps
run "$DOCKER" -H "unix://$CI_SOCK" run --rm dmx-busybox echo "hello from a container, through dockmux"
run "$DOCKER" -H "unix://$CI_SOCK" run -d --name demo-worker dmx-busybox \
	sh -c 'for i in 1 2 3; do echo "tick $i"; sleep 1; done; exec sleep 600'
printf '%s$ docker -H unix://$CI_SOCK logs -f demo-worker    # follows the live stream; stopped after 4 s%s\n' "$G" "$N"
timeout 4 "$DOCKER" -H "unix://$CI_SOCK" logs -f demo-worker 2>&1 | sed 's/^/    /'
[ "${PIPESTATUS[0]}" = 124 ] || { say "${R}(logs -f ended early)${N}"; FAILED=$((FAILED + 1)); }
run "$DOCKER" -H "unix://$CI_SOCK" exec demo-worker sh -c 'echo "exec in $(hostname), pid $$"'
printf '%s$ echo "piped stdin" | docker -H unix://$CI_SOCK exec -i demo-worker cat%s\n' "$G" "$N"
echo "piped stdin" | timeout 20 "$DOCKER" -H "unix://$CI_SOCK" exec -i demo-worker cat 2>&1 | sed 's/^/    /'
[ "${PIPESTATUS[1]}" = 0 ] || FAILED=$((FAILED + 1))
printf '%s$ echo "attached" | docker -H unix://$CI_SOCK run -i --rm dmx-busybox cat%s\n' "$G" "$N"
echo "attached" | timeout 30 "$DOCKER" -H "unix://$CI_SOCK" run -i --rm dmx-busybox cat 2>&1 | sed 's/^/    /'
[ "${PIPESTATUS[1]}" = 0 ] || FAILED=$((FAILED + 1))

# ----------------------------------------------------------------------------
step "6. dashboard: a second socket, same daemon, its own token$([ -n "$DASH_RO" ] && echo ' (read-only policy)')"
run "$DOCKER" -H "unix://$DASH_SOCK" ps --format '{{.Names}}\t{{.Image}}\t{{.Status}}'
run curl -sS --max-time 10 --unix-socket "$DASH_SOCK" \
	'http://docker/containers/json?all=1' -o "$W/containers.json"
say "GET /containers/json returned $(grep -o '"Id"' "$W/containers.json" | wc -l) container(s)"
if [ -n "$DASH_RO" ]; then
	say "Writes are refused by dockmux itself (403) before reaching dockerd:"
	refused "$DOCKER" -H "unix://$DASH_SOCK" rm -f demo-worker
fi

# ----------------------------------------------------------------------------
step "7. builder: images and a container of its own"
run "$DOCKER" -H "unix://$BUILD_SOCK" images --format '{{.Repository}}:{{.Tag}}  {{.Size}}'
run "$DOCKER" -H "unix://$BUILD_SOCK" run --rm dmx-busybox sh -c 'echo "builder sees $(ls /bin | wc -l) applets"'

# ----------------------------------------------------------------------------
step "8. dockmux ls: per-container counters"
run "$DOCKMUX" ls --control "$CTL"

# ----------------------------------------------------------------------------
step "9. Tear down builder: its socket disappears, its clients fail fast"
run "$DOCKMUX" teardown --control "$CTL" builder
refused ls -l "$BUILD_SOCK"
refused "$DOCKER" -H "unix://$BUILD_SOCK" ps
say "the others are untouched:"
run "$DOCKER" -H "unix://$CI_SOCK" ps --format '{{.Names}}: {{.Status}}'
run "$DOCKMUX" ls --control "$CTL"

# ----------------------------------------------------------------------------
step "10. Upgrade dockmux without breaking a container's socket (serve --takeover)"
say "Containers bind-mount the socket inode; a new daemon takes every listener over"
say "from the running one (SCM_RIGHTS), so no file is re-created. A logs -f started"
say "before the handoff keeps streaming through the old daemon until it ends."
INO_BEFORE=$(stat -c %i "$CI_SOCK")
run "$DOCKER" -H "unix://$CI_SOCK" run -d --name demo-ticker dmx-busybox \
	sh -c 'for i in 1 2 3 4; do echo "ticker $i"; sleep 1; done'
timeout 30 "$DOCKER" -H "unix://$CI_SOCK" logs -f demo-ticker >"$W/ticker.txt" 2>&1 &
TICK_PID=$!
sleep 1
OLD_PID=$SERVE_PID
printf '%s$ dockmux serve --upstream %s --dir $SOCKDIR --control $CTL --state $W/state --takeover &%s\n' \
	"$G" "$UPSTREAM" "$N"
"$DOCKMUX" serve --upstream "$UPSTREAM" --dir "$SOCKDIR" --control "$CTL" --state "$W/state" \
	--takeover 2>"$W/serve2.log" &
SERVE_PID=$!
dmx_wait_for 100 grep -q 'msg="ready"' "$W/serve2.log" || {
	cat "$W/serve2.log"
	die "the takeover did not get ready"
}
sed 's/^/    /' "$W/serve2.log"
if [ "$(stat -c %i "$CI_SOCK")" = "$INO_BEFORE" ]; then
	say "socket inode of ci-runner-1 before and after: $INO_BEFORE = $INO_BEFORE"
else
	say "${R}the socket inode changed${N}"
	FAILED=$((FAILED + 1))
fi
run "$DOCKER" -H "unix://$CI_SOCK" ps --format '{{.Names}}: {{.Status}}'
wait "$TICK_PID"
say "the logs -f opened before the takeover, to its end:"
sed 's/^/    /' "$W/ticker.txt"
[ "$(grep -c '^ticker' "$W/ticker.txt")" = 4 ] || FAILED=$((FAILED + 1))
dmx_wait_for 100 sh -c "! kill -0 $OLD_PID 2>/dev/null" || FAILED=$((FAILED + 1))
wait "$OLD_PID" 2>/dev/null
say "the old daemon's last lines:"
tail -4 "$W/serve.log" | sed 's/^/    /'
run "$DOCKER" -H "unix://$CI_SOCK" rm -f demo-ticker

# ----------------------------------------------------------------------------
step "11. Stop everything"
run "$DOCKER" -H "unix://$CI_SOCK" rm -f demo-worker
printf '%s$ kill -TERM <dockmux serve>%s\n' "$G" "$N"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
rc=$?
SERVE_PID=
say "dockmux exited with $rc; sockets left in \$SOCKDIR: $(find "$SOCKDIR" -type s 2>/dev/null | wc -l)"
[ "$rc" = 0 ] || FAILED=$((FAILED + 1))
say "the new daemon's log (no token in it, nor in the old one's):"
sed 's/^/    /' "$W/serve2.log"
if grep -qF -e "$TOK_CI" -e "$TOK_DASH" -e "$TOK_BUILD" "$W/serve.log" "$W/serve2.log"; then
	say "${R}A TOKEN APPEARS IN THE LOG${N}"
	FAILED=$((FAILED + 1))
fi
if [ -n "$OWN_DIR" ]; then bash tests/e2e/dockerd.sh purge; else bash tests/e2e/dockerd.sh stop; fi
DOCKERD_UP=

echo
if [ "$FAILED" -eq 0 ]; then
	echo "${B}Demo complete.${N}"
else
	echo "${R}Demo finished with $FAILED unexpected result(s).${N}"
	exit 1
fi
