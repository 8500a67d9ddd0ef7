"""tests/guest/lf_large_folio_write.py on the host: the in-memory model of the
random operations against a real file (the ones that do not need f2fs, on the
host's file system; move and defragment with F2FS_IOC_MOVE_RANGE and
F2FS_IOC_DEFRAGMENT emulated), the ioctl numbers and layouts against the uapi
headers, FIEMAP, the GC step's bookkeeping (its GC ioctl refused off f2fs),
selfmove, check and the command line."""
import ctypes
import errno
import fcntl
import os
import random
import signal
import struct
import subprocess
import sys
import time

import pytest

import lf_large_folio_write as lfw
from conftest import TOP

SCRIPT = os.path.join(TOP, "tests", "guest", "lf_large_folio_write.py")
HOST_OPS = [k for k in lfw.OPS if k not in lfw.F2FS_ONLY]


@pytest.fixture
def host_fs(tmp_path):
    """tmp_path, if its file system does what the host-side operations need
    (punch hole, zero range, O_DIRECT)."""
    probe = tmp_path / "probe"
    fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, bytes(3 * lfw.BLK), 0)
        lfw.fallocate(fd, lfw.FALLOC_FL_PUNCH_HOLE | lfw.FALLOC_FL_KEEP_SIZE, 0, lfw.BLK)
        lfw.fallocate(fd, lfw.FALLOC_FL_ZERO_RANGE, lfw.BLK, lfw.BLK)
        os.close(os.open(probe, os.O_RDWR | os.O_DIRECT))
    except OSError as e:
        pytest.skip(f"n/a: the file system of {tmp_path} lacks what the workload needs ({e})")
    finally:
        os.close(fd)
        probe.unlink()
    return tmp_path


def move_range(fd, arg, overlap_ok=False):
    """F2FS_IOC_MOVE_RANGE as f2fs does it for data blocks: LEN bytes of fd at
    POS_IN to DST_FD at POS_OUT (which grows if the range ends beyond it), and
    a hole where they were."""
    dst, pin, pout, n = struct.unpack("=I4xQQQ", arg)
    if os.fstat(fd).st_ino == os.fstat(dst).st_ino and not overlap_ok and pin < pout + n and pout < pin + n:
        raise OSError(errno.EINVAL, "overlapping move within one file")
    data = os.pread(fd, n, pin)
    data += bytes(n - len(data))
    os.pwrite(dst, data, pout)
    lfw.fallocate(fd, lfw.FALLOC_FL_PUNCH_HOLE | lfw.FALLOC_FL_KEEP_SIZE, pin, n)
    return 0


@pytest.fixture
def f2fs_ioctls(monkeypatch):
    """fcntl.ioctl with F2FS_IOC_MOVE_RANGE emulated and F2FS_IOC_DEFRAGMENT
    refused every other time (it changes no data); the rest go through.
    os.sync() is skipped: the emulation needs no checkpoint."""
    real = fcntl.ioctl
    seen = {"move": 0, "defrag": 0}

    def ioctl(fd, req, arg=0, *rest):
        if req == lfw.F2FS_IOC_MOVE_RANGE:
            seen["move"] += 1
            return move_range(fd, arg)
        if req == lfw.F2FS_IOC_DEFRAGMENT:
            seen["defrag"] += 1
            assert len(arg) == 16
            if seen["defrag"] % 2:
                raise OSError(errno.EINVAL, "refused")
            return arg
        return real(fd, req, arg, *rest)

    monkeypatch.setattr(fcntl, "ioctl", ioctl)
    monkeypatch.setattr(os, "sync", lambda: None)
    return seen


def counts(out):
    """The ops line: {op: count} and the size."""
    line = next(x for x in out.splitlines() if x.startswith("  ops:"))
    words = line.split()[1:]
    assert words[-2] == "size"
    return dict((k, int(v)) for k, v in (w.split("=") for w in words[:-2])), int(words[-1])


