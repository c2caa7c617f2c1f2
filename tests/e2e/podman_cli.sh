#!/usr/bin/env bash
# tests/e2e/podman_cli.sh [dockmux|direct]: the REAL docker CLI (Debian's)
# against a real private podman API service (start it first:
# DMX_PODMAN_DIR=DIR tests/e2e/podman.sh start), through container sockets
# spawned by `dockmux serve --upstream <podman socket>`: podman as a second
# real upstream beside dockerd (tests/e2e/docker_cli.sh).
#
# Modes (first argument, or env E2E_MODE; default dockmux):
#   dockmux  run `$DOCKMUX serve`, spawn keys, point the CLI at their sockets
#   direct   point the CLI straight at podman: validates the checks themselves
# Env: DMX_PODMAN_DIR (the service's state dir; required), DOCKMUX (the
# dockmux binary; dockmux mode only), DOCKER (the docker CLI, default
# Debian's, tests/lib.sh).
#
# Podman 4.3 differs from dockerd where these checks look (docs/NOTES.md):
# `run --rm` returns 0 whatever the container's exit code (not asserted;
# without --rm the code is), a removal is the event "remove" (dockerd:
# "destroy"), and every container here runs with --network none (the compat
# API's default is a bridge).
#
# Prints "ok - NAME" / "not ok - NAME" (plus "#" diagnostic lines) per check,
# then "N passed, M failed"; exits non-zero on any failure. Every CLI command
# runs under `timeout`; nothing waits a fixed time for a condition: each wait
# polls for it, with a bound.
set -u
MODE=${1:-${E2E_MODE:-dockmux}}
case $MODE in dockmux | direct) ;; *)
	echo "usage: $0 [dockmux|direct]" >&2
	exit 2
	;;
esac
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
DOCKER=$(dmx_docker_cli)
IMAGE=dmx-busybox:latest
RUN=pm$$ # names and labels of everything this run creates
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

