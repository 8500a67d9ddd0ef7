#!/bin/bash
# Guest test (inside the lab VM, each f2fs variant): the tracer paths
# trace-e2e.sh does not reach, each checked against ground truth that does not
# come from the tracer:
#   1. in-place updates: overwrite + fsync with ipu_policy = F2FS_IPU_FORCE;
#      the IPU data bios must add up to the bytes overwritten, match the
#      "IPU: N blocks" counter of /sys/kernel/debug/f2fs/status, and the file's
#      physical extents (FIEMAP) must not move.
#   2. "not worth compressing" clusters: random data into a compressed file;
#      every cluster must be not_worth with 0 blocks saved, and the tracer's
#      compr_written_block/compr_saved_block must equal the sysfs deltas.
#   3. -p PID and -c CGROUP: two writers fsync concurrently, each in its own
#      cgroup; a tracer filtered on one of them must see all of that writer's
#      writeback (done in its own fsync context) and nothing of the other.
. "$(dirname "$0")/lib.sh"

need_tracer
PY=/usr/bin/python3
CHECKS=$(dirname "$0")/trace_filters.py   # the checks of this test
out=$(mktemp -d /tmp/trace-filters.XXXXXX)
dev=$(basename "$DEV")
make_file "$out/rand.src" $((6 << 20)) random

