#!/bin/bash
# Guest test (inside the lab VM, each f2fs variant): one latency of the tracer
# against an independent clock.  ftrace's function_graph times every call of
# f2fs_write_data_pages (its own hooks, trace clock "mono" = the tracer's
# bpf_ktime_get_ns) while the tracer records the same passes; each traced pass
# must have its function_graph call (same thread, same start) and the same
# duration, up to the two tools' own cost (tests/guest/trace_xcheck.py).
# Load: 16 MiB written with O_DSYNC in 64 KiB writes: 256 fsync passes.
# On a failure the trace and the graph are kept under results/guest-failures/,
# and the failed check names the closest call or pass of each one unmatched.
. "$(dirname "$0")/lib.sh"

need_tracer
PY=/usr/bin/python3
CHECKS=$(dirname "$0")/trace_xcheck.py
TR=/sys/kernel/tracing
out=$(mktemp -d /tmp/trace-xcheck.XXXXXX)

ftrace_off() {
	echo 0 >"$TR/tracing_on"
	echo nofuncgraph-abstime >"$TR/trace_options"
	echo nofuncgraph-proc >"$TR/trace_options"
	echo nop >"$TR/current_tracer"
	: >"$TR/set_graph_function"
	: >"$TR/set_ftrace_filter"
	echo 0 >"$TR/max_graph_depth"
	echo local >"$TR/trace_clock"
}
trap 'ftrace_off 2>/dev/null || true' EXIT

if ! grep -qw function_graph "$TR/available_tracers" 2>/dev/null; then
	fail "tracefs has no function_graph tracer: the cross-check cannot run"
	finish
fi
mkfs_mount "" ""
sync

echo 0 >"$TR/tracing_on"
echo nop >"$TR/current_tracer"
echo mono >"$TR/trace_clock"
# Hook this one function only: function_graph otherwise patches every
# function's call site, thousands of live text pokes that TCG's vCPUs have been
# seen to trip over (an int3 Oops in the middle of the switch).
echo f2fs_write_data_pages >"$TR/set_ftrace_filter"
echo f2fs_write_data_pages >"$TR/set_graph_function"
echo 1 >"$TR/max_graph_depth"
echo 8192 >"$TR/buffer_size_kb"
echo function_graph >"$TR/current_tracer"
# the tracer's own options exist only while it is the current tracer
echo funcgraph-abstime >"$TR/trace_options"
echo funcgraph-proc >"$TR/trace_options"
: >"$TR/trace"
echo 1 >"$TR/tracing_on"
rc=0
"$TRACE" -D "$MNT" -O "$out/t" --sync -q -- \
	dd if=/dev/zero of="$MNT/f" bs=64k count=256 oflag=dsync status=none 2>"$out/t.err" || rc=$?
echo 0 >"$TR/tracing_on"
[ "$rc" = 0 ] || fail "tracer exited $rc: $(cat "$out/t.err")"
cp "$TR/trace" "$out/graph.txt"
overrun=$(awk '/^overrun:/ { n += $2 } END { print n + 0 }' "$TR"/per_cpu/cpu*/stats)
[ "$overrun" = 0 ] || fail "function_graph lost $overrun events (buffer overrun): the cross-check is incomplete"
log "function_graph: $(grep -c 'f2fs_write_data_pages' "$out/graph.txt" || true) calls of f2fs_write_data_pages"
if ! "$PY" "$CHECKS" "$out/t" "$out/graph.txt"; then
	keep_evidence trace-xcheck "$out/t" "$out/graph.txt"
	fail "tracer vs function_graph (see above)"
fi

rm -rf "$out"
finish
