#!/usr/bin/env bash
# tests/cmd_cli.sh: end-to-end test of the `dockmux` CLI and daemon against a
# tiny python3 upstream that answers every request (201 for POST .../create,
# else 200) and echoes the request line and the Authorization headers it
# received, so a forwarded request is told apart from dockmux's own 403.
# Usage: tests/cmd_cli.sh path/to/dockmux
# Prints `ok - name` / `not ok - name` per check, then "N passed, M failed".
set -u

BIN=${1:?usage: $0 path/to/dockmux}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ -x "$BIN" ] || { echo "not an executable: $BIN" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 2; }

T=$(mktemp -d /tmp/dmx-cli.XXXXXX)
DIR=$T/socks
CTL=$T/ctl/control.sock
UP=$T/upstream.sock
LOG=$T/daemon.log
# Random, so a match in the log cannot be a coincidence.
TOKEN="tok-$RANDOM$RANDOM-$$-s3cr3t"
TOKEN2="tok2-$RANDOM$RANDOM-$$-r0tat3d"
UP_PID=
D_PID=
PASS=0
FAIL=0

cleanup() {
	[ -n "$D_PID" ] && kill "$D_PID" 2>/dev/null && wait "$D_PID" 2>/dev/null
	[ -n "$UP_PID" ] && kill "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

check() { # name command...: passes when the command succeeds
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
		PASS=$((PASS + 1))
	else
		echo "not ok - $name"
		FAIL=$((FAIL + 1))
	fi
}

wait_for_socket() { # path [tenths of a second]
	local i
	for ((i = 0; i < ${2:-100}; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

start_upstream() {
	python3 -c '
import socketserver, sys
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            auth, length = [], 0
            while True:
                h = self.rfile.readline()
                if not h or h in (b"\r\n", b"\n"):
                    break
                name, _, value = h.partition(b":")
                name = name.strip().lower()
                if name == b"authorization":
                    auth.append(value.strip())
                elif name == b"content-length":
                    length = int(value.strip())
            if length:
                self.rfile.read(length)
            method, target = (line.split(b" ") + [b"", b""])[:2]
            status = b"201 Created" if method == b"POST" and target.endswith(b"/create") \
                else b"200 OK"
            body = (b"upstream-ok\nrequest=" + method + b" " + target + b"\n" +
                    b"".join(b"auth=" + a + b"\n" for a in auth))
            self.wfile.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.wfile.flush()
class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
Server(sys.argv[1], Echo).serve_forever()
' "$UP" &
	UP_PID=$!
	wait_for_socket "$UP"
}

# ---- no daemon needed ----

# Vector from tests/core_keypath.c (xxhsum -H3 of "ci-runner-1").
t_path_pure() {
	[ "$("$BIN" path --dir "$DIR" ci-runner-1)" = "$DIR/05804f4591ec6266.sock" ] &&
		[ "$("$BIN" path ci-runner-1)" = "/run/dockmux/05804f4591ec6266.sock" ]
}
check "path is pure (no daemon) and matches the xxh3 vector" t_path_pure

t_no_argv_token() {
	local out rc
	for flag in --token --token=secret-in-argv -t; do
		out=$(echo x | "$BIN" spawn --control "$CTL" "$flag" secret-in-argv k 2>&1)
		rc=$?
		[ "$rc" -ne 0 ] || return 1
		# The refusal must not repeat the would-be secret.
		case $out in *secret-in-argv*) return 1 ;; esac
	done
	! "$BIN" --help | grep -Eq -- '--token([^-]|$)'
}
check "a token cannot be given in argv (no such flag, not echoed)" t_no_argv_token

t_usage() {
	"$BIN" --help | grep -q '^usage: dockmux' &&
		! "$BIN" >/dev/null 2>&1 && ! "$BIN" frobnicate >/dev/null 2>&1 &&
		! "$BIN" path >/dev/null 2>&1
}
check "--help prints usage; bad arguments fail" t_usage

t_no_daemon() {
	local err
	if err=$(echo "$TOKEN" | "$BIN" spawn --control "$CTL" k 2>&1 >/dev/null); then
		return 1
	fi
	[[ $err == "dockmux: "*": No such file or directory" ]]
}
check "spawn without a daemon fails with 'dockmux: <what>: <strerror>'" t_no_daemon

# serve_refused OPTION-VALUE-PAIRS... EXPECT...: serve with the given flags
# (defaults for the rest) must exit 1 before serving, its stderr holding
# every EXPECT string.
serve_refused() {
	local args=() err rc
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	err=$(timeout 10 "$BIN" serve --upstream "$UP" --control "$T/bad/ctl.sock" --state none \
		--dir "$T/bad/socks" "${args[@]}" 2>&1)
	rc=$?
	[ "$rc" = 1 ] || { echo "# exit status $rc: $err"; return 1; }
	for want in "$@"; do
		[[ $err == *"$want"* ]] || { echo "# missing '$want' in: $err"; return 1; }
	done
}
mkdir -p "$T/bad" "$T/open" "$T/real"
chmod 777 "$T/open"
ln -s "$T/real" "$T/link"
t_bad_dirs() {
	serve_refused --dir "$T/open" -- "--dir $T/open refused" "$T/open: writable by group and others (mode 0777)" &&
		serve_refused --dir "$T/open/socks" -- "$T/open: writable" &&
		serve_refused --dir "$T/link" -- "$T/link: a symbolic link" "Not a directory" &&
		serve_refused --state "$T/open/state" -- "--state $T/open/state: directory refused: $T/open: writable" &&
		serve_refused --control "$T/open/ctl.sock" -- "--control $T/open/ctl.sock: directory refused: $T/open: writable" &&
		serve_refused --metrics "$T/open/m.sock" -- "--metrics $T/open/m.sock: directory refused" &&
		[ -z "$(ls -A "$T/open")" ] && [ -z "$(ls -A "$T/real")" ] && [ ! -e "$T/bad/ctl.sock" ]
}
check "serve refuses a --dir, --state, --control or --metrics directory others can change" t_bad_dirs
t_foreign_dir() {
	mkdir -p "$T/theirs" && chown 65534:65534 "$T/theirs" &&
		serve_refused --dir "$T/theirs" -- "$T/theirs: owned by uid 65534, not by root" &&
		serve_refused --state "$T/theirs/state" -- "$T/theirs: owned by uid 65534"
}
if [ "$(id -u)" = 0 ]; then
	check "serve refuses a directory owned by another user" t_foreign_dir
else
	echo "ok - serve refuses a directory owned by another user # SKIP needs root"
fi

mkdir -p "$T/ctl"
: >"$CTL"
t_refuse_non_socket() {
	! timeout 10 "$BIN" serve --upstream "$UP" --dir "$DIR" --control "$CTL" --state none 2>/dev/null &&
		[ -f "$CTL" ]
}
check "serve refuses to replace a non-socket at the control path" t_refuse_non_socket
rm -f "$CTL"

# A stale control socket: bound, then its server gone without unlinking it.
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$CTL"

# ---- the daemon ----

start_upstream || { echo "not ok - upstream did not start"; exit 1; }
"$BIN" serve --upstream "$UP" --dir "$DIR" --control "$CTL" --state "$T/state" --rings 2 2>"$LOG" &
D_PID=$!
# The stale socket file exists already: wait for the ready line instead.
for ((i = 0; i < 100; i++)); do
	grep -q 'msg="ready"' "$LOG" 2>/dev/null && break
	kill -0 "$D_PID" 2>/dev/null || break
	sleep 0.1
done
t_ready() { grep -q 'level=info msg="ready" control="'"$CTL"'"' "$LOG" && [ -S "$CTL" ]; }
check "serve replaces a stale control socket and logs ready" t_ready
if ! kill -0 "$D_PID" 2>/dev/null; then
	echo "not ok - daemon died; its log:"
	sed 's/^/# /' "$LOG"
	echo "$PASS passed, $((FAIL + 1)) failed"
	exit 1
fi

t_control_mode() { [ "$(stat -c %a "$CTL")" = 600 ]; }
check "control socket is mode 0600" t_control_mode

t_second_daemon() {
	local err
	if err=$(timeout 10 "$BIN" serve --upstream "$UP" --dir "$T/other" --control "$CTL" --state none 2>&1); then
		return 1
	fi
	[[ $err == *"another dockmux daemon"* ]] && [ -S "$CTL" ] &&
		"$BIN" ls --control "$CTL" >/dev/null
}
check "a second daemon on the same control socket fails clearly, first unharmed" t_second_daemon

KEY=ci-runner-1
SOCK=
t_spawn_path() {
	SOCK=$(printf '%s\n' "$TOKEN" | "$BIN" spawn --control "$CTL" "$KEY") &&
		[ "$SOCK" = "$("$BIN" path --dir "$DIR" "$KEY")" ] && [ -S "$SOCK" ]
}
check "spawn prints the path that 'path --dir' computes, and it is a socket" t_spawn_path

t_spawn_twice() {
	[ "$(printf '%s\r\n' "$TOKEN" | "$BIN" spawn --control "$CTL" "$KEY")" = "$SOCK" ]
}
check "spawn twice gives the same path (CRLF stripped)" t_spawn_twice

t_proxy() {
	local out
	out=$(curl -sS --max-time 10 --unix-socket "$SOCK" http://x/_ping) || return 1
	grep -qx upstream-ok <<<"$out" &&
		[ "$(grep -c '^auth=' <<<"$out")" = 1 ] &&
		[ "$(grep -cxF "auth=Bearer $TOKEN" <<<"$out")" = 1 ]
}
check "curl through the socket reaches upstream with the token injected once" t_proxy

t_proxy_replace() {
	local out
	out=$(curl -sS --max-time 10 --unix-socket "$SOCK" -H 'Authorization: Bearer evil' \
		http://x/_ping) || return 1
	! grep -q evil <<<"$out" && [ "$(grep -c '^auth=' <<<"$out")" = 1 ] &&
		[ "$(grep -cxF "auth=Bearer $TOKEN" <<<"$out")" = 1 ]
}
check "a client-sent Authorization header is replaced" t_proxy_replace

t_token_file() {
	local p
	printf '%s\n' "$TOKEN2" >"$T/token"
	p=$("$BIN" spawn --control "$CTL" --token-file "$T/token" "$KEY") && [ "$p" = "$SOCK" ] &&
		curl -sS --max-time 10 --unix-socket "$SOCK" http://x/_ping | grep -qxF "auth=Bearer $TOKEN2"
}
check "spawn --token-file rotates the token" t_token_file

t_bad_tokens() {
	! "$BIN" spawn --control "$CTL" other </dev/null 2>/dev/null &&
		! printf 'a\nb\n' | "$BIN" spawn --control "$CTL" other 2>/dev/null &&
		! head -c 5000 /dev/zero | tr '\0' a | "$BIN" spawn --control "$CTL" other 2>/dev/null &&
		! "$BIN" spawn --control "$CTL" --token-file "$T/missing" other 2>/dev/null &&
		[ ! -e "$("$BIN" path --dir "$DIR" other)" ]
}
check "empty, multi-line, oversized or missing tokens are refused" t_bad_tokens

ODD_KEY=$'odd key\n level=error msg="forged"\x01\xff'
t_odd_key() {
	local p
	p=$(printf '%s\n' "$TOKEN" | "$BIN" spawn --control "$CTL" -- "$ODD_KEY") &&
		[ "$p" = "$("$BIN" path --dir "$DIR" -- "$ODD_KEY")" ] && [ -S "$p" ] &&
		grep -qF 'msg="spawn" key="odd key\x0a level=error msg=\"forged\"\x01\xff"' "$LOG" &&
		! grep -q '^ level=error msg="forged"' "$LOG"
}
check "a key with any bytes works and is escaped in the log" t_odd_key

t_ls() {
	local out
	out=$("$BIN" ls --control "$CTL") || return 1
	head -n1 <<<"$out" | grep -Eq '^KEY +PATH +CONNS +ACTIVE +REQUESTS +BYTES_UP +BYTES_DOWN +ERRORS +4XX +5XX +DENIED +UIDS +POLICY$' &&
		grep -Eq "^$KEY +$SOCK +[0-9]+ +[0-9]+ +[0-9]+ .* any +none$" <<<"$out" &&
		grep -qF 'odd\x20key\x0a' <<<"$out" && [ "$(wc -l <<<"$out")" = 3 ]
}
check "ls lists the keys in a table with a header" t_ls

t_ls_json() {
	"$BIN" ls --json --control "$CTL" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
keys = {r["key"]: r for r in rows}
k = keys[sys.argv[1]]
assert k["path"] == sys.argv[2]
assert k["requests"] >= 3
assert k["policy"] == "none" and k["nuids"] == 0 and k["denied"] == 0
assert k["responses"]["2xx"] >= 3 and k["responses"]["4xx"] == 0
' "$KEY" "$SOCK"
}
check "ls --json is valid JSON with the key" t_ls_json

t_stats() {
	local out total
	out=$("$BIN" stats --control "$CTL" "$KEY") || return 1
	total=$("$BIN" stats --control "$CTL") || return 1
	grep -Eq '^requests [3-9]' <<<"$out" && grep -q '^containers 1$' <<<"$out" &&
		grep -q '^containers 2$' <<<"$total" && grep -q '^bytes_down [1-9]' <<<"$total" &&
		! "$BIN" stats --control "$CTL" no-such-key 2>/dev/null
}
check "stats KEY and host totals print name value lines" t_stats

t_peercred() {
	# The socket is 0600; loosen it (and its directories) so that only the
	# SO_PEERCRED check stands between another uid and the daemon.
	local err rc
	chmod 755 "$T" "$T/ctl" && chmod 666 "$CTL" || return 1
	err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" ls --control "$CTL" 2>&1)
	rc=$?
	chmod 700 "$T" "$T/ctl"
	chmod 600 "$CTL"
	[ "$rc" -ne 0 ] && [[ $err == *"Permission denied"* ]] || return 1
	# The daemon logs the refusal from its control loop, which may run after
	# the client has its answer: wait for the line (2 s at most).
	local i
	for ((i = 0; i < 20; i++)); do
		grep -q 'msg="control peer refused" uid=65534' "$LOG" && return 0
		sleep 0.1
	done
	return 1
}
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	check "the control socket refuses another uid (SO_PEERCRED)" t_peercred
else
	echo "ok - the control socket refuses another uid (SO_PEERCRED) # SKIP needs root and setpriv"
fi

t_teardown() {
	"$BIN" teardown --control "$CTL" "$KEY" && [ ! -e "$SOCK" ] &&
		! "$BIN" ls --control "$CTL" | grep -q "^$KEY "
}
check "teardown removes the socket file" t_teardown

t_teardown_unknown() {
	local out
	out=$("$BIN" teardown --control "$CTL" never-spawned 2>&1) && [ -z "$out" ]
}
check "teardown of an unknown key exits 0 silently" t_teardown_unknown

# ---- per-container policy ----

# http SOCK METHOD TARGET: prints the status code, then the body.
http() {
	curl -sS --max-time 10 --unix-socket "$1" -X "$2" -o "$T/body" -w '%{http_code}\n' \
		"http://x$3" && cat "$T/body"
}

# is_denied SOCK METHOD TARGET TEXT: a 403 from dockmux whose JSON message holds TEXT.
is_denied() {
	local out
	out=$(http "$1" "$2" "$3") || return 1
	[ "$(head -n1 <<<"$out")" = 403 ] &&
		tail -n +2 <<<"$out" | python3 -c '
import json, sys
msg = json.load(sys.stdin)["message"]
assert msg.startswith("dockmux policy: ") and sys.argv[1] in msg, msg
' "$4"
}

# is_forwarded SOCK METHOD TARGET STATUS: the upstream answered it.
is_forwarded() {
	local out
	out=$(http "$1" "$2" "$3") || return 1
	[ "$(head -n1 <<<"$out")" = "$4" ] && grep -qxF "request=$2 $3" <<<"$out"
}

spawn() { printf '%s\n' "$TOKEN" | "$BIN" spawn --control "$CTL" "$@"; }

RO_SOCK=
t_read_only() {
	RO_SOCK=$(spawn --read-only ro-1) &&
		is_denied "$RO_SOCK" POST /containers/create 'read-only (POST not allowed)' &&
		is_denied "$RO_SOCK" DELETE /v1.41/images/busybox 'read-only' &&
		is_forwarded "$RO_SOCK" GET /_ping 200 &&
		is_forwarded "$RO_SOCK" GET /v1.41/containers/json 200
}
check "spawn --read-only: POST gets 403 naming the rule, GET is forwarded" t_read_only

DENY_SOCK=
t_deny() {
	DENY_SOCK=$(spawn --deny 'POST /containers/**/exec' deny-1) &&
		is_denied "$DENY_SOCK" POST /containers/web/exec 'denied by rule "POST /containers/**/exec"' &&
		is_denied "$DENY_SOCK" POST /v1.41/containers/web/db/exec 'POST /containers/**/exec' &&
		is_forwarded "$DENY_SOCK" POST /containers/create 201 &&
		is_forwarded "$DENY_SOCK" POST /containers/web/start 200 &&
		is_forwarded "$DENY_SOCK" GET /containers/web/exec 200
}
check "spawn --deny 'POST /containers/**/exec' blocks exec only" t_deny

ALLOW_SOCK=
t_allow() {
	ALLOW_SOCK=$(spawn --allow ping,version allow-1) &&
		is_forwarded "$ALLOW_SOCK" GET /_ping 200 &&
		is_forwarded "$ALLOW_SOCK" GET /v1.41/version 200 &&
		is_denied "$ALLOW_SOCK" GET /containers/json 'area "containers" not in the allowlist' &&
		is_denied "$ALLOW_SOCK" POST /v1.41/containers/create 'not in the allowlist'
}
check "spawn --allow ping,version allows those areas only" t_allow

t_bad_policy() {
	local err rc
	err=$(spawn --deny 'POST /containers/../exec' bad-1 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 1 ] && [[ $err == "dockmux: spawn: policy: deny rule path is not normalised"* ]] &&
		[ "$(wc -l <<<"$err")" = 1 ] || return 1
	err=$(spawn --allow ping,nope bad-1 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 1 ] && [[ $err == *"unknown API area"* ]] || return 1
	err=$(spawn --allow '' bad-1 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 1 ] && [[ $err == *"--allow needs at least one API area"* ]] || return 1
	err=$(spawn --uid no-such-user-here bad-1 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 1 ] && [[ $err == *"--uid no-such-user-here"* ]] || return 1
	# Refused before anything reached the daemon.
	[ ! -e "$("$BIN" path --dir "$DIR" bad-1)" ] && ! grep -q 'key="bad-1"' "$LOG"
}
check "an invalid policy is refused by spawn (exit 1, reason, nothing sent)" t_bad_policy

t_policy_limits() {
	local err rc args=() i
	for ((i = 0; i < 65; i++)); do args+=(--deny "GET /info/$i"); done
	err=$(spawn "${args[@]}" big-1 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 1 ] && [ "$err" = "dockmux: spawn: policy: more than 64 deny rules" ] || return 1
	err=$(spawn --deny 'delete /images/**' big-1 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 1 ] && [[ $err == *"deny rule method is not GET, HEAD, POST, PUT, DELETE, OPTIONS or '*'" ]] ||
		return 1
	[ ! -e "$("$BIN" path --dir "$DIR" big-1)" ] && ! grep -q 'key="big-1"' "$LOG" || return 1
	# 64 rules are fine.
	[ -n "$(spawn "${args[@]:0:128}" big-1)" ] && "$BIN" teardown --control "$CTL" big-1 >/dev/null
}
check "spawn refuses more than 64 deny rules and a rule for a method no request has" t_policy_limits

t_hostile_spawn_frame() {
	# Raw frames: a deny length over its bound (refused before its bytes
	# come), an unknown policy flag, and the retired op 1 (a spawn without a
	# policy, which an old client would send).
	python3 - "$CTL" <<'EOF' &&
import errno, socket, struct, sys
def call(frame):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(frame)
    status, plen = struct.unpack(">iI", s.recv(8))
    s.close()
    return status, plen
spawn = b"\x05" + struct.pack(">H", 1) + b"k" + struct.pack(">I", 1) + b"t"
assert call(spawn + b"\x00" + struct.pack(">HH", 0, 0xffff)) == (-errno.EMSGSIZE, 0)
assert call(spawn + b"\x80") == (-errno.EOPNOTSUPP, 0)
assert call(b"\x01" + struct.pack(">H", 1) + b"k" + struct.pack(">I", 1) + b"t") == \
    (-errno.EOPNOTSUPP, 0)
# Well-formed, but a policy the library refuses: only EINVAL goes back.
assert call(spawn + b"\x00" + struct.pack(">HH", 0, 5) + b"bogus" + struct.pack(">H", 0)) == \
    (-errno.EINVAL, 0)
EOF
		grep -q 'msg="bad control request" pid=[0-9]* err="Message too long"' "$LOG" &&
		grep -q "msg=\"spawn failed\" key=\"k\" err=\"Invalid argument\" why=\"policy: deny rule" "$LOG" &&
		"$BIN" ls --control "$CTL" >/dev/null && [ ! -e "$("$BIN" path --dir "$DIR" k)" ]
}
check "hostile spawn frames are refused by the daemon, which keeps serving" t_hostile_spawn_frame

t_policy_ls() {
	local out
	out=$("$BIN" ls --control "$CTL") || return 1
	grep -Eq "^ro-1 +$RO_SOCK +([0-9]+ +){6}[1-9][0-9]* +0 +[1-9][0-9]* +any +read-only$" <<<"$out" &&
		grep -Eq "^deny-1 +$DENY_SOCK .* any +deny=1 rule$" <<<"$out" &&
		grep -Eq "^allow-1 +$ALLOW_SOCK .* any +allow=ping\+version$" <<<"$out" &&
		"$BIN" ls --json --control "$CTL" | python3 -c '
import json, sys
rows = {r["key"]: r for r in json.load(sys.stdin)}
ro = rows["ro-1"]
assert ro["policy"] == "read-only" and ro["nuids"] == 0, ro
assert ro["denied"] == 2 and ro["responses"]["4xx"] == 2 and ro["responses"]["2xx"] == 2, ro
assert ro["responses"]["5xx"] == 0
assert rows["deny-1"]["policy"] == "deny=1 rule" and rows["deny-1"]["denied"] == 2
assert rows["allow-1"]["policy"] == "allow=ping+version"
' && "$BIN" stats --control "$CTL" ro-1 | grep -qx 'denied 2' &&
		"$BIN" stats --control "$CTL" ro-1 | grep -qx 'responses_4xx 2'
}
check "ls shows POLICY, DENIED, 4XX and 5XX (table and --json); stats too" t_policy_ls

t_policy_log() {
	grep -qF "msg=\"spawn\" key=\"ro-1\" path=\"$RO_SOCK\" policy=\"read-only\" uids=0 " "$LOG" &&
		grep -qF "key=\"deny-1\" path=\"$DENY_SOCK\" policy=\"deny=1 rule\" uids=0 " "$LOG" &&
		grep -qF 'policy="allow=ping+version"' "$LOG" &&
		grep -qF "key=\"$KEY\" path=\"$SOCK\" policy=\"none\" uids=0 " "$LOG"
}
check "the spawn log line carries the policy's description" t_policy_log

# A uid that is not ours: the socket refuses the connection itself, with a
# 403 sent right after accept and a close. curl polls its connect after
# connect() returned and, when the close is already there (most of the time),
# gives up (exit 7, or 55 if its send hits EPIPE) without reading the 403:
# retry those. Any answer but the 403 fails at once.
OTHER_UID=65534
[ "$(id -u)" = 65534 ] && OTHER_UID=65533
uid_refused() { # sock
	local i out
	for ((i = 0; i < 200; i++)); do
		out=$(http "$1" GET /_ping 2>/dev/null) || continue
		[ "$(head -n1 <<<"$out")" = 403 ] || return 1
		tail -n +2 <<<"$out" | python3 -c '
import json, sys
assert "may not use this socket" in json.load(sys.stdin)["message"]
'
		return
	done
	return 1
}

t_uid() {
	local sock
	sock=$(spawn --uid "$OTHER_UID" uid-1) && uid_refused "$sock" || return 1
	"$BIN" ls --json --control "$CTL" | python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin) if r["key"] == "uid-1"][0]
assert r["nuids"] == 1 and r["policy"] == "none", r
' && "$BIN" ls --control "$CTL" | grep -Eq '^uid-1 .* 1 +none$' &&
		[ "$(spawn --uid "$(id -u)" --uid "$OTHER_UID" uid-1)" = "$sock" ] &&
		is_forwarded "$sock" GET /_ping 200
}
check "spawn --uid: another uid's connection gets 403; its own uid gets through" t_uid

t_replace() {
	[ "$(spawn ro-1)" = "$RO_SOCK" ] &&
		is_forwarded "$RO_SOCK" POST /containers/create 201 &&
		[ "$(spawn --read-only --deny '/containers/*/export' ro-1)" = "$RO_SOCK" ] &&
		is_denied "$RO_SOCK" POST /containers/create 'read-only' &&
		is_denied "$RO_SOCK" GET /containers/web/export 'denied by rule "/containers/*/export"' &&
		"$BIN" ls --control "$CTL" | grep -Eq '^ro-1 .* read-only,deny=1 rule$'
}
check "spawning a key again replaces its policy (left-out options are cleared)" t_replace

t_help_policy() {
	"$BIN" --help | grep -q -- '--read-only' && "$BIN" --help | grep -q 'replaces its token and its'
}
check "--help documents the policy options and the replace semantics" t_help_policy

printf '%s\n' "$TOKEN" | "$BIN" spawn --control "$CTL" "$KEY" >/dev/null
ODD_SOCK=$("$BIN" path --dir "$DIR" -- "$ODD_KEY")

# ---- spawn --batch, a paged ls, --timeout ----
t_batch() {
	local out err rc i n
	# 600 lines (several windows of requests in flight), two bad ones among them
	for i in $(seq 1 600); do
		case $i in
		100) printf 'no-tab-here\n' ;;
		400) printf 'bad-token\t%s\001\n' "$TOKEN" ;;
		*) printf 'batch-%d\t%s\n' "$i" "$TOKEN" ;;
		esac
	done >"$T/batch.in"
	out=$("$BIN" spawn --batch --control "$CTL" --read-only <"$T/batch.in" 2>"$T/batch.err")
	rc=$?
	n=$(printf '%s\n' "$out" | wc -l)
	[ "$rc" = 1 ] && [ "$n" = 600 ] || { echo "# rc $rc, $n lines"; return 1; }
	# line i is batch-i's path, in order; the bad lines are empty
	[ "$(printf '%s\n' "$out" | sed -n 1p)" = "$("$BIN" path --dir "$DIR" batch-1)" ] &&
		[ "$(printf '%s\n' "$out" | sed -n 600p)" = "$("$BIN" path --dir "$DIR" batch-600)" ] &&
		[ -z "$(printf '%s\n' "$out" | sed -n 100p)" ] && [ -z "$(printf '%s\n' "$out" | sed -n 400p)" ] &&
		grep -q '^dockmux: spawn --batch: line 100: expected KEY<TAB>TOKEN' "$T/batch.err" &&
		grep -q '^dockmux: spawn --batch: line 400: contains a NUL, newline or other control' "$T/batch.err" &&
		[ "$(wc -l <"$T/batch.err")" = 2 ] &&
		[ "$(http "$(printf "%s\n" "$out" | sed -n 7p)" POST /containers/create | head -n1)" = 403 ] &&
		! grep -qF "$TOKEN" "$T/batch.err" || return 1
	# an all-good batch exits 0
	printf 'batch-ok-1\t%s\nbatch-ok-2\t%s\r\n' "$TOKEN" "$TOKEN" |
		"$BIN" spawn --batch --control "$CTL" >/dev/null
}
check "spawn --batch: a path per line in order, an empty line and a reason per bad line" t_batch

