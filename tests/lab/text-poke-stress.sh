#!/bin/bash
# Inside the lab guest: for SECONDS (default 60), patch a hot kernel function's
# ftrace call site over and over (function tracer on release_pages, on and off:
# text_poke_bp() each way) while two processes map, touch and unmap memory,
# calling release_pages() on every vCPU.  Under QEMU 7.2's multi-threaded TCG
# (WBTRACE_TCG_THREAD=multi) this panicked the guest with "Oops: int3" after
# about 3 min: a vCPU kept a translation of the function made while the INT3
# was in.  Passing means the guest survived every round (tests/lab/vm-guest.sh).
set -eu
seconds=${1:-60}
t=/sys/kernel/tracing
[ -w $t/set_ftrace_filter ] || { echo "no tracefs function tracer in the guest"; exit 1; }
for _ in 1 2; do /usr/bin/python3 "$(dirname "$0")/munmap_loop.py" & done
trap 'kill $(jobs -p) 2>/dev/null; echo nop >$t/current_tracer' EXIT
echo release_pages >$t/set_ftrace_filter || { echo "release_pages is not traceable"; exit 1; }
rounds=0 end=$((SECONDS + seconds))
while [ $SECONDS -lt $end ]; do
	echo function >$t/current_tracer
	echo nop >$t/current_tracer
	rounds=$((rounds + 1))
done
echo "release_pages patched $((2 * rounds)) times in ${seconds}s: the guest survived"
