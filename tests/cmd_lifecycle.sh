#!/usr/bin/env bash
# tests/cmd_lifecycle.sh: `dockmux serve` across its own life: the state file,
# a plain restart, a takeover (serve --takeover) that keeps every socket inode
# while a stream started before it runs to its end, graceful SIGTERM with a
# grace period, SIGHUP log reopening, log levels. The upstream is the bench's
# dockmux-upstream (a real HTTP/1.1 server; /stream?bytes=N, X-Auth-Seen).
# Usage: tests/cmd_lifecycle.sh path/to/dockmux path/to/dockmux-upstream
# Prints `ok - name` / `not ok - name` per check, then "N passed, M failed".
set -u

BIN=${1:?usage: $0 dockmux dockmux-upstream}
UPBIN=${2:?usage: $0 dockmux dockmux-upstream}
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 2; }

T=$(mktemp -d /tmp/dmx-life.XXXXXX)
DIR=$T/socks
CTL=$T/control.sock
UP=$T/up.sock
STATE=$T/state
TOKEN="tok-$RANDOM$RANDOM-$$-l1fe"
PASS=0
FAIL=0
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
		PASS=$((PASS + 1))
	else
		echo "not ok - $name"
		FAIL=$((FAIL + 1))
		for f in "$T"/*.log; do [ -f "$f" ] && sed "s|^|# $(basename "$f"): |" "$f"; done
	fi
}

wait_log() { # file pattern [tenths]
	local i
	for ((i = 0; i < ${3:-100}; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# serve LOG [flags...]: start a daemon, print its pid into $SERVE_PID
serve() {
	local log=$1
	shift
	"$BIN" serve --upstream "$UP" --dir "$DIR" --control "$CTL" --state "$STATE" --rings 2 "$@" \
		2>>"$log" &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
}

spawn() { printf '%s\n' "$TOKEN" | "$BIN" spawn --control "$CTL" "$@"; }
# auth_seen SOCK: the upstream's X-Auth-Seen for a ping (1: exactly our token)
auth_seen() {
	curl -s -D - -o /dev/null --max-time 5 --unix-socket "$1" http://d/_ping |
		tr -d '\r' | sed -n 's/^X-Auth-Seen: //Ip'
}
status_of() { # SOCK METHOD PATH
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$2" --unix-socket "$1" "http://d$3"
}
# streaming FILE: wait (5 s at most) until a response's first bytes are in
# FILE, so a signal sent next finds the stream open (a fixed sleep loses
# that race on a loaded machine).
streaming() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
inode() { stat -c %i "$1"; }
gone() { # pid [tenths]
	local i
	for ((i = 0; i < ${2:-100}; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

"$UPBIN" --listen "$UP" --token "Bearer $TOKEN" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$UP" ] && break; sleep 0.1; done

# ---- state file ----
serve "$T/a.log"
A=$SERVE_PID
wait_log "$T/a.log" 'msg="ready"'
S1=$(spawn web-1)
S2=$(spawn --read-only ro-1)
spawn gone-1 >/dev/null
"$BIN" teardown --control "$CTL" gone-1

# The journal: gone-1's spawn and its teardown are both records until the
# next compaction (a restart compacts; t_restart checks gone-1 stays gone).
t_state_file() {
	[ "$(stat -c %a "$STATE")" = 600 ] && [ ! -e "$STATE.tmp" ] &&
		head -c 16 "$STATE" | grep -q '^dockmux-state 2$' &&
		grep -qa web-1 "$STATE" && grep -qa ro-1 "$STATE" &&
		[ "$(grep -ac gone-1 "$STATE")" -ge 1 ]
}
check "the state file is 0600, a journal of the spawns and teardowns" t_state_file

t_forward() { [ "$(auth_seen "$S1")" = 1 ] && [ "$(status_of "$S2" POST /containers/create)" = 403 ]; }
check "containers work before any restart" t_forward

# ---- takeover ----
INO1=$(inode "$S1")
INO2=$(inode "$S2")
INOC=$(inode "$CTL")
# 6 MB at 2 MB/s: still running when the takeover happens, done ~3 s later.
curl -s --limit-rate 2M --max-time 30 --unix-socket "$S1" "http://d/stream?bytes=6000000" \
	-o "$T/stream.out" &
CURL=$!
streaming "$T/stream.out"
serve "$T/b.log" --takeover
B=$SERVE_PID
wait_log "$T/b.log" 'msg="ready"'

t_takeover_inodes() {
	[ "$(inode "$S1")" = "$INO1" ] && [ "$(inode "$S2")" = "$INO2" ] &&
		[ "$(inode "$CTL")" = "$INOC" ] &&
		grep -q 'msg="took over" moved=2 kept_by_old=0' "$T/b.log" &&
		grep -q 'msg="handed off" moved=2 kept=0' "$T/a.log"
}
check "takeover: every socket file (and the control socket) keeps its inode" t_takeover_inodes

t_takeover_serves() {
	[ "$(auth_seen "$S1")" = 1 ] && [ "$(status_of "$S2" POST /containers/create)" = 403 ] &&
		"$BIN" ls --control "$CTL" | grep -q '^web-1 ' &&
		"$BIN" stats --control "$CTL" web-1 | grep -Eq 'requests +1$'
}
check "takeover: the new daemon serves the same sockets, tokens and policies" t_takeover_serves

t_stream_survives() {
	wait "$CURL" && [ "$(stat -c %s "$T/stream.out")" = 6000000 ] &&
		gone "$A" 100 && wait "$A" &&
		grep -q 'msg="draining after takeover"' "$T/a.log" &&
		grep -q 'msg="stopped"' "$T/a.log"
}
check "takeover: a stream started before it runs to completion, then the old daemon exits 0" t_stream_survives

t_old_left_files() { [ -S "$S1" ] && [ -S "$CTL" ] && [ "$(auth_seen "$S1")" = 1 ]; }
check "takeover: the old daemon's exit unlinks nothing" t_old_left_files

t_takeover_nobody() {
	local err
	err=$(timeout 10 "$BIN" serve --upstream "$UP" --dir "$DIR" --control "$T/none.sock" \
		--state "$T/none.state" --takeover 2>&1) && return 1
	[[ $err == *"takeover"* ]] && [ ! -e "$T/none.sock" ]
}
check "takeover with no daemon running fails with a clear error" t_takeover_nobody

# ---- graceful SIGTERM ----
# 8 MB at 2 MB/s: dockmux has handed the last byte to the kernel (~0.7 MB of
# socket and pipe buffers ahead of curl) ~3.6 s after the first, so the
# SIGTERM below finds the response still open even on a loaded machine.
curl -s --limit-rate 2M --max-time 30 --unix-socket "$S1" "http://d/stream?bytes=8000000" \
	-o "$T/stream2.out" &
CURL=$!
streaming "$T/stream2.out"
kill -TERM "$B"
t_sigterm_grace() {
	wait "$CURL" && [ "$(stat -c %s "$T/stream2.out")" = 8000000 ] && gone "$B" 50 && wait "$B" &&
		grep -q 'msg="stopping" signal="SIGTERM" conns=1' "$T/b.log"
}
check "SIGTERM lets an open response finish within the grace period, then exits 0" t_sigterm_grace

# ---- plain restart from the state file ----
serve "$T/c.log" --grace-ms 300 --log-file "$T/c.log" --access-log
C=$SERVE_PID
wait_log "$T/c.log" 'msg="ready"'
t_restart() {
	# (no inode comparison: the file system may hand the number out again)
	[ "$(auth_seen "$S1")" = 1 ] &&
		[ "$(status_of "$S2" POST /containers/create)" = 403 ] &&
		grep -q 'level=warn msg="socket re-created: recreate the container to get its Docker socket back" key="web-1"' "$T/c.log" &&
		grep -q 'msg="restoring" state=".*" containers=2' "$T/c.log"
}
check "restart: sockets re-created from the state file, each named in the log" t_restart
t_compacted() {
	# the restart rewrote the journal: the torn-down key's records are gone
	head -c 16 "$STATE" | grep -q '^dockmux-state 2$' && ! grep -qa gone-1 "$STATE" &&
		[ "$(stat -c %a "$STATE")" = 600 ]
}
check "a restart compacts the journal (a torn-down key's records and token are gone)" t_compacted

t_access_log() {
	curl -s -o /dev/null --max-time 5 --unix-socket "$S1" 'http://d/v1.41/_ping?x=1' &&
		curl -s -o /dev/null --max-time 5 -X POST --unix-socket "$S2" http://d/v1.41/containers/create &&
		wait_log "$T/c.log" 'msg="request" key="web-1" method="GET" path="/_ping" status=200 bytes_up=[0-9]* bytes_down=[1-9][0-9]* duration_us=[0-9]* uid='"$(id -u)"' pid=[1-9]' &&
		wait_log "$T/c.log" 'msg="request" key="ro-1" method="POST" path="/containers/create" status=403'
}
check "--access-log: one logfmt line per request (normalised path, status, bytes, peer)" t_access_log

t_sighup() {
	mv "$T/c.log" "$T/c.log.1"
	kill -HUP "$C"
	# Created 0640 less the umask, as open(2) does (0640 under umask 022).
	wait_log "$T/c.log" 'msg="log reopened"' &&
		[ "$(stat -c %a "$T/c.log")" = "$(printf %o $((0640 & ~$(umask))))" ]
}
check "SIGHUP reopens --log-file (after a rotation)" t_sighup

curl -s --limit-rate 1M --max-time 30 --unix-socket "$S1" "http://d/stream?bytes=20000000" \
	-o "$T/stream3.out" &
CURL=$!
streaming "$T/stream3.out"
T0=$(date +%s%N)
kill -TERM "$C"
t_grace_cut() {
	gone "$C" 50 && wait "$C"
	local ms=$((($(date +%s%N) - T0) / 1000000))
	! wait "$CURL" && [ "$ms" -lt 3000 ] &&
		grep -q 'msg="grace period over: closing connections" conns=1' "$T/c.log"
}
check "--grace-ms: a stream longer than the grace period is cut when it ends" t_grace_cut

# ---- log level, bad state ----
serve "$T/d.log" --log-level warn
D=$SERVE_PID
wait_log "$T/d.log" 'msg="socket re-created'
t_level() {
	spawn lvl-1 >/dev/null && ! grep -q 'level=info' "$T/d.log" && grep -q 'level=warn' "$T/d.log"
}
check "--log-level warn drops info lines" t_level
kill -TERM "$D"
gone "$D" 50

# ---- SIGUSR2: in-place upgrade, sd_notify, metrics, config file ----
cat >"$T/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
        out.flush()
PY
python3 "$T/notify.py" "$T/notify.sock" "$T/notify.txt" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
cat >"$T/dockmux.conf" <<CONF
# flags on the command line win over these
upstream = $UP
dir = $DIR
control = $CTL
state = $STATE
metrics = $T/metrics.sock
log-level = "debug"
grace-ms = 300
CONF
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 \
	"$BIN" serve --config "$T/dockmux.conf" --log-level info 2>>"$T/e.log" &
E=$!
PIDS+=("$E")
wait_log "$T/e.log" 'msg="ready"'

t_config() {
	# the file set everything but the level, which the flag overrode
	grep -q "msg=\"ready\" control=\"$CTL\" upstream=\"$UP\" dir=\"$DIR\" state=\"$STATE\"" "$T/e.log" &&
		! grep -q 'level=debug' "$T/e.log" && [ -S "$T/metrics.sock" ]
}
check "--config: the file's settings apply, command-line flags win" t_config

t_bad_config() {
	local err
	printf 'upstream = /x\nbogus-key = 1\n' >"$T/bad.conf"
	err=$(timeout 10 "$BIN" serve --config "$T/bad.conf" 2>&1) && return 1
	[[ $err == *"bad.conf:2: unknown key 'bogus-key'"* ]] &&
		! timeout 10 "$BIN" serve --config "$T/missing.conf" 2>/dev/null
}
check "--config: an unknown key or a missing explicit file stops start-up" t_bad_config

t_notify_ready() {
	wait_log "$T/notify.txt" "MAINPID=$E READY=1" && wait_log "$T/notify.txt" 'WATCHDOG=1' 30
}
check "sd_notify: READY=1 with MAINPID once serving, WATCHDOG=1 pings" t_notify_ready

t_metrics() {
	local m
	curl -s --max-time 5 --unix-socket "$S1" http://d/_ping >/dev/null
	m=$(curl -s --max-time 5 --unix-socket "$T/metrics.sock" http://d/metrics) || return 1
	grep -q '^# TYPE dockmux_container_requests_total counter$' <<<"$m" &&
		grep -Eq '^dockmux_container_requests_total\{key="web-1"\} [1-9]' <<<"$m" &&
		grep -Eq '^dockmux_container_responses_total\{key="web-1",class="2xx"\} [1-9]' <<<"$m" &&
		grep -Eq '^dockmux_ring_fixed_files_used\{ring="[01]"\} [0-9]+$' <<<"$m" &&
		grep -q '^dockmux_containers 3$' <<<"$m" &&
		grep -q '^dockmux_spawn_duration_seconds_count 0$' <<<"$m" &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/metrics.sock" http://d/nope)" = 404 ]
}
check "--metrics: a real client scrapes per-container, per-ring and process metrics" t_metrics

t_failed_takeover_keeps_metrics() {
	# A "new daemon" that asks for everything and refuses it all, the
	# control socket too: the old one keeps serving, /metrics included.
	local n m
	n=$(python3 - "$CTL" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"\x06" + struct.pack(">HI", 0, 0))   # CTL_OP_HANDOFF
n = 0
while True:
    head, fds, _, _ = socket.recv_fds(s, 4, 4)
    if not head:
        break
    while len(head) < 4:
        head += s.recv(4 - len(head))
    (length,) = struct.unpack(">I", head)
    left = length
    while left:
        left -= len(s.recv(left))
    for fd in fds:
        os.close(fd)
    s.sendall(bytes([13]))   # refused: EACCES
    n += 1
    if length == 0:
        break
print(n)
PY
	) || return 1
	[ "$n" = 4 ] || { echo "# frames: $n"; return 1; }
	wait_log "$T/e.log" 'msg="takeover failed" moved=0 kept=3' || return 1
	m=$(curl -s --max-time 5 --unix-socket "$T/metrics.sock" http://d/metrics) || return 1
	grep -q '^dockmux_containers 3$' <<<"$m" && [ "$(auth_seen "$S1")" = 1 ] &&
		"$BIN" ls --control "$CTL" | grep -q '^web-1 '
}
check "a failed takeover leaves the old daemon serving, /metrics included" t_failed_takeover_keeps_metrics

INO1=$(inode "$S1")
kill -USR2 "$E"
E2=
t_usr2() {
	local newpid
	wait_log "$T/e.log" 'msg="took over" moved=3' || return 1
	newpid=$(sed -n 's/.*msg="upgrade started" exe="[^"]*" pid=\([0-9]*\).*/\1/p' "$T/e.log")
	[ -n "$newpid" ] || return 1
	PIDS+=("$newpid")
	E2=$newpid
	gone "$E" 50 && [ "$(inode "$S1")" = "$INO1" ] && [ "$(auth_seen "$S1")" = 1 ] &&
		wait_log "$T/notify.txt" "MAINPID=$newpid READY=1" &&
		curl -s --max-time 5 --unix-socket "$T/metrics.sock" http://d/metrics |
		grep -q '^dockmux_containers 3$'
}
check "SIGUSR2: the binary on disk takes over in place (same inodes, MAINPID handed on, metrics back)" t_usr2
[ -n "$E2" ] && kill -TERM "$E2"
t_stopping() { wait_log "$T/notify.txt" 'STOPPING=1' && gone "${E2:-1}" 50; }
check "sd_notify: STOPPING=1 on SIGTERM" t_stopping

