"""`bench --until-decided N`: the bench's thresholds (alpha split over its workloads), the
verdict per workload from real until-decided loops over synthetic reps (runner/
until_decided.py, gated for real), the bench's verdict and exit status, and the command
line (bench-series.sh) without a boot."""
import json
import os
import subprocess
import sys

import pytest

from analysis import gate, schema
from runner import bench, compare, until_decided
from runner import paths

sys.path.insert(0, os.path.join(paths.TOP, "tests", "analysis"))
import synth  # noqa: E402
from rep_series import NOISY, STEADY, write_bw_only_thresholds  # noqa: E402

WBTRACE = os.path.join(paths.TOP, "wbtrace")
ENV = dict(os.environ, WBTRACE_GUEST="")


@pytest.fixture
def bw_only(tmp_path):
    return write_bw_only_thresholds(str(tmp_path / "bw-only.json"))


def _bench_thresholds(tmp_path, n, base):
    out = str(tmp_path / f"bench-{n}.json")
    assert bench.main(["thresholds", out, "--workloads", str(n), "--base", base]) == 0
    return out


def test_thresholds_split_alpha_over_the_workloads(tmp_path, bw_only):
    six = _bench_thresholds(tmp_path, 6, bw_only)
    thr = gate.load_thresholds(six)            # what the gate reads: a valid file
    assert thr["alpha"] == pytest.approx(0.05 / 6)
    assert thr["metrics"] == gate.load_thresholds(bw_only)["metrics"]
    assert "alpha 0.05 / 6" in json.load(open(six))["_doc"]
    default = bench.bench_thresholds(3)
    assert default["alpha"] == pytest.approx(0.05 / 3)
    assert set(default["metrics"]) == set(gate.load_thresholds()["metrics"])
    assert bench.main(["thresholds", str(tmp_path / "x"), "--workloads", "0"]) == 2


def _cmp(top, bws, reps=5):
    cmp = schema.new_cmp(workload="fio-randwrite", reps=reps, cmp_id="cmp-x")
    for v, vals in (("stock", bws[0]), ("patched", bws[1])):
        for r, bw in enumerate(vals[:reps], 1):
            synth.make_run(schema.rep_dir(top, v, r), workload="fio-randwrite", variant=v,
                           rep=r, bw_mibps=bw)
    schema.write_cmp(top, cmp)
    return top


def test_the_split_alpha_is_what_the_gate_uses(tmp_path, bw_only):
    """Known answer: bandwidth -12 %, p = 0.024.  Alone (alpha 0.05) a regression; in a
    bench of three workloads (alpha 0.05 / 3 = 0.0167) not shown: inconclusive."""
    base = [100.0, 110.0, 90.0, 105.0, 95.0]
    cand = [0.88 * b for b in (95.0, 108.0, 92.0, 100.0, 104.0)]
    top = _cmp(str(tmp_path / "c"), (base, cand))
    alone = gate.gate_results([top], bw_only)
    assert 0.05 / 3 < alone["checks"][0]["p"] < 0.05
    assert alone["status"] == "regression"
    assert gate.gate_results([top], _bench_thresholds(tmp_path, 3, bw_only))["status"] == \
        "inconclusive"


class Workload:
    """One workload's comparison in a bench: the requested reps, then the real
    until-decided loop over synthetic reps (the guest's part), then the host's final gate
    (gate.json), as `compare WORKLOAD --until-decided N --thresholds F` leaves it."""

    def __init__(self, top, name, bws, fail=()):
        self.top, self.name, self.bws, self.fail, self.ran = top, name, bws, set(fail), []

    def run_rep(self, variant, rep, run_dir):
        self.ran.append((variant, rep))
        bad = (variant, rep) in self.fail
        synth.make_run(run_dir, workload=self.name, variant=variant, rep=rep,
                       bw_mibps=self.bws[variant][rep - 1],
                       verify={"fsck": "fail"} if bad else None)
        return not bad

    def compare(self, reps, max_reps, thresholds):
        cmp = schema.new_cmp(workload=self.name, reps=reps, cmp_id=f"cmp-{self.name}")
        schema.write_cmp(self.top, cmp)
        failed = sum(not self.run_rep(v, r, schema.rep_dir(self.top, v, r))
                     for v, r in schema.run_order(cmp, 1, reps))
        rec = until_decided.until_decided(self.top, max_reps, self.run_rep, lambda _: None,
                                          failed=failed, thresholds=thresholds)
        rc = compare.until_decided_verdict(self.top, thresholds=thresholds)
        return rec, rc


