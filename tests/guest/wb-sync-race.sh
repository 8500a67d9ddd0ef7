#!/bin/bash
# shellcheck disable=SC2016 # $argN/$retval in the kprobe definitions are tracefs syntax
# fsync and sync racing background writeback, with checkpoints in between.
#
# Three threads on one f2fs: "bg" keeps a large file dirty and starts
# WB_SYNC_NONE writeback of it (sync_file_range), "fs" writes small files and
# fsyncs them (WB_SYNC_ALL, which raises wb_sync_req and so asks running
# WB_SYNC_NONE passes to stop), "cp" forces checkpoints, which hold
# f2fs_lock_op() off and make data writes return -EAGAIN.
#
# Checks:
#  - durability: right after an fsync returns, while the other threads still
#    run, the filesystem is shut down without any flush (F2FS_IOC_SHUTDOWN,
#    NOSYNC); after remount (roll-forward recovery) every file whose fsync
#    returned holds exactly what was fsynced;  a clean writeback round then verifies all
#    data across drop_caches and remount, and fsck.f2fs must be clean;
#  - tracing (tracefs kprobe events, BTF arguments):
#      * -EAGAIN retry: f2fs_write_single_data_page() returning -EAGAIN for
#        WB_SYNC_ALL, followed by a new call for the same folio in the same
#        task.  Required on both variants: the race must produce such returns
#        (hundreds per run in the lab) and at least one must be seen retried;
#      * priority stop (patched only): f2fs_write_cache_folios() hands
#        writeback_iter() its -EAGAIN sentinel for a WB_SYNC_NONE pass of an
#        f2fs inode.  The old loop has no probe point for it, so stock
#        reports "not observable".
#    A kprobe event that cannot be defined fails the test: without them
#    nothing shows the race reached the states above.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

TR=/sys/kernel/tracing
INST=$TR/instances/wbtest
RACE_SECS=${WB_RACE_SECS:-20}
PY=/usr/bin/python3
work=$(mktemp -d /tmp/wb-sync-race.XXXXXX)

probes_off() {
	[ -d "$INST" ] && { echo 0 >"$INST/tracing_on"; rmdir "$INST" 2>/dev/null || true; }
	for e in wbt_wsdp wbt_wsdpr wbt_iter wbt_relock; do echo "-:wbt/$e" >>"$TR/kprobe_events" 2>/dev/null || true; done
}
trap probes_off EXIT

# Define the kprobe events.  The tracing checks are this test's proof that the
# race reached the -EAGAIN retry and the priority stop: a probe that cannot be
# defined fails the test (the lab kernel has kprobe events and BTF arguments),
# and the race still runs for its durability checks.
have_probes=1
probes_off
add_probe() {
	if ! echo "$1" >>"$TR/kprobe_events" 2>/dev/null; then
		fail "cannot define kprobe event: $1"
		tail -3 "$TR/error_log" 2>/dev/null | sed 's/^/    /'
		have_probes=0
		return 1
	fi
}
if [ ! -w "$TR/kprobe_events" ]; then
	fail "no tracefs kprobe_events (CONFIG_KPROBE_EVENTS, tracefs at $TR): the tracing checks cannot run"
	have_probes=0
else
	add_probe 'p:wbt/wbt_wsdp f2fs_write_single_data_page folio=$arg1:x64 sync=wbc->sync_mode:u32' || true
	add_probe 'r:wbt/wbt_wsdpr f2fs_write_single_data_page ret=$retval:s32 folio=$arg1:x64' || true
	add_probe 'p:wbt/wbt_iter writeback_iter magic=mapping->host->i_sb->s_magic:x32 sync=wbc->sync_mode:u32 folio=$arg3:x64 err=+0($arg4):s32' || true
	# Only the patched series has the relock helper: where a -EAGAIN is not
	# followed by a new write, it must be because the relock found nothing to do.
	have_relock=0
	if [ "$WBTRACE_VARIANT" = patched ]; then
		add_probe 'r:wbt/wbt_relock f2fs_wb_relock_folio ok=$retval:u8 folio=$arg2:x64' && have_relock=1
	fi
