"""workloads/gate_proof.py: the exact intervals (known values), a trial gated from
synthetic reps (A/A split and stock vs canary), the tally on synthetic verdicts; the
trials' conditions (recorded, measured, derived for session 11's records from meta.json or
from git), the archive (idempotent, never overwriting, only the lanes named) and the
tally's refusal to pool trials of different conditions."""
import hashlib
import json
import os
import random
import shutil
import subprocess
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


SHA = {c: c * 64 for c in "abcdef"}
COND = {"workload": "fio-randwrite", "reps": 3, "icount": "shift=3,align=off",
        "scratch": "ram", "vcpus": 1, "canary_patches": {"0001-canary.patch": SHA["a"]},
        "thresholds_sha256": SHA["b"], "git": "1" * 40, "git_dirty": False,
        "derived": False, "sources": {}}


def _record(top, name, kind, status, regressions=(), rc=0, started=None, **cond):
    d = top / name
    d.mkdir()
    rec = gate_proof.trial_record(kind, rc, None if status is None else {
        "status": status, "reasons": ["x"] if status == "cannot judge" else [],
        "baseline": {"runs": ["a"] * 3}, "candidate": {"runs": ["b"] * 3},
        "checks": [{"metric": m, "status": "regression", "decision": "regression",
                    "delta_pct": 5.0, "ci_pct": [3.0, 7.0]} for m in regressions]},
        conditions={**COND, **cond})
    (d / gate_proof.TRIAL_FILE).write_text(json.dumps(rec))
    if started:
        (d / "conditions.txt").write_text(f"started: {started}\ngit: 1111111\n")
    return d


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


# ----------------------------------------------------------------------------- conditions

ICOUNT = "shift=3,align=off"
MEASURED = {"host": {"icount": ICOUNT, "cpus": 1}, "f2fs": {"device_kind": "ram"},
            "git": {"revision": "2" * 40, "dirty": False},
            "kernel": {"f2fs_module_sha256": SHA["d"]}}


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _aa_run_measured(top, meta=MEASURED, reps=6, odd=None):
    """A `run --reps 6` dir whose meta.json records the deterministic mode's conditions;
    `odd`: other meta.json fields for rep 1 only."""
    for rep in range(1, reps + 1):
        extra = {k: dict(v) for k, v in meta.items()}
        if odd and rep == 1:
            for k, v in odd.items():
                extra[k] = {**extra.get(k, {}), **v}
        synth.make_run(os.path.join(top, f"rep-{rep:02d}"), workload="fio-randwrite",
                       variant="stock", rep=rep, rng=random.Random(rep), clat_ns=FIXED_CLAT,
                       guest_cpu_ms_per_mib=200.0 + rep * 0.1, meta_extra=extra)


def test_parse_sums():
    text = f"{SHA['c']}  0002-b.patch\n{SHA['d']} *0001-a.patch\n\n"
    assert gate_proof.parse_sums(text) == {"0001-a.patch": SHA["d"], "0002-b.patch": SHA["c"]}
    with pytest.raises(ValueError):
        gate_proof.parse_sums("deadbeef  x.patch")


def test_trial_records_its_conditions(tmp_path):
    """What gate-proof.sh passes and what the reps' meta.json recorded; the thresholds
    file it was gated with, hashed."""
    trial = tmp_path / "aa-01"
    _aa_run_measured(str(trial / "run"))
    sums = f"{SHA['c']}  0001-canary.patch\n"
    assert gate_proof.main(["trial", "--kind", "aa", "--dir", str(trial), "--rc", "0",
                            "--workload", "fio-randwrite", "--reps", "3", "--icount", ICOUNT,
                            "--canary-sha256", sums]) == 0
    rec = json.loads((trial / gate_proof.TRIAL_FILE).read_text())
    c = rec["conditions"]
    assert rec["schema"] == "wbtrace.gate-proof-trial/2"
    with open(os.path.join(TOP, "analysis", "thresholds.json"), "rb") as f:
        thr = _sha(f.read())
    assert {k: c[k] for k in gate_proof.POOLED_ON["canary"]} == {
        "workload": "fio-randwrite", "reps": 3, "icount": ICOUNT, "scratch": "ram",
        "vcpus": 1, "thresholds_sha256": thr, "canary_patches": {"0001-canary.patch": SHA["c"]}}
    assert c["git"] == "2" * 40 and c["git_dirty"] is False and c["derived"] is False
    assert c["f2fs_module_sha256"] == {"stock": SHA["d"]}
    assert "meta.json host.icount" in c["sources"]["icount"]


