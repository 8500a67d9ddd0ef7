#!/bin/bash
# The benchmark of the kernel series: stock vs patched f2fs on several
# workloads, each an interleaved A/B in one lab guest boot (`wbtrace compare
# WORKLOAD`), every rep a full verified run; then one digest table (Markdown
# + JSON) of throughput, CPU per MiB, p99 latency, bio size and data
# temperature/IPU shares.  A benchmark, not a test: it measures, it does not
# judge (use `wbtrace gate` for that).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
usage() {
	cat <<USAGE
usage: wbtrace bench [--reps N] [--size S] [--no-trace] [-o DIR] [WORKLOAD...]

Runs \`wbtrace compare WORKLOAD --reps N\` for each workload (default: the
non-compressed ones: fio-randwrite fio-seqwrite fio-fsync fio-overwrite
fio-mmap fio-mixed), then \`wbtrace digest\` over all of them.
Output: DIR/<workload>/ (comparison dirs), DIR/digest.md, DIR/digest.json,
DIR/conditions.txt (host, accelerator, load, date).  Default DIR:
results/bench-<UTC stamp>.  Reps default to 5 per variant.
Exit status: 0 all comparisons ran, 1 a comparison failed (the rest still
run), 2 bad usage, 130 interrupted.
USAGE
}
usage_error() { echo "wbtrace bench: $* (see ./wbtrace bench --help)" >&2; exit 2; }
# value OPTION "$@": the option's value, or a usage error when it has none.
value() { [ $# -ge 2 ] && [[ "$2" != -[!0-9]* ]] || usage_error "$1 needs a value"; }
reps=5 size=() trace=() out="" wls=()
while [ $# -gt 0 ]; do
	case "$1" in
	--reps) value "$@"; reps=$2; shift 2 ;;
	--size) value "$@"; size=(--size "$2"); shift 2 ;;
	--no-trace) trace=(--no-trace); shift ;;
	-o|--output) value "$@"; out=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) usage_error "unknown option $1" ;;
	*) wls+=("$1"); shift ;;
	esac
done
[[ "$reps" =~ ^[0-9]+$ ]] && [ "$reps" -ge 1 ] || usage_error "--reps needs a whole number of at least 1, not '$reps'"
[ "${#wls[@]}" -gt 0 ] || wls=(fio-randwrite fio-seqwrite fio-fsync fio-overwrite fio-mmap fio-mixed)
# Every option is checked by the runner itself before anything is created.
for w in "${wls[@]}"; do
	"$top/workloads/wbtrace-run" compare "$w" --reps "$reps" "${size[@]}" "${trace[@]}" --dry-run >/dev/null || exit 2
done
if [ -n "$out" ] && [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
	usage_error "$out already exists and is not empty: give another -o DIR"
fi
out=${out:-$top/results/bench-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
{
	echo "date: $(date -u +%FT%TZ)"
	echo "host: $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
	echo "guest accelerator: $("$top/wbtrace" vm accel 2>/dev/null || echo unknown)"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "git: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$top" diff --quiet 2>/dev/null || echo ' (dirty)')"
	echo "reps per variant: $reps, order: interleaved (ABBA) in one boot per workload"
} >"$out/conditions.txt"
cat "$out/conditions.txt"
rc=0 done_dirs=()
for w in "${wls[@]}"; do
	echo "== $w: stock vs patched, $reps reps each"
	if "$top/wbtrace" compare "$w" --reps "$reps" "${size[@]}" "${trace[@]}" -o "$out/$w"; then
		done_dirs+=("$out/$w")
	else
		r=$?
		[ "$r" = 130 ] && exit 130
		echo "wbtrace bench: $w: compare failed (exit $r); evidence in $out/$w" >&2
		rc=1
	fi
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/conditions.txt"
if [ "${#done_dirs[@]}" -gt 0 ]; then
	"$top/wbtrace" digest "${done_dirs[@]}" --json "$out/digest.json" | tee "$out/digest.md"
	echo "bench: $out/digest.md"
fi
exit "$rc"