t_hup_while_draining() {
	local f
	serve "$T/f.log" --log-file "$T/f.log"
	f=$SERVE_PID
	wait_log "$T/f.log" 'msg="ready"' || return 1
	curl -s --limit-rate 1M --max-time 30 --unix-socket "$S1" "http://d/stream?bytes=4000000" \
		-o "$T/stream4.out" &
	local c=$!
	streaming "$T/stream4.out"
	kill -TERM "$f"
	wait_log "$T/f.log" 'msg="stopping"' || return 1
	mv "$T/f.log" "$T/f.log.1"
	kill -HUP "$f"
	wait "$c" && gone "$f" 100 && [ -f "$T/f.log" ] && grep -q 'msg="stopped"' "$T/f.log"
}
check "SIGHUP during a drain reopens the log (the stopped line lands in the new file)" t_hup_while_draining

t_takeover_foreign_peer() {
	# A "daemon" of another uid on the control path must not be trusted
	# with (or as a source of) tokens and sockets.
	local err lp nb rc=0
	[ "$(id -u)" = 0 ] && [ -x /usr/bin/python3 ] || { echo "# (skipped: needs root and /usr/bin/python3)"; return 0; }
	# It binds in a directory of its own; root then moves the bound socket
	# into a safe one (serve refuses a control directory others can write),
	# so only the SO_PEERCRED check is left to refuse it.
	nb=$(mktemp -d /tmp/dmx-nobody.XXXXXX) && chmod 755 "$nb" && mkdir -m 777 "$nb/open" &&
		mkdir -m 700 "$nb/ctl" || return 1
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
c, _ = s.accept(); time.sleep(5)' "$nb/open/ctl.sock" &
	lp=$!
	for _ in $(seq 50); do [ -S "$nb/open/ctl.sock" ] && break; sleep 0.1; done
	mv "$nb/open/ctl.sock" "$nb/ctl/ctl.sock" || return 1
	if err=$(timeout 10 "$BIN" serve --upstream "$UP" --dir "$nb/s" --control "$nb/ctl/ctl.sock" \
		--state none --takeover 2>&1); then
		rc=1
	fi
	kill "$lp" 2>/dev/null
	wait "$lp" 2>/dev/null
	rm -rf "$nb"
	[ "$rc" = 0 ] && [[ $err == *"takeover"*"Permission denied"* ]]
}
check "takeover refuses a peer of another uid on the control socket" t_takeover_foreign_peer

