#!/usr/bin/env bash
# The main job on the embedded default (the lab guest), `./wbtrace demo`:
#   1. build the lab (cached: under 1 s when nothing changed) and the tracer
#   2. ./wbtrace compare fio-randwrite: stock and patched interleaved in ONE guest
#      boot, every rep a full verified run (fio verify, after drop_caches, after
#      remount, fsck, dmesg) -- the data-verification round on both variants.  The
#      job's own size (32M) is 4x its per-device dirty limit (bdi max_bytes=8M), so
#      the flusher writes back in the background while fio runs.  3 reps a side,
#      then --until-decided: while the gate is inconclusive, more reps in the same
#      boot, up to 8 a side (at 3 reps, 33 of 76 A/A trials of results/gate-proof/
#      were inconclusive, mostly on the p99s; the gate estimated 4-8 reps for 28)
#   3. check, from the tracer's per-pass records, that both variants ran background
#      passes with a budget and an integrity pass (workloads/wbpasses.py)
#   4. ./wbtrace report, 5. ./wbtrace gate stock vs patched: its files (gate.txt,
#      gate.json, gate.xml) and one verdict line; compare printed its table already
# Under TCG the guest runs with -icount shift=3,align=off (guest time counted in
# instructions), and therefore on a RAM disk with one vCPU after a warm-up rep: its
# throughput and guest CPU per MiB vary 0.1-0.4 % from rep to rep instead of 20-30 %
# (README, "Noise and -icount").  WBTRACE_ICOUNT overrides it ("off" for none).
# Exit status: 0 when the build, the runs, their verification and the writeback check
# passed, whatever the gate says (its verdict is a result, reported here); 1 when any
# of those failed, with one line saying which; 2 bad WBTRACE_DEMO_* values; 130 interrupted.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
PY=/usr/bin/python3
t0=$(date +%s)
wl=fio-randwrite
size=${WBTRACE_DEMO_SIZE:-}       # default: the job file's size (4x its dirty limit)
reps=${WBTRACE_DEMO_REPS:-3}      # a verdict needs 3 a side
max_reps=${WBTRACE_DEMO_MAX_REPS:-8}  # --until-decided: reps a side at most
cmp=$top/results/cmp-demo-$wl-$(date -u +%Y%m%dT%H%M%SZ)
took() { echo "$(( $(date +%s) - t0 )) s"; }
fail() { echo "demo FAILED after $(took): $*" >&2; exit 1; }
trap 'echo "demo interrupted after $(took)" >&2; exit 130' INT TERM

[[ $reps =~ ^[1-9][0-9]*$ && $max_reps =~ ^[1-9][0-9]*$ ]] && [ "$max_reps" -ge "$reps" ] || {
	echo "demo: WBTRACE_DEMO_REPS ($reps) and WBTRACE_DEMO_MAX_REPS ($max_reps) take whole numbers, the second not below the first" >&2
	exit 2
}

echo "== 1. lab build and tracer =="
"$top/kernel-patch/lab/build.sh" || fail "the lab build (see its last lines above)"
make -s -C "$top/loader" || fail "building the tracer (make -C loader)"

accel=$("$top/wbtrace" vm accel -q 2>/dev/null) || accel=unknown
icount=${WBTRACE_ICOUNT:-}
# `vm accel` says kvm, or tcg with its thread mode (tcg,thread=single).
case $accel in tcg*) [ -n "$icount" ] || icount=shift=3,align=off ;; esac
echo "== 2. $wl on f2fs stock and patched, $reps reps each, then more while the gate is inconclusive (up to $max_reps), interleaved, one guest boot ($accel${icount:+, -icount $icount}) =="
rc=0
"$top/wbtrace" compare "$wl" --reps "$reps" --until-decided "$max_reps" ${size:+--size "$size"} ${icount:+--icount "$icount"} -o "$cmp" || rc=$?
# With --until-decided, compare exits with the gate's status (0, 1 regression, 2) once
# every rep passed, and writes $cmp/gate.json only then; a failed rep exits 1 without it.
case $rc in
0|1|2) [ -f "$cmp/gate.json" ] ||
	fail "the A/B run (wbtrace compare exit $rc, no gate verdict: the lines above say why; evidence in $cmp)" ;;
130) echo "demo interrupted after $(took)" >&2; exit 130 ;;
*) fail "the A/B run (wbtrace compare exit $rc: the line above says why; evidence in $cmp)" ;;
esac

echo "== 3. writeback check: background and integrity passes on both variants =="
"$PY" "$top/workloads/wbpasses.py" "$cmp" --json "$cmp/passes.json" ||
	fail "the writeback check (the line above says which variant and why)"

echo "== 4. report =="
report=$("$top/wbtrace" report "$cmp") || fail "the report of $cmp"
report=$(printf '%s\n' "$report" | tail -n 1)

echo "== 5. regression gate: stock (baseline) vs patched (candidate) =="
# compare printed the gate's table above; this gate, on the same runs, writes its
# files (table in gate.txt) for CI and must agree with compare's exit status.
grc=0
"$top/wbtrace" gate "$cmp:stock" "$cmp:patched" --json "$cmp/gate.json" --junit "$cmp/gate.xml" \
	>"$cmp/gate.txt" 2>&1 || grc=$?
case $grc in
0) verdict="0 = pass (no regression of patched against stock)" ;;
1) verdict="1 = REGRESSION of patched against stock (a result, not a demo failure: the gate's table above)" ;;
2) verdict="2 = cannot judge / inconclusive (a result, not a demo failure: the gate's table above)" ;;
*) cat "$cmp/gate.txt" >&2; fail "the gate itself (exit $grc)" ;;
esac
[ "$grc" = "$rc" ] || { cat "$cmp/gate.txt" >&2
	fail "the gate said exit $grc on the comparison that compare's own gate said exit $rc on"; }
echo "gate: exit $verdict"

echo
echo "demo finished in $(took): every rep of stock and patched verified (compare's \"until decided\" line says how many), background writeback seen on both"
echo "  comparison: $cmp"
echo "  writeback:  $cmp/passes.json"
echo "  report:     $report"
echo "  gate:       exit $verdict ($cmp/gate.txt, gate.json, gate.xml)"
exit 0
