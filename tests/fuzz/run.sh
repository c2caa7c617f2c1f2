#!/usr/bin/env bash
# tests/fuzz/run.sh: build the libFuzzer targets with clang + ASan/UBSan and run
# each for a bounded time on a copy of its seed corpus. Prints one line per
# target ("ok - fuzz NAME (N runs)" / "not ok - ...") and "N passed, M failed".
# Targets: every tests/fuzz/*_fuzz.c (http, resp and policy of core/; control
# and journal of cmd/: the control protocol and the state file); seeds from
# tests/fuzz/corpus-NAME when it exists, else tests/fuzz/corpus.
# Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] (default 60). Env FUZZ_BUILD_DIR.
set -u
cd "$(dirname "$0")/../.."
secs=${1:-60}
bdir=${FUZZ_BUILD_DIR:-build-fuzz}
pass=0 fail=0
if [ ! -f "$bdir/build.ninja" ]; then
	CC=clang meson setup "$bdir" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false >"$bdir.setup.log" 2>&1 ||
		{ cat "$bdir.setup.log"; echo "0 passed, 1 failed"; exit 1; }
fi
for src in tests/fuzz/*_fuzz.c; do
	name=$(basename "$src" .c)
	exe=$bdir/tests/fuzz/$name
	if ! ninja -C "$bdir" "tests/fuzz/$name" >/dev/null; then
		echo "not ok - fuzz $name (build)"
		fail=$((fail + 1))
		continue
	fi
	seeds=tests/fuzz/corpus
	[ -d "tests/fuzz/corpus-${name%_fuzz}" ] && seeds="tests/fuzz/corpus-${name%_fuzz}"
	work=$(mktemp -d)
	cp -r "$seeds"/. "$work"/
	log=$(mktemp)
	if UBSAN_OPTIONS=halt_on_error=1 "$exe" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 "$work" >"$log" 2>&1; then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
		echo "ok - fuzz $name (${runs:-?} runs in ${secs}s)"
		pass=$((pass + 1))
	else
		echo "not ok - fuzz $name"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
		fail=$((fail + 1))
	fi
	rm -rf "$work" "$log"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
