#!/bin/bash
# Data written every way writeback sees it, verified through the disk.
#
# On a fresh f2fs (inline_data and inline_dentry on, the defaults), one Python
# pass writes, and keeps an in-memory model of, files written with:
#   buffered writes (sizes around 0/inline/page/EOF boundaries, random
#   overwrites and extensions), write+fsync and fdatasync, O_SYNC, O_DIRECT
#   mixed with buffered writes on the same file, mmap stores (msync'd and
#   not), a mmap store beyond EOF inside the last page (writeback must zero
#   it: checked by reading the block back from the device), inline files
#   grown out of inline, sparse files, and a directory tree with renames and
#   unlinks (dentry pages go through the same data writeback).
# The model is compared with the files: before sync (page cache), after
# sync + drop_caches, and after umount + fsck.f2fs (must be clean) + mount.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
work=$(mktemp -d /tmp/wb-integrity.XXXXXX)

cat >"$work/integrity.py" <<'EOF'
import ctypes, hashlib, json, mmap, os, random, sys

mode, mnt, manifest = sys.argv[1], sys.argv[2], sys.argv[3]
PAGE = 4096

def sha(b):
    return hashlib.sha256(b).hexdigest()

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
            files[os.path.relpath(p, root)] = sha(open(p, "rb").read())
    return files, sorted(dirs)

if mode == "verify":
    want = json.load(open(manifest))
    files, dirs = tree(mnt)
    bad = [p for p in sorted(set(want["files"]) | set(files)) if want["files"].get(p) != files.get(p)]
    if dirs != want["dirs"]:
        bad.append(f"directory list differs: {sorted(set(dirs) ^ set(want['dirs']))[:10]}")
    for p in bad[:20]:
        print(f"  mismatch: {p}")
    print(f"  {len(files)} files, {len(dirs)} directories checked: {'OK' if not bad else f'{len(bad)} BAD'}")
    sys.exit(1 if bad else 0)

rng = random.Random(7)
model = {}

def put(name, data):
    model[name] = bytearray(data)

def write_at(fd, name, off, data):
    os.pwrite(fd, data, off)
    m = model[name]
    if off > len(m):
        m.extend(bytes(off - len(m)))
    m[off:off + len(data)] = data

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
        m = model[name]
        if off > len(m):
            m.extend(bytes(off - len(m)))
        m[off:off + n] = data
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
    sys.exit(1)
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
libc = ctypes.CDLL(None, use_errno=True)
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
    model[name].extend(bytes((8 << 20) - len(model[name])))
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
dirs = {".", "dirs/empty"}
for k in model:
    d = os.path.dirname(k)
    while d:
        dirs.add(d)
        d = os.path.dirname(d)
dirs = sorted(dirs)
json.dump({"files": files, "dirs": dirs, "eof_probe": eof_probe}, open(manifest, "w"))
print(f"  wrote {len(files)} files, {sum(len(v) for v in model.values()) >> 10} KiB")
EOF

mkfs_mount "" ""
log "writing"
$PY "$work/integrity.py" write "$MNT" "$work/manifest.json" || { fail "writing the data set failed"; finish; }
log "verify in the page cache"
$PY "$work/integrity.py" verify "$MNT" "$work/manifest.json" || fail "data differs before sync"
log "verify after sync + drop_caches"
drop_caches
$PY "$work/integrity.py" verify "$MNT" "$work/manifest.json" || fail "data differs after sync + drop_caches"
log "fsck.f2fs, remount, verify"
fsck_clean
$PY "$work/integrity.py" verify "$MNT" "$work/manifest.json" || fail "data differs after umount + fsck + mount"

# The page straddling EOF: extend the file now that its page was read back
# from disk; the bytes stored beyond the old EOF must not come back.
# The page straddling EOF: writeback must have zeroed what mmap stored beyond
# EOF before writing the block.  Read the block itself from the disk (f2fs
# zeroes the tail again when a file is extended, so reading through the file
# cannot tell).
log "check on the disk that the block straddling EOF was written with a zeroed tail"
$PY - "$MNT" "$work/manifest.json" "$DEV" <<'EOF' || fail "bytes stored beyond EOF through mmap reached the disk"
import fcntl, json, mmap, os, struct, sys
mnt, m, dev = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
name, old, new = m["eof_probe"]
page = old // 4096 * 4096
FS_IOC_FIEMAP = 0xC020660B
hdr = struct.Struct("=QQLLLL")                  # struct fiemap
ext = struct.Struct("=QQQQQLLLL")               # struct fiemap_extent
buf = bytearray(hdr.pack(0, 1 << 62, 1, 0, 8, 0) + bytes(ext.size * 8))   # FIEMAP_FLAG_SYNC
with open(f"{mnt}/{name}", "rb") as f:
    fcntl.ioctl(f.fileno(), FS_IOC_FIEMAP, buf)
phys = None
for i in range(hdr.unpack_from(buf)[3]):
    logical, physical, length = ext.unpack_from(buf, hdr.size + i * ext.size)[:3]
    if logical <= page < logical + length:
        phys = physical + page - logical
if phys is None:
    print(f"  {name}: no extent maps offset {page}"); sys.exit(1)
blk = mmap.mmap(-1, 4096)
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
os.preadv(fd, [blk], phys)
os.close(fd)
tail = blk[old - page:]
ok = tail == bytes(len(tail))
print(f"  {name}: block at {phys:#x} (file offset {page}): bytes {old - page}..4095 "
      f"{'zero' if ok else f'NOT zero ({sum(1 for b in tail if b)} non-zero)'}")
sys.exit(0 if ok else 1)
EOF
fsck_clean
rm -rf "$work"
finish
