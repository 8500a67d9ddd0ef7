"""tests/guest/wb_truncate_race.py: the overlap count from traces written as
tracefs writes them, the probe-missed-truncates rule, and the verification."""
import json

import filemodel
import wb_truncate_race as wtr


def tin(pid, ino, size):
    return (f"         python3-{pid}     [001] ..... 50.000001: wbtr_in: "
            f"(f2fs_setattr+0x0/0x7e0 [f2fs]) ino={ino} size={size} valid=0x2068")


def tout(pid):
    return (f"         python3-{pid}     [001] ..... 50.000009: wbtr_out: "
            f"(notify_change+0x2f5/0x4c0 <- f2fs_setattr) ret=0")


def wait(pid, ino, index, comm="python3"):
    return f"         {comm}-{pid}     [000] ..... 50.000005: folio_wait_writeback: bdi 254:0: ino={ino} index={index}"


OPS = {"write": 10, "truncate_down": 2, "truncate_up": 0, "rewrite": 1}


def test_a_truncate_that_waited_in_its_range_counts():
    lines = [
        tin(100, 12, 8192), wait(100, 12, 1), wait(100, 12, 2), tout(100),   # index 2 >= 8192 >> 12
        tin(100, 13, 0), wait(100, 12, 5), tout(100),                        # another file's folio
        tin(100, 12, 4096 * 10), wait(100, 12, 3), tout(100),                # below the new size
        wait(200, 12, 9, "kworker/u4:0"),                                    # not in a truncate
        tin(100, 99, 0), tout(100),                                          # not one of our files
    ]
    out = wtr.overlaps(lines, OPS, {12, 13}, 0, "default")
    assert out[-1] == "1"
    assert out[0] == ("  default: 1 of 3 traced truncates waited on writeback of their own file's truncated "
                      "range (1 folio waits; 5 waits on these files in all)")
    assert not any("FAIL" in x for x in out)


def test_no_overlap_gives_0():
    lines = [tin(100, 12, 0), tout(100), tin(100, 12, 0), tout(100), tin(100, 13, 0), tout(100)]
    assert wtr.overlaps(lines, OPS, {12, 13}, 0, "x")[-1] == "0"


def test_missed_truncates_give_minus_1_unless_events_were_lost():
    lines = [tin(100, 12, 0), wait(100, 12, 0), tout(100)]
    out = wtr.overlaps(lines, OPS, {12}, 0, "lfs")
    assert out[-1] == "-1"
    assert "  FAIL: lfs: the race made 3 truncates (ftruncate), the f2fs_setattr probe saw 1" in out
    out = wtr.overlaps(lines, OPS, {12}, 4, "lfs")
    assert out[-1] == "1" and "4 events lost: counts are lower bounds" in out[0]
    out = wtr.overlaps(lines + ["CPU:0 [LOST 17 EVENTS]"], OPS, {12}, 0, "lfs")
    assert out[-1] == "1"
    # More truncates traced than made is wrong even with losses.
    out = wtr.overlaps(lines * 4, OPS, {12}, 4, "lfs")
    assert out[-1] == "-1"


def test_verify(tmp_path, capsys):
    (tmp_path / "t").mkdir()
    want = {}
    for i, n in enumerate(wtr.NAMES):
        data = bytes([i]) * (i * 1000)
        (tmp_path / n).write_bytes(data)
        want[n] = filemodel.sha256(data)
    (tmp_path / "model.json").write_text(json.dumps(want))
    assert wtr.verify(str(tmp_path), str(tmp_path / "model.json")) == 0
    assert f"{len(wtr.NAMES)}/{len(wtr.NAMES)} files match the model" in capsys.readouterr().out
    (tmp_path / wtr.NAMES[2]).write_bytes(b"\2" * 1999)
    assert wtr.verify(str(tmp_path), str(tmp_path / "model.json")) == 1
    assert "BAD: ['t/f2']" in capsys.readouterr().out
