#!/usr/bin/env bash
# Are the tracer's folio and bio counts right for large folios (issue 16, item 5)?
# ONE guest boot (patched f2fs, the deterministic mode's guest: -icount, RAM disk, one
# vCPU) runs ONE rep of `wbtrace-run run WORKLOAD --fs-opts OPTS` (traced, verified, no
# warm-up) while an ftrace instance records, for the scratch device only,
#   f2fs:f2fs_writepage          one call of the per-folio write function (nr_pages = folio)
#   f2fs:f2fs_do_write_data_page one block written (per block of a large folio, patch 13)
#   f2fs:f2fs_submit_write_bio   every write bio (type, size)
#   filemap:mm_filemap_add_to_page_cache   folios entering the page cache (order)
#   writeback:balance_dirty_pages          writers throttled at the dirty limits (context)
# with the monotonic clock the BPF tracer stamps its records with; then
# largefolio_eval.py crosscheck compares those counts, and f2fs's own status counters
# (/sys/kernel/debug/f2fs/status: Allocated Data Blocks, IPU), with the tracer's.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3

usage() {
	cat <<EOF
Usage: workloads/largefolio-crosscheck.sh [--workload W] [--size S] [--fs-opts OPTS]
                                          [--icount SPEC] [-o DIR]

  --workload W    a workload of workloads/ (default fio-seqwrite)
  --size S        size per fio job (default: the job file's)
  --fs-opts OPTS  mount options added to the job's (default largefolio,noinline_data)
  --icount SPEC   QEMU -icount SPEC of the boot (default shift=3,align=off; off = none)
  -o DIR          output, under results/ (default results/lf-crosscheck-<UTC>): run/ (the
                  rep), ftrace.txt, ftrace-stats.txt, crosscheck.md, crosscheck.json

One boot of the patched variant.  Run as root.  Exit status: 0 the counts agree; 1 they
do not, or the run failed; 2 usage.
EOF
}

# ------------------------------------------------------------------ inside the guest
inside() { # WORKLOAD SIZE OPTS OUT
	local wl=$1 size=$2 opts=$3 out=$4 tr=/sys/kernel/tracing inst dev e rc
	inst=$tr/instances/lf-crosscheck
	[ -b "${WBTRACE_SCRATCH:-}" ] || { echo "largefolio-crosscheck: no scratch device in the guest" >&2; return 1; }
	# the scratch device's dev_t as the kernel stores it: MKDEV(major, minor)
	dev=$(( (16#$(stat -c %t "$WBTRACE_SCRATCH") << 20) | 16#$(stat -c %T "$WBTRACE_SCRATCH") ))
	mkdir -p "$inst"
	echo 0 >"$inst/tracing_on"
	echo mono >"$inst/trace_clock"
	echo 131072 >"$inst/buffer_size_kb"
	: >"$inst/trace"
	for e in f2fs/f2fs_writepage f2fs/f2fs_do_write_data_page f2fs/f2fs_submit_write_bio; do
		echo "dev == $dev" >"$inst/events/$e/filter"
		echo 1 >"$inst/events/$e/enable"
	done
	echo "s_dev == $dev" >"$inst/events/filemap/mm_filemap_add_to_page_cache/filter"
	echo 1 >"$inst/events/filemap/mm_filemap_add_to_page_cache/enable"
	# dirty throttling of the writers, for the scratch disk's bdi ("MAJ:MIN")
	echo "bdi == \"$((16#$(stat -c %t "$WBTRACE_SCRATCH"))):$((16#$(stat -c %T "$WBTRACE_SCRATCH")))\"" \
		>"$inst/events/writeback/balance_dirty_pages/filter"
	echo 1 >"$inst/events/writeback/balance_dirty_pages/enable"
	echo 1 >"$inst/tracing_on"
	set +e
	"$py" "$top/workloads/wbtrace-run" run "$wl" --variant "${WBTRACE_VARIANT:-patched}" \
		--reps 1 ${size:+--size "$size"} --fs-opts "$opts" -o "$out/run"
	rc=$?
	set -e
	echo 0 >"$inst/tracing_on"
	cat "$inst/per_cpu"/cpu*/stats >"$out/ftrace-stats.txt"
	cat "$inst/trace" >"$out/ftrace.txt"
	for e in "$inst"/events/*/*/enable; do echo 0 >"$e" 2>/dev/null || true; done
	rmdir "$inst" 2>/dev/null || true
	echo "scratch $WBTRACE_SCRATCH dev_t $dev; ftrace lines $(wc -l <"$out/ftrace.txt")"
	return "$rc"
}

if [ "${1:-}" = --inside ]; then
	shift
	inside "$@"
	exit
fi

# ------------------------------------------------------------------ on the host
wl=fio-seqwrite size="" opts=largefolio,noinline_data icount=shift=3,align=off out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--workload) wl=${2:?}; shift ;;
	--size) size=${2:?}; shift ;;
	--fs-opts) opts=${2:?}; shift ;;
	--icount) icount=${2:?}; shift ;;
	-o) out=${2:?}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "largefolio-crosscheck: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ -f "$top/workloads/$wl.fio" ] || { echo "largefolio-crosscheck: no workload '$wl' (no workloads/$wl.fio)" >&2; exit 2; }
out=${out:-$top/results/lf-crosscheck-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(realpath "$out")
case "$out/" in
"$(realpath "$top/results")"/*) ;;
*) echo "largefolio-crosscheck: -o $out: must be under results/ (shared with the guest)" >&2; exit 2 ;;
esac
[ ! -e "$out/run" ] || { echo "largefolio-crosscheck: $out/run exists: give a new -o DIR" >&2; exit 2; }
make -q -C "$top/loader" >/dev/null 2>&1 || make -C "$top/loader" >/dev/null
# the default size of the job, for the scratch disk: a RAM disk of 2 GiB as ./wbtrace run gives
vmopts=(--variant patched --no-build --scratch ram --cpus 1 --disk-size 2048M --timeout 3600)
[ "$icount" = off ] && vmopts+=(--icount off) || vmopts+=(--icount "$icount")
set +e
"$top/kernel-patch/lab/vm.sh" run "${vmopts[@]}" -- \
	bash "$top/workloads/largefolio-crosscheck.sh" --inside "$wl" "$size" "$opts" "$out" 2>&1 |
	tee "$out/output.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
	echo "largefolio-crosscheck: the guest run exited $rc (see $out/output.log)" >&2
	exit 1
fi
"$py" "$top/workloads/largefolio_eval.py" crosscheck "$out" --json "$out/crosscheck.json" |
	tee "$out/crosscheck.md"
exit "${PIPESTATUS[0]}"
