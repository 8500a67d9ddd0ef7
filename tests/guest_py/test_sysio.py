"""workloads/sysio.py: the ioctl numbers match the kernel headers, FIEMAP is
decoded as the kernel lays it out, the libc calls work and report errors, the
knob sets are written in order, the watchdog calls a hang a hang, and a hung
test's report follows its process tree on a fake /proc."""
import errno
import os
import struct
import threading

import pytest

import sysio


def test_ioctl_numbers_match_the_uapi_headers():
    # The values the _IO*() macros give on x86-64 (include/uapi/linux/f2fs.h, fs.h).
    assert sysio.F2FS_IOC_WRITE_CHECKPOINT == 0xf507
    assert sysio.F2FS_IOC_GET_COMPRESS_BLOCKS == 0x8008f511
    assert sysio.F2FS_IOC_GET_COMPRESS_OPTION == 0x8002f515
    assert sysio.F2FS_IOC_SET_COMPRESS_OPTION == 0x4002f516
    assert sysio.F2FS_IOC_DECOMPRESS_FILE == 0xf517
    assert sysio.F2FS_IOC_COMPRESS_FILE == 0xf518
    assert sysio.F2FS_IOC_SHUTDOWN == 0x8004587d
    assert sysio.FS_IOC_GETFLAGS == 0x80086601
    assert sysio.FS_IOC_FIEMAP == 0xC020660B


def fiemap_reply(extents):
    """A struct fiemap as the kernel fills it in, packed field by field."""
    buf = struct.pack("=QQIIII", 0, 2 ** 64 - 1, 1, len(extents), 8, 0)
    for lo, ph, ln, fl in extents:
        buf += struct.pack("=QQQ", lo, ph, ln) + bytes(16) + struct.pack("=I", fl) + bytes(12)
    return bytearray(buf + bytes(56 * (8 - len(extents))))


def test_fiemap_request_and_decoding():
    req = sysio.fiemap_request(8)
    assert len(req) == 32 + 56 * 8
    assert struct.unpack_from("=QQIIII", req) == (0, 2 ** 64 - 1, sysio.FIEMAP_FLAG_SYNC, 0, 8, 0)
    ext = [(0, 1 << 30, 8192, 0), (8192, 5 << 30, 4096, sysio.FIEMAP_EXTENT_LAST)]
    assert sysio.fiemap_extents(fiemap_reply(ext)) == ext


def test_physical_at():
    ext = [(0, 1 << 30, 8192, 0), (16384, 5 << 30, 4096, 1)]
    assert sysio.physical_at(ext, 0) == 1 << 30
    assert sysio.physical_at(ext, 4096) == (1 << 30) + 4096
    assert sysio.physical_at(ext, 8192) is None            # a hole
    assert sysio.physical_at(ext, 16384 + 100) == (5 << 30) + 100
    assert sysio.physical_at(ext, 20480) is None            # beyond the last extent


def test_fiemap_of_a_real_file(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(os.urandom(3 * 4096 + 5))
    try:
        ext = sysio.fiemap(str(p))
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.ENOTTY):
            pytest.skip(f"n/a: the file system of {tmp_path} has no FIEMAP")
        raise
    assert ext and sum(e[2] for e in ext) >= 4 * 4096
    assert sysio.physical_at(ext, 0) is not None
    assert ext[-1][3] & sysio.FIEMAP_EXTENT_LAST


def test_sync_file_range_and_its_errors(tmp_path):
    p = tmp_path / "f"
    fd = os.open(p, os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b"x" * 10000)
        sysio.sync_file_range(fd, 0, 0)
        sysio.sync_file_range(fd, 4096, 4096, sysio.SYNC_FILE_RANGE_ALL)
        with pytest.raises(OSError) as e:
            sysio.sync_file_range(fd, 0, 0, 0x80)       # not a flag: EINVAL
        assert e.value.errno == errno.EINVAL and "sync_file_range" in str(e.value)
    finally:
        os.close(fd)
    with pytest.raises(OSError) as e:
        sysio.sync_file_range(fd, 0, 0)                 # closed: EBADF
    assert e.value.errno == errno.EBADF


def test_fallocate_punches_a_hole(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"\xff" * 12288)
    fd = os.open(p, os.O_RDWR)
    try:
        try:
            sysio.fallocate(fd, sysio.FALLOC_FL_PUNCH_HOLE | sysio.FALLOC_FL_KEEP_SIZE, 4096, 4096)
        except OSError as e:
            if e.errno == errno.EOPNOTSUPP:
                pytest.skip(f"n/a: the file system of {tmp_path} cannot punch holes")
            raise
        with pytest.raises(OSError) as e:
            sysio.fallocate(fd, sysio.FALLOC_FL_PUNCH_HOLE, 0, 4096)   # without KEEP_SIZE: EOPNOTSUPP
        assert "fallocate" in str(e.value)
    finally:
        os.close(fd)
    data = p.read_bytes()
    assert len(data) == 12288 and data[4096:8192] == bytes(4096) and data[:4096] == b"\xff" * 4096


