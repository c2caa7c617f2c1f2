#!/usr/bin/env bash
# tests/run-all.sh: THE test command (`bash tests/run-all.sh`; CI runs it as
# root through .ci/run with CI=true).
#
#   1. install missing Debian packages (apt-get update only if something is)
#   2. build with meson + ninja in $BUILD_DIR (default build/, reused)
#   3. every Criterion test (meson test), counting Criterion's own synthesis
#   4. tests/cmd_cli.sh: the dockmux CLI and daemon against a stub upstream;
#      tests/cmd_lifecycle.sh: state file, restart, takeover, SIGTERM, SIGHUP;
#      tests/cmd_stall.sh: no metrics or control client can stall a spawn;
#      tests/cmd_crash.sh: kill -9 during a spawn/teardown storm, many rounds;
#      tests/cmd_metrics_promtool.sh: /metrics output through promtool;
#      tests/dist_check.sh: meson install layout, systemd unit, man pages;
#      tests/deb_check.sh: the Debian packages built, linted, installed, used,
#      purged
#   5. a private containerd + dockerd (tests/e2e/dockerd.sh), then
#      tests/e2e/docker_cli.sh: the real docker CLI through dockmux sockets;
#      then tests/e2e/podman_cli.sh, the same CLI through dockmux to a private
#      podman API service (tests/e2e/podman.sh); then demo/run.sh, README's
#      other command, as a user runs it
#   6. the Criterion tests again, built with ASan + UBSan in $ASAN_BUILD_DIR
#      (default build-asan/)
#   7. tests/fuzz/run.sh: every libFuzzer target for $FUZZ_SECONDS (default 60)
#   8. bindings/rust/run-tests.sh: the Rust binding's cargo tests, with
#      Debian's cargo and rustc (1.63), offline
# and prints a last line "N passed, M failed" totalling every check. Exits
# non-zero when anything failed or a suite could not run.
#
# Env: BUILD_DIR, ASAN_BUILD_DIR, DMX_E2E_DIR (dockerd state dir), DOCKER (the
# docker CLI for the end-to-end suite), FUZZ_SECONDS, DMX_SKIP_E2E=1 /
# DMX_SKIP_ASAN=1 / DMX_SKIP_FUZZ=1 to leave a suite out on purpose (refused
# when CI=true).
set -u
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$DMX_ROOT" || exit 1

BUILD_DIR=${BUILD_DIR:-build}
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
CI=${CI:-}
[ "$CI" = false ] || [ "$CI" = 0 ] && CI=
LOGS=$(mktemp -d /tmp/dmx-run-all.XXXXXX)
TOTAL_PASS=0
TOTAL_FAIL=0
SUMMARY=()
DOCKERD_STARTED=
PODMAN_DIR=
T0=$(date +%s)

heading() { printf '\n######## %s\n' "$*"; }
# tally SUITE PASSED FAILED [NOTE]
tally() {
	TOTAL_PASS=$((TOTAL_PASS + $2))
	TOTAL_FAIL=$((TOTAL_FAIL + $3))
	SUMMARY+=("$(printf '%-26s %4d passed, %3d failed%s' "$1" "$2" "$3" "${4:+  ($4)}")")
}
# could_not_run SUITE WHY: a suite that cannot run counts as one failure.
could_not_run() {
	echo "error: $1 could not run: $2" >&2
	tally "$1" 0 1 "could not run: $2"
}
skipped() { # SUITE VAR: an explicit opt-out, refused on CI
	if [ -n "$CI" ]; then
		could_not_run "$1" "$2=1 is not allowed when CI is set"
		return 1
	fi
	echo "SKIPPED $1 ($2=1)"
	SUMMARY+=("$(printf '%-26s skipped (%s=1)' "$1" "$2")")
	return 0
}

# The private dockerd's state dir: this run's own unless DMX_E2E_DIR is given
# (then it is kept, images included, for the next run).
if [ -z "${DMX_E2E_DIR:-}" ]; then
	export DMX_E2E_DIR=/tmp/dockmux-e2e-run.$$
	E2E_OWN_DIR=1
else
	E2E_OWN_DIR=