def test_ioctl_numbers_and_layouts_match_the_uapi_headers(tmp_path):
    src = tmp_path / "uapi.c"
    src.write_text(r"""
#include <stdio.h>
#include <stddef.h>
#include <linux/f2fs.h>
#include <linux/fs.h>
#include <linux/fiemap.h>
int main(void)
{
	printf("%lu %lu %lu %lu\n", (unsigned long)F2FS_IOC_DEFRAGMENT, (unsigned long)F2FS_IOC_MOVE_RANGE,
	       (unsigned long)F2FS_IOC_GARBAGE_COLLECT_RANGE, (unsigned long)FS_IOC_FIEMAP);
	printf("%zu %zu %zu %zu\n", sizeof(struct f2fs_move_range), offsetof(struct f2fs_move_range, pos_in),
	       offsetof(struct f2fs_move_range, pos_out), offsetof(struct f2fs_move_range, len));
	printf("%zu %zu %zu\n", sizeof(struct f2fs_gc_range), offsetof(struct f2fs_gc_range, start),
	       offsetof(struct f2fs_gc_range, len));
	printf("%zu %zu %zu %zu\n", sizeof(struct fiemap), offsetof(struct fiemap, fm_mapped_extents),
	       sizeof(struct fiemap_extent), offsetof(struct fiemap_extent, fe_flags));
	printf("%lu %lu\n", (unsigned long)F2FS_IOC_START_ATOMIC_WRITE,
	       (unsigned long)F2FS_IOC_COMMIT_ATOMIC_WRITE);
	return 0;
}
""")
    exe = tmp_path / "uapi"
    subprocess.run(["gcc", "-o", str(exe), str(src)], check=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    assert [int(x) for x in lines[0].split()] == [lfw.F2FS_IOC_DEFRAGMENT, lfw.F2FS_IOC_MOVE_RANGE,
                                                  lfw.F2FS_IOC_GARBAGE_COLLECT_RANGE, lfw.FS_IOC_FIEMAP]
    # the layouts the module packs: "=I4xQQQ" (move), "=I4xQQ" (gc), "=QQIIII" + 56-byte extents
    assert [int(x) for x in lines[1].split()] == [struct.calcsize("=I4xQQQ"), 8, 16, 24]
    assert [int(x) for x in lines[2].split()] == [struct.calcsize("=I4xQQ"), 8, 16]
    assert [int(x) for x in lines[3].split()] == [struct.calcsize("=QQIIII"), 20, 56, 40]
    assert [int(x) for x in lines[4].split()] == [lfw.F2FS_IOC_START_ATOMIC_WRITE,
                                                  lfw.F2FS_IOC_COMMIT_ATOMIC_WRITE]


def test_an_atomic_write_writes_the_file_and_the_model_alike(host_fs, capsys, monkeypatch):
    """atomic: START, the writes, COMMIT, in that order on the file; the same bytes in REF."""
    path, ref = host_fs / "a", host_fs / "a.ref"
    data = random.Random(5).randbytes(300 * 1024)
    path.write_bytes(data)
    ref.write_bytes(data)
    calls = []
    real_pwrite = os.pwrite

    def ioctl(fd, req, arg=0, *rest):
        calls.append(req)
        return 0

    def pwrite(fd, buf, off):
        calls.append("pwrite")
        return real_pwrite(fd, buf, off)

    monkeypatch.setattr(fcntl, "ioctl", ioctl)
    monkeypatch.setattr(os, "pwrite", pwrite)
    assert lfw.main(["atomic", str(path), str(ref), "4"]) == 0
    assert calls == [lfw.F2FS_IOC_START_ATOMIC_WRITE] + ["pwrite"] * 4 + [lfw.F2FS_IOC_COMMIT_ATOMIC_WRITE]
    assert path.read_bytes() == ref.read_bytes() != data
    assert len(ref.read_bytes()) == len(data)      # writes stay inside the file
    assert "4 write(s) committed" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [1, 2, 7])
def test_the_model_equals_the_file(host_fs, capsys, seed):
    """Every operation that needs no f2fs, on a real file: the bytes read back
    are the model's, after every kind of operation was drawn."""
    path, ref = host_fs / "rand", host_fs / "rand.ref"
    lfw.ops(str(path), seed, 200, str(ref), kinds=HOST_OPS)
    got, size = counts(capsys.readouterr().out)
    assert set(got) == set(HOST_OPS), got          # each drawn, nothing else
    assert sum(got.values()) == 200
    want = ref.read_bytes()
    assert len(want) == size == path.stat().st_size
    assert path.read_bytes() == want
    assert lfw.check(str(path), str(ref)) == 0
    assert not (host_fs / "rand.movesrc").exists()


