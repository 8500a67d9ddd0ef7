"""workloads/largefolio_eval.py and largefolio-eval.sh (issue 16, item 5): f2fs's counters,
the on-vs-off change and its reading, the ftrace cross-check, the table, bad input."""
import json
import os
import subprocess

import pytest

import largefolio_eval as lfe

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(TOP, "workloads", "largefolio-eval.sh")

STATUS = """Extent Cache (Block Age):
  - Allocated Data Blocks: 2049
  - Hit Count: L1:0 L2:0

IPU: 4096 blocks
SSR: 0 blocks in 0 segments
LFS: 2055 blocks in 4 segments
  - Valid: 37
  - Dirty: 1
Try to move 511 blocks (BG: 511)
"""


def test_f2fs_status_blocks(tmp_path):
    p = tmp_path / "f2fs-status.txt"
    p.write_text(STATUS)
    assert lfe.f2fs_status_blocks(str(p)) == {"allocated": 2049, "ipu": 4096, "gc_moved": 511,
                                                  "dirty_segs": 1}
    assert lfe.f2fs_status_blocks(str(tmp_path / "none")) == {}


def test_block_check():
    row = {"f2fs_blocks": 10, "bio_bytes": 10 * 4096, "folio_bytes": 10 * 4096}
    assert lfe.block_check(row) == ""
    row["folio_bytes"] = 16 * 4096          # a large folio counted whole
    assert lfe.block_check(row) == "folio blocks 16 != f2fs 10"
    assert lfe.block_check({"bio_bytes": 1}) == "not checked"


def test_delta_is_a_ratio_of_geometric_means():
    d = lfe.delta([100.0, 100.0, 100.0], [50.0, 50.0, 50.0])
    # deterministic counts: no spread, the interval is the difference itself
    assert d["pct"] == pytest.approx(-50.0) and d["lo"] == pytest.approx(-50.0)
    assert d["hi"] == pytest.approx(-50.0)
    d = lfe.delta([10.0, 10.2, 9.9], [10.1, 9.8, 10.0])
    assert d["lo"] < 0 < d["hi"]
    assert lfe.delta([1.0], [1.0, 2.0]) is None           # a side with one value
    assert lfe.delta([0.0, 1.0], [1.0, 2.0]) is None      # log scale needs > 0


def test_reading_never_calls_noise_a_gain():
    noise = {"pct": -3.0, "lo": -8.0, "hi": +2.0}
    assert lfe.reading(noise, -1) == "no difference shown"
    assert lfe.reading(noise, +1) == "no difference shown"
    up = {"pct": 5.0, "lo": 1.0, "hi": 9.0}
    down = {"pct": -5.0, "lo": -9.0, "hi": -1.0}
    assert lfe.reading(up, -1) == "WORSE"          # e.g. more busy time per MiB
    assert lfe.reading(down, -1) == "better"
    assert lfe.reading(down, +1) == "WORSE"        # e.g. less bandwidth
    assert lfe.reading(up, 0) == "more"
    assert lfe.reading(down, 0) == "fewer/smaller"
    assert lfe.reading(None, 1) == "–"


