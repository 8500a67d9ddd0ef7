"""wbpasses: the demo's check that background and integrity writeback passes happened."""
import json
import os

import pytest

import wbpasses


def passes(background=3, fsync=1, budget=2, prio=0, given=1024, complete=True):
    none = background
    return {"total": none + fsync, "by_sync": {"none": none, "all": fsync},
            "by_why": {"background": background, "kupdate": 0, "sync": 0, "fsync": fsync,
                       "other": 0},
            "by_end": {"range_end": none + fsync - budget - prio, "budget": budget,
                       "priority_stop": prio, "error": 0},
            "none_nr_given": {"min": given if none else None, "max": given if none else None,
                              "sum": given * none},
            "none_nr_used_sum": 0, "complete": complete}


def make_cmp(tmp_path, per_variant):
    top = tmp_path / "cmp"
    runs = {}
    for variant, reps in per_variant.items():
        runs[variant] = []
        for i, p in enumerate(reps, 1):
            d = top / variant / f"rep-{i:02d}" / "trace"
            d.mkdir(parents=True)
            summary = {"schema": "wbtrace.trace/1"}
            if p is not None:
                summary["passes"] = p
            (d / "summary.json").write_text(json.dumps(summary))
            runs[variant].append(f"{variant}/rep-{i:02d}")
    (top / "cmp.json").write_text(json.dumps({"schema": "wbtrace.cmp/1", "runs": runs}))
    return str(top)


def test_both_variants_with_background_and_fsync_pass(tmp_path, capsys):
    d = make_cmp(tmp_path, {"stock": [passes(), passes(prio=1)],
                            "patched": [passes(background=0), passes(background=2)]})
    assert wbpasses.main([d]) == 0
    out = capsys.readouterr().out
    assert "priority stop" in out and "writeback check:" in out
    r = wbpasses.check(d)
    assert r["stock"]["totals"]["why"]["background"] == 6
    assert r["stock"]["totals"]["end"]["priority_stop"] == 1
    assert r["patched"]["totals"]["why"]["background"] == 2


def test_a_variant_without_background_pass_fails_and_says_which(tmp_path, capsys):
    d = make_cmp(tmp_path, {"stock": [passes()], "patched": [passes(background=0)]})
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
