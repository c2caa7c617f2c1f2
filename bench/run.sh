#!/usr/bin/env bash
# bench/run.sh: runs every benchmark scenario against every target in one go,
# side by side (direct to the upstream stub, the relay that parses nothing,
# dockmux, and HAProxy, nginx and socat where installed), then writes results.json, results.md and
# throughput.svg. Builds nothing: it uses the binaries in $BUILD_DIR/bench and
# whatever comparison proxies are on PATH; with --install-peers it first
# apt-get installs the missing ones (and gnuplot), starting no service.
set -uo pipefail

usage() {
	cat <<'EOF'
usage: bench/run.sh [--install-peers] [--quick|--full] [--out DIR] [--targets LIST] [--scenarios LIST]
  --install-peers  first apt-get install what is missing of the comparison proxies and the
               chart tool: haproxy nginx libnginx-mod-stream socat gnuplot-nox (Debian/Ubuntu;
               root or sudo; no service is started; tests/lib.sh's dmx_need_packages)
  --quick      short runs (default; under 2 minutes in total)
  --full       long runs (about 10 minutes)
  --out DIR    where results go (default: bench/results, git-ignored)
  --targets    comma list of: direct,relay,dockmux,haproxy-tcp,haproxy-http,nginx-stream,nginx-http,socat
  --scenarios  comma list of: ka32,ka256,churn,bulk-get,bulk-post,lifecycle,density,scale,control
Environment: BUILD_DIR (default build), PROXY_THREADS (threads/workers/rings of every
proxy; default: online CPUs), UPSTREAM_THREADS (1), LOADGEN_THREADS (1), CONTAINERS (1000),
ROUNDS_OVERRIDE (rounds per traffic scenario), BENCH_TMPDIR (where sockets go; default: tmpfs),
CONTROL_STATE_DIR (the control scenario's state file: a disk directory; default /var/tmp),
CONTROL_N (10000), CONTROL_SCALE (30000).
EOF
}

MODE=quick
OUT=""
ONLY_TARGETS=""
ONLY_SCENARIOS=""
INSTALL_PEERS=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) MODE=quick ;;
	--full) MODE=full ;;
	--install-peers) INSTALL_PEERS=1 ;;
	--out) OUT="$2"; shift ;;
	--out=*) OUT="${1#--out=}" ;;
	--targets) ONLY_TARGETS="$2"; shift ;;
	--scenarios) ONLY_SCENARIOS="$2"; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

BUILD_DIR="${BUILD_DIR:-build}"
BIN="$BUILD_DIR/bench"
for tool in dockmux-bench dockmux-upstream dockmux-bench-proxy dockmux-relay dockmux-bench-report; do
	if [ ! -x "$BIN/$tool" ]; then
		echo "run.sh: $BIN/$tool not found: build first (meson setup $BUILD_DIR && ninja -C $BUILD_DIR)" >&2
		exit 2
	fi
done
BIN="$(cd "$BIN" && pwd)"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-$HERE/results}"

# The comparison proxies and the chart tool, by their Debian package names:
# nginx's stream {} proxy is the separate libnginx-mod-stream (a dynamic
# module); gnuplot-nox is gnuplot without X.
PEER_PACKAGES="haproxy nginx libnginx-mod-stream socat gnuplot-nox"
if [ "$INSTALL_PEERS" = 1 ]; then
	# dmx_need_packages installs only what is missing, with a policy-rc.d
	# that forbids starting services while apt runs (the packages' own
	# haproxy.service and nginx.service stay stopped: every peer runs below
	# from a private config in the run's temporary directory).
	# shellcheck source=SCRIPTDIR/../tests/lib.sh
	. "$HERE/../tests/lib.sh"
	# shellcheck disable=SC2086
	dmx_need_packages $PEER_PACKAGES || {
		echo "run.sh: --install-peers: could not install $PEER_PACKAGES" >&2
		exit 1
	}
fi
# haproxy and nginx live in /usr/sbin, which a non-root PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin" ;; esac

NCPU=$(nproc)
PROXY_THREADS="${PROXY_THREADS:-$NCPU}"
UPSTREAM_THREADS="${UPSTREAM_THREADS:-1}"
LOADGEN_THREADS="${LOADGEN_THREADS:-1}"
CONTAINERS="${CONTAINERS:-1000}"
TOKEN=tok
AUTH="Bearer $TOKEN"

if [ "$MODE" = quick ]; then
	DUR=1.5 WARM=0.5 BULK_BYTES=$((256 << 20)) TRANSFERS=1 ROUNDS=1
	DENSITY=10000 IDLE=1 STORM_WINDOW=64 SOCAT_DENSITY=0
else
	# Three rounds, each over all targets in a rotated order; the report
	# takes each target's median round, so a burst of noise on a shared
	# machine hits one round of one target, not the ratio.
	DUR=5 WARM=1 BULK_BYTES=$((256 << 20)) TRANSFERS=3 ROUNDS=3
	DENSITY=10000 IDLE=5 STORM_WINDOW=64 SOCAT_DENSITY=1000