def test_bench_verdicts_from_real_loops(tmp_path, bw_only, capsys):
    thr = _bench_thresholds(tmp_path, 3, bw_only)
    same = Workload(str(tmp_path / "fio-seqwrite"), "fio-seqwrite",
                    {"stock": STEADY, "patched": STEADY})
    slower = Workload(str(tmp_path / "fio-randwrite"), "fio-randwrite",
                      {"stock": STEADY, "patched": [0.7 * b for b in STEADY]})
    broken = Workload(str(tmp_path / "fio-fsync"), "fio-fsync",
                      {"stock": NOISY, "patched": NOISY}, fail={("patched", 4)})
    rec_same, rc_same = same.compare(3, 12, thr)
    rec_slow, rc_slow = slower.compare(3, 12, thr)
    rec_broken, _ = broken.compare(3, 8, thr)
    assert rec_same["status"] == "pass" and rec_same["added_reps"] > 0 and rc_same == 0
    assert rec_slow["status"] == "regression" and rec_slow["added_reps"] == 0 and rc_slow == 1
    assert rec_broken["stopped"] == until_decided.STOP_REP_FAILED
    capsys.readouterr()
    js = str(tmp_path / "verdicts.json")
    rc = bench.main(["verdicts", same.top, slower.top, broken.top, "--json", js])
    out = capsys.readouterr().out
    doc = json.load(open(js))
    by = {v["workload"]: v for v in doc["workloads"]}
    assert by["fio-seqwrite"]["status"] == "pass"
    assert by["fio-seqwrite"]["reps"] == rec_same["reps"]
    assert by["fio-seqwrite"]["added_reps"] == rec_same["added_reps"]
    assert by["fio-randwrite"]["status"] == "regression"
    assert by["fio-randwrite"]["regressions"] == ["fio.bw_MiBps"]
    assert by["fio-fsync"]["status"] == "failed" and "1 rep(s) failed" in by["fio-fsync"]["why"]
    assert doc["status"] == "failed" and rc == 1
    assert "| fio-randwrite | regression (fio.bw_MiBps) | 3 | 0 | decided |" in out
    assert "bench verdict: failed" in out
    # Without the failed one the regression decides; without both, the pass.
    assert bench.main(["verdicts", same.top, slower.top]) == 1
    assert "bench verdict: regression" in capsys.readouterr().out
    assert bench.main(["verdicts", same.top]) == 0
    assert "bench verdict: pass" in capsys.readouterr().out


def test_inconclusive_at_n_is_exit_2(tmp_path, bw_only, capsys):
    thr = _bench_thresholds(tmp_path, 2, bw_only)
    w = Workload(str(tmp_path / "fio-mmap"), "fio-mmap",
                 {"stock": NOISY, "patched": NOISY[::-1]})
    rec, rc = w.compare(3, 5, thr)
    assert rec["status"] == "inconclusive" and rec["stopped"] == gate.STOP_MAX_REPS
    assert rc == 2
    assert bench.main(["verdicts", w.top]) == 2
    assert "| fio-mmap | inconclusive | 5 | 2 | max_reps |" in capsys.readouterr().out


def test_a_comparison_that_never_looked_is_failed(tmp_path, capsys):
    top = synth.make_cmp(str(tmp_path / "c"), reps=3)     # no until_decided record
    assert bench.main(["verdicts", top, str(tmp_path / "missing")]) == 1
    out = capsys.readouterr().out
    assert "did not record its until-decided loop" in out and "no comparison" in out


def test_bench_dry_run_passes_until_decided_and_the_bench_thresholds(tmp_path):
    out = tmp_path / "b"
    p = subprocess.run([WBTRACE, "bench", "--until-decided", "8", "--icount",
                        "shift=3,align=off", "--dry-run", "-o", str(out), "fio-randwrite",
                        "fio-seqwrite"], capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    for w, ln in zip(("fio-randwrite", "fio-seqwrite"), lines):
        assert ln == (f"wbtrace compare {w} --reps 5 --until-decided 8 --thresholds "
                      f"{out}/thresholds.json --icount shift=3,align=off -o {out}/{w}"), ln
    assert "alpha / 2" in lines[2]
    assert not out.exists()
