#!/usr/bin/env bash
# The main job on the embedded default (the lab guest):
#   1. build the lab (cached: under 1 s when nothing changed)
#   2. ./wbtrace compare fio-randwrite --reps 3: stock and patched interleaved in ONE guest
#      boot, every rep a full verified run (fio verify, after drop_caches, after remount,
#      fsck, dmesg) -- this is also the data-verification round on both variants
#   3. ./wbtrace report on that comparison (one self-contained HTML page)
#   4. ./wbtrace gate stock vs patched from that comparison
# Exit status: 0 when the build, the runs and their verification passed, whatever the gate
# says (its verdict is a result, reported here); 1 when any of those failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
t0=$(date +%s)
wl=fio-randwrite
size=${WBTRACE_DEMO_SIZE:-4M}     # small: six reps finish in a few minutes under TCG
reps=${WBTRACE_DEMO_REPS:-3}      # a verdict needs 3 a side
cmp=$top/results/cmp-demo-$wl-$(date -u +%Y%m%dT%H%M%SZ)
took() { echo "$(( $(date +%s) - t0 )) s"; }
fail() { echo "demo FAILED after $(took): $*" >&2; exit 1; }

echo "== 1. lab build =="
"$top/kernel-patch/lab/build.sh" || fail "the lab build"

echo "== 2. $wl on f2fs stock and patched, $reps reps each, interleaved, one guest boot =="
"$top/wbtrace" compare "$wl" --reps "$reps" --size "$size" -o "$cmp" ||
	fail "the A/B run or its verification (evidence in $cmp)"

echo "== 3. report =="
report=$("$top/wbtrace" report "$cmp") || fail "the report of $cmp"
report=$(printf '%s\n' "$report" | tail -n 1)

echo "== 4. regression gate: stock (baseline) vs patched (candidate) =="
grc=0
"$top/wbtrace" gate "$cmp:stock" "$cmp:patched" --json "$cmp/gate.json" --junit "$cmp/gate.xml" || grc=$?
case $grc in
0) verdict="0 = pass (no regression of patched against stock)" ;;
1) verdict="1 = REGRESSION of patched against stock (a result, not a demo failure)" ;;
2) verdict="2 = cannot judge (a result, not a demo failure: see the gate output above)" ;;
*) fail "the gate itself (exit $grc)" ;;
esac

echo
echo "demo finished in $(took): $reps reps each of stock and patched verified"
echo "  comparison: $cmp"
echo "  report:     $report"
echo "  gate:       exit $verdict ($cmp/gate.json, gate.xml)"
exit 0
