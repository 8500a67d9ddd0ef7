#!/bin/bash
# truncate and punch-hole racing writeback.
#
# One thread mutates files (buffered writes, truncate down and up, punch
# holes, zero ranges, whole-file rewrites) and keeps an exact model of their
# contents.  Meanwhile other threads keep writeback running on the same files:
# WB_SYNC_NONE (sync_file_range WRITE, and the flusher with a 10 ms expiry),
# WB_SYNC_ALL (fdatasync, sync(2)), so folios get truncated, punched or
# redirtied while a writeback pass holds them or is about to lock them.
# Writeback never changes contents, so at the end the files must equal the
# model: in the page cache, after sync + drop_caches, and after umount +
# fsck.f2fs (must be clean) + mount.  A second round does the same on a
# filesystem with inline data off and in LFS mode (out-of-place writes only).
#
# Each round must also show that the race it is named for happened: that a
# truncate ran into writeback of its own file.  tracefs records f2fs_setattr()
# entry and return (kprobe events, BTF arguments: the inode and the new size)
# and writeback:folio_wait_writeback; a wait by the truncating task, between
# those two, on a folio of the same inode at or beyond the new size is a
# truncate that found a folio of the truncated range under writeback.  A round
# without one is raced again, up to WB_TRUNC_TRIES times in all, then fails.
# The probe must also have seen every truncate the race made (unless the
# trace buffer overflowed), so a probe that misses them cannot pass.
# shellcheck disable=SC2016 # $retval in the kprobe definition is tracefs syntax
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
RACE_SECS=${WB_RACE_SECS:-15}
TRIES=${WB_TRUNC_TRIES:-3}
TR=/sys/kernel/tracing
INST=$TR/instances/wbtrunc
GRP=wbtr
PROBES=(wbtr_in wbtr_out)
work=$(mktemp -d /tmp/wb-truncate-race.XXXXXX)

save_vm

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	probes_off
	restore_vm
}
trap cleanup EXIT

# The overlap trace.  Without it the test cannot show that what it races
# happened, so anything missing fails the test (the lab kernel has kprobe
# events with BTF arguments and the writeback tracepoints).
[ -d "$TR/events" ] || mount -t tracefs tracefs "$TR"
probes_off
traced=0
trace_setup() {
	[ -w "$TR/kprobe_events" ] || { fail "no writable $TR/kprobe_events: the overlap cannot be traced"; return; }
	[ -d "$TR/events/writeback/folio_wait_writeback" ] || { fail "no writeback:folio_wait_writeback event: the overlap cannot be traced"; return; }
	local def
	for def in "p:$GRP/wbtr_in f2fs_setattr ino=dentry->d_inode->i_ino:u64 size=attr->ia_size:s64 valid=attr->ia_valid:x32" \
		'r:'"$GRP"'/wbtr_out f2fs_setattr ret=$retval:s32'; do
		if ! echo "$def" >>"$TR/kprobe_events" 2>/dev/null; then
			fail "cannot define the kprobe event '$def': the overlap cannot be traced"
			tail -3 "$TR/error_log" 2>/dev/null | sed 's/^/    /'
			return
		fi
	done
	mkdir "$INST"
	echo 16384 >"$INST/buffer_size_kb"
	echo global >"$INST/trace_clock"         # one clock: the task may move between CPUs
	echo 'valid & 8' >"$INST/events/$GRP/wbtr_in/filter"   # ATTR_SIZE: truncates only
	# Waits on this disk's files only (bdi name "major:minor").
	echo "name == \"$(cat "/sys/block/$(basename "$DEV")/dev")\"" >"$INST/events/writeback/folio_wait_writeback/filter"
	echo 1 >"$INST/events/$GRP/wbtr_in/enable"
	echo 1 >"$INST/events/$GRP/wbtr_out/enable"
	echo 1 >"$INST/events/writeback/folio_wait_writeback/enable"
	traced=1
}
trace_setup

cat >"$work/trunc.py" <<'EOF'
import ctypes, hashlib, json, os, random, sys, threading, time

mode, mnt, arg = sys.argv[1], sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE = 1, 2, 16

def check(rc):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

if mode == "verify":
    want = json.load(open(arg))
    bad = []
    for name, h in sorted(want.items()):
        got = hashlib.sha256(open(f"{mnt}/{name}", "rb").read()).hexdigest()
        if got != h:
            bad.append(name)
    print(f"  {len(want) - len(bad)}/{len(want)} files match the model" + (f"; BAD: {bad}" if bad else ""))
    sys.exit(1 if bad else 0)

