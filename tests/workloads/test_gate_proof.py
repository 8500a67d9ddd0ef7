"""workloads/gate_proof.py: the exact intervals (known values), a trial gated from
synthetic reps (A/A split and stock vs canary), and the tally on synthetic verdicts."""
import json
import os
import random
import sys

import pytest

from analysis import schema

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "workloads"))
sys.path.insert(0, os.path.join(TOP, "tests", "analysis"))
import gate_proof  # noqa: E402
import synth  # noqa: E402

FIXED_CLAT = [20000 + 37 * i for i in range(400)]


@pytest.mark.parametrize("k,n,lo,hi", [
    # scipy.stats.beta.ppf(0.025, k, n-k+1), beta.ppf(0.975, k+1, n-k)
    (1, 20, 0.0012650894979498038, 0.24873276277202777),
    (3, 7, 0.09898827844250786, 0.8159484323599169),
    (19, 20, 0.7512672372279722, 0.9987349105020502),
    (0, 10, 0.0, 0.3084971078187608),
    (10, 10, 0.6915028921812392, 1.0),
])
def test_clopper_pearson_known_values(k, n, lo, hi):
    got = gate_proof.clopper_pearson(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-9)


def test_wilson_known_value():
    # 1 of 20: p̂ 0.05, z 1.959964: centre (0.05 + z²/40) / (1 + z²/20) = 0.122507, half
    # width z·sqrt(0.05·0.95/20 + z²/1600) / (1 + z²/20) = 0.113625
    assert gate_proof.wilson(1, 20) == pytest.approx((0.008882, 0.236132), abs=2e-6)


def test_runs_to_show_the_targets():
    # 0 false calls in n: upper end 1 - 0.025^(1/n) <= 5 % needs n >= 72;
    # n detections in n: lower end 0.025^(1/n) >= 90 % needs n >= 36.
    assert gate_proof.runs_to_show(0.05, upper=True) == 72
    assert gate_proof.runs_to_show(0.90, upper=False) == 36
    assert gate_proof.clopper_pearson(0, 72)[1] <= 0.05 < gate_proof.clopper_pearson(0, 71)[1]
    assert gate_proof.clopper_pearson(36, 36)[0] >= 0.9 > gate_proof.clopper_pearson(35, 35)[0]


def _record(top, name, kind, status, regressions=(), rc=0):
    d = top / name
    d.mkdir()
    rec = gate_proof.trial_record(kind, rc, None if status is None else {
        "status": status, "reasons": ["x"] if status == "cannot judge" else [],
        "baseline": {"runs": ["a"] * 3}, "candidate": {"runs": ["b"] * 3},
        "checks": [{"metric": m, "status": "regression", "decision": "regression",
                    "delta_pct": 5.0, "ci_pct": [3.0, 7.0]} for m in regressions]})
    (d / gate_proof.TRIAL_FILE).write_text(json.dumps(rec))


