"""The Python of wb-integrity.sh: writes a data set every way writeback sees it,
keeping a model of the contents, and checks the files against it.

  wb_integrity.py write MNT MANIFEST       write the data set under MNT, the model's checksums to MANIFEST
  wb_integrity.py verify MNT MANIFEST      every file and directory under MNT against MANIFEST
  wb_integrity.py eof-probe MNT MANIFEST DEV
                                           the block straddling EOF of the mmap file, read
                                           from DEV: what mmap stored beyond EOF is zero

Exit status 1 if a check failed.
"""
import ctypes
import json
import mmap
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "workloads"))
import filemodel  # noqa: E402
import sysio  # noqa: E402

PAGE = 4096
sha = filemodel.sha256


def tree(root):
    """Every file under root: relative path -> sha256; every directory listed."""
    files, dirs = {}, []
    for d, dn, fn in os.walk(root):
        rel = os.path.relpath(d, root)
        if rel.startswith("lost+found"):
            continue
        dirs.append(rel)
        for f in fn:
            p = os.path.join(d, f)
            files[os.path.relpath(p, root)] = filemodel.sha256_file(p)
    return files, sorted(dirs)


def differences(want, files, dirs):
    """What differs between the manifest WANT and tree()'s FILES and DIRS:
    a list of paths and descriptions, empty if nothing."""
    bad = [p for p in sorted(set(want["files"]) | set(files)) if want["files"].get(p) != files.get(p)]
    if dirs != want["dirs"]:
        bad.append(f"directory list differs: {sorted(set(dirs) ^ set(want['dirs']))[:10]}")
    return bad


def verify(mnt, manifest):
    with open(manifest) as f:
        want = json.load(f)
    files, dirs = tree(mnt)
    bad = differences(want, files, dirs)
    for p in bad[:20]:
        print(f"  mismatch: {p}")
    print(f"  {len(files)} files, {len(dirs)} directories checked: {'OK' if not bad else f'{len(bad)} BAD'}")
    return 1 if bad else 0


