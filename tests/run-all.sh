#!/usr/bin/env bash
# The wbtrace test suite (what `./wbtrace test` and CI run):
#   1. host unit tests: lab scripts, analysis (pytest), workloads (pytest), the
#      guest tests' Python (pytest, tests/guest_py), loader (C)
#   2. the lab build (cached outside the clone)
#   3. the kernel series check (each patch: build +/- compression, W=1, checkpatch)
#   4. the fstests build (cached; fsx for the guest tests), guest tests, one boot
#      per f2fs variant, the two side by side: tests/guest/*.sh; fstests' CI
#      subset on both variants; workload runs
#   5. the kernel-series guest tests again on the debug kernel (beside the
#      fstests subset and the workload runs when the debug kernel is cached)
# Reports like kselftest (KTAP): one "ok N NAME (checks, time)" / "not ok N ..."
# line per suite as it finishes; a guest suite's scripts are its subtests,
# printed indented as each one finishes, with its time.  A skipped check is
# counted with its reason.  A missing suite, tool or prerequisite is a failure,
# not a skip: only a pytest skip whose reason starts with "n/a:" (a property of
# this machine, e.g. "the host kernel has f2fs") is a skip, and in CI (CI=true)
# even that needs the reason to be listed.  Ends with the failures and one
# "N passed, M failed, K skipped" line; exits non-zero on any failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
PY=/usr/bin/python3
out=$top/tests/out
mkdir -p "$out"
passed=0 failed=0 skipped=0 suite_no=0
failures=() # what failed, repeated at the end: a CI log often shows only its tail
skips=()    # why something was skipped, repeated at the end
t_start=$(date +%s)

elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
note() { printf '# [%s] %s\n' "$(elapsed "$t_start")" "$*"; }
count() { passed=$((passed + $1)); failed=$((failed + $2)); }
# result ok|"not ok" NAME DETAIL: the suite's KTAP line.
result() { suite_no=$((suite_no + 1)); printf '%s %d %s (%s)\n' "$1" "$suite_no" "$2" "$3"; }

# run_suite NAME LOG CMD...: run, keep the log, count by the suite's own summary.
# Lines "ok N ..." / "not ok N ..." of the suite are relayed as they appear.
run_suite() {
	local name=$1 log=$out/$2; shift 2
	note "$name: running (log: ${log#"$top"/})"
	local rc=0 t0 relay tail_pid=$out/.relay.pid
	t0=$(date +%s)
	: >"$log"
	# The relay follows the log while the suite runs in the foreground (a
	# background suite would start with SIGINT ignored).
	# shellcheck disable=SC2016 # $$ and $1 belong to the inner shell
	sh -c 'echo $$ >"$1"; exec tail -n +1 -f "$2" 2>/dev/null' sh "$tail_pid" "$log" |
		grep --line-buffered -E '^(not )?ok [0-9]+ .*\[(stock|patched)\]' | sed -u 's/^/    /' &
	relay=$!
	"$@" >"$log" 2>&1 || rc=$?
	sleep 1 # tail's last lines
	kill "$(cat "$tail_pid" 2>/dev/null)" 2>/dev/null
	wait "$relay" 2>/dev/null
	rm -f "$tail_pid"
	account_suite "$name" "$log" "$rc" "$t0"
}