fi
stop_dockerd() {
	if [ -n "$E2E_OWN_DIR" ]; then
		bash tests/e2e/dockerd.sh purge
	else
		bash tests/e2e/dockerd.sh stop
	fi
	DOCKERD_STARTED=
}
cleanup() {
	[ -n "$DOCKERD_STARTED" ] && stop_dockerd
	[ -n "$PODMAN_DIR" ] && DMX_PODMAN_DIR=$PODMAN_DIR bash tests/e2e/podman.sh purge
	rm -rf "$LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# criterion_counts LABEL BUILD_DIR: read BUILD_DIR/meson-logs/testlog.json
# and print "PASSED FAILED" on the last line. Per test executable: Criterion's
# synthesis gives the counts (Failing includes crashes); no synthesis (crash,
# timeout) is one failure; a non-zero exit or a sanitizer report with no
# failing test is one more failure, except LeakSanitizer reports whose every
# frame is inside Criterion's own runner (a leak of libcriterion, not ours).
criterion_counts() {
	python3 - "$1" "$2/meson-logs/testlog.json" <<'EOF'
import json, re, sys

label, path = sys.argv[1], sys.argv[2]
SYN = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
RUNTIME = ("libcriterion.so", "libc.so", "ld-linux", "libnanomsg", "libboxfort", "libgit2")

def sanitizer_reports(text):
    """(real, benign) counts of sanitizer reports in text."""
    real = benign = 0
    real += len(re.findall(r"runtime error:", text))                      # UBSan
    real += len(re.findall(r"ERROR: AddressSanitizer", text))             # ASan
    for block in re.split(r"ERROR: LeakSanitizer", text)[1:]:
        block = block.split("SUMMARY:")[0]
        for leak in re.split(r"\n(?=(?:Direct|Indirect) leak of)", block):
            frames = re.findall(r"^\s*#(\d+) .*$", leak, re.M)
            lines = [l for l in leak.splitlines() if re.match(r"\s*#\d+ ", l)]
            if not lines:
                continue
            ours = [l for l in lines[1:] if not any(m in l for m in RUNTIME)]
            if ours:
                real += 1
            else:
                benign += 1
    return real, benign

passed = failed = 0
try:
    tests = [json.loads(l) for l in open(path) if l.strip()]
except OSError as e:
    print(f"{label}: cannot read {path}: {e}")
    tests = []
if not tests:
    print(f"{label}: no test results")
    failed += 1
for t in tests:
    out = ANSI.sub("", (t.get("stdout") or "") + "\n" + (t.get("stderr") or ""))
    name, result, rc = t["name"], t.get("result"), t.get("returncode")
    m = SYN.findall(out)
    notes = []
    if m:
        tested, p, f, c = map(int, m[-1])
        passed += p
        failed += f
        if f:
            notes.append(f"{f} failing ({c} crashing)")
            for l in out.splitlines():
                if l.startswith("[FAIL]") or "[----]" in l and ("Assertion" in l or "CRASH" in l or "crash" in l or "Timeout" in l or "signal" in l):
                    notes.append("  " + l.strip()[:200])
    else:
        f = 0
        failed += 1
        notes.append(f"no Criterion synthesis (crashed or timed out: {result}, exit {rc})")
    real, benign = sanitizer_reports(out)
    if m and f == 0 and (real or (result != "OK" and not benign)):
        failed += 1
        notes.append(f"{result}, exit {rc}, {real} sanitizer report(s) with every test passing")
        for l in out.splitlines():
            if "Sanitizer" in l or "runtime error" in l or "crashed during" in l:
                notes.append("  " + l.strip()[:200])
                if len(notes) > 12:
                    break
    if not notes:
        status = "ok"
        if benign:
            status += f" (ignored {benign} LeakSanitizer report(s) inside libcriterion's own runner)"
        print(f"{label}: {name}: {status}")
    else:
        print(f"{label}: {name}: FAILED" + "".join("\n    " + n for n in notes))
print(passed, failed)
EOF
}

# run_criterion LABEL BUILD_DIR
run_criterion() {
	local label=$1 dir=$2 out counts
	heading "$label: Criterion tests ($dir)"
	rm -f "$dir/meson-logs/testlog.json"
	timeout 3600 meson test -C "$dir" --no-rebuild --print-errorlogs >"$LOGS/$label.log" 2>&1
	grep -E '^ *[0-9]+/[0-9]+ ' "$LOGS/$label.log" | awk '!seen[$0]++'
	if ! out=$(criterion_counts "$label" "$dir"); then
		could_not_run "$label" "cannot read the meson test log"
		tail -20 "$LOGS/$label.log"
		return
	fi
	sed '$d' <<<"$out" | grep -v ': ok$'
	counts=$(tail -1 <<<"$out")
	tally "$label" "${counts% *}" "${counts#* }"
	[ "${counts#* }" = 0 ] || echo "(full output: $dir/meson-logs/testlog.txt)"
}

# run_tap_suite LABEL TIMEOUT CMD...: a script printing ok/not ok lines and a
# last "N passed, M failed"; streamed live, then counted.
run_tap_suite() {
	local label=$1 limit=$2 rc line p f
	shift 2
	timeout -k 10 "$limit" "$@" 2>&1 | tee "$LOGS/$label.log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGS/$label.log" | tail -1)
	if [ -z "$line" ]; then
		could_not_run "$label" "no 'N passed, M failed' line (exit $rc$([ "$rc" = 124 ] && echo ', timed out'))"
		return
	fi
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		tally "$label" "$p" 1 "exit $rc with no failing check"
	else
		tally "$label" "$p" "$f"
	fi
}

