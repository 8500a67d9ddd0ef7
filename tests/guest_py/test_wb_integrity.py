"""tests/guest/wb_integrity.py: the data set written on the host file system
matches its own manifest, and the verification catches a changed, missing or
extra file, a lost directory and bytes beyond EOF that reached the disk."""
import json

import pytest

import wb_integrity as wbi


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("integrity")
    mnt = d / "mnt"
    mnt.mkdir()
    try:
        rc = wbi.write(str(mnt), str(d / "manifest.json"))
    except OSError as e:
        pytest.skip(f"n/a: the file system of {d} refuses what the guest's f2fs does ({e})")
    assert rc == 0
    return mnt, d / "manifest.json"


def test_written_set_verifies(written, capsys):
    mnt, manifest = written
    assert wbi.verify(str(mnt), str(manifest)) == 0
    out = capsys.readouterr().out
    assert "directories checked: OK" in out
    m = json.loads(manifest.read_text())
    assert len(m["files"]) > 600 and "dirs/empty" in m["dirs"] and m["eof_probe"] == ["mmap/eof", 5000, 8192]
    # The mmap store beyond EOF is not file data.
    assert (mnt / "mmap" / "eof").stat().st_size == 5000


def test_verify_catches_changes(written, capsys):
    mnt, manifest = written
    want = json.loads(manifest.read_text())
    files, dirs = wbi.tree(str(mnt))
    assert wbi.differences(want, files, dirs) == []
    files2 = dict(files)
    files2["buf/s3"] = "0" * 64                     # changed
    del files2["sync/fsync"]                        # lost
    files2["stray"] = "1" * 64                      # not in the model
    assert wbi.differences(want, files2, dirs) == ["buf/s3", "stray", "sync/fsync"]
    bad = wbi.differences(want, files, [d for d in dirs if d != "dirs/empty"])
    assert bad == ["directory list differs: ['dirs/empty']"]
    # And through the files themselves.
    p = mnt / "inline" / "i1"
    data = p.read_bytes()
    p.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    try:
        assert wbi.verify(str(mnt), str(manifest)) == 1
        out = capsys.readouterr().out
        assert "  mismatch: inline/i1" in out and "1 BAD" in out
    finally:
        p.write_bytes(data)
    assert wbi.verify(str(mnt), str(manifest)) == 0


def test_model_dirs():
    assert wbi.model_dirs({"a/b/c": b"", "d": b""}) == [".", "a", "a/b", "dirs/empty"]


def test_eof_tail():
    block = bytes(range(256)) * 16
    ok, what = wbi.eof_tail(block[:1000] + bytes(4096 - 1000), 5000, 4096)
    assert not ok and what == "bytes 904..4095 NOT zero (96 non-zero)"
    ok, what = wbi.eof_tail(block[:904] + bytes(4096 - 904), 5000, 4096)
    assert ok and what == "bytes 904..4095 zero"


def test_eof_probe_reads_the_block_from_the_device(tmp_path, monkeypatch, capsys):
    """The device stands in as a file whose block at the mapped address holds
    the page: a non-zero tail fails, a zeroed one passes."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "f").write_bytes(b"x" * 5000)
    (tmp_path / "man.json").write_text(json.dumps({"eof_probe": ["f", 5000, 8192]}))
    dev = tmp_path / "dev"
    monkeypatch.setattr(wbi.sysio, "fiemap", lambda path, count: [(0, 8192, 8192, 1)])
    monkeypatch.setattr(wbi.os, "O_DIRECT", 0)       # a plain file stands in for the device
    for tail, rc in ((b"\xa5", 1), (b"\0", 0)):
        dev.write_bytes(bytes(12288) + b"x" * 904 + tail * (4096 - 904))
        assert wbi.eof_probe(str(tmp_path / "m"), str(tmp_path / "man.json"), str(dev)) == rc
    out = capsys.readouterr().out
    assert "f: block at 0x3000 (file offset 4096): bytes 904..4095 NOT zero (3192 non-zero)" in out
    assert "f: block at 0x3000 (file offset 4096): bytes 904..4095 zero" in out
    monkeypatch.setattr(wbi.sysio, "fiemap", lambda path, count: [])
    assert wbi.eof_probe(str(tmp_path / "m"), str(tmp_path / "man.json"), str(dev)) == 1
    assert "no extent maps offset 4096" in capsys.readouterr().out
