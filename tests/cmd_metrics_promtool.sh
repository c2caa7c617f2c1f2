#!/usr/bin/env bash
# tests/cmd_metrics_promtool.sh: validates rendered /metrics output with
# Prometheus' own parser and linter (`promtool check metrics`, Debian package
# prometheus). Builds nothing: it runs the metrics_sample program it is given.
# Usage: tests/cmd_metrics_promtool.sh path/to/metrics_sample
# Prints `ok - name` / `not ok - name` per check, then
# "metrics_promtool: N passed, M failed". Without promtool: a note, exit 0.
set -u

BIN=${1:?usage: $0 path/to/metrics_sample}
[ -x "$BIN" ] || { echo "not an executable: $BIN" >&2; exit 2; }
PASS=0
FAIL=0

if ! command -v promtool >/dev/null; then
	echo "# promtool not found (apt-get install --no-install-recommends prometheus): skipped"
	echo "0 passed, 0 failed"
	exit 0
fi

T=$(mktemp -d /tmp/dmx-promtool.XXXXXX)
trap 'rm -rf "$T"' EXIT

check() { # NAME MODE: promtool must accept it, with no lint finding either
	local name=$1 mode=$2 out
	if ! "$BIN" "$mode" >"$T/$mode.prom"; then
		echo "not ok - $name (metrics_sample $mode failed)"
		FAIL=$((FAIL + 1))
		return
	fi
	if out=$(promtool check metrics <"$T/$mode.prom" 2>&1) && [ -z "$out" ]; then
		echo "ok - $name"
		PASS=$((PASS + 1))
	else
		echo "not ok - $name"
		printf '%s\n' "$out" | sed 's/^/#   /'
		FAIL=$((FAIL + 1))
	fi
}

check "promtool accepts a snapshot with hostile keys" tricky
check "promtool accepts an empty snapshot" empty

# And the linter is not a rubber stamp: a broken exposition must fail.
printf '# TYPE x counter\nx{a="\\q"} 1\n' >"$T/bad.prom"
if promtool check metrics <"$T/bad.prom" >/dev/null 2>&1; then
	echo "not ok - promtool refuses a bad escape"
	FAIL=$((FAIL + 1))
else
	echo "ok - promtool refuses a bad escape"
	PASS=$((PASS + 1))
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