def test_the_model_with_the_f2fs_operations_emulated(host_fs, capsys, f2fs_ioctls):
    """All operations, as the guest draws them (seeds 1 and 2, 300 operations),
    with MOVE_RANGE and DEFRAGMENT emulated: the moved bytes land where the
    model puts them, and a refused defragment is counted, not fatal."""
    total = {}
    for seed in (1, 2):
        path, ref = host_fs / f"rand{seed}", host_fs / f"rand{seed}.ref"
        lfw.ops(str(path), seed, 300, str(ref))
        got, size = counts(capsys.readouterr().out)
        assert path.read_bytes() == ref.read_bytes() and len(ref.read_bytes()) == size
        assert not (host_fs / f"rand{seed}.movesrc").exists()
        for k, v in got.items():
            total[k] = total.get(k, 0) + v
    assert total["move"] > 0 and total["defrag"] > 1, total
    # every move counted was made (one past the end of the source is not)
    assert f2fs_ioctls["move"] == total["move"]
    # every other defragment refused (the 1st, 3rd, ...), and counted so
    assert f2fs_ioctls["defrag"] == total["defrag"]
    assert total["defrag-EINVAL"] == (total["defrag"] + 1) // 2


def test_a_seed_draws_the_same_operations(host_fs, capsys, f2fs_ioctls):
    runs = []
    for name, kinds in (("a", None), ("b", list(lfw.OPS)), ("c", None)):
        lfw.ops(str(host_fs / name), 3, 60, str(host_fs / f"{name}.ref"), kinds=kinds)
        runs.append((counts(capsys.readouterr().out), (host_fs / f"{name}.ref").read_bytes()))
    assert runs[0] == runs[1] == runs[2]
    lfw.ops(str(host_fs / "d"), 4, 60, str(host_fs / "d.ref"))
    assert (host_fs / "d.ref").read_bytes() != runs[0][1]


def test_limited_kinds_draw_only_those(host_fs, capsys):
    lfw.ops(str(host_fs / "w"), 5, 50, str(host_fs / "w.ref"), kinds=["smallwrite", "fsync"])
    got, _ = counts(capsys.readouterr().out)
    assert set(got) <= {"smallwrite", "fsync"} and sum(got.values()) == 50
    assert (host_fs / "w").read_bytes() == (host_fs / "w.ref").read_bytes()
    with pytest.raises(ValueError, match="not among"):
        lfw.ops(str(host_fs / "x"), 5, 1, str(host_fs / "x.ref"), kinds=["write", "shred"])
    with pytest.raises(ValueError, match="not among"):
        lfw.ops(str(host_fs / "x"), 5, 1, str(host_fs / "x.ref"), kinds=[])


def test_check_finds_a_changed_byte_and_a_changed_size(tmp_path, capsys):
    data = bytes(range(256)) * 100
    (tmp_path / "f").write_bytes(data)
    (tmp_path / "ref").write_bytes(data)
    assert lfw.check(str(tmp_path / "f"), str(tmp_path / "ref")) == 0
    bad = bytearray(data)
    bad[3 * lfw.BLK + 17] ^= 1
    (tmp_path / "f").write_bytes(bad)
    assert lfw.check(str(tmp_path / "f"), str(tmp_path / "ref")) == 1
    assert f"1 block(s) differ, first at byte offsets [{3 * lfw.BLK}]" in capsys.readouterr().out
    (tmp_path / "f").write_bytes(data[:-1])
    assert lfw.check(str(tmp_path / "f"), str(tmp_path / "ref")) == 1
    out = capsys.readouterr().out
    # the last block, shorter than the reference's
    assert f"size {len(data) - 1}, expected {len(data)}" in out
    assert f"1 block(s) differ, first at byte offsets [{6 * lfw.BLK}]" in out


def test_resize():
    ref = bytearray(b"abc")
    lfw.resize(ref, 5)
    assert ref == b"abc\0\0"
    lfw.resize(ref, 1)
    assert ref == b"a"