# account_suite NAME LOG RC T0: count a finished suite by its own summary and
# print its KTAP line (and, when it failed, what failed).
account_suite() {
	local name=$1 log=$2 rc=$3 t0=$4 p f
	# pytest: "N passed", "M failed", "K skipped"; C/TAP runners: "N passed, M failed" or ok/not ok lines.
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
	# pytest -rs: "SKIPPED [n] FILE:LINE: reason".  Only "n/a:" reasons are skips;
	# anything else is a missing prerequisite, which fails.
	local line reason k bad_skips=0
	while IFS= read -r line; do
		k=$(sed -E 's/^SKIPPED \[([0-9]+)\].*/\1/' <<<"$line")
		reason=${line#*: } # after "SKIPPED [n] FILE:LINE: "
		if [[ "$reason" == n/a:* ]]; then
			skipped=$((skipped + k)); skips+=("$name: $k x ${reason#n/a: }")
		else
			bad_skips=$((bad_skips + k)); failures+=("  $name: skipped for a missing prerequisite: $reason")
		fi
	done < <(grep -E '^SKIPPED \[[0-9]+\]' "$log" || true)
	f=$((f + bad_skips))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	count "$p" "$f"
	if [ "$rc" = 0 ] && [ "$bad_skips" = 0 ]; then
		result ok "$name" "$p checks, $(elapsed "$t0")"
	else
		result "not ok" "$name" "exit $rc, $f of $((p + f)) checks failed, $(elapsed "$t0")"
		failures+=("$name (exit $rc; log: ${log#"$top"/})")
		# The failed checks too, and vm.sh's one-line reason when a guest died
		# (the panic): CI keeps only the tail of this output, and the log goes
		# with the clone.
		while IFS= read -r line; do failures+=("  $line"); done < <(grep -E '^(not ok | *FAIL:? |vm: error: )' "$log" | head -30 || true)
		tail -40 "$log" | sed 's/^/    # /'
	fi
	return 0
}

# A suite can also run in the background, beside the one in the foreground:
# start_suite NAME LOG CMD... starts it in its own process group (stopped with
# this run), finish_suite NAME LOG waits for it, relays its subtests' lines and
# counts it.  With SIGINT ignored in a background job, Ctrl-C reaches it as the
# EXIT trap's SIGTERM, which vm.sh handles the same way.
declare -A bg_pid=() bg_t0=()
start_suite() {
	local name=$1 log=$out/$2; shift 2
	note "$name: running in the background (log: ${log#"$top"/})"
	: >"$log"
	rm -f "$log.rc"
	# shellcheck disable=SC2016 # $0 and $@ belong to the inner shell
	setsid bash -c '"$@" >"$0" 2>&1; echo $? >"$0.rc"' "$log" "$@" &
	bg_pid[$name]=$! bg_t0[$name]=$(date +%s)
}
finish_suite() {
	local name=$1 log=$out/$2 rc
	wait "${bg_pid[$name]}" 2>/dev/null
	rc=$(cat "$log.rc" 2>/dev/null || echo 1)
	rm -f "$log.rc"
	unset "bg_pid[$name]"
	grep -E '^(not )?ok [0-9]+ .*\[(stock|patched)\]' "$log" | sed 's/^/    /'
	account_suite "$name" "$log" "$rc" "${bg_t0[$name]}"
}
stop_background() { # and the relay of an interrupted foreground suite
	local pid
	for pid in "${bg_pid[@]}"; do kill -- -"$pid" 2>/dev/null; done
	kill "$(cat "$out/.relay.pid" 2>/dev/null)" 2>/dev/null
}

# A suite that should be here and is not: a failure (the repo ships every suite).
missing() { count 0 1; result "not ok" "$1" "missing: $2"; failures+=("$1: missing ($2)"); }

echo "KTAP version 1"
# 1. Host unit tests.
run_suite "lab scripts" lab-unit.log bash tests/lab/run.sh
for d in analysis workloads guest_py fstests; do
	if [ -d "tests/$d" ]; then
		run_suite "$d (pytest)" "$d.log" "$PY" -m pytest -q -rs -p no:cacheprovider "tests/$d"
	else
		missing "$d (pytest)" "tests/$d"
	fi
done
if [ -f loader/Makefile ]; then
	run_suite "loader (C unit tests)" loader.log make -C loader test
else
	missing "loader (C unit tests)" "loader/Makefile"
fi

# 2. The lab (cold: ~15 min on 2 cores; cached afterwards).
note "lab build (progress in tests/out/lab-build.log)"
t_lab=$(date +%s)
if ! kernel-patch/lab/build.sh 2>&1 | tee "$out/lab-build.log" | grep -E 'building|done in|cached|ready|error' | sed 's/^/    # /'; then
	count 0 1
	result "not ok" "lab build" "$(elapsed "$t_lab"); guest tests cannot run"
	echo "failed: lab build (log: tests/out/lab-build.log)"
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 1
fi
count 1 0
result ok "lab build" "$(elapsed "$t_lab")"

# The debug kernel builds in the background at the lowest CPU priority while
# the guest tests run (they leave CPU idle while they sleep, sync and boot);
# cached, this returns at once.  Step 5 waits for it.
setsid nice -n 19 kernel-patch/lab/build.sh --debug >"$out/lab-build-debug.log" 2>&1 &
debug_build=$!
# Its own process group, so that an interrupted test run stops the whole build.
trap 'kill -- -"$debug_build" 2>/dev/null; stop_background' EXIT
trap 'exit 130' INT TERM

run_suite "guest runner (real boots)" vm-guest.log bash tests/lab/vm-guest.sh

# 3. The kernel series.
if [ -x kernel-patch/lab/check-series.sh ]; then
	run_suite "kernel series check" series.log kernel-patch/lab/check-series.sh
else
	missing "kernel series check" "kernel-patch/lab/check-series.sh"
fi

# 4. Guest tests, one boot per variant.
# fstests built (cached: at once), for its fsx: lf-large-folio-write runs it.
# The guest does not inherit this environment, so its path goes on the guest
# command line; when the build fails the guest tests run all the same, with
# LF_FSX empty, and lf-large-folio-write fails for the missing fsx.
fstests_build() {
	local tree rc=0
	tree=$(env PYTHONPATH="$top/workloads" PYTHONDONTWRITEBYTECODE=1 "$PY" -m fstests.build) || rc=$?
	if [ "$rc" != 0 ]; then
		echo "fstests-build: FAIL (python3 -m fstests.build exited $rc)"
		return 1
	fi
	if [ -x "$tree/ltp/fsx" ]; then
		echo "fstests-build: PASS $tree/ltp/fsx"
	else
		echo "fstests-build: FAIL no executable $tree/ltp/fsx"
		return 1
	fi
}
run_suite "fstests build (fsx for the guest tests)" fstests-build.log fstests_build
lf_fsx=$(sed -n 's/^fstests-build: PASS //p' "$out/fstests-build.log" | tail -n 1)
guest_tests=()
for t in tests/guest/*.sh; do
	case "$t" in
	*/lib.sh|*/wl-lib.sh|*/run-inside.sh) ;;
	*) guest_tests+=("$t") ;;
	esac