# wait_attached ERRFILE PID: until the tracer printed its "Tracing" line.
wait_attached() {
	local _
	for _ in $(seq 600); do
		grep -q "Tracing f2fs writeback" "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- 1. IPU
mkfs_mount "" ""
make_file "$MNT/ipu.dat" $((4 << 20)) random
sync
ino=$(stat -c %i "$MNT/ipu.dat")
if [ ! -r /sys/kernel/debug/f2fs/status ]; then
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
fi
ipu_blocks() { awk '/^IPU: [0-9]+ blocks/ { print $2; exit }' /sys/kernel/debug/f2fs/status; }
extents() { filefrag -v -b4096 "$MNT/ipu.dat" | awk '$1 ~ /^[0-9]+:$/ { print $2, $3, $4, $5 }'; }
policy0=$(sysfs_stat ipu_policy)
echo 1 >"/sys/fs/f2fs/$dev/ipu_policy"	# BIT(F2FS_IPU_FORCE)
ext0=$(extents) ipu0=$(ipu_blocks)
rc=0
"$TRACE" -D "$MNT" -O "$out/ipu" -q -- \
	dd if="$out/rand.src" of="$MNT/ipu.dat" bs=1M count=4 conv=notrunc,fsync status=none \
	2>"$out/ipu.err" || rc=$?
ext1=$(extents) ipu1=$(ipu_blocks)
echo "$policy0" >"/sys/fs/f2fs/$dev/ipu_policy"
[ "$rc" = 0 ] || fail "ipu run exited $rc: $(cat "$out/ipu.err")"
if [ -z "$ipu0" ] || [ -z "$ipu1" ]; then fail "no 'IPU: N blocks' line in /sys/kernel/debug/f2fs/status"; fi
if [ -z "$ext0" ] || [ "$ext0" != "$ext1" ]; then fail "ipu: the file's physical extents moved (not in place?)"; fi
log "ipu: debugfs IPU blocks +$(( ${ipu1:-0} - ${ipu0:-0} )), extents $(wc -l <<<"$ext1") unchanged=$([ "$ext0" = "$ext1" ] && echo yes || echo no)"
"$PY" "$CHECKS" ipu "$out/ipu" "$ino" $((4 << 20)) "$(( ${ipu1:-0} - ${ipu0:-0} ))" || fail "ipu: tracer does not match the ground truth"

# ------------------------------------------------- 2. not worth compressing
mkfs_mount "extra_attr,compression" \
	"compress_algorithm=lz4,compress_log_size=2,compress_extension=bin"
: >"$MNT/rand.bin"
sync
ino=$(stat -c %i "$MNT/rand.bin")
cw0=$(sysfs_stat compr_written_block) cs0=$(sysfs_stat compr_saved_block)
rc=0
"$TRACE" -D "$MNT" -O "$out/nw" -q -- \
	dd if="$out/rand.src" of="$MNT/rand.bin" bs=1M count=4 conv=fsync status=none \
	2>"$out/nw.err" || rc=$?
cw1=$(sysfs_stat compr_written_block) cs1=$(sysfs_stat compr_saved_block)
[ "$rc" = 0 ] || fail "not-worth run exited $rc: $(cat "$out/nw.err")"
lsattr "$MNT/rand.bin" | grep -q '^[^ ]*c' || fail "rand.bin is not a compressed file"
log "not-worth: compr_written_block +$((cw1 - cw0)), compr_saved_block +$((cs1 - cs0))"
"$PY" "$CHECKS" not-worth "$out/nw" "$ino" $((4 << 20)) "$((cw1 - cw0))" "$((cs1 - cs0))" || fail "not-worth: tracer does not match the ground truth"

# ------------------------------------------------------ 3. -p and -c filters
mkfs_mount "" ""
: >"$MNT/a.dat"
: >"$MNT/b.dat"
sync
ino_a=$(stat -c %i "$MNT/a.dat") ino_b=$(stat -c %i "$MNT/b.dat")
CG=/sys/fs/cgroup
[ -f "$CG/cgroup.controllers" ] || mount -t cgroup2 cgroup2 "$CG"
cg_a=$CG/wbtest-a.$$ cg_b=$CG/wbtest-b.$$
mkdir "$cg_a" "$cg_b"
mkfifo "$out/go_a" "$out/go_b"
# Each writer blocks on its fifo, is moved to its cgroup, then execs dd
# (same PID): 4 MiB for A, 6 MiB for B, both with fsync (writeback in their context).
(read -r _ <"$out/go_a"; exec dd if="$out/rand.src" of="$MNT/a.dat" bs=1M count=4 conv=fsync status=none) &
pa=$!
(read -r _ <"$out/go_b"; exec dd if="$out/rand.src" of="$MNT/b.dat" bs=1M count=6 conv=fsync status=none) &
pb=$!
echo "$pa" >"$cg_a/cgroup.procs"
echo "$pb" >"$cg_b/cgroup.procs"
"$TRACE" -D "$MNT" -p "$pa" -O "$out/fp" >/dev/null 2>"$out/fp.err" &
t1=$!
"$TRACE" -D "$MNT" -c "$cg_b" -O "$out/fc" >/dev/null 2>"$out/fc.err" &
t2=$!
"$TRACE" -D "$MNT" -m hist -p "$pb" -s "$out/fh.json" >/dev/null 2>"$out/fh.err" &
t3=$!
ok=1
wait_attached "$out/fp.err" "$t1" || { fail "-p tracer did not attach: $(cat "$out/fp.err")"; ok=0; }
wait_attached "$out/fc.err" "$t2" || { fail "-c tracer did not attach: $(cat "$out/fc.err")"; ok=0; }
wait_attached "$out/fh.err" "$t3" || { fail "-m hist -p tracer did not attach: $(cat "$out/fh.err")"; ok=0; }
echo go >"$out/go_a" &
echo go >"$out/go_b"
rc_a=0 rc_b=0
wait "$pa" || rc_a=$?
wait "$pb" || rc_b=$?
if [ "$rc_a" != 0 ] || [ "$rc_b" != 0 ]; then fail "writers exited $rc_a / $rc_b"; fi
for t in "$t1" "$t2" "$t3"; do kill -INT "$t" 2>/dev/null || true; done
for t in "$t1" "$t2" "$t3"; do
	rc=0; wait "$t" || rc=$?
	[ "$rc" = 0 ] || fail "filtered tracer $t exited $rc"
done
rmdir "$cg_a" "$cg_b"
if [ "$ok" = 1 ]; then
	"$PY" "$CHECKS" filters "$out" "$pa" "$pb" "$ino_a" "$ino_b" || fail "-p/-c filters: wrong events"
fi

rm -rf "$out"
finish
