#!/bin/bash
# Writeback of compressed files (f2fs compression), data verified through the disk.
#
# Rounds, each on a fresh f2fs (mkfs -O extra_attr,compression):
#   lz4-log2       compress_algorithm=lz4, compress_log_size=2 (16 KiB clusters),
#                  files chosen by compress_extension=cz, compress_mode=fs;
#                  then writers under tiny dirty limits (dirty_background_bytes
#                  64 KiB, dirty_bytes 512 KiB): the flusher and the throttle
#                  write clusters back while they are being filled (checked:
#                  most of the data must be written back before any sync);
#                  then an 8 MiB file dirtied at once with the flusher started
#                  at 64 KiB: background passes whose page budget is smaller
#                  than the file (most of it must be written back by them);
#   zstd-log4      compress_algorithm=zstd, compress_log_size=4 (64 KiB clusters),
#                  compress_chksum, files compressed by chattr +c on their directory;
#   user-mode      compress_mode=user: F2FS_IOC_COMPRESS_FILE / _DECOMPRESS_FILE
#                  (and F2FS_IOC_SET_COMPRESS_OPTION: zstd, 64 KiB on one file);
#   counters       a deterministic, fsync'd workload (lz4 16 KiB clusters from the
#                  mount; zstd 64 KiB and lz4 32 KiB clusters set per file with
#                  F2FS_IOC_SET_COMPRESS_OPTION) whose compr_written_block /
#                  compr_saved_block deltas have exact expected values
#                  (written + saved = blocks of the clusters written; saved = 0
#                  and written > 0 for incompressible data; both > 0 for text).
#                  It runs with the module loaded at boot and with the other
#                  variant's module (rmmod + insmod in this boot; the boot
#                  module is reloaded after), which must give identical
#                  counters; each run prints "COUNTERS {json}".
# The data cases of the lz4 and zstd rounds (each file is checked to really be
# a compressed inode, FS_COMPR_FL, with the mount's algorithm and cluster size):
#   eof        sizes around cluster and page bounds, odd sizes, partial last
#              clusters, append that fills a partial cluster;
#   overwrite  compressed clusters overwritten in place (1 byte .. 3 clusters,
#              text and incompressible data), fsync'd in between;
#   truncate   truncate inside a cluster (clean and dirty), extend, write again;
#   mmap       stores into compressed clusters through mmap, msync of part,
#              stores left for writeback, a sparse file filled through mmap;
#   split      sync_file_range(WRITE) of sub-ranges that split clusters, on new
#              clusters and on overwritten compressed clusters;
#   race       per-file writers (and truncates) racing sync_file_range
#              (WB_SYNC_NONE), the flusher (10 ms expiry) and fsync/fdatasync
#              (WB_SYNC_ALL) for WB_RACE_SECS (6) seconds;
#   ahead      clusters compressed on disk, two pages of one dirtied, written
#              back by sync_file_range while ftruncate cuts the file inside
#              the second one (half of WB_RACE_SECS): writeback overwrites the
#              cluster ahead of writeback_iter(), truncation waits for the
#              writeback of a folio the pass has yet to lock (a hang watchdog
#              dumps blocked tasks);
#   also: text files must end with blocks saved (F2FS_IOC_GET_COMPRESS_BLOCKS),
#   incompressible ones with none; the user-mode ioctls are refused in
#   compress_mode=fs.
# Each round compares the files with an in-memory model: in the page cache,
# after fsync + POSIX_FADV_DONTNEED inside the cases, after sync + drop_caches,
# and after umount + fsck.f2fs (must be clean) + mount.  Each round also checks
# that /proc/mounts shows its compression options.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
RACE_SECS=${WB_RACE_SECS:-6}
work=$(mktemp -d /tmp/wb-compress.XXXXXX)
sysdir=/sys/fs/f2fs/$(basename "$DEV")

save_vm
trap restore_vm EXIT

cat >"$work/wbc.py" <<'EOF'
import hashlib, json, os, sys
if sys.argv[1] != "verify":     # verify runs right after drop_caches: import only what it needs
    import ctypes, fcntl, mmap, random, struct, threading, time

PAGE = 4096
# ioctl numbers, from include/uapi/linux/f2fs.h (F2FS_IOCTL_MAGIC 0xf5) and
# include/uapi/linux/fs.h, encoded as asm-generic/ioctl.h does.
def _ioc(d, t, nr, size):
    return (d << 30) | (size << 16) | (t << 8) | nr
F2FS_IOC_GET_COMPRESS_BLOCKS = _ioc(2, 0xf5, 17, 8)     # _IOR(.., 17, __u64)
F2FS_IOC_GET_COMPRESS_OPTION = _ioc(2, 0xf5, 21, 2)     # _IOR(.., 21, struct f2fs_comp_option)
F2FS_IOC_SET_COMPRESS_OPTION = _ioc(1, 0xf5, 22, 2)     # _IOW(.., 22, struct f2fs_comp_option)
F2FS_IOC_DECOMPRESS_FILE = _ioc(0, 0xf5, 23, 0)         # _IO(.., 23)
F2FS_IOC_COMPRESS_FILE = _ioc(0, 0xf5, 24, 0)           # _IO(.., 24)
FS_IOC_GETFLAGS = _ioc(2, ord("f"), 1, 8)               # _IOR('f', 1, long)
FS_COMPR_FL = 0x4
assert (F2FS_IOC_GET_COMPRESS_BLOCKS, F2FS_IOC_SET_COMPRESS_OPTION, F2FS_IOC_COMPRESS_FILE,
        FS_IOC_GETFLAGS) == (0x8008f511, 0x4002f516, 0xf518, 0x80086601)
