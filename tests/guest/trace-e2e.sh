#!/bin/bash
# Guest test (inside the lab VM, each f2fs variant): trace a known write load
# and check the traced totals against ground truth that does not come from
# the tracer:
#   - folios written x folio size  == bytes of the plain file (per inode)
#   - sum of all f2fs write bios   == /proc/diskstats sectors written x 512
#   - data bios                    == written folios + compressed blocks (x 4 KiB)
#   - compressed clusters          == /sys/fs/f2fs/<dev>/compr_{written,saved}_block deltas
#   - pages gathered in clusters   == pages of the compressed file
#   - writeback_iter() hand-outs   == written plain folios (patched), none (stock)
# and the same in hist mode, with an inode filter, with the kprobe/raw_tp
# and tracepoint-only fallbacks, and with the hand-out probe skipped (--skip-probe).
. "$(dirname "$0")/lib.sh"

need_tracer
PY=/usr/bin/python3
CHECKS=$(dirname "$0")/trace_e2e.py   # the checks of this test
MIB=${TRACE_E2E_MIB:-16}
out=$(mktemp -d /tmp/trace-e2e.XXXXXX)
dev=$(basename "$DEV")

mkfs_mount "extra_attr,compression" \
	"compress_algorithm=lz4,compress_log_size=2,compress_extension=txt"
make_file "$out/plain.src" $((MIB << 20)) random
make_file "$out/text.src" $((MIB << 20)) text
sync

diskstat() { awk -v d="$dev" '$3 == d { print $10 }' /proc/diskstats; }
s0=$(diskstat) cw0=$(sysfs_stat compr_written_block) cs0=$(sysfs_stat compr_saved_block)

# 1. Stream mode, filtered on this file system (mount point -> s_dev), sync inside the trace.
rc=0
"$TRACE" -D "$MNT" -O "$out/stream" --sync -q -- \
	sh -c "cp '$out/plain.src' '$MNT/plain.dat' && cp '$out/text.src' '$MNT/text.txt'" \
	2>"$out/stream.err" || rc=$?
s1=$(diskstat) cw1=$(sysfs_stat compr_written_block) cs1=$(sysfs_stat compr_saved_block)
[ "$rc" = 0 ] || fail "stream run exited $rc: $(cat "$out/stream.err")"
ino_plain=$(stat -c %i "$MNT/plain.dat") ino_text=$(stat -c %i "$MNT/text.txt")
log "diskstats: $(( (s1 - s0) * 512 )) bytes written; compr_written_block +$((cw1 - cw0)), compr_saved_block +$((cs1 - cs0))"

"$PY" "$CHECKS" stream "$out/stream" "${WBTRACE_VARIANT:-}" "$((MIB << 20))" "$ino_plain" "$ino_text" \
	"$(( (s1 - s0) * 512 ))" "$((cw1 - cw0))" "$((cs1 - cs0))" || fail "stream mode: ground truth mismatch (see above)"

# 2. Hist mode + inode filter: only that inode's folios are counted, in the kernel.
run_filtered() { # LABEL FILE_NAME MIB EXTRA_OPTS...
	local label=$1 name=$2 mib=$3 ino rc=0; shift 3
	: >"$MNT/$name"
	sync
	ino=$(stat -c %i "$MNT/$name")
	"$TRACE" -i "$ino" -s "$out/$label.json" --sync -q "$@" -- \
		dd if="$out/plain.src" of="$MNT/$name" bs=1M count="$mib" conv=notrunc status=none \
		2>"$out/$label.err" || rc=$?
	[ "$rc" = 0 ] || fail "$label: exit $rc: $(cat "$out/$label.err")"
	"$PY" "$CHECKS" filtered "$out/$label.json" "$((mib << 20))" "$label" || fail "$label: counts do not match the file"
}
run_filtered hist f_hist.dat 4 -m hist
run_filtered kprobe f_kprobe.dat 4 --no-fentry --no-tp-btf
run_filtered tponly f_tponly.dat 4 --no-fentry --no-kprobe
run_filtered skip f_skip.dat 4 -m hist --skip-probe handout

# 3. Drops: a 4 KiB ring buffer whose reader is stopped while 4 MiB are written.
#    The run must say so (exit DROPS, valid false, drops > 0) and the in-kernel
#    counters must still be exact.
: >"$MNT/f_drops.dat"
sync
ino=$(stat -c %i "$MNT/f_drops.dat")
"$TRACE" -i "$ino" -b 4K -s "$out/drops.json" >"$out/drops.out" 2>"$out/drops.err" &
tpid=$!
for _ in $(seq 300); do grep -q "Tracing f2fs writeback" "$out/drops.err" && break; sleep 0.1; done
kill -STOP "$tpid"
dd if="$out/plain.src" of="$MNT/f_drops.dat" bs=1M count=4 conv=notrunc,fsync status=none
kill -CONT "$tpid"
kill -INT "$tpid"
rc=0; wait "$tpid" || rc=$?
drops=$(tracer_exit DROPS)
[ "$rc" = "$drops" ] || fail "drops: exit $rc, want $drops ($(tail -1 "$out/drops.err"))"
"$PY" "$CHECKS" drops "$out/drops.json" || fail "drops: summary wrong"

rm -rf "$out"
finish