def test_trial_without_the_scripts_conditions_derives_them(tmp_path):
    """A gate-proof.sh of session 11 passes nothing: the canary patches are the work tree's
    when gated, reps those the gate judged, and the record says it was derived."""
    trial = tmp_path / "aa-01"
    _aa_run_measured(str(trial / "run"))
    assert gate_proof.main(["trial", "--kind", "aa", "--dir", str(trial), "--rc", "0"]) == 0
    c = json.loads((trial / gate_proof.TRIAL_FILE).read_text())["conditions"]
    assert c["derived"] is True and c["reps"] == 3 and c["icount"] == ICOUNT
    assert c["canary_patches"] == gate_proof.canary_patches_now()
    assert c["canary_patches"], "tests/canary/*.patch: none found"
    assert "when the trial was gated" in c["sources"]["canary_patches"]


def test_measured_conditions_win_over_what_was_asked(tmp_path):
    trial = tmp_path / "aa-01"
    _aa_run_measured(str(trial / "run"), meta={**MEASURED, "host": {"icount": "shift=auto",
                                                                    "cpus": 2}})
    c = gate_proof.trial_conditions(str(trial), "aa", {"reps": [3, 3]}, {"icount": ICOUNT})
    assert c["icount"] == "shift=auto" and c["vcpus"] == 2
    assert "asked for 'shift=3,align=off'" in c["sources"]["icount"]


def test_reps_that_disagree_on_a_condition_are_an_error(tmp_path):
    trial = tmp_path / "aa-01"
    _aa_run_measured(str(trial / "run"), odd={"f2fs": {"device_kind": "virtio_blk"}})
    with pytest.raises(gate_proof.ConditionsError, match="disagree on scratch"):
        gate_proof.measured(str(trial))


# ----------------------------------------------------------------------------- the archive