ALGOS = {"lzo": 0, "lz4": 1, "zstd": 2, "lzo-rle": 3}   # enum compress_algorithm_type

SFR_WAIT_BEFORE, SFR_WRITE, SFR_WAIT_AFTER = 1, 2, 4
libc = None

def sfr(fd, off, n, flags=SFR_WRITE):
    global libc
    if libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    if libc.sync_file_range(fd, off, n, flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"sync_file_range: {os.strerror(e)}")

# Deterministic data: "text" compresses (lz4 ~3x), "rand" does not.
_pool = None
def text(n, seed):
    global _pool
    if _pool is None:
        r = random.Random(1)
        words = [b"writeback", b"cluster", b"folio", b"f2fs", b"compress", b"extent", b"inode",
                 b"segment", b"checkpoint", b"dirty", b"page", b"block", b"node", b"lz4", b"zstd"]
        _pool = b"".join(b"%06d %s %s %s %s\n" % (r.randrange(10 ** 6), r.choice(words), r.choice(words),
                                                   r.choice(words), r.choice(words)) for _ in range(2048))
    r = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        k = r.randrange(0, len(_pool) - 1024)
        out += _pool[k:k + r.randrange(256, 1024)]
    return bytes(out[:n])

def rand(n, seed):
    return random.Random(seed).randbytes(n)

def vmstat(key):
    for line in open("/proc/vmstat"):
        k, v = line.split()
        if k == key:
            return int(v)
    raise KeyError(key)

def sha(b):
    return hashlib.sha256(b).hexdigest()

errors = []
def fail(msg):
    print(f"  FAIL: {msg}", flush=True)
    errors.append(msg)

def say(msg):
    print(f"  {msg}", flush=True)

def compr_blocks(path):
    buf = bytearray(8)
    with open(path, "rb") as f:
        fcntl.ioctl(f.fileno(), F2FS_IOC_GET_COMPRESS_BLOCKS, buf)
    return struct.unpack("=Q", buf)[0]

def compr_option(path):
    buf = bytearray(2)
    with open(path, "rb") as f:
        fcntl.ioctl(f.fileno(), F2FS_IOC_GET_COMPRESS_OPTION, buf)
    return buf[0], buf[1]

def iflags(path):
    buf = bytearray(8)
    with open(path, "rb") as f:
        fcntl.ioctl(f.fileno(), FS_IOC_GETFLAGS, buf)
    return struct.unpack("=q", buf)[0]


class Files:
    """Files under one directory and the model of their contents."""

    def __init__(self, root, suffix):
        self.root, self.suffix = root, suffix
        os.makedirs(root, exist_ok=True)
        self.model, self.fds = {}, {}

    def path(self, name):
        return f"{self.root}/{name}{self.suffix}"

    def fd(self, name):
        if name not in self.fds:
            self.fds[name] = os.open(self.path(name), os.O_RDWR | os.O_CREAT, 0o644)
            self.model.setdefault(name, bytearray())
        return self.fds[name]

    def write(self, name, off, data):
        fd = self.fd(name)
        n = os.pwrite(fd, data, off)
        assert n == len(data), (name, off, n)
        m = self.model[name]
        if off > len(m):
            m.extend(bytes(off - len(m)))
        m[off:off + len(data)] = data

    def truncate(self, name, size):
        os.ftruncate(self.fd(name), size)
        m = self.model[name]
        if size < len(m):
            del m[size:]
        else:
            m.extend(bytes(size - len(m)))

    def sync_drop(self, name):
        """fsync, then drop the file's clean pages: the next read comes from the disk."""
        fd = self.fd(name)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def check(self, name, where):
        with open(self.path(name), "rb") as f:
            got = f.read()
        want = bytes(self.model[name])
        if got == want:
            return True
        if len(got) != len(want):
            fail(f"{name}: {where}: size {len(got)}, expected {len(want)}")
        else:
            i = next(i for i in range(len(got)) if got[i] != want[i])
            fail(f"{name}: {where}: first difference at byte {i} (page {i // PAGE})")
        return False

    def close(self):
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}

    def manifest(self, out):
        with open(out, "w") as f:
            json.dump({self.path(n): [len(m), sha(bytes(m))] for n, m in self.model.items()}, f)


def verify(manifests):
    want = {}
    for m in manifests:
        want.update(json.load(open(m)))
    bad = 0
    for p, (size, h) in sorted(want.items()):
        try:
            data = open(p, "rb").read()
        except OSError as e:
            fail(f"{p}: {e}")
            bad += 1
            continue
        if len(data) != size or sha(data) != h:
            fail(f"{p}: size {len(data)} (expected {size}), content {'matches' if sha(data) == h else 'DIFFERS'}")
            bad += 1
    say(f"{len(want) - bad}/{len(want)} files match the model")
    return bad == 0


def check_compressed_inodes(fs, algo, log):
    """Every file of the round must be a compressed inode with the expected options."""
    bad = []
    for name in fs.model:
        p = fs.path(name)
        if not iflags(p) & FS_COMPR_FL:
            bad.append(f"{name}: no FS_COMPR_FL")
            continue
        opt = compr_option(p)
        if opt != (ALGOS[algo], log):
            bad.append(f"{name}: compress option (algorithm, log_cluster_size) {opt}, expected {(ALGOS[algo], log)}")
    for b in bad:
        fail(b)
    say(f"{len(fs.model) - len(bad)}/{len(fs.model)} files are compressed inodes ({algo}, log_cluster_size {log})")


