"""The Python of wb-truncate-race.sh: truncate and punch-hole racing writeback,
with an exact model of the files; and the check of the trace that shows a
truncate ran into writeback of its own file.

  wb_truncate_race.py race MNT SECS MODEL     the race; MODEL: the files' checksums (json),
                                              MODEL.ops: how often each operation ran
  wb_truncate_race.py verify MNT MODEL        the files against MODEL
  wb_truncate_race.py overlaps TRACE OPS INOS LOST LABEL
                                              from the trace of one race: the truncates that
                                              waited on writeback in their own truncated range;
                                              the last line printed is their count, or -1 if
                                              the probe missed truncates the race made

Exit status 1 if the race or the verification failed.
"""
import json
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "workloads"))
import filemodel  # noqa: E402
import sysio  # noqa: E402

NFILES, MAXSZ = 6, 3 << 20
NAMES = [f"t/f{i}" for i in range(NFILES)]


def verify(mnt, model):
    with open(model) as f:
        want = json.load(f)
    bad = [name for name, h in sorted(want.items()) if filemodel.sha256_file(f"{mnt}/{name}") != h]
    print(f"  {len(want) - len(bad)}/{len(want)} files match the model" + (f"; BAD: {bad}" if bad else ""))
    return 1 if bad else 0


def race(mnt, secs, out):
    rng = random.Random(11)
    model = [bytearray() for _ in range(NFILES)]
    os.makedirs(f"{mnt}/t", exist_ok=True)
    fds = [os.open(f"{mnt}/{n}", os.O_RDWR | os.O_CREAT, 0o644) for n in NAMES]
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
                    sysio.sync_file_range(fd, 0, 0, sysio.SYNC_FILE_RANGE_WRITE)  # WB_SYNC_NONE
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
                filemodel.write(m, off, data)
                count("write")
            elif c < 0.55:                                       # truncate down
                n = rng.randrange(0, len(m) + 1)
                if rng.random() < 0.5:
                    n = n // 4096 * 4096 + rng.choice([0, 1, 2047, 4095])
                    n = min(n, len(m))
                os.ftruncate(fd, n)
                filemodel.truncate(m, n)
                count("truncate_down")
            elif c < 0.65:                                       # truncate up
                n = len(m) + rng.randrange(1, 300000)
                os.ftruncate(fd, n)
                filemodel.truncate(m, n)
                count("truncate_up")
            elif c < 0.95:                                       # punch a hole, or zero a range
                punch = c < 0.85
                off = rng.randrange(0, len(m))
                ln = rng.randrange(1, 400000 if punch else 300000)
                mode = sysio.FALLOC_FL_PUNCH_HOLE if punch else sysio.FALLOC_FL_ZERO_RANGE
                sysio.fallocate(fd, mode | sysio.FALLOC_FL_KEEP_SIZE, off, ln)
                filemodel.zero(m, off, ln)                       # both read back as zeros
                count("punch_hole" if punch else "zero_range")
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
    for i, n in enumerate(NAMES):
        if filemodel.sha256_file(f"{mnt}/{n}") != filemodel.sha256(model[i]):
            errors.append(f"{n}: differs from the model before sync")
    for fd in fds:
        os.close(fd)
    with open(out, "w") as f:
        json.dump({n: filemodel.sha256(model[i]) for i, n in enumerate(NAMES)}, f)
    with open(out + ".ops", "w") as f:
        json.dump(ops, f)
    print(f"  ops: {ops}; sizes: {[len(m) for m in model]}; errors: {errors or 'none'}")
    return 1 if errors else 0


# A trace line: "comm-pid [cpu] flags timestamp: event: fields".
EVENT = re.compile(r"^\s*.+-(\d+)\s+\[\d+\].*?\s(wbtr_in|wbtr_out|folio_wait_writeback):\s(.*)$")


def overlaps(lines, ops, inos, lost, label):
    """How many traced truncates (f2fs_setattr with ATTR_SIZE, wbtr_in to
    wbtr_out) of the files INOS waited on writeback of a folio of their own
    file at or beyond the new size.  Returns the lines to print, the last one
    that count, or -1 if the probe saw a different number of truncates than
    OPS (the race's operation counts) made and no events were LOST."""
    out = []
    cur = {}                 # pid -> [ino, new size, waited] of the truncate it is in
    truncates = overlapped = waits_in = waits_all = 0
    for line in lines:
        lost += "LOST" in line
        m = EVENT.match(line)
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
    out.append(f"  {label}: {overlapped} of {truncates} traced truncates waited on writeback of their own "
               f"file's truncated range ({waits_in} folio waits; {waits_all} waits on these files in all"
               f"{'; trace buffer overflowed, ' + str(lost) + ' events lost: counts are lower bounds' if lost else ''})")
    if not ok:
        out.append(f"  FAIL: {label}: the race made {made} truncates (ftruncate), the f2fs_setattr probe saw {truncates}")
    out.append(str(overlapped if ok else -1))
    return out


def main(argv):
    mode = argv[1]
    if mode == "race":
        return race(argv[2], float(argv[3]), argv[4])
    if mode == "verify":
        return verify(argv[2], argv[3])
    if mode == "overlaps":
        with open(argv[2]) as f:
            lines = f.read().splitlines()
        with open(argv[3]) as f:
            ops = json.load(f)
        inos = {int(i) for i in argv[4].split(",")}
        for line in overlaps(lines, ops, inos, int(argv[5]), argv[6]):
            print(line)
        return 0
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
