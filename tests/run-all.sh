#!/usr/bin/env bash
# The wbtrace test suite (what `./wbtrace test` and CI run):
#   1. host unit tests: lab scripts, analysis (pytest), loader (C)
#   2. the lab build (cached outside the clone)
#   3. the kernel series check (each patch: build +/- compression, W=1, checkpatch)
#   4. guest tests, one boot per f2fs variant: tests/guest/*.sh
# Prints one "N passed, M failed" line at the end; exits non-zero on any failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
PY=/usr/bin/python3
out=$top/tests/out
mkdir -p "$out"
passed=0 failed=0 skipped=0
failures=() # what failed, repeated at the end: a CI log often shows only its tail
t_start=$(date +%s)

stamp() { local s=$(( $(date +%s) - t_start )); printf '[test %dm%02ds] %s\n' $((s / 60)) $((s % 60)) "$*"; }
count() { passed=$((passed + $1)); failed=$((failed + $2)); }

# run_suite NAME LOG CMD...: run, keep the log, count by the suite's own summary.
run_suite() {
	local name=$1 log=$out/$2; shift 2
	stamp "$name"
	local rc=0
	"$@" >"$log" 2>&1 || rc=$?
	local p f
	# pytest: "N passed", "M failed"; C/TAP runners: "N passed, M failed" or ok/not ok lines.
	if grep -qE '^(not )?ok ' "$log"; then
		p=$(grep -cE '^ok ' "$log" || true)
		f=$(grep -cE '^not ok ' "$log" || true)
	elif grep -qE '^[a-z-]+: (PASS|FAIL) ' "$log"; then
		p=$(grep -cE '^[a-z-]+: PASS ' "$log" || true)
		f=$(grep -cE '^[a-z-]+: FAIL ' "$log" || true)
	else
		p=$(grep -oE '[0-9]+ passed' "$log" | tail -1 | grep -oE '[0-9]+' || true)
		f=$(grep -oE '[0-9]+ failed' "$log" | tail -1 | grep -oE '[0-9]+' || true)
	fi
	p=${p:-0} f=${f:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	count "$p" "$f"
	if [ "$rc" = 0 ]; then
		stamp "$name: ok ($p passed)"
	else
		stamp "$name: FAILED (exit $rc, $f failed) — last lines of $log:"
		failures+=("$name (exit $rc; log: ${log#"$top"/})")
		# The failed checks too: CI keeps only the tail of this output, and the
		# log goes with the clone.
		while IFS= read -r line; do failures+=("  $line"); done < <(grep -E '^(not ok | *FAIL: )' "$log" | head -30 || true)
		tail -40 "$log" | sed 's/^/    /'
	fi
	return 0
}

skip() { stamp "$1: skipped ($2)"; skipped=$((skipped + 1)); }

# 1. Host unit tests.
run_suite "lab scripts" lab-unit.log bash tests/lab/run.sh
if [ -d tests/analysis ]; then
	run_suite "analysis (pytest)" analysis.log "$PY" -m pytest -q -p no:cacheprovider tests/analysis
else
	skip "analysis" "tests/analysis not present"
fi
if [ -d tests/workloads ]; then
	run_suite "workloads (pytest)" workloads.log "$PY" -m pytest -q -p no:cacheprovider tests/workloads
else
	skip "workloads" "tests/workloads not present"
fi
if [ -f loader/Makefile ]; then
	run_suite "loader (C unit tests)" loader.log make -C loader test
else
	skip "loader" "loader/Makefile not present"
fi

# 2. The lab (cold: ~20 min on 2 cores; cached afterwards).
stamp "lab build (progress in tests/out/lab-build.log)"
if ! kernel-patch/lab/build.sh 2>&1 | tee "$out/lab-build.log" | grep -E 'building|done in|cached|ready|error' | sed 's/^/    /'; then
	count 0 1
	stamp "lab build FAILED: guest tests cannot run"
	echo "failed: lab build (log: tests/out/lab-build.log)"
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 1
fi
count 1 0

# The debug kernel builds in the background at the lowest CPU priority while
# the guest tests run (they leave CPU idle while they sleep, sync and boot);
# cached, this returns at once.  Step 5 waits for it.
setsid nice -n 19 kernel-patch/lab/build.sh --debug >"$out/lab-build-debug.log" 2>&1 &
debug_build=$!
# Its own process group, so that an interrupted test run stops the whole build.
trap 'kill -- -"$debug_build" 2>/dev/null' EXIT
trap 'exit 130' INT TERM

run_suite "guest runner (real boots)" vm-guest.log bash tests/lab/vm-guest.sh

# 3. The kernel series.
if [ -x kernel-patch/lab/check-series.sh ]; then
	run_suite "kernel series check" series.log kernel-patch/lab/check-series.sh
else
	skip "kernel series check" "kernel-patch/lab/check-series.sh not present"
fi

# 4. Guest tests, one boot per variant.
guest_tests=()
for t in tests/guest/*.sh; do
	case "$t" in */lib.sh|*/run-inside.sh) ;; *) guest_tests+=("$t") ;; esac
done
for variant in stock patched; do
	run_suite "guest tests [$variant] (${#guest_tests[@]} scripts)" "guest-$variant.log" \
		kernel-patch/lab/vm.sh run --variant "$variant" --disk-size 4G --timeout 2400 \
		--log-dir "$out/guest-$variant" -- tests/guest/run-inside.sh "${guest_tests[@]}"
	grep -E '^(ok|not ok) ' "$out/guest-$variant.log" | sed 's/^/    /'
done

# Whole `wbtrace run` invocations that need their own boots (reps, Ctrl-C).
if [ -x tests/workloads/run-guest.sh ]; then
	run_suite "workload runs (own guest boots)" wl-run-guest.log tests/workloads/run-guest.sh
fi

# 5. The patched f2fs once more on the verification kernel (lockdep, atomic
#    sleep, KASAN): any splat fails the run.
stamp "debug kernel build (started in the background after the lab build; cold: ~15 min of CPU)"
if wait "$debug_build"; then
	stamp "debug kernel ready"
	count 1 0
	# The debug kernel is several times slower under TCG: run the tests that
	# exercise the kernel series (lab-*, wb-*), not the whole suite again.
	debug_tests=()
	for t in "${guest_tests[@]}"; do
		case "$t" in */lab-*|*/wb-*) debug_tests+=("$t") ;; esac
	done
	run_suite "guest tests [patched, debug kernel] (${#debug_tests[@]} scripts)" guest-patched-debug.log \
		kernel-patch/lab/vm.sh run --debug --variant patched --disk-size 4G --timeout 3600 \
		--log-dir "$out/guest-patched-debug" -- tests/guest/run-inside.sh "${debug_tests[@]}"
	grep -E '^(ok|not ok) ' "$out/guest-patched-debug.log" | sed 's/^/    /'
else
	count 0 1
	stamp "debug kernel build FAILED: see $out/lab-build-debug.log"
	failures+=("debug kernel build (log: tests/out/lab-build-debug.log)")
fi

stamp "done"
if [ "${#failures[@]}" -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
