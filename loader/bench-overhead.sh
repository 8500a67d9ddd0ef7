#!/bin/bash
# Self-overhead benchmark of the tracer (a measurement, not a pass/fail test).
#
# The same fio job -- 4 KiB random buffered writes into one file, end_fsync, so
# the writeback runs in fio's own context -- is run with the probes detached
# ("none"), under `wbtrace-trace -m hist`, under `wbtrace-trace` (stream mode,
# default 8 MiB ring buffer, events written to a file on tmpfs) and under
# loader/wbtrace.bt (the same probe sites as a plain bpftrace script: the
# anchor); optionally "idle": no probes, only a process that wakes every
# 100 ms like the tracer's ring-buffer poll (a control for the baseline:
# under a loaded TCG host a periodically waking task changes the timing of
# everything).  Configurations are interleaved within each repetition (the order
# rotates per repetition) in one boot; the tracer is attached before the timed
# window and detached after it, so start-up and tear-down are not counted.
#
# Per run: wall time of fio (throughput = SIZE / wall, fsync included),
# guest CPU time, exact: CPUs x elapsed - idle - iowait (NO_HZ measures both
# exactly, workloads/guestcpu.py) from just before fio until TAIL_SEC after it
# (so that the stream reader's last drain, at most one 100 ms poll late, is
# inside); under `-icount shift=3` guest time is executed instructions x 8 ns,
# so this is a count of the guest's work, everyone's (fio, writeback, the
# probes, the tracer's reader).  Also the sampled busy ticks, fio's own system
# time, the tracer's event counts and ring-buffer drops.
# Per configuration vs "none", paired by repetition: guest CPU per MiB and
# throughput, each as a change in % with a 95 % t-interval (analysis/stats.py
# mean_ci over the per-repetition relative differences), extra guest CPU per
# event, drops.  Writes OUTDIR/report.json (+ runs.jsonl, table.txt) and
# prints the table (loader/bench_overhead.py computes both).
#
# Inside the lab guest (the host side: `make -C loader bench`):
#   loader/bench-overhead.sh [-r REPS] [-s MIB] [-C "none [idle] hist stream bpftrace"]
#                            [-o OUTDIR] [-w SETTLE_SEC] [-t TAIL_SEC] [-S STATS_REPS]
#                            [-i ICOUNT_SPEC] [-N] [MOUNTPOINT]
# Without MOUNTPOINT a fresh f2fs is made on $WBTRACE_SCRATCH (destroyed;
# mounted nodiscard,background_gc=off).  Every timed run starts after the
# probes are attached, a sync and SETTLE_SEC (default 5) of quiet.
# After the timed repetitions, STATS_REPS (default 1) probe-cost runs per traced
# configuration, rotated, with kernel.bpf_stats_enabled=1: time inside the BPF
# programs (run_time_ns / run_cnt), the tracer's and bpftrace's alike; -N skips
# them.  -i records the guest's QEMU -icount spec in conditions.txt (the guest
# cannot see it).
# Default OUTDIR: results/bench-overhead/<UTC time>-<variant>/.
# Under TCG every instruction (BPF included) is emulated: numbers are an
# upper bound and only comparable within one boot.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
TRACE=${WBTRACE_TRACE:-$TOP/loader/build/wbtrace-trace}
BT=$TOP/loader/wbtrace.bt
PY=/usr/bin/python3
REPS=5 MIB=32 CONFIGS="none hist stream bpftrace" OUT="" MNT="" STATS=1 SETTLE=5 TAIL=1
STATS_REPS=1 ICOUNT=unknown

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while getopts "r:s:C:o:w:t:S:i:Nh" o; do
	case "$o" in
	r) REPS=$OPTARG ;;
	s) MIB=$OPTARG ;;
	C) CONFIGS=$OPTARG ;;
	o) OUT=$OPTARG ;;
	N) STATS=0 ;;
	w) SETTLE=$OPTARG ;;
	t) TAIL=$OPTARG ;;
	S) STATS_REPS=$OPTARG ;;
	i) ICOUNT=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
MNT=${1:-}
# one rep: a pilot (times the run; no intervals)
if ! [[ "$REPS" =~ ^[0-9]+$ ]] || [ "$REPS" -lt 1 ]; then echo "bench: -r needs >= 1" >&2; exit 2; fi
if ! [[ "$MIB" =~ ^[0-9]+$ ]] || [ "$MIB" -lt 1 ]; then echo "bench: bad -s $MIB" >&2; exit 2; fi
if ! [[ "$STATS_REPS" =~ ^[0-9]+$ ]] || [ "$STATS_REPS" -lt 1 ]; then echo "bench: bad -S $STATS_REPS" >&2; exit 2; fi
if ! [[ "$TAIL" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then echo "bench: bad -t $TAIL" >&2; exit 2; fi
for c in $CONFIGS; do
	case "$c" in none | idle | hist | stream | bpftrace) ;; *) echo "bench: unknown config $c" >&2; exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 3; }
