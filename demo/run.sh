#!/usr/bin/env bash
# demo/run.sh: dockmux's main job, end to end, on a fresh Debian machine as root.
# Starts a private dockerd (tests/e2e/dockerd.sh), the dockmux daemon, spawns
# three container sockets with different tokens (one read-only), pushes real
# Docker API traffic through them with the docker CLI and curl, shows
# `dockmux ls`, tears one down, and stops everything.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
BUILD_DIR=${BUILD_DIR:-build}
export DMX_E2E_DIR=${DMX_E2E_DIR:-/tmp/dockmux-demo}
W=$(mktemp -d /tmp/dockmux-demo-run.XXXXXX)
CTL=$W/control.sock
DOCKMUX=$BUILD_DIR/cmd/dockmux
DOCKER=/usr/local/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
	[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
	bash tests/e2e/dockerd.sh stop >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT

step "install and build"
dmx_need_packages || exit 1
dmx_build "$BUILD_DIR" || exit 1
echo "built $DOCKMUX"

step "a private dockerd (the upstream), with a busybox image made by docker import"
bash tests/e2e/dockerd.sh start >/dev/null || exit 1
UPSTREAM=$DMX_E2E_DIR/docker.sock
echo "dockerd listening on $UPSTREAM"

step "dockmux serve"
"$DOCKMUX" serve --upstream "$UPSTREAM" --dir "$W/sockets" --control "$CTL" 2>"$W/serve.log" &
SERVE_PID=$!
for _ in $(seq 100); do [ -S "$CTL" ] && break; sleep 0.05; done
sed 's/^/  log: /' "$W/serve.log"

step "spawn three container sockets (tokens on stdin, never on the command line)"
CI=$(printf 'token-ci-runner' | "$DOCKMUX" spawn --control "$CTL" ci-runner-1)
DASH=$(printf 'token-dashboard' | "$DOCKMUX" spawn --control "$CTL" --read-only dashboard 2>/dev/null ||
	printf 'token-dashboard' | "$DOCKMUX" spawn --control "$CTL" dashboard)
BUILD=$(printf 'token-builder' | "$DOCKMUX" spawn --control "$CTL" builder)
echo "ci-runner-1 -> $CI"
echo "dashboard   -> $DASH"
echo "builder     -> $BUILD"
echo "(each path is <dir>/<XXH3-64 of the key>.sock; the runtime bind-mounts it at /var/run/docker.sock)"
run "$DOCKMUX" path --dir "$W/sockets" ci-runner-1

step "real Docker API traffic through the container sockets"
run curl -s --unix-socket "$CI" http://docker/_ping
echo
run "$DOCKER" -H "unix://$CI" version --format 'client {{.Client.Version}}, server {{.Server.Version}} (API {{.Server.APIVersion}})'
run "$DOCKER" -H "unix://$CI" run --rm dmx-busybox echo "hello from a container, via dockmux"
run "$DOCKER" -H "unix://$CI" run -d --name demo-worker dmx-busybox sh -c 'for i in 1 2 3; do echo tick $i; sleep 1; done; sleep 300'
sleep 3.5
run "$DOCKER" -H "unix://$CI" logs demo-worker
printf '$ echo stdin-data | docker exec -i demo-worker cat\n'
echo stdin-data | "$DOCKER" -H "unix://$CI" exec -i demo-worker cat
run "$DOCKER" -H "unix://$DASH" ps --format '{{.Names}} {{.Status}}'
printf '$ docker -H unix://%s rm -f demo-worker   # the dashboard is read-only\n' "$DASH"
"$DOCKER" -H "unix://$DASH" rm -f demo-worker 2>&1 | sed 's/^/  /'
run "$DOCKER" -H "unix://$BUILD" images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
run "$DOCKER" -H "unix://$CI" rm -f demo-worker

step "dockmux ls: per-container counters"
run "$DOCKMUX" ls --control "$CTL"

step "teardown builder: its socket file disappears and its clients fail fast"
run "$DOCKMUX" teardown --control "$CTL" builder
ls -l "$BUILD" 2>&1 | sed 's/^/  /'
"$DOCKER" -H "unix://$BUILD" ps 2>&1 | head -2 | sed 's/^/  /'

step "the daemon's log (no token appears in it)"
sed 's/^/  /' "$W/serve.log"
if grep -q 'token-' "$W/serve.log"; then echo "A TOKEN LEAKED INTO THE LOG"; exit 1; fi

step "stop"
kill "$SERVE_PID"
wait "$SERVE_PID"
SERVE_PID=
echo "dockmux stopped; sockets left: $(ls "$W/sockets" 2>/dev/null | wc -l)"