def ahead_race(fs, CB, secs, stall=60):
    """See the "ahead" case.  Returns the counts of what ran; a watchdog
    reports a hang (blocked tasks to the kernel log) and exits the test."""
    name, nclusters = "ahead", 8
    base = text(nclusters * CB, 500)
    fd = fs.fd(name)
    r = random.Random(501)
    progress = [time.monotonic()]
    stop = threading.Event()
    counts = {"rounds": 0}
    errs = []

    def writeback():
        try:
            sfr(fd, 0, 0)
        except OSError as e:
            errs.append(e)

    def watchdog():
        while not stop.wait(1):
            if time.monotonic() - progress[0] > stall:
                say(f"HANG: ahead: no round finished for {stall} s (blocked tasks: kernel log)")
                with open("/proc/sysrq-trigger", "w") as f:
                    f.write("w")
                os._exit(3)

    wd = threading.Thread(target=watchdog, daemon=True)
    wd.start()
    end = time.monotonic() + secs
    while time.monotonic() < end:
        fs.write(name, 0, base)                 # whole clusters, compressed on disk by the fsync
        os.fsync(fd)
        c = r.randrange(1, nclusters)
        fs.write(name, c * CB, text(PAGE, r.randrange(1 << 30)))
        fs.write(name, c * CB + 2 * PAGE, text(PAGE, r.randrange(1 << 30)))
        syncer = threading.Thread(target=writeback)
        syncer.start()
        if r.random() < 0.5:
            time.sleep(r.random() / 1000)
        fs.truncate(name, c * CB + 2 * PAGE + r.randrange(1, PAGE))
        syncer.join()
        counts["rounds"] += 1
        progress[0] = time.monotonic()
    stop.set()
    for e in errs[:3]:
        fail(f"ahead: sync_file_range: {e!r}")
    fs.check(name, "ahead: in the page cache")
    fs.sync_drop(name)
    fs.check(name, "ahead: after fsync + drop")
    return counts