secs = float(arg)            # race: argv[4] is where the model's hashes go
NFILES, MAXSZ = 6, 3 << 20
rng = random.Random(11)
model = [bytearray() for _ in range(NFILES)]
names = [f"t/f{i}" for i in range(NFILES)]
os.makedirs(f"{mnt}/t", exist_ok=True)
fds = [os.open(f"{mnt}/{n}", os.O_RDWR | os.O_CREAT, 0o644) for n in names]
stop = threading.Event()
errors = []
ops = {}

def count(op):
    ops[op] = ops.get(op, 0) + 1

def writeback():
    r = random.Random(12)
    try:
        while not stop.is_set():
            fd = fds[r.randrange(NFILES)]
            c = r.random()
            if c < 0.6:
                check(libc.sync_file_range(fd, 0, 0, 2))     # WB_SYNC_NONE
                count("sync_file_range")
            elif c < 0.95:
                os.fdatasync(fd)                             # WB_SYNC_ALL
                count("fdatasync")
            else:
                os.sync()
                count("sync")
    except Exception as e:
        errors.append(f"writeback thread: {e!r}")

t = threading.Thread(target=writeback)
t.start()
end = time.time() + secs
try:
    while time.time() < end:
        i = rng.randrange(NFILES)
        fd, m = fds[i], model[i]
        c = rng.random()
        if c < 0.40 or not m:                                # buffered write
            off = rng.randrange(0, MAXSZ)
            data = rng.randbytes(rng.choice([1, 700, 4096, 10000, 65536, 200000]))
            os.pwrite(fd, data, off)
            if off > len(m):
                m.extend(bytes(off - len(m)))
            m[off:off + len(data)] = data
            count("write")
        elif c < 0.55:                                       # truncate down
            n = rng.randrange(0, len(m) + 1)
            if rng.random() < 0.5:
                n = n // 4096 * 4096 + rng.choice([0, 1, 2047, 4095])
                n = min(n, len(m))
            os.ftruncate(fd, n)
            del m[n:]
            count("truncate_down")
        elif c < 0.65:                                       # truncate up
            n = len(m) + rng.randrange(1, 300000)
            os.ftruncate(fd, n)
            m.extend(bytes(n - len(m)))
            count("truncate_up")
        elif c < 0.85:                                       # punch a hole
            off = rng.randrange(0, len(m))
            ln = rng.randrange(1, 400000)
            check(libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, ln))
            e = min(off + ln, len(m))
            m[off:e] = bytes(e - off)
            count("punch_hole")
        elif c < 0.95:                                       # zero a range
            off = rng.randrange(0, len(m))
            ln = rng.randrange(1, 300000)
            check(libc.fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, ln))
            e = min(off + ln, len(m))
            m[off:e] = bytes(e - off)
            count("zero_range")
        else:                                                # rewrite from scratch
            data = rng.randbytes(rng.randrange(0, 1 << 20))
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            m[:] = data
            count("rewrite")
except Exception as e:
    errors.append(f"mutator: {e!r}")
stop.set()
t.join()
# Page-cache view first: what we read now must already be the model.
for i, n in enumerate(names):
    if hashlib.sha256(open(f"{mnt}/{n}", "rb").read()).digest() != hashlib.sha256(model[i]).digest():
        errors.append(f"{n}: differs from the model before sync")
for fd in fds:
    os.close(fd)
json.dump({n: hashlib.sha256(model[i]).hexdigest() for i, n in enumerate(names)}, open(sys.argv[4], "w"))
json.dump(ops, open(sys.argv[4] + ".ops", "w"))
print(f"  ops: {ops}; sizes: {[len(m) for m in model]}; errors: {errors or 'none'}")
sys.exit(1 if errors else 0)
EOF