FTRACE = """# tracer: nop
#
     kworker/u4:1-40      [000] .....   10.000001: f2fs_writepage: dev = (1,0), ino = 4, DATA, FILE, index = 0, nr_pages = 4, dirty = 1, uptodate = 1
     kworker/u4:1-40      [000] .....   10.000002: f2fs_do_write_data_page: dev = (1,0), ino = 4, OUT-OF-PLACE, FILE, index = 0, nr_pages = 4, dirty = 1, uptodate = 1
     kworker/u4:1-40      [000] .....   10.000003: f2fs_do_write_data_page: dev = (1,0), ino = 4, OUT-OF-PLACE, FILE, index = 0, nr_pages = 4, dirty = 1, uptodate = 1
     kworker/u4:1-40      [000] .....   10.000004: f2fs_writepage: dev = (1,0), ino = 4, DATA, FILE, index = 4, nr_pages = 1, dirty = 1, uptodate = 1
     kworker/u4:1-40      [000] .....   10.000005: f2fs_do_write_data_page: dev = (1,0), ino = 4, IN-PLACE, FILE, index = 4, nr_pages = 1, dirty = 1, uptodate = 1
     kworker/u4:1-40      [000] .....   10.000006: f2fs_writepage: dev = (1,0), ino = 4, DATA, FILE, index = 5, nr_pages = 1, dirty = 1, uptodate = 1
     kworker/u4:1-40      [000] .....   10.000007: f2fs_writepage: dev = (1,0), ino = 3, NODE, FILE, index = 9, nr_pages = 1, dirty = 1, uptodate = 1
     kworker/u4:1-40      [000] .....   10.000008: f2fs_submit_write_bio: dev = (1,0)/(1,0), rw = WRITE(), DATA, sector = 8, size = 8192
     kworker/u4:1-40      [000] .....   10.000009: f2fs_submit_write_bio: dev = (1,0)/(1,0), rw = WRITE(S), NODE, sector = 64, size = 4096
              fio-99      [000] .....    9.000000: mm_filemap_add_to_page_cache: dev 1:0 ino 4 pfn=0x1000 ofs=0 order=2
              fio-99      [000] .....   20.000000: mm_filemap_add_to_page_cache: dev 1:0 ino 4 pfn=0x2000 ofs=16384 order=0
              fio-99      [000] .....   10.100000: balance_dirty_pages: bdi 1:0: limit=2048 setpoint=1792 dirty=2100 bdi_setpoint=1792 bdi_dirty=2100 dirty_ratelimit=400 task_ratelimit=200 dirtied=32 dirtied_pause=32 paused=0 pause=40 period=40 think=0 cgroup_ino=1
              fio-99      [000] .....   10.200000: balance_dirty_pages: bdi 1:0: limit=2048 setpoint=1792 dirty=1900 bdi_setpoint=1792 bdi_dirty=1900 dirty_ratelimit=400 task_ratelimit=300 dirtied=32 dirtied_pause=32 paused=0 pause=-8 period=12 think=20 cgroup_ino=1
              fio-99      [000] .....   12.000000: balance_dirty_pages: bdi 1:0: limit=2048 setpoint=1792 dirty=2100 bdi_setpoint=1792 bdi_dirty=2100 dirty_ratelimit=400 task_ratelimit=200 dirtied=32 dirtied_pause=32 paused=0 pause=12 period=12 think=0 cgroup_ino=1
"""


def test_parse_ftrace(tmp_path):
    p = tmp_path / "ftrace.txt"
    p.write_text(FTRACE)
    fx = lfe.parse_ftrace(str(p), window=(8e9, 11e9))
    assert fx["writepage_calls"] == 3                      # DATA only
    assert fx["folios_written"] == 2                       # index 5 wrote no block
    assert fx["large_folios_written"] == 1
    assert fx["blocks"] == 3 and fx["blocks_opu"] == 2 and fx["blocks_ipu"] == 1
    assert fx["blocks_in_written_folios"] == 3 and fx["blocks_of_large_folios"] == 2
    assert fx["pages_of_written_folios"] == 5
    assert fx["data_bios"] == 1 and fx["data_bio_bytes"] == 8192
    assert fx["add_by_order"] == {2: 1, 0: 1}
    assert fx["add_by_order_in_window"] == {2: 1}
    # in the window: two events, one of them a 40 ms sleep (pause <= 0 does not sleep)
    assert fx["dirty_throttle"] == {"events": 2, "sleeps": 1, "pause_ms": 40}


def _cell(side, values, module="abc", opts=None):
    reps = []
    for i, v in enumerate(values, 1):
        reps.append({"rep": i, "verified": True, "module_sha256": module, "icount": "shift=3",
                     "scratch": "ram", "vcpus": 1, "check": "",
                     "mount_options": opts or lfe.SIDE_OPTS[side]})
    summary = {}
    for key, *_ in lfe.FIGURES:
        vals = list(values) if key != "large_folio_pct" else [0.0 if side == "off" else 50.0] * len(values)
        mean = sum(vals) / len(vals)
        summary[key] = {"mean": mean, "cv": 0.0, "n": len(vals), "values": vals}
    return {"workload": "fio-seqwrite", "side": side, "fs_opts": lfe.SIDE_OPTS[side],
            "reps": reps, "summary": summary, "boot_wall_s": 600, "load_before": "1 1 1",
            "load_after": "2 2 2"}


def test_compare_cells_and_table(monkeypatch, capsys, tmp_path):
    cells = [_cell("off", [100.0, 101.0, 99.0]), _cell("on", [50.0, 50.5, 49.5])]
    comp = lfe.compare_cells(cells)
    rows = {r["figure"]: r for r in comp["fio-seqwrite"]["rows"]}
    assert rows["busy_ms_per_MiB"]["reading"] == "better"
    assert rows["bw_MiBps"]["reading"] == "WORSE"
    assert rows["folios_per_MiB"]["reading"] == "fewer/smaller"
    assert comp["fio-seqwrite"]["warnings"] == []
    monkeypatch.setattr(lfe, "load_cells", lambda top: cells)
    out = tmp_path / "t.json"
    assert lfe.cmd_table("x", str(out)) == 0
    text = capsys.readouterr().out
    assert "| fio-seqwrite | guest busy per MiB (instructions) |" in text
    assert "-50.0 %" in text and "| agree |" in text
    assert json.loads(out.read_text())["comparison"]["fio-seqwrite"]["rows"]