[ -x "$TRACE" ] || { echo "bench: $TRACE not built (make -C loader)" >&2; exit 3; }
command -v fio >/dev/null || { echo "bench: fio not installed" >&2; exit 3; }
case " $CONFIGS " in *" bpftrace "*) command -v bpftrace >/dev/null || { echo "bench: bpftrace not installed" >&2; exit 3; } ;; esac

work=$(mktemp -d /tmp/wbbench.XXXXXX)
own_mnt=""
cleanup() {
	[ -n "${tracer:-}" ] && kill -INT "$tracer" 2>/dev/null && wait "$tracer" 2>/dev/null
	[ -n "$own_mnt" ] && mountpoint -q "$own_mnt" && umount "$own_mnt"
	rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$MNT" ]; then
	: "${WBTRACE_SCRATCH:?no MOUNTPOINT and not in the lab guest (WBTRACE_SCRATCH)}"
	own_mnt=/tmp/wbbench-mnt MNT=$own_mnt
	mkdir -p "$MNT"
	mkfs.f2fs -q -f "$WBTRACE_SCRATCH" >/dev/null
	# no background discard / GC: they would run into the next timed run
	mount -t f2fs -o nodiscard,background_gc=off "$WBTRACE_SCRATCH" "$MNT"
fi
grep -q " $MNT f2fs " /proc/mounts || { echo "bench: $MNT is not an f2fs mount" >&2; exit 2; }
variant=${WBTRACE_VARIANT:-unknown}
[ -n "$OUT" ] || OUT=$TOP/results/bench-overhead/$(date -u +%Y%m%dT%H%M%SZ)-$variant
mkdir -p "$OUT"
: >"$OUT/runs.jsonl"
FIO=(fio --name=randwrite --directory="$MNT" --filename=bench.dat --rw=randwrite --bs=4k
	--size="${MIB}M" --ioengine=psync --fallocate=none --end_fsync=1 --randrepeat=1
	--randseed=4242 --output-format=json)

# snap FILE: the time (us) and /proc/stat, for the exact guest CPU of a window
snap() { { echo "t_us ${EPOCHREALTIME/./}"; cat /proc/stat; } >"$1"; }
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# utime + stime of the tracer process (its reader; probes run in other tasks)
tracer_ticks() { if [ -n "$tracer" ]; then awk '{ print $14 + $15 }' "/proc/$tracer/stat"; else echo 0; fi; }

# start CFG: attach the probes of CFG (nothing for none) and wait until attached.
tracer="" killed=0
start() {
	local cfg=$1 ready
	case "$cfg" in
	none) return 0 ;;
	idle) (trap 'exit 0' TERM; echo "idle: attached"; while :; do sleep 0.1; done) >"$work/t.out" 2>"$work/t.err" &
		ready="idle: attached" ;;
	hist) "$TRACE" -m hist -s "$work/sum.json" >"$work/t.out" 2>"$work/t.err" &
		ready="Tracing f2fs writeback" ;;
	stream) "$TRACE" -s "$work/sum.json" -o "$work/events.jsonl" >"$work/t.out" 2>"$work/t.err" &
		ready="Tracing f2fs writeback" ;;
	bpftrace) bpftrace -B none "$BT" >"$work/t.out" 2>"$work/t.err" &
		ready="wbtrace.bt: attached" ;;
	esac
	tracer=$!
	for _ in $(seq 1800); do
		grep -q "$ready" "$work/t.out" "$work/t.err" && return 0
		kill -0 "$tracer" 2>/dev/null || { echo "bench: $cfg exited before attaching:" >&2; cat "$work/t.err" >&2; exit 1; }
		sleep 0.1
	done
	echo "bench: $cfg did not attach in 180 s" >&2; exit 1
}
stop() {
	[ -n "$tracer" ] || return 0
	if [ "$1" = idle ]; then kill -TERM "$tracer"; else kill -INT "$tracer"; fi
	# bpftrace 0.17 has been seen not to exit on SIGINT under TCG: bounded wait
	local _ rc=0
	for _ in $(seq 1200); do kill -0 "$tracer" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$tracer" 2>/dev/null; then
		echo "bench: $1 did not exit 120 s after SIGINT: killed, run kept without its counts" >&2
		kill -KILL "$tracer" 2>/dev/null || true
		killed=1
	fi
	wait "$tracer" || rc=$?
	tracer=""
	[ "$killed" = 0 ] || return 0
	# 9 = drops above --max-drop-pct: still a result (the drops are reported)
	[ "$rc" = 0 ] || [ "$rc" = 9 ] || { echo "bench: tracer exited $rc:" >&2; cat "$work/t.err" >&2; exit 1; }
}

