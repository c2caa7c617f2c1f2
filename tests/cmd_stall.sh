#!/usr/bin/env bash
# tests/cmd_stall.sh: no client of `dockmux serve` can stall another. With
# hostile or broken clients connected to the metrics endpoint or the control
# socket, a spawn from an ordinary `dockmux spawn` must still be answered at
# once: one or ten silent TCP connections to /metrics, a scraper that never
# reads its answer, a control client that sends one byte every 3 s, one that
# never reads its replies, garbage, truncated and oversized frames, and a
# daemon out of file descriptors (the command must fail fast, not hang).
# Usage: tests/cmd_stall.sh path/to/dockmux path/to/dockmux-upstream
# Prints `ok - name` / `not ok - name` per check, then "N passed, M failed".
set -u

BIN=${1:?usage: $0 dockmux dockmux-upstream}
UPBIN=${2:?usage: $0 dockmux dockmux-upstream}
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 2; }
ulimit -c 0   # a crash here must not write a core

T=$(mktemp -d /tmp/dmx-stall.XXXXXX)
UP=$T/up.sock
CTL=$T/control.sock
LOG=$T/daemon.log
TOKEN="tok-$RANDOM$RANDOM-st4ll"
# A spawn beside a stalled client: the old single control thread took the
# stalled client's whole timeout (1.6 s to 7 s); now it is milliseconds.
LIMIT_MS=${STALL_LIMIT_MS:-500}
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
		[ -f "$LOG" ] && tail -20 "$LOG" | sed 's/^/# daemon: /'
		[ -f "$T/why" ] && sed 's/^/# /' "$T/why"
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

now_ms() { date +%s%3N; }

# spawn_ms KEY: how long one `dockmux spawn` took, in ms (on stdout); fails
# if the spawn did. Bounded, so a stalled daemon fails the check, not the suite.
spawn_ms() {
	local t0 t1
	t0=$(now_ms)
	printf '%s\n' "$TOKEN" | timeout 20 "$BIN" spawn --control "$CTL" "$1" >/dev/null 2>>"$T/why" ||
		return 1
	t1=$(now_ms)
	echo $((t1 - t0))
}

# fast KEY: a spawn answered within LIMIT_MS.
fast() {
	local ms
	ms=$(spawn_ms "$1") || return 1
	echo "spawn $1: ${ms} ms" >>"$T/why"
	[ "$ms" -lt "$LIMIT_MS" ]
}

# hold SCRIPT...: run a python client in the background (its pid in HOLD).
hold() {
	python3 -c "$1" "${@:2}" 2>>"$T/why" &
	HOLD=$!
	PIDS+=("$HOLD")
}
unhold() {
	kill "$HOLD" 2>/dev/null
	wait "$HOLD" 2>/dev/null
}

"$UPBIN" --listen "$UP" --token "Bearer $TOKEN" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$UP" ] && break; sleep 0.1; done

# A free loopback port for /metrics.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --upstream "$UP" --dir "$T/socks" --control "$CTL" --state "$T/state" --rings 2 \
	--metrics "127.0.0.1:$PORT" 2>>"$LOG" &
D=$!
PIDS+=("$D")
wait_log "$LOG" 'msg="ready"' || { echo "daemon did not start"; cat "$LOG"; exit 1; }

# ---- the metrics endpoint: any local user can connect ----

SILENT='
import socket, sys, time
n = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", int(sys.argv[2]))) for _ in range(n)]
print("held", flush=True)
time.sleep(60)
'
t_one_silent_scraper() {
	hold "$SILENT" 1 "$PORT" >"$T/held"
	wait_log "$T/held" held 50 || return 1
	sleep 0.2
	fast silent-1
	local r=$?
	unhold
	return $r
}
check "one silent TCP connection to /metrics delays no spawn" t_one_silent_scraper

t_ten_silent_scrapers() {
	hold "$SILENT" 10 "$PORT" >"$T/held10"
	wait_log "$T/held10" held 50 || return 1
	sleep 0.2
	fast silent-10 && fast silent-10b
	local r=$?
	unhold
	return $r
}
check "ten silent TCP connections to /metrics delay no spawn" t_ten_silent_scrapers

t_half_request_scraper() {
	hold '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metr")
print("sent", flush=True)
time.sleep(60)
' "$PORT" >"$T/half"
	wait_log "$T/half" sent 50 || return 1
	sleep 0.2
	fast half-1
	local r=$?
	unhold
	return $r
}
check "a scraper that sends half a request delays no spawn" t_half_request_scraper

# Enough containers for an exposition of several MiB, then a scraper that
# asks and never reads: its answer stops at its socket buffer.
for i in $(seq 1 3000); do printf 'bulk-%d\t%s\n' "$i" "$TOKEN"; done |
	"$BIN" spawn --batch --control "$CTL" >/dev/null 2>>"$T/why"
