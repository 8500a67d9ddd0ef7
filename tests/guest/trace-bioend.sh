#!/bin/bash
# Guest test (inside the lab VM, each f2fs variant): the page_write probe.
# A known load -- a sequential write + fsync, random 4 KiB writes each round
# fsync'ed, into new blocks and over written ones, a file flushed by
# sync_file_range (a WB_SYNC_NONE pass), a compressed file + fsync, then some
# of its clusters overwritten + fsync -- traced
# while blktrace records the device:
#   - every traced write bio is issued (blktrace D) with its size, and every
#     issued write is a traced bio (block-layer merging off: a request never
#     spans two bios)
#   - pages merged + pages that opened a bio == pages of the stream bios
#     submitted, in the kernel's counts and per bio record
#   - every stream bio has an end cause, decided exactly, and the next bio of
#     its stream agrees with it (noncontig: not the next block; full: the next)
#   - the load's known flushes: fsync (integrity), sync_file_range's pass end
#     (pass_end), and on the patched series the flush after each compressed
#     cluster (cluster_end)
# and the same page and cause checks with the kprobe/kretprobe fallback.
. "$(dirname "$0")/lib.sh"

need_tracer
PY=/usr/bin/python3
LOAD_PY=$(cd "$(dirname "$0")" && pwd)/trace_bioend_load.py
CHECKS=$(dirname "$0")/trace_bioend.py   # the checks of this test
out=$(mktemp -d /tmp/trace-bioend.XXXXXX)
dev=$(basename "$DEV")
q=/sys/block/$dev/queue
blkpid=""

save_vm
nomerges0=$(cat "$q/nomerges")
cleanup() {
	[ -n "$blkpid" ] && kill -INT "$blkpid" 2>/dev/null && wait "$blkpid" 2>/dev/null
	echo "$nomerges0" >"$q/nomerges"
	restore_vm
}
trap cleanup EXIT

flusher asleep		# no periodic flush: only the load's own fsyncs write
# background_gc=off: no GC thread moving blocks while blktrace runs
FEATURES=extra_attr,compression
OPTS=background_gc=off,compress_algorithm=lz4,compress_log_size=2,compress_extension=txt
mkfs_mount "$FEATURES" "$OPTS"
echo 2 >"$q/nomerges"	# each bio is issued alone (or split), never merged with another
log "queue: scheduler $(cat "$q/scheduler"), max_sectors_kb $(cat "$q/max_sectors_kb"), max_segments $(cat "$q/max_segments")"
make_file "$out/seq.src" $((8 << 20)) random
make_file "$out/text.src" $((1 << 20)) text

cat >"$out/load.sh" <<'EOS'
set -eu
mnt=$1 src=$2 text=$3 load_py=$4
dd if="$src" of="$mnt/seq" bs=1M conv=fsync status=none
dd if="$text" of="$mnt/c.txt" bs=1M conv=fsync status=none	# compressed clusters
# overwrite compressed clusters: the patched loop submits the bio after each
dd if="$text" of="$mnt/c.txt" bs=64k count=4 conv=notrunc,fsync status=none
/usr/bin/python3 "$load_py" "$mnt"
sync
EOS

# trace_load LABEL TRACER_OPTS...: the load under the tracer; sync first, so
# no bio of the file system is open when the probes arm.
trace_load() {
	local label=$1 rc=0; shift
	sync
	"$TRACE" -D "$MNT" -O "$out/$label" --sync -q "$@" -- \
		bash "$out/load.sh" "$MNT" "$out/seq.src" "$out/text.src" "$LOAD_PY" 2>"$out/$label.err" || rc=$?
	[ "$rc" = 0 ] || fail "$label: the tracer exited $rc: $(tail -2 "$out/$label.err")"
}

# 1. fentry/fexit, under blktrace.  Its trace is set up once
#    /sys/block/DEV/trace/enable says 1, and started just after (1 s of slack);
#    a write it missed fails the check "every traced bio issued".
sync
mkdir "$out/blk"
blktrace -d "$DEV" -D "$out/blk" -o dev >"$out/blktrace.log" 2>&1 &
blkpid=$!
for _ in $(seq 100); do
	[ "$(cat "/sys/block/$dev/trace/enable" 2>/dev/null)" = 1 ] && break
	sleep 0.1
done
sleep 1
[ "$(cat "/sys/block/$dev/trace/enable" 2>/dev/null)" = 1 ] || fail "blktrace did not start: $(cat "$out/blktrace.log")"
trace_load fentry
kill -INT "$blkpid"
wait "$blkpid" || true
blkpid=""
blkparse -i dev -D "$out/blk" -q -f "%a %d %S %N\n" >"$out/blk.txt" 2>"$out/blkparse.err" ||
	fail "blkparse: $(tail -2 "$out/blkparse.err")"
"$PY" "$CHECKS" blk "$out/fentry" "$out/blk.txt" || fail "bio sizes differ from blktrace's"
"$PY" "$CHECKS" pages "$out/fentry" fentry "${WBTRACE_VARIANT:-}" || fail "fentry: page or cause checks"

# 2. The kprobe/kretprobe fallback: the same pages and causes, except that a
#    pass's end (and so pass_end vs priority_stop) may be inferred: the
#    kretprobe does not see writeback_iter's arguments (loader/README.md).
mkfs_mount "$FEATURES" "$OPTS"
trace_load kprobe --no-fentry --no-tp-btf
"$PY" "$CHECKS" pages "$out/kprobe" kprobe "${WBTRACE_VARIANT:-}" kretprobe || fail "kprobe: page or cause checks"

[ "$FAILS" = 0 ] || keep_evidence trace-bioend "$out"
rm -rf "$out"
finish
