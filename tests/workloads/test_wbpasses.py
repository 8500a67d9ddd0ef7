"""wbpasses: the demo's check that background and integrity writeback passes happened."""
import json
import os
import sys

import pytest

import wbpasses
from analysis import schema

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "analysis"))
import synth  # noqa: E402  (valid synthetic result dirs)


def passes(background=3, fsync=1, budget=2, prio=0, given=1024, complete=True):
    none = background
    return {"total": none + fsync, "by_sync": {"none": none, "all": fsync},
            "by_why": {"background": background, "kupdate": 0, "sync": 0, "fsync": fsync,
                       "other": 0},
            "by_end": {"range_end": none + fsync - budget - prio, "budget": budget,
                       "priority_stop": prio, "error": 0} if complete else None,
            "none_nr_given": {"min": given if none else None, "max": given if none else None,
                              "sum": given * none},
            "none_nr_used_sum": 0 if complete else None, "complete": complete,
            "end_inferred": 0 if complete else None}


def make_cmp(tmp_path, per_variant):
    """A valid comparison dir (synth.make_cmp) whose reps carry the given "passes"."""
    reps = len(per_variant["stock"])
    top = synth.make_cmp(str(tmp_path / "cmp"), reps=reps)
    for variant, reps_passes in per_variant.items():
        for i, p in enumerate(reps_passes, 1):
            path = os.path.join(schema.rep_dir(top, variant, i), schema.SUMMARY_FILE)
            with open(path) as f:
                summary = json.load(f)
            summary.pop("passes", None)
            if p is not None:
                summary["passes"] = p
            with open(path, "w") as f:
                json.dump(summary, f)
    return top


def test_both_variants_with_background_and_fsync_pass(tmp_path, capsys):
    d = make_cmp(tmp_path, {"stock": [passes(), passes(prio=1)],
                            "patched": [passes(background=0, budget=0), passes(background=2)]})
    assert wbpasses.main([d]) == 0
    out = capsys.readouterr().out
    assert "priority stop" in out and "writeback check:" in out
    r = wbpasses.check(d)
    assert r["stock"]["totals"]["why"]["background"] == 6
    assert r["stock"]["totals"]["end"]["priority_stop"] == 1
    assert r["patched"]["totals"]["why"]["background"] == 2


def test_a_variant_without_background_pass_fails_and_says_which(tmp_path, capsys):
    d = make_cmp(tmp_path, {"stock": [passes()], "patched": [passes(background=0, budget=0)]})
    assert wbpasses.main([d]) == 1
    err = capsys.readouterr().err
    assert "patched" in err and "no background" in err and "stock:" not in err


def test_no_integrity_pass_fails(tmp_path, capsys):
    d = make_cmp(tmp_path, {"stock": [passes(fsync=0)], "patched": [passes()]})
    assert wbpasses.main([d]) == 1
    assert "no integrity" in capsys.readouterr().err


def test_background_without_budget_fails(tmp_path):
    d = make_cmp(tmp_path, {"stock": [passes(given=0)], "patched": [passes()]})
    r = wbpasses.check(d)
    assert r["stock"]["problems"] and not r["patched"]["problems"]


@pytest.mark.parametrize("bad", [None, passes(complete=False)])
def test_missing_or_incomplete_records_cannot_be_checked(tmp_path, capsys, bad):
    d = make_cmp(tmp_path, {"stock": [passes()], "patched": [bad]})
    assert wbpasses.main([d]) == 2
    assert "summary.json" in capsys.readouterr().err


def test_not_a_comparison_dir(tmp_path, capsys):
    assert wbpasses.main([str(tmp_path)]) == 2
    assert "not a comparison dir" in capsys.readouterr().err


def test_json_output(tmp_path):
    d = make_cmp(tmp_path, {"stock": [passes()], "patched": [passes()]})
    out = os.path.join(str(tmp_path), "passes.json")
    assert wbpasses.main([d, "--json", out]) == 0
    with open(out) as f:
        j = json.load(f)
    assert j["variants"]["patched"]["problems"] == []