def test_fiemap_finds_every_extent(host_fs):
    """FS_IOC_FIEMAP past its 64 extents a call: 100 separate blocks."""
    path = host_fs / "sparse"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for i in range(100):
            os.pwrite(fd, b"x" * lfw.BLK, i * 16 * lfw.BLK)
        os.fsync(fd)
        ext = lfw.fiemap_blocks(fd)
    finally:
        os.close(fd)
    assert len(ext) == 100 and all(ph > 0 and ln == 1 for ph, ln in ext), ext[:5]


def test_gc_keeps_the_model(host_fs, capsys):
    """The GC step off f2fs: the writes that dirty the cached file are in the
    updated reference; every segment it found is refused (no f2fs ioctl)."""
    path, ref = host_fs / "g", host_fs / "g.ref"
    data = os.urandom(3 << 20)
    path.write_bytes(data)
    ref.write_bytes(data)
    lfw.gc(str(path), str(ref), 11)
    out = capsys.readouterr().out
    nseg = int(out.split(": ")[1].split()[0])
    assert nseg >= 1 and f"{nseg} segment(s), 0 collected, {nseg} refused" in out
    assert ref.read_bytes() != data and len(ref.read_bytes()) == len(data)
    assert lfw.check(str(path), str(ref)) == 0


def test_selfmove(host_fs, capsys, f2fs_ioctls):
    assert lfw.selfmove(str(host_fs / "s")) == 0
    assert "3 moves within the file, data ok" in capsys.readouterr().out
    assert f2fs_ioctls["move"] == 3


def test_selfmove_catches_a_move_that_left_the_source(host_fs, capsys, monkeypatch):
    real = fcntl.ioctl

    def copy_only(fd, req, arg=0, *rest):
        if req == lfw.F2FS_IOC_MOVE_RANGE:
            dst, pin, pout, n = struct.unpack("=I4xQQQ", arg)
            os.pwrite(dst, os.pread(fd, n, pin), pout)
            return 0
        return real(fd, req, arg, *rest)

    monkeypatch.setattr(fcntl, "ioctl", copy_only)
    monkeypatch.setattr(os, "sync", lambda: None)
    assert lfw.selfmove(str(host_fs / "s")) == 1
    # 16 KiB at 0, 8 KiB at 1 MiB, 4 KiB at 2 MiB + 256 KiB: 7 blocks kept data
    assert "7 block(s) differ, first at [0, 4096, 8192, 12288, 1048576" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    ([], "no command"),
    (["shred", "f"], "unknown command 'shred'"),
    (["ops", "f", "1", "10"], "ops: takes FILE SEED NOPS REF, got 3 argument(s)"),
    (["ops", "f", "one", "10", "r"], "invalid literal for int()"),
    (["ops", "f", "1", "-3", "r"], "NOPS -3 < 0"),
    (["gc", "f", "r", "x"], "gc: invalid literal"),
    (["check", "f"], "check: takes FILE REF, got 1 argument(s)"),
    (["selfmove"], "selfmove: takes FILE, got 0 argument(s)"),
    (["atomic", "f", "r"], "atomic: takes FILE REF SEED, got 2 argument(s)"),
    (["atomic", "f", "r", "s"], "atomic: invalid literal"),
    (["mmapread"], "mmapread: takes FILE, got 0 argument(s)"),
    (["mmapstore", "f", "r"], "mmapstore: takes FILE REF OFF, got 2 argument(s)"),
    (["mmapstore", "f", "r", "end"], "mmapstore: invalid literal"),
    (["scatter", "f", "r", "x"], "scatter: invalid literal"),
    (["physblock", "f"], "physblock: takes FILE INDEX, got 1 argument(s)"),
    (["physblock", "f", "-1"], "INDEX -1 < 0"),
    (["readerr"], "readerr: takes FILE, got 0 argument(s)"),
])
def test_bad_usage_is_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lfw.main(argv) == 2
    assert message in capsys.readouterr().err
    assert os.listdir(tmp_path) == []          # nothing was done


def test_the_command_line(host_fs, capsys, f2fs_ioctls):
    f, ref = str(host_fs / "f"), str(host_fs / "f.ref")
    assert lfw.main(["ops", f, "9", "40", ref]) == 0
    assert "  ops:" in capsys.readouterr().out
    assert lfw.main(["check", f, ref]) == 0
    assert lfw.main(["gc", f, ref, "3"]) == 0
    assert lfw.main(["check", f, ref]) == 0
    with open(f, "r+b") as fh:
        fh.write(b"\xff" * 10)
    assert lfw.main(["check", f, ref]) == 1
    assert lfw.main(["selfmove", str(host_fs / "s")]) == 0


