"""fstests' CI subset (workloads/fstests/ci.py): the judgement of a run, per test and variant."""
import json
import os
import re
import stat

import pytest
from fstests import ci
from fstests import results as r
from synth import boot, case

SPLAT = re.compile(r"WARNING:|BUG:")
TESTS = ("generic/029", "generic/325")


def summary_of(tmp_path, stock, patched, rerun_stock=None, rerun_patched=None, tests=TESTS):
    """The summary cli.py would write for these synthetic boots ({test: case(...)} per boot)."""
    rounds, reruns, notes = {}, {}, {}
    for v, cases in (("stock", stock), ("patched", patched)):
        d = boot(tmp_path / v, {"plain": list(cases)})
        rounds[v], notes[v] = r.load_boot(str(d), ["plain"], SPLAT)
    for v, cases in (("stock", rerun_stock), ("patched", rerun_patched)):
        if cases is not None:
            d = boot(tmp_path / f"rerun-{v}", {"plain": list(cases)})
            reruns[v], _ = r.load_boot(str(d), ["plain"], SPLAT)
    meta = {"variants": ["stock", "patched"], "sections": ["plain"], "test_args": list(tests),
            "source_name": "fstests.tar.gz"}
    # Through JSON, as ci.py reads it.
    return json.loads(json.dumps(r.summarize(["stock", "patched"], rounds, reruns, notes, meta)))


def test_all_passed_is_one_ok_line_per_test_and_variant(tmp_path):
    s = summary_of(tmp_path, [case("generic/029", seconds=30), case("generic/325", seconds=40)],
                   [case("generic/029", seconds=31), case("generic/325", seconds=41)])
    lines, ok = ci.judge(s, TESTS)
    assert ok
    assert lines == ["ok 1 generic/029 [stock] (30s)", "ok 2 generic/029 [patched] (31s)",
                     "ok 3 generic/325 [stock] (40s)", "ok 4 generic/325 [patched] (41s)"]


def test_a_regression_fails_on_patched_only(tmp_path):
    s = summary_of(tmp_path, [case("generic/029"), case("generic/325")],
                   [case("generic/029"), case("generic/325", "fail", 9, "- output mismatch")],
                   rerun_stock=[case("generic/325")],
                   rerun_patched=[case("generic/325", "fail", 9, "- output mismatch")])
    lines, ok = ci.judge(s, TESTS)
    assert not ok
    assert lines[2].startswith("ok 3 generic/325 [stock]")
    assert lines[3] == "not ok 4 generic/325 [patched] (fail: - output mismatch [regression])"


def test_a_flake_the_rerun_did_not_repeat_passes_and_says_so(tmp_path):
    s = summary_of(tmp_path, [case("generic/029"), case("generic/325")],
                   [case("generic/029", "fail", 5, "mismatch"), case("generic/325")],
                   rerun_stock=[case("generic/029", seconds=7)], rerun_patched=[case("generic/029", seconds=8)])
    lines, ok = ci.judge(s, TESTS)
    assert ok
    assert lines[1] == "ok 2 generic/029 [patched] (8s; flake: fail in the first round)"


def test_a_test_not_run_fails_with_fstests_reason(tmp_path):
    why = "This test requires a valid dm flakey target"
    s = summary_of(tmp_path, [case("generic/029"), case("generic/325", "notrun", 0, why)],
                   [case("generic/029"), case("generic/325", "notrun", 0, why)])
    lines, ok = ci.judge(s, TESTS)
    assert not ok
    assert lines[2:] == [f"not ok 3 generic/325 [stock] (not run: {why})",
                         f"not ok 4 generic/325 [patched] (not run: {why})"]


def test_failing_on_both_variants_fails_both_lines(tmp_path):
    s = summary_of(tmp_path, [case("generic/029", "fail", 5, "mismatch"), case("generic/325")],
                   [case("generic/029", "fail", 5, "mismatch"), case("generic/325")])
    lines, ok = ci.judge(s, TESTS)
    assert not ok
    assert [ln.split(" (")[0] for ln in lines[:2]] == ["not ok 1 generic/029 [stock]", "not ok 2 generic/029 [patched]"]


def test_a_test_without_a_result_fails(tmp_path):
    s = summary_of(tmp_path, [case("generic/029")], [case("generic/029")])
    lines, ok = ci.judge(s, TESTS)
    assert not ok and lines[2] == "not ok 3 generic/325 [stock] (no result)"


def test_results_dir_is_read_from_clis_last_line():
    out = "ok 1 x\n[fstests] results: results/fstests-20261205-120000/ (summary.txt, summary.json)\n"
    assert ci.results_dir(out) == "results/fstests-20261205-120000"
    assert ci.results_dir("[fstests] error: no fstests source\n") is None


def fake_cli(tmp_path, rc, summary):
    """A stand-in for `python3 -m fstests.cli`: writes summary.json, prints cli's results line."""
    res = tmp_path / "results" / "fstests-1"
    res.mkdir(parents=True)
    (res / "summary.json").write_text(json.dumps(summary))
    script = tmp_path / "fake-cli"
    script.write_text(f"#!/bin/sh\necho 'ok 1 generic/029 [stock plain] (3s)'\n"
                      f"echo '[fstests] results: results/fstests-1/ (summary.txt, summary.json)' >&2\nexit {rc}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize("rc,expect", [(0, 0), (4, 1), (3, 1)])
def test_main_exit_follows_the_lines_and_clis_status(tmp_path, monkeypatch, capsys, rc, expect):
    s = summary_of(tmp_path / "boots", [case("generic/029")], [case("generic/029")], tests=("generic/029",))
    monkeypatch.setattr(ci, "PY", fake_cli(tmp_path, rc, s))
    monkeypatch.setattr(ci, "TOP", str(tmp_path))
    assert ci.main(["generic/029"]) == expect
    out = capsys.readouterr().out
    # cli's own progress lines are comments, not checks that run-all.sh would count.
    assert "# ok 1 generic/029 [stock plain] (3s)" in out
    assert "ok 1 generic/029 [stock] (" in out and "ok 2 generic/029 [patched] (" in out
    last = out.splitlines()[-1]
    assert last == (f"not ok 3 fstests CI subset (./wbtrace fstests exit {rc})" if rc else
                    "# results: results/fstests-1/ (./wbtrace fstests exit 0)")


def test_main_without_a_summary_fails(tmp_path, monkeypatch, capsys):
    script = tmp_path / "fake-cli"
    script.write_text("#!/bin/sh\necho '[fstests] error: no fstests source' >&2\nexit 3\n")
    script.chmod(0o755)
    monkeypatch.setattr(ci, "PY", str(script))
    monkeypatch.setattr(ci, "TOP", str(tmp_path))
    assert ci.main(["generic/029"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "not ok 1 fstests CI subset (exit 3, no summary.json)"


def test_the_subset_names_real_tests():
    assert ci.CI_TESTS and all(re.match(r"^[a-z0-9]+/[0-9]{3}$", t) for t in ci.CI_TESTS)
    assert len(set(ci.CI_TESTS)) == len(ci.CI_TESTS)
    assert os.path.basename(ci.TOP) and os.path.exists(os.path.join(ci.TOP, "tests", "run-all.sh"))