def test_knob_sets(tmp_path):
    for name in ("dirty_expire_centisecs", "dirty_writeback_centisecs"):
        (tmp_path / name).write_text("500\n")
    sysio.set_vm(sysio.FLUSHER_ASLEEP, root=str(tmp_path))
    assert (tmp_path / "dirty_expire_centisecs").read_text() == "360000"
    assert (tmp_path / "dirty_writeback_centisecs").read_text() == "360000"
    # Expiry before the wake-up interval: writing the interval wakes the flushers.
    assert list(sysio.FLUSHER_ASLEEP) == list(sysio.FLUSHER_EAGER) == \
        ["dirty_expire_centisecs", "dirty_writeback_centisecs"]
    assert set(sysio.FLUSHER_EAGER.values()) == {1}
    sysio.set_vm(sysio.FLUSHER_EAGER, root=str(tmp_path))
    assert (tmp_path / "dirty_writeback_centisecs").read_text() == "1"


def test_cli_refuses_unknown_knob_sets(capsys):
    assert sysio.main(["sysio.py", "vm", "flusher-off"]) == 2
    assert "usage" in capsys.readouterr().err
    assert sysio.main(["sysio.py"]) == 2


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_watchdog_times_calls():
    clock = Clock()
    wd = sysio.Watchdog(10, clock=clock)

    def slow():
        clock.t += 30
        assert wd.overdue() == [(threading.current_thread().name, "slow call", 30)]
        return 7

    assert wd.timed("slow call", slow) == 7
    assert wd.busy == {} and wd.overdue() == []
    wd.start("k", "a round")
    clock.t += 10
    assert wd.overdue() == []                 # not longer than STALL yet
    clock.t += 0.5
    assert wd.overdue() == [("k", "a round", 10.5)]
    wd.done("k")
    assert wd.overdue() == []


def test_watchdog_check_calls_hang(monkeypatch):
    clock = Clock()
    wd = sysio.Watchdog(5, clock=clock)
    hangs = []
    monkeypatch.setattr(sysio, "hang", lambda msg, sysrq=None: hangs.append(msg))
    wd.start("t1", "fsync")
    wd.check(lambda k, what, secs: f"HANG: {what} in {k} after {secs:.0f} s")
    assert hangs == []
    clock.t += 6
    wd.check(lambda k, what, secs: f"HANG: {what} in {k} after {secs:.0f} s")
    assert hangs == ["HANG: fsync in t1 after 6 s"]


def test_watchdog_thread(monkeypatch):
    clock = Clock()
    wd = sysio.Watchdog(5, clock=clock)
    fired = threading.Event()
    monkeypatch.setattr(sysio, "hang", lambda msg, sysrq=None: fired.set())
    wd.start("x", "y")
    stop = wd.watch(lambda *a: "HANG", period=0.01)
    assert not fired.wait(0.1)
    clock.t += 60
    assert fired.wait(5)
    stop.set()


def test_hang_dumps_blocked_tasks_and_exits_3(tmp_path, monkeypatch, capsys):
    exits = []

    def fake_exit(code):
        exits.append(code)
        raise SystemExit(code)
    monkeypatch.setattr(os, "_exit", fake_exit)
    sysrq = tmp_path / "sysrq-trigger"
    with pytest.raises(SystemExit):
        sysio.hang("HANG: something", sysrq=str(sysrq))
    assert exits == [3] and sysrq.read_text() == "w"
    assert capsys.readouterr().out == "HANG: something\n"


def fake_proc(root, procs):
    """A /proc tree: {pid: (comm, ppid, state, wchan, stack lines or None)};
    a stack of None leaves /proc/PID/stack out (a process that vanished after
    its stat was read), a comm of None leaves every file out (a process that
    vanished after /proc was listed)."""
    for pid, (comm, ppid, state, wchan, stack) in procs.items():
        d = root / str(pid)
        d.mkdir()
        if comm is None:
            continue
        (d / "stat").write_text(f"{pid} ({comm}) {state} {ppid} {pid} {pid} 0 -1 4194560 0 0\n")
        (d / "comm").write_text(comm + "\n")
        (d / "wchan").write_text(wchan)
        if stack is not None:
            (d / "stack").write_text("".join(s + "\n" for s in stack))
    (root / "self").mkdir()                  # not a pid: ignored
    return str(root)


PROCS = {
    1: ("init", 0, "S", "do_wait", []),
    40: ("bash", 1, "S", "do_wait", []),               # run-inside.sh: not below the test
    100: ("bash", 40, "S", "do_wait", ["[<0>] do_wait+0x1/0x2"]),
    57: ("python3", 100, "D", "folio_wait_bit", ["[<0>] folio_wait_bit+0x1/0x2", "[<0>] f2fs_fsync+0x3/0x4"]),
    120: ("a) b", 100, "R", "0", None),                 # a comm with ") " in it; no stack file
    130: (None, 100, "", "", None),                     # listed, then gone
    140: ("sleep", 130, "S", "hrtimer_nanosleep", []),  # its parent vanished: not found
    200: ("fsync", 57, "D", "f2fs_wait", ["[<0>] f2fs_wait+0x1/0x2"]),
    300: ("kworker", 2, "I", "worker_thread", []),
}


