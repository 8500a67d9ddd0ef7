"""The Python of wb-sync-race.sh: fsync and sync racing background writeback
and checkpoints, then a power cut; and the checks of what survived and of
what the kprobe events saw.

  wb_sync_race.py race MNT SECS OUT MARKER    the race; OUT: the fsynced files' checksums (json);
                                             MARKER: the tracefs trace_marker, or - without tracing
  wb_sync_race.py verify MNT OUT              after recovery: every fsynced file intact
  wb_sync_race.py trace TRACE VARIANT OVERRUN the tracing checks on the instance's trace file

Exit status 1 if a check failed.
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

FINAL_START, FINAL_END = "final fsync start", "final fsync end"


def race(mnt, secs, out, marker):
    stop = threading.Event()
    want_down = threading.Event()
    storm = threading.Event()               # checkpoints back to back, no sync(2)
    errors = []
    snapshot = {}
    fsynced = {}                            # name -> sha256 of what fsync made durable
    counts = {"bg_passes": 0, "fsyncs": 0, "checkpoints": 0, "syncs": 0}
    os.makedirs(f"{mnt}/bg", exist_ok=True)
    os.makedirs(f"{mnt}/fs", exist_ok=True)

    def mark(text):
        if marker != "-":
            with open(marker, "w") as f:
                f.write(f"wbtest: {text}\n")

    def guard(fn):
        def run():
            try:
                fn()
            except OSError as e:
                if not stop.is_set():
                    errors.append(f"{fn.__name__}: {e}")
            except Exception as e:
                errors.append(f"{fn.__name__}: {e!r}")
        return run

    @guard
    def bg():
        size = 12 << 20
        fd = os.open(f"{mnt}/bg/big", os.O_RDWR | os.O_CREAT, 0o644)
        r = random.Random(1)
        while not stop.is_set():
            for _ in range(64):
                off = r.randrange(0, size // 4096) * 4096
                os.pwrite(fd, r.randbytes(4096), off)
            os.pwrite(fd, r.randbytes(1 << 20), r.randrange(0, (size >> 20)) << 20)
            sysio.sync_file_range(fd, 0, 0, sysio.SYNC_FILE_RANGE_WRITE)
            counts["bg_passes"] += 1
        os.close(fd)

    def final_fsync_hit_eagain():
        """Did the last marked fsync get -EAGAIN from f2fs_write_single_data_page()?"""
        if marker == "-":
            return True                     # no tracing: cannot tell, take one try
        with open(os.path.join(os.path.dirname(marker), "trace")) as f:
            text = f.read()
        return "ret=-11" in text[text.rfind(f"wbtest: {FINAL_START}"):]

    @guard
    def fs():
        r = random.Random(2)
        i = tries = 0
        while not stop.is_set():
            final = want_down.is_set()
            if final:
                storm.set()
                time.sleep(0.3)
                tries += 1
            name = f"fs/final{tries}" if final else f"fs/f{i % 24}"
            # The last file is big enough for its fsync to overlap checkpoints.
            data = r.randbytes((6 << 20) + 4321 if final else r.choice([8192, 65536, 262144, 393216 + 1234]))
            fd = os.open(f"{mnt}/{name}", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            fsynced.pop(name, None)        # being rewritten: not known durable
            if final:
                mark(FINAL_START)
            os.fsync(fd)
            if final:
                mark(FINAL_END)
            fsynced[name] = filemodel.sha256(data)
            counts["fsyncs"] += 1
            i += 1
            # The shutdown below proves the -EAGAIN retry only if this fsync
            # needed it: try a few times for one that did.
            if final and (final_fsync_hit_eagain() or tries == 10):
                # Power cut right after fsync returned, with the other threads
                # still running: nothing but that fsync may have written the file.
                counts["final_tries"] = tries
                snapshot.update(fsynced)
                stop.set()
                sysio.shutdown(fd, sysio.F2FS_GOING_DOWN_NOSYNC)
                os.close(fd)
                return
            os.close(fd)

    @guard
    def cp():
        fd = os.open(mnt, os.O_RDONLY)
        n = 0
        while not stop.is_set():
            sysio.checkpoint(fd)
            counts["checkpoints"] += 1
            n += 1
            if storm.is_set():
                continue
            if n % 8 == 0:
                os.sync()
                counts["syncs"] += 1
            time.sleep(0.002)
        os.close(fd)

    threads = [threading.Thread(target=t, name=t.__name__) for t in (bg, fs, cp)]
    for t in threads:
        t.start()
    time.sleep(secs)
    want_down.set()
    for t in threads:
        t.join()
    if not snapshot:
        errors.append("the fs thread ended without shutting the filesystem down")
    with open(out, "w") as f:
        json.dump({"fsynced": snapshot, "counts": counts, "errors": errors}, f)
    print(f"race: {counts}, {len(snapshot)} files known fsynced at shutdown, errors: {errors or 'none'}")
    return 1 if errors else 0


def verify(mnt, out):
    """Roll-forward recovery done: every fsynced file holds what was fsynced."""
    with open(out) as f:
        res = json.load(f)
    bad = []
    for name, want in sorted(res["fsynced"].items()):
        try:
            got = filemodel.sha256_file(f"{mnt}/{name}")
        except OSError as e:
            got = str(e)
        if got != want:
            bad.append(name)
    print(f"  after shutdown + recovery: {len(res['fsynced']) - len(bad)}/{len(res['fsynced'])} fsynced files intact" +
          (f"; BAD: {bad}" if bad else ""))
    return 1 if bad or not res["fsynced"] else 0


# A trace line: "comm-pid [cpu] flags timestamp: event: fields".
EVENT = re.compile(r"^\s*(\S+)-(\d+)\s.*?\s(wbt_wsdp|wbt_wsdpr|wbt_iter|wbt_relock|f2fs_writepages):\s(.*)$")


def check_trace(lines, variant, lost):
    """The tracing checks on the lines of the trace (LOST: events the ring
    buffer overwrote).  Returns the lines to print and whether all passed."""
    out = []
    last_entry = {}            # pid -> folio of the last WB_SYNC_ALL call
    pending = {}               # pid -> folio that returned -EAGAIN under WB_SYNC_ALL
    eagain_all = eagain_none = retried = stops = gave_up = 0
    passes = {"WB_SYNC_ALL": 0, "WB_SYNC_NONE": 0}
    callers = set()
    by_task = {}
    in_final = False
    final_eagain = final_seen = 0
    for line in lines:
        if "LOST" in line:
            lost += 1
        if f"wbtest: {FINAL_START}" in line:
            in_final = final_seen = True
            final_eagain = 0                # only the last try counts
        elif f"wbtest: {FINAL_END}" in line:
            in_final = False
        m = EVENT.match(line)
        if not m:
            continue
        pid, name, rest = m.group(2), m.group(3), m.group(4)
        f = dict(re.findall(r"(\w+)=(\S+)", rest))
        if name == "wbt_wsdp":
            if pending.get(pid) == f["folio"]:
                retried += 1
            pending.pop(pid, None)
            last_entry[pid] = f["folio"]
        elif name == "wbt_wsdpr":
            c = re.search(r"\((\w+)\+0x[0-9a-f]+/", rest)
            if c:
                callers.add(c.group(1))
            if last_entry.get(pid) == f["folio"]:
                eagain_all += 1
                final_eagain += in_final
                by_task[m.group(1)] = by_task.get(m.group(1), 0) + 1
                pending[pid] = f["folio"]
            else:
                eagain_none += 1
        elif name == "wbt_iter":
            stops += 1
        elif name == "wbt_relock":
            if pending.get(pid) == f["folio"]:
                gave_up += 1
                pending.pop(pid, None)
        elif name == "f2fs_writepages":
            mode = re.search(r"sync_mode (\d+)", rest)
            if mode:
                passes["WB_SYNC_ALL" if mode.group(1) == "1" else "WB_SYNC_NONE"] += 1
                # wbt_wsdp traces WB_SYNC_ALL calls only: an -EAGAIN in a later
                # WB_SYNC_NONE pass of this task must not match its last one.
                if mode.group(1) != "1":
                    last_entry.pop(pid, None)
    ok = True

    def fail(msg):
        nonlocal ok
        out.append(f"  FAIL: {msg}")
        ok = False
    out.append(f"  writepages passes: {passes}; f2fs_write_single_data_page -EAGAIN: "
               f"{eagain_all} under WB_SYNC_ALL, {eagain_none} under WB_SYNC_NONE; returned into: {sorted(callers) or '-'}")
    if lost:
        out.append(f"  trace buffer overflowed ({lost} events lost): counts are lower bounds")
    # Not every -EAGAIN is followed by a new call: the retry first relocks the folio,
    # and a folio that another WB_SYNC_ALL pass (sync(2), the checkpoint) wrote in
    # the meantime is clean and rightly skipped.
    out.append(f"  -EAGAIN retry: {retried}/{eagain_all} WB_SYNC_ALL -EAGAIN returns were followed by a retry of the same folio")
    out.append(f"  WB_SYNC_ALL -EAGAIN by task: {by_task} (python3: fsync; kworker: sync(2) and the flusher)")
    # The shutdown check only proves the retry if the last fsync needed it.
    out.append(f"  the fsync just before the shutdown got -EAGAIN {final_eagain} time(s)")
    if not final_seen:
        fail("no trace marker for the final fsync")
    elif final_eagain == 0:
        fail("the final fsync never hit a held f2fs_lock_op(): the shutdown check proves nothing")
    if eagain_all == 0:
        fail("no WB_SYNC_ALL data write hit a held f2fs_lock_op(): the retry path was not exercised")
    elif retried == 0:
        fail("-EAGAIN under WB_SYNC_ALL was never retried")
    if variant == "patched":
        # Every -EAGAIN of WB_SYNC_ALL: written again, or relocked and found
        # truncated/clean (f2fs_wb_relock_folio() returned false).
        out.append(f"  of those not retried, f2fs_wb_relock_folio() found {gave_up} truncated or already written")
        if retried + gave_up != eagain_all and not lost:
            fail(f"{eagain_all - retried - gave_up} -EAGAIN folio(s) neither retried nor released by the relock")
    if variant == "patched":
        out.append(f"  priority stop: writeback_iter() was handed the -EAGAIN sentinel {stops} time(s) for f2fs WB_SYNC_NONE passes")
        if stops == 0:
            fail("the WB_SYNC_NONE priority stop was never reached")
        if "f2fs_write_cache_pages" in callers:
            fail("the old loop wrote non-compressed data")
    else:
        out.append("  priority stop: not observable on stock (the old loop has no probe point for it)")
    return out, ok


def main(argv):
    mode = argv[1]
    if mode == "race":
        return race(argv[2], float(argv[3]), argv[4], argv[5])
    if mode == "verify":
        return verify(argv[2], argv[3])
    if mode == "trace":
        with open(argv[2]) as f:
            lines = f.read().splitlines()
        out, ok = check_trace(lines, argv[3], int(argv[4]))
        for line in out:
            print(line)
        return 0 if ok else 1
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
