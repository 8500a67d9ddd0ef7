"""Issue 15, item 2: log-linear histograms (the Python twin of bpf/wbtrace.h's layout, the
same table as the loader's C test), percentiles with their stated resolution, the summary's
hist_loglin and metrics_by_key, and a gate that accepts a 5 % p99 limit on them while still
refusing it on log2 data."""

import json
import math
import os
import random
import re

import pytest

import synth
from analysis import metrics, schema, stats
from analysis.cli import main
from analysis.schema import Group, ResultsError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLE = os.path.join(ROOT, "tests", "loader", "loglin_buckets.tsv")


def _table():
    rows = []
    with open(TABLE) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            v, b, lo, hi = (int(x) for x in line.split())
            rows.append((v, b, lo, hi))
    return rows


def test_layout_matches_the_shared_table():
    rows = _table()
    assert len(rows) >= 40
    for v, b, lo, hi in rows:
        assert stats.loglin_bucket(v) == b, v
        assert stats.loglin_bounds(b) == (lo, hi), b


def test_layout_constant_is_the_tracers():
    with open(os.path.join(ROOT, "bpf", "wbtrace.h")) as f:
        m = re.search(r"#define WB_LL_SUB_BITS\s+(\d+)", f.read())
    assert m and int(m.group(1)) == stats.LL_SUB_BITS
    assert stats.loglin_nbuckets() == 1920


def test_buckets_tile_the_range_within_the_resolution():
    prev_hi = -1
    for i in range(stats.loglin_nbuckets()):
        lo, hi = stats.loglin_bounds(i)
        assert lo == prev_hi + 1 and hi >= lo
        assert (hi - lo) * 32 <= max(lo, 1)          # width <= lo / 2^5
        prev_hi = hi
    assert prev_hi == 2 ** 64 - 1
    assert math.expm1(stats.loglin_resolution()) == pytest.approx(1 / 32)


def test_known_p99():
    # 1..10000: exact p99 = 9900 (rank 9900); its bucket [9728, 9983] (e = 13, width 256)
    hl = stats.hist_loglin(range(1, 10001))
    assert stats.hist_loglin_percentile(hl, 99) == 9983
    assert stats.hist_loglin_percentile(hl, 50) == 5119       # 5000 in [4992, 5119]
    assert stats.hist_loglin_percentile(hl, 99.9) == 10239    # 9990 in [9984, 10239]
    assert stats.hist_loglin_percentile(hl, 99, "interp") == pytest.approx(9728 + 255 * 173 / 256)
    assert stats.hist_loglin_percentile({"sub_bits": 5, "buckets": []}, 99) is None
    # the log2 view is the log2 histogram of the same values
    assert stats.loglin_to_log2(hl) == stats.hist_log2(range(1, 10001))


def test_upper_bound_within_resolution_of_exact():
    rng = random.Random(15)
    for _ in range(20):
        vs = sorted(int(rng.lognormvariate(rng.uniform(3, 20), rng.uniform(0.1, 2)))
                    for _ in range(rng.randint(1, 3000)))
        hl = stats.hist_loglin(vs)
        for q in (50, 90, 99, 99.9):
            exact = stats.exact_percentile(vs, q)
            up = stats.hist_loglin_percentile(hl, q)
            assert exact <= up <= max(exact * (1 + 1 / 32), exact + 0), (q, exact, up)


def _hist_dist(values):
    d = stats.dist_from_values(values)
    d["pct_method"] = "hist_loglin_upper"
    for k, q in schema.LOGLIN_PCTS:
        d[k] = stats.hist_loglin_percentile(d["hist_loglin"], q)
    return d


def test_schema_accepts_and_checks_hist_loglin():
    d = _hist_dist(range(1, 10001))
    assert d["p99"] == 9983
    schema.validate_dist(d, "s.json", "folio_latency_ns")
    schema.validate_dist(stats.dist_from_values([]), "s.json", "x")
    old = stats.dist_from_values([5, 6, 7])
    del old["hist_loglin"]                                     # an older loader's {DIST}
    schema.validate_dist(old, "s.json", "x")
    for mutate, says in (
            (lambda d: d.update(p99=9900), "p99 = 9900 but its hist_loglin gives 9983"),
            (lambda d: d["hist_loglin"]["buckets"][0].__setitem__(1, 2), "sum(hist_loglin)"),
            (lambda d: d["hist_loglin"]["buckets"].reverse(), "increasing"),
            (lambda d: d["hist_loglin"].update(sub_bits=0), "sub_bits"),
            (lambda d: d["hist_log2"].__setitem__(3, d["hist_log2"][3] + 1), "sum(hist_log2)"),
            (lambda d: d.pop("hist_loglin"), "without hist_loglin")):
        bad = json.loads(json.dumps(d))
        mutate(bad)
        with pytest.raises(ResultsError, match=re.escape(says)):
            schema.validate_dist(bad, "s.json", "folio_latency_ns")
    # a bucket of the wrong log2 slot
    bad = json.loads(json.dumps(d))
    bad["hist_log2"][12], bad["hist_log2"][13] = bad["hist_log2"][12] + 1, bad["hist_log2"][13] - 1
    with pytest.raises(ResultsError, match="log2 view"):
        schema.validate_dist(bad, "s.json", "folio_latency_ns")