done
# 5. The patched f2fs once more on the verification kernel (lockdep, atomic
#    sleep, KASAN): any splat fails the run.  debug_step run_suite|start_suite:
#    wait for the debug kernel, then run its suite (in the background with
#    start_suite; debug_bg then names it).
debug_bg=""
debug_step() {
	local runner=$1 name t
	note "debug kernel build (started in the background after the lab build; cold: ~15 min of CPU)"
	t_dbg=$(date +%s)
	if wait "$debug_build"; then
		result ok "debug kernel build" "waited $(elapsed "$t_dbg")"
		count 1 0
		# The debug kernel is several times slower under TCG: run the tests that
		# exercise the kernel series (lab-*, wb-*, and lf-*: issue 16 wants the
		# large-folio tests on it without a splat; their switch-on half only,
		# which saves about 6 min), not the whole suite again.
		debug_tests=()
		for t in "${guest_tests[@]}"; do
			case "$t" in */lab-*|*/wb-*|*/lf-*) debug_tests+=("$t") ;; esac
		done
		name="guest tests [patched, debug kernel] (${#debug_tests[@]} scripts)"
		"$runner" "$name" guest-patched-debug.log \
			kernel-patch/lab/vm.sh run --debug --variant patched --disk-size 4G --timeout 3600 \
			--log-dir "$out/guest-patched-debug" -- env LF_FSX="$lf_fsx" LF_HALVES=on tests/guest/run-inside.sh "${debug_tests[@]}"
		[ "$runner" = start_suite ] && debug_bg=$name
	else
		count 0 1
		result "not ok" "debug kernel build" "see tests/out/lab-build-debug.log"
		failures+=("debug kernel build (log: tests/out/lab-build-debug.log)")
	fi
	return 0
}
# The two variants side by side: a guest's vCPUs take turns on one host thread
# (vm.sh), so two guests keep the host's two cores busy.
guest_cmd() { # guest_cmd VARIANT: cmd=(vm.sh's command line for the variant's suite)
	cmd=(kernel-patch/lab/vm.sh run --variant "$1" --disk-size 4G --timeout 2400
		--log-dir "$out/guest-$1" -- env LF_FSX="$lf_fsx" tests/guest/run-inside.sh "${guest_tests[@]}")
}
guest_cmd stock
start_suite "guest tests [stock] (${#guest_tests[@]} scripts)" guest-stock.log "${cmd[@]}"
guest_cmd patched
run_suite "guest tests [patched] (${#guest_tests[@]} scripts)" guest-patched.log "${cmd[@]}"
finish_suite "guest tests [stock] (${#guest_tests[@]} scripts)" guest-stock.log
# With the debug kernel already built (a warm cache), its suite (step 5) runs
# beside the next two; otherwise after them, the build having the CPU meanwhile.
kill -0 "$debug_build" 2>/dev/null || debug_step start_suite

# fstests' CI subset, one boot per variant (workloads/fstests/ci.py holds the
# list and the judgement): a regression, a failure on both variants or a test
# not run fails it.
run_suite "fstests CI subset [stock, patched]" fstests-ci.log \
	env PYTHONPATH="$top/workloads" PYTHONDONTWRITEBYTECODE=1 "$PY" -m fstests.ci

# Whole `wbtrace run` invocations that need their own boots (reps, Ctrl-C).
if [ -x tests/workloads/run-guest.sh ]; then
	run_suite "workload runs (own guest boots)" wl-run-guest.log tests/workloads/run-guest.sh
else
	missing "workload runs (own guest boots)" "tests/workloads/run-guest.sh"
fi

# 5. The debug kernel's suite, unless it already ran beside the steps above.
if [ -n "$debug_bg" ]; then
	finish_suite "$debug_bg" guest-patched-debug.log
else
	debug_step run_suite
fi

echo "1..$suite_no"
note "done"
if [ "${#skips[@]}" -gt 0 ]; then
	echo "skipped ($skipped):"
	printf '  %s\n' "${skips[@]}"
fi
if [ "${#failures[@]}" -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
