"""Write-side workload for lf-large-folio-write.sh (issue 16, step 3).

    lf_large_folio_write.py ops FILE SEED NOPS REF   random operations on FILE,
        mirrored in memory; the expected content is saved to REF
    lf_large_folio_write.py check FILE REF           FILE must equal REF

The operations: buffered pwrite of random sizes at random offsets (partial
blocks, overwrites, appends), truncate (shrink and grow), punch hole and zero
range (fallocate), shared-mmap stores, fsync, and O_DIRECT writes of aligned
blocks after buffered writes to the same range.  The expected content is kept
in a bytearray, so any lost, stale or misplaced byte shows as a difference.
"""

import ctypes
import mmap
import os
import random
import sys

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10
MAX = 12 << 20
BLK = 4096

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"fallocate mode {mode:#x} {off}+{length}: {os.strerror(e)}")


def resize(ref, size):
    if size < len(ref):
        del ref[size:]
    else:
        ref.extend(bytes(size - len(ref)))


def ops(path, seed, nops, refpath):
    rnd = random.Random(seed)
    ref = bytearray()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    counts = {}
    # start with a sequential 6 MiB so that overwrites hit written blocks
    data = rnd.randbytes(6 << 20)
    os.pwrite(fd, data, 0)
    ref.extend(data)
    for _ in range(nops):
        op = rnd.choices(
            ["write", "smallwrite", "truncate", "punch", "zero", "mmap", "fsync", "direct"],
            [30, 20, 5, 8, 8, 10, 5, 8])[0]
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
        assert os.fstat(fd).st_size == len(ref), (op, os.fstat(fd).st_size, len(ref))
    os.close(fd)
    with open(refpath, "wb") as f:
        f.write(ref)
    print("  ops:", " ".join(f"{k}={v}" for k, v in sorted(counts.items())), "size", len(ref))


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


if __name__ == "__main__":
    if sys.argv[1] == "ops":
        ops(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
