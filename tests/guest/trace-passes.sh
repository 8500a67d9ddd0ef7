#!/bin/bash
# Guest test (inside the lab VM, each f2fs variant): the tracer's per-pass
# records ("wp" lines of events.jsonl) and the summary's "passes" object
# (analysis/SCHEMA.md sections 3-4), on a load whose passes are known:
#
#   1. A big file is dirtied with background writeback held off
#      (dirty_background_bytes 768 MiB, no periodic flush), then the background
#      threshold is dropped to one page and 1 MiB more is written: the flusher
#      writes the big file in background passes of at most its chunk
#      (>= 1024 pages), so the first ones run out of budget.  While it does, a
#      second file is written and fsync()ed, then written with O_DSYNC: its
#      WB_SYNC_ALL "fsync" passes raise wb_sync_req[DATA], so background
#      passes that start meanwhile must give way (priority_stop, or return at
#      once when the inode is clean).
#      Then sync(2) (the tracer's --sync).
#   2. The same, smaller, in hist mode (counts from the BPF map only).
#   3. The same with kprobe/kretprobe and raw_tp (hist mode).
#   4. The same in tracepoint-only mode: the exits are not traced, so the
#      summary says "complete": false and the exit fields are null, not 0.
#   5. The same on compressed files (lz4, 4-page clusters), stream mode: the
#      cluster paths (stock's old loop; patched's clusters on writeback_iter,
#      whose budget loan also ends a pass through the sentinel).
#
# Checked from the trace against the load and against itself: background and
# fsync passes seen with their class, sync mode, nr_to_write and reason;
# budget passes used their budget; every total of "passes" equals the sum of
# its classes and the same count from the records; folios written in passes
# == the folios_written counter == the file sizes; every priority_stop pass
# overlaps a WB_SYNC_ALL pass; every NONE pass that starts inside a
# WB_SYNC_ALL pass gives way at entry.  Latency phases (stream and compressed
# rounds): set-up + gaps + writes + clusters + tail == the pass time exactly,
# and each sum equals the folio records of that pass; tracepoint-only: no
# latency at all (null, no samples), never entry-to-entry.
. "$(dirname "$0")/lib.sh"

need_tracer
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
CHECKS=$(dirname "$0")/trace_passes.py   # the checks of this test
BIG=${TRACE_PASSES_MIB:-96}		# MiB: > 1 chunk even at the largest chunk (52 MiB)
out=$(mktemp -d /tmp/trace-passes.XXXXXX)

save_vm
cleanup() { restore_vm; }
trap cleanup EXIT

mkfs_mount "" ""
sync
EXT=""			# file name suffix (.txt: compressed, round 5)

# load MIB: the workload above, run under the tracer (its command).
cat >"$out/load.sh" <<'EOF'
set -eu
mnt=$1 mib=$2 ext=${3:-}
echo $((1024 << 20)) >/proc/sys/vm/dirty_bytes
echo $((768 << 20)) >/proc/sys/vm/dirty_background_bytes # no background flush yet
dd if=/dev/zero of="$mnt/big$ext" bs=1M count="$mib" status=none
echo 4096 >/proc/sys/vm/dirty_background_bytes
dd if=/dev/zero of="$mnt/kick$ext" bs=4k count=256 status=none   # balance_dirty_pages: start the flusher
sleep 1
dd if=/dev/zero of="$mnt/fsynced$ext" bs=1M count=8 conv=fsync status=none
# O_DSYNC: each 256 KiB write is fsync()ed at once, too soon for the flusher to
# have written it: WB_SYNC_ALL passes for sure (the fsync above may find the
# file already written back)
dd if=/dev/zero of="$mnt/fsynced$ext" bs=256k count=32 seek=32 oflag=dsync conv=notrunc status=none
EOF

# run LABEL MIB TRACER_OPTS...: a fresh set of files, traced; ino_* of the files.
# A trace the tracer itself declares incomplete (exit LOST: the kernel skipped
# one of our programs, e.g. preempted inside it while another thread hit the
# same probe on that CPU) cannot be checked pass by pass: the load is run
# again, at most 3 times in all, and each such run is logged.
LOST=$(tracer_exit LOST)
run() {
	local label=$1 mib=$2 rc try; shift 2
	for try in 1 2 3; do
		rc=0
		rm -f "$MNT/big$EXT" "$MNT/kick$EXT" "$MNT/fsynced$EXT"
		sync
		restore_vm
		flusher asleep		# no periodic (kupdate) flush, no expiry (lib.sh, sysio.py)
		"$TRACE" -D "$MNT" --sync -q "$@" -- bash "$out/load.sh" "$MNT" "$mib" "$EXT" \
			2>"$out/$label.err" || rc=$?
		restore_vm
		[ "$rc" = "$LOST" ] || break
		log "$label: try $try: the tracer lost events, run again: $(cat "$out/$label.err")"
	done
	[ "$rc" = 0 ] || fail "$label: tracer exited $rc: $(cat "$out/$label.err")"
	ino_big=$(stat -c %i "$MNT/big$EXT") ino_fs=$(stat -c %i "$MNT/fsynced$EXT")
}

# checks ROUND ARGS...: the round's checks (trace_passes.py); a failed check
# keeps this test's traces for the host.
KEEP=""
checks() {
	local rc=0
	"$PY" "$CHECKS" "$@" >"$out/$1.checks" 2>&1 || rc=$?
	cat "$out/$1.checks"
	[ "$rc" = 0 ] || KEEP=1
	return "$rc"
}

# 1. Stream mode.
run stream "$BIG" -O "$out/stream"
checks stream "$out/stream" "$TOP" "${WBTRACE_VARIANT:-}" "$BIG" "$ino_big" "$ino_fs" || fail "stream mode: per-pass checks (see above)"

# 2. Hist mode: no records, the same "passes" from the map.
run hist 24 -m hist -s "$out/hist.json"
checks hist "$out/hist.json" "$TOP" || fail "hist mode: passes (see above)"

# 3. kprobe/kretprobe + raw_tp: every exit seen; kretprobe does not see
#    writeback_iter's arguments, so on patched the ends of WB_SYNC_NONE passes
#    that pass_mark does not decide are inferred (stock: none, loop_end works).
run kprobe 24 --no-fentry --no-tp-btf -m hist -s "$out/kprobe.json"
checks kprobe "$out/kprobe.json" "$TOP" "${WBTRACE_VARIANT:-}" || fail "kprobe mode: passes (see above)"

# 4. Tracepoint-only: entries only; what only the exit shows is absent, not 0.
run tponly 24 --no-fentry --no-kprobe -O "$out/tponly"
checks tponly "$out/tponly" "$TOP" || fail "tracepoint-only mode: passes (see above)"

# 5. Compressed files: every end still exact, the classes consistent, clusters
#    counted in their passes.
mkfs_mount "extra_attr,compression" "compress_algorithm=lz4,compress_log_size=2,compress_extension=txt"
EXT=.txt
run compr 48 -O "$out/compr"
checks compr "$out/compr" "$TOP" || fail "compressed files: per-pass checks (see above)"

[ -z "$KEEP" ] || keep_evidence trace-passes "$out"
rm -rf "$out"
finish