fi
ROUNDS="${ROUNDS_OVERRIDE:-$ROUNDS}"

ALL_TARGETS="direct relay dockmux haproxy-tcp haproxy-http nginx-stream nginx-http socat"
ALL_SCENARIOS="ka32 ka256 churn bulk-get bulk-post lifecycle density scale control"
selected() { # list item
	[ -z "$1" ] && return 0
	case ",$1," in *",$2,"*) return 0 ;; esac
	return 1
}

mkdir -p "$OUT" || exit 2
OUT="$(cd "$OUT" && pwd)"
RAW="$OUT/raw.jsonl"
: > "$RAW"
# Sockets live on tmpfs, as /run/dockmux does on a real host: bind() on a
# disk filesystem costs a metadata write per socket and would dominate the
# density figures of every target. BENCH_TMPDIR overrides. Short path:
# container sockets must fit sun_path (108 bytes).
pick_tmpdir() {
	local d
	for d in ${BENCH_TMPDIR:-} /dev/shm /run /tmp; do
		if [ -d "$d" ] && [ -w "$d" ] &&
		   { [ -n "${BENCH_TMPDIR:-}" ] || [ "$(stat -f -c %T "$d" 2>/dev/null)" = tmpfs ]; }; then
			echo "$d"
			return
		fi
	done
	echo /tmp
}
TMPBASE="$(pick_tmpdir)"
WORK="$(mktemp -d "$TMPBASE/dmxb.XXXXXX")"
chmod 755 "$WORK"
TMPFS_TYPE="$(stat -f -c %T "$WORK" 2>/dev/null)"
T0=$(date +%s.%N)

OWNED_PIDS=()
cleanup() {
	for pid in "${OWNED_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.2
	for pid in "${OWNED_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# calc EXPR: arithmetic on decimals (awk is always there; bc may not be).
calc() {
	awk "BEGIN { printf \"%.4f\", $1 }"
}
log() {
	printf '[%6.1fs] %s\n' "$(calc "$(date +%s.%N) - $T0")" "$*" >&2
}

# emit SCENARIO TARGET JSON: one raw record, labelled.
emit() {
	local body="${3#\{}"
	printf '{"scenario": "%s", "target": "%s", %s\n' "$1" "$2" "$body" >> "$RAW"
}
skip() {
	local reason
	reason=$(printf '%s' "$3" | tr -d '"\\' | tr '\n\t\r' '   ' | cut -c1-300)
	emit "$1" "$2" "{\"skipped\": \"$reason\"}"
	log "$1 / $2: skipped ($reason)"
}
# merge '{a}' '{b}' -> '{a, b}'
merge() {
	printf '%s, %s' "${1%\}}" "${2#\{}"
}

# wait_sock PATH [seconds]: until a Unix socket file exists.
wait_sock() {
	local i limit=$(( ${2:-10} * 100 ))
	for ((i = 0; i < limit; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

# stop_pid PID: SIGTERM, then SIGKILL after 5 s; reaps it.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	local kept=()
	for p in "${OWNED_PIDS[@]}"; do
		[ "$p" != "$pid" ] && kept+=("$p")
	done
	OWNED_PIDS=("${kept[@]}")
}

# stop_all "PID PID...": SIGTERM to all, wait for all (SIGKILL after 5 s).
stop_all() {
	local p i alive
	for p in $1; do kill -TERM "$p" 2>/dev/null; done
	for ((i = 0; i < 100; i++)); do
		alive=0
		for p in $1; do kill -0 "$p" 2>/dev/null && { alive=1; break; }; done
		[ "$alive" = 0 ] && break
		sleep 0.05
	done
	for p in $1; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	declare -A gone=()
	for p in $1; do gone[$p]=1; done
	local kept=()
	for p in "${OWNED_PIDS[@]}"; do
		[ -z "${gone[$p]:-}" ] && kept+=("$p")
	done
	OWNED_PIDS=("${kept[@]}")
}

# ---- what is installed ------------------------------------------------------
declare -A UNAVAILABLE
command -v haproxy >/dev/null || { UNAVAILABLE[haproxy-tcp]="not installed (--install-peers, or apt-get install haproxy)"; UNAVAILABLE[haproxy-http]="${UNAVAILABLE[haproxy-tcp]}"; }
NGINX_STREAM_LOAD=""
if ! command -v nginx >/dev/null; then
	UNAVAILABLE[nginx-http]="not installed (--install-peers, or apt-get install nginx libnginx-mod-stream)"
	UNAVAILABLE[nginx-stream]="${UNAVAILABLE[nginx-http]}"
elif nginx -V 2>&1 | grep -q -- '--with-stream=dynamic'; then
	for m in /usr/lib/nginx/modules/ngx_stream_module.so /usr/share/nginx/modules/ngx_stream_module.so; do
		[ -f "$m" ] && NGINX_STREAM_LOAD="load_module $m;"
	done
	[ -z "$NGINX_STREAM_LOAD" ] && UNAVAILABLE[nginx-stream]="stream module not installed (--install-peers, or apt-get install libnginx-mod-stream)"
elif ! nginx -V 2>&1 | grep -q -- '--with-stream'; then
	UNAVAILABLE[nginx-stream]="nginx built without the stream module"
fi
command -v socat >/dev/null || UNAVAILABLE[socat]="not installed (--install-peers, or apt-get install socat)"

version_of() {
	command -v "$1" >/dev/null || return 0
	case "$1" in
	haproxy) haproxy -v 2>/dev/null | head -1 | awk '{print $3}' ;;
	nginx) nginx -v 2>&1 | sed 's/.*nginx\///' ;;
	socat) socat -V 2>/dev/null | awk '/socat version/ {print $3}' ;;
	esac
}

