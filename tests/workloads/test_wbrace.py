"""workloads/wbrace.py: the race driver's model and its check must agree, and the check
must catch a flipped byte, a lost tail and stale data."""
import json
import os
import subprocess

import pytest

import wbrace

DRV = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "workloads", "wbrace.py")


def drv(*args):
    p = subprocess.run(["/usr/bin/python3", DRV, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


@pytest.fixture
def raced(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    exp = tmp_path / "exp.json"
    rc, out = drv("run", "--dir", str(d), "--size", str(1 << 20), "--expect", str(exp), "--ops", "300")
    assert rc == 0, out
    return d, exp


def test_run_then_check_passes(raced):
    d, exp = raced
    doc = json.loads(exp.read_text())
    assert doc["size"] == 1 << 20 and len(doc["blocks"]) == 256
    assert doc["counts"]["truncate_shrink"] > 0 and doc["counts"]["punch_hole"] > 0
    assert doc["counts"]["mmap_store"] > 0 and sum(doc["background"].values()) > 0
    rc, out = drv("check", "--dir", str(d), "--expect", str(exp))
    assert rc == 0 and "matches" in out


def test_same_seed_same_contents(tmp_path, raced):
    d, exp = raced
    d2 = tmp_path / "d2"
    d2.mkdir()
    rc, out = drv("run", "--dir", str(d2), "--size", str(1 << 20), "--expect",
                  str(tmp_path / "e2.json"), "--ops", "300")
    assert rc == 0
    assert json.loads(exp.read_text())["sha256"] == json.loads((tmp_path / "e2.json").read_text())["sha256"]


def test_check_catches_flipped_bytes(raced):
    d, exp = raced
    f = d / wbrace.FILE_NAME
    with open(f, "r+b") as fh:
        fh.seek(5000)
        b = fh.read(4)
        fh.seek(5000)
        fh.write(bytes(x ^ 0xFF for x in b))
    rc, out = drv("check", "--dir", str(d), "--expect", str(exp), "--label", "t")
    assert rc == 1 and "FAIL t" in out and "block 1 " in out


def test_check_catches_short_file_and_stale_data(raced):
    d, exp = raced
    f = d / wbrace.FILE_NAME
    data = f.read_bytes()
    os.truncate(f, len(data) - 4096)
    rc, out = drv("check", "--dir", str(d), "--expect", str(exp))
    assert rc == 1 and "size" in out
    f.write_bytes(data)
    with open(f, "r+b") as fh:            # an old generation of block 3 at block 7
        fh.seek(7 * 4096)
        fh.write(wbrace.pattern(1, 3 * 4096, 4096))
    rc, out = drv("check", "--dir", str(d), "--expect", str(exp))
    assert rc == 1 and "another offset" in out


def test_check_rejects_foreign_expect_file(tmp_path):
    (tmp_path / "e.json").write_text('{"format": "other"}')
    rc, out = drv("check", "--dir", str(tmp_path), "--expect", str(tmp_path / "e.json"))
    assert rc == 2


def test_pattern_is_position_tagged():
    a = wbrace.pattern(5, 100, 50)
    assert len(a) == 50
    assert wbrace.pattern(5, 96, 200)[4:54] == a
    assert "op(s) 5" in wbrace.describe_block(wbrace.pattern(5, 0, 4096), 0)
    assert wbrace.describe_block(bytes(4096), 0) == "zeros"
