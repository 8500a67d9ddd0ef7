"""Issue 14, statistics that stay sane: log-scale intervals, variance floored at the
measurement's resolution, Holm, outlier and drift flags; known answers."""

import json
import math
import os

import pytest

import synth
from analysis import compare, schema, stats
from analysis.cli import main
from analysis.schema import Group


def _group(tmp_path, name, variant, kws, pct_method="exact"):
    runs = []
    for i, kw in enumerate(kws, 1):
        d = str(tmp_path / name / f"rep-{i:02d}")
        synth.make_run(d, variant=variant, rep=i, pct_method=pct_method,
                       meta_extra={"run_id": f"{name}-{variant}-r{i:02d}"}, **kw)
        runs.append(schema.load_run(d))
    return Group(label=variant, runs=runs, source=str(tmp_path / name))


def _row(doc, metric):
    (r,) = [r for r in doc["rows"] if r["metric"] == metric]
    return r


# ----------------------------------------------------------------------------- stats kit

def test_holm_known_values():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, max(2*0.03, .), max(1*0.04, 0.06)
    assert stats.holm([0.01, 0.04, 0.03, 0.005, None]) == \
        [pytest.approx(0.03), pytest.approx(0.06), pytest.approx(0.06), pytest.approx(0.02), None]
    assert stats.holm([0.5, 0.9]) == [pytest.approx(1.0), pytest.approx(1.0)]


def test_floored_welch_constant_data():
    same = stats.welch_floored([5.0] * 3, [5.0] * 3, qa=0.1, qb=0.1)
    assert same["p"] == 1.0 and same["ci_hi"] - same["ci_lo"] > 0.2   # never zero width
    # constant and one step apart: the difference is within rounding, not significant
    step = stats.welch_floored([5.0] * 3, [5.1] * 3, qa=0.1, qb=0.1)
    assert step["p"] == 1.0 and step["ci_lo"] < 0 < step["ci_hi"]
    # far apart: significant, but the interval still has the rounding in it
    far = stats.welch_floored([5.0] * 3, [7.0] * 3, qa=0.1, qb=0.1)
    assert far["p"] < 1e-4 and far["ci_lo"] < 1.9 and far["ci_hi"] > 2.1
    # the old test gave p = 0 and a zero-width interval for the constant case
    assert stats.welch([5.0] * 3, [7.0] * 3)["p"] == 0.0


def test_mad_outliers_and_trend():
    assert stats.mad_outliers([100, 101, 99, 100, 60]) == [4]
    assert stats.mad_outliers([100, 101, 99, 100, 98]) == []
    assert stats.mad_outliers([5, 5, 5, 5, 5.001], floor=0.01) == []  # rounding, not outlier
    assert stats.mad_outliers([100, 101, 60]) == []                    # 3 reps: no verdict
    assert stats.mad_outliers([100, 101, 100, 101, 100]) == []         # MAD 0: mean abs dev
    assert stats.mad_outliers([100, 100, 100, 100, 130]) == [4]
    # calibration: normal samples get a false flag in about 1 % of sides
    import random
    rng = random.Random(7)
    flagged = sum(bool(stats.mad_outliers([rng.gauss(0, 1) for _ in range(n)]))
                  for n in (5, 6, 8, 12, 25) for _ in range(400))
    assert flagged <= 0.025 * 2000, flagged
    tr = stats.trend([100, 97, 94, 91.5, 88, 85])
    assert tr["slope"] < 0 and tr["p"] < 0.001
    assert stats.trend([100, 96, 103, 98, 101, 97])["p"] > 0.3
    assert stats.trend([1, 2, 3]) is None                              # too few points


# ----------------------------------------------------------------------------- compare

def test_bucket_crossing_is_not_a_doubling(tmp_path):
    # Every folio at 4000 ns (slot [2048, 4095]) against every folio at 4200 ns (slot
    # [4096, 8191]): the log2 upper-bound p99 doubles, the true latency grew 5 %.
    a = _group(tmp_path, "a", "stock", [{"folio": [4000] * 500}] * 3, "hist_log2_upper")
    b = _group(tmp_path, "b", "patched", [{"folio": [4200] * 500}] * 3, "hist_log2_upper")
    r = _row(compare.compare_groups(a, b), "trace.folio_latency_p99_ns")
    assert r["delta_pct"] == pytest.approx(100.02, abs=0.01)
    assert not r["significant"] and r["p"] > 0.99 and r["verdict"] == "same"
    assert r["ci_pct"][0] < 0 < r["ci_pct"][1]
    # exact percentiles of the same data: the 5 % is real and resolved
    a = _group(tmp_path, "c", "stock", [{"folio": [4000] * 500}] * 3)
    b = _group(tmp_path, "d", "patched", [{"folio": [4200] * 500}] * 3)
    r = _row(compare.compare_groups(a, b), "trace.folio_latency_p99_ns")
    assert r["significant"] and r["delta_pct"] == pytest.approx(5.0)
    assert 4.9 < r["ci_pct"][0] < 5.0 < r["ci_pct"][1] < 5.1


