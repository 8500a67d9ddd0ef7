"""The Python of wb-compress.sh: writes and checks compressed files on the f2fs
mounted at MNT, against an in-memory model of their contents.

  wb_compress.py cases MNT SUB SUFFIX ALGO LOG RACE_SECS MANIFEST
  wb_compress.py lowdirty MNT SUB SUFFIX LOG MANIFEST
  wb_compress.py budget MNT SUB SUFFIX MANIFEST
  wb_compress.py user MNT MANIFEST
  wb_compress.py counters MNT SYSDIR OUT
  wb_compress.py verify MANIFEST...
  wb_compress.py which-module              stock, patched, unknown or none: the loaded f2fs
  wb_compress.py compare-counters A B LABEL_A LABEL_B

See wb-compress.sh for what each case does.  Exit status 1 if a check failed.
"""
import fcntl
import json
import mmap
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "workloads"))
import filemodel  # noqa: E402
import sysio  # noqa: E402

PAGE = 4096
ALGOS = sysio.F2FS_COMPRESS_ALGOS
SFR_WAIT_BEFORE, SFR_WRITE, SFR_WAIT_AFTER = (sysio.SYNC_FILE_RANGE_WAIT_BEFORE, sysio.SYNC_FILE_RANGE_WRITE,
                                              sysio.SYNC_FILE_RANGE_WAIT_AFTER)
sfr = sysio.sync_file_range
compr_blocks, compr_option, iflags = sysio.compr_blocks, sysio.compr_option, sysio.iflags
FS_COMPR_FL = sysio.FS_COMPR_FL
BUILD_ID_NOTE = "/sys/module/f2fs/notes/.note.gnu.build-id"

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


def vmstat(key, path="/proc/vmstat"):
    with open(path) as f:
        for line in f:
            k, v = line.split()
            if k == key:
                return int(v)
    raise KeyError(key)


sha = filemodel.sha256
errors = []


def fail(msg):
    print(f"  FAIL: {msg}", flush=True)
    errors.append(msg)


def say(msg):
    print(f"  {msg}", flush=True)


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
        filemodel.write(self.model[name], off, data)

    def truncate(self, name, size):
        os.ftruncate(self.fd(name), size)
        filemodel.truncate(self.model[name], size)

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
    wd = sysio.Watchdog(stall)
    wd.start(name, "a round")
    counts = {"rounds": 0}
    errs = []

    def writeback():
        try:
            sfr(fd, 0, 0)
        except OSError as e:
            errs.append(e)

    stop = wd.watch(lambda *_: f"  HANG: ahead: no round finished for {stall} s (blocked tasks: kernel log)")
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
        wd.start(name, "a round")
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
    sysio.set_vm(sysio.FLUSHER_EAGER)
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


def compress_ioctl(fs, name, request, stage):
    """A user-mode (de)compression ioctl on NAME, then its page cache dropped and its
    contents checked (STAGE names the check): the blocks the file saves after it."""
    fd = fs.fd(name)
    fcntl.ioctl(fd, request)
    saved = compr_blocks(fs.path(name))
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    fs.check(name, stage)
    return saved


