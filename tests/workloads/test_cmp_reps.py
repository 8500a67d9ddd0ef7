"""tests/workloads/cmp_reps.py: the reps of a comparison dir in run order, each held to the
module it traced."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cmp_reps  # noqa: E402

IDS = {"stock": "aa11", "patched": "bb22"}


def add_rep(cmp_dir, where, variant, started, build_id, verify=None):
    rep = cmp_dir / where
    (rep / "trace").mkdir(parents=True)
    (rep / "meta.json").write_text(json.dumps(
        {"variant": variant, "started": started,
         "verify": verify or {"fio_verify": "pass", "fsck": "pass"}}))
    (rep / "trace" / "summary.json").write_text(json.dumps({"module_build_id": build_id}))


def test_reps_by_start_time(tmp_path):
    add_rep(tmp_path, "stock/rep-01", "stock", "2026-01-01T00:00:01Z", "aa11")
    add_rep(tmp_path, "patched/rep-01", "patched", "2026-01-01T00:00:02Z", "bb22")
    add_rep(tmp_path, "patched/rep-02", "patched", "2026-01-01T00:00:03Z", "bb22")
    add_rep(tmp_path, "stock/rep-02", "stock", "2026-01-01T00:00:04Z", "aa11")
    assert cmp_reps.reps_in_order(str(tmp_path), IDS) == ["stock", "patched", "patched", "stock"]


@pytest.mark.parametrize("where, variant, build_id, verify, why", [
    ("stock/rep-01", "patched", "bb22", None, "meta says patched"),
    ("stock/rep-01", "stock", "bb22", None, "labelled stock but traced module bb22"),
    ("stock/rep-01", "stock", "aa11", {"fsck": "fail"}, "'fsck': 'fail'"),
])
def test_a_bad_rep_is_named(tmp_path, where, variant, build_id, verify, why):
    add_rep(tmp_path, where, variant, "2026-01-01T00:00:01Z", build_id, verify)
    with pytest.raises(ValueError, match=why):
        cmp_reps.reps_in_order(str(tmp_path), IDS)


def test_no_reps_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no reps"):
        cmp_reps.reps_in_order(str(tmp_path), IDS)


def test_usage_and_help(capsys):
    assert cmp_reps.main(["cmp_reps.py"]) == 2
    assert cmp_reps.main(["cmp_reps.py", "--help"]) == 0
    assert "CMP_DIR" in capsys.readouterr().out