def test_bucket_crossing_through_the_gate_is_not_a_regression(tmp_path, capsys):
    a = _group(tmp_path, "a", "stock", [{"folio": [4000] * 500}] * 3, "hist_log2_upper")
    b = _group(tmp_path, "b", "patched", [{"folio": [4200] * 500}] * 3, "hist_log2_upper")
    thr = tmp_path / "thr.json"
    thr.write_text(json.dumps({"schema": "wbtrace.thresholds/1", "metrics": {
        "trace.folio_latency_p99_ns": {"max_regression_pct": 100}}}))
    rc = main(["gate", a.source, b.source, "--thresholds", str(thr), "--json",
               str(tmp_path / "g.json")])
    doc = json.loads((tmp_path / "g.json").read_text())
    (c,) = doc["checks"]
    assert rc == 2 and c["decision"] == "inconclusive", c
    assert c["reps_needed"] is None            # a x2 bucket cannot decide a x2 limit


def test_positive_metric_interval_stays_above_minus_100(tmp_path):
    a = _group(tmp_path, "a", "stock", [{"bw_mibps": v} for v in (10, 100, 1000)])
    b = _group(tmp_path, "b", "patched", [{"bw_mibps": v} for v in (1, 2, 3)])
    doc = compare.compare_groups(a, b)
    for r in doc["rows"]:
        if r["ci_pct"] and r["test"]["scale"] == "log":
            assert r["ci_pct"][0] > -100 and math.isfinite(r["ci_pct"][1]), r["metric"]
    bw = _row(doc, "fio.bw_MiBps")
    assert -100 < bw["ci_pct"][0] < bw["delta_pct"] < bw["ci_pct"][1]


def test_zero_variance_identical_data(tmp_path):
    kw = [{"bw_mibps": 100, "clat_ns": [20000] * 50, "sys_ms_per_mib": 2.0}] * 3
    a = _group(tmp_path, "a", "stock", kw)
    b = _group(tmp_path, "b", "patched", kw)
    doc = compare.compare_groups(a, b)
    for name in ("fio.bw_MiBps", "fio.clat_p99_us", "trace.compress_ratio"):
        r = _row(doc, name)
        assert r["p"] == 1.0 and r["ci_pct"][1] - r["ci_pct"][0] > 0, name
        assert r["verdict"] == "same"


def test_outlier_and_drift_flags_in_table_and_json(tmp_path, capsys):
    a = _group(tmp_path, "a", "stock", [{"bw_mibps": v} for v in (100, 101, 99, 100, 60)])
    b = _group(tmp_path, "b", "patched",
               [{"bw_mibps": v} for v in (100, 97, 94, 91.5, 88, 85)])
    js = str(tmp_path / "c.json")
    assert main(["compare", a.source, b.source, "--json", js]) == 0
    out = capsys.readouterr().out
    doc = json.load(open(js))
    bw = _row(doc, "fio.bw_MiBps")
    assert "outlier A rep 5" in bw["flags"]
    assert any(f.startswith("drift B (down") for f in bw["flags"]), bw["flags"]
    line = [ln for ln in out.splitlines() if ln.startswith("fio.bw_MiBps")][0]
    assert line.rstrip().endswith("outlier A5, drift B down")
    # quiet, flat data: no flags anywhere
    c = _group(tmp_path, "c", "stock", [{"bw_mibps": 100 + (i % 2)} for i in range(5)])
    d = _group(tmp_path, "d", "patched", [{"bw_mibps": 100 - (i % 2)} for i in range(5)])
    assert _row(compare.compare_groups(c, d), "fio.bw_MiBps")["flags"] == []


def test_compare_rows_carry_holm(tmp_path):
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=4, seed=5, cand={"bw_mibps": 90})
    doc = compare.compare_groups(*schema.resolve_pair([cmp]))
    judged = [r for r in doc["rows"] if r["p"] is not None and r["direction"] != 0]
    assert judged and all(r["p_holm"] >= r["p"] for r in judged)
    assert stats.holm([r["p"] for r in judged]) == [r["p_holm"] for r in judged]
    assert all(r["p_holm"] is None for r in doc["rows"] if r["direction"] == 0)


def test_resolution_of_percentiles(tmp_path):
    from analysis import metrics
    d = str(tmp_path / "h")
    synth.make_run(d, pct_method="hist_log2_upper")
    res = metrics.run_resolutions(schema.load_run(d))
    assert res["trace.folio_latency_p99_ns"] == ("log", pytest.approx(math.log(2)))
    assert res["fio.clat_p99_us"] == ("log", pytest.approx(math.log1p(1 / 64)))
    assert res["trace.folio_latency_mean_ns"][0] == "abs"
    assert os.path.exists(os.path.join(d, "trace", "summary.json"))