fi
if [ "$have_probes" = 1 ]; then
	mkdir "$INST"
	echo 16384 >"$INST/buffer_size_kb"
	# Only what the checks need: WB_SYNC_ALL calls, -EAGAIN returns, and
	# writeback_iter() being handed -EAGAIN on an f2fs inode.
	echo 'sync == 1' >"$INST/events/wbt/wbt_wsdp/filter"
	echo 'ret == -11' >"$INST/events/wbt/wbt_wsdpr/filter"
	echo 'err == -11 && magic == 0xf2f52010' >"$INST/events/wbt/wbt_iter/filter"
	for e in wbt_wsdp wbt_wsdpr wbt_iter; do echo 1 >"$INST/events/wbt/$e/enable"; done
	if [ "$have_relock" = 1 ]; then
		echo 'ok == 0' >"$INST/events/wbt/wbt_relock/filter"
		echo 1 >"$INST/events/wbt/wbt_relock/enable"
	fi
	echo 1 >"$INST/events/f2fs/f2fs_writepages/enable"
	echo 1 >"$INST/tracing_on"
fi

mkfs_mount "" ""

cat >"$work/race.py" <<'EOF'
import ctypes, hashlib, json, os, random, sys, threading, time, fcntl, struct

mnt, secs, out, marker = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
F2FS_IOC_WRITE_CHECKPOINT = 0xf507
F2FS_IOC_SHUTDOWN = 0x8004587d          # _IOR('X', 125, __u32)
F2FS_GOING_DOWN_NOSYNC = 2
SYNC_FILE_RANGE_WRITE = 2               # start WB_SYNC_NONE writeback, do not wait
libc = ctypes.CDLL(None, use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]

def sync_file_range_write(fd):
    if libc.sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
rng = random.Random(20261127)
stop = threading.Event()
want_down = threading.Event()
storm = threading.Event()               # checkpoints back to back, no sync(2)
errors = []
snapshot = {}
fsynced = {}                            # name -> sha256 of what fsync made durable
counts = {"bg_passes": 0, "fsyncs": 0, "checkpoints": 0, "syncs": 0}
os.makedirs(f"{mnt}/bg", exist_ok=True)
os.makedirs(f"{mnt}/fs", exist_ok=True)

def mark(text):
    if marker != "-":
        with open(marker, "w") as f:
            f.write(f"wbtest: {text}\n")

def guard(fn):
    def run():
        try:
            fn()
        except OSError as e:
            if not stop.is_set():
                errors.append(f"{fn.__name__}: {e}")
        except Exception as e:
            errors.append(f"{fn.__name__}: {e!r}")
    return run

