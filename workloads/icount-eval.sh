#!/usr/bin/env bash
# How steady are wbtrace's figures from rep to rep with QEMU's -icount (issue 14, item 1)?
# For each workload and each icount mode: ONE guest boot running N reps of
# `./wbtrace run WORKLOAD --reps N --variant stock [--icount SPEC]`; then a table of the
# coefficient of variation across reps of fio bw (guest clock), fio's sys CPU per MiB and
# the host's wall time per rep, with the host's load average before and after each boot.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3

usage() {
	cat <<EOF
Usage: workloads/icount-eval.sh [--reps N] [--mode SPEC]... [--workload W]...
                                [--scratch disk|ram]... [--cpus N]... [-o DIR]
                                [--no-trace] [--table DIR]

  --reps N       reps per boot (default 5)
  --mode SPEC    an icount mode: off, or a vm.sh --icount SPEC (repeatable; default:
                 off, shift=auto, shift=3,sleep=off,align=off)
  --workload W   repeatable (default: fio-randwrite fio-seqwrite)
  --scratch K    the guest's scratch device, disk or ram (repeatable; default: what
                 ./wbtrace run picks, ram with -icount, else disk)
  --cpus N       the guest's vCPUs (repeatable; default: ./wbtrace run's, 1 with
                 -icount, else 2)
  -o DIR         output (default results/icount-eval-<UTC>); one DIR/<workload>--<mode>/
                 per boot: runs/ (the run dirs), output.log (host-time-stamped),
                 cell.json (mode, load, boot wall time); DIR/table.md, DIR/table.json
  --no-trace     passed to ./wbtrace run (no tracer/blktrace/perf)
  --table DIR    only print the table of an earlier DIR

One cell per workload, mode, scratch and vCPU count.  Boots one guest at a time.  Run as root (./wbtrace run needs it).
Exit status: 0 table written; 1 a boot failed (the table covers the others); 2 usage.
EOF
}

reps=5 out="" notrace="" modes=() workloads=() scratches=() cpus_list=()
while [ $# -gt 0 ]; do
	case "$1" in
	--reps) reps=${2:?}; shift ;;
	--mode) modes+=("${2:?}"); shift ;;
	--workload) workloads+=("${2:?}"); shift ;;
	--scratch) scratches+=("${2:?}"); shift ;;
	--cpus) cpus_list+=("${2:?}"); shift ;;
	-o) out=${2:?}; shift ;;
	--no-trace) notrace=--no-trace ;;
	--table) exec "$py" "$top/workloads/icount_eval.py" table "${2:?}" ;;
	-h|--help) usage; exit 0 ;;
	*) echo "icount-eval: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "icount-eval: --reps takes a positive number" >&2; exit 2; }
# shellcheck disable=SC2054 # commas belong to the QEMU spec
[ ${#modes[@]} -gt 0 ] || modes=(off shift=auto shift=3,sleep=off,align=off)
[ ${#workloads[@]} -gt 0 ] || workloads=(fio-randwrite fio-seqwrite)
[ ${#scratches[@]} -gt 0 ] || scratches=(default)
[ ${#cpus_list[@]} -gt 0 ] || cpus_list=(default)
out=${out:-$top/results/icount-eval-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(realpath "$out")

load() { cut -d' ' -f1-3 /proc/loadavg; }
failed=0 order=0
for wl in "${workloads[@]}"; do
	for mode in "${modes[@]}"; do
	for scratch in "${scratches[@]}"; do
	for cpus in "${cpus_list[@]}"; do
		order=$((order + 1))
		cell=$out/$wl--$(echo "$mode" | tr ',=' '_-')
		guest=()
		[ "$scratch" = default ] || { guest+=(--scratch "$scratch"); cell+=--$scratch; }
		[ "$cpus" = default ] || { guest+=(--cpus "$cpus"); cell+=--${cpus}cpu; }
		mkdir -p "$cell"
		icount=()
		[ "$mode" = off ] || icount=(--icount "$mode")
		echo "== $wl, icount $mode, scratch $scratch, vCPUs $cpus: $reps reps in one boot (load $(load)) -> $cell"
		load_before=$(load) t0=$(date +%s)
		uptime >"$cell/uptime-before.txt"
		# Explicit --icount off: an exported WBTRACE_ICOUNT must not change the "off" cells.
		[ "$mode" = off ] && icount=(--icount off)
		set +e
		"$top/wbtrace" run "$wl" --variant stock --reps "$reps" ${notrace:+"$notrace"} \
			"${icount[@]}" "${guest[@]}" -o "$cell/runs" 2>&1 |
			"$py" "$top/workloads/icount_eval.py" stamp "$cell/output.log"
		rc=${PIPESTATUS[0]}
		set -e
		t1=$(date +%s)
		uptime >"$cell/uptime-after.txt"
		"$py" "$top/workloads/icount_eval.py" cell "$cell/cell.json" --workload "$wl" \
			--icount "$mode" --order "$order" --reps "$reps" --exit "$rc" \
			--wall "$((t1 - t0))" --load-before "$load_before" --load-after "$(load)" \
			${notrace:+--untraced}
		if [ "$rc" != 0 ]; then
			echo "icount-eval: $wl with icount $mode: ./wbtrace run exited $rc" >&2
			failed=1
		fi
	done
	done
	done
done
"$py" "$top/workloads/icount_eval.py" table "$out" --json "$out/table.json" | tee "$out/table.md"
echo "icount-eval: $out/table.md"
exit "$failed"