def write(mnt, manifest):
    rng = random.Random(7)
    model = {}

    def put(name, data):
        model[name] = bytearray(data)

    def write_at(fd, name, off, data):
        os.pwrite(fd, data, off)
        filemodel.write(model[name], off, data)

    os.makedirs(f"{mnt}/buf", exist_ok=True)
    # Buffered: boundary sizes, then random overwrites/extensions.
    for i, size in enumerate([0, 1, 100, 3000, 3400, 4095, 4096, 4097, 8191, 65539, (1 << 20) + 3, 6 << 20]):
        name = f"buf/s{i}"
        put(name, rng.randbytes(size))
        with open(f"{mnt}/{name}", "wb") as f:
            f.write(model[name])
    for i in range(4):
        name = f"buf/ow{i}"
        put(name, b"")
        fd = os.open(f"{mnt}/{name}", os.O_RDWR | os.O_CREAT, 0o644)
        for _ in range(150):
            off = rng.randrange(0, 3 << 20)
            write_at(fd, name, off, rng.randbytes(rng.choice([1, 511, 4096, 5000, 65536])))
        os.close(fd)

    # fsync / fdatasync after every chunk.
    os.makedirs(f"{mnt}/sync", exist_ok=True)
    name = "sync/fsync"
    put(name, b"")
    fd = os.open(f"{mnt}/{name}", os.O_RDWR | os.O_CREAT, 0o644)
    for k in range(48):
        write_at(fd, name, k * 40000, rng.randbytes(40000))
        os.fsync(fd) if k % 2 else os.fdatasync(fd)
    for _ in range(24):
        write_at(fd, name, rng.randrange(0, len(model[name])), rng.randbytes(3000))
        os.fdatasync(fd)
    os.close(fd)

    # O_SYNC.
    name = "sync/osync"
    put(name, b"")
    fd = os.open(f"{mnt}/{name}", os.O_RDWR | os.O_CREAT | os.O_SYNC, 0o644)
    for _ in range(64):
        write_at(fd, name, rng.randrange(0, 1 << 20), rng.randbytes(rng.choice([100, 4096, 12345])))
    os.close(fd)

    # O_DIRECT mixed with buffered writes on the same file.
    os.makedirs(f"{mnt}/dio", exist_ok=True)
    name = "dio/mixed"
    put(name, rng.randbytes(2 << 20))
    with open(f"{mnt}/{name}", "wb") as f:
        f.write(model[name])
    buf = mmap.mmap(-1, 1 << 16)                 # page aligned, for O_DIRECT
    bfd = os.open(f"{mnt}/{name}", os.O_RDWR)
    dfd = os.open(f"{mnt}/{name}", os.O_RDWR | os.O_DIRECT)
    for k in range(40):
        if k % 2:
            data = rng.randbytes(1 << 16)
            buf[:] = data
            off = rng.randrange(0, (3 << 20) >> 16) << 16
            n = os.pwrite(dfd, buf, off)
            assert n == len(data), n
            filemodel.write(model[name], off, data)
        else:
            write_at(bfd, name, rng.randrange(0, 3 << 20), rng.randbytes(rng.choice([10, 4096, 9000])))
    got = bytearray()
    while True:                                   # read back through O_DIRECT
        n = os.preadv(dfd, [buf], len(got))
        if n <= 0:
            break
        got += buf[:n]
    if bytes(got[:len(model[name])]) != bytes(model[name]):
        print("  O_DIRECT read-back differs from the model before sync")
        return 1
    os.close(dfd)
    os.close(bfd)

    # mmap stores, part msync'd, part left to writeback.
    os.makedirs(f"{mnt}/mmap", exist_ok=True)
    name = "mmap/map"
    size = (2 << 20) + 5000
    put(name, bytes(size))
    fd = os.open(f"{mnt}/{name}", os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, size)
    mm = mmap.mmap(fd, size)
    for k in range(200):
        off = rng.randrange(0, size - 700)
        data = rng.randbytes(rng.choice([1, 100, 700]))
        mm[off:off + len(data)] = data
        model[name][off:off + len(data)] = data
        if k % 50 == 49:
            mm.flush()
    mm.close()
    os.close(fd)

    # A store beyond EOF inside the last page: not file data, writeback zeroes it.
    name = "mmap/eof"
    put(name, rng.randbytes(5000))
    with open(f"{mnt}/{name}", "wb") as f:
        f.write(model[name])
    # Python's mmap refuses a mapping longer than the file: map through libc.
    libc = sysio.libc()
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    fd = os.open(f"{mnt}/{name}", os.O_RDWR)
    addr = libc.mmap(None, 2 * PAGE, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
    assert addr not in (None, ctypes.c_void_p(-1).value), "mmap failed"
    ctypes.memset(addr + 5000, 0xa5, 2 * PAGE - 5000)
    assert libc.msync(addr, 2 * PAGE, 4) == 0, "msync failed"           # MS_SYNC
    libc.munmap(addr, 2 * PAGE)
    os.close(fd)
    eof_probe = [name, 5000, 2 * PAGE]

    # Inline files grown out of inline; sparse files.
    os.makedirs(f"{mnt}/inline", exist_ok=True)
    for i in range(40):
        name = f"inline/i{i}"
        put(name, rng.randbytes(rng.randrange(1, 3000)))
        with open(f"{mnt}/{name}", "wb") as f:
            f.write(model[name])
        if i % 3 == 0:
            extra = rng.randbytes(rng.choice([500, 5000, 70000]))
            with open(f"{mnt}/{name}", "ab") as f:
                f.write(extra)
            model[name] += extra
    for i in range(3):
        name = f"inline/sparse{i}"
        put(name, b"")
        fd = os.open(f"{mnt}/{name}", os.O_RDWR | os.O_CREAT, 0o644)
        for off in (0, 1 << 20, (5 << 20) + 123):
            write_at(fd, name, off + i * 777, rng.randbytes(3000))
        os.ftruncate(fd, 8 << 20)
        filemodel.truncate(model[name], 8 << 20)
        os.close(fd)

    # Directories: many entries (out of inline dentries), renames, unlinks.
    for d in range(3):
        base = f"dirs/d{d}/sub"
        os.makedirs(f"{mnt}/{base}", exist_ok=True)
        for i in range(250):
            name = f"{base}/entry-with-a-longish-name-{i:04d}"
            put(name, rng.randbytes(rng.choice([0, 10, 200])))
            with open(f"{mnt}/{name}", "wb") as f:
                f.write(model[name])
        for i in range(0, 250, 3):
            old = f"{base}/entry-with-a-longish-name-{i:04d}"
            new = f"dirs/d{d}/renamed-{i:04d}"
            os.rename(f"{mnt}/{old}", f"{mnt}/{new}")
            model[new] = model.pop(old)
        for i in range(1, 250, 4):
            name = f"{base}/entry-with-a-longish-name-{i:04d}"
            if name in model:
                os.unlink(f"{mnt}/{name}")
                del model[name]
    os.makedirs(f"{mnt}/dirs/empty", exist_ok=True)

    files = {k: sha(bytes(v)) for k, v in model.items()}
    with open(manifest, "w") as f:
        json.dump({"files": files, "dirs": model_dirs(model), "eof_probe": eof_probe}, f)
    print(f"  wrote {len(files)} files, {sum(len(v) for v in model.values()) >> 10} KiB")
    return 0


def model_dirs(model):
    """The directories tree() must find for the files of MODEL (and dirs/empty)."""
    dirs = {".", "dirs/empty"}
    for k in model:
        d = os.path.dirname(k)
        while d:
            dirs.add(d)
            d = os.path.dirname(d)
    return sorted(dirs)


def eof_tail(block, old, page):
    """The check of the block at file offset PAGE that holds EOF (OLD): the
    bytes beyond EOF must be zero.  Returns (ok, what to print)."""
    tail = block[old - page:]
    ok = tail == bytes(len(tail))
    return ok, f"bytes {old - page}..{len(block) - 1} " + (
        "zero" if ok else f"NOT zero ({sum(1 for b in tail if b)} non-zero)")


def eof_probe(mnt, manifest, dev):
    """Read the block straddling EOF of the mmap/eof file from DEV itself."""
    with open(manifest) as f:
        m = json.load(f)
    name, old, new = m["eof_probe"]
    page = old // PAGE * PAGE
    phys = sysio.physical_at(sysio.fiemap(f"{mnt}/{name}", count=8), page)
    if phys is None:
        print(f"  {name}: no extent maps offset {page}")
        return 1
    blk = mmap.mmap(-1, PAGE)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    os.preadv(fd, [blk], phys)
    os.close(fd)
    ok, what = eof_tail(bytes(blk), old, page)
    print(f"  {name}: block at {phys:#x} (file offset {page}): {what}")
    return 0 if ok else 1


def main(argv):
    mode = argv[1]
    if mode == "write":
        return write(argv[2], argv[3])
    if mode == "verify":
        return verify(argv[2], argv[3])
    if mode == "eof-probe":
        return eof_probe(argv[2], argv[3], argv[4])
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