# ---------------------------------------------------------------- 1. packages
heading "packages"
if ! dmx_need_packages; then
	could_not_run "packages" "apt-get install failed"
fi
echo "dockerd $(dockerd --version 2>/dev/null | sed 's/Docker version //'), containerd" \
	"$(containerd --version 2>/dev/null | awk '{print $3}'), docker CLI" \
	"$(${DOCKER:-docker} --version 2>/dev/null | sed 's/Docker version //'), kernel $(uname -r)"

# ---------------------------------------------------------------- 2. build
heading "build ($BUILD_DIR)"
BUILT=
if dmx_build "$BUILD_DIR"; then
	BUILT=1
	echo "built $BUILD_DIR"
else
	could_not_run "build" "meson/ninja failed in $BUILD_DIR"
fi
DOCKMUX_BIN=$DMX_ROOT/$BUILD_DIR/cmd/dockmux
case $BUILD_DIR in /*) DOCKMUX_BIN=$BUILD_DIR/cmd/dockmux ;; esac

if [ -n "$BUILT" ]; then
	# ------------------------------------------------------------ 3. unit + integration
	run_criterion criterion "$BUILD_DIR"

	# ------------------------------------------------------------ 4. CLI
	heading "cli: tests/cmd_cli.sh"
	run_tap_suite cli 600 bash tests/cmd_cli.sh "$DOCKMUX_BIN"
	heading "promtool: tests/cmd_metrics_promtool.sh"
	run_tap_suite promtool 120 bash tests/cmd_metrics_promtool.sh \
		"${DOCKMUX_BIN%/cmd/dockmux}/tests/metrics_sample"
	heading "dist: tests/dist_check.sh (install layout, unit, man pages)"
	run_tap_suite dist 300 bash tests/dist_check.sh "$BUILD_DIR"
	heading "deb: tests/deb_check.sh (Debian packages: build, lintian, install, purge)"
	if [ "$(id -u)" = 0 ]; then
		run_tap_suite deb 900 bash tests/deb_check.sh
	else
		could_not_run deb "it installs and purges packages: it needs root"
	fi
	heading "lifecycle: tests/cmd_lifecycle.sh"
	run_tap_suite lifecycle 300 bash tests/cmd_lifecycle.sh "$DOCKMUX_BIN" \
		"${DOCKMUX_BIN%/cmd/dockmux}/bench/dockmux-upstream"
	heading "stall: tests/cmd_stall.sh"
	run_tap_suite stall 300 bash tests/cmd_stall.sh "$DOCKMUX_BIN" \
		"${DOCKMUX_BIN%/cmd/dockmux}/bench/dockmux-upstream"
	heading "crash: tests/cmd_crash.sh"
	run_tap_suite crash 600 bash tests/cmd_crash.sh "$DOCKMUX_BIN" \
		"${DOCKMUX_BIN%/cmd/dockmux}/bench/dockmux-upstream" \
		"${DOCKMUX_BIN%/cmd/dockmux}/tests/ctl_storm"
else
	could_not_run criterion "no build"
	could_not_run cli "no build"
	could_not_run lifecycle "no build"
	could_not_run stall "no build"
	could_not_run crash "no build"
	could_not_run promtool "no build"
	could_not_run dist "no build"
	could_not_run deb "no build"
fi

# ---------------------------------------------------------------- 5. end to end
# may_run_daemon_suite SUITE: 0 when SUITE, which starts a private daemon,
# is to run; else it is tallied (skipped on purpose, or could not run).
may_run_daemon_suite() {
	if [ -n "${DMX_SKIP_E2E:-}" ] && [ "$DMX_SKIP_E2E" != 0 ]; then
		skipped "$1" DMX_SKIP_E2E
	elif [ -z "$BUILT" ]; then
		could_not_run "$1" "no build"
	elif [ "$(id -u)" != 0 ]; then
		could_not_run "$1" "it starts a private daemon: it needs root (or set DMX_SKIP_E2E=1)"
	else
		return 0
	fi
	return 1
}

heading "e2e: the docker CLI through dockmux to a private dockerd"
if may_run_daemon_suite e2e; then
	DOCKERD_STARTED=1
	if bash tests/e2e/dockerd.sh start >/dev/null; then
		DOCKMUX=$DOCKMUX_BIN run_tap_suite e2e 1800 bash tests/e2e/docker_cli.sh dockmux
	else
		could_not_run e2e "the private dockerd did not start"
	fi
	stop_dockerd
fi

# ---------------------------------------------------------------- 5a. podman
# The same docker CLI through dockmux to a second real upstream: a private
# podman 4.3 API service (tests/e2e/podman.sh: its own state dir, network and
# mount namespaces), created and purged here.
heading "podman: the docker CLI through dockmux to a private podman service"
if may_run_daemon_suite podman; then
	PODMAN_DIR=$(mktemp -d /tmp/dmx-podman-run.XXXXXX)
	if DMX_PODMAN_DIR=$PODMAN_DIR bash tests/e2e/podman.sh start >/dev/null; then
		DMX_PODMAN_DIR=$PODMAN_DIR DOCKMUX=$DOCKMUX_BIN run_tap_suite podman 900 \
			bash tests/e2e/podman_cli.sh dockmux
	else
		could_not_run podman "the private podman service did not start"
	fi
	DMX_PODMAN_DIR=$PODMAN_DIR bash tests/e2e/podman.sh purge
	PODMAN_DIR=
fi

# ---------------------------------------------------------------- 5b. the demo
# README's first command, exactly as a user runs it (its own dockerd state dir,
# created and purged by the demo): one check, its exit status.
heading "demo: bash demo/run.sh (README's main job)"
if may_run_daemon_suite demo; then
	timeout -k 10 900 env -u DMX_E2E_DIR BUILD_DIR="$BUILD_DIR" bash demo/run.sh \
		>"$LOGS/demo.log" 2>&1
	rc=$?
	tail -3 "$LOGS/demo.log"
	if [ $rc -eq 0 ]; then
		tally demo 1 0
	else
		tail -40 "$LOGS/demo.log"
		tally demo 0 1 "exit $rc"
	fi
fi

# ---------------------------------------------------------------- 6. sanitizers
heading "asan: ASan + UBSan build ($ASAN_BUILD_DIR)"
if [ -n "${DMX_SKIP_ASAN:-}" ] && [ "$DMX_SKIP_ASAN" != 0 ]; then
	skipped asan DMX_SKIP_ASAN
elif dmx_build "$ASAN_BUILD_DIR" -Db_sanitize=address,undefined -Db_lundef=false; then
	echo "built $ASAN_BUILD_DIR"
	run_criterion asan "$ASAN_BUILD_DIR"
else
	could_not_run asan "meson/ninja failed in $ASAN_BUILD_DIR"
fi

# ---------------------------------------------------------------- 7. fuzz
heading "fuzz: libFuzzer targets, ${FUZZ_SECONDS:-60} s each"
if [ -n "${DMX_SKIP_FUZZ:-}" ] && [ "$DMX_SKIP_FUZZ" != 0 ]; then
	skipped fuzz DMX_SKIP_FUZZ
elif ! command -v clang >/dev/null; then
	could_not_run fuzz "clang is not installed"
else
	run_tap_suite fuzz 3600 bash tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"
fi

# ---------------------------------------------------------------- 8. rust
# Debian's cargo and rustc (tests/lib.sh's packages) build the binding
# offline; run-tests.sh uses /usr/bin's toolchain, whatever rustup left.
heading "rust: the Rust binding's cargo tests"
if [ -z "$BUILT" ]; then
	could_not_run rust "no build"
else
	run_tap_suite rust 1800 bash bindings/rust/run-tests.sh "$BUILD_DIR"
fi

# ---------------------------------------------------------------- total
heading "summary ($(($(date +%s) - T0)) s)"
printf '%s\n' "${SUMMARY[@]}"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ]
