"""The warm-up rep (issue 14): in the guest, before the first measured rep of a boot, one
rep that is not kept, so the first measured rep does not pay for cold caches.  The rep
itself is replaced by a stub that records what it was given."""
import argparse
import os

import pytest

import wbrun
from runner import compare, errors, guest, jobfile, run


@pytest.fixture
def reps(monkeypatch):
    seen = []

    def fake_run_local(args, wl, target, variant, context, rep_no=None):
        seen.append({"output": args.output, "size": args.size, "reps": args.reps,
                     "quiet": args.quiet, "variant": variant, "rep_no": rep_no,
                     "context": dict(context), "existed": os.path.isdir(args.output)})
        return errors.EXIT_OK
    monkeypatch.setattr(run, "run_local", fake_run_local)
    monkeypatch.setattr(compare, "run_local", fake_run_local)
    return seen


def test_warm_up_is_a_full_quiet_rep_that_leaves_nothing(reps, capsys):
    wl = jobfile.resolve_workload("fio-randwrite")
    args = wbrun.build_parser().parse_args(["run", "fio-randwrite", "--reps", "3"])
    run.warm_up(args, wl, "stock", {"share_marker": True, "accel": "tcg"})
    (w,) = reps
    assert w["size"] == wl.default_size, "the measured size: a smaller one left rep 1 apart"
    assert w["reps"] == 1 and w["quiet"] and w["variant"] == "stock"
    assert w["existed"] and w["output"].startswith("/tmp/wbtrace-warmup-")
    assert not os.path.exists(w["output"]), "the warm-up rep's results are not kept"
    assert "share_marker" not in w["context"] and w["context"]["accel"] == "tcg"
    assert "warm-up rep" in capsys.readouterr().out
    assert args.output is None and args.reps == 3, "the caller's options are not changed"


def test_a_failed_warm_up_is_said_and_the_reps_go_on(reps, monkeypatch, capsys):
    monkeypatch.setattr(run, "run_local", lambda *a, **k: errors.EXIT_FAIL)
    wl = jobfile.resolve_workload("fio-randwrite")
    args = wbrun.build_parser().parse_args(["run", "fio-randwrite", "--reps", "3"])
    run.warm_up(args, wl, "stock", {})
    assert "warm-up rep failed (exit 1)" in capsys.readouterr().out


def test_compare_in_the_guest_warms_up_with_the_first_variant(reps, monkeypatch, tmp_path):
    loaded = {"v": "patched"}
    monkeypatch.setattr(guest, "loaded_guest_variant", lambda: loaded["v"])
    monkeypatch.setattr(guest, "swap_guest_module", lambda v: loaded.update(v=v))
    monkeypatch.setattr(guest, "label_loaded", lambda v: None)
    monkeypatch.setattr(guest, "require_shared", lambda top: None)
    wl = jobfile.resolve_workload("fio-randwrite")
    plan = [["stock", 1, str(tmp_path / "s1")], ["patched", 1, str(tmp_path / "p1")]]
    args = argparse.Namespace(**vars(wbrun.build_parser().parse_args(
        ["compare", "fio-randwrite", "--reps", "1", "-o", str(tmp_path),
         "--_context", "{}", "--_plan", __import__("json").dumps(plan)])))
    assert compare.compare_in_guest(args, wl) == errors.EXIT_OK
    assert [(r["variant"], r["rep_no"]) for r in reps] == \
        [("stock", 1), ("stock", 1), ("patched", 1)]
    assert reps[0]["output"].startswith("/tmp/wbtrace-warmup-")
    assert reps[1]["output"] == str(tmp_path / "s1")


def test_warm_up_takes_the_runs_size(reps):
    wl = jobfile.resolve_workload("fio-randwrite")
    args = wbrun.build_parser().parse_args(["run", "fio-randwrite", "--reps", "2",
                                            "--size", "8M"])
    run.warm_up(args, wl, "stock", {})
    assert reps[0]["size"] == 8 << 20
