"""`compare WORKLOAD --until-decided N`: the loop that adds interleaved reps while the gate
says inconclusive (runner/until_decided.py), driven on the host by synthetic reps
(synth.make_run) in place of the guest's, gated for real (analysis.gate)."""
import json
import os
import sys

import pytest

from analysis import gate, schema
from runner import compare, until_decided
from runner.errors import EXIT_FAIL

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "analysis"))
import synth  # noqa: E402  (valid synthetic result dirs)

from rep_series import NOISY, STEADY, write_bw_only_thresholds  # noqa: E402


@pytest.fixture
def bw_only(tmp_path):
    return write_bw_only_thresholds(str(tmp_path / "thresholds.json"))


class Session:
    """A comparison dir and the reps 'run' into it, in order (the guest's part)."""

    def __init__(self, top, bws, fail=()):
        self.top, self.bws, self.fail, self.ran = top, bws, set(fail), []

    def run_rep(self, variant, rep, run_dir):
        self.ran.append((variant, rep))
        bad = (variant, rep) in self.fail
        synth.make_run(run_dir, workload="fio-randwrite", variant=variant, rep=rep,
                       bw_mibps=self.bws[variant][rep - 1],
                       verify={"fsck": "fail"} if bad else None)
        return not bad

    def start(self, reps):
        """What compare_in_guest does first: cmp.json and the requested reps."""
        cmp = schema.new_cmp(workload="fio-randwrite", reps=reps, cmp_id="cmp-until")
        schema.write_cmp(self.top, cmp)
        return sum(not self.run_rep(v, r, schema.rep_dir(self.top, v, r))
                   for v, r in schema.run_order(cmp, 1, reps))

    def loop(self, reps, max_reps, thresholds):
        failed = self.start(reps)
        lines = []
        rec = until_decided.until_decided(self.top, max_reps, self.run_rep, lines.append,
                                          failed=failed, thresholds=thresholds)
        return rec, lines


def test_inconclusive_then_decided_by_added_reps(tmp_path, bw_only):
    s = Session(str(tmp_path / "cmp"), {"stock": STEADY, "patched": STEADY})
    rec, lines = s.loop(3, 12, bw_only)
    assert rec["status"] == "pass" and rec["stopped"] == gate.STOP_DECIDED
    assert rec["requested_reps"] == 3 and rec["reps"] > 3 and rec["reps"] < 12
    assert rec["added_reps"] == rec["reps"] - 3 and rec["failed_reps"] == 0
    assert rec["added_runs"] == 2 * rec["added_reps"]
    assert [lk["status"] for lk in rec["looks"]][0] == "inconclusive"
    assert rec["looks"][-1]["status"] == "pass"
    # One line per added round (with the verdict, the smallest detectable change and the
    # reps that would decide), then the line that says why it stopped.
    assert len(lines) == len(rec["looks"])
    for ln in lines[:-1]:
        assert "inconclusive" in ln and "smallest detectable change" in ln, ln
        assert "reps a side would decide" in ln and "-> adding reps" in ln, ln
    assert "stopped: decided: pass" in lines[-1]
    # cmp.json lists every rep and the record; the gate on the dir agrees with the loop.
    cmp = schema.load_cmp(s.top)
    assert cmp["reps"] == rec["reps"] and cmp["until_decided"] == rec
    assert len(cmp["runs"]["stock"]) == len(cmp["runs"]["patched"]) == rec["reps"]
    assert gate.gate_results([s.top], bw_only)["status"] == "pass"


def test_stops_at_n_still_inconclusive(tmp_path, bw_only):
    s = Session(str(tmp_path / "cmp"), {"stock": NOISY, "patched": NOISY[::-1]})
    rec, lines = s.loop(3, 5, bw_only)
    assert rec["status"] == "inconclusive" and rec["stopped"] == gate.STOP_MAX_REPS
    assert rec["reps"] == 5 and rec["added_reps"] == 2
    assert "still inconclusive at the 5 reps allowed" in rec["why"]
    assert len(s.ran) == 10
    assert "stopped: still inconclusive" in lines[-1] and "5 of at most 5" in lines[-1]


def test_too_few_reps_grow_to_a_verdict_interleaved(tmp_path, bw_only):
    # --reps 2 --until-decided 4: two reps cannot be judged, so the loop adds a third (and
    # a fourth if still inconclusive), continuing A B, B A by rep number.
    s = Session(str(tmp_path / "cmp"), {"stock": NOISY, "patched": NOISY})
    rec, _ = s.loop(2, 4, bw_only)
    assert rec["looks"][0]["status"] == "cannot judge" and rec["looks"][0]["added_to"] == 3
    assert rec["reps"] == 4 and rec["stopped"] == gate.STOP_MAX_REPS
    assert s.ran == [("stock", 1), ("patched", 1), ("patched", 2), ("stock", 2),
                     ("stock", 3), ("patched", 3), ("patched", 4), ("stock", 4)]


