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
# would only say that the whole boot ran out of time.
set -u
limit=${WB_TEST_TIMEOUT:-600}
failed=0 n=0

# descendants PID: PID and every process below it (from the ppid field of
# /proc/*/stat: the lab kernel has no /proc/PID/task/*/children).
descendants() {
	awk -v root="$1" '
		FNR == 1 { sub(/^.*\) /, ""); split($0, f, " "); parent[FILENAME] = f[2] }
		END {
			for (file in parent) { split(file, part, "/"); ppid[part[3]] = parent[file] }
			keep[root] = 1; print root
			do {
				more = 0
				for (p in ppid) if (!(p in keep) && (ppid[p] in keep)) { keep[p] = 1; print p; more = 1 }
			} while (more)
		}' /proc/[0-9]*/stat 2>/dev/null
}

# dump_hang NAME PID: what the hung test's processes are waiting for.
dump_hang() {
	local name=$1 p before
	echo "# $name: no result after ${limit}s; its processes:"
	for p in $(descendants "$2"); do
		[ -r /proc/"$p"/stat ] || continue
		echo "#   pid $p ($(cat /proc/"$p"/comm 2>/dev/null)) state $(awk '{print $3}' /proc/"$p"/stat) wchan $(cat /proc/"$p"/wchan 2>/dev/null)"
		sed 's/^/#     /' /proc/"$p"/stack 2>/dev/null
	done
	# All tasks in uninterruptible sleep (sysrq w) and what the CPUs are
	# running (sysrq l: a livelock blocks others without sleeping itself),
	# kernel log only.
	before=$(dmesg | wc -l)
	echo w >/proc/sysrq-trigger
	sleep 2
	echo l >/proc/sysrq-trigger
	sleep 2
	echo "# blocked tasks (sysrq w) and running CPUs (sysrq l):"
	dmesg | tail -n +"$((before + 1))" | sed 's/^/#   /'
}

tests=("$@")
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=$(basename "$t" .sh)
	echo "# $name ($WBTRACE_VARIANT)"
	t0=$(date +%s)
	# Job control on: a background job of a script starts with SIGINT and
	# SIGQUIT ignored, and tests that send SIGINT need them as a terminal
	# gives them.  The test also gets a process group of its own.
	set -m
	bash "$t" &
	pid=$!
	set +m
	while kill -0 "$pid" 2>/dev/null && (( $(date +%s) - t0 < limit )); do sleep 1; done
	if kill -0 "$pid" 2>/dev/null; then
		dump_hang "$name" "$pid"
		for p in $(descendants "$pid"); do kill -KILL "$p" 2>/dev/null; done
		echo "not ok $n $name [$WBTRACE_VARIANT] (hung: no result after ${limit}s)"
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