# overlaps LABEL: from the trace of one race, how many truncates waited on
# writeback of a folio of their own file in the truncated range; checks that
# the probe saw as many truncates as the race made.  The last line printed is
# that count, or -1 if the probe missed truncates.
overlaps() {
	local overrun inos
	overrun=$(awk '/^overrun:/ { n += $2 } END { print n + 0 }' "$INST"/per_cpu/cpu*/stats)
	inos=$(stat -c %i "$MNT"/t/f* | paste -sd,)
	cat "$INST/trace" >"$work/trace.txt"
	$PY - "$work/trace.txt" "$work/model.json.ops" "$inos" "$overrun" "$1" <<'EOF'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
ops = json.load(open(sys.argv[2]))
inos = {int(i) for i in sys.argv[3].split(",")}
lost, label = int(sys.argv[4]), sys.argv[5]
ev = re.compile(r"^\s*.+-(\d+)\s+\[\d+\].*?\s(wbtr_in|wbtr_out|folio_wait_writeback):\s(.*)$")
cur = {}                 # pid -> [ino, new size, waited] of the truncate it is in
truncates = overlapped = waits_in = waits_all = 0
for l in lines:
    lost += "LOST" in l
    m = ev.match(l)
    if not m:
        continue
    pid, name, rest = m.groups()
    f = dict(re.findall(r"(\w+)=(\S+)", rest))
    if name == "wbtr_in":
        if int(f["ino"]) in inos:
            truncates += 1
            cur[pid] = [int(f["ino"]), int(f["size"]), False]
    elif name == "wbtr_out":
        c = cur.pop(pid, None)
        overlapped += bool(c and c[2])
    elif int(f["ino"]) in inos:
        waits_all += 1
        c = cur.get(pid)
        if c and int(f["ino"]) == c[0] and int(f["index"]) >= c[1] >> 12:
            c[2] = True
            waits_in += 1
made = ops.get("truncate_down", 0) + ops.get("truncate_up", 0) + ops.get("rewrite", 0)
ok = truncates == made or (lost and truncates < made)
print(f"  {label}: {overlapped} of {truncates} traced truncates waited on writeback of their own "
      f"file's truncated range ({waits_in} folio waits; {waits_all} waits on these files in all"
      f"{'; trace buffer overflowed, ' + str(lost) + ' events lost: counts are lower bounds' if lost else ''})")
if not ok:
    print(f"  FAIL: {label}: the race made {made} truncates (ftruncate), the f2fs_setattr probe saw {truncates}")
print(overlapped if ok else -1)
EOF
}

round() { # $1 label, $2 mkfs features, $3 mount options
	local try n
	for try in $(seq "$TRIES"); do
		log "$1: mkfs.f2fs ${2:-(defaults)}, mount ${3:-(defaults)}; racing for ${RACE_SECS}s (try $try of at most $TRIES)"
		mkfs_mount "$2" "$3"
		echo 1 >/proc/sys/vm/dirty_expire_centisecs
		echo 1 >/proc/sys/vm/dirty_writeback_centisecs
		rm -f "$work/model.json" "$work/model.json.ops"
		if [ "$traced" = 1 ]; then echo >"$INST/trace"; echo 1 >"$INST/tracing_on"; fi
		$PY "$work/trunc.py" race "$MNT" "$RACE_SECS" "$work/model.json" || fail "$1: the race reported errors"
		if [ "$traced" = 1 ]; then echo 0 >"$INST/tracing_on"; fi
		restore_vm
		[ -s "$work/model.json" ] || { fail "$1: no model written"; return; }
		n=0
		if [ "$traced" = 1 ]; then
			overlaps "$1" >"$work/overlaps.out" || fail "$1: the trace could not be read"
			sed '$d' "$work/overlaps.out"
			n=$(tail -1 "$work/overlaps.out")
			[[ "$n" =~ ^[0-9]+$ ]] || { fail "$1: the truncate probe missed truncates (see above)"; n=0; }
		fi
		drop_caches
		$PY "$work/trunc.py" verify "$MNT" "$work/model.json" || fail "$1: data differs after sync + drop_caches"
		fsck_clean
		$PY "$work/trunc.py" verify "$MNT" "$work/model.json" || fail "$1: data differs after umount + fsck + mount"
		[ "$traced" = 1 ] || return      # failed at the start: the overlap cannot be shown
		if [ "$n" -gt 0 ]; then
			log "ok $1: a truncate ran into writeback of its own file ($n times)"
			return
		fi
		[ "$try" -lt "$TRIES" ] && log "$1: no truncate met writeback of its own file yet: racing again"
	done
	fail "$1: in $TRIES races of ${RACE_SECS}s no truncate ran into writeback of its own file: the race was not reached"
}

round default "" ""
round lfs-noinline "" "mode=lfs,noinline_data"
rm -rf "$work"
finish