# ---- the upstream stub -------------------------------------------------------
UP="$WORK/up.sock"
"$BIN/dockmux-upstream" --listen "$UP" --threads "$UPSTREAM_THREADS" --token "$AUTH" \
	> "$WORK/upstream.out" 2>&1 &
UP_PID=$!
OWNED_PIDS+=("$UP_PID")
if ! wait_sock "$UP" 5; then
	echo "run.sh: dockmux-upstream did not start: $(cat "$WORK/upstream.out")" >&2
	exit 1
fi

emit meta all "$(printf '{"mode": "%s", "date": "%s", "kernel": "%s", "cpus": %s, "cpu_model": "%s", "mem_gib": %s, "proxy_threads": %s, "upstream_threads": %s, "loadgen_threads": %s, "containers": %s, "socket_fs": "%s", "rounds": %s, "duration_s": %s, "warmup_s": %s, "bulk_bytes": %s, "bulk_transfers": %s, "density": %s, "idle_s": %s, "haproxy": "%s", "nginx": "%s", "socat": "%s", "dockmux": "%s", "targets": "%s", "scenarios": "%s"}' \
	"$MODE" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -r)" "$NCPU" \
	"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"')" \
	"$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)" \
	"$PROXY_THREADS" "$UPSTREAM_THREADS" "$LOADGEN_THREADS" "$CONTAINERS" "$WORK ($TMPFS_TYPE)" "$ROUNDS" "$DUR" "$WARM" \
	"$BULK_BYTES" "$TRANSFERS" "$DENSITY" "$IDLE" \
	"$(version_of haproxy)" "$(version_of nginx)" "$(version_of socat)" \
	"$(git -C "$HERE/.." describe --always --dirty 2>/dev/null)" "${ONLY_TARGETS:-all}" "${ONLY_SCENARIOS:-all}")"

# ---- config generators -------------------------------------------------------
# haproxy_cfg FILE MODE(tcp|http) SOCKET... : one frontend per socket.
haproxy_cfg() {
	local file=$1 mode=$2 i=0
	shift 2
	{
		echo "global"
		echo "    nbthread $PROXY_THREADS"
		echo "    maxconn 4096"
		echo "defaults"
		echo "    mode $mode"
		echo "    timeout connect 5s"
		echo "    timeout client 120s"
		echo "    timeout server 120s"
		[ "$mode" = http ] && echo "    timeout http-keep-alive 120s"
		echo "backend up"
		echo "    server s1 $UP"
		for sock in "$@"; do
			echo "frontend c$i"
			echo "    bind $sock mode 666"
			[ "$mode" = http ] && echo "    http-request set-header Authorization \"$AUTH\""
			echo "    default_backend up"
			i=$((i + 1))
		done
	} > "$file"
}