def test_tally_on_synthetic_verdicts(tmp_path, capsys):
    """A/A: 18 pass, 1 regression, 1 inconclusive, 1 cannot judge, 1 failed run: the rate
    is 1 of the 20 with a verdict, [0.13 %, 24.9 %], not shown (72 needed).  Canary: 9
    regressions and 1 inconclusive: 9/10, [55.5 %, 99.7 %], not shown."""
    i = 0
    for status, count in (("pass", 18), ("regression", 1), ("inconclusive", 1),
                          ("cannot judge", 1), (None, 1)):
        for _ in range(count):
            i += 1
            _record(tmp_path, f"aa-{i:02d}", "aa", status,
                    ["fio.bw_MiBps"] if status == "regression" else (),
                    rc=1 if status is None else 0)
    for j in range(10):
        _record(tmp_path, f"canary-{j + 1:02d}", "canary",
                "inconclusive" if j == 4 else "regression",
                () if j == 4 else ["sys.cpu_ms_per_MiB"])
    js = tmp_path / "tally.json"
    assert gate_proof.main(["tally", str(tmp_path), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    res = json.loads(js.read_text())["tally"]
    aa, ca = res["aa"], res["canary"]
    assert aa["trials"] == 22 and (aa["k"], aa["n"]) == (1, 20)
    assert aa["counts"] == {"pass": 18, "regression": 1, "inconclusive": 1,
                            "cannot judge": 1, "failed": 1}
    assert aa["clopper_pearson"] == pytest.approx([0.0012650894979498038,
                                                   0.24873276277202777], abs=1e-9)
    assert not aa["shown"] and aa["runs_to_show"] == 72
    assert (ca["k"], ca["n"]) == (9, 10) and ca["rate"] == 0.9 and not ca["shown"]
    assert ca["clopper_pearson"][0] == pytest.approx(0.5549839, abs=1e-6)
    assert "| stock vs stock: false regressions | 22 | 18 | 1 | 1 | 1 | 1 | 1/20 = 5 % |" in out
    assert "| stock vs canary: detections | 10 | 0 | 9 | 1 | 0 | 0 | 9/10 = 90 % |" in out
    assert "no (needs ≥ 72 trials even with no false call)" in out


def test_tally_shows_a_rate_only_with_enough_trials(tmp_path, capsys):
    for j in range(36):
        _record(tmp_path, f"canary-{j + 1:02d}", "canary", "regression",
                ["sys.cpu_ms_per_MiB"])
    assert gate_proof.main(["tally", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| 36/36 = 100 % | 90 % – 100 % | ≥ 90 % | yes |" in out


def test_tally_without_trials_is_an_error(tmp_path, capsys):
    assert gate_proof.main(["tally", str(tmp_path)]) == 2
    assert "no trial.json" in capsys.readouterr().err


def _aa_run(top, cpu):
    """One `run --reps 6` dir of stock: rep N's guest CPU per MiB is cpu[N-1]."""
    for rep, v in enumerate(cpu, 1):
        synth.make_run(os.path.join(top, f"rep-{rep:02d}"), workload="fio-randwrite",
                       variant="stock", rep=rep, rng=random.Random(rep), clat_ns=FIXED_CLAT,
                       guest_cpu_ms_per_mib=v, bw_mibps=100.0 + (rep % 3) * 0.1)


def test_aa_trial_splits_odd_and_even_reps(tmp_path, capsys):
    trial = tmp_path / "aa-01"
    _aa_run(str(trial / "run"), [200.0, 200.5, 199.5, 200.2, 199.8, 200.1])
    assert gate_proof.main(["trial", "--kind", "aa", "--dir", str(trial), "--rc", "0",
                            "--seconds", "250"]) == 0
    doc = json.loads((trial / "gate.json").read_text())
    assert [r.rsplit("-", 1)[1] for r in doc["baseline"]["runs"]] == ["r01", "r03", "r05"]
    assert [r.rsplit("-", 1)[1] for r in doc["candidate"]["runs"]] == ["r02", "r04", "r06"]
    rec = json.loads((trial / gate_proof.TRIAL_FILE).read_text())
    assert rec["kind"] == "aa" and rec["status"] == doc["status"] and rec["reps"] == [3, 3]
    assert rec["status"] != "regression" and rec["seconds"] == 250
    assert "sys.cpu_ms_per_MiB" in rec["deltas"]
    assert "gate-proof: aa aa-01:" in capsys.readouterr().out


def test_canary_trial_is_gated_as_a_comparison(tmp_path):
    """Stock vs canary with guest CPU per MiB 5 % up (0.3 % noise): a regression on it."""
    trial = tmp_path / "canary-01"
    top = str(trial / "run")
    cmp = schema.new_cmp(workload="fio-randwrite", baseline="stock", candidate="canary",
                         reps=3, cmp_id="cmp-canary")
    rng = random.Random(7)
    for variant, cpu in (("stock", 278.0), ("canary", 278.0 * 1.05)):
        for rep in (1, 2, 3):
            synth.make_run(schema.rep_dir(top, variant, rep), workload="fio-randwrite",
                           variant=variant, rep=rep, rng=random.Random(rep),
                           clat_ns=FIXED_CLAT, guest_cpu_ms_per_mib=cpu * rng.gauss(1, 0.003))
    schema.write_cmp(top, cmp)
    assert gate_proof.main(["trial", "--kind", "canary", "--dir", str(trial), "--rc", "0"]) == 0
    rec = json.loads((trial / gate_proof.TRIAL_FILE).read_text())
    assert rec["status"] == "regression" and "sys.cpu_ms_per_MiB" in rec["regressions"], rec
    assert 4.0 < rec["deltas"]["sys.cpu_ms_per_MiB"]["delta_pct"] < 6.0


def test_a_failed_run_has_no_verdict(tmp_path):
    trial = tmp_path / "canary-02"
    trial.mkdir()
    assert gate_proof.main(["trial", "--kind", "canary", "--dir", str(trial), "--rc", "1"]) == 0
    rec = json.loads((trial / gate_proof.TRIAL_FILE).read_text())
    assert rec["status"] is None and "exit 1" in rec["reason"]
