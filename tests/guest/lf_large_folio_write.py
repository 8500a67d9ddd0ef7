"""Write-side workload for lf-large-folio-write.sh (issue 16, step 3).

    lf_large_folio_write.py ops FILE SEED NOPS REF   random operations on FILE,
        mirrored in memory; the expected content is saved to REF
    lf_large_folio_write.py check FILE REF           FILE must equal REF
    lf_large_folio_write.py selfmove FILE             moves within one file
    lf_large_folio_write.py gc FILE REF SEED          foreground GC of FILE's blocks
        while FILE is cached and some of its blocks are dirty (REF is updated)
    lf_large_folio_write.py mmapread FILE             read FILE through a shared
        mapping with MADV_HUGEPAGE: the page cache gets folios as large as
        the file allows, up to EOF
    lf_large_folio_write.py mmapstore FILE REF OFF    store a byte at OFF through a
        shared mapping (page_mkwrite), msync; the same byte goes to REF
    lf_large_folio_write.py radrop FILE REF SEED      readers fault FILE in with
        MADV_HUGEPAGE while an atomic write takes it back to order-0 folios;
        FILE is written first (REF gets the same), every page read is checked
    lf_large_folio_write.py collapsedrop FILE REF SEED  MADV_COLLAPSE of FILE's
        first 2 MiB while an atomic write takes it back to order-0 folios, then
        atomic writes into that range; FILE must read back as REF
    lf_large_folio_write.py scatter FILE REF SEED    write 2 MiB to FILE, sync,
        write its block 1 again and sync: block 1 moves away from block 0
    lf_large_folio_write.py physblock FILE INDEX     print the device block that
        holds FILE's block INDEX (FIEMAP)
    lf_large_folio_write.py readerr FILE             with FILE's block 0 failing
        to read, fault its first 2 MiB in as one large folio: read() of
        block 0 must then fail with EIO

The operations: buffered pwrite of random sizes at random offsets (partial
blocks, overwrites, appends), truncate (shrink and grow), punch hole and zero
range (fallocate), shared-mmap stores, fsync, O_DIRECT writes of aligned
blocks after buffered writes to the same range, F2FS_IOC_MOVE_RANGE of blocks
from a checkpointed source file into it, and F2FS_IOC_DEFRAGMENT.  The expected content is kept
in a bytearray, so any lost, stale or misplaced byte shows as a difference.
"""

import ctypes
import errno
import fcntl
import mmap
import os
import random
import select
import signal
import struct
import sys
import time

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10
MAX = 12 << 20
BLK = 4096
# The random operations of ops() and their weights (the order is part of the
# seeds' meaning: a seed draws the same operations as long as it stays).
OPS = {"write": 30, "smallwrite": 20, "truncate": 5, "punch": 8, "zero": 8, "mmap": 10,
       "fsync": 5, "direct": 8, "move": 4, "defrag": 2}
# The ones that need f2fs (its ioctls); the others run on any file system
# with punch hole, zero range and O_DIRECT.
F2FS_ONLY = ("move", "defrag")
USAGE = {"ops": "FILE SEED NOPS REF", "check": "FILE REF", "selfmove": "FILE", "gc": "FILE REF SEED",
         "atomic": "FILE REF SEED", "mmapread": "FILE", "mmapstore": "FILE REF OFF",
         "radrop": "FILE REF SEED", "collapsedrop": "FILE REF SEED", "scatter": "FILE REF SEED",
         "physblock": "FILE INDEX", "readerr": "FILE"}


def _iowr(nr, size, rw=3):
    return (rw << 30) | (size << 16) | (0xf5 << 8) | nr


