#!/usr/bin/env bash
# The f2fs largefolio mount option off against on (issue 16, item 5): folios, bios and
# guest instructions per MiB written.  For each workload and each side: ONE guest boot
# running `./wbtrace run WORKLOAD --variant patched --icount SPEC --reps N --fs-opts OPTS`
# (traced, verified; the deterministic mode: RAM-disk scratch, one vCPU, a warm-up rep not
# kept), off = noinline_data, on = largefolio,noinline_data (a file that is inline when its
# inode is set up gets no large folios, so both sides leave inline data out).  compare
# cannot do this in one boot: its two sides are variants with the same mount options.
# Then workloads/largefolio_eval.py tabulates per workload folios written per MiB, data
# bios per MiB and their mean size, guest busy time per MiB and fio's bandwidth, with mean,
# CV and the change on vs off with a 95 % interval.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3

usage() {
	cat <<EOF
Usage: workloads/largefolio-eval.sh [--reps N] [--workload W]... [--side off|on]...
                                    [--size S] [--icount SPEC] [--no-trace] [-o DIR]
                                    [--table DIR]

  --reps N       measured reps per boot, after the runner's warm-up rep (default 5)
  --workload W   a workload of workloads/ (W.fio), repeatable (default: fio-seqwrite
                 fio-randwrite fio-fsync fio-mmap fio-cached-overwrite)
  --side S       off (mount -o noinline_data) or on (-o largefolio,noinline_data),
                 repeatable (default: both; the order alternates between workloads)
  --size S       size per fio job (default: each job file's '; size:')
  --icount SPEC  QEMU -icount SPEC (default shift=3,align=off, the deterministic mode)
  --no-trace     passed to ./wbtrace run: no tracer (its probes cost guest instructions per
                 folio, so a side with fewer folios pays less for them); only fio's
                 figures and the guest's busy time are measured then
  -o DIR         output (default results/lf-eval-<UTC>); one DIR/<workload>--<side>/ per
                 boot: runs/ (the rep dirs), output.log (host-time-stamped), cell.json;
                 DIR/table.md, DIR/table.json.  An existing DIR gets the cells it lacks.
  --table DIR    only print the table of an earlier DIR

Boots one guest at a time, with the patched f2fs module (the series' last patch adds the
option).  Run as root (./wbtrace run needs it).
Exit status: 0 table written; 1 a boot failed (the table covers the others); 2 usage.
EOF
}

die() { echo "largefolio-eval: $*" >&2; exit 2; }
reps=5 out="" size="" icount=shift=3,align=off notrace="" workloads=() sides=()
while [ $# -gt 0 ]; do
	case "$1" in
	--reps) reps=${2-}; shift ;;
	--workload) workloads+=("${2-}"); shift ;;
	--side) sides+=("${2-}"); shift ;;
	--size) size=${2-}; shift ;;
	--icount) icount=${2-}; shift ;;
	-o) out=${2-}; shift ;;
	--no-trace) notrace=--no-trace ;;
	--table)
		[ -n "${2-}" ] || die "--table takes a directory"
		exec "$py" "$top/workloads/largefolio_eval.py" table "$2" ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	[ $# -gt 0 ] && shift
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps takes a positive number, not '$reps'"
if [ -z "$icount" ] || [ "$icount" = off ]; then
	die "--icount needs a SPEC: the figures are guest instructions only under -icount"
fi
[ ${#workloads[@]} -gt 0 ] || workloads=(fio-seqwrite fio-randwrite fio-fsync fio-mmap fio-cached-overwrite)
[ ${#sides[@]} -gt 0 ] || sides=(off on)
for wl in "${workloads[@]}"; do
	if [ -z "$wl" ] || [ ! -f "$top/workloads/$wl.fio" ]; then
		die "no workload '$wl' (no workloads/$wl.fio)"
	fi
done
for s in "${sides[@]}"; do
	case "$s" in off|on) ;; *) die "--side is off or on, not '$s'" ;; esac
done
if [ -n "$size" ]; then
	[[ "$size" =~ ^[1-9][0-9]*[KMG]?$ ]] || die "--size takes a size like 8M, not '$size'"
fi
[ "$(id -u)" = 0 ] || die "run as root (./wbtrace run boots the lab guest)"
out=${out:-$top/results/lf-eval-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(realpath "$out")

opts_of() { [ "$1" = on ] && echo largefolio,noinline_data || echo noinline_data; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
failed=0 order=0 n=0
for wl in "${workloads[@]}"; do
	# alternate which side boots first (off on, on off, ...): a drift of the host would
	# not fall on one side only (under -icount it should not matter, and this shows it)
	run_sides=("${sides[@]}")
	if [ $((n % 2)) = 1 ] && [ ${#sides[@]} = 2 ]; then
		run_sides=("${sides[1]}" "${sides[0]}")
	fi
	n=$((n + 1))
	for side in "${run_sides[@]}"; do
		order=$((order + 1))
		cell=$out/$wl--$side
		if [ -f "$cell/cell.json" ]; then
			echo "== $wl, switch $side: done before ($cell/cell.json), kept"
			continue
		fi
		rm -rf "$cell"
		mkdir -p "$cell"
		fsopts=$(opts_of "$side")
		echo "== $wl, switch $side (-o $fsopts): $reps reps in one boot (load $(load)) -> $cell"
		load_before=$(load) t0=$(date +%s)
		set +e
		"$top/wbtrace" run "$wl" --variant patched --icount "$icount" --reps "$reps" \
			--fs-opts "$fsopts" ${size:+--size "$size"} ${notrace:+"$notrace"} \
			-o "$cell/runs" 2>&1 |
			"$py" "$top/workloads/largefolio_eval.py" stamp "$cell/output.log"
		rc=${PIPESTATUS[0]}
		set -e
		t1=$(date +%s)
		"$py" "$top/workloads/largefolio_eval.py" cell "$cell/cell.json" --workload "$wl" \
			--side "$side" --fs-opts "$fsopts" --icount "$icount" --order "$order" \
			--reps "$reps" --size "$size" --exit "$rc" --wall "$((t1 - t0))" \
			--load-before "$load_before" --load-after "$(load)" ${notrace:+--untraced}
		if [ "$rc" != 0 ]; then
			echo "largefolio-eval: $wl with the switch $side: ./wbtrace run exited $rc" >&2
			failed=1
		fi
	done
done
"$py" "$top/workloads/largefolio_eval.py" table "$out" --json "$out/table.json" | tee "$out/table.md"
echo "largefolio-eval: $out/table.md"
exit "$failed"