t_batch_usage() {
	echo x | "$BIN" spawn --batch --control "$CTL" some-key >/dev/null 2>&1
	[ $? = 2 ] || return 1
	echo x | "$BIN" spawn --batch --token-file /dev/null --control "$CTL" >/dev/null 2>&1
	[ $? = 2 ]
}
check "spawn --batch takes no KEY and no --token-file" t_batch_usage

# More containers than a page (256): every one listed exactly once.
t_ls_pages() {
	local table json
	table=$("$BIN" ls --control "$CTL")
	json=$("$BIN" ls --json --control "$CTL")
	[ "$(grep -c '^batch-[0-9]* ' <<<"$table")" = 598 ] &&
		[ -z "$(grep '^batch-' <<<"$table" | awk '{print $1}' | sort | uniq -d)" ] &&
		[ "$(head -1 <<<"$table" | awk '{print $1}')" = KEY ] &&
		python3 -c '
import json, sys
a = json.loads(sys.stdin.read())
keys = [e["key"] for e in a]
assert len(keys) == len(set(keys)), "a key twice"
assert sum(1 for k in keys if k.startswith("batch-") and k[6:].isdigit()) == 598
' <<<"$json"
}
check "ls and ls --json over several pages list every container once" t_ls_pages

t_teardown_batch() {
	local i
	for i in $(seq 1 600); do "$BIN" teardown --control "$CTL" "batch-$i" || return 1; done
	"$BIN" teardown --control "$CTL" batch-ok-1 && "$BIN" teardown --control "$CTL" batch-ok-2 &&
		! "$BIN" ls --control "$CTL" | grep -q '^batch-'
}
check "the batch's containers tear down" t_teardown_batch