# include/uapi/linux/f2fs.h
F2FS_IOC_START_ATOMIC_WRITE = _iowr(1, 0, rw=0)
F2FS_IOC_COMMIT_ATOMIC_WRITE = _iowr(2, 0, rw=0)
F2FS_IOC_DEFRAGMENT = _iowr(8, 16)
F2FS_IOC_MOVE_RANGE = _iowr(9, 32)
F2FS_IOC_GARBAGE_COLLECT_RANGE = _iowr(11, 24, rw=1)
FS_IOC_FIEMAP = (3 << 30) | (32 << 16) | (ord("f") << 8) | 11

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
MAP_FAILED = ctypes.c_void_p(-1).value
PROT_NONE, PROT_READ = 0, 1  # Python 3.11's mmap has PROT_READ but not PROT_NONE
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MADV_COLLAPSE = 25  # include/uapi/asm-generic/mman-common.h; Python 3.11's mmap lacks it


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"fallocate mode {mode:#x} {off}+{length}: {os.strerror(e)}")


def resize(ref, size):
    if size < len(ref):
        del ref[size:]
    else:
        ref.extend(bytes(size - len(ref)))


def ops(path, seed, nops, refpath, kinds=None):
    """NOPS random operations on PATH, mirrored in memory; the expected content
    is written to REFPATH.  KINDS (default: all of OPS) limits the operations
    drawn; a seed draws the same operations as before only with all of them."""
    rnd = random.Random(seed)
    kinds = list(OPS) if kinds is None else list(kinds)
    unknown = [k for k in kinds if k not in OPS]
    if unknown or not kinds:
        raise ValueError(f"operations {unknown or kinds}: not among {', '.join(OPS)}")
    weights = [w if k in kinds else 0 for k, w in OPS.items()]
    ref = bytearray()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    counts = {}
    # the source of the moves: written and checkpointed (sync), so that
    # F2FS_IOC_MOVE_RANGE copies its blocks through the page cache rather than
    # handing their addresses over, which would leave FILE's cache stale
    msrc = rnd.randbytes(4 << 20)
    mfd = None
    if "move" in kinds:
        mfd = os.open(path + ".movesrc", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.pwrite(mfd, msrc, 0)
        os.fsync(mfd)
        os.sync()
    mcur = 0
    # start with a sequential 6 MiB so that overwrites hit written blocks
    data = rnd.randbytes(6 << 20)
    os.pwrite(fd, data, 0)
    ref.extend(data)
    for _ in range(nops):
        op = rnd.choices(list(OPS), weights)[0]
        counts[op] = counts.get(op, 0) + 1
        size = len(ref)
        if op in ("write", "smallwrite"):
            n = rnd.randint(1, 600000) if op == "write" else rnd.randint(1, 5000)
            off = rnd.randint(0, min(MAX - n, size + 300000))
            data = rnd.randbytes(n)
            assert os.pwrite(fd, data, off) == n
            if off + n > size:
                resize(ref, off + n)
            ref[off:off + n] = data
        elif op == "truncate":
            new = rnd.randint(max(0, size - 2000000), min(MAX, size + 1000000))
            os.ftruncate(fd, new)
            resize(ref, new)
        elif op in ("punch", "zero") and size:
            off = rnd.randint(0, size - 1)
            n = rnd.randint(1, 400000)
            if op == "punch":
                fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, n)
                end = min(off + n, size)
            else:
                fallocate(fd, FALLOC_FL_ZERO_RANGE, off, n)
                end = off + n
                if end > size:
                    resize(ref, end)
            ref[off:end] = bytes(end - off)
        elif op == "mmap" and size:
            with mmap.mmap(fd, size) as m:
                for _ in range(rnd.randint(1, 20)):
                    off = rnd.randint(0, size - 1)
                    n = min(rnd.randint(1, 20000), size - off)
                    data = rnd.randbytes(n)
                    m[off:off + n] = data
                    ref[off:off + n] = data
                if rnd.random() < 0.5:
                    m.flush()
        elif op == "fsync":
            os.fsync(fd)
        elif op == "direct":
            # buffered first, then O_DIRECT over the same blocks
            blks = rnd.randint(1, 64)
            off = rnd.randint(0, (min(size, MAX - blks * BLK)) // BLK) * BLK
            data = rnd.randbytes(blks * BLK)
            os.pwrite(fd, data[::-1], off)
            dfd = os.open(path, os.O_RDWR | os.O_DIRECT)
            buf = mmap.mmap(-1, blks * BLK)
            buf[:] = data
            try:
                assert os.pwrite(dfd, buf, off) == blks * BLK
            finally:
                buf.close()
                os.close(dfd)
            if off + blks * BLK > size:
                resize(ref, off + blks * BLK)
            ref[off:off + blks * BLK] = data
        elif op == "move":
            # blocks of the checkpointed source file into FILE: they are
            # copied through both page caches (__clone_blkaddrs()) and become
            # holes in the source, which is never read again
            n = rnd.randint(1, 64) * BLK
            if mcur + n > len(msrc):
                counts[op] -= 1
                continue
            pout = rnd.randint(0, min(size + 300000, MAX - n) // BLK) * BLK
            fcntl.ioctl(mfd, F2FS_IOC_MOVE_RANGE, struct.pack("=I4xQQQ", fd, mcur, pout, n))
            if pout + n > len(ref):
                resize(ref, pout + n)
            ref[pout:pout + n] = msrc[mcur:mcur + n]
            mcur += n
        elif op == "defrag" and size:
            off = rnd.randint(0, (size - 1) // BLK) * BLK
            try:
                fcntl.ioctl(fd, F2FS_IOC_DEFRAGMENT, struct.pack("=QQ", off, rnd.randint(1, 256) * BLK))
            except OSError as e:
                counts["defrag-" + errno.errorcode.get(e.errno, str(e.errno))] = \
                    counts.get("defrag-" + errno.errorcode.get(e.errno, str(e.errno)), 0) + 1
        assert os.fstat(fd).st_size == len(ref), (op, os.fstat(fd).st_size, len(ref))
    os.close(fd)
    if mfd is not None:
        os.close(mfd)
        os.unlink(path + ".movesrc")
    with open(refpath, "wb") as f:
        f.write(ref)
    print("  ops:", " ".join(f"{k}={v}" for k, v in sorted(counts.items())), "size", len(ref))


def fiemap(fd, start, length, n):
    """One FS_IOC_FIEMAP call: up to N extents of fd from byte START on, as
    (logical, physical, length) in bytes, and whether the last is the file's
    last (FIEMAP_EXTENT_LAST)."""
    buf = bytearray(struct.pack("=QQIIII", start, length, 0, 0, n, 0) + bytes(56 * n))
    fcntl.ioctl(fd, FS_IOC_FIEMAP, buf)
    out, last = [], False
    for i in range(struct.unpack_from("=I", buf, 20)[0]):
        lg, ph, ln, _, _, fl = struct.unpack_from("=QQQQQI", buf, 32 + 56 * i)
        out.append((lg, ph, ln))
        last |= bool(fl & 1)
    return out, last


def fiemap_blocks(fd):
    """Physical block numbers of the extents of fd (FS_IOC_FIEMAP)."""
    out, start, n = [], 0, 64
    while True:
        got, last = fiemap(fd, start, (1 << 64) - 1 - start, n)
        out += [(ph // BLK, ln // BLK) for _, ph, ln in got]
        if got:
            start = got[-1][0] + got[-1][2]
        if len(got) < n or last:
            return out


def physblock(path, index):
    """The device block that holds PATH's block INDEX, None for a hole."""
    fd = os.open(path, os.O_RDONLY)
    try:
        got, _ = fiemap(fd, index * BLK, BLK, 1)
    finally:
        os.close(fd)
    if not got or not got[0][0] <= index * BLK < got[0][0] + got[0][2]:
        return None
    lg, ph, _ = got[0]
    return (ph + index * BLK - lg) // BLK


def gc(path, refpath, seed):
    """Dirty some blocks of the cached FILE, then foreground GC (sync) of every
    segment that holds one of its blocks: move_data_page() on large folios
    with other blocks dirty."""
    rnd = random.Random(seed)
    with open(refpath, "rb") as f:
        ref = bytearray(f.read())
    fd = os.open(path, os.O_RDWR)
    os.fsync(fd)
    # the blocks on disk now (FIEMAP without FIEMAP_FLAG_SYNC: no writeback)
    segs = sorted({b // 512 * 512 for ph, ln in fiemap_blocks(fd) if ph
                   for b in range(ph, ph + ln, 512)} |
                  {(ph + ln - 1) // 512 * 512 for ph, ln in fiemap_blocks(fd) if ph and ln})
    for _ in range(40):
        if not ref:
            break
        n = rnd.randint(1, 3000)
        off = rnd.randint(0, max(0, len(ref) - n))
        data = rnd.randbytes(min(n, len(ref) - off))
        assert os.pwrite(fd, data, off) == len(data)
        ref[off:off + len(data)] = data
    ok = bad = 0
    for s in segs:
        try:
            fcntl.ioctl(fd, F2FS_IOC_GARBAGE_COLLECT_RANGE, struct.pack("=I4xQQ", 1, s, 0))
            ok += 1
        except OSError:
            bad += 1
    os.close(fd)
    with open(refpath, "wb") as f:
        f.write(ref)
    print(f"  gc {path}: {len(segs)} segment(s), {ok} collected, {bad} refused")


def selfmove(path):
    """F2FS_IOC_MOVE_RANGE within one file, between blocks of one (large)
    folio: __clone_blkaddrs() must not lock that folio twice.  The source
    blocks are data, checkpointed and cached, so they are copied through the
    page cache and become holes; the cache of the source is not dropped by
    the ioctl (as with order-0 folios), so it is dropped here before the
    comparison."""
    rnd = random.Random(5)
    data = bytearray(rnd.randbytes(4 << 20))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.pwrite(fd, data, 0)
    os.fsync(fd)
    os.sync()
    moves = [(0, 64 << 10, 16 << 10), (1 << 20, (1 << 20) + (128 << 10), 8 << 10),
             ((2 << 20) + (256 << 10), 2 << 20, 4 << 10)]
    for pin, pout, n in moves:
        fcntl.ioctl(fd, F2FS_IOC_MOVE_RANGE, struct.pack("=I4xQQQ", fd, pin, pout, n))
        data[pout:pout + n] = data[pin:pin + n]
        data[pin:pin + n] = bytes(n)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    got = os.pread(fd, len(data) + 1, 0)
    os.close(fd)
    if got != data:
        bad = [i for i in range(0, len(data), BLK) if got[i:i + BLK] != data[i:i + BLK]]
        print(f"  selfmove {path}: {len(bad)} block(s) differ, first at {bad[:8]}")
        return 1
    print(f"  selfmove {path}: {len(moves)} moves within the file, data ok")
    return 0


def atomic(path, refpath, seed, nwrites=4):
    """An atomic write (F2FS_IOC_START_ATOMIC_WRITE, pwrite()s, F2FS_IOC_COMMIT_ATOMIC_WRITE)
    to a file that has large folios: f2fs takes it back to order-0 folios first.  The same
    writes go to REF; the caller compares."""
    rnd = random.Random(seed)
    size = os.path.getsize(refpath)
    writes = []
    for _ in range(nwrites):
        off = rnd.randrange(0, max(size - 1, 1))
        data = rnd.randbytes(rnd.randint(1, 3 * BLK))[:max(size - off, 1)]
        writes.append((off, data))
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.ioctl(fd, F2FS_IOC_START_ATOMIC_WRITE)
        for off, data in writes:
            os.pwrite(fd, data, off)
        fcntl.ioctl(fd, F2FS_IOC_COMMIT_ATOMIC_WRITE)
    finally:
        os.close(fd)
    with open(refpath, "r+b") as f:
        for off, data in writes:
            f.seek(off)
            f.write(data)
    print(f"  atomic {path}: {len(writes)} write(s) committed")
    return 0


def mmapread(path):
    """Fault FILE in through a shared mapping with MADV_HUGEPAGE, one read a
    page: the fault's readahead then takes folios of the largest order the
    mapping allows that end at or before the page holding EOF."""
    size = os.path.getsize(path)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) as m:
        m.madvise(mmap.MADV_HUGEPAGE)
        total = sum(m[i] for i in range(0, size, BLK))
    print(f"  mmapread {path}: {size} bytes faulted in (byte sum {total})")
    return 0


def mmapstore(path, refpath, off):
    """Store one byte (the complement of the one there) at OFF through a
    shared mapping, and msync; REF gets the same byte."""
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), os.path.getsize(path)) as m:
        byte = 0xff ^ m[off]
        m[off] = byte
        m.flush()
    with open(refpath, "r+b") as f:
        f.seek(off)
        f.write(bytes([byte]))
    print(f"  mmapstore {path}: byte {byte:#04x} at {off}")
    return 0


RADROP_SIZE = 16 << 20  # FILE's size; the readers fault in the first half
RADROP_READERS = 2


def _fault_reader(path, want, stop_fd):
    """A child: fault the first len(WANT) bytes of PATH in through a shared
    mapping with MADV_HUGEPAGE (readahead of order-9 folios), compare every
    page with WANT, drop the clean page cache again, until STOP_FD reads EOF.
    Prints its passes; exit status 1 if a page differed."""
    fd = os.open(path, os.O_RDONLY)
    passes = bad = 0
    while not select.select([stop_fd], [], [], 0)[0]:
        with mmap.mmap(fd, len(want), prot=mmap.PROT_READ) as m:
            m.madvise(mmap.MADV_HUGEPAGE)
            for off in range(0, len(want), BLK):
                if m[off:off + BLK] != want[off:off + BLK]:
                    bad += 1
                    if bad <= 4:
                        print(f"  radrop reader {os.getpid()}: page at {off} differs", flush=True)
        os.posix_fadvise(fd, 0, len(want), os.POSIX_FADV_DONTNEED)
        passes += 1
    os.close(fd)
    print(f"  radrop reader {os.getpid()}: {passes} pass(es), {bad} page(s) differed", flush=True)
    os._exit(1 if bad else 0)


def radrop(path, refpath, seed, settle=0.5, after=1.0):
    """Readahead racing with f2fs_drop_large_folios().  FILE (a new file with
    large folios) gets RADROP_SIZE random bytes, written back and evicted; its
    second half is then written again and left dirty.  Readers fault the
    first half in, over and over, while F2FS_IOC_START_ATOMIC_WRITE takes the
    file back to order-0 folios: it writes the dirty half back with the
    invalidate lock held, and a reader that picked its folio order before
    then waits for the lock and adds large folios to the order-0 mapping,
    which f2fs must not read.  REF gets the file's content; returns 1 if a
    reader saw a page that differs or did not end well."""
    rnd = random.Random(seed)
    data = bytearray(rnd.randbytes(RADROP_SIZE))
    half = RADROP_SIZE // 2
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    stop_r, stop_w = os.pipe()
    pids = []
    try:
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, RADROP_SIZE, os.POSIX_FADV_DONTNEED)
        data[half:] = rnd.randbytes(RADROP_SIZE - half)
        os.pwrite(fd, data[half:], half)
        with open(refpath, "wb") as f:
            f.write(data)
        want = bytes(data[:half])
        for _ in range(RADROP_READERS):
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(stop_w)
                    _fault_reader(path, want, stop_r)
                except BaseException as e:  # a child never returns into the parent's code
                    print(f"  radrop reader {os.getpid()}: {e!r}", flush=True)
                os._exit(2)
            pids.append(pid)
        time.sleep(settle)
        t0 = time.monotonic()
        fcntl.ioctl(fd, F2FS_IOC_START_ATOMIC_WRITE)
        fcntl.ioctl(fd, F2FS_IOC_COMMIT_ATOMIC_WRITE)
        took = time.monotonic() - t0
        time.sleep(after)
    finally:
        os.close(stop_w)  # the readers stop at EOF
        failed = sum(1 for pid in pids if os.waitpid(pid, 0)[1] != 0)
        os.close(stop_r)
        os.close(fd)
    print(f"  radrop {path}: atomic start and commit took {took:.2f} s; "
          f"{failed} of {len(pids)} reader(s) failed")
    return 1 if failed else 0


COLLAPSE_SIZE = 2 << 20  # one PMD: what MADV_COLLAPSE makes a folio of
COLLAPSEDROP_DIRTY = 64 << 20  # what the drop writes back with the invalidate lock held
COLLAPSE_WAIT = 5.0  # seconds the collapsing child waits to see the drop running


def _map_pmd_aligned(fd, length):
    """Map the first LENGTH bytes of FD shared and read-only at a virtual
    address aligned to LENGTH (a collapse needs a PMD-aligned range).
    Returns (reservation, its size, the mapping's address)."""
    size = 2 * length
    base = libc.mmap(None, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if base in (None, MAP_FAILED):
        raise OSError(ctypes.get_errno(), "mmap of the reservation")
    addr = (base + length - 1) & ~(length - 1)
    got = libc.mmap(addr, length, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0)
    if got != addr:
        e = ctypes.get_errno()
        libc.munmap(base, size)
        raise OSError(e, f"mmap of the file at {addr:#x}: {os.strerror(e)}")
    return base, size, addr


def _collapser(path, go_fd, done_fd, watch):
    """A child: map the first COLLAPSE_SIZE bytes of PATH, wait for a byte on
    GO_FD, then until the kernel stack of process WATCH shows it in
    f2fs_drop_large_folios() (at most COLLAPSE_WAIT seconds), and
    madvise(MADV_COLLAPSE) the range; writes "rc errno caught" to DONE_FD
    (caught: 1 if the stack showed it) and exits."""
    fd = os.open(path, os.O_RDONLY)
    base, size, addr = _map_pmd_aligned(fd, COLLAPSE_SIZE)
    os.read(go_fd, 1)
    caught, until = 0, time.monotonic() + COLLAPSE_WAIT
    while not caught and time.monotonic() < until:
        with open(f"/proc/{watch}/stack") as f:
            caught = int("f2fs_drop_large_folios" in f.read())
    rc = libc.madvise(addr, COLLAPSE_SIZE, MADV_COLLAPSE)
    err = ctypes.get_errno() if rc else 0
    libc.munmap(base, size)
    os.close(fd)
    os.write(done_fd, f"{rc} {err} {caught}".encode())
    os._exit(0)


def collapsedrop(path, refpath, seed):
    """MADV_COLLAPSE racing with f2fs_drop_large_folios().  FILE (a new file
    with large folios) gets COLLAPSE_SIZE + COLLAPSEDROP_DIRTY random bytes,
    written back and evicted; all but its first COLLAPSE_SIZE bytes are then
    written again and left dirty.  A child collapses the first COLLAPSE_SIZE
    bytes into one folio as soon as F2FS_IOC_START_ATOMIC_WRITE is seen in
    f2fs_drop_large_folios() (/proc/PID/stack), taking the file back to
    order-0 folios: a collapse that checked the mapping's order before
    the drop set it to 0 reads the range in once the drop is done and adds a
    PMD-sized folio to the order-0 mapping.  Then atomic writes into that
    range, commit, and the file is dropped from the page cache and read back:
    it must equal REF.  Returns 1 if it differs or the child failed."""
    rnd = random.Random(seed)
    data = bytearray(rnd.randbytes(COLLAPSE_SIZE + COLLAPSEDROP_DIRTY))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    fds, pid, status, result = [fd, go_r, go_w, done_r, done_w], None, None, b""
    try:
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, len(data), os.POSIX_FADV_DONTNEED)
        data[COLLAPSE_SIZE:] = rnd.randbytes(COLLAPSEDROP_DIRTY)
        os.pwrite(fd, data[COLLAPSE_SIZE:], COLLAPSE_SIZE)
        pid = os.fork()
        if pid == 0:
            try:
                os.close(go_w)
                os.close(done_r)
                _collapser(path, go_r, done_w, os.getppid())
            except BaseException as e:  # a child never returns into the parent's code
                print(f"  collapsedrop child: {e!r}", flush=True)
            os._exit(2)
        for f in (go_r, done_w):  # EOF on done_r if the child dies
            os.close(f)
            fds.remove(f)
        try:
            os.write(go_w, b"x")
        except BrokenPipeError:  # the child died before "go": its wait status says why
            pass
        t0 = time.monotonic()
        fcntl.ioctl(fd, F2FS_IOC_START_ATOMIC_WRITE)
        took = time.monotonic() - t0
        result = os.read(done_r, 64)
        status = os.waitpid(pid, 0)[1]
        pid = None
        for _ in range(4):
            off = rnd.randrange(0, COLLAPSE_SIZE - 3 * BLK)
            chunk = rnd.randbytes(rnd.randint(1, 3 * BLK))
            os.pwrite(fd, chunk, off)
            data[off:off + len(chunk)] = chunk
        fcntl.ioctl(fd, F2FS_IOC_COMMIT_ATOMIC_WRITE)
        os.posix_fadvise(fd, 0, len(data), os.POSIX_FADV_DONTNEED)
    finally:
        for f in fds:  # first: a child still waiting for "go" sees EOF
            os.close(f)
        if pid is not None:
            os.waitpid(pid, 0)
    with open(refpath, "wb") as f:
        f.write(data)
    if status != 0 or len(result.split()) != 3:
        print(f"  collapsedrop {path}: the child failed (wait status {status}, said {result!r})")
        return 1
    rc, err, caught = (int(x) for x in result.split())
    # not whether a folio was added: a collapse that added one after the drop
    # returns EINVAL when it finds the mapping no longer takes PMD folios
    what = "0" if rc == 0 else f"{rc} ({errno.errorcode.get(err, err)})"
    seen = "seen in" if caught else "not seen in"
    print(f"  collapsedrop {path}: atomic start took {took:.2f} s, {seen} f2fs_drop_large_folios(); "
          f"madvise(MADV_COLLAPSE) returned {what}")
    return check(path, refpath)


READERR_SIZE = 2 << 20  # one PMD: the folio a fault with MADV_HUGEPAGE reads


def scatter(path, refpath, seed):
    """Write READERR_SIZE random bytes to FILE and sync, then write its block
    1 again and sync (not fsync, which may update in place): f2fs writes it
    elsewhere, so reading the file's first folio takes a bio for block 0, one
    for block 1 and one for the rest.  REF gets the content."""
    rnd = random.Random(seed)
    data = bytearray(rnd.randbytes(READERR_SIZE))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.sync()
        data[BLK:2 * BLK] = rnd.randbytes(BLK)
        os.pwrite(fd, data[BLK:2 * BLK], BLK)
        os.sync()
    finally:
        os.close(fd)
    with open(refpath, "wb") as f:
        f.write(data)
    print(f"  scatter {path}: {READERR_SIZE} bytes, block 1 written again")
    return 0


def _fault_in(path, off):
    """A child: fault byte OFF of PATH in through a shared mapping of its
    first READERR_SIZE bytes with MADV_HUGEPAGE; exits 0 if the load returned,
    2 on an exception (a SIGBUS kills it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        with mmap.mmap(fd, READERR_SIZE, prot=mmap.PROT_READ) as m:
            m.madvise(mmap.MADV_HUGEPAGE)
            print(f"  readerr child: byte {m[off]:#04x} at {off}", flush=True)
    except BaseException as e:  # a child never returns into the parent's code
        print(f"  readerr child: {e!r}", flush=True)
        os._exit(2)
    os._exit(0)


def readerr(path):
    """FILE's block 0 fails to read; its other blocks are elsewhere on the
    device (scatter).  A child faults the middle of FILE's first READERR_SIZE
    bytes in with MADV_HUGEPAGE, which reads them as one large folio: the bio
    of block 0 fails, later ones succeed.  The read must leave the folio not
    uptodate, so that read() of block 0 fails with EIO rather than return
    memory that was never read.  Returns 1 if it does not."""
    pid = os.fork()
    if pid == 0:
        _fault_in(path, READERR_SIZE // 2)
    status = os.waitpid(pid, 0)[1]
    if os.WIFSIGNALED(status):
        fault = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        fault = f"exit status {os.WEXITSTATUS(status)}"
    fd = os.open(path, os.O_RDONLY)
    try:
        read = f"returned {len(os.pread(fd, BLK, 0))} bytes"
    except OSError as e:
        read = f"failed with {errno.errorcode.get(e.errno, e.errno)}"
        if e.errno != errno.EIO:
            read += " (want EIO)"
    finally:
        os.close(fd)
    print(f"  readerr {path}: the fault at {READERR_SIZE // 2}: {fault}; read() of block 0 {read}")
    return 0 if read == "failed with EIO" else 1


def check(path, refpath):
    with open(path, "rb") as f:
        got = f.read()
    with open(refpath, "rb") as f:
        want = f.read()
    if got == want:
        return 0
    if len(got) != len(want):
        print(f"  {path}: size {len(got)}, expected {len(want)}")
    n = min(len(got), len(want))
    bad = [i for i in range(0, n, BLK) if got[i:i + BLK] != want[i:i + BLK]]
    print(f"  {path}: {len(bad)} block(s) differ, first at byte offsets {[b for b in bad[:8]]}")
    return 1


def usage():
    return "usage:\n" + "".join(f"  lf_large_folio_write.py {c} {a}\n" for c, a in USAGE.items())


def main(argv):
    """The command line (argv without the program name); returns the exit
    status: 0 done (check: equal), 1 a check, selfmove, readerr or a race
    found a difference (physblock: a hole), 2 bad usage."""
    if not argv or argv[0] not in USAGE:
        what = f"unknown command {argv[0]!r}" if argv else "no command"
        print(f"lf_large_folio_write.py: {what}\n{usage()}", end="", file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    if len(args) != len(USAGE[cmd].split()):
        print(f"lf_large_folio_write.py {cmd}: takes {USAGE[cmd]}, got {len(args)} argument(s)",
              file=sys.stderr)
        return 2
    try:
        ints = {"ops": (1, 2), "gc": (2,), "atomic": (2,), "mmapstore": (2,), "radrop": (2,),
                "collapsedrop": (2,), "scatter": (2,), "physblock": (1,)}.get(cmd, ())
        args = [int(a) if i in ints else a for i, a in enumerate(args)]
        if cmd == "ops" and args[2] < 0:
            raise ValueError(f"NOPS {args[2]} < 0")
        if cmd == "mmapstore" and not 0 <= args[2] < os.path.getsize(args[0]):
            raise ValueError(f"OFF {args[2]} outside the file's {os.path.getsize(args[0])} bytes")
        if cmd == "physblock" and args[1] < 0:
            raise ValueError(f"INDEX {args[1]} < 0")
    except ValueError as e:
        print(f"lf_large_folio_write.py {cmd}: {e} (takes {USAGE[cmd]})", file=sys.stderr)
        return 2
    if cmd == "ops":
        ops(*args)
    elif cmd == "gc":
        gc(*args)
    elif cmd == "atomic":
        return atomic(*args)
    elif cmd == "mmapread":
        return mmapread(*args)
    elif cmd == "mmapstore":
        return mmapstore(*args)
    elif cmd == "radrop":
        return radrop(*args)
    elif cmd == "collapsedrop":
        return collapsedrop(*args)
    elif cmd == "scatter":
        return scatter(*args)
    elif cmd == "physblock":
        block = physblock(*args)
        if block is None:
            print(f"lf_large_folio_write.py physblock: block {args[1]} of {args[0]} is a hole",
                  file=sys.stderr)
            return 1
        print(block)
    elif cmd == "readerr":
        return readerr(*args)
    elif cmd == "selfmove":
        return selfmove(*args)
    elif cmd == "check":
        return check(*args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