pass=0 fail=0
ok() {
	echo "ok - $1"
	pass=$((pass + 1))
}
nok() { # name [diagnostics]
	echo "not ok - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | head -12 | sed 's/^/#   /'
	fail=$((fail + 1))
}
# check NAME CMD...: ok when CMD exits 0 (its output is the diagnostic).
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else nok "$name" "$out"; fi
}
# expect NAME WANT SHELL-CODE: ok when the code exits 0 and prints exactly WANT
# on stdout. stderr is never compared, only shown when the check fails.
expect() {
	local name=$1 want=$2 out rc
	out=$(eval "$3" 2>"$W/expect.err")
	rc=$?
	if [ $rc -eq 0 ] && [ "$out" = "$want" ]; then
		ok "$name"
	else
		nok "$name" "exit $rc$([ $rc = 124 ] && echo ' (timeout)'), want $(printf %q "$want"), got:
$out
stderr: $(cat "$W/expect.err")"
	fi
}
# dk [T=seconds] ARGS...: the docker CLI on $SOCK under a timeout.
dk() { timeout -k 5 "${T:-60}" "$DOCKER" -H "unix://$SOCK" "$@"; }
# up ARGS...: the docker CLI straight on podman (setup, cleanup, verdicts).
up() { timeout -k 5 60 "$DOCKER" -H "unix://$UPSTREAM" "$@"; }
# wait_for TENTHS SHELL-CODE: poll every 0.1 s until the code succeeds (its
# stderr dropped: a file may not exist yet).
wait_for() {
	local i
	for ((i = 0; i < $1; i++)); do
		eval "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
finish() {
	if [ "$fail" -ne 0 ] && [ -f "${W:-}/serve.log" ]; then
		echo "# last lines of the dockmux log:"
		tail -15 "$W/serve.log" | sed 's/^/#   /'
	fi
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

if [ -z "${DMX_PODMAN_DIR:-}" ]; then
	nok "DMX_PODMAN_DIR names the podman service's state dir" \
		"start it: export DMX_PODMAN_DIR=\$(mktemp -d); bash tests/e2e/podman.sh start"
	finish
fi
UPSTREAM=${DMX_PODMAN_DIR%/}/podman.sock
[ -n "$DOCKER" ] && [ -x "$DOCKER" ] || {
	nok "docker CLI found" "no docker CLI (apt-get install docker.io)"
	finish
}
W=$(mktemp -d /tmp/dmx-pme2e.XXXXXX)
export DOCKER_CONFIG=$W/docker-config # no user config, credential helper or context
mkdir -p "$DOCKER_CONFIG"
if ! timeout 10 "$DOCKER" -H "unix://$UPSTREAM" version >/dev/null 2>&1; then
	nok "private podman answers on $UPSTREAM" "start it: DMX_PODMAN_DIR=$DMX_PODMAN_DIR bash tests/e2e/podman.sh start"
	rm -rf "$W"
	finish
fi
CTL=$W/control.sock
SERVE_PID=
BG_PIDS=()

cleanup() {
	local p ids
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	# Whatever this run created, straight on podman.
	ids=$(timeout 20 "$DOCKER" -H "unix://$UPSTREAM" ps -aq --filter "label=dmx.e2e.run=$RUN" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -n "$ids" ] && timeout 60 "$DOCKER" -H "unix://$UPSTREAM" rm -f $ids >/dev/null 2>&1
	if [ -n "$SERVE_PID" ]; then
		kill "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# On every container this run creates: its label, and no network (podman's
# compat API would otherwise set up a bridge with netavark).
C="--label dmx.e2e.run=$RUN --network none"

echo "# mode $MODE, docker CLI $DOCKER ($(timeout 10 "$DOCKER" --version 2>/dev/null | sed 's/,.*//')), podman $(up version --format '{{.Server.Version}}' 2>/dev/null)"

# ---------------------------------------------------------------- the proxy
if [ "$MODE" = direct ]; then
	SOCK=$UPSTREAM
	SOCK2=$UPSTREAM
else
	if [ -z "${DOCKMUX:-}" ] || [ ! -x "$DOCKMUX" ]; then
		nok "dockmux binary" "set DOCKMUX to the built dockmux binary (got '${DOCKMUX:-}')"
		finish
	fi
	"$DOCKMUX" serve --upstream "$UPSTREAM" --dir "$W/socks" --control "$CTL" --state "$W/state" \
		--grace-ms 2000 >"$W/serve.log" 2>&1 &
	SERVE_PID=$!
	if wait_for 100 'grep -q "msg=\"ready\"" "$W/serve.log" 2>/dev/null && [ -S "$CTL" ] || ! kill -0 "$SERVE_PID" 2>/dev/null' &&
		grep -q 'msg="ready"' "$W/serve.log"; then
		ok "dockmux serve --upstream <podman socket> is ready"
	else
		nok "dockmux serve --upstream <podman socket> is ready" "$(cat "$W/serve.log")"
		finish
	fi
	TOKEN1="pm-token-one-$RANDOM$RANDOM"
	TOKEN2="pm-token-two-$RANDOM$RANDOM"
	SOCK=$(printf '%s' "$TOKEN1" | timeout 10 "$DOCKMUX" spawn --control "$CTL" "$RUN-one" 2>"$W/spawn.err")
	SOCK2=$(printf '%s' "$TOKEN2" | timeout 10 "$DOCKMUX" spawn --control "$CTL" "$RUN-two" 2>>"$W/spawn.err")
	if [ -S "$SOCK" ] && [ -S "$SOCK2" ] && [ "$SOCK" != "$SOCK2" ]; then
		ok "spawn creates two distinct sockets"
	else
		nok "spawn creates two distinct sockets" "$SOCK
$SOCK2
$(cat "$W/spawn.err")"
		finish
	fi
fi

# ---------------------------------------------------------------- version
out=$(dk version 2>"$W/stderr")
comps=$(dk version --format '{{range .Server.Components}}{{.Name}};{{end}}' 2>"$W/stderr")
if grep -q '^Server:' <<<"$out" && dk version --format '{{.Server.Version}}' 2>/dev/null | grep -q '^[0-9]' &&
	grep -q 'Podman Engine' <<<"$comps"; then
	ok "version shows the server section (Podman Engine)"
else
	nok "version shows the server section (Podman Engine)" "$out
components: $comps
stderr: $(cat "$W/stderr")"
fi
out=$(timeout 10 curl -sS --unix-socket "$SOCK" http://docker/_ping 2>"$W/stderr")
[ "$out" = OK ] && ok "curl GET /_ping" || nok "curl GET /_ping" "$out $(cat "$W/stderr")"
check "ps -a" dk ps -a
out=$(dk images --format '{{.Repository}}:{{.Tag}}' 2>"$W/stderr")
grep -q "dmx-busybox:latest$" <<<"$out" && ok "images lists $IMAGE" || nok "images lists $IMAGE" "$out"

# ---------------------------------------------------------------- run
expect "run --rm echo hi prints hi" hi 'dk run --rm $C "$IMAGE" echo hi'
expect "run (no --rm) returns the exit code" 3 \
	'dk run --name "$RUN-exit" $C "$IMAGE" sh -c "exit 3" </dev/null; echo $?'
expect "echo hello | run -i --rm cat (attach hijack, stdin piped)" hello \
	'echo hello | T=30 dk run -i --rm $C "$IMAGE" cat'
out=$(head -c 1000000 /dev/zero | tr '\0' a | T=60 dk run -i --rm $C "$IMAGE" wc -c 2>"$W/stderr")
[ "$(tr -d ' ' <<<"$out")" = 1000000 ] && ok "run -i moves 1 MB of stdin intact" ||
	nok "run -i moves 1 MB of stdin intact" "$out $(cat "$W/stderr")"

# ---------------------------------------------------------------- exec
dk run -d --name "$RUN-exec" $C "$IMAGE" sleep 600 >/dev/null 2>"$W/stderr" ||
	nok "run -d a container for exec" "$(cat "$W/stderr")"
expect "exec without -i prints output" x 'dk exec "$RUN-exec" echo x'
expect "exec returns the exit code" 7 'dk exec "$RUN-exec" sh -c "exit 7"; echo $?'
expect "echo data | exec -i cat: EOF reaches the process (half-close)" data \
	'echo data | T=20 dk exec -i "$RUN-exec" cat'
out=$(head -c 3000000 /dev/zero | tr '\0' a | T=60 dk exec -i "$RUN-exec" wc -c 2>"$W/stderr")
[ "$(tr -d ' ' <<<"$out")" = 3000000 ] && ok "exec -i moves 3 MB of stdin intact, then EOF" ||
	nok "exec -i moves 3 MB of stdin intact, then EOF" "$out $(cat "$W/stderr")"
out=$(T=60 dk exec "$RUN-exec" sh -c 'head -c 4000000 /dev/zero' 2>"$W/stderr" | wc -c)
[ "$out" = 4000000 ] && ok "exec streams 4 MB of stdout intact" || nok "exec streams 4 MB of stdout intact" "$out bytes"

# ---------------------------------------------------------------- logs -f
# The container prints "one", then waits for a file that this script creates
# only once `logs -f` has shown "one": the stream is live, not a replay.
dk run -d --name "$RUN-logs" $C "$IMAGE" \
	sh -c 'echo one; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo two' >/dev/null 2>"$W/stderr" ||
	nok "run -d a container for logs" "$(cat "$W/stderr")"
T=60 dk logs -f "$RUN-logs" >"$W/logs.txt" 2>"$W/logs.err" &
logpid=$!
BG_PIDS+=("$logpid")
if wait_for 300 'grep -qx one "$W/logs.txt" || ! kill -0 "$logpid"' && grep -qx one "$W/logs.txt"; then
	streamed=1
	kill -0 "$logpid" 2>/dev/null || streamed=
	dk exec "$RUN-logs" touch /tmp/go >/dev/null 2>&1
	wait_for 300 '! kill -0 "$logpid" 2>/dev/null'
	wait "$logpid"
	rc=$?
	if [ -n "$streamed" ] && [ $rc -eq 0 ] && [ "$(cat "$W/logs.txt")" = "$(printf 'one\ntwo')" ]; then
		ok "logs -f streams while the container runs and ends when it exits"
	else
		nok "logs -f streams while the container runs and ends when it exits" \
			"live before the end: ${streamed:-no}; exit $rc; got: $(cat "$W/logs.txt") $(cat "$W/logs.err")"
	fi
else
	nok "logs -f streams while the container runs and ends when it exits" \
		"no 'one' while following (30 s at most): $(cat "$W/logs.txt") $(cat "$W/logs.err")"
	kill "$logpid" 2>/dev/null
fi
expect "logs (not following) after the exit" "$(printf 'one\ntwo')" 'dk logs "$RUN-logs"'

# ---------------------------------------------------------------- attach
# stdin is a fifo held open until the container has answered: on stdin EOF
# the attach may end before the output is through.
dk run -d -i --name "$RUN-attach" $C "$IMAGE" sh -c 'read line; echo "got $line"' >/dev/null 2>"$W/stderr" ||
	nok "run -d -i a container for attach" "$(cat "$W/stderr")"
mkfifo "$W/attach.in"
T=30 dk attach "$RUN-attach" <"$W/attach.in" >"$W/attach.out" 2>"$W/attach.err" &
attpid=$!
BG_PIDS+=("$attpid")
exec 3>"$W/attach.in"
echo ping >&3
wait_for 200 'grep -q "got ping" "$W/attach.out" || ! kill -0 "$attpid"'
exec 3>&-
wait_for 200 '! kill -0 "$attpid" 2>/dev/null'
wait "$attpid"
rc=$?
[ $rc -eq 0 ] && [ "$(cat "$W/attach.out")" = "got ping" ] && ok "attach to a running container (stdin in, stdout out, ends with it)" ||
	nok "attach to a running container (stdin in, stdout out, ends with it)" \
		"exit $rc: $(cat "$W/attach.out") $(cat "$W/attach.err")"

# Older clients and raw API users attach and exec without an Upgrade header:
# podman answers 200 with a docker stream type and hijacks. stdin that looks
# like a request head must reach `cat` untouched (never token-injected, so
# never echoed with the token), and keystrokes without a newline at once.
check "attach and exec start without Upgrade: stdin verbatim, no token back" \
	timeout -k 5 60 python3 "$(dirname "$0")/raw_hijack.py" "$SOCK" "$IMAGE" "$RUN" "${TOKEN1:-}"

# ---------------------------------------------------------------- cp
dk run -d --name "$RUN-cp" $C "$IMAGE" sleep 600 >/dev/null 2>"$W/stderr" ||
	nok "run -d a container for cp" "$(cat "$W/stderr")"
head -c 5000000 /dev/urandom >"$W/blob"
if out=$(T=60 dk cp "$W/blob" "$RUN-cp:/tmp/blob" 2>&1); then
	got=$(T=30 dk exec "$RUN-cp" sh -c 'wc -c </tmp/blob' 2>"$W/stderr" | tr -d ' ')
	sum=$(T=30 dk exec "$RUN-cp" sha256sum /tmp/blob 2>>"$W/stderr" | awk '{print $1}')
	if [ "$got" = 5000000 ] && [ "$sum" = "$(sha256sum "$W/blob" | awk '{print $1}')" ]; then
		ok "cp into a container: 5 MB byte-exact"
	else
		nok "cp into a container: 5 MB byte-exact" "size $got, sha256 $sum $(cat "$W/stderr")"
	fi
else
	nok "cp into a container: 5 MB byte-exact" "$out"
fi
T=30 dk exec "$RUN-cp" sh -c 'head -c 3000000 /dev/urandom >/tmp/made; sha256sum /tmp/made' \
	>"$W/made.sum" 2>"$W/stderr"
if out=$(T=60 dk cp "$RUN-cp:/tmp/made" "$W/made" 2>&1) &&
	[ "$(awk '{print $1}' "$W/made.sum")" = "$(sha256sum "$W/made" | awk '{print $1}')" ] &&
	[ "$(stat -c %s "$W/made")" = 3000000 ]; then
	ok "cp out of a container: 3 MB byte-exact"
else
	nok "cp out of a container: 3 MB byte-exact" "$out $(cat "$W/made.sum" "$W/stderr")"
fi
if out=$(T=60 dk cp "$RUN-cp:/tmp/blob" "$W/blob.back" 2>&1) && cmp -s "$W/blob" "$W/blob.back"; then
	ok "cp in and back out: the same 5 MB"
else
	nok "cp in and back out: the same 5 MB" "$out"
fi

# ---------------------------------------------------------------- events
# The stream is known to be open once a probe container's create event has
# come through it (podman sends no event history without --since).
ev=$W/events.txt
timeout -k 5 120 "$DOCKER" -H "unix://$SOCK" events --filter type=container \
	--filter "label=dmx.e2e.run=$RUN" --filter event=create --filter event=remove \
	--format '{{.Action}} {{.Actor.Attributes.name}}' >"$ev" 2>"$W/events.err" &
evpid=$!
BG_PIDS+=("$evpid")
opened=
for i in $(seq 20); do
	up create --name "$RUN-probe$i" $C "$IMAGE" true >/dev/null 2>&1
	if wait_for 20 'grep -q "^create $RUN-probe" "$ev"'; then
		opened=1
		break
	fi
	kill -0 "$evpid" 2>/dev/null || break # the stream ended (an error)
done
if [ -z "$opened" ]; then
	nok "events streams create and remove, and stays open" \
		"no probe event in 20 tries: $(cat "$ev" "$W/events.err")"
else
	dk create --name "$RUN-ev" $C "$IMAGE" true >/dev/null 2>"$W/stderr"
	dk rm "$RUN-ev" >/dev/null 2>>"$W/stderr"
	wait_for 200 'grep -qx "remove $RUN-ev" "$ev"'
	# Still open after them: a later event comes through too.
	up create --name "$RUN-ev-later" $C "$IMAGE" true >/dev/null 2>&1
	wait_for 200 'grep -qx "create $RUN-ev-later" "$ev"'
	if grep -qx "create $RUN-ev" "$ev" && grep -qx "remove $RUN-ev" "$ev" &&
		grep -qx "create $RUN-ev-later" "$ev" && kill -0 "$evpid" 2>/dev/null; then
		ok "events streams create and remove, and stays open"
	else
		nok "events streams create and remove, and stays open" \
			"$(cat "$ev" "$W/events.err" "$W/stderr"; kill -0 "$evpid" 2>/dev/null || echo '(the events stream ended)')"
	fi
fi
kill "$evpid" 2>/dev/null
wait "$evpid" 2>/dev/null

# ---------------------------------------------------------------- inspect, rm
expect "inspect" "running" 'dk inspect --format "{{.State.Status}}" "$RUN-exec"'
out=$(dk inspect "$RUN-no-such" 2>&1)
[ $? -ne 0 ] && grep -qi 'no such' <<<"$out" && ok "inspect of a missing container fails with the daemon's 404" ||
	nok "inspect of a missing container fails with the daemon's 404" "$out"
check "rm -f of a running container" dk rm -f "$RUN-exec"
out=$(up ps -a --filter "name=^$RUN-exec\$" -q 2>"$W/stderr")
rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] && ok "rm -f really removed it" ||
	nok "rm -f really removed it" "exit $rc: $out $(cat "$W/stderr")"

# ---------------------------------------------------------------- dockmux only
if [ "$MODE" = dockmux ]; then
	if grep -qF -e "$TOKEN1" -e "$TOKEN2" "$W/serve.log"; then
		nok "no token in the dockmux log"
	else
		ok "no token in the dockmux log"
	fi
	out=$(timeout 10 "$DOCKMUX" ls --control "$CTL" 2>"$W/stderr")
	if grep -q "^$RUN-one " <<<"$out" && grep -q "^$RUN-two " <<<"$out" &&
		[ "$(awk -v k="$RUN-one" '$1 == k {print $5}' <<<"$out")" -gt 10 ] 2>/dev/null; then
		ok "ls lists both keys with request counters"
	else
		nok "ls lists both keys with request counters" "$out"
	fi
	check "the second socket works" env SOCK="$SOCK2" bash -c \
		'timeout -k 5 30 "$0" -H "unix://$SOCK" ps -a >/dev/null' "$DOCKER"

	# Teardown: the socket goes, the other key keeps working, docker fails fast.
	out=$(timeout 10 "$DOCKMUX" teardown --control "$CTL" "$RUN-two" 2>&1)
	[ $? -eq 0 ] && [ ! -e "$SOCK2" ] && ok "teardown removes the socket file" ||
		nok "teardown removes the socket file" "$out$(ls -l "$SOCK2" 2>&1)"
	t0=$(date +%s%N)
	out=$(SOCK=$SOCK2 T=10 dk ps 2>&1)
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $ms -lt 3000 ]; then
		ok "docker fails fast on the torn-down socket (${ms} ms)"
	else
		nok "docker fails fast on the torn-down socket" "exit $rc after ${ms} ms: $out"
	fi
	check "the other socket still works after the teardown" dk ps
	out=$(timeout 10 "$DOCKMUX" ls --control "$CTL" 2>"$W/stderr")
	grep -q "^$RUN-two " <<<"$out" && nok "ls no longer lists the torn-down key" "$out" ||
		ok "ls no longer lists the torn-down key"

	# ------------------------------------------------------------ read-only policy
	# Reads pass, writes are refused by dockmux: the container is never created.
	RO=$(printf '%s' "$TOKEN1-ro" | timeout 10 "$DOCKMUX" spawn --control "$CTL" --read-only "$RUN-ro" 2>"$W/spawn.err")
	if [ -S "$RO" ]; then
		out=$(SOCK=$RO dk ps -a --format '{{.Names}}' 2>"$W/stderr")
		rc=$?
		[ $rc -eq 0 ] && grep -qx "$RUN-cp" <<<"$out" && ok "read-only socket: docker ps works (sees the running container)" ||
			nok "read-only socket: docker ps works (sees the running container)" "exit $rc: $out $(cat "$W/stderr")"
		out=$(SOCK=$RO T=20 dk run --rm --name "$RUN-ro-c" $C "$IMAGE" true 2>&1)
		rc=$?
		left=$(up ps -aq --filter "name=$RUN-ro-c" 2>"$W/stderr") || left="(podman did not answer)"
		# The refusal is dockmux's (its error text is the subject: grep'd).
		[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ -z "$left" ] && grep -q 'dockmux policy: read-only' <<<"$out" &&
			ok "read-only socket: docker run is refused by dockmux, nothing created" ||
			nok "read-only socket: docker run is refused by dockmux, nothing created" "exit $rc: $out
left: $left"
		if grep -qF "$TOKEN1-ro" "$W/serve.log"; then
			nok "no read-only token in the dockmux log"
		else
			ok "no read-only token in the dockmux log"
		fi
	else
		nok "spawn --read-only" "$RO $(cat "$W/spawn.err")"
	fi

	# ------------------------------------------------------------ tenant isolation
	# The subset of tests/e2e/docker_cli.sh's isolation block that this
	# slice of issue 11 enforces, against podman's compat API: refused create
	# fields answered by dockmux (nothing created), the owner label stamped
	# (a client's own value replaced) and lists limited to the tenant's.
	ISO=$(printf '%s' "$TOKEN1-iso" | timeout 10 "$DOCKMUX" spawn --control "$CTL" --isolate \
		"$RUN-iso" 2>"$W/spawn.err")
	if [ -S "$ISO" ]; then
		OWNER=$(basename "$ISO" .sock)
		SOCK=$ISO T=30 dk run --rm --privileged --name "$RUN-iso-priv" $C "$IMAGE" true \
			>"$W/iso.out" 2>"$W/iso.err"
		rc=$?
		left=$(up ps -aq --filter "name=$RUN-iso-priv" 2>"$W/stderr") || left="(podman did not answer)"
		[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'Privileged' "$W/iso.err" &&
			[ ! -s "$W/iso.out" ] && [ -z "$left" ] &&
			ok "isolated socket: run --privileged is refused naming Privileged, nothing created" ||
			nok "isolated socket: run --privileged is refused naming Privileged, nothing created" \
				"exit $rc: $(cat "$W/iso.err") left: $left"
		SOCK=$ISO T=30 dk run --rm -v /:/host --name "$RUN-iso-bind" $C "$IMAGE" true \
			>"$W/iso.out" 2>"$W/iso.err"
		rc=$?
		left=$(up ps -aq --filter "name=$RUN-iso-bind" 2>"$W/stderr") || left="(podman did not answer)"
		[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'bind allowlist' "$W/iso.err" &&
			[ -z "$left" ] && ok "isolated socket: run -v /:/host is refused, nothing created" ||
			nok "isolated socket: run -v /:/host is refused, nothing created" \
				"exit $rc: $(cat "$W/iso.err") left: $left"
		SOCK=$ISO dk run -d --name "$RUN-iso-c" $C --label org.dockmux.owner=0000000000000000 \
			"$IMAGE" sleep 600 >/dev/null 2>"$W/iso.err"
		expect "isolated socket: its container carries the owner label (on podman itself)" \
			"$OWNER" 'up inspect --format "{{index .Config.Labels \"org.dockmux.owner\"}}" "$RUN-iso-c"'
		expect "isolated socket: docker ps -a lists only its own containers" "$RUN-iso-c" \
			'SOCK=$ISO dk ps -a --format "{{.Names}}"'
		all=$(up ps -a --format '{{.Names}}' 2>"$W/stderr")
		[ "$(wc -l <<<"$all")" -gt 1 ] && grep -qx "$RUN-iso-c" <<<"$all" &&
			ok "isolated socket: podman itself has others besides" ||
			nok "isolated socket: podman itself has others besides" "$all"
		up rm -f "$RUN-iso-c" >/dev/null 2>&1
	else
		nok "spawn --isolate" "$ISO $(cat "$W/spawn.err")"
	fi

	# SIGTERM: dockmux exits 0 and removes its sockets.
	kill -TERM "$SERVE_PID"
	rc=124
	if wait_for 100 '! kill -0 "$SERVE_PID" 2>/dev/null'; then
		wait "$SERVE_PID"
		rc=$?
		SERVE_PID=
	fi
	[ $rc -eq 0 ] && [ ! -e "$SOCK" ] && [ ! -e "$CTL" ] && ok "SIGTERM: dockmux exits 0, sockets removed" ||
		nok "SIGTERM: dockmux exits 0, sockets removed" "exit $rc; $(ls "$W/socks" "$CTL" 2>&1)"
fi

finish
