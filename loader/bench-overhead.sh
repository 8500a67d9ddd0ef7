#!/bin/bash
# Self-overhead of the tracer: the same buffered write + fsync, untraced, under
# hist mode and under stream mode, interleaved, REPS times each.  Prints one
# JSON object per configuration (median wall time and system CPU time of the
# writer, per folio written) and the overhead vs. untraced per folio.  The
# fsync makes the writer run the writeback itself, so probe cost lands in its
# system time.
#
# Runs where f2fs is mounted (e.g. inside the lab guest):
#   loader/bench-overhead.sh MOUNTPOINT [MIB] [REPS]
# Under TCG the numbers are noisy and inflated; compare configurations run in
# the same boot only.
set -euo pipefail
MNT=${1:?usage: bench-overhead.sh MOUNTPOINT [MIB] [REPS]}
MIB=${2:-32}
REPS=${3:-5}
TRACE=${WBTRACE_TRACE:-$(cd "$(dirname "$0")" && pwd)/build/wbtrace-trace}
PY=/usr/bin/python3
work=$(mktemp -d /tmp/wbbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
head -c $((MIB << 20)) /dev/urandom >"$work/src"

# one_run: write the file with fsync; print "wall_ns sys_ns" of the writer
one_run() {
	local f="$MNT/bench.$RANDOM" t0 t1
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(date +%s%N)
	/usr/bin/time -f "%S" -o "$work/time" dd if="$work/src" of="$f" bs=1M conv=fsync status=none
	t1=$(date +%s%N)
	echo "$((t1 - t0)) $(awk '{printf "%d", $1 * 1e9}' "$work/time")"
	rm -f "$f"
}

# Start the tracer and wait until it has attached (its "Tracing ..." line).
start_tracer() { # MODE_ARGS...
	"$TRACE" "$@" >"$work/trace.out" 2>"$work/trace.err" &
	tracer=$!
	for _ in $(seq 600); do
		grep -q "Tracing f2fs writeback" "$work/trace.err" && return 0
		kill -0 "$tracer" 2>/dev/null || { cat "$work/trace.err" >&2; exit 1; }
		sleep 0.1
	done
	echo "bench: tracer did not attach" >&2; exit 1
}
stop_tracer() { kill -INT "$tracer"; wait "$tracer" || true; }

# Interleaved: each rep runs none, hist, stream; the tracer is attached before
# the write starts and detached after it, so its start-up is not counted.  One
# warm-up write first, discarded.
for cfg in none hist stream; do : >"$work/$cfg"; done
one_run >/dev/null
for ((r = 0; r < REPS; r++)); do
	for cfg in none hist stream; do
		case "$cfg" in
		hist) start_tracer -m hist ;;
		stream) start_tracer -o /dev/null -b 16 ;;
		esac
		one_run >>"$work/$cfg"
		[ "$cfg" = none ] || { stop_tracer; grep -E "^events" "$work/trace.out" >&2 || true; }
	done
done
"$PY" - "$work" "$MIB" <<'EOF'
import json, statistics, sys
d, mib = sys.argv[1], int(sys.argv[2])
folios = mib * 256
res = {}
for cfg in ("none", "hist", "stream"):
    rows = [tuple(map(int, l.split())) for l in open(f"{d}/{cfg}") if l.strip()]
    wall = statistics.median(r[0] for r in rows)
    sys_ = statistics.median(r[1] for r in rows)
    res[cfg] = (wall, sys_)
    print(json.dumps({"config": cfg, "reps": len(rows), "mib": mib,
                      "wall_ms_median": round(wall / 1e6, 2), "sys_ms_median": round(sys_ / 1e6, 2),
                      "wall_ns_per_folio": round(wall / folios), "sys_ns_per_folio": round(sys_ / folios)}))
for cfg in ("hist", "stream"):
    print(json.dumps({"overhead_vs_untraced": cfg,
                      "wall_ns_per_folio": round((res[cfg][0] - res["none"][0]) / folios),
                      "sys_ns_per_folio": round((res[cfg][1] - res["none"][1]) / folios),
                      "note": "tracer attached before the reps; start-up not included"}))
EOF