def test_descendants_follow_ppid_chains(tmp_path):
    proc = fake_proc(tmp_path, PROCS)
    # ROOT first, then each generation in pid order.
    assert sysio.descendants(100, proc) == [100, 57, 120, 200]
    assert sysio.descendants(57, proc) == [57, 200]
    assert sysio.descendants(200, proc) == [200]
    assert sysio.descendants(999, proc) == [999]      # gone already: only itself, to kill


class FakeKernel:
    """A kernel log that the fake sysrq file's triggers add to."""

    def __init__(self, sysrq, lines):
        self.sysrq, self.lines, self.sleeps = sysrq, list(lines), []

    def log(self):
        return list(self.lines)

    def sleep(self, s):
        self.sleeps.append(s)
        key = open(self.sysrq).read()
        self.lines.append(f"[  {len(self.lines)}.0] sysrq: " +
                          {"w": "Show Blocked State", "l": "Show backtrace of all active CPUs"}[key])


def test_hang_report(tmp_path):
    (tmp_path / "proc").mkdir()
    proc = fake_proc(tmp_path / "proc", PROCS)
    sysrq = str(tmp_path / "sysrq-trigger")
    k = FakeKernel(sysrq, ["[  0.0] boot", "[  1.0] f2fs mounted"])
    lines = sysio.hang_report("wb-race", 100, 600, proc=proc, sysrq=sysrq, log=k.log, sleep=k.sleep)
    assert lines == [
        "wb-race: no result after 600s; its processes:",
        "  pid 100 (bash) state S wchan do_wait",
        "    [<0>] do_wait+0x1/0x2",
        "  pid 57 (python3) state D wchan folio_wait_bit",
        "    [<0>] folio_wait_bit+0x1/0x2",
        "    [<0>] f2fs_fsync+0x3/0x4",
        "  pid 120 (a) b) state R wchan 0",
        "  pid 200 (fsync) state D wchan f2fs_wait",
        "    [<0>] f2fs_wait+0x1/0x2",
        "blocked tasks (sysrq w) and running CPUs (sysrq l):",
        "  [  2.0] sysrq: Show Blocked State",
        "  [  3.0] sysrq: Show backtrace of all active CPUs",
    ]
    assert k.sleeps == [2, 2]


def test_hang_report_of_a_vanished_test_and_a_refused_trigger(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    fake_proc(proc, PROCS)
    lines = sysio.hang_report("t", 999, 5, proc=str(proc), sysrq=str(tmp_path / "no" / "sysrq"),
                              log=lambda: [], sleep=lambda s: None)
    assert lines[0] == "t: no result after 5s; its processes:"
    assert lines[1].startswith("cannot trigger sysrq w: ") and lines[2].startswith("cannot trigger sysrq l: ")
    assert lines[3:] == ["blocked tasks (sysrq w) and running CPUs (sysrq l):"]


def test_new_kernel_log_lines():
    before = ["a", "b", "c"]
    assert sysio.new_lines(before, before + ["d", "e"]) == ["d", "e"]
    assert sysio.new_lines(before, ["b", "c", "d"]) == ["d"]      # the ring dropped "a"
    assert sysio.new_lines(before, ["x", "y", "z", "d"]) == ["d"]  # "c" dropped too: by count
    assert sysio.new_lines([], ["a"]) == ["a"]
    assert sysio.new_lines(before, before) == []


def test_cli_hang_commands(monkeypatch, capsys):
    monkeypatch.setattr(sysio, "descendants", lambda root: [root, root + 1])
    monkeypatch.setattr(sysio, "hang_report", lambda name, root, secs: [f"{name}: {root} {secs}", "  pid 1"])
    assert sysio.main(["sysio.py", "hang", "pids", "7"]) == 0
    assert capsys.readouterr().out == "7\n8\n"
    assert sysio.main(["sysio.py", "hang", "report", "t-hang", "7", "5"]) == 0
    assert capsys.readouterr().out == "# t-hang: 7 5\n#   pid 1\n"
    for bad in (["hang", "pids"], ["hang", "pids", "x"], ["hang", "report", "t", "7"], ["hang", "kill", "7"]):
        assert sysio.main(["sysio.py"] + bad) == 2
        assert "sysio.py hang report NAME PID SECONDS" in capsys.readouterr().err


def test_descendants_on_the_real_proc():
    import subprocess
    child = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])
    try:
        for _ in range(100):
            tree = sysio.descendants(os.getpid())
            if len(tree) >= 3:
                break
            threading.Event().wait(0.05)
        assert tree[0] == os.getpid() and child.pid in tree and len(tree) == 3
    finally:
        for p in reversed(sysio.descendants(child.pid)):
            os.kill(p, 9)
        child.wait()
