"""A Ctrl-C part way through `./wbtrace fstests`: the tests that finished before it
count (summary and ledger), the section they were in is "interrupted", not missing
results, and a test that finished on one variant only is no difference."""
import json
import os
import re

from fstests import cli, ledger, results as r
from synth import boot, case

SPLAT = re.compile(r"WARNING:|BUG:")
BOTH = ["stock", "patched"]
META = {"variants": BOTH, "sections": ["plain"], "test_args": ["-g", "quick"],
        "source_name": "fstests", "started": "20261206-160000", "boots": []}
COND = ledger.Conditions("kernel-5f28", (("patched", "f2fs-4c6a-patched"), ("stock", "f2fs-7022-stock")),
                         "ab" * 32, False)


def cut_short(path, cases, console=""):
    """A boot stopped mid-section: result.xml up to the last finished test, no state.json."""
    boot(path, {"plain": cases}, console=console)
    os.remove(os.path.join(path, "state.json"))
    return path


def test_a_cut_short_section_keeps_its_finished_tests_and_is_not_broken(tmp_path):
    cut_short(tmp_path, [case("generic/001"), case("generic/002")],
              console="run fstests generic/002 at 2026\nWARNING: CPU: 0 PID: 9 at fs/f2fs/data.c\n")
    tests, notes = r.load_boot(str(tmp_path), ["plain"], SPLAT, interrupted=True)
    assert tests["plain"]["generic/001"].status == r.PASS
    assert tests["plain"]["generic/002"].status == r.FAIL          # its splat still fails it
    assert notes["plain"] == r.INTERRUPTED
    # Without a Ctrl-C the same directory is a boot that ended without its results.
    _, notes = r.load_boot(str(tmp_path), ["plain"], SPLAT)
    assert notes["plain"].startswith(r.BROKEN)


def test_the_interrupted_summary_and_its_ledger_record(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "TOP", str(tmp_path))
    monkeypatch.setattr(cli, "git_commit", lambda: "abc123")
    out = tmp_path / "results" / "fstests-20261206-160000"
    # stock got one test further than patched; generic/002 differs on both.
    cut_short(out / "stock", [case("generic/001"), case("generic/002"), case("generic/003")])
    cut_short(out / "patched", [case("generic/001"), case("generic/002", "fail", 2, "mismatch")])
    summary = cli.write_summary(str(out), COND, cli.interrupted_summary(str(out), BOTH, ["plain"], META, SPLAT))
    assert summary["interrupted"] and summary["broken"] == []
    tests = summary["sections"]["plain"]["tests"]
    assert "verdict" not in tests["generic/003"]                   # ran on stock only
    assert tests["generic/002"]["verdict"] == r.UNCONFIRMED       # a difference, with no rerun
    assert summary["regressions"] == ["plain:generic/002"]
    text = capsys.readouterr().out
    assert "INTERRUPTED" in text and "note: " + r.INTERRUPTED in text
    assert json.loads((out / "summary.json").read_text())["interrupted"] is True
    rec = ledger.load_records(str(tmp_path))[0]
    assert rec["interrupted"] is True and rec["commit"] == "abc123"
    done, used, _, _ = ledger.latest([rec], COND, BOTH)
    assert used == 1 and done["plain"]["generic/003"] == {"stock": r.PASS}
    assert ledger.not_done(["generic/001", "generic/002", "generic/003", "generic/004"],
                           done, ["plain"], BOTH) == ["generic/003", "generic/004"]


def test_a_rerun_cut_short_keeps_the_first_round_and_the_reruns_that_finished(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "TOP", str(tmp_path))
    monkeypatch.setattr(cli, "git_commit", lambda: "")
    out = tmp_path / "run"
    for v, second in (("stock", case("generic/002")), ("patched", case("generic/002", "fail", 2, "x"))):
        boot(out / v, {"plain": [case("generic/001"), second]})          # first round complete
    cut_short(out / "rerun-stock", [case("generic/002")])
    (out / "rerun-patched").mkdir()                                     # stopped before its result
    meta = dict(META, rerun={"sections": ["plain"], "tests": ["generic/002"]})
    summary = cli.interrupted_summary(str(out), BOTH, ["plain"], meta, SPLAT)
    row = summary["sections"]["plain"]["tests"]["generic/002"]
    assert row["stock_rerun"]["status"] == r.PASS and "patched_rerun" not in row
    assert row["verdict"] == r.UNCONFIRMED and summary["broken"] == []


def test_the_ledger_record_is_written_before_a_print_to_a_gone_pipe_fails(tmp_path, monkeypatch):
    """Ctrl-C in `./wbtrace fstests ... | tee log` stops tee too: printing the summary then
    fails with a broken pipe, and the record of the tests that ran must already be there."""
    monkeypatch.setattr(cli, "TOP", str(tmp_path))
    monkeypatch.setattr(cli, "git_commit", lambda: "abc123")
    out = tmp_path / "results" / "fstests-20261206-170000"
    for v in BOTH:
        cut_short(out / v, [case("generic/001")])

    def gone(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("builtins.print", gone)
    summary = cli.interrupted_summary(str(out), BOTH, ["plain"], META, SPLAT)
    try:
        cli.write_summary(str(out), COND, summary)
    except BrokenPipeError:
        pass
    rec = ledger.load_records(str(tmp_path))[0]
    assert rec["interrupted"] is True
    done, used, _, _ = ledger.latest([rec], COND, BOTH)
    assert done["plain"]["generic/001"] == {"stock": r.PASS, "patched": r.PASS}