def usermode(mnt, manifest):
    """compress_mode=user: writeback compresses nothing until F2FS_IOC_COMPRESS_FILE."""
    fs = Files(f"{mnt}/user", ".cz")
    for name, log, algo in (("u-lz4", 2, None), ("u-zstd", 4, "zstd")):
        CB = PAGE << log
        size = 20 * CB + 1111
        fd = fs.fd(name)
        if algo:
            sysio.set_compr_option(fd, ALGOS[algo], log)
            opt = compr_option(fs.path(name))
            if opt != (ALGOS[algo], log):
                fail(f"{name}: F2FS_IOC_SET_COMPRESS_OPTION took no effect: {opt}")
        fs.write(name, 0, text(size, 3 + log))
        fs.sync_drop(name)
        fs.check(name, "user: written")
        b0 = compr_blocks(fs.path(name))
        if b0 != 0:
            fail(f"{name}: compress_mode=user, but writeback compressed ({b0} blocks saved) without being asked")
        b1 = compress_ioctl(fs, name, sysio.F2FS_IOC_COMPRESS_FILE, "user: after F2FS_IOC_COMPRESS_FILE")
        if b1 == 0:
            fail(f"{name}: F2FS_IOC_COMPRESS_FILE saved no block")
        # Overwrite compressed clusters in user mode (written back raw), then again.
        for k in range(12):
            fs.write(name, (k * 7919 * 13) % (size - CB), text(CB // 2 + k, 40 + k))
        fs.sync_drop(name)
        fs.check(name, "user: overwrites of compressed clusters")
        b2 = compr_blocks(fs.path(name))
        b3 = compress_ioctl(fs, name, sysio.F2FS_IOC_DECOMPRESS_FILE, "user: after F2FS_IOC_DECOMPRESS_FILE")
        if b3 != 0:
            fail(f"{name}: F2FS_IOC_DECOMPRESS_FILE left {b3} blocks saved")
        fs.write(name, size - 5, text(CB * 2, 50))     # grow across a cluster, then compress again
        b4 = compress_ioctl(fs, name, sysio.F2FS_IOC_COMPRESS_FILE, "user: compressed again")
        if b4 == 0:
            fail(f"{name}: second F2FS_IOC_COMPRESS_FILE saved no block")
        say(f"{name}: saved blocks: written {b0}, compressed {b1}, overwritten {b2}, "
            f"decompressed {b3}, compressed again {b4}")
    # Incompressible data: F2FS_IOC_COMPRESS_FILE must save nothing and keep it intact.
    name = "u-rand"
    fs.write(name, 0, rand(10 * (PAGE << 2) + 5, 9))
    fs.sync_drop(name)
    saved = compress_ioctl(fs, name, sysio.F2FS_IOC_COMPRESS_FILE,
                           "user: incompressible file after F2FS_IOC_COMPRESS_FILE")
    if saved != 0:
        fail(f"{name}: incompressible data, but {saved} blocks saved")
    fs.close()
    fs.manifest(manifest)


def fsmode_ioctls(mnt):
    """In compress_mode=fs the user-mode ioctls must be refused (EOPNOTSUPP)."""
    p = f"{mnt}/fsmode-probe.cz"
    with open(p, "wb") as f:
        f.write(text(3 * PAGE, 1))
        try:
            fcntl.ioctl(f.fileno(), sysio.F2FS_IOC_COMPRESS_FILE)
            fail("F2FS_IOC_COMPRESS_FILE succeeded in compress_mode=fs")
        except OSError as e:
            if e.errno != 95:
                fail(f"F2FS_IOC_COMPRESS_FILE in compress_mode=fs: {e!r}, expected EOPNOTSUPP")
    os.unlink(p)


# The counters workload: its file sizes and, for the text files, the cluster
# options: (name suffix, algorithm set per file or None for the mount's lz4,
# log_cluster_size).
COUNTER_SIZES = [1, PAGE + 1, 3 * PAGE, 4 * PAGE, 9 * PAGE - 1, 64 * PAGE + 5, 256 * PAGE, 333 * PAGE + 333]
COUNTER_TEXT_OPTS = (("l2", None, 2), ("z4", "zstd", 4), ("l3", "lz4", 3))
OVERWRITE_LEN = 200


def full_clusters(size, log):
    """Clusters of 2^LOG pages wholly inside a file of SIZE bytes' pages:
    the ones writeback tries to compress."""
    return ((size + PAGE - 1) // PAGE) >> log


def overwrite_offsets(size, log):
    """Where the overwrite phase writes OVERWRITE_LEN bytes into a text file of SIZE."""
    return [(k * 37 * PAGE + 123 * k) % (full_clusters(size, log) * (PAGE << log) - OVERWRITE_LEN)
            for k in range(5)]


def touched_clusters(offsets, log):
    CB = PAGE << log
    return {c for off in offsets for c in (off // CB, (off + OVERWRITE_LEN - 1) // CB)}


def expected_cluster_blocks(phase, sizes=COUNTER_SIZES):
    """compr_written_block + compr_saved_block after PHASE of the counters
    workload: the blocks of the clusters that writeback compresses."""
    if phase == "text":
        return sum(full_clusters(size, log) << log for size in sizes for _, _, log in COUNTER_TEXT_OPTS)
    if phase == "rand":
        return sum(full_clusters(size, 2) << 2 for size in sizes)
    if phase == "overwrite":
        return sum(len(touched_clusters(overwrite_offsets(size, log), log)) << log
                   for size in sizes if size >= 16 * PAGE for _, _, log in COUNTER_TEXT_OPTS)
    raise ValueError(phase)


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
    sizes = COUNTER_SIZES
    result = {}

    def phase(label):
        expect = expected_cluster_blocks(label, sizes)
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
    for i, size in enumerate(sizes):
        for sfx, algo, log in COUNTER_TEXT_OPTS:
            name = f"t{i}-{sfx}"
            fd = fs.fd(name)
            if algo:
                sysio.set_compr_option(fd, ALGOS[algo], log)
            fs.write(name, 0, text(size, 100 + i))
            os.fsync(fd)
    w, s, ok = phase("text")
    if w == 0 or s == 0:
        fail(f"counters text: compressible data, but written {w}, saved {s} (both must be > 0)")

    # rand: incompressible; every full cluster is tried and saves nothing.
    reset()
    for i, size in enumerate(sizes):
        name = f"r{i}"
        fs.write(name, 0, rand(size, 200 + i))
        os.fsync(fs.fd(name))
    w, s, ok = phase("rand")
    if s != 0 or w == 0:
        fail(f"counters rand: incompressible data, but saved {s} (must be 0), written {w} (must be > 0)")

    # overwrite: small writes into compressed clusters of the text files; the
    # whole cluster is dirtied, so each touched full cluster is compressed again.
    reset()
    for i, size in enumerate(sizes):
        if size < 16 * PAGE:
            continue
        for sfx, _, log in COUNTER_TEXT_OPTS:
            name = f"t{i}-{sfx}"
            for k, off in enumerate(overwrite_offsets(size, log)):
                fs.write(name, off, text(OVERWRITE_LEN, 300 + k))
            os.fsync(fs.fd(name))
    w, s, ok = phase("overwrite")
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


def which_module(note=BUILD_ID_NOTE, env=os.environ):
    """stock or patched: the lab module (WBTRACE_MODULE_STOCK/_PATCHED) whose
    file holds the build-id note of the loaded f2fs; "none" when f2fs is not
    loaded, "unknown" when neither file holds it."""
    try:
        with open(note, "rb") as f:
            want = f.read()
    except OSError:
        return "none"
    for v in ("stock", "patched"):
        ko = env.get(f"WBTRACE_MODULE_{v.upper()}", "")
        if ko and os.path.isfile(ko):
            with open(ko, "rb") as f:
                if want in f.read():
                    return v
    return "unknown"


COMPARED_PHASES = ("text", "rand", "overwrite")


def compare_counters(a, b, label_a, label_b):
    """The counters of two modules (counters() results), one line per phase:
    the phases in COMPARED_PHASES must be equal; "split" is reported only.
    Returns the lines and the phases that differ."""
    bad = [p for p in COMPARED_PHASES if a.get(p) != b.get(p)]
    lines = [f"  counters {p:9s} {label_a}: {a.get(p)}  {label_b}: {b.get(p)}"
             + ("  DIFFER" if p in bad else "  (reported only)" if p == "split" and a.get(p) != b.get(p) else "")
             for p in sorted(set(a) | set(b))]
    return lines, bad


def main(argv):
    mode = argv[1]
    if mode == "cases":
        cases(argv[2], argv[3], argv[4], argv[5], int(argv[6]), float(argv[7]), argv[8])
        fsmode_ioctls(argv[2])
    elif mode == "lowdirty":
        lowdirty(argv[2], argv[3], argv[4], int(argv[5]), argv[6])
    elif mode == "budget":
        budget(argv[2], argv[3], argv[4], argv[5])
    elif mode == "user":
        usermode(argv[2], argv[3])
    elif mode == "counters":
        counters(argv[2], argv[3], argv[4])
    elif mode == "verify":
        return 0 if verify(argv[2:]) else 1
    elif mode == "which-module":
        print(which_module())
        return 0
    elif mode == "compare-counters":
        with open(argv[2]) as fa, open(argv[3]) as fb:
            lines, bad = compare_counters(json.load(fa), json.load(fb), argv[4], argv[5])
        for line in lines:
            print(line)
        return 1 if bad else 0
    else:
        sys.exit(f"unknown mode {mode}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