def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A repository with two commits whose canary patch and thresholds differ."""
    r = tmp_path / "repo"
    (r / "tests" / "canary").mkdir(parents=True)
    (r / "analysis").mkdir()
    _git(r, "init", "-q")
    commits = []
    for i, (patch, thr) in enumerate(((b"loop 2200\n", b'{"a": 1}\n'),
                                      (b"loop 9999\n", b'{"a": 2}\n'))):
        (r / "tests" / "canary" / "0001-canary.patch").write_bytes(patch)
        (r / "analysis" / "thresholds.json").write_bytes(thr)
        _git(r, "add", ".")
        _git(r, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", f"c{i}")
        commits.append(_git(r, "rev-parse", "HEAD"))
    return r, commits


def _legacy_trial(lane_dir, name, kind="aa", commit=None, run_meta=None, status="inconclusive"):
    """A session-11 trial: a /1 record (no conditions), conditions.txt with a short commit,
    gate.json, and run/ with meta.json when run_meta is given."""
    d = lane_dir / name
    d.mkdir(parents=True)
    rec = {"schema": gate_proof.TRIAL_SCHEMA_V1, "kind": kind, "run_rc": 0, "seconds": 300.0,
           "status": status, "regressions": [], "reps": [3, 3], "deltas": {}, "reason": None}
    (d / gate_proof.TRIAL_FILE).write_text(json.dumps(rec))
    (d / "gate.json").write_text('{"schema": "wbtrace.gate/1"}\n')
    (d / "conditions.txt").write_text(f"started: 2026-12-05T21:44:16Z\ngit: {commit[:7]}\n"
                                      "finished: 2026-12-05T21:51:06Z, 410 s, exit 0\n")
    if run_meta is not None:
        _aa_run_measured(str(d / "run"), meta=run_meta)
    return d


def test_archive_derives_legacy_conditions_from_git(tmp_path, repo):
    """No run/: workload, reps, icount from gate-proof.sh's defaults then, scratch and vCPUs
    the runner's under -icount, the canary patch and thresholds of the commit in
    conditions.txt (not the newer ones at HEAD), derived."""
    r, (c0, c1) = repo
    lane = tmp_path / "gate-proof-s11"
    _legacy_trial(lane, "aa-01", commit=c0)
    assert gate_proof.archive_trial(str(lane / "aa-01"), "s11", str(tmp_path / "pool"),
                                    top=str(r)) == ("archived", "s11-aa-01")
    rec = json.loads((tmp_path / "pool" / "s11-aa-01" / gate_proof.TRIAL_FILE).read_text())
    c = rec["conditions"]
    assert rec["schema"] == gate_proof.TRIAL_SCHEMA and rec["upgraded_from"].endswith("/1")
    assert rec["archived"] == {"lane": "s11", "trial": "aa-01"}
    assert (c["workload"], c["reps"], c["icount"], c["scratch"], c["vcpus"]) == \
        ("fio-randwrite", 3, ICOUNT, "ram", 1)
    assert c["canary_patches"] == {"0001-canary.patch": _sha(b"loop 2200\n")}
    assert c["thresholds_sha256"] == _sha(b'{"a": 1}\n')
    assert c["git"] == c0[:7] and c["git_dirty"] is None and c["derived"] is True
    assert "not recorded" in c["sources"]["canary_patches"]


def test_archive_derives_legacy_conditions_from_meta_json(tmp_path, repo):
    """With run/: what the reps' meta.json recorded (here a disk and 2 vCPUs, not the
    defaults), its full commit and dirty flag; run/ itself is not archived."""
    r, (c0, c1) = repo
    lane = tmp_path / "gate-proof-s11"
    meta = {"host": {"icount": ICOUNT, "cpus": 2}, "f2fs": {"device_kind": "virtio_blk"},
            "git": {"revision": c1, "dirty": True}}
    _legacy_trial(lane, "aa-02", commit=c1, run_meta=meta)
    gate_proof.archive_trial(str(lane / "aa-02"), "s11", str(tmp_path / "pool"), top=str(r))
    dest = tmp_path / "pool" / "s11-aa-02"
    assert sorted(os.listdir(dest)) == ["conditions.txt", "gate.json", "trial.json"]
    c = json.loads((dest / gate_proof.TRIAL_FILE).read_text())["conditions"]
    assert (c["scratch"], c["vcpus"], c["git"], c["git_dirty"]) == ("virtio_blk", 2, c1, True)
    assert c["canary_patches"] == {"0001-canary.patch": _sha(b"loop 9999\n")}
    assert "uncommitted changes" in c["sources"]["canary_patches"]
    assert (dest / "gate.json").read_bytes() == (lane / "aa-02" / "gate.json").read_bytes()


def test_archive_of_an_unknown_commit_is_refused(tmp_path, repo):
    r, _ = repo
    lane = tmp_path / "gate-proof-s11"
    _legacy_trial(lane, "aa-01", commit="abcdef0123456789")
    with pytest.raises(gate_proof.ConditionsError, match="not in this repository"):
        gate_proof.archive_trial(str(lane / "aa-01"), "s11", str(tmp_path / "pool"),
                                 top=str(r))
    assert not (tmp_path / "pool" / "s11-aa-01").exists()


def test_archive_is_idempotent_and_never_overwrites(tmp_path, capsys):
    lane = tmp_path / "gate-proof-s12a"
    lane.mkdir()
    _record(lane, "aa-01", "aa", "inconclusive", started="2026-12-06T01:01:20Z")
    _record(lane, "canary-01", "canary", "regression", ["fio.bw_MiBps"])
    (lane / "aa-02").mkdir()                       # still running: no trial.json
    (lane / "aa-01" / "run").mkdir()
    (lane / "aa-01" / "run" / "big.trace").write_text("x")
    pool = tmp_path / "pool"
    assert gate_proof.main(["archive", str(lane), "--to", str(pool)]) == 0
    out = capsys.readouterr().out
    assert "2 archived, 0 already there, 0 refused, 1 skipped" in out
    assert sorted(os.listdir(pool)) == ["s12a-aa-01", "s12a-canary-01"]
    assert not (pool / "s12a-aa-01" / "run").exists()
    first = {p: (pool / p / "trial.json").read_bytes() for p in os.listdir(pool)}
    assert gate_proof.main(["archive", str(lane), "--to", str(pool)]) == 0
    assert "0 archived, 2 already there" in capsys.readouterr().out
    assert first == {p: (pool / p / "trial.json").read_bytes() for p in os.listdir(pool)}
    # The same lane and trial name with a different verdict: refused, the record kept.
    rec = json.loads((lane / "aa-01" / "trial.json").read_text())
    rec["status"] = "pass"
    (lane / "aa-01" / "trial.json").write_text(json.dumps(rec))
    assert gate_proof.main(["archive", str(lane), "--to", str(pool)]) == 1
    err = capsys.readouterr().err
    assert "s12a-aa-01: refused" in err and "trial.json (status)" in err
    assert (pool / "s12a-aa-01" / "trial.json").read_bytes() == first["s12a-aa-01"]
    # A conditions.txt that differs byte for byte is refused too.
    rec["status"] = "inconclusive"
    (lane / "aa-01" / "trial.json").write_text(json.dumps(rec))
    (lane / "aa-01" / "conditions.txt").write_text("started: 2026-12-07T00:00:00Z\n")
    assert gate_proof.main(["archive", str(lane), "--to", str(pool)]) == 1
    assert "conditions.txt" in capsys.readouterr().err
    assert not [p for p in os.listdir(pool) if p.startswith(".")]


def test_archive_takes_only_the_lanes_named(tmp_path, capsys):
    """results/ holds other lanes (a different canary, an interrupted run): only the named
    ones go into the archive; the archive itself is not a lane."""
    res = tmp_path / "results"
    for lane in ("gate-proof-s11", "gate-proof-s11-canary1300", "gate-proof-s11-interrupted"):
        (res / lane).mkdir(parents=True)
        _record(res / lane, "canary-01", "canary", "regression", ["fio.bw_MiBps"])
    pool = res / "gate-proof"
    assert gate_proof.main(["archive", str(res / "gate-proof-s11"), "--to", str(pool)]) == 0
    assert os.listdir(pool) == ["s11-canary-01"]
    assert gate_proof.main(["archive", str(pool), "--to", str(pool)]) == 2
    assert "is the archive itself" in capsys.readouterr().err
    assert gate_proof.main(["archive", str(res / "nope"), "--to", str(pool)]) == 2
    assert os.listdir(pool) == ["s11-canary-01"]


def test_lane_name():
    assert gate_proof.lane_name("results/gate-proof-s11b/") == "s11b"
    assert gate_proof.lane_name("/x/gate-proof-20261206T010120Z") == "20261206T010120Z"
    assert gate_proof.lane_name("/x/my-lane") == "my-lane"


# ----------------------------------------------------------------------------- pooling

def test_tally_refuses_to_pool_canary_trials_of_different_canaries(tmp_path, capsys):
    _record(tmp_path, "s11-canary-01", "canary", "regression", ["fio.bw_MiBps"])
    _record(tmp_path, "s11-canary-02", "canary", "regression", ["fio.bw_MiBps"])
    _record(tmp_path, "s12-canary-01", "canary", "regression", ["fio.bw_MiBps"],
            canary_patches={"0001-canary.patch": SHA["f"]})
    assert gate_proof.main(["tally", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "canary trials differ in canary_patches" in err
    assert "ffffffffffff in s12-canary-01" in err
    assert "aaaaaaaaaaaa in s11-canary-01, s11-canary-02" in err


def test_tally_pools_aa_trials_whatever_the_canary_or_the_commit(tmp_path, capsys):
    _record(tmp_path, "s11-aa-01", "aa", "inconclusive")
    _record(tmp_path, "s12-aa-01", "aa", "inconclusive", git="3" * 40,
            canary_patches={"0001-canary.patch": SHA["f"]})
    _record(tmp_path, "s12-canary-01", "canary", "regression", ["fio.bw_MiBps"], git="3" * 40)
    assert gate_proof.main(["tally", str(tmp_path)]) == 0
    assert "| stock vs stock: false regressions | 2 |" in capsys.readouterr().out


@pytest.mark.parametrize("field,value", [("reps", 5), ("icount", "shift=auto"),
                                         ("scratch", "virtio_blk"), ("vcpus", 2),
                                         ("workload", "fio-seqwrite"),
                                         ("thresholds_sha256", SHA["e"])])
def test_tally_refuses_to_pool_aa_trials_of_other_conditions(tmp_path, capsys, field, value):
    _record(tmp_path, "s11-aa-01", "aa", "inconclusive")
    _record(tmp_path, "s12-aa-01", "aa", "inconclusive", **{field: value})
    assert gate_proof.main(["tally", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"aa trials differ in {field}:" in err and "s12-aa-01" in err


def test_tally_says_where_the_trials_come_from(tmp_path, capsys):
    pool = tmp_path / "pool"
    pool.mkdir()
    for lane, start in (("s11", "2026-12-05T21:44:16Z"), ("s11b", "2026-12-05T23:17:34Z")):
        src = tmp_path / f"gate-proof-{lane}"
        src.mkdir()
        _record(src, "aa-01", "aa", "inconclusive", started=start)
        assert gate_proof.main(["archive", str(src), "--to", str(pool)]) == 0
    capsys.readouterr()
    js = tmp_path / "t.json"
    assert gate_proof.main(["tally", str(pool), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 trials (2 aa) from 2 lanes: s11 (1, started 2026-12-05 21:44 "
                          "UTC); s11b (1, started 2026-12-05 23:17 UTC).")
    doc = json.loads(js.read_text())
    assert doc["schema"] == "wbtrace.gate-proof/2"
    assert doc["provenance"]["kinds"]["aa"]["conditions"]["icount"] == ICOUNT


def test_tally_reads_legacy_records(tmp_path, repo):
    """A lane of session 11 (/1 records) is tallied with its conditions derived."""
    r, (c0, c1) = repo
    lane = tmp_path / "gate-proof-s11"
    _legacy_trial(lane, "aa-01", commit=c0)
    _legacy_trial(lane, "aa-02", commit=c1)
    trials = gate_proof.load_trials(str(lane), repo=str(r))
    assert [t["conditions"]["thresholds_sha256"] for t in trials] == \
        [_sha(b'{"a": 1}\n'), _sha(b'{"a": 2}\n')]
    # thresholds changed between the commits: these two cannot be pooled.
    assert [(k, f) for k, f, _ in gate_proof.pooling_conflicts(trials)] == \
        [("aa", "thresholds_sha256")]


# ----------------------------------------------------------------------------- regate

def _bw_only(path, limit):
    with open(path, "w") as f:
        json.dump({"schema": "wbtrace.thresholds/1", "alpha": 0.05, "min_reps": 3,
                   "max_drops": 0, "verify": [],
                   "metrics": {"sys.cpu_ms_per_MiB": {"max_regression_pct": limit}}}, f)
    return str(path)


def test_regate_gates_the_kept_run_again_and_says_what_it_was(tmp_path, capsys):
    """The same run, a limit of 0.1 % (finer than the A/A's interval: inconclusive) and then
    5 % (pass): the record takes the new verdict and the new file's hash, keeps the run's
    conditions, and remembers the first verdict through any number of regates."""
    trial = tmp_path / "aa-01"
    _aa_run_measured(str(trial / "run"))
    tight, loose = _bw_only(tmp_path / "tight.json", 0.1), _bw_only(tmp_path / "loose.json", 5)
    assert gate_proof.main(["trial", "--kind", "aa", "--dir", str(trial), "--rc", "0",
                            "--seconds", "250", "--thresholds", tight, "--reps", "3"]) == 0
    first = json.loads((trial / gate_proof.TRIAL_FILE).read_text())
    assert first["status"] == "inconclusive"
    for _ in range(2):
        assert gate_proof.main(["regate", str(trial), "--thresholds", loose]) == 0
    rec = json.loads((trial / gate_proof.TRIAL_FILE).read_text())
    assert rec["status"] == "pass" and rec["seconds"] == 250
    with open(loose, "rb") as f:
        assert rec["conditions"]["thresholds_sha256"] == _sha(f.read())
    assert "gated again" in rec["conditions"]["sources"]["thresholds_sha256"]
    keep = ("workload", "reps", "icount", "scratch", "vcpus", "git", "f2fs_module_sha256")
    assert {k: rec["conditions"][k] for k in keep} == {k: first["conditions"][k] for k in keep}
    with open(tight, "rb") as f:
        assert rec["regated"]["first"] == {"status": "inconclusive", "regressions": [],
                                           "thresholds_sha256": _sha(f.read())}
    assert json.loads((trial / "gate.json").read_text())["status"] == "pass"
    assert "pass; was inconclusive" in capsys.readouterr().out


def test_regate_needs_the_run(tmp_path, capsys):
    trial = tmp_path / "aa-01"
    _aa_run_measured(str(trial / "run"))
    assert gate_proof.main(["trial", "--kind", "aa", "--dir", str(trial), "--rc", "0"]) == 0
    before = (trial / gate_proof.TRIAL_FILE).read_text()
    shutil.rmtree(trial / "run")
    assert gate_proof.main(["regate", str(trial)]) == 1
    assert "no run/" in capsys.readouterr().err
    assert (trial / gate_proof.TRIAL_FILE).read_text() == before


def test_a_failed_run_stays_without_a_verdict_when_regated(tmp_path):
    trial = tmp_path / "aa-01"
    _aa_run_measured(str(trial / "run"))
    assert gate_proof.main(["trial", "--kind", "aa", "--dir", str(trial), "--rc", "1"]) == 0
    assert gate_proof.main(["regate", str(trial)]) == 0
    rec = json.loads((trial / gate_proof.TRIAL_FILE).read_text())
    assert rec["status"] is None and rec["run_rc"] == 1 and "exit 1" in rec["reason"]