# one CFG REP POS: one timed fio run; appends one JSON line to runs.jsonl.
one() {
	local cfg=$1 rep=$2 pos=$3 dest=${4:-$OUT/runs.jsonl} t0 t1 b0 b1 c0 c1
	echo "[]" >"$work/progs.json"
	rm -f "$MNT/bench.dat" "$work/sum.json" "$work/events.jsonl" "$work/t.out" "$work/t.err" \
		"$work/stat0" "$work/stat1"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	killed=0
	start "$cfg"
	# The same quiet gap before every timed run, whatever the attach took
	# (without it "none" runs right into the checkpoint/discard work of the
	# previous run's delete and the traced configs do not).
	sync
	sleep "$SETTLE"
	c0=$(tracer_ticks) b0=$(busy_ticks)
	snap "$work/stat0"
	t0=$(date +%s%N)
	/usr/bin/time -f "%S %U" -o "$work/time" "${FIO[@]}" --output="$work/fio.json"
	t1=$(date +%s%N)
	sleep "$TAIL"
	snap "$work/stat1"
	b1=$(busy_ticks) c1=$(tracer_ticks)
	if [ "$dest" != "$OUT/runs.jsonl" ] && [ -n "$tracer" ]; then
		bpftool prog show -j >"$work/progs.json" 2>/dev/null || echo "[]" >"$work/progs.json"
	fi
	stop "$cfg"
	"$PY" "$TOP/loader/bench_overhead.py" row "$work" "$cfg" "$rep" "$pos" "$((t1 - t0))" "$((b1 - b0))" \
		"$((c1 - c0))" "$(getconf CLK_TCK)" "$MIB" "$killed" >>"$dest"
	rm -f "$MNT/bench.dat"
}

cfgs=()
read -r -a cfgs <<<"$CONFIGS"
n=${#cfgs[@]}
echo "bench: $MIB MiB 4k random buffered writes + fsync, $REPS reps x {${cfgs[*]}}, on $MNT -> $OUT" >&2
one none 0 0 && : >"$OUT/runs.jsonl"	# warm-up (page cache, fio, f2fs), discarded
for ((r = 0; r < REPS; r++)); do
	for ((i = 0; i < n; i++)); do
		cfg=${cfgs[$(((i + r) % n))]}
		one "$cfg" "$r" "$i"
		tail -1 "$OUT/runs.jsonl" | "$PY" "$TOP/loader/bench_overhead.py" progress >&2
	done
done

# Probe-cost pass (not timed, not in the throughput statistics): one more run
# per traced configuration with kernel.bpf_stats_enabled=1, which makes the
# kernel account every BPF program's run time (it adds two clock reads per
# program run, hence a separate pass).  Robust against a noisy host: it counts
# only the time spent inside the BPF programs (not the fentry trampoline /
# kprobe / tracepoint dispatch around them).
: >"$OUT/probe_cost.jsonl"
if [ "$STATS" = 1 ] && command -v bpftool >/dev/null; then
	stats0=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -q -w kernel.bpf_stats_enabled=1
	traced=()
	for cfg in "${cfgs[@]}"; do [ "$cfg" = none ] || [ "$cfg" = idle ] || traced+=("$cfg"); done
	for ((r = 0; r < STATS_REPS && ${#traced[@]} > 0; r++)); do
		for ((i = 0; i < ${#traced[@]}; i++)); do
			cfg=${traced[$(((i + r) % ${#traced[@]}))]}
			one "$cfg" "$r" "$i" "$OUT/probe_cost.jsonl"
			tail -1 "$OUT/probe_cost.jsonl" | "$PY" "$TOP/loader/bench_overhead.py" progress >&2
		done
	done
	sysctl -q -w kernel.bpf_stats_enabled="$stats0"
fi

# Conditions, then the analysis.
{
	echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel=$(uname -r)"
	echo "variant=$variant"
	# QEMU's TCG names its CPU "QEMU TCG CPU"; systemd-detect-virt says
	# "docker" in the lab guest (9p root), so ask it about VMs only.
	if grep -q "TCG" /proc/cpuinfo; then echo "virt=qemu-tcg"
	else echo "virt=$(systemd-detect-virt --vm 2>/dev/null || echo none)"; fi
	echo "cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "cpus=$(nproc)"
	echo "mem_kib=$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)"
	echo "bpftrace=$(bpftrace --version 2>/dev/null || echo none)"
	echo "tracer=$("$TRACE" --version 2>/dev/null | head -1)"
	echo "fio=${FIO[*]}"
	echo "settle_s=$SETTLE"
	echo "tail_s=$TAIL"
	echo "icount=$ICOUNT"
	echo "stats_reps=$STATS_REPS"
	echo "mount_opts=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts)"
} >"$OUT/conditions.txt"
"$PY" "$TOP/loader/bench_overhead.py" report "$OUT"