def cases(mnt, sub, suffix, algo, log, race_secs, manifest):
    cs = 1 << log
    CB = cs * PAGE
    fs = Files(f"{mnt}/{sub}", suffix)
    rng = random.Random(1000 + log)
    expect_saved = []          # text files whose compressed clusters must save blocks at the end
    t0 = [time.time()]

    def lap(case):
        now = time.time()
        say(f"{case}: {now - t0[0]:.1f}s")
        t0[0] = now

    # eof: sizes around page and cluster bounds, text and incompressible.
    sizes = [1, 100, PAGE - 1, PAGE + 1, CB - 1, CB, CB + 1, 2 * CB + PAGE + 7, 5 * CB - 3, 7 * CB + 12345, 16 * CB + 1]
    for i, size in enumerate(sizes):
        for kind, gen in (("t", text), ("r", rand)):
            name = f"eof-{kind}{i}"
            fs.write(name, 0, gen(size, 10 * i + len(kind)))
            if i % 2:
                fs.sync_drop(name)
                fs.check(name, "eof: after fsync + drop")
            if kind == "t" and size >= CB:
                expect_saved.append(name)
    # A partial last cluster written raw, then filled by an append (and one more byte).
    name = "eof-append"
    fs.write(name, 0, text(3 * CB + 100, 77))
    fs.sync_drop(name)
    fs.write(name, 3 * CB + 100, text(CB - 100 + 1, 78))
    fs.sync_drop(name)
    fs.check(name, "eof: after append fills the last cluster")
    expect_saved.append(name)

    lap("eof")

    # overwrite: compressed clusters rewritten in place.
    for j, (name, size) in enumerate((("ow-a", 24 * CB + 999), ("ow-b", 9 * CB))):
        fs.write(name, 0, text(size, 20 + j))
        fs.sync_drop(name)
        fs.check(name, "overwrite: initial")
        if compr_blocks(fs.path(name)) == 0:
            fail(f"{name}: text written and fsync'd, but no block saved by compression")
        for k in range(40):
            ln = rng.choice([1, 100, PAGE, CB // 2, CB, CB + PAGE + 1, 3 * CB])
            off = rng.randrange(0, size - min(ln, size - 1))
            data = text(ln, k) if rng.random() < 0.6 else rand(ln, k)
            fs.write(name, off, data)
            if k % 10 == 9:
                fs.sync_drop(name)
                fs.check(name, f"overwrite: after {k + 1} overwrites + fsync + drop")
        for c in range(0, size // CB, 3):            # whole clusters, left dirty for the round's sync
            fs.write(name, c * CB, text(CB, c))
        expect_saved.append(name)

    lap("overwrite")

    # truncate inside a cluster, then extend and write again.
    name = "trunc"
    fs.write(name, 0, text(10 * CB + 500, 5))
    fs.sync_drop(name)
    for step, size in enumerate([6 * CB + 1234, 4 * CB + PAGE + 1, 3 * CB]):
        fs.truncate(name, size)
        fs.sync_drop(name)
        fs.check(name, f"truncate {step}: down to {size}")
        fs.truncate(name, 9 * CB)                   # extend: the cut tail must read as zeroes
        fs.sync_drop(name)
        fs.check(name, f"truncate {step}: extended to {9 * CB}")
        fs.write(name, size - 100 if size > 100 else 0, text(2 * CB + 17, step))
        fs.sync_drop(name)
        fs.check(name, f"truncate {step}: written again")
    # Truncate a dirty (never written back) compressed cluster.
    fs.write(name, 0, text(5 * CB, 9))
    fs.truncate(name, 2 * CB + 3000)
    fs.write(name, 3 * CB + 5, b"x" * 333)
    fs.sync_drop(name)
    fs.check(name, "truncate: dirty cluster cut")

    lap("truncate")

    # mmap: stores into compressed clusters (read back from the disk first).
    name = "mmap"
    size = 8 * CB + 321
    fs.write(name, 0, text(size, 31))
    fs.sync_drop(name)
    fd = fs.fd(name)
    mm = mmap.mmap(fd, size)
    for k in range(60):
        ln = rng.choice([1, 17, PAGE, CB + 3])
        off = rng.randrange(0, size - ln)
        data = text(ln, 500 + k) if k % 2 else rand(ln, 500 + k)
        mm[off:off + ln] = data
        fs.model[name][off:off + ln] = data
        if k == 20:
            mm.flush(0, 2 * CB)                    # msync of part of the file
        if k == 40:
            mm.flush()
    mm.close()                                      # the last stores are left to writeback
    name = "mmap-sparse"
    size = 6 * CB + 4097
    fs.truncate(name, size)
    mm = mmap.mmap(fs.fd(name), size)
    for c in range(0, 6, 2):                        # fill every other cluster, leave holes
        data = text(CB, 600 + c)
        mm[c * CB:(c + 1) * CB] = data
        fs.model[name][c * CB:(c + 1) * CB] = data
    mm.flush()
    mm.close()
    fs.sync_drop(name)
    fs.check(name, "mmap: sparse file filled through mmap, msync'd")
    fs.sync_drop("mmap")
    fs.check("mmap", "mmap: after munmap + fsync + drop")
    expect_saved.append("mmap-sparse")

    lap("mmap")

    # split: sync_file_range(WRITE) of sub-ranges that split clusters.
    name = "split"
    size = 16 * CB + 77
    fs.write(name, 0, text(size, 41))
    fd = fs.fd(name)
    for off, n in ((CB // 2, PAGE), (CB + PAGE, 2 * CB), (3 * CB - PAGE, 2 * PAGE), (6 * CB + 1, 1),
                   (8 * CB - 1, CB + 2), (15 * CB + PAGE, 0)):
        sfr(fd, off, n)
    sfr(fd, 10 * CB + PAGE, PAGE, SFR_WAIT_BEFORE | SFR_WRITE | SFR_WAIT_AFTER)
    fs.sync_drop(name)
    fs.check(name, "split: new clusters, sub-range writeback")
    # Overwrite one page of every (compressed) cluster, write back one page of each only.
    for c in range(16):
        fs.write(name, c * CB + (c % cs) * PAGE + 10, rand(100, c) if c % 3 == 0 else text(100, c))
    for c in range(16):
        sfr(fd, c * CB + ((c + 1) % cs) * PAGE, PAGE)
    fs.write(name, 5 * CB + 7, text(3 * CB, 99))
    sfr(fd, 6 * CB + PAGE, 3 * PAGE, SFR_WAIT_BEFORE | SFR_WRITE | SFR_WAIT_AFTER)
    os.fdatasync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    fs.check(name, "split: overwritten compressed clusters, sub-range writeback")

    lap("split")

    # race: per-file writers against WB_SYNC_NONE and WB_SYNC_ALL writeback.
    names = ["race0", "race1", "race2"]
    for i, n in enumerate(names):
        fs.write(n, 0, text(12 * CB + 1000 * i, 70 + i))
    fds = [fs.fd(n) for n in names]
    stop = threading.Event()
    terr, ops = [], {}

    def count(op):
        ops[op] = ops.get(op, 0) + 1

    def writer(i):
        r = random.Random(80 + i)
        n = names[i]
        try:
            while not stop.is_set():
                c = r.random()
                if c < 0.9:
                    ln = r.choice([1, 300, PAGE, CB - 1, CB, 2 * CB + 5])
                    off = r.randrange(0, 14 * CB)
                    fs.write(n, off, text(ln, r.randrange(1 << 30)) if r.random() < 0.7 else rand(ln, r.randrange(1 << 30)))
                    count("write")
                else:
                    fs.truncate(n, r.randrange(CB, 14 * CB))
                    count("truncate")
        except Exception as e:
            terr.append(f"writer {i}: {e!r}")

    def syncer(seed, all_mode):
        r = random.Random(seed)
        try:
            while not stop.is_set():
                fd = fds[r.randrange(3)]
                if all_mode:
                    if r.random() < 0.5:
                        os.fsync(fd)
                        count("fsync")
                    else:
                        os.fdatasync(fd)
                        count("fdatasync")
                    time.sleep(0.01)
                else:
                    off = r.randrange(0, 14 * CB)
                    sfr(fd, off, r.choice([PAGE, CB // 2 + PAGE, 3 * CB, 0]))
                    count("sync_file_range")
        except Exception as e:
            terr.append(f"syncer: {e!r}")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=syncer, args=(90, False)), threading.Thread(target=syncer, args=(91, True))]
    # The flusher too: dirty data expires after 10 ms, the flusher wakes every 10 ms
    # (the caller restores these knobs).  Sync first: the knob change wakes the
    # flusher at once, and its write of a cluster of a file left dirty above must
    # not overlap the checkpoint of a racing fsync (the cluster would then be
    # written raw: f2fs_write_compressed_pages() needs f2fs_trylock_op()).
    os.sync()
    for k in ("dirty_expire_centisecs", "dirty_writeback_centisecs"):
        with open(f"/proc/sys/vm/{k}", "w") as f:
            f.write("1")
    for t in threads:
        t.start()
    time.sleep(race_secs)
    stop.set()
    for t in threads:
        t.join()
    for e in terr:
        fail(e)
    say(f"race ({race_secs}s): {ops}")
    for n in names:
        fs.check(n, "race: in the page cache")
        fs.sync_drop(n)
        fs.check(n, "race: after fsync + drop")

    lap("race")

    # ahead: a cluster compressed on disk with two of its pages dirty is
    # overwritten as a whole by a WB_SYNC_NONE pass, ahead of the pass's
    # position, while ftruncate() cuts the file inside the second dirty page:
    # truncation locks that folio and waits for its writeback, and the pass
    # has yet to lock it.  The pass must not keep the bio of such folios
    # cached (a hang found by the race above, about once in 16 runs).
    say(f"ahead ({race_secs / 2:.1f}s): {ahead_race(fs, CB, race_secs / 2)}")
    lap("ahead")

    # Every file in the page cache now, and the compression state.
    for n in fs.model:
        fs.check(n, "end of cases, page cache")
    fs.close()
    check_compressed_inodes(fs, algo, log)
    os.sync()
    nosave = [n for n in expect_saved if compr_blocks(fs.path(n)) == 0]
    for n in nosave:
        fail(f"{n}: compressible data with full clusters, but F2FS_IOC_GET_COMPRESS_BLOCKS is 0")
    rsaved = [n for n in fs.model if n.startswith("eof-r") and compr_blocks(fs.path(n)) != 0]
    for n in rsaved:
        fail(f"{n}: incompressible data, but compression saved {compr_blocks(fs.path(n))} blocks")
    say(f"compression: {len(expect_saved) - len(nosave)}/{len(expect_saved)} text files save blocks; "
        f"{len(rsaved)} incompressible files claim savings")
    fs.manifest(manifest)
    lap("final checks")
    say(f"{len(fs.model)} files, {sum(len(m) for m in fs.model.values()) >> 10} KiB in the model")


def lowdirty(mnt, sub, suffix, log, manifest):
    """Writers under tiny dirty limits (set by the caller): the flusher and the
    throttled writers write back clusters while they are being filled."""
    cs = 1 << log
    CB = cs * PAGE
    fs = Files(f"{mnt}/{sub}", suffix)
    r = random.Random(5)
    t0 = time.time()
    written0 = vmstat("nr_written")
    for i, total in enumerate((3 << 20, 2 << 20)):
        name = f"low{i}"
        off = 0
        while off < total:                       # odd-sized appends: clusters filled in steps
            ln = r.choice([1000, 5000, CB - 3, 3 * CB + 11])
            fs.write(name, off, text(ln, r.randrange(1 << 30)) if r.random() < 0.8 else rand(ln, r.randrange(1 << 30)))
            off += ln
        for k in range(30):                      # and overwrites of what may be compressed already
            ln = r.choice([10, PAGE, CB + 1])
            fs.write(name, r.randrange(0, off - ln), text(ln, k))
    total = sum(len(m) for m in fs.model.values())
    # Pages written back while the writers ran (no sync yet): the flusher and the
    # throttle must have done most of it, or the low limits did not apply.
    during = (vmstat("nr_written") - written0) * PAGE
    say(f"lowdirty: wrote {total >> 10} KiB in {time.time() - t0:.1f}s; {during >> 10} KiB written back meanwhile")
    if during < total // 2:
        fail(f"lowdirty: only {during >> 10} KiB of {total >> 10} KiB written back before any sync: the low dirty limits took no effect")
    for n in fs.model:
        fs.check(n, "lowdirty: page cache")
    fs.close()
    for n in fs.model:
        if not iflags(fs.path(n)) & FS_COMPR_FL:
            fail(f"{n}: not a compressed inode")
    fs.manifest(manifest)


def budget(mnt, sub, suffix, manifest):
    """One 8 MiB compressed file dirtied at once, flusher started at 64 KiB
    (set by the caller): the background passes over it have a page budget
    (writeback_chunk_size(): 1024..3072 pages here) smaller than the file."""
    fs = Files(f"{mnt}/{sub}", suffix)
    name, size, step = "budget", 8 << 20, 256 << 10
    written0 = vmstat("nr_written")
    for k, off in enumerate(range(0, size, step)):
        fs.write(name, off, text(step, k) if k % 2 else rand(step, k))
    deadline = time.time() + 30
    while vmstat("nr_dirty") > 64 and time.time() < deadline:
        time.sleep(0.2)
    during = (vmstat("nr_written") - written0) * PAGE
    say(f"budget: {size >> 10} KiB dirtied; {during >> 10} KiB written back by the flusher before any sync")
    if during < size // 2:
        fail(f"budget: only {during >> 10} KiB of {size >> 10} KiB written back by the flusher")
    fs.write(name, 3 * step + 5, text(2 * step, 99))   # overwrite across what the passes wrote
    fs.check(name, "budget: page cache")
    fs.sync_drop(name)
    fs.check(name, "budget: after fsync + drop")
    fs.close()
    fs.manifest(manifest)


def usermode(mnt, manifest):
    """compress_mode=user: writeback compresses nothing until F2FS_IOC_COMPRESS_FILE."""
    fs = Files(f"{mnt}/user", ".cz")
    for name, log, algo in (("u-lz4", 2, None), ("u-zstd", 4, "zstd")):
        CB = PAGE << log
        size = 20 * CB + 1111
        fd = fs.fd(name)
        if algo:
            fcntl.ioctl(fd, F2FS_IOC_SET_COMPRESS_OPTION, bytes([ALGOS[algo], log]))
            opt = compr_option(fs.path(name))
            if opt != (ALGOS[algo], log):
                fail(f"{name}: F2FS_IOC_SET_COMPRESS_OPTION took no effect: {opt}")
        fs.write(name, 0, text(size, 3 + log))
        fs.sync_drop(name)
        fs.check(name, "user: written")
        b0 = compr_blocks(fs.path(name))
        if b0 != 0:
            fail(f"{name}: compress_mode=user, but writeback compressed ({b0} blocks saved) without being asked")
        fcntl.ioctl(fd, F2FS_IOC_COMPRESS_FILE)
        b1 = compr_blocks(fs.path(name))
        if b1 == 0:
            fail(f"{name}: F2FS_IOC_COMPRESS_FILE saved no block")
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        fs.check(name, "user: after F2FS_IOC_COMPRESS_FILE")
        # Overwrite compressed clusters in user mode (written back raw), then again.
        for k in range(12):
            fs.write(name, (k * 7919 * 13) % (size - CB), text(CB // 2 + k, 40 + k))
        fs.sync_drop(name)
        fs.check(name, "user: overwrites of compressed clusters")
        b2 = compr_blocks(fs.path(name))
        fcntl.ioctl(fd, F2FS_IOC_DECOMPRESS_FILE)
        b3 = compr_blocks(fs.path(name))
        if b3 != 0:
            fail(f"{name}: F2FS_IOC_DECOMPRESS_FILE left {b3} blocks saved")
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        fs.check(name, "user: after F2FS_IOC_DECOMPRESS_FILE")
        fs.write(name, size - 5, text(CB * 2, 50))     # grow across a cluster, then compress again
        fcntl.ioctl(fd, F2FS_IOC_COMPRESS_FILE)
        b4 = compr_blocks(fs.path(name))
        if b4 == 0:
            fail(f"{name}: second F2FS_IOC_COMPRESS_FILE saved no block")
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        fs.check(name, "user: compressed again")
        say(f"{name}: saved blocks: written {b0}, compressed {b1}, overwritten {b2}, "
            f"decompressed {b3}, compressed again {b4}")
    # Incompressible data: F2FS_IOC_COMPRESS_FILE must save nothing and keep it intact.
    name = "u-rand"
    fs.write(name, 0, rand(10 * (PAGE << 2) + 5, 9))
    fs.sync_drop(name)
    fcntl.ioctl(fs.fd(name), F2FS_IOC_COMPRESS_FILE)
    if compr_blocks(fs.path(name)) != 0:
        fail(f"{name}: incompressible data, but {compr_blocks(fs.path(name))} blocks saved")
    os.posix_fadvise(fs.fd(name), 0, 0, os.POSIX_FADV_DONTNEED)
    fs.check(name, "user: incompressible file after F2FS_IOC_COMPRESS_FILE")
    fs.close()
    fs.manifest(manifest)


def fsmode_ioctls(mnt):
    """In compress_mode=fs the user-mode ioctls must be refused (EOPNOTSUPP)."""
    p = f"{mnt}/fsmode-probe.cz"
    with open(p, "wb") as f:
        f.write(text(3 * PAGE, 1))
        try:
            fcntl.ioctl(f.fileno(), F2FS_IOC_COMPRESS_FILE)
            fail("F2FS_IOC_COMPRESS_FILE succeeded in compress_mode=fs")
        except OSError as e:
            if e.errno != 95:
                fail(f"F2FS_IOC_COMPRESS_FILE in compress_mode=fs: {e!r}, expected EOPNOTSUPP")
    os.unlink(p)


def counters(mnt, sysdir, out):
    """Deterministic workload; exact expected counter deltas.  For each cluster
    that writeback compresses (a full cluster inside i_size), f2fs adds to
    compr_written_block the blocks it writes (cluster_size when compression
    does not save a block) and to compr_saved_block the blocks saved, so
    written + saved = cluster_size x clusters tried, and saved = 0 for
    incompressible data."""
    def read():
        return [int(open(f"{sysdir}/{k}").read()) for k in ("compr_written_block", "compr_saved_block")]

    def reset():
        for k in ("compr_written_block", "compr_saved_block"):
            with open(f"{sysdir}/{k}", "w") as f:
                f.write("0")
        if read() != [0, 0]:
            fail(f"counters: could not reset them: {read()}")

    fs = Files(f"{mnt}/cnt", ".cz")
    sizes = [1, PAGE + 1, 3 * PAGE, 4 * PAGE, 9 * PAGE - 1, 64 * PAGE + 5, 256 * PAGE, 333 * PAGE + 333]
    result, tries = {}, {}

    def full_clusters(size, log):
        return ((size + PAGE - 1) // PAGE) >> log

    def phase(label, expect):
        os.sync()
        w, s = read()
        result[label] = {"written": w, "saved": s}
        ok = True
        if w + s != expect:
            fail(f"counters {label}: written {w} + saved {s} = {w + s}, expected {expect} (cluster blocks of the clusters written)")
            ok = False
        return w, s, ok

    # text: lz4 log 2 (mount), zstd log 4 and lz4 log 3 (per file), each fsync'd once.
    reset()
    expect = 0
    for i, size in enumerate(sizes):
        for sfx, opt in (("l2", None), ("z4", (ALGOS["zstd"], 4)), ("l3", (ALGOS["lz4"], 3))):
            name = f"t{i}-{sfx}"
            fd = fs.fd(name)
            if opt:
                fcntl.ioctl(fd, F2FS_IOC_SET_COMPRESS_OPTION, bytes(opt))
            log = opt[1] if opt else 2
            fs.write(name, 0, text(size, 100 + i))
            os.fsync(fd)
            expect += full_clusters(size, log) << log
    w, s, ok = phase("text", expect)
    if w == 0 or s == 0:
        fail(f"counters text: compressible data, but written {w}, saved {s} (both must be > 0)")

    # rand: incompressible; every full cluster is tried and saves nothing.
    reset()
    expect = 0
    for i, size in enumerate(sizes):
        name = f"r{i}"
        fs.write(name, 0, rand(size, 200 + i))
        os.fsync(fs.fd(name))
        expect += full_clusters(size, 2) << 2
    w, s, ok = phase("rand", expect)
    if s != 0 or w == 0:
        fail(f"counters rand: incompressible data, but saved {s} (must be 0), written {w} (must be > 0)")

    # overwrite: small writes into compressed clusters of the text files; the
    # whole cluster is dirtied, so each touched full cluster is compressed again.
    reset()
    expect = 0
    for i, size in enumerate(sizes):
        if size < 16 * PAGE:
            continue
        for sfx, log in (("l2", 2), ("z4", 4), ("l3", 3)):
            name = f"t{i}-{sfx}"
            CB = PAGE << log
            touched = set()
            for k in range(5):
                off = (k * 37 * PAGE + 123 * k) % (full_clusters(size, log) * CB - 200)
                fs.write(name, off, text(200, 300 + k))
                touched |= {off // CB, (off + 199) // CB}
            os.fsync(fs.fd(name))
            expect += len(touched) << log
    w, s, ok = phase("overwrite", expect)
    if s == 0:
        fail("counters overwrite: compressible rewrites saved nothing")

    # split (reported, not compared): sub-range WB_SYNC_NONE writeback of new clusters.
    reset()
    name = "split"
    fs.write(name, 0, text(64 * PAGE, 400))
    fd = fs.fd(name)
    for off in range(0, 64 * PAGE, 12 * PAGE):         # pages 1-2 of clusters 0, 3, 6, 9, 12, 15
        sfr(fd, off + PAGE, 2 * PAGE, SFR_WAIT_BEFORE | SFR_WRITE | SFR_WAIT_AFTER)
    os.fsync(fd)
    os.sync()
    w, s = read()
    result["split"] = {"written": w, "saved": s}

    for n in fs.model:
        fs.check(n, "counters: page cache")
    fs.close()
    fs.manifest(out + ".manifest")
    with open(out, "w") as f:
        json.dump(result, f, sort_keys=True)


mode = sys.argv[1]
if mode == "cases":
    cases(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), float(sys.argv[7]), sys.argv[8])
    fsmode_ioctls(sys.argv[2])
elif mode == "lowdirty":
    lowdirty(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])
elif mode == "budget":
    budget(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
elif mode == "user":
    usermode(sys.argv[2], sys.argv[3])
elif mode == "counters":
    counters(sys.argv[2], sys.argv[3], sys.argv[4])
elif mode == "verify":
    sys.exit(0 if verify(sys.argv[2:]) else 1)
else:
    sys.exit(f"unknown mode {mode}")
sys.exit(1 if errors else 0)
EOF

# verify_all LABEL: every manifest of the round against the files, after
# sync + drop_caches, then after umount + fsck.f2fs + mount.
verify_all() {
	local t0=$SECONDS
	drop_caches
	$PY "$work/wbc.py" verify "$work"/*.manifest.json || fail "$1: data differs after sync + drop_caches"
	fsck_clean
	$PY "$work/wbc.py" verify "$work"/*.manifest.json || fail "$1: data differs after umount + fsck + mount"
	rm -f "$work"/*.manifest.json
	log "$1: verified in $((SECONDS - t0))s; round done at ${SECONDS}s"
}

FEAT=extra_attr,compression

# mount_has LABEL OPTION...: /proc/mounts must list each OPTION for $MNT
# (compress_algorithm=zstd may be shown with its level, "zstd:N").
mount_has() {
	local opts o
	opts=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts)
	for o in "${@:2}"; do
		[[ ",$opts," == *",$o,"* || ",$opts," == *",$o:"* ]] || fail "$1: the mount does not show $o: $opts"
	done
}

# --- lz4, 16 KiB clusters, compress_extension; then tiny dirty limits.
log "lz4-log2: mount compress_algorithm=lz4,compress_log_size=2,compress_extension=cz"
mkfs_mount "$FEAT" "compress_algorithm=lz4,compress_log_size=2,compress_extension=cz"
mount_has lz4-log2 compress_algorithm=lz4 compress_log_size=2 compress_extension=cz compress_mode=fs
$PY "$work/wbc.py" cases "$MNT" lz4 .cz lz4 2 "$RACE_SECS" "$work/lz4.manifest.json" ||
	fail "lz4-log2: the cases reported errors"
restore_vm
log "lz4-log2: background writeback with dirty_background_bytes=64 KiB, dirty_bytes=512 KiB"
echo 1 >/proc/sys/vm/dirty_expire_centisecs
echo 1 >/proc/sys/vm/dirty_writeback_centisecs
echo 65536 >/proc/sys/vm/dirty_background_bytes
echo 524288 >/proc/sys/vm/dirty_bytes
$PY "$work/wbc.py" lowdirty "$MNT" low .cz 2 "$work/low.manifest.json" ||
	fail "lz4-log2: the low dirty limit writers reported errors"
log "lz4-log2: an 8 MiB file dirtied at once, dirty_background_bytes=64 KiB, dirty_bytes=64 MiB"
echo 67108864 >/proc/sys/vm/dirty_bytes
$PY "$work/wbc.py" budget "$MNT" low .cz "$work/budget.manifest.json" ||
	fail "lz4-log2: the flusher budget case reported errors"
restore_vm
verify_all lz4-log2

# --- zstd, 64 KiB clusters, compress_chksum, chattr +c on the directory.
log "zstd-log4: mount compress_algorithm=zstd,compress_log_size=4,compress_chksum; chattr +c on the directory"
mkfs_mount "$FEAT" "compress_algorithm=zstd,compress_log_size=4,compress_chksum"
mount_has zstd-log4 compress_algorithm=zstd compress_log_size=4 compress_chksum compress_mode=fs
mkdir "$MNT/zstd"
chattr +c "$MNT/zstd"
lsattr -d "$MNT/zstd" | grep -q '^[^ ]*c' || fail "zstd-log4: chattr +c did not set the flag on the directory"
$PY "$work/wbc.py" cases "$MNT" zstd "" zstd 4 "$RACE_SECS" "$work/zstd.manifest.json" ||
	fail "zstd-log4: the cases reported errors"
restore_vm
verify_all zstd-log4

# --- compress_mode=user.
log "user-mode: mount compress_algorithm=lz4,compress_log_size=2,compress_mode=user,compress_extension=cz"
mkfs_mount "$FEAT" "compress_algorithm=lz4,compress_log_size=2,compress_mode=user,compress_extension=cz"
mount_has user-mode compress_algorithm=lz4 compress_log_size=2 compress_extension=cz compress_mode=user
$PY "$work/wbc.py" user "$MNT" "$work/user.manifest.json" || fail "user-mode: the ioctl cases reported errors"
verify_all user-mode

# --- counters: deterministic workload on the boot module and on the other one.
build_id() { od -An -v -tx1 /sys/module/f2fs/notes/.note.gnu.build-id 2>/dev/null | tr -d ' \n'; }
# which_module: stock or patched, the lab module whose file holds the loaded build-id note.
which_module() {
	$PY - <<'EOF'
import os
try:
    note = open("/sys/module/f2fs/notes/.note.gnu.build-id", "rb").read()
except OSError:
    print("none"); raise SystemExit
for v in ("stock", "patched"):
    ko = os.environ.get(f"WBTRACE_MODULE_{v.upper()}", "")
    if ko and os.path.isfile(ko) and note in open(ko, "rb").read():
        print(v); raise SystemExit
print("unknown")
EOF
}
CNT_OPTS="compress_algorithm=lz4,compress_log_size=2,compress_extension=cz,background_gc=off"
counter_run() { # $1 module label: runs the workload, prints COUNTERS, leaves $work/counters-$1.json
	mkfs_mount "$FEAT" "$CNT_OPTS"
	mount_has "counters [$1]" compress_algorithm=lz4 compress_log_size=2 compress_extension=cz background_gc=off
	# No flusher during the workload: every cluster is written back by the fsync
	# that follows its write, so what each writeback pass sees is fixed.  Not 0:
	# with periodic writeback off, the first dirty inode of the disk wakes the
	# flusher at once (wb_wakeup_delayed() waits dirty_writeback_interval), and
	# that wake-up may start background writeback (see wb-cluster-paths).
	echo 360000 >/proc/sys/vm/dirty_writeback_centisecs
	echo 360000 >/proc/sys/vm/dirty_expire_centisecs
	$PY "$work/wbc.py" counters "$MNT" "$sysdir" "$work/counters-$1.json" ||
		fail "counters [$1]: the workload reported errors"
	restore_vm
	[ -f "$work/counters-$1.json.manifest" ] && mv "$work/counters-$1.json.manifest" "$work/counters.manifest.json"
	verify_all "counters [$1]"
	echo "COUNTERS {\"test\":\"wb-compress\",\"workload\":1,\"boot_variant\":\"$WBTRACE_VARIANT\",\"module\":\"$1\",\"build_id\":\"$(build_id)\",\"phases\":$(cat "$work/counters-$1.json" 2>/dev/null || echo null)}"
	umount "$MNT"
}
swap_to() { # $1 variant: rmmod f2fs; insmod its module; check by build-id
	local ko_var=WBTRACE_MODULE_${1^^}
	local ko=${!ko_var:-}
	if [ -z "$ko" ] || [ ! -f "$ko" ]; then
		fail "$ko_var is not set or missing: cannot load the $1 module"
		return 1
	fi
	mountpoint -q "$MNT" && umount "$MNT"
	rmmod f2fs || { fail "rmmod f2fs failed"; return 1; }
	insmod "$ko" || { fail "insmod $ko failed"; return 1; }
	[ "$(which_module)" = "$1" ] || { fail "after insmod $ko the loaded f2fs is '$(which_module)', not $1"; return 1; }
}

boot=$(which_module)
log "counters: loaded module is '$boot' (boot variant $WBTRACE_VARIANT)"
[ "$boot" = "$WBTRACE_VARIANT" ] || fail "the loaded f2fs module is '$boot', expected $WBTRACE_VARIANT"
other=stock
[ "$boot" = stock ] && other=patched
counter_run "$boot"
if swap_to "$other"; then
	counter_run "$other"
	swap_to "$boot" || fail "could not reload the $boot module: later tests in this boot run on the wrong f2fs"
fi
# Tolerance 0: the workload is single-threaded, each file is written with one
# pwrite (whole clusters dirty) and fsync'd before the next, the flusher is
# off, so each module compresses the same clusters of the same bytes with the
# same compressor (built into the same vmlinux): the counts are exact, not
# statistical.  "split" is reported only: how a pass splits a cluster at a
# range edge is the loop's policy, which the patched series may change.
if [ -s "$work/counters-$boot.json" ] && [ -s "$work/counters-$other.json" ]; then
	$PY - "$work/counters-$boot.json" "$work/counters-$other.json" "$boot" "$other" <<'EOF' || fail "counters differ between the stock and patched modules"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = [p for p in ("text", "rand", "overwrite") if a.get(p) != b.get(p)]
for p in sorted(set(a) | set(b)):
    print(f"  counters {p:9s} {sys.argv[3]}: {a.get(p)}  {sys.argv[4]}: {b.get(p)}"
          + ("  DIFFER" if p in bad else "  (reported only)" if p == "split" and a.get(p) != b.get(p) else ""))
sys.exit(1 if bad else 0)
EOF
else
	fail "counters: no result for both modules ($boot, $other)"
fi

rm -rf "$work"
finish