def test_schema_metrics_by_key():
    assert schema.key_names() == {"sync": ("none", "all", "na"), "io": ("ipu", "opu", "na"),
                                  "compr": ("plain", "compr")}
    a, b = list(range(1, 91)), list(range(1000, 1010))
    s = synth.summary_doc(random.Random(1), folio=a + b)
    s["metrics_by_key"] = {"folio_latency_ns": {"none/opu/plain": stats.dist_from_values(a),
                                                "all/ipu/compr": stats.dist_from_values(b)}}
    schema.validate_summary(s)
    bad = json.loads(json.dumps(s))
    bad["metrics_by_key"]["folio_latency_ns"]["none/opu/plain"] = stats.dist_from_values(a[1:])
    with pytest.raises(ResultsError, match="keys' counts sum to 99 but"):
        schema.validate_summary(bad)
    bad = json.loads(json.dumps(s))
    bad["metrics_by_key"]["folio_latency_ns"]["some/opu/plain"] = \
        bad["metrics_by_key"]["folio_latency_ns"].pop("none/opu/plain")
    with pytest.raises(ResultsError, match="is not sync/io/compr"):
        schema.validate_summary(bad)


def _group(tmp_path, name, variant, folio, pct_method, reps=3, by_key=False):
    runs = []
    for i in range(1, reps + 1):
        d = str(tmp_path / name / f"rep-{i:02d}")
        synth.make_run(d, variant=variant, rep=i, pct_method=pct_method, folio=folio,
                       meta_extra={"run_id": f"{name}-{variant}-r{i:02d}"})
        if by_key:
            p = os.path.join(d, "trace", "summary.json")
            with open(p) as f:
                s = json.load(f)
            s["metrics_by_key"] = {"folio_latency_ns": {
                "none/opu/plain": s["metrics"]["folio_latency_ns"]}}
            with open(p, "w") as f:
                json.dump(s, f)
        runs.append(schema.load_run(d))
    return Group(label=variant, runs=runs, source=str(tmp_path / name))


def _gate(tmp_path, a, b, metric, limit):
    thr = tmp_path / "thr.json"
    thr.write_text(json.dumps({"schema": "wbtrace.thresholds/1", "metrics": {
        metric: {"max_regression_pct": limit}}}))
    out = tmp_path / "g.json"
    rc = main(["gate", a.source, b.source, "--thresholds", str(thr), "--json", str(out)])
    return rc, json.loads(out.read_text())


def test_resolution_and_a_5pct_p99_gate(tmp_path, capsys):
    # log-linear percentiles: 3.125 %, so a 5 % limit is accepted and decides
    a = _group(tmp_path, "a", "stock", [4000] * 500, "hist_loglin_upper", by_key=True)
    b = _group(tmp_path, "b", "patched", [4400] * 500, "hist_loglin_upper", by_key=True)
    res = metrics.run_resolutions(a.runs[0])
    assert res["trace.folio_latency_p99_ns"] == ("log", pytest.approx(math.log1p(1 / 32)))
    key = "trace.folio_latency_p99_ns[none/opu/plain]"
    assert res[key] == ("log", pytest.approx(math.log1p(1 / 32)))
    assert metrics.run_metrics(a.runs[0])[key] == 4031          # 4000 in [3968, 4031]
    assert metrics.metric_info(key).direction == -1
    for metric in ("trace.folio_latency_p99_ns", key):
        rc, doc = _gate(tmp_path, a, b, metric, 5)
        (c,) = doc["checks"]
        assert not any("finer than" in r for r in doc.get("reasons", [])), doc.get("reasons")
        assert c["decision"] == "regression", c               # 4479 / 4031: +11 %
        assert c["delta_pct"] == pytest.approx(100 * (4479 / 4031 - 1))
        assert rc == 1
    # the same data read from log2 slots (an older result set): 100 %, the limit is refused
    a2 = _group(tmp_path, "a2", "stock", [4000] * 500, "hist_log2_upper")
    b2 = _group(tmp_path, "b2", "patched", [4400] * 500, "hist_log2_upper")
    assert metrics.run_resolutions(a2.runs[0])["trace.folio_latency_p99_ns"] == \
        ("log", pytest.approx(math.log(2)))
    rc, doc = _gate(tmp_path, a2, b2, "trace.folio_latency_p99_ns", 5)
    assert rc == 2 and any("finer than its resolution of 100 %" in r for r in doc["reasons"])


def test_report_cdf_from_loglin_steps_at_bucket_bounds():
    """The report's latency CDF, when no events were kept, reads the 3 % buckets: its steps
    sit at each bucket's end and reach 1; a group with one run lacking them (an older set)
    falls back to log2 for the whole group, never a mix."""
    from analysis import report

    vs = list(range(1000, 5000, 7))
    hl = stats.hist_loglin(vs)
    xs, ys = report._cdf_from_loglin(hl)
    assert len(xs) == len(hl["buckets"]) and ys[-1] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(xs, xs[1:])) and all(a < b for a, b in zip(ys, ys[1:]))
    for (b, c), x in zip(hl["buckets"], xs):
        assert x == stats.loglin_bounds(b)[1] + 1
    # the fraction at each step is the exact fraction of values below that step
    for x, y in zip(xs, ys):
        assert y == pytest.approx(sum(v < x for v in vs) / len(vs))

    class R:
        def __init__(self, hl):
            d = {"count": sum(c for _, c in hl["buckets"]), "hist_log2": stats.loglin_to_log2(hl)}
            if hl.get("keep", True):
                d["hist_loglin"] = {"sub_bits": hl["sub_bits"], "buckets": hl["buckets"]}
            self.summary = {"metrics": {"folio_latency_ns": d}}

    two = [stats.hist_loglin(vs[:100]), stats.hist_loglin(vs[100:])]
    merged = report._group_loglin(type("G", (), {"runs": [R(h) for h in two]})(), "folio_latency_ns")
    assert merged == stats.hist_loglin(vs)
    old = dict(two[1], keep=False)
    assert report._group_loglin(type("G", (), {"runs": [R(two[0]), R(old)]})(),
                                "folio_latency_ns") is None
