"""wb_compress_nomem.py: counting failed writeback calls (no f2fs needed)."""
import errno

import pytest

import wb_compress_nomem as m


def test_counts_every_failure_and_the_enomem_ones(capsys):
    calls = []

    def call(mode, path):
        calls.append((mode, path))
        if path == "b":
            raise OSError(errno.ENOMEM, "no memory")
        if path == "c":
            raise OSError(errno.EIO, "i/o")
    assert m.write_back_all("sfr", ["a", "b", "c", "d"], call) == (2, 1)
    assert [p for _, p in calls] == ["a", "b", "c", "d"], "a failure does not stop the rest"


def test_real_files(tmp_path, capsys):
    files = []
    for i in range(2):
        p = tmp_path / f"f{i}"
        p.write_bytes(b"x" * 8192)
        files.append(str(p))
    for mode in m.MODES:
        assert m.main([mode] + files) == 0
        assert capsys.readouterr().out.split() == ["0", "0"]
    assert m.main(["fsync", str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().out.split() == ["1", "0"]


@pytest.mark.parametrize("argv", [[], ["fsync"], ["flush", "x"]])
def test_usage(argv, capsys):
    assert m.main(argv) == 2
    assert "usage:" in capsys.readouterr().err
