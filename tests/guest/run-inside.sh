#!/bin/bash
# Runs in the lab guest: every test script given, one after the other, each
# reported as "ok NAME (Ns)" or "not ok NAME (Ns)".  Exit 1 if any failed.
#
# A test that has not finished after WB_TEST_TIMEOUT seconds (default 600;
# the slowest test takes about 4 min on the debug kernel) is taken for a hang:
# the stacks of its processes and the kernel's blocked-task list are printed,
# it is reported "not ok ... (hung)", and the remaining tests are reported
# "not ok ... (not run)": tasks stuck in the kernel cannot be killed, so what
# runs after them proves nothing.  The guest's own timeout (vm.sh --timeout)
# would only say that the whole boot ran out of time.  A test that is slow by
# design declares its own floor in its first 20 lines, "# run-inside: timeout
# SEC"; its limit is the larger of that and WB_TEST_TIMEOUT.
set -u
limit=${WB_TEST_TIMEOUT:-600}
failed=0 n=0

# The hung test's report (its processes' states and kernel stacks, then the
# blocked tasks, sysrq w, and what the CPUs run, sysrq l, from the kernel log)
# and the pids to kill: workloads/sysio.py's hang_report() and descendants(),
# which fstests' guest side uses too.
SYSIO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../workloads" && pwd)/sysio.py

# test_limit SCRIPT: seconds before SCRIPT counts as hung.
test_limit() {
	local own
	own=$(head -n 20 "$1" | sed -n 's/^# run-inside: timeout \([0-9][0-9]*\)$/\1/p' | head -n 1)
	if [ -n "$own" ] && [ "$own" -gt "$limit" ]; then echo "$own"; else echo "$limit"; fi
}

tests=("$@")
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=$(basename "$t" .sh)
	echo "# $name ($WBTRACE_VARIANT)"
	t_limit=$(test_limit "$t")
	t0=$(date +%s)
	# Job control on: a background job of a script starts with SIGINT and
	# SIGQUIT ignored, and tests that send SIGINT need them as a terminal
	# gives them.  The test also gets a process group of its own.
	set -m
	bash "$t" &
	pid=$!
	set +m
	while kill -0 "$pid" 2>/dev/null && (( $(date +%s) - t0 < t_limit )); do sleep 1; done
	if kill -0 "$pid" 2>/dev/null; then
		/usr/bin/python3 "$SYSIO" hang report "$name" "$pid" "$t_limit"
		for p in $(/usr/bin/python3 "$SYSIO" hang pids "$pid"); do kill -KILL "$p" 2>/dev/null; done
		echo "not ok $n $name [$WBTRACE_VARIANT] (hung: no result after ${t_limit}s)"
		for rest in "${tests[@]:n}"; do
			n=$((n + 1))
			echo "not ok $n $(basename "$rest" .sh) [$WBTRACE_VARIANT] (not run: $name hung)"
		done
		exit 1
	fi
	if wait "$pid"; then
		echo "ok $n $name [$WBTRACE_VARIANT] ($(( $(date +%s) - t0 ))s)"
	else
		echo "not ok $n $name [$WBTRACE_VARIANT] ($(( $(date +%s) - t0 ))s)"
		failed=$((failed + 1))
	fi
	# Whatever a failed test left mounted from the scratch disk, so that the
	# next test's mkfs does not fail for it.
	awk -v d="${WBTRACE_SCRATCH:-}" '$1 == d { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount "$m" || echo "# cannot unmount $m"; done
done
# On the debug kernel: how much of lockdep's fixed tables the run used.  Once
# one is full lockdep turns itself off ("BUG: MAX_LOCKDEP_..." is a splat).
if [ -r /proc/lockdep_stats ]; then
	awk '/\[max: [0-9]+\]/ {
		name = $0; sub(/:.*/, "", name); sub(/^ +/, "", name)
		v = $0; sub(/^[^:]*: */, "", v); split(v, num, /[^0-9]+/)
		printf "%s%s %s of %s", (n++ ? ", " : "# lockdep: "), name, num[1], num[2]
	} END { if (n) print "" }' /proc/lockdep_stats
fi
exit $((failed > 0))