t_bad_state() {
	local err
	printf 'dockmux-state 1\n\0\0\0\x09garbage!!' >"$T/bad.state"
	err=$(timeout 10 "$BIN" serve --upstream "$UP" --dir "$T/bad" --control "$T/bad.sock" \
		--state "$T/bad.state" 2>&1) && return 1
	[[ $err == *"state file unreadable"*'why="malformed record"'* ]] && [ ! -e "$T/bad.sock" ]
}
check "a corrupt state file stops start-up with a clear error" t_bad_state

# A journal cut in the middle of its last record (a crash between write and
# fdatasync): the tail goes with a log line, everything before it stays.
t_torn_tail() {
	local out
	rm -rf "$T/torn"
	mkdir -p "$T/torn"
	serve "$T/torn1.log" --control "$T/torn/c.sock" --state "$T/torn/state" --dir "$T/torn/s"
	local p=$SERVE_PID
	wait_log "$T/torn1.log" 'msg="ready"' || return 1
	printf 'kept-1\t%s\nkept-2\t%s\ntorn-1\t%s\n' "$TOKEN" "$TOKEN" "$TOKEN" |
		"$BIN" spawn --batch --control "$T/torn/c.sock" >/dev/null || return 1
	kill -9 "$p"
	wait "$p" 2>/dev/null
	truncate -s -3 "$T/torn/state"
	serve "$T/torn2.log" --control "$T/torn/c.sock" --state "$T/torn/state" --dir "$T/torn/s"
	p=$SERVE_PID
	wait_log "$T/torn2.log" 'msg="ready"' || return 1
	out=$("$BIN" ls --control "$T/torn/c.sock")
	kill "$p"
	grep -q 'level=warn msg="state file: torn tail dropped' "$T/torn2.log" &&
		grep -q '^kept-1 ' <<<"$out" && grep -q '^kept-2 ' <<<"$out" &&
		! grep -q '^torn-1 ' <<<"$out" && ! grep -q 'restore failed' "$T/torn2.log"
}
check "a torn last record is dropped with a log line; the records before it are restored" t_torn_tail