t_lazy_scraper() {
	hold '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
print("asked", flush=True)
time.sleep(60)
' "$PORT" >"$T/lazy"
	wait_log "$T/lazy" asked 50 || return 1
	sleep 0.3
	fast lazy-1 &&
		curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics" | grep -q '^dockmux_containers '
	local r=$?
	unhold
	return $r
}
check "a scraper that never reads its answer delays no spawn and no other scrape" t_lazy_scraper

# ---- the control socket: root and the daemon's uid only, but a stuck
# script or a hostile root client must not hold everyone up ----

t_trickling_control_client() {
	hold '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print("connected", flush=True)
frame = bytes([5, 0, 1]) + b"k"      # a spawn, one byte at a time
t0 = time.time()
for b in frame * 10:
    try:
        s.send(bytes([b]))
    except OSError:
        print("closed after %.1f" % (time.time() - t0), flush=True)
        break
    time.sleep(3)
else:
    print("never closed", flush=True)
time.sleep(60)
' "$CTL" >"$T/trickle"
	wait_log "$T/trickle" connected 50 || return 1
	sleep 0.2
	fast trickle-1 && sleep 3.2 && fast trickle-2 &&
		wait_log "$T/trickle" 'closed after' 150 &&
		wait_log "$LOG" 'msg="control client closed" why="request not whole in time"' 10
	local r=$?
	unhold
	return $r
}
check "a control client sending one byte every 3 s delays no spawn and is cut at 5 s" \
	t_trickling_control_client

t_unread_replies() {
	hold '
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
stats = bytes([4, 0, 0, 0, 0, 0, 0])
s.setblocking(False)
sent = 0
try:
    while sent < 200000:
        sent += s.send(stats * 256)
except BlockingIOError:
    pass
print("stuffed %d" % sent, flush=True)
time.sleep(60)
' "$CTL" >"$T/unread"
	wait_log "$T/unread" stuffed 50 || return 1
	sleep 0.3
	fast unread-1 && fast unread-2 &&
		wait_log "$LOG" 'msg="control client closed" why="replies not read in time"' 100
	local r=$?
	unhold
	return $r
}
check "a control client that never reads its replies delays no spawn and is cut" t_unread_replies

# frames a hostile client may send: each gets an error reply and EOF
t_bad_frames() {
	python3 - "$CTL" <<'EOF' 2>>"$T/why"
import socket, struct, sys
def ask(data, shut=False):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sys.argv[1])
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    return got
def err(got):
    return len(got) == 8 and struct.unpack(">iI", got)[0] < 0
cases = [
    (b"\x42garbage", False),                                  # unknown op
    (bytes([5, 0, 1]) + b"k" + b"\xff\xff\xff\xff", False),    # a 4 GiB token
    (bytes([5, 0xff, 0xff]), False),                           # a 64 KiB key
    (bytes([7, 0, 0, 0, 0, 0, 0]) + b"\0" * 24 + b"\xff\xff", False),  # a page too big
    (bytes([2, 0, 5]) + b"ab", True),                          # cut, then EOF
    (bytes([3, 0, 0, 0, 0, 0, 0]), False),                     # the retired LIST
]
for data, shut in cases:
    got = ask(data, shut)
    if not err(got):
        print("no error reply for %r: %r" % (data[:12], got))
        sys.exit(1)
EOF
	kill -0 "$D" && fast after-garbage
}
check "garbage, truncated and oversized frames get an error reply and a close" t_bad_frames

# ---- out of file descriptors: the command fails at once, never hangs ----

t_out_of_fds() {
	local d2 log2=$T/nofd.log err t0 t1 pid rc
	# A daemon that may open 60 files, and a client holding connections to
	# one of its containers until no fd is left.
	(ulimit -n 60 && exec "$BIN" serve --upstream "$UP" --dir "$T/socks2" --control "$T/c2.sock" \
		--state "$T/state2" --rings 1 2>>"$log2") &
	d2=$!
	PIDS+=("$d2")
	wait_log "$log2" 'msg="ready"' || return 1
	local path
	path=$(printf '%s\n' "$TOKEN" | "$BIN" spawn --control "$T/c2.sock" nofd-1) || return 1
	hold '
import socket, sys, time
held = []
for i in range(200):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
    held.append(s)
print("held", flush=True)
time.sleep(60)
' "$path" >"$T/fds"
	wait_log "$T/fds" held 50 || return 1
	for _ in $(seq 30); do
		[ "$(ls /proc/"$d2"/fd | wc -l)" -ge 58 ] && break
		sleep 0.1
	done
	t0=$(now_ms)
	err=$(printf '%s\n' "$TOKEN" | timeout 20 "$BIN" spawn --control "$T/c2.sock" nofd-2 2>&1)
	rc=$?
	t1=$(now_ms)
	unhold
	echo "out of fds: rc=$rc after $((t1 - t0)) ms: $err" >>"$T/why"
	[ "$rc" = 1 ] && [ $((t1 - t0)) -lt 5000 ] && [[ $err == *"file descriptors"* ]]
}
check "a daemon out of fds answers dockmux spawn with the reason at once (no hang)" t_out_of_fds

t_still_alive() { kill -0 "$D" && fast last-1; }
check "the daemon survived all of it" t_still_alive

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