# nginx_cfg DIR MODE(stream|http) SOCKET... : one server per socket.
nginx_cfg() {
	local dir=$1 mode=$2 n=$(($# - 2))
	shift 2
	mkdir -p "$dir/tmp"
	{
		[ "$mode" = stream ] && echo "$NGINX_STREAM_LOAD"
		echo "user root;"
		echo "daemon off;"
		echo "master_process on;"
		echo "worker_processes $PROXY_THREADS;"
		echo "worker_rlimit_nofile $(( n + 8192 ));"
		echo "pid $dir/nginx.pid;"
		echo "error_log $dir/error.log error;"
		echo "events { worker_connections $(( n + 4096 )); }"
		if [ "$mode" = stream ]; then
			echo "stream {"
			for sock in "$@"; do
				echo "  server { listen unix:$sock; proxy_pass unix:$UP; }"
			done
			echo "}"
		else
			echo "http {"
			echo "  access_log off;"
			echo "  client_body_temp_path $dir/tmp/body;"
			echo "  proxy_temp_path $dir/tmp/proxy;"
			echo "  fastcgi_temp_path $dir/tmp/fastcgi;"
			echo "  uwsgi_temp_path $dir/tmp/uwsgi;"
			echo "  scgi_temp_path $dir/tmp/scgi;"
			echo "  upstream up { server unix:$UP; keepalive 256; }"
			# keepalive_requests: nginx closes client connections after 1000
			# requests by default; HAProxy and dockmux never do.
			echo "  keepalive_requests 100000000;"
			echo "  keepalive_timeout 120s;"
			echo "  client_max_body_size 0;"
			for sock in "$@"; do
				echo "  server { listen unix:$sock;"
				echo "    location / { proxy_pass http://up; proxy_http_version 1.1;"
				echo "      proxy_set_header Connection \"\"; proxy_set_header Authorization \"$AUTH\";"
				echo "      proxy_buffering off; proxy_request_buffering off; } }"
			done
			echo "}"
		fi
	} > "$dir/nginx.conf"
}

# ---- targets -----------------------------------------------------------------
# start_target NAME: sets T_PID (process tree to measure, empty for direct),
# T_PATHS (file of socket paths), T_AUTH (what the client sends itself).
# Returns non-zero (and sets T_ERR) on failure.
T_PID="" T_PATHS="" T_AUTH="" T_ERR="" T_COPROC=0
start_target() {
	local name=$1 dir="$WORK/$1"
	T_PID="" T_AUTH="" T_ERR="" T_COPROC=0
	rm -rf "$dir"
	mkdir -p "$dir"
	T_PATHS="$dir/paths"
	case "$name" in
	direct)
		echo "$UP" > "$T_PATHS"
		T_AUTH="$AUTH"
		return 0
		;;
	relay)
		# The cheapest proxy (bench/relay.c): as many threads as dockmux
		# has rings, one listening socket, no parsing.
		"$BIN/dockmux-relay" --listen "$dir/p.sock" --upstream "$UP" \
			--threads "$PROXY_THREADS" > "$dir/log" 2>&1 &
		T_PID=$!
		;;
	dockmux)
		coproc DMX { exec "$BIN/dockmux-bench-proxy" --upstream "$UP" --dir "$dir/s" \
			--containers "$CONTAINERS" --rings "$PROXY_THREADS" --token "$TOKEN" \
			--paths-out "$T_PATHS" 2>>"$WORK/dockmux.log"; }
		T_PID=$DMX_PID
		T_COPROC=1
		OWNED_PIDS+=("$T_PID")
		local line=""
		if ! read -t 60 -r line <&"${DMX[0]}" || [ "${line%% *}" != ready ]; then
			T_ERR="dockmux-bench-proxy did not start: $line $(tail -3 "$WORK/dockmux.log" 2>/dev/null)"
			return 1
		fi
		return 0
		;;
	haproxy-tcp|haproxy-http)
		haproxy_cfg "$dir/haproxy.cfg" "${name#haproxy-}" "$dir/p.sock"
		haproxy -f "$dir/haproxy.cfg" -db > "$dir/log" 2>&1 &
		T_PID=$!
		;;
	nginx-stream|nginx-http)
		nginx_cfg "$dir" "${name#nginx-}" "$dir/p.sock"
		nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" > "$dir/log" 2>&1 &
		T_PID=$!
		;;
	socat)
		socat "UNIX-LISTEN:$dir/p.sock,fork,backlog=4096,unlink-early" "UNIX-CONNECT:$UP" \
			> "$dir/log" 2>&1 &
		T_PID=$!
		;;
	esac
	OWNED_PIDS+=("$T_PID")
	echo "$dir/p.sock" > "$T_PATHS"
	case "$name" in
	relay|haproxy-tcp|nginx-stream|socat) T_AUTH="$AUTH" ;;   # they cannot inject it
	esac
	if ! wait_sock "$dir/p.sock" 10; then
		T_ERR="$name did not start: $(tail -3 "$dir/log" "$dir/error.log" 2>/dev/null | tr '\n"' ' ')"
		return 1
	fi
	sleep 0.1       # listen() follows bind()
	return 0
}

stop_target() {
	[ -z "$T_PID" ] && return 0
	if [ "$T_COPROC" = 1 ]; then
		echo quit >&"${DMX[1]}" 2>/dev/null
	fi
	stop_pid "$T_PID"
	T_PID=""
}

# loadgen SCENARIO-ARGS...: run dockmux-bench on the current target.
loadgen() {
	local args=(--paths "$T_PATHS" --threads "$LOADGEN_THREADS")
	[ -n "$T_AUTH" ] && args+=(--auth "$T_AUTH")
	[ -n "$T_PID" ] && args+=(--pid "$T_PID")
	"$BIN/dockmux-bench" "${args[@]}" "$@"
}