@guard
def bg():
    size = 12 << 20
    fd = os.open(f"{mnt}/bg/big", os.O_RDWR | os.O_CREAT, 0o644)
    r = random.Random(1)
    while not stop.is_set():
        for _ in range(64):
            off = r.randrange(0, size // 4096) * 4096
            os.pwrite(fd, r.randbytes(4096), off)
        os.pwrite(fd, r.randbytes(1 << 20), r.randrange(0, (size >> 20)) << 20)
        sync_file_range_write(fd)
        counts["bg_passes"] += 1
    os.close(fd)

def final_fsync_hit_eagain():
    """Did the last marked fsync get -EAGAIN from f2fs_write_single_data_page()?"""
    if marker == "-":
        return True                     # no tracing: cannot tell, take one try
    text = open(os.path.join(os.path.dirname(marker), "trace")).read()
    return "ret=-11" in text[text.rfind("wbtest: final fsync start"):]

@guard
def fs():
    r = random.Random(2)
    i = tries = 0
    while not stop.is_set():
        final = want_down.is_set()
        if final:
            storm.set()
            time.sleep(0.3)
            tries += 1
        name = f"fs/final{tries}" if final else f"fs/f{i % 24}"
        # The last file is big enough for its fsync to overlap checkpoints.
        data = r.randbytes((6 << 20) + 4321 if final else r.choice([8192, 65536, 262144, 393216 + 1234]))
        fd = os.open(f"{mnt}/{name}", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        fsynced.pop(name, None)        # being rewritten: not known durable
        if final:
            mark("final fsync start")
        os.fsync(fd)
        if final:
            mark("final fsync end")
        fsynced[name] = hashlib.sha256(data).hexdigest()
        counts["fsyncs"] += 1
        i += 1
        # The shutdown below proves the -EAGAIN retry only if this fsync
        # needed it: try a few times for one that did.
        if final and (final_fsync_hit_eagain() or tries == 10):
            # Power cut right after fsync returned, with the other threads
            # still running: nothing but that fsync may have written the file.
            counts["final_tries"] = tries
            snapshot.update(fsynced)
            stop.set()
            fcntl.ioctl(fd, F2FS_IOC_SHUTDOWN, struct.pack("I", F2FS_GOING_DOWN_NOSYNC))
            os.close(fd)
            return
        os.close(fd)

@guard
def cp():
    fd = os.open(mnt, os.O_RDONLY)
    n = 0
    while not stop.is_set():
        fcntl.ioctl(fd, F2FS_IOC_WRITE_CHECKPOINT)
        counts["checkpoints"] += 1
        n += 1
        if storm.is_set():
            continue
        if n % 8 == 0:
            os.sync()
            counts["syncs"] += 1
        time.sleep(0.002)
    os.close(fd)

threads = [threading.Thread(target=t, name=t.__name__) for t in (bg, fs, cp)]
for t in threads:
    t.start()
time.sleep(secs)
want_down.set()
for t in threads:
    t.join()
if not snapshot:
    errors.append("the fs thread ended without shutting the filesystem down")
json.dump({"fsynced": snapshot, "counts": counts, "errors": errors}, open(out, "w"))
print(f"race: {counts}, {len(snapshot)} files known fsynced at shutdown, errors: {errors or 'none'}")
sys.exit(1 if errors else 0)
EOF

log "racing bg writeback, fsync and checkpoints for ${RACE_SECS}s, then shutdown (no flush)"
marker=-
[ "$have_probes" = 1 ] && marker=$INST/trace_marker
$PY "$work/race.py" "$MNT" "$RACE_SECS" "$work/race.json" "$marker" | sed 's/^/  /' || fail "the race workload reported errors"
[ "$have_probes" = 1 ] && echo 0 >"$INST/tracing_on"

# Roll-forward recovery, then every fsynced file must hold what was fsynced.
umount "$MNT"
mount -t f2fs "$DEV" "$MNT"
$PY - "$MNT" "$work/race.json" <<'EOF' || fail "fsynced data lost or changed across shutdown + recovery"
import hashlib, json, sys
mnt, res = sys.argv[1], json.load(open(sys.argv[2]))
bad = []
for name, want in sorted(res["fsynced"].items()):
    try:
        got = hashlib.sha256(open(f"{mnt}/{name}", "rb").read()).hexdigest()
    except OSError as e:
        got = str(e)
    if got != want:
        bad.append(name)
print(f"  after shutdown + recovery: {len(res['fsynced']) - len(bad)}/{len(res['fsynced'])} fsynced files intact" +
      (f"; BAD: {bad}" if bad else ""))
sys.exit(1 if bad or not res["fsynced"] else 0)
EOF

# A calm round on the recovered fs: everything written, verified through the disk.
before=$(sums)
drop_caches
[ "$before" = "$(sums)" ] || fail "data differs after sync + drop_caches"
fsck_clean
[ "$before" = "$(sums)" ] || fail "data differs after umount + fsck + mount"

# What the tracing saw.
if [ "$have_probes" = 1 ]; then
	cat "$INST/trace" >"$work/trace.txt"
	# Events overwritten in the ring buffer: the trace file does not show them.
	overrun=$(awk '/^overrun:/ { n += $2 } END { print n + 0 }' "$INST"/per_cpu/cpu*/stats)
	$PY - "$work/trace.txt" "$WBTRACE_VARIANT" "$overrun" <<'EOF' || fail "tracing checks failed (see above)"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
variant = sys.argv[2]
ev = re.compile(r"^\s*(\S+)-(\d+)\s.*?\s(wbt_wsdp|wbt_wsdpr|wbt_iter|wbt_relock|f2fs_writepages):\s(.*)$")
last_entry = {}            # pid -> folio of the last WB_SYNC_ALL call
pending = {}               # pid -> folio that returned -EAGAIN under WB_SYNC_ALL
eagain_all = eagain_none = retried = stops = gave_up = 0
passes = {"WB_SYNC_ALL": 0, "WB_SYNC_NONE": 0}
callers = set()
by_task = {}
lost = int(sys.argv[3])    # events overwritten (ring buffer overrun)
in_final = False
final_eagain = final_seen = 0
for l in lines:
    if "LOST" in l:
        lost += 1
    if "wbtest: final fsync start" in l:
        in_final = final_seen = True
        final_eagain = 0                # only the last try counts
    elif "wbtest: final fsync end" in l:
        in_final = False
    m = ev.match(l)
    if not m:
        continue
    pid, name, rest = m.group(2), m.group(3), m.group(4)
    f = dict(re.findall(r"(\w+)=(\S+)", rest))
    if name == "wbt_wsdp":
        if pending.get(pid) == f["folio"]:
            retried += 1
        pending.pop(pid, None)
        last_entry[pid] = f["folio"]
    elif name == "wbt_wsdpr":
        c = re.search(r"\((\w+)\+0x[0-9a-f]+/", rest)
        if c:
            callers.add(c.group(1))
        if last_entry.get(pid) == f["folio"]:
            eagain_all += 1
            final_eagain += in_final
            by_task[m.group(1)] = by_task.get(m.group(1), 0) + 1
            pending[pid] = f["folio"]
        else:
            eagain_none += 1
    elif name == "wbt_iter":
        stops += 1
    elif name == "wbt_relock":
        if pending.get(pid) == f["folio"]:
            gave_up += 1
            pending.pop(pid, None)
    elif name == "f2fs_writepages":
        mode = re.search(r"sync_mode (\d+)", rest)
        if mode:
            passes["WB_SYNC_ALL" if mode.group(1) == "1" else "WB_SYNC_NONE"] += 1
            # wbt_wsdp traces WB_SYNC_ALL calls only: an -EAGAIN in a later
            # WB_SYNC_NONE pass of this task must not match its last one.
            if mode.group(1) != "1":
                last_entry.pop(pid, None)
ok = True
print(f"  writepages passes: {passes}; f2fs_write_single_data_page -EAGAIN: "
      f"{eagain_all} under WB_SYNC_ALL, {eagain_none} under WB_SYNC_NONE; returned into: {sorted(callers) or '-'}")
if lost:
    print(f"  trace buffer overflowed ({lost} events lost): counts are lower bounds")
# Not every -EAGAIN is followed by a new call: the retry first relocks the folio,
# and a folio that another WB_SYNC_ALL pass (sync(2), the checkpoint) wrote in
# the meantime is clean and rightly skipped.
print(f"  -EAGAIN retry: {retried}/{eagain_all} WB_SYNC_ALL -EAGAIN returns were followed by a retry of the same folio")
print(f"  WB_SYNC_ALL -EAGAIN by task: {by_task} (python3: fsync; kworker: sync(2) and the flusher)")
# The shutdown check only proves the retry if the last fsync needed it.
print(f"  the fsync just before the shutdown got -EAGAIN {final_eagain} time(s)")
if not final_seen:
    print("  FAIL: no trace marker for the final fsync"); ok = False
elif final_eagain == 0:
    print("  FAIL: the final fsync never hit a held f2fs_lock_op(): the shutdown check proves nothing"); ok = False
if eagain_all == 0:
    print("  FAIL: no WB_SYNC_ALL data write hit a held f2fs_lock_op(): the retry path was not exercised"); ok = False
elif retried == 0:
    print("  FAIL: -EAGAIN under WB_SYNC_ALL was never retried"); ok = False
if variant == "patched":
    # Every -EAGAIN of WB_SYNC_ALL: written again, or relocked and found
    # truncated/clean (f2fs_wb_relock_folio() returned false).
    print(f"  of those not retried, f2fs_wb_relock_folio() found {gave_up} truncated or already written")
    if retried + gave_up != eagain_all and not lost:
        print(f"  FAIL: {eagain_all - retried - gave_up} -EAGAIN folio(s) neither retried nor released by the relock"); ok = False
if variant == "patched":
    print(f"  priority stop: writeback_iter() was handed the -EAGAIN sentinel {stops} time(s) for f2fs WB_SYNC_NONE passes")
    if stops == 0:
        print("  FAIL: the WB_SYNC_NONE priority stop was never reached"); ok = False
    if "f2fs_write_cache_pages" in callers:
        print("  FAIL: the old loop wrote non-compressed data"); ok = False
else:
    print("  priority stop: not observable on stock (the old loop has no probe point for it)")
sys.exit(0 if ok else 1)
EOF
else
	fail "tracing checks not run: kprobe events unavailable (see above)"
fi
rm -rf "$work"
finish
