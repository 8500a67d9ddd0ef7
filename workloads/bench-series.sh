#!/bin/bash
# The benchmark of the kernel series: stock vs patched f2fs on several
# workloads, each an interleaved A/B in one lab guest boot (`wbtrace compare
# WORKLOAD`), every rep a full verified run; then one digest table (Markdown
# + JSON) of throughput, CPU per MiB, p99 latency, bio size and data
# temperature/IPU shares.  A benchmark, not a test: it measures, it does not
# judge (use `wbtrace gate` for that) -- unless --until-decided N, which gates
# every workload and adds reps to each until it is decided (runner/bench.py).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
usage() {
	cat <<USAGE
usage: wbtrace bench [--reps N] [--until-decided N] [--size S] [--no-trace]
                     [--icount SPEC] [--dry-run] [-o DIR] [WORKLOAD...]

Runs \`wbtrace compare WORKLOAD --reps N\` for each workload (default: the
non-compressed ones: fio-randwrite fio-seqwrite fio-fsync fio-overwrite
fio-mmap fio-mixed), then \`wbtrace digest\` over all of them.
Output: DIR/<workload>/ (comparison dirs), DIR/digest.md, DIR/digest.json,
DIR/conditions.txt (host, accelerator, load, date).  Default DIR:
results/bench-<UTC stamp>.  Reps default to 5 per variant.
--until-decided N: each workload's compare gates its comparison and adds
reps, interleaved in the same boot, while its verdict is inconclusive, up to
N a side (compare --until-decided).  All are gated with DIR/thresholds.json:
analysis/thresholds.json with alpha divided by the number of workloads
(Bonferroni across workloads, Holm within each), so identical code is called
a regression somewhere in the bench with probability at most alpha.  Then
DIR/verdicts.md (and .json): one verdict per workload and the bench's, the
worst of them.
--icount SPEC: QEMU -icount for every guest (as for compare).
--dry-run: check the options and print the compare commands; run nothing.
Exit status: 0 all comparisons ran, 1 a comparison failed (the rest still
run), 2 bad usage, 130 interrupted.  With --until-decided: 0 every workload
passed, 1 a regression or a failed comparison, 2 otherwise (inconclusive,
cannot judge).
USAGE
}
usage_error() { echo "wbtrace bench: $* (see ./wbtrace bench --help)" >&2; exit 2; }
# value OPTION "$@": the option's value, or a usage error when it has none.
value() { [ $# -ge 2 ] && [[ "$2" != -[!0-9]* ]] || usage_error "$1 needs a value"; }
reps=5 size=() trace=() icount=() ud="" dry=0 out="" wls=()
while [ $# -gt 0 ]; do
	case "$1" in
	--reps) value "$@"; reps=$2; shift 2 ;;
	--size) value "$@"; size=(--size "$2"); shift 2 ;;
	--no-trace) trace=(--no-trace); shift ;;
	--until-decided) value "$@"; ud=$2; shift 2 ;;
	--icount) value "$@"; icount=(--icount "$2"); shift 2 ;;
	--dry-run) dry=1; shift ;;
	-o|--output) value "$@"; out=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) usage_error "unknown option $1" ;;
	*) wls+=("$1"); shift ;;
	esac
done
[[ "$reps" =~ ^[0-9]+$ ]] && [ "$reps" -ge 1 ] || usage_error "--reps needs a whole number of at least 1, not '$reps'"
[ "${#wls[@]}" -gt 0 ] || wls=(fio-randwrite fio-seqwrite fio-fsync fio-overwrite fio-mmap fio-mixed)
until=()
if [ -n "$ud" ]; then
	[[ "$ud" =~ ^[0-9]+$ ]] || usage_error "--until-decided needs a whole number, not '$ud'"
	until=(--until-decided "$ud")
fi
# Every option is checked by the runner itself before anything is created.
for w in "${wls[@]}"; do
	"$top/workloads/wbtrace-run" compare "$w" --reps "$reps" "${until[@]}" "${size[@]}" "${trace[@]}" "${icount[@]}" --dry-run >/dev/null || exit 2
done
if [ -n "$out" ] && [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
	usage_error "$out already exists and is not empty: give another -o DIR"
fi
out=${out:-$top/results/bench-$(date -u +%Y%m%dT%H%M%SZ)}
bench_py() { PYTHONPATH=$top/workloads /usr/bin/python3 -m runner.bench "$@"; }
if [ -n "$ud" ]; then
	until+=(--thresholds "$out/thresholds.json")
fi
if [ "$dry" = 1 ]; then
	for w in "${wls[@]}"; do
		echo "wbtrace compare $w --reps $reps ${until[*]} ${size[*]} ${trace[*]} ${icount[*]} -o $out/$w" | tr -s ' '
	done
	[ -z "$ud" ] || echo "(thresholds: analysis/thresholds.json with alpha / ${#wls[@]})"
	exit 0
fi
mkdir -p "$out"
if [ -n "$ud" ]; then
	bench_py thresholds "$out/thresholds.json" --workloads "${#wls[@]}" || exit 2
fi
{
	echo "date: $(date -u +%FT%TZ)"
	echo "host: $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
	echo "guest accelerator: $("$top/wbtrace" vm accel 2>/dev/null || echo unknown)"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "git: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$top" diff --quiet 2>/dev/null || echo ' (dirty)')"
	echo "reps per variant: $reps${ud:+, then more while inconclusive, up to $ud (alpha split over ${#wls[@]} workloads)}, order: interleaved (ABBA) in one boot per workload"
	[ "${#icount[@]}" = 0 ] || echo "guest -icount: ${icount[1]}"
} >"$out/conditions.txt"
cat "$out/conditions.txt"
rc=0 done_dirs=()
for w in "${wls[@]}"; do
	echo "== $w: stock vs patched, $reps reps each${ud:+, up to $ud until decided}"
	r=0
	"$top/wbtrace" compare "$w" --reps "$reps" "${until[@]}" "${size[@]}" "${trace[@]}" "${icount[@]}" -o "$out/$w" || r=$?
	[ "$r" = 130 ] && exit 130
	if [ "$r" = 0 ] || { [ -n "$ud" ] && [ -e "$out/$w/gate.json" ]; }; then
		done_dirs+=("$out/$w")      # with --until-decided, 1 and 2 can be the gate's verdict
	else
		echo "wbtrace bench: $w: compare failed (exit $r); evidence in $out/$w" >&2
		rc=1
	fi
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/conditions.txt"
if [ "${#done_dirs[@]}" -gt 0 ]; then
	"$top/wbtrace" digest "${done_dirs[@]}" --json "$out/digest.json" | tee "$out/digest.md"
	echo "bench: $out/digest.md"
fi
if [ -n "$ud" ]; then
	dirs=()
	for w in "${wls[@]}"; do dirs+=("$out/$w"); done
	vrc=0
	bench_py verdicts "${dirs[@]}" --json "$out/verdicts.json" >"$out/verdicts.md" || vrc=$?
	cat "$out/verdicts.md"
	echo "bench: $out/verdicts.md"
	exit "$vrc"
fi
exit "$rc"