def test_compare_cells_warns_on_mixed_modules_and_no_large_folios():
    off = _cell("off", [1.0, 1.0], module="aaa")
    on = _cell("on", [1.0, 1.0], module="bbb")
    on["summary"]["large_folio_pct"]["values"] = [0.0, 0.0]
    on["reps"][0]["check"] = "folio blocks 16 != f2fs 10"
    w = " ".join(lfe.compare_cells([off, on])["fio-seqwrite"]["warnings"])
    assert "module_sha256 differs" in w
    assert "no large folio was written" in w
    assert "rep 1: folio blocks 16 != f2fs 10" in w


def test_table_of_a_missing_dir_is_one_error_line(tmp_path, capsys):
    assert lfe.main(["table", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such directory" in err[0]
    assert lfe.main(["table", str(tmp_path)]) == 2
    assert "no <workload>--<side>/cell.json" in capsys.readouterr().err


def _script(*args):
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, timeout=60)


def test_script_help_does_nothing_else(tmp_path):
    before = sorted(os.listdir(os.path.join(TOP, "results"))) \
        if os.path.isdir(os.path.join(TOP, "results")) else []
    r = _script("--help")
    assert r.returncode == 0 and "Usage: workloads/largefolio-eval.sh" in r.stdout
    after = sorted(os.listdir(os.path.join(TOP, "results"))) \
        if os.path.isdir(os.path.join(TOP, "results")) else []
    assert before == after


@pytest.mark.parametrize("args,msg", [
    (["--reps", "0"], "--reps takes a positive number"),
    (["--reps", "x"], "--reps takes a positive number"),
    (["--workload", "fio-nope"], "no workload 'fio-nope'"),
    (["--side", "maybe"], "--side is off or on"),
    (["--icount", "off"], "--icount needs a SPEC"),
    (["--size", "lots"], "--size takes a size"),
    (["--frobnicate"], "unknown option '--frobnicate'"),
])
def test_script_bad_input_is_one_line_exit_2(args, msg):
    r = _script(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0] and r.stdout == ""


def test_fmt_keeps_about_four_digits():
    assert lfe.fmt(None) == "–"
    assert lfe.fmt(12345.6) == "12,346"
    assert lfe.fmt(142.84) == "142.8"
    assert lfe.fmt(9.7123) == "9.712"
    assert lfe.fmt(0.3125) == "0.312"
    assert lfe.fmt(15.004) == "15.00"


def test_fmt_delta():
    assert lfe.fmt_delta(None) == "–"
    assert lfe.fmt_delta({"pct": -3.04, "lo": -8.0, "hi": 2.0}) == "-3.0 % [-8.0, +2.0]"
    assert lfe.fmt_delta({"pct": 25100.0, "lo": 25000.0, "hi": 25200.0}) == \
        "×252.0 [×251.0, ×253.0]"


def test_tracer_window_reaches_back_by_the_durations(tmp_path):
    p = tmp_path / "events.jsonl"
    p.write_text('{"t":1000,"k":"folio","write_ns":300,"size":4096}\n'
                 '{"t":2000,"k":"wp","dur_ns":1500}\n'
                 '{"t":2500,"k":"bio","bytes":4096}\n')
    assert lfe.tracer_window(str(p)) == (500, 2500)
    assert lfe.tracer_window(str(tmp_path / "none")) is None


CROSSCHECK = os.path.join(TOP, "workloads", "largefolio-crosscheck.sh")


def test_crosscheck_help_and_bad_input():
    r = subprocess.run(["bash", CROSSCHECK, "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "Usage: workloads/largefolio-crosscheck.sh" in r.stdout
    for args, msg in ((["--workload", "fio-nope"], "no workload 'fio-nope'"),
                      (["--bogus"], "unknown option '--bogus'")):
        r = subprocess.run(["bash", CROSSCHECK, *args], capture_output=True, text=True,
                           timeout=60)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and msg in lines[0]


def test_crosscheck_of_a_dir_without_a_run_is_one_error_line(tmp_path, capsys):
    assert lfe.main(["crosscheck", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no rep (meta.json)" in err[0]
