"""The Python of wb-cached-bio-race.sh: writers, WB_SYNC_NONE and WB_SYNC_ALL
writeback racing on one file (trap T3 of the series), with a model of its
contents and a hang watchdog on every data integrity call.

  wb_cached_bio_race.py MNT SECS STALL READY

Writes MNT/shared and fsyncs it, writes its inode number to READY, waits for
READY.go (the caller sets up the trace filter meanwhile), races for SECS
seconds, then writes the model's sha256 to MNT/../expected.sha256.  A call
that has not returned after STALL seconds is a hang: blocked tasks to the
kernel log, exit status 3.  Exit status 1 if a thread failed.
"""
import mmap
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "workloads"))
import filemodel  # noqa: E402
import sysio  # noqa: E402

SIZE = 6 << 20
HOT = 256 << 10                          # most traffic here: folios rewritten while in flight
WRITE = sysio.SYNC_FILE_RANGE_WRITE
SYNC_ALL = sysio.SYNC_FILE_RANGE_ALL     # WAIT_BEFORE|WRITE|WAIT_AFTER


def race(mnt, secs, stall, ready):
    sfr = sysio.sync_file_range
    path = f"{mnt}/shared"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    model = bytearray(random.Random(7).randbytes(SIZE))
    os.pwrite(fd, model, 0)
    os.fsync(fd)
    with open(ready, "w") as f:              # the inode number, for the trace filter
        f.write(str(os.fstat(fd).st_ino))
    while not os.path.exists(ready + ".go"):
        time.sleep(0.05)

    lock = threading.Lock()                  # keeps the model in step with the file
    stop = threading.Event()
    errors, counts = [], {}
    wd = sysio.Watchdog(stall)               # the calls that must return: thread -> (what, start)
    timed = wd.timed

    def count(k):
        counts[k] = counts.get(k, 0) + 1

    def guarded(fn):
        def run():
            try:
                fn()
            except Exception as e:
                errors.append(f"{fn.__name__}: {e!r}")
                stop.set()
        return threading.Thread(target=run, name=fn.__name__)

    def writer(seed):
        def writer():
            r = random.Random(seed)
            while not stop.is_set():
                span = HOT if r.random() < 0.7 else SIZE
                off = r.randrange(0, span // 512) * 512
                data = r.randbytes(min(r.choice([512, 4096, 12288, 65536]), SIZE - off))
                with lock:
                    os.pwrite(fd, data, off)
                    model[off:off + len(data)] = data
                count("pwrites")
        return writer

    def mmapper():
        r = random.Random(3)
        m = mmap.mmap(fd, SIZE)
        try:
            while not stop.is_set():
                off = r.randrange(0, (HOT if r.random() < 0.7 else SIZE) - 64)
                data = r.randbytes(64)
                with lock:
                    m[off:off + 64] = data
                    model[off:off + 64] = data
                count("mmap_stores")
                if r.random() < 0.05:
                    timed("msync", m.flush)
        finally:
            m.close()

    def bg(seed):
        def bg():
            r = random.Random(seed)
            while not stop.is_set():
                off = r.randrange(0, (HOT if r.random() < 0.5 else SIZE) >> 12) << 12
                timed("sync_file_range WRITE", sfr, fd, off, r.choice([4096, 65536, 1 << 20]), WRITE)
                count("bg_ranges")
        return bg

    def other():
        r = random.Random(5)
        ofd = os.open(f"{mnt}/other", os.O_RDWR | os.O_CREAT, 0o644)
        while not stop.is_set():
            os.pwrite(ofd, r.randbytes(65536), r.randrange(0, 64) << 16)
            sfr(ofd, 0, 0, WRITE)
            count("other_passes")
        os.close(ofd)

    def integrity():
        r = random.Random(6)
        while not stop.is_set():
            k = r.random()
            if k < 0.4:
                timed("fsync", os.fsync, fd)
                count("fsyncs")
            elif k < 0.6:
                timed("fdatasync", os.fdatasync, fd)
                count("fdatasyncs")
            else:
                off = r.randrange(0, (HOT if r.random() < 0.5 else SIZE) >> 12) << 12
                timed("sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER", sfr, fd, off,
                      r.choice([8192, 262144, 0]), SYNC_ALL)
                count("ranged_sync_all")

    threads = [guarded(f) for f in (writer(1), writer(2), mmapper, bg(3), bg(4), other, integrity)]
    for t in threads:
        t.start()
    end = time.monotonic() + secs
    while time.monotonic() < end and not stop.is_set():
        time.sleep(0.2)
        wd.check(lambda name, what, busy: f"HANG: {what} in thread {name} has not returned after {busy:.0f} s")
    stop.set()
    deadline = time.monotonic() + stall
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            what = wd.busy.get(t.name, ("?", 0))[0]
            sysio.hang(f"HANG: thread {t.name} ({what}) did not finish within {stall:.0f} s")
    os.fsync(fd)
    os.close(fd)
    print("COUNTS", " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    for e in errors:
        print("ERROR", e)
    with open(f"{mnt}/../expected.sha256", "w") as f:
        f.write(filemodel.sha256(model))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(race(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]))
