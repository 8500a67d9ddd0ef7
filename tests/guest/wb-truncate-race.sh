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
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
RACE_SECS=${WB_RACE_SECS:-15}
work=$(mktemp -d /tmp/wb-truncate-race.XXXXXX)

save_vm
trap restore_vm EXIT

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
print(f"  ops: {ops}; sizes: {[len(m) for m in model]}; errors: {errors or 'none'}")
sys.exit(1 if errors else 0)
EOF

round() { # $1 label, $2 mkfs features, $3 mount options
	log "$1: mkfs.f2fs ${2:-(defaults)}, mount ${3:-(defaults)}; racing for ${RACE_SECS}s"
	mkfs_mount "$2" "$3"
	echo 1 >/proc/sys/vm/dirty_expire_centisecs
	echo 1 >/proc/sys/vm/dirty_writeback_centisecs
	rm -f "$work/model.json"
	$PY "$work/trunc.py" race "$MNT" "$RACE_SECS" "$work/model.json" || fail "$1: the race reported errors"
	restore_vm
	[ -s "$work/model.json" ] || { fail "$1: no model written"; return; }
	drop_caches
	$PY "$work/trunc.py" verify "$MNT" "$work/model.json" || fail "$1: data differs after sync + drop_caches"
	fsck_clean
	$PY "$work/trunc.py" verify "$MNT" "$work/model.json" || fail "$1: data differs after umount + fsck + mount"
}

round default "" ""
round lfs-noinline "" "mode=lfs,noinline_data"
rm -rf "$work"
finish