# A control socket that accepts and never answers: the command gives up.
t_timeout() {
	local err rc t0 t1
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(8)
c = s.accept()[0]
time.sleep(30)
' "$T/mute.sock" &
	local mute=$!
	wait_for_socket "$T/mute.sock" 50 || return 1
	t0=$(date +%s%N)
	err=$(printf '%s\n' "$TOKEN" | timeout 20 "$BIN" spawn --control "$T/mute.sock" --timeout 1 k 2>&1)
	rc=$?
	t1=$(date +%s%N)
	kill "$mute"
	wait "$mute" 2>/dev/null
	[ "$rc" = 1 ] && [ $(((t1 - t0) / 1000000)) -lt 3000 ] && [[ $err == *"no answer in time"* ]]
}
check "a daemon that never answers: spawn --timeout 1 fails after a second" t_timeout

t_sigterm() {
	local rc
	kill -TERM "$D_PID"
	wait "$D_PID"
	rc=$?
	D_PID=
	[ "$rc" = 0 ] && [ ! -e "$SOCK" ] && [ ! -e "$ODD_SOCK" ] && [ ! -e "$CTL" ] &&
		[ -z "$(ls -A "$DIR")" ] && grep -q 'msg="stopped"' "$LOG"
}
check "SIGTERM exits 0 and removes every socket" t_sigterm