scenario_args() {
	case "$1" in
	ka32) echo "--mode ping --conns 32 --duration $DUR --warmup $WARM" ;;
	ka256) echo "--mode ping --conns 256 --duration $DUR --warmup $WARM" ;;
	churn) echo "--mode churn --conns 32 --duration $DUR --warmup $WARM" ;;
	bulk-get) echo "--mode get --conns 4 --bytes $BULK_BYTES --transfers $TRANSFERS --timeout 300" ;;
	bulk-post) echo "--mode post --conns 4 --bytes $BULK_BYTES --transfers $TRANSFERS --timeout 300" ;;
	esac
}

run_traffic() { # scenario
	local sc=$1 t out round targets
	for ((round = 0; round < ROUNDS; round++)); do
		# Rotate the order each round: no target always runs first or last.
		read -r -a targets <<< "$ALL_TARGETS"
		targets=("${targets[@]:round}" "${targets[@]:0:round}")
		for t in "${targets[@]}"; do
			selected "$ONLY_TARGETS" "$t" || continue
			if [ -n "${UNAVAILABLE[$t]:-}" ]; then
				[ "$round" = 0 ] && skip "$sc" "$t" "${UNAVAILABLE[$t]}"
				continue
			fi
			if ! start_target "$t"; then
				skip "$sc" "$t" "failed: $T_ERR"
				stop_target
				continue
			fi
			# shellcheck disable=SC2046
			out=$(loadgen $(scenario_args "$sc"))
			if [ -n "$out" ]; then
				emit "$sc" "$t" "$(merge "{\"round\": $round}" "$out")"
				log "$sc / $t$( [ "$ROUNDS" -gt 1 ] && echo " (round $((round + 1))/$ROUNDS)"): $(summary "$out")"
			else
				skip "$sc" "$t" "failed: dockmux-bench printed nothing"
			fi
			stop_target
		done
	done
}

# summary JSON: a short line for the log.
summary() {
	local j=$1
	printf '%s req/s, %s MiB/s, p99 %s us, errors %s, auth failures %s' \
		"$(field "$j" rps)" "$(field "$j" mib_per_s)" "$(field "$j" lat_p99_us)" \
		"$(field "$j" errors)" "$(field "$j" auth_failures)"
}
field() {
	printf '%s' "$1" | sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p"
}

run_lifecycle() {
	local t=dockmux out storm
	selected "$ONLY_TARGETS" "$t" || return 0
	if ! start_target "$t"; then
		skip lifecycle "$t" "failed: $T_ERR"
		stop_target
		return 0
	fi
	# The storm runs for the measured window, after the warm-up.
	loadgen --mode ping --conns 32 --duration "$DUR" --warmup "$WARM" > "$WORK/lifecycle.out" &
	local lg=$!
	sleep "$WARM"
	echo "storm $DUR $STORM_WINDOW" >&"${DMX[1]}"
	storm=""
	read -t $(( ${DUR%.*} + 60 )) -r storm <&"${DMX[0]}"
	wait "$lg"
	out=$(cat "$WORK/lifecycle.out")
	if [ -n "$out" ] && [ -n "$storm" ]; then
		emit lifecycle "$t" "$(merge "$out" "$storm")"
		log "lifecycle / $t: $(summary "$out"); storm $storm"
	else
		skip lifecycle "$t" "failed: load '$out' storm '$storm'"
	fi
	stop_target
	for t in $ALL_TARGETS; do
		[ "$t" = dockmux ] && continue
		selected "$ONLY_TARGETS" "$t" || continue
		emit lifecycle "$t" '{"skipped": "n/a: static configuration, no runtime spawn/teardown"}'
	done
}

