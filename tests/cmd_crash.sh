#!/usr/bin/env bash
# tests/cmd_crash.sh: kill -9 `dockmux serve` at random moments of a spawn
# and teardown storm (tests/ctl_storm.c: 8 connections, requests in flight),
# many rounds on one state file. After each restart: the daemon started, and
# every spawn and teardown that had been answered is in effect (a request in
# flight at the kill may have gone either way, never half). The state file
# stays 0600 and a format-2 journal throughout.
# Usage: tests/cmd_crash.sh path/to/dockmux path/to/dockmux-upstream path/to/ctl_storm [ROUNDS]
# Prints `ok - name` / `not ok - name` per check, then "N passed, M failed".
set -u

BIN=${1:?usage: $0 dockmux dockmux-upstream ctl_storm [rounds]}
UPBIN=${2:?usage: $0 dockmux dockmux-upstream ctl_storm [rounds]}
STORM=${3:?usage: $0 dockmux dockmux-upstream ctl_storm [rounds]}
ROUNDS=${4:-25}
KEYS=400
ulimit -c 0   # a crashing daemon must not write a core

T=$(mktemp -d /tmp/dmx-crash.XXXXXX)
UP=$T/up.sock
CTL=$T/control.sock
STATE=$T/state
EXPECT=$T/expect
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
		[ -f "$T/why" ] && sed 's/^/# /' "$T/why" | tail -30
	fi
}

# ready PID: the daemon answers on the control socket (15 s at most; the
# log is at warn level, so there is no "ready" line to wait for).
ready() {
	local i
	for ((i = 0; i < 150; i++)); do
		kill -0 "$1" 2>/dev/null || return 1
		timeout 2 "$BIN" stats --control "$CTL" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

"$UPBIN" --listen "$UP" --token "Bearer x" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$UP" ] && break; sleep 0.1; done

# One round: start (from whatever the last kill left), check the state
# against the last storm's answers, storm, kill -9 at a random moment.
ANSWERED=0
STARTS=0
WRONG=0
TORN=0
round() {
	local r=$1 log=$T/round.log d s out
	: >"$log"
	"$BIN" serve --upstream "$UP" --dir "$T/socks" --control "$CTL" --state "$STATE" --rings 2 \
		--log-level warn 2>>"$log" &
	d=$!
	PIDS+=("$d")
	if ! ready "$d"; then
		echo "round $r: the daemon did not start" >>"$T/why"
		sed 's/^/  /' "$log" | tail -5 >>"$T/why"
		kill -9 "$d" 2>/dev/null
		return 1
	fi
	STARTS=$((STARTS + 1))
	grep -q 'torn tail dropped' "$log" && TORN=$((TORN + 1))
	if ! out=$("$STORM" verify "$CTL" "$EXPECT" 2>>"$T/why"); then
		echo "round $r: $out" >>"$T/why"
		WRONG=$((WRONG + 1))
	fi
	"$STORM" storm "$CTL" "$KEYS" "$EXPECT" >"$T/storm.out" 2>>"$T/why" &
	s=$!
	PIDS+=("$s")
	# 50..800 ms into the storm
	sleep "0.$(printf '%03d' $((50 + RANDOM % 750)))"
	kill -9 "$d"
	wait "$d" 2>/dev/null
	wait "$s"
	ANSWERED=$((ANSWERED + $(sed -n 's/^answered \([0-9]*\).*/\1/p' "$T/storm.out")))
	return 0
}

t_rounds() {
	local r
	for ((r = 1; r <= ROUNDS; r++)); do
		round "$r" || return 1
		[ "$(stat -c %a "$STATE")" = 600 ] || { echo "round $r: state mode" >>"$T/why"; return 1; }
	done
	echo "$STARTS starts, $ANSWERED answered requests, $TORN torn tails" >>"$T/why"
	[ "$WRONG" = 0 ] && [ "$ANSWERED" -gt 0 ]
}
check "kill -9 during a spawn/teardown storm, $ROUNDS rounds: the daemon always starts, every answered change is in effect" t_rounds

# The last kill's answers, checked by a final start.
t_final() {
	local log=$T/final.log d out
	"$BIN" serve --upstream "$UP" --dir "$T/socks" --control "$CTL" --state "$STATE" --rings 2 \
		--log-level warn 2>>"$log" &
	d=$!
	PIDS+=("$d")
	ready "$d" || return 1
	out=$("$STORM" verify "$CTL" "$EXPECT" 2>>"$T/why") || { echo "$out" >>"$T/why"; return 1; }
	echo "final: $out" >>"$T/why"
	kill "$d"
	wait "$d"
	head -c 16 "$STATE" | grep -q '^dockmux-state 2$'
}
check "a last restart finds every change answered before the last kill" t_final
sed 's/^/# /' "$T/why" | grep -E 'starts|final' 

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