# crash_cores ENV...: a daemon (ENV set) in a scratch directory with cores on,
# one container spawned, then SIGSEGV; prints the core files it left.
crash_cores() {
	local w pid
	w=$(mktemp -d "$T/crash.XXXXXX")
	(cd "$w" && ulimit -c unlimited && exec env "$@" "$BIN" serve --upstream "$UP" \
		--dir "$w/socks" --control "$w/ctl.sock" --state none 2>>"$w/log") &
	pid=$!
	wait_for_socket "$w/ctl.sock" &&
		printf '%s\n' "$TOKEN" | "$BIN" spawn --control "$w/ctl.sock" crash-1 >/dev/null
	kill -SEGV "$pid"
	wait "$pid" 2>/dev/null
	find "$w" -maxdepth 1 -name 'core*' -type f
}
t_no_core_dump() {
	local cores
	# DOCKMUX_DUMPABLE=1 keeps the daemon dumpable (for debugging): proves
	# this machine writes cores at all, and what one would hold.
	cores=$(crash_cores DOCKMUX_DUMPABLE=1)
	if [ -z "$cores" ]; then
		echo "# (skipped: no core file from a dumpable daemon; core_pattern $(cat /proc/sys/kernel/core_pattern))"
		return 0
	fi
	grep -qF "$TOKEN" $cores || echo "# (the debugging core holds no token)"
	rm -f $cores
	cores=$(crash_cores)
	[ -z "$cores" ] || { echo "# core written: $cores"; rm -f $cores; return 1; }
}
check "a crashed daemon writes no core file (tokens); DOCKMUX_DUMPABLE=1 does" t_no_core_dump

t_log_no_token() {
	! grep -qF -e "$TOKEN" -e "$TOKEN2" -e "s3cr3t" -e "r0tat3d" "$LOG" &&
		grep -q 'msg="spawn"' "$LOG"
}
check "the daemon log never contains a token" t_log_no_token

t_logfmt() {
	# Every line is one logfmt record: ts, level, quoted msg.
	! grep -Evq '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z level=(error|warn|info|debug) msg="' "$LOG"
}
check "every log line is logfmt" t_logfmt

if [ "$FAIL" -ne 0 ]; then
	echo "# daemon log:"
	sed 's/^/# /' "$LOG"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