# Damage before the tail is not a torn write: start-up stops, naming where.
t_damaged_middle() {
	local err
	# the torn test's restart compacted its journal to kept-1 and kept-2;
	# the first record's key byte
	cp "$T/torn/state" "$T/damaged.state"
	printf 'X' | dd of="$T/damaged.state" bs=1 seek=$((16 + 8 + 3)) conv=notrunc 2>/dev/null
	err=$(timeout 10 "$BIN" serve --upstream "$UP" --dir "$T/bad2" --control "$T/bad2.sock" \
		--state "$T/damaged.state" 2>&1) && return 1
	[[ $err == *"state file unreadable"*"not a torn tail"*"offset=16"* ]] && [ ! -e "$T/bad2.sock" ]
}
check "damage before the journal's tail stops start-up and says where" t_damaged_middle

# A FIFO at the state path would block a reading open forever.
t_fifo_state() {
	local err rc
	mkfifo "$T/fifo.state"
	err=$(timeout 10 "$BIN" serve --upstream "$UP" --dir "$T/bad3" --control "$T/bad3.sock" \
		--state "$T/fifo.state" 2>&1)
	rc=$?
	[ "$rc" = 1 ] && [[ $err == *"state file unreadable"*"not a regular file"* ]]
}
check "a FIFO at the state path stops start-up at once with a clear error" t_fifo_state

t_no_token_in_logs() {
	! cat "$T"/*.log* | grep -qF -e "$TOKEN" -e l1fe
}
check "no log line carries a token" t_no_token_in_logs

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