def test_a_rep_that_fails_verification_ends_the_loop(tmp_path, bw_only):
    s = Session(str(tmp_path / "cmp"), {"stock": NOISY, "patched": NOISY},
                fail={("patched", 4)})
    rec, lines = s.loop(3, 8, bw_only)
    assert rec["stopped"] == until_decided.STOP_REP_FAILED and rec["failed_reps"] == 1
    assert rec["status"] == "cannot judge"
    assert "verification FAILED: fsck" in lines[-1]
    # Rep 4 runs patched first (B A): nothing runs after it, and cmp.json lists what ran,
    # so the failed rep stays in the comparison as evidence.
    assert s.ran[-1] == ("patched", 4) and len(s.ran) == 7 and rec["added_runs"] == 1
    cmp = schema.load_cmp(s.top)
    assert cmp["runs"]["patched"][-1] == "patched/rep-04" and len(cmp["runs"]["stock"]) == 3
    assert cmp["reps"] == 4 and rec["reps"] == 3 and rec["added_reps"] == 0


def test_a_failed_first_rep_adds_nothing(tmp_path, bw_only):
    s = Session(str(tmp_path / "cmp"), {"stock": NOISY, "patched": NOISY},
                fail={("stock", 2)})
    rec, _ = s.loop(3, 8, bw_only)
    assert rec["stopped"] == until_decided.STOP_REP_FAILED and rec["added_reps"] == 0
    assert len(s.ran) == 6


def test_a_clear_verdict_adds_nothing(tmp_path, bw_only):
    s = Session(str(tmp_path / "cmp"), {"stock": STEADY, "patched": [b * 0.7 for b in STEADY]})
    rec, lines = s.loop(3, 10, bw_only)
    assert rec["status"] == "regression" and rec["stopped"] == gate.STOP_DECIDED
    assert rec["added_reps"] == 0 and len(s.ran) == 6 and len(lines) == 1
    assert "at 3 reps a side: regression: fio.bw_MiBps -30.0% (limit 5 %); stopped" in lines[0]


def test_n_equal_to_reps_only_gates(tmp_path, bw_only):
    s = Session(str(tmp_path / "cmp"), {"stock": NOISY, "patched": NOISY[::-1]})
    rec, _ = s.loop(3, 3, bw_only)
    assert rec["added_reps"] == 0 and rec["stopped"] == gate.STOP_MAX_REPS


def test_host_verdict_is_the_gates_exit_status(tmp_path, bw_only, capsys, monkeypatch):
    s = Session(str(tmp_path / "cmp"), {"stock": STEADY, "patched": [b * 0.7 for b in STEADY]})
    s.loop(3, 6, bw_only)
    # The host gates with the default thresholds: the synthetic trace metrics make that
    # some verdict; whatever it is, the exit status must be the gate's own.
    want = gate.gate_results([s.top])["exit_code"]
    assert compare.until_decided_verdict(s.top) == want
    out = capsys.readouterr().out
    assert "until decided: 3 rep(s) each" in out and f"gate exit {want}" in out
    assert json.load(open(os.path.join(s.top, "gate.json")))["exit_code"] == want


def test_host_without_the_guests_record_fails(tmp_path, capsys):
    top = synth.make_cmp(str(tmp_path / "cmp"), reps=3)
    assert compare.until_decided_verdict(top) == EXIT_FAIL
    assert "did not record the loop" in capsys.readouterr().err


def test_step_never_loops_without_new_reps():
    """until_decided_step at N with too few reps stops (it used to ask for N again)."""
    doc = {"status": "cannot judge", "reasons": ["too few reps: baseline has 2, need >= 3"],
           "baseline": {"runs": ["a", "b"]}, "candidate": {"runs": ["c", "d"]}, "checks": []}
    assert gate.until_decided_step(doc, 2)["stopped"] == gate.STOP_MAX_REPS
    assert gate.until_decided_step(doc, 5) == {"action": "add", "reps": 3,
                                               "why": "too few reps"}


def test_no_estimate_goes_straight_to_n():
    """A metric whose change sits at its limit has no estimate (reps_needed None): that
    change moves with more reps, so the loop asks for N, and stops only there."""
    check = {"status": "inconclusive", "reps_needed": None}
    doc = {"status": "inconclusive", "reasons": ["m: ..."], "checks": [check],
           "reps_to_decide": None, "baseline": {"runs": ["a", "b", "c"]},
           "candidate": {"runs": ["d", "e", "f"]}}
    assert gate.until_decided_step(doc, 8)["reps"] == 8
    at_n = gate.until_decided_step(doc, 3)
    assert at_n["stopped"] == gate.STOP_MAX_REPS and "no estimate" in at_n["why"]


def test_run_order_continues_the_interleaving():
    cmp = schema.new_cmp(workload="w", reps=3, cmp_id="c")
    added = schema.extend_cmp(cmp, 5)
    assert added == [("patched", 4), ("stock", 4), ("stock", 5), ("patched", 5)]
    assert cmp["reps"] == 5 and cmp["runs"]["stock"][-1] == "stock/rep-05"
    assert schema.run_order(cmp, 1, 2) == [("stock", 1), ("patched", 1), ("patched", 2),
                                           ("stock", 2)]
    assert schema.extend_cmp(cmp, 5) == []