def test_the_script_runs_main(tmp_path):
    p = subprocess.run([sys.executable, SCRIPT, "check", str(tmp_path / "a")], capture_output=True, text=True)
    assert p.returncode == 2 and "check: takes FILE REF" in p.stderr
    (tmp_path / "a").write_bytes(b"1")
    (tmp_path / "b").write_bytes(b"2")
    p = subprocess.run([sys.executable, SCRIPT, "check", str(tmp_path / "a"), str(tmp_path / "b")],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "1 block(s) differ" in p.stdout


def test_mmapstore_changes_one_byte_in_the_file_and_the_model(tmp_path, capsys):
    data = bytes(random.Random(3).randbytes(3 * lfw.BLK - 100))
    f, ref = tmp_path / "f", tmp_path / "f.ref"
    f.write_bytes(data)
    ref.write_bytes(data)
    assert lfw.main(["mmapread", str(f)]) == 0
    assert f"{len(data)} bytes faulted in (byte sum {sum(data[::lfw.BLK])})" in capsys.readouterr().out
    off = len(data) - 1                        # the last byte, in the page that holds EOF
    assert lfw.main(["mmapstore", str(f), str(ref), str(off)]) == 0
    got = f.read_bytes()
    assert got[off] == 0xff ^ data[off] and got[:off] == data[:off] and len(got) == len(data)
    assert lfw.main(["check", str(f), str(ref)]) == 0


def test_mmapstore_outside_the_file_is_bad_usage(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    assert lfw.main(["mmapstore", str(f), str(tmp_path / "r"), "3"]) == 2
    assert "OFF 3 outside the file's 3 bytes" in capsys.readouterr().err
    assert f.read_bytes() == b"abc" and not (tmp_path / "r").exists()


def _radrop_ioctls(monkeypatch, on_start=None):
    """fcntl.ioctl recording the requests; ON_START(fd) runs at START_ATOMIC_WRITE."""
    calls = []

    def ioctl(fd, req, arg=0, *rest):
        calls.append(req)
        if req == lfw.F2FS_IOC_START_ATOMIC_WRITE and on_start:
            on_start(fd)
        return 0

    monkeypatch.setattr(fcntl, "ioctl", ioctl)
    return calls


def test_radrop_writes_the_file_and_ref_alike_and_the_readers_pass(tmp_path, capsys, monkeypatch):
    """radrop: the file and REF hold the same bytes, the second half rewritten;
    START then COMMIT once; every reader ends well."""
    path, ref = tmp_path / "r", tmp_path / "r.ref"
    calls = _radrop_ioctls(monkeypatch)
    assert lfw.radrop(str(path), str(ref), 3, settle=0.2, after=0.2) == 0
    assert calls == [lfw.F2FS_IOC_START_ATOMIC_WRITE, lfw.F2FS_IOC_COMMIT_ATOMIC_WRITE]
    data = path.read_bytes()
    assert data == ref.read_bytes() and len(data) == lfw.RADROP_SIZE
    first = random.Random(3).randbytes(lfw.RADROP_SIZE)
    half = lfw.RADROP_SIZE // 2
    assert data[:half] == first[:half] and data[half:] != first[half:]
    out = capsys.readouterr().out
    assert f"0 of {lfw.RADROP_READERS} reader(s) failed" in out


def test_radrop_fails_when_a_reader_sees_a_changed_page(tmp_path, capfd, monkeypatch):
    """A page of the first half that changes under the readers (as a stale
    large folio read from one block would) fails the check."""
    path, ref = tmp_path / "r", tmp_path / "r.ref"
    _radrop_ioctls(monkeypatch, on_start=lambda fd: os.pwrite(fd, b"\xff" * 100, 5 * lfw.BLK + 7))
    assert lfw.radrop(str(path), str(ref), 4, settle=0.2, after=0.5) == 1
    out = capfd.readouterr().out  # the readers are children: their lines go to the fd
    assert "page at 20480 differs" in out
    assert f"{lfw.RADROP_READERS} of {lfw.RADROP_READERS} reader(s) failed" in out


def test_radrop_takes_a_seed(tmp_path, capsys):
    assert lfw.main(["radrop", str(tmp_path / "f"), str(tmp_path / "r"), "x"]) == 2
    assert "radrop: invalid literal" in capsys.readouterr().err


@pytest.fixture
def quick_collapsedrop(monkeypatch):
    """collapsedrop on a small file, its child waiting 0.2 s for a drop that
    a host never shows."""
    monkeypatch.setattr(lfw, "COLLAPSEDROP_DIRTY", 1 << 20)
    monkeypatch.setattr(lfw, "COLLAPSE_WAIT", 0.2)


def test_collapsedrop_writes_the_file_and_ref_alike(tmp_path, capsys, monkeypatch, quick_collapsedrop):
    """collapsedrop: START, four writes into the first 2 MiB, COMMIT; the file
    and REF hold the same bytes, rewritten beyond 2 MiB; the child's madvise
    result is reported (no drop to see on a host)."""
    path, ref = tmp_path / "c", tmp_path / "c.ref"
    calls = _radrop_ioctls(monkeypatch)
    assert lfw.collapsedrop(str(path), str(ref), 5) == 0
    assert calls == [lfw.F2FS_IOC_START_ATOMIC_WRITE, lfw.F2FS_IOC_COMMIT_ATOMIC_WRITE]
    data = path.read_bytes()
    assert data == ref.read_bytes() and len(data) == lfw.COLLAPSE_SIZE + lfw.COLLAPSEDROP_DIRTY
    first = random.Random(5).randbytes(len(data))
    assert data[lfw.COLLAPSE_SIZE:] != first[lfw.COLLAPSE_SIZE:]
    assert data[:lfw.COLLAPSE_SIZE] != first[:lfw.COLLAPSE_SIZE]  # the atomic writes
    out = capsys.readouterr().out
    assert "not seen in f2fs_drop_large_folios(); madvise(MADV_COLLAPSE) returned" in out


def test_collapsedrop_fails_when_a_write_is_lost(tmp_path, capsys, monkeypatch, quick_collapsedrop):
    """A block of the range that does not hold what was written (as when the
    atomic write went to a stale large folio) fails the check."""
    path, ref = tmp_path / "c", tmp_path / "c.ref"
    calls = []

    def ioctl(fd, req, arg=0, *rest):
        calls.append(req)
        if req == lfw.F2FS_IOC_COMMIT_ATOMIC_WRITE:
            os.pwrite(fd, bytes(lfw.COLLAPSE_SIZE), 0)  # every write of the range lost
        return 0

    monkeypatch.setattr(fcntl, "ioctl", ioctl)
    assert lfw.collapsedrop(str(path), str(ref), 6) == 1
    assert "block(s) differ" in capsys.readouterr().out


def test_collapsedrop_fails_when_the_child_fails(tmp_path, capfd, monkeypatch, quick_collapsedrop):
    def no_map(fd, length):
        raise OSError(errno.ENOMEM, "no mapping")

    monkeypatch.setattr(lfw, "_map_pmd_aligned", no_map)
    _radrop_ioctls(monkeypatch)
    assert lfw.collapsedrop(str(tmp_path / "c"), str(tmp_path / "c.ref"), 7) == 1
    out = capfd.readouterr().out
    assert "collapsedrop child: OSError" in out and "the child failed (wait status 512" in out


def test_collapsedrop_fails_when_the_child_dies_before_go(tmp_path, capfd, monkeypatch, quick_collapsedrop):
    """A child that is gone before the parent says "go" (the write gets EPIPE)
    is reported as a failed child, not an exception."""
    def no_map(fd, length):
        raise OSError(errno.ENOMEM, "no mapping")

    real_write = os.write

    def late_write(fd, data):
        time.sleep(0.3)  # the child has died by now: "go" meets a closed pipe
        return real_write(fd, data)

    monkeypatch.setattr(lfw, "_map_pmd_aligned", no_map)
    monkeypatch.setattr(os, "write", late_write)
    _radrop_ioctls(monkeypatch)
    assert lfw.collapsedrop(str(tmp_path / "c"), str(tmp_path / "c.ref"), 8) == 1
    assert "the child failed (wait status 512" in capfd.readouterr().out


def test_map_pmd_aligned_maps_the_file_at_an_aligned_address(tmp_path):
    path = tmp_path / "m"
    path.write_bytes(b"m" * (3 << 20))
    fd = os.open(path, os.O_RDONLY)
    try:
        base, size, addr = lfw._map_pmd_aligned(fd, 2 << 20)
        assert addr % (2 << 20) == 0 and base <= addr and addr + (2 << 20) <= base + size
        assert ctypes.string_at(addr, 4) == b"mmmm"
        lfw.libc.munmap(base, size)
    finally:
        os.close(fd)


def test_collapsedrop_takes_a_seed(tmp_path, capsys):
    assert lfw.main(["collapsedrop", str(tmp_path / "f"), str(tmp_path / "r"), "x"]) == 2
    assert "collapsedrop: invalid literal" in capsys.readouterr().err


def test_physblock_finds_the_blocks_and_a_hole(host_fs, capsys):
    """physblock: each block of a written range is where FIEMAP's extents put
    it; a block in a hole is None, exit status 1 on the command line."""
    path = host_fs / "p"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"p" * (4 * lfw.BLK), 0)
        os.ftruncate(fd, 16 * lfw.BLK)
        os.fsync(fd)
        ext = lfw.fiemap_blocks(fd)
    finally:
        os.close(fd)
    want = [ph + i for ph, ln in ext for i in range(ln)]
    got = [lfw.physblock(str(path), i) for i in range(4)]
    assert got == want and all(b > 0 for b in got)
    assert lfw.physblock(str(path), 8) is None
    assert lfw.main(["physblock", str(path), "2"]) == 0
    assert capsys.readouterr().out == f"{got[2]}\n"
    assert lfw.main(["physblock", str(path), "8"]) == 1
    assert f"block 8 of {path} is a hole" in capsys.readouterr().err


def test_scatter_rewrites_block_1_only(tmp_path, capsys, monkeypatch):
    """scatter: the file and REF hold the seed's bytes but for block 1, written
    again; both writes are synced (not fsync'ed)."""
    syncs = []
    monkeypatch.setattr(os, "sync", lambda: syncs.append(1))
    path, ref = tmp_path / "s", tmp_path / "s.ref"
    assert lfw.scatter(str(path), str(ref), 4) == 0
    data, first, blk = path.read_bytes(), random.Random(4).randbytes(lfw.READERR_SIZE), lfw.BLK
    assert data == ref.read_bytes() and len(data) == lfw.READERR_SIZE and len(syncs) == 2
    assert data[:blk] == first[:blk] and data[2 * blk:] == first[2 * blk:]
    assert data[blk:2 * blk] != first[blk:2 * blk]


@pytest.fixture
def readerr_file(tmp_path):
    path = tmp_path / "r"
    path.write_bytes(b"r" * lfw.READERR_SIZE)
    return str(path)


def test_readerr_fails_when_block_0_reads(readerr_file, capfd):
    """Where nothing fails to read (a host), read() of block 0 returns data:
    what the check exists to catch.  The child's fault returned its byte."""
    assert lfw.readerr(readerr_file) == 1
    out = capfd.readouterr().out
    assert "readerr child: byte 0x72 at 1048576" in out
    assert "the fault at 1048576: exit status 0; read() of block 0 returned 4096 bytes" in out


@pytest.mark.parametrize("err,result,said", [
    (errno.EIO, 0, "read() of block 0 failed with EIO\n"),
    (errno.ENXIO, 1, "read() of block 0 failed with ENXIO (want EIO)\n"),
])
def test_readerr_wants_eio(readerr_file, capfd, monkeypatch, err, result, said):
    def pread(fd, n, off):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(os, "pread", pread)
    assert lfw.readerr(readerr_file) == result
    assert capfd.readouterr().out.endswith(said)


def test_readerr_reports_a_fault_that_killed_the_child(readerr_file, capfd, monkeypatch):
    def killed(path, off):
        os.kill(os.getpid(), signal.SIGTERM)
        os._exit(3)

    monkeypatch.setattr(lfw, "_fault_in", killed)
    lfw.readerr(readerr_file)
    assert "the fault at 1048576: killed by SIGTERM;" in capfd.readouterr().out
