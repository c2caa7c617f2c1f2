#!/usr/bin/env bash
# tests/run-all.sh: THE test command (README, .ci/run). As root on Debian
# bookworm: installs what is missing, builds, and runs every suite: the
# Criterion unit and integration tests (plain and under ASan/UBSan), the CLI
# test, the end-to-end tests with a real private dockerd and the real docker
# CLI, the Rust binding's cargo tests, and a bounded fuzz run. Ends with
# "N passed, M failed" over everything; exits non-zero if anything failed or a
# suite could not run. Env: BUILD_DIR (default build), FUZZ_SECONDS (default 60).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
BUILD_DIR=${BUILD_DIR:-build}
ASAN_DIR=${BUILD_DIR}-asan
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
export DMX_E2E_DIR=${DMX_E2E_DIR:-/tmp/dockmux-e2e-$$}
total_pass=0 total_fail=0

add() { total_pass=$((total_pass + $1)); total_fail=$((total_fail + $2)); }
# suite NAME CMD...: run a suite that ends with "N passed, M failed".
suite() {
	local name=$1 log line p f
	shift
	log=$(mktemp)
	dmx_log "suite: $name"
	"$@" 2>&1 | tee "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$line" ]; then
		echo "not ok - suite $name printed no summary (could not run)"
		add 0 1
	else
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed*}
		add "$p" "$f"
	fi
	rm -f "$log"
}
# criterion DIR LABEL: every Criterion executable meson registered.
criterion() {
	local dir=$1 label=$2 exe out syn t p f c
	for exe in "$dir"/tests/test_*; do
		[ -f "$exe" ] && [ -x "$exe" ] || continue
		out=$(timeout 900 "$exe" 2>&1)
		syn=$(grep 'Synthesis:' <<<"$out" | tail -1)
		if [ -z "$syn" ]; then
			echo "not ok - $label $(basename "$exe") crashed or printed no synthesis"
			tail -20 <<<"$out"
			add 0 1
			continue
		fi
		t=$(sed -E 's/.*Tested: ([0-9]+).*/\1/' <<<"$syn")
		p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$syn")
		f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$syn")
		c=$(sed -E 's/.*Crashing: ([0-9]+).*/\1/' <<<"$syn")
		echo "$label $(basename "$exe"): $p/$t passed"
		[ "$f" -gt 0 ] || [ "$c" -gt 0 ] && grep -E '^\[(FAIL|----)\]' <<<"$out" | head -30
		add "$p" $((f + c))
	done
}

dmx_need_packages || { echo "0 passed, 1 failed"; exit 1; }
dmx_log "build ($BUILD_DIR)"
dmx_build "$BUILD_DIR" || { echo "0 passed, 1 failed"; exit 1; }

dmx_log "Criterion tests"
criterion "$BUILD_DIR" unit

dmx_log "Criterion tests under ASan/UBSan ($ASAN_DIR)"
if dmx_build "$ASAN_DIR" -Db_sanitize=address,undefined -Db_lundef=false; then
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		criterion "$ASAN_DIR" asan
else
	echo "not ok - ASan build"
	add 0 1
fi

suite cli bash tests/cmd_cli.sh "$BUILD_DIR/cmd/dockmux"

dmx_log "private dockerd"
trap 'bash tests/e2e/dockerd.sh stop >/dev/null 2>&1' EXIT
if bash tests/e2e/dockerd.sh start; then
	DOCKMUX=$BUILD_DIR/cmd/dockmux suite e2e bash tests/e2e/docker_cli.sh
else
	echo "not ok - e2e: the private dockerd did not start"
	add 0 1
fi
bash tests/e2e/dockerd.sh stop >/dev/null 2>&1

if command -v cargo >/dev/null; then
	suite rust bash bindings/rust/run-tests.sh "$BUILD_DIR"
else
	echo "not ok - rust: cargo not installed"
	add 0 1
fi

suite fuzz bash tests/fuzz/run.sh "$FUZZ_SECONDS"

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