# density_static NAME N: start NAME with N listeners, time until the last socket
# exists, sample requests, idle CPU and memory, then time a full stop.
density_static() {
	local name=$1 n=$2 dir="$WORK/$1-density" i socks=() t1 t2 t3 t4 base idle check
	rm -rf "$dir"
	mkdir -p "$dir/s"
	for ((i = 0; i < n; i++)); do
		socks+=("$dir/s/c$i.sock")
	done
	printf '%s\n' "$dir/s/c0.sock" > "$dir/base.paths"
	for ((i = 0; i < 16; i++)); do
		printf '%s\n' "${socks[$((i * n / 16))]}"
	done > "$dir/check.paths"
	local pid=""
	start_static() { # count
		rm -f "$dir"/s/*.sock
		case "$name" in
		haproxy-http)
			haproxy_cfg "$dir/haproxy.cfg" http "${socks[@]:0:$1}"
			haproxy -f "$dir/haproxy.cfg" -db > "$dir/log" 2>&1 &
			pid=$!
			;;
		nginx-http)
			nginx_cfg "$dir" http "${socks[@]:0:$1}"
			nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" > "$dir/log" 2>&1 &
			pid=$!
			;;
		socat)
			# One process per container: the classic socat-per-socket setup.
			local k
			pid=""
			for ((k = 0; k < $1; k++)); do
				socat "UNIX-LISTEN:${socks[$k]},fork,backlog=4096" "UNIX-CONNECT:$UP" \
					>/dev/null 2>&1 &
				pid="$pid $!"
			done
			pid="${pid# }"
			;;
		esac
		# shellcheck disable=SC2206
		OWNED_PIDS+=($pid)
	}
	# Baseline with one listener, to subtract the proxy's fixed footprint
	# (socat has none to subtract: one whole process per container).
	if [ "$name" != socat ]; then
		start_static 1
		wait_sock "${socks[0]}" 20
		sleep 0.2
		base=$("$BIN/dockmux-bench" --mode idle --pid "$pid" --duration 0.3 --warmup 0.1)
		stop_pid "$pid"
	fi
	t1=$(date +%s%N)
	start_static "$n"
	if ! wait_sock "${socks[$((n - 1))]}" 120; then
		emit density "$name" "{\"skipped\": \"failed: $name did not create $n sockets\"}"
		stop_all "$pid"
		return
	fi
	t2=$(date +%s%N)
	sleep 0.2
	local auth_args=()
	[ "$name" = socat ] && auth_args=(--auth "$AUTH")
	check=$("$BIN/dockmux-bench" --mode ping --paths "$dir/check.paths" --conns 16 \
		--duration 0.2 --warmup 0 "${auth_args[@]}")
	sleep 0.1
	# socat: one process per container, all alike: measure the first, scale.
	idle=$("$BIN/dockmux-bench" --mode idle --pid "${pid%% *}" --duration "$IDLE" --warmup 0.1)
	t3=$(date +%s%N)
	stop_all "$pid"
	t4=$(date +%s%N)
	local spawn_s teardown_s mem0 mem1 per cpu
	spawn_s=$(calc "($t2 - $t1) / 1000000000")
	teardown_s=$(calc "($t4 - $t3) / 1000000000")
	cpu=$(field "$idle" proxy_cpu_s)
	mem1=$(field "$idle" proxy_pss_kib)
	if [ "$name" = socat ]; then
		# Every socat is one process: its PSS is the per-container memory.
		per=$(calc "${mem1:-0} * 1024")
		cpu=$(calc "${cpu:-0} * $n")
	else
		mem0=$(field "$base" proxy_pss_kib)
		per=$(calc "(${mem1:-0} - ${mem0:-0}) * 1024 / $n")
	fi
	emit density "$name" "$(printf '{"containers": %s, "spawned": %s, "spawn_s": %s, "spawn_per_s": %s, "teardown_s": %s, "teardown_per_s": %s, "bytes_per_container": %s, "idle_s": %s, "idle_cpu_s": %s, "check_requests": %s, "check_errors": %s, "check_auth_failures": %s, "memory": "pss"}' \
		"$n" "$n" "$spawn_s" "$(calc "$n / ($spawn_s + 1e-9)")" "$teardown_s" \
		"$(calc "$n / ($teardown_s + 1e-9)")" "$per" "$IDLE" "${cpu:-0}" \
		"$(field "$check" requests)" "$(field "$check" errors)" "$(field "$check" auth_failures)")"
	log "density / $name: $n listeners in ${spawn_s}s, $per bytes each, idle CPU ${cpu}s"
}

run_density() {
	local t out
	for t in $ALL_TARGETS; do
		selected "$ONLY_TARGETS" "$t" || continue
		case "$t" in
		direct)
			emit density "$t" '{"skipped": "n/a: no proxy"}'
			;;
		relay)
			emit density "$t" '{"skipped": "n/a: a bound for traffic, one socket, no tokens"}'
			;;
		dockmux)
			out=$("$BIN/dockmux-bench-proxy" --upstream "$UP" --dir "$WORK/density" \
				--rings "$PROXY_THREADS" --token "$TOKEN" --density "$DENSITY" --idle "$IDLE" \
				2>>"$WORK/dockmux.log")
			if [ -n "$out" ]; then
				emit density "$t" "$out"
				log "density / $t: $out"
			else
				skip density "$t" "failed: $(tail -3 "$WORK/dockmux.log")"
			fi
			;;
		haproxy-http|nginx-http)
			if [ -n "${UNAVAILABLE[$t]:-}" ]; then
				skip density "$t" "${UNAVAILABLE[$t]}"
			else
				density_static "$t" "$DENSITY"
			fi
			;;
		socat)
			if [ -n "${UNAVAILABLE[$t]:-}" ]; then
				skip density "$t" "${UNAVAILABLE[$t]}"
			elif [ "$SOCAT_DENSITY" = 0 ]; then
				skip density "$t" "full mode only (one process per container)"
			else
				density_static "$t" "$SOCAT_DENSITY"
			fi
			;;
		*)
			emit density "$t" '{"skipped": "n/a: per-container tokens need an HTTP-mode proxy"}'
			;;
		esac
	done
}

# scale: more container sockets than the process may open fds. dockmux only
# (the others need one process fd per listener).
run_scale() {
	local out
	selected "$ONLY_TARGETS" dockmux || return 0
	out=$( (ulimit -n "$SCALE_NOFILE" &&
		exec "$BIN/dockmux-bench-proxy" --upstream "$UP" --dir "$WORK/scale" \
			--rings "$PROXY_THREADS" --token "$TOKEN" --density "$SCALE" --idle 0.2 --checks 8) \
		2>>"$WORK/dockmux.log")
	if [ -n "$out" ]; then
		emit scale dockmux "$out"
		log "scale / dockmux: $out"
	else
		skip scale dockmux "failed: $(tail -3 "$WORK/dockmux.log")"
	fi
}
SCALE=${SCALE:-30000}
SCALE_NOFILE=${SCALE_NOFILE:-20000}

# control: `dockmux serve` itself, its state file on a disk directory
# (CONTROL_STATE_DIR, /var/tmp: every answer waits for an fdatasync there).
# dockmux-bench-control spawns CONTROL_N containers then tears them down, 8
# connections with requests in flight; then CONTROL_SCALE containers, and
# `dockmux ls`, `ls --json` and one /metrics scrape are timed (with their own
# peak RSS, and the daemon's peak RSS before and after them); then a restart
# from that state file, timed until it listens on all of them.
CONTROL_N=${CONTROL_N:-10000}
CONTROL_SCALE=${CONTROL_SCALE:-30000}
# timed CMD...: "SECONDS MAXRSS_KIB" of CMD (stdout to /dev/null); RSS "null"
# without GNU time.
timed() {
	local t0 t1 rss=null
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%e %M' -o "$WORK/timed" "$@" >/dev/null 2>>"$WORK/control.err" ||
			return 1
		t0=$(cut -d' ' -f1 "$WORK/timed")
		rss=$(cut -d' ' -f2 "$WORK/timed")
		echo "$t0 $rss"
		return 0
	fi
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>>"$WORK/control.err" || return 1
	t1=$(date +%s.%N)
	echo "$(calc "$t1 - $t0") $rss"
}
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null; }
control_serve() { # LOG: a daemon on the scenario's state, pid in CTL_PID
	(ulimit -n "$SCALE_NOFILE" &&
		exec "$DMX_CLI" serve --upstream "$UP" --dir "$WORK/control/s" --control "$WORK/control/c.sock" \
			--state "$CSTATE/state" --rings "$PROXY_THREADS" --metrics "$WORK/control/m.sock" \
			--log-file "$1") &
	CTL_PID=$!
	OWNED_PIDS+=("$CTL_PID")
}
control_ready() { # LOG: seconds until the daemon logged "ready" (60 s at most)
	local i
	for ((i = 0; i < 6000; i++)); do
		grep -q 'msg="ready"' "$1" 2>/dev/null && return 0
		kill -0 "$CTL_PID" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}
run_control() {
	local storm scale ls lsj met t0 t1 ready hwm0 hwm1 last lines socks
	selected "$ONLY_TARGETS" dockmux || return 0
	DMX_CLI="${BIN%/bench}/cmd/dockmux"
	if [ ! -x "$DMX_CLI" ] || [ ! -x "$BIN/dockmux-bench-control" ]; then
		skip control dockmux "no $DMX_CLI or dockmux-bench-control: build first"
		return 0
	fi
	CSTATE=$(mktemp -d "${CONTROL_STATE_DIR:-/var/tmp}/dmx-bench-state.XXXXXX") || {
		skip control dockmux "cannot make a state directory in ${CONTROL_STATE_DIR:-/var/tmp}"
		return 0
	}
	mkdir -p "$WORK/control"
	control_serve "$WORK/control/d1.log"
	if ! control_ready "$WORK/control/d1.log"; then
		skip control dockmux "the daemon did not start: $(tail -3 "$WORK/control/d1.log")"
		rm -rf "$CSTATE"
		return 0
	fi
	storm=$("$BIN/dockmux-bench-control" --control "$WORK/control/c.sock" --containers "$CONTROL_N" \
		2>>"$WORK/control.err")
	log "control / dockmux: $CONTROL_N spawns then teardowns: $storm"
	scale=$("$BIN/dockmux-bench-control" --control "$WORK/control/c.sock" --containers "$CONTROL_SCALE" \
		--mode spawn --prefix scale 2>>"$WORK/control.err")
	hwm0=$(hwm_kib "$CTL_PID")
	ls=$(timed "$DMX_CLI" ls --control "$WORK/control/c.sock") || ls="null null"
	lsj=$(timed "$DMX_CLI" ls --json --control "$WORK/control/c.sock") || lsj="null null"
	met=$(timed curl -sf --max-time 30 --unix-socket "$WORK/control/m.sock" -o "$WORK/control/m.txt" \
		http://d/metrics) || met="null null"
	hwm1=$(hwm_kib "$CTL_PID")
	lines=$(grep -c '^dockmux_container_requests_total{' "$WORK/control/m.txt" 2>/dev/null)
	stop_pid "$CTL_PID"
	t0=$(date +%s.%N)
	control_serve "$WORK/control/d2.log"
	if control_ready "$WORK/control/d2.log"; then
		t1=$(date +%s.%N)
		ready=$(calc "$t1 - $t0")
	else
		ready=null
	fi
	last=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket \
		"$("$DMX_CLI" path --dir "$WORK/control/s" "scale-$CONTROL_SCALE")" http://d/_ping)
	socks=$(find "$WORK/control/s" -maxdepth 1 -name '*.sock' | wc -l)
	stop_pid "$CTL_PID"
	rm -rf "$CSTATE" "$WORK/control/s"
	# One flat record: the storm's fields, the 30,000 spawns' as scale_*.
	scale=$(sed 's/"\([a-z_]*\)":/"scale_\1":/g' <<<"${scale:-{\}}")
	emit control dockmux "$(merge "$(merge "${storm:-{\}}" "$scale")" "$(printf '{"state_dir": "%s", "state_fs": "%s", "ls_containers": %s, "ls_s": %s, "ls_rss_kib": %s, "ls_json_s": %s, "ls_json_rss_kib": %s, "metrics_s": %s, "metrics_rss_kib": %s, "metrics_series_per_family": %s, "daemon_hwm_kib_before": %s, "daemon_hwm_kib_after": %s, "restart_ready_s": %s, "restart_sockets": %s, "restart_last_status": %s}' \
		"${CONTROL_STATE_DIR:-/var/tmp}" "$(stat -f -c %T "${CONTROL_STATE_DIR:-/var/tmp}")" \
		"$CONTROL_SCALE" ${ls% *} ${ls#* } ${lsj% *} ${lsj#* } \
		${met% *} ${met#* } "${lines:-0}" "${hwm0:-null}" "${hwm1:-null}" "$ready" "$socks" "${last:-0}")")"
	log "control / dockmux: at $CONTROL_SCALE: ls ${ls% *} s, ls --json ${lsj% *} s, /metrics ${met% *} s ($lines series), daemon peak RSS $hwm0 -> $hwm1 KiB; restart listening after $ready s ($socks sockets, last: $last)"
}

log "mode $MODE, $NCPU CPUs, proxies with $PROXY_THREADS threads, results in $OUT"
# Which peers will run and which will not, before anything is measured (the
# report's Targets table says the same, scenario by scenario).
for t in $ALL_TARGETS; do
	case "$t" in direct|relay|dockmux) continue ;; esac
	if ! selected "$ONLY_TARGETS" "$t"; then
		log "peer $t: not selected (--targets)"
	elif [ -n "${UNAVAILABLE[$t]:-}" ]; then
		log "peer $t: SKIPPED: ${UNAVAILABLE[$t]}"
	else
		log "peer $t: runs ($(version_of "${t%%-*}"))"
	fi
done
for sc in $ALL_SCENARIOS; do
	selected "$ONLY_SCENARIOS" "$sc" || continue
	case "$sc" in
	lifecycle) run_lifecycle ;;
	density) run_density ;;
	scale) run_scale ;;
	control) run_control ;;
	*) run_traffic "$sc" ;;
	esac
done

stop_pid "$UP_PID"
UP_STATS=$(cat "$WORK/upstream.out")
[ -n "$UP_STATS" ] && emit upstream all "$UP_STATS"

"$BIN/dockmux-bench-report" "$RAW" "$OUT" || exit 1
# throughput.dat holds one block per traffic scenario run; the chart needs
# one measured figure at least.
NO_CHART=""
if ! awk '$1 ~ /^[0-9]+$/ && $3 + 0 > 0 { found = 1 } END { exit !found }' \
		"$OUT/throughput.dat" 2>/dev/null; then
	NO_CHART="no throughput figures in this run"
elif ! command -v gnuplot >/dev/null; then
	NO_CHART="gnuplot not installed (--install-peers, or apt-get install gnuplot-nox)"
elif ! (cd "$OUT" && gnuplot -c "$HERE/throughput.gp" throughput throughput.svg) 2> "$OUT/gnuplot.log" ||
		[ ! -s "$OUT/throughput.svg" ]; then
	NO_CHART="gnuplot failed: see gnuplot.log"
fi
[ -s "$OUT/gnuplot.log" ] || rm -f "$OUT/gnuplot.log"
if [ -n "$NO_CHART" ]; then
	rm -f "$OUT/throughput.svg"
	log "no chart: $NO_CHART"
	# results.md says why instead of linking a missing picture.
	"$BIN/dockmux-bench-report" "$RAW" "$OUT" "$NO_CHART" || exit 1
fi
log "done: $OUT/results.md, $OUT/results.json$( [ -f "$OUT/throughput.svg" ] && echo ", $OUT/throughput.svg")"
cat "$OUT/results.md"
