#!/bin/bash
# The regression gate's proof (issue 14, item 7): N trials of stock against
# stock (A/A) and of stock against the canary (stock plus a known extra cost
# per folio, tests/canary/), each gated at the default reps, and the verdicts
# tallied: the false-regression rate and the canary's detection rate, each
# with an exact (Clopper-Pearson) 95 % interval (workloads/gate_proof.py).
# The trials' small records are archived into results/gate-proof/, which git
# tracks, so that trials accumulate across sessions and machines.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
usage() {
	cat <<USAGE
usage: workloads/gate-proof.sh [--runs N] [--reps R] [--workload W] [--icount SPEC]
                               [--kinds aa,canary] [--stop-by HH:MM] [-o DIR]

Per run, one trial of each kind (their order alternates from run to run):
  aa      ./wbtrace run W --variant stock --reps 2R (one boot): odd reps are
          side A, even reps side B (interleaved in time), gated A vs B;
  canary  ./wbtrace compare W --baseline stock --candidate canary --reps R
          (one boot, interleaved), gated.
Both with --icount SPEC (default shift=3,align=off) and the tracer as compare
runs it (--skip-probe handout).  Defaults: --runs 1, --reps 3 (compare's
default), --workload fio-randwrite.  --stop-by HH:MM (UTC, the next such time:
past midnight if it is earlier than now): start no trial that would end after
it (judged by the longest trial so far, 8 min before the first).  DIR (default results/gate-proof-<UTC stamp>) may hold trials already:
new ones are numbered after them and the tally covers all.
Output: DIR/aa-NN/, DIR/canary-NN/ (run/, gate.json, conditions.txt and
trial.json, whose "conditions" are the workload, reps, -icount, scratch,
vCPUs, the sha256 of tests/canary/*.patch when the trial started and of the
thresholds, the commit), DIR/tally.md, DIR/tally.json.
Then every trial's small records (not run/) are archived into
results/gate-proof/LANE-KIND-NN/ (LANE: DIR's name without "gate-proof-"),
tracked by git: commit results/gate-proof/ to keep them.  Its tally, over all
sessions' trials, is printed last (it refuses to pool trials whose conditions
differ): workloads/gate_proof.py tally results/gate-proof.
Exit status: 0 every trial ran (whatever the verdicts), 1 some trial's run
failed (it is tallied as "run failed"), 2 bad usage, 3 the canary module
could not be built, 4 every trial ran but some could not be archived (a
different record of that name is there already), 130 interrupted.
USAGE
}
usage_error() { echo "gate-proof: $* (see workloads/gate-proof.sh --help)" >&2; exit 2; }
value() { [ $# -ge 2 ] && [[ "$2" != -[!0-9]* ]] || usage_error "$1 needs a value"; }
runs=1 reps=3 wl=fio-randwrite icount=shift=3,align=off kinds=aa,canary stop_by="" out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) value "$@"; runs=$2; shift 2 ;;
	--reps) value "$@"; reps=$2; shift 2 ;;
	--workload) value "$@"; wl=$2; shift 2 ;;
	--icount) value "$@"; icount=$2; shift 2 ;;
	--kinds) value "$@"; kinds=$2; shift 2 ;;
	--stop-by) value "$@"; stop_by=$2; shift 2 ;;
	-o|--output) value "$@"; out=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) usage_error "unknown argument $1" ;;
	esac
done
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] || usage_error "--runs needs a whole number of at least 1"
[[ "$reps" =~ ^[0-9]+$ ]] && [ "$reps" -ge 3 ] || usage_error "--reps needs a whole number of at least 3 (the gate's minimum)"
case "$kinds" in aa|canary|aa,canary|canary,aa) ;; *) usage_error "--kinds takes aa, canary or aa,canary" ;; esac
pool=$top/results/gate-proof
[ -z "$out" ] || [ "$(realpath -m -- "$out")" != "$(realpath -m -- "$pool")" ] ||
	usage_error "-o $out is the archive of small records; give a lane dir (results/gate-proof-NAME)"
deadline=""
if [ -n "$stop_by" ]; then
	[[ "$stop_by" =~ ^[0-2][0-9]:[0-5][0-9]$ ]] || usage_error "--stop-by takes HH:MM (UTC)"
	deadline=$(date -u -d "today $stop_by" +%s)
	# The next such time: 00:30 given at 23:00 means after midnight.
	[ "$deadline" -gt "$(date -u +%s)" ] || deadline=$((deadline + 86400))
fi
run=("$top/wbtrace" run "$wl" --variant stock --reps $((2 * reps)) --icount "$icount" --skip-probe handout)
cmp=("$top/wbtrace" compare "$wl" --baseline stock --candidate canary --reps "$reps" --icount "$icount")
# Every option is checked by the runner itself before anything boots.
"${cmp[@]}" --dry-run >/dev/null || exit 2
"$top/kernel-patch/lab/build.sh" --variant canary >&2 || { echo "gate-proof: the canary f2fs module could not be built" >&2; exit 3; }
out=${out:-$top/results/gate-proof-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
next_index() { # next_index KIND: one more than the highest DIR/KIND-NN
	local n=0 d i
	for d in "$out/$1"-[0-9][0-9]; do
		[ -e "$d" ] || continue
		i=${d##*-}; i=$((10#$i))
		[ "$i" -gt "$n" ] && n=$i
	done
	echo $((n + 1))
}
longest=480 rc=0
trial() { # trial KIND: one trial, gated and recorded
	local kind=$1 n dir t0 t1 trc=0 sums
	n=$(next_index "$kind")
	dir=$out/$kind-$(printf %02d "$n")
	if [ -n "$deadline" ] && [ $(( $(date +%s) + longest )) -gt "$deadline" ]; then
		echo "gate-proof: not starting $kind-$(printf %02d "$n"): it could end after $stop_by UTC (longest trial so far ${longest}s)"
		return 1
	fi
	mkdir -p "$dir"
	{
		echo "started: $(date -u +%FT%TZ)"
		echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "git: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo none)"
	} >"$dir/conditions.txt"
	# The canary patches as the trial starts: the runner picks the canary module by them.
	sums=$(cd "$top/tests/canary" && sha256sum -- *.patch) || sums=""
	echo "== gate-proof $kind-$(printf %02d "$n") ($(date -u +%T) UTC, load $(cut -d' ' -f1 /proc/loadavg))"
	t0=$(date +%s)
	if [ "$kind" = aa ]; then
		"${run[@]}" -o "$dir/run" || trc=$?
	else
		"${cmp[@]}" -o "$dir/run" || trc=$?
	fi
	t1=$(date +%s)
	[ "$trc" = 130 ] && exit 130
	[ "$trc" = 0 ] || rc=1
	[ $((t1 - t0)) -gt "$longest" ] && longest=$((t1 - t0))
	{
		echo "finished: $(date -u +%FT%TZ), $((t1 - t0)) s, exit $trc"
		echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	} >>"$dir/conditions.txt"
	/usr/bin/python3 "$top/workloads/gate_proof.py" trial --kind "$kind" --dir "$dir" \
		--rc "$trc" --seconds $((t1 - t0)) --workload "$wl" --reps "$reps" --icount "$icount" \
		--canary-sha256 "$sums"
}
for i in $(seq 1 "$runs"); do
	order=$kinds
	[ "$kinds" = aa,canary ] && [ $((i % 2)) = 0 ] && order=canary,aa
	[ "$kinds" = canary,aa ] && [ $((i % 2)) = 0 ] && order=aa,canary
	stop=0
	for kind in ${order//,/ }; do
		trial "$kind" || { stop=1; break; }
	done
	[ "$stop" = 1 ] && break
done
gp=$top/workloads/gate_proof.py
/usr/bin/python3 "$gp" tally "$out" --json "$out/tally.json" | tee "$out/tally.md" ||
	echo "gate-proof: no tally of $out (above)" >&2
echo "gate-proof: $out/tally.md"
# Across sessions: the small records into the archive git tracks, and its tally.
/usr/bin/python3 "$gp" archive "$out" --to "$pool" || { [ "$rc" != 0 ] || rc=4; }
echo "== gate-proof: every session's trials ($pool; commit it to keep them)"
/usr/bin/python3 "$gp" tally "$pool" || true
exit "$rc"
