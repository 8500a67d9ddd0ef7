#!/usr/bin/python3
"""Truncate / punch-hole / zero-range / mmap stores racing writeback on one file.

  wbrace.py run   --dir DIR --size BYTES --expect FILE [--seed N] [--ops N]
  wbrace.py check --dir DIR --expect FILE

`run`: one thread applies a seeded sequence of operations to DIR/race.dat (pwrite,
ftruncate shrink/grow, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, stores through a
shared mmap, fdatasync) and mirrors each one in an in-memory model.  Meanwhile
background threads keep writeback running on the same file: sync_file_range(WRITE)
(WB_SYNC_NONE), fdatasync (WB_SYNC_ALL) and POSIX_FADV_DONTNEED, which evicts clean
pages so later partial writes and reads go back to the disk.  Writeback timing never
changes what a reader must see, so the expected contents follow from the operation
sequence alone.  Every few operations a random range is read back and compared; at
the end the whole file is, and the expected contents are written to FILE (size plus
one SHA-256 per 4 KiB block).

`check`: compares DIR/race.dat with FILE (used after drop_caches and after remount).

Data pattern: every 16-byte unit at file offset P written by operation G holds
(MAGIC | G, P) as two little-endian u64, so a wrong block says where it came from
(stale generation, other offset, zeros, garbage).

Exit status: 0 contents match, 1 mismatch (details on stdout), 2 usage or I/O error.
"""

import argparse
import errno
import json
import mmap
import os
import random
import struct
import sys
import threading
import time

import filemodel
from sysio import (FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE,
                   SYNC_FILE_RANGE_WRITE, fallocate, sync_file_range)

FILE_NAME = "race.dat"
BLOCK = 4096
UNIT = 16
MAGIC = 0x57425243 << 32          # "WBRC"
EXPECT_FORMAT = "wbtrace-race-expect/1"


def pattern(gen, off, length):
    """Bytes of the data operation `gen` writes at [off, off + length)."""
    if length <= 0:
        return b""
    u0 = off // UNIT
    u1 = (off + length + UNIT - 1) // UNIT
    vals = []
    tag = MAGIC | gen
    for u in range(u0, u1):
        vals.append(tag)
        vals.append(u * UNIT)
    raw = struct.pack("<%dQ" % len(vals), *vals)
    start = off - u0 * UNIT
    return raw[start:start + length]


def describe_block(data, off):
    """Say what a 4 KiB block holds, from the 16-byte units in it."""
    if not data.strip(b"\0"):
        return "zeros"
    gens, wrong_pos, foreign = set(), 0, 0
    for i in range(0, len(data) - UNIT + 1, UNIT):
        a, b = struct.unpack_from("<QQ", data, i)
        if a == 0 and b == 0:
            continue
        if a >> 32 != MAGIC >> 32:
            foreign += 1
            continue
        gens.add(a & 0xFFFFFFFF)
        if b != off + i:
            wrong_pos += 1
    parts = []
    if gens:
        g = sorted(gens)
        parts.append("data of op(s) " + ",".join(map(str, g[:6])) + ("..." if len(g) > 6 else ""))
    if wrong_pos:
        parts.append(f"{wrong_pos} unit(s) written for another offset")
    if foreign:
        parts.append(f"{foreign} unit(s) of foreign bytes")
    return "; ".join(parts) or "zeros"


class Model:
    """What race.dat must contain (filemodel's rules)."""

    def __init__(self):
        self.data = bytearray()

    def write(self, off, buf):
        filemodel.write(self.data, off, buf)

    def truncate(self, size):
        filemodel.truncate(self.data, size)

    def zero(self, off, length):
        filemodel.zero(self.data, off, length)


class Syncers:
    """Background writeback on the file while the operations run."""

    def __init__(self, path):
        self.path = path
        self.stop = threading.Event()
        self.errors = []
        self.counts = {"sync_file_range": 0, "fdatasync": 0, "fadvise_dontneed": 0}
        self.threads = [threading.Thread(target=self._loop, args=(k,), daemon=True)
                        for k in ("sync_file_range", "fdatasync", "fadvise_dontneed")]

    def _loop(self, kind):
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError as e:
            self.errors.append(f"{kind}: open: {e}")
            return
        try:
            while not self.stop.is_set():
                if kind == "sync_file_range":
                    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)
                    time.sleep(0.001)
                elif kind == "fdatasync":
                    os.fdatasync(fd)
                    time.sleep(0.01)
                else:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    time.sleep(0.004)
                self.counts[kind] += 1
        except OSError as e:
            self.errors.append(f"{kind}: {e}")
        finally:
            os.close(fd)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def read_all(fd, length):
    out = bytearray()
    while len(out) < length:
        b = os.pread(fd, min(1 << 20, length - len(out)), len(out))
        if not b:
            break
        out += b
    return bytes(out)


def first_mismatches(actual, expected, limit=5):
    """[(block_index, description)] of the first differing 4 KiB blocks."""
    out = []
    n = max(len(actual), len(expected))
    for b in range(0, n, BLOCK):
        a, e = actual[b:b + BLOCK], expected[b:b + BLOCK]
        if a != e:
            out.append((b // BLOCK, f"block {b // BLOCK} (offset {b}): expected "
                        f"{describe_block(e, b)}, found {describe_block(a, b)}"))
            if len(out) >= limit:
                break
    return out


def cmd_run(args):
    rng = random.Random(args.seed)
    cap = max(args.size, 64 * 1024)
    ops = args.ops or max(200, min(4000, cap // (16 * 1024)))
    path = os.path.join(args.dir, FILE_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    model = Model()
    counts = {k: 0 for k in ("pwrite", "truncate_shrink", "truncate_grow", "punch_hole",
                             "zero_range", "mmap_store", "fdatasync", "midway_check")}
    unsupported = set()
    failures = []
    # Start with half the file written so shrinking and punching have something to hit.
    first = pattern(1, 0, cap // 2)
    os.pwrite(fd, first, 0)
    model.write(0, first)
    counts["pwrite"] += 1

    def rand_range(limit):
        if limit <= 0:
            return 0, 0
        if rng.random() < 0.5:          # page-aligned
            off = rng.randrange(0, max(1, limit // BLOCK)) * BLOCK
            ln = rng.randint(1, 16) * BLOCK
        else:                           # any byte offset and length
            off = rng.randrange(0, limit)
            ln = rng.randint(1, 48 * 1024)
        return off, max(1, min(ln, limit - off))

    with Syncers(path) as syncers:
        for i in range(ops):
            gen = i + 2
            size = len(model.data)
            r = rng.random()
            try:
                if r < 0.40 or size == 0:
                    off, ln = rand_range(cap)
                    buf = pattern(gen, off, ln)
                    os.pwrite(fd, buf, off)
                    model.write(off, buf)
                    counts["pwrite"] += 1
                elif r < 0.50:
                    # mostly trim the tail, sometimes cut deep
                    low = 0 if rng.random() < 0.15 else size // 2
                    new = rng.randrange(low, size + 1)
                    if rng.random() < 0.5:
                        new = new // BLOCK * BLOCK
                    os.ftruncate(fd, new)
                    model.truncate(new)
                    counts["truncate_shrink"] += 1
                elif r < 0.55:
                    new = rng.randrange(size, cap + 1)
                    os.ftruncate(fd, new)
                    model.truncate(new)
                    counts["truncate_grow"] += 1
                elif r < 0.76:
                    kind = "punch_hole" if r < 0.68 else "zero_range"
                    if kind in unsupported:
                        continue
                    mode = FALLOC_FL_KEEP_SIZE | (FALLOC_FL_PUNCH_HOLE if kind == "punch_hole"
                                                  else FALLOC_FL_ZERO_RANGE)
                    off, ln = rand_range(size)
                    try:
                        fallocate(fd, mode, off, ln)
                    except OSError as e:
                        if e.errno != errno.EOPNOTSUPP:
                            raise
                        unsupported.add(kind)
                        continue
                    model.zero(off, ln)
                    counts[kind] += 1
                elif r < 0.92 and size >= BLOCK:
                    off, ln = rand_range(size)
                    buf = pattern(gen, off, ln)
                    with mmap.mmap(fd, size) as m:
                        m[off:off + ln] = buf
                    model.write(off, buf)
                    counts["mmap_store"] += 1
                else:
                    os.fdatasync(fd)
                    counts["fdatasync"] += 1
            except OSError as e:
                failures.append(f"op {gen}: {e}")
                break
            if i % 16 == 15:
                counts["midway_check"] += 1
                size = len(model.data)
                if os.fstat(fd).st_size != size:
                    failures.append(f"after op {gen}: size {os.fstat(fd).st_size}, expected {size}")
                    break
                off, ln = rand_range(size)
                got = os.pread(fd, ln, off)
                if got != bytes(model.data[off:off + ln]):
                    exp = bytes(model.data[off // BLOCK * BLOCK:(off + ln + BLOCK - 1) // BLOCK * BLOCK])
                    act = os.pread(fd, len(exp), off // BLOCK * BLOCK)
                    bad = first_mismatches(act, exp)
                    failures.append(f"after op {gen}: read-back of [{off}, {off + ln}) differs: " +
                                    "; ".join(d for _, d in bad))
                    break
        if not failures:
            # Grow back to the full size: everything past the last EOF must read as zeros
            # (stale bytes beyond an old EOF are a classic truncate-vs-writeback bug).
            os.ftruncate(fd, cap)
            model.truncate(cap)
            counts["truncate_grow"] += 1
            time.sleep(0.05)
    os.close(fd)
    failures += [f"background {e}" for e in syncers.errors]

    exp = bytes(model.data)
    doc = {
        "format": EXPECT_FORMAT,
        "file": FILE_NAME,
        "size": len(exp),
        "block": BLOCK,
        "sha256": filemodel.sha256(exp),
        "blocks": [filemodel.sha256(exp[b:b + BLOCK]) for b in range(0, len(exp), BLOCK)],
        "seed": args.seed,
        "ops": ops,
        "counts": counts,
        "background": syncers.counts,
        "unsupported": sorted(unsupported),
    }
    tmp = args.expect + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, args.expect)
    print("wbrace: %d ops on %s (%s); background: %s" % (
        ops, path, ", ".join(f"{k} {v}" for k, v in counts.items() if v),
        ", ".join(f"{k} {v}" for k, v in syncers.counts.items())))
    if unsupported:
        print("wbrace: not supported here, skipped: " + ", ".join(sorted(unsupported)))
    if failures:
        for f in failures:
            print("wbrace: FAIL " + f)
        return 1
    return check(args.dir, doc, "end of run")


def check(directory, doc, label):
    path = os.path.join(directory, doc["file"])
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        print(f"wbrace: FAIL {label}: cannot open {path}: {e}")
        return 1
    try:
        size = os.fstat(fd).st_size
        data = read_all(fd, size)
    except OSError as e:
        print(f"wbrace: FAIL {label}: reading {path}: {e}")
        return 1
    finally:
        os.close(fd)
    bad = []
    if size != doc["size"]:
        bad.append(f"size {size}, expected {doc['size']}")
    blocks = doc["blocks"]
    nblk = max(len(blocks), (size + BLOCK - 1) // BLOCK)
    wrong = []
    for b in range(nblk):
        got = data[b * BLOCK:(b + 1) * BLOCK]
        want = blocks[b] if b < len(blocks) else None
        if want is None or filemodel.sha256(got) != want:
            wrong.append(b)
    if wrong:
        detail = []
        for b in wrong[:5]:
            got = data[b * BLOCK:(b + 1) * BLOCK]
            detail.append(f"block {b} (offset {b * BLOCK}) holds {describe_block(got, b * BLOCK)}")
        bad.append(f"{len(wrong)} of {nblk} blocks differ: " + "; ".join(detail) +
                   ("; ..." if len(wrong) > 5 else ""))
    if bad:
        print(f"wbrace: FAIL {label}: {path}: " + "; ".join(bad))
        return 1
    print(f"wbrace: ok {label}: {path} matches ({size} bytes, {len(blocks)} blocks)")
    return 0


def cmd_check(args):
    try:
        with open(args.expect) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"wbrace: cannot read {args.expect}: {e}", file=sys.stderr)
        return 2
    if doc.get("format") != EXPECT_FORMAT:
        print(f"wbrace: {args.expect}: not a {EXPECT_FORMAT} file", file=sys.stderr)
        return 2
    return check(args.dir, doc, args.label)


def main(argv=None):
    p = argparse.ArgumentParser(prog="wbrace.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the race and record the expected contents")
    r.add_argument("--dir", required=True)
    r.add_argument("--size", type=int, required=True, help="largest file size, bytes")
    r.add_argument("--expect", required=True, help="where to write the expected contents")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--ops", type=int, default=0, help="operations (default: from --size)")
    c = sub.add_parser("check", help="compare the file with recorded contents")
    c.add_argument("--dir", required=True)
    c.add_argument("--expect", required=True)
    c.add_argument("--label", default="check")
    args = p.parse_args(argv)
    try:
        return cmd_run(args) if args.cmd == "run" else cmd_check(args)
    except OSError as e:
        print(f"wbrace: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
