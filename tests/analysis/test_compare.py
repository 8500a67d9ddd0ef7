import json
import math
import os
import shutil
import subprocess

import pytest

import synth
from analysis import compare, metrics, schema, stats
from analysis.schema import Group, ResultsError


def _group(tmp_path, name, variant, per_rep):
    runs = []
    for i, kw in enumerate(per_rep, 1):
        d = synth.make_run(str(tmp_path / name / f"rep-{i:02d}"), variant=variant, rep=i, **kw)
        runs.append(schema.load_run(d))
    return Group(label=variant, runs=runs, source=name)


def _row(doc, name):
    (r,) = [r for r in doc["rows"] if r["metric"] == name]
    return r


def test_fio_metrics_exact(tmp_path):
    d = synth.make_run(str(tmp_path / "r"), bw_mibps=123.0, sys_ms_per_mib=3.5,
                       clat_ns=[1000] * 50 + [2000] * 49 + [9000])
    m = metrics.run_metrics(schema.load_run(d))
    assert m["fio.bw_MiBps"] == pytest.approx(123.0, rel=1e-6)
    assert m["fio.iops"] == pytest.approx(123.0 * 16)           # 64 KiB blocks
    assert m["fio.sys_cpu_ms_per_MiB"] == pytest.approx(3.5)
    assert m["fio.usr_cpu_ms_per_MiB"] == pytest.approx(0.5)
    assert m["fio.clat_p50_us"] == 1.0 and m["fio.clat_p99_us"] == 2.0
    assert m["fio.clat_p99.9_us"] == 9.0
    assert m["fio.clat_mean_us"] == pytest.approx((50 * 1000 + 49 * 2000 + 9000) / 100 / 1000)


def test_trace_metrics(tmp_path):
    d = synth.make_run(str(tmp_path / "r"), ratio=4.0, drops=3)
    r = schema.load_run(d)
    m = metrics.run_metrics(r)
    s = r.summary["metrics"]
    assert m["trace.folio_latency_p99_ns"] == s["folio_latency_ns"]["p99"]
    assert m["trace.bio_mean_bytes"] == s["bio_bytes"]["mean"]
    assert m["trace.compress_ratio"] == pytest.approx(4.0, rel=1e-3)
    assert m["trace.drops"] == 3
    assert metrics.mount_compress_config(r) == ("lz4", 4)


@pytest.mark.skipif(shutil.which("fio") is None, reason="fio not installed")
def test_real_fio_output(tmp_path):
    """Parse what fio 3.x really writes; our json+ bin percentiles must equal fio's own."""
    out = tmp_path / "fio.json"
    subprocess.run(["fio", "--name=w", "--rw=write", "--bs=16k", "--size=4M",
                    f"--filename={tmp_path / 'f'}", "--output-format=json+",
                    f"--output={out}"], check=True, capture_output=True, timeout=60)
    d = synth.make_run(str(tmp_path / "r"))
    shutil.copy(out, os.path.join(d, "fio.json"))
    r = schema.load_run(d)
    m = metrics.run_metrics(r)
    w = r.fio["jobs"][0]["write"]
    assert m["fio.bw_MiBps"] == pytest.approx(w["bw_bytes"] / 2 ** 20)
    assert m["fio.clat_p50_us"] == w["clat_ns"]["percentile"]["50.000000"] / 1000
    assert m["fio.clat_p99_us"] == w["clat_ns"]["percentile"]["99.000000"] / 1000
    assert w["io_bytes"] == 4 * 2 ** 20


def test_compare_known_answers(tmp_path):
    a = _group(tmp_path, "a", "stock",
               [dict(bw_mibps=b, sys_ms_per_mib=s) for b, s in ((100, 10), (200, 12), (400, 14))])
    b = _group(tmp_path, "b", "patched",
               [dict(bw_mibps=b, sys_ms_per_mib=s) for b, s in ((150, 15), (150, 17), (150, 19))])
    doc = compare.compare_groups(a, b)
    bw = _row(doc, "fio.bw_MiBps")
    hm_a = 3 / (1 / 100 + 1 / 200 + 1 / 400)
    assert bw["a"] == pytest.approx(hm_a, rel=1e-6)
    assert bw["b"] == pytest.approx(150, rel=1e-6)
    assert bw["delta_pct"] == pytest.approx((150 / hm_a - 1) * 100, rel=1e-5)
    sys_ = _row(doc, "fio.sys_cpu_ms_per_MiB")
    assert (sys_["a"], sys_["b"]) == (pytest.approx(12), pytest.approx(17))
    # Positive metrics are tested on the log scale (ratio of geometric means).
    la, lb = [math.log(x) for x in (10, 12, 14)], [math.log(x) for x in (15, 17, 19)]
    ma, mb = sum(la) / 3, sum(lb) / 3
    va = sum((x - ma) ** 2 for x in la) / 2
    vb = sum((x - mb) ** 2 for x in lb) / 2
    se = math.sqrt(va / 3 + vb / 3)
    df = (va / 3 + vb / 3) ** 2 / ((va / 3) ** 2 / 2 + (vb / 3) ** 2 / 2)
    q = sys_["test"]["w"]                    # rounding allowance: 1 ms of fio's runtime
    assert q == pytest.approx(math.log1p(1 / 640))       # 256 MiB at 400 MiB/s: 640 ms
    assert sys_["t"] == pytest.approx((mb - ma - q) / se, rel=1e-9)
    assert sys_["df"] == pytest.approx(df)
    half = stats.t_ppf(0.975, df) * se + q
    assert sys_["ci_pct"] == [pytest.approx(math.expm1(mb - ma - half) * 100, rel=1e-6),
                              pytest.approx(math.expm1(mb - ma + half) * 100, rel=1e-6)]
    assert sys_["p"] == pytest.approx(stats.t_sf2((mb - ma - q) / se, df), rel=1e-9)
    assert sys_["significant"] and sys_["verdict"] == "worse"     # more CPU per MiB
    assert sys_["delta_pct"] == pytest.approx(500 / 12)


def test_rate_test_is_on_the_log_scale(tmp_path):
    scipy_stats = pytest.importorskip("scipy.stats")
    av, bv = [100, 104, 97, 101], [90, 93, 91, 88]
    a = _group(tmp_path, "a", "stock", [dict(bw_mibps=x) for x in av])
    b = _group(tmp_path, "b", "patched", [dict(bw_mibps=x) for x in bv])
    bw = _row(compare.compare_groups(a, b), "fio.bw_MiBps")
    ref = scipy_stats.ttest_ind([math.log(x) for x in bv], [math.log(x) for x in av],
                                equal_var=False)
    # the same test, made slightly conservative by fio's 1 ms runtime resolution
    assert ref.pvalue <= bw["p"] == pytest.approx(ref.pvalue, rel=5e-2)
    assert bw["verdict"] == "worse"
    lo, hi = bw["ci_pct"]
    assert lo < bw["delta_pct"] < hi < 0       # significant drop: CI excludes 0


def test_ci_and_significance_agree(tmp_path):
    doc = compare.compare_groups(*schema.resolve_pair([synth.make_cmp(
        str(tmp_path / "c"), reps=4, seed=9, cand={"bw_mibps": 103})]))
    for r in doc["rows"]:
        if r["ci_pct"] and r["p"] not in (None, 0.0, 1.0):
            excludes_zero = r["ci_pct"][0] > 0 or r["ci_pct"][1] < 0
            assert excludes_zero == r["significant"], r["metric"]


def test_too_few_reps_cannot_judge(tmp_path):
    a = _group(tmp_path, "a", "stock", [dict(bw_mibps=100), dict(bw_mibps=101)])
    b = _group(tmp_path, "b", "patched", [dict(bw_mibps=50), dict(bw_mibps=51),
                                          dict(bw_mibps=52)])
    doc = compare.compare_groups(a, b)
    r = _row(doc, "fio.bw_MiBps")
    assert r["verdict"] == "cannot judge" and r["p"] is None and r["delta_pct"] < -40
    assert "need >= 3 reps" in r["note"]


def test_improvement_and_noise_floor(tmp_path):
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=2,
                         cand={"bw_mibps": 130, "lat_scale": 0.6, "bio_kib": 512})
    doc = compare.compare_groups(*schema.resolve_pair([cmp]))
    for name in ("fio.bw_MiBps", "trace.folio_latency_p50_ns", "trace.bio_mean_bytes"):
        assert _row(doc, name)["verdict"] == "better", name
    assert _row(doc, "trace.compress_ratio")["verdict"] == "same"
    # the same data with a 50 % noise floor: nothing is big enough
    doc = compare.compare_groups(*schema.resolve_pair([cmp]), min_effect_pct=200)
    assert _row(doc, "fio.bw_MiBps")["verdict"] == "same"


def test_mismatches(tmp_path):
    a = _group(tmp_path, "a", "stock", [{}] * 3)
    b = _group(tmp_path, "b", "patched", [dict(workload="randwrite")] * 3)
    with pytest.raises(ResultsError, match="mismatched workloads"):
        compare.compare_groups(a, b)
    c = _group(tmp_path, "c", "patched", [dict(mount_options="compress_algorithm=zstd")] * 3)
    with pytest.raises(ResultsError, match="f2fs.mount_options"):
        compare.compare_groups(a, c)
    doc = compare.compare_groups(a, c, allow_mismatch=True)
    assert "compress_algorithm=zstd" in doc["config_mismatch"]
    d = _group(tmp_path, "d", "patched", [dict(fio_options={"rw": "write", "bs": "4k",
                                                             "size": "256M"})] * 3)
    with pytest.raises(ResultsError, match="fio.w.bs"):
        compare.compare_groups(a, d)
    mixed = Group(label="x", runs=a.runs[:2] + d.runs[:1], source="mixed")
    with pytest.raises(ResultsError, match="mixes variants"):
        compare.compare_groups(mixed, b)


def test_compare_dirs_and_json(tmp_path):
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=3)
    doc = compare.compare_dirs([schema.rep_dir(cmp, "stock", i) for i in (1, 2, 3)],
                               [schema.rep_dir(cmp, "patched", i) for i in (1, 2, 3)])
    assert doc["schema"] == "wbtrace.compare/1"
    assert doc["a"]["variant"] == "stock" and doc["b"]["reps"] == 3
    json.dumps(doc, allow_nan=True)
    text = compare.format_table(doc)
    assert "fio.bw_MiBps ↑" in text and "verdict" in text.splitlines()[2]


def test_missing_metric_is_unknown(tmp_path):
    a = _group(tmp_path, "a", "stock", [dict(tracer_mode="off")] * 3)
    b = _group(tmp_path, "b", "patched", [dict(tracer_mode="off")] * 3)
    doc = compare.compare_groups(a, b)
    names = {r["metric"] for r in doc["rows"]}
    assert "trace.folio_latency_p99_ns" not in names
    assert _row(doc, "trace.drops")["verdict"] == "same"


BTT = """\
==================== All Devices ====================

            ALL           MIN           AVG           MAX           N
--------------- ------------- ------------- ------------- -----------

Q2Q               0.000000072   0.000086313   5.453721801     1257686
D2C               0.000363719   0.034028080   0.708048174     1257687
Q2C               0.000395336   0.037609824   0.708064315     1257687

==================== Device Overhead ====================

       DEV |       Q2G       G2I       Q2M       I2D       D2C
---------- | --------- --------- --------- --------- ---------
 (  8,  0) |   0.0000%   0.0000%   0.0000%   9.5020%  90.4980%
"""


def test_btt_metrics(tmp_path):
    assert metrics.parse_btt(BTT) == {"Q2Q": 0.000086313, "D2C": 0.034028080,
                                      "Q2C": 0.037609824}
    d = synth.make_run(str(tmp_path / "r"))
    os.makedirs(os.path.join(d, "blktrace"))
    with open(os.path.join(d, "blktrace", "btt.avg"), "w") as f:
        f.write(BTT)
    m = metrics.run_metrics(schema.load_run(d))
    assert m["blk.q2c_avg_ms"] == pytest.approx(37.609824)
    assert m["blk.d2c_avg_ms"] == pytest.approx(34.028080)


def test_parse_btt_dm_labels():
    # btt in the lab guest treats virtio-blk (major 254) as device-mapper.
    dm = BTT.replace("Q2C ", "Q2Cdm ").replace("D2C ", "D2Cdm ")
    assert dm != BTT
    assert metrics.parse_btt(dm) == metrics.parse_btt(BTT)


def test_data_bio_shares(tmp_path):
    d = synth.make_run(str(tmp_path / "r"))
    sp = os.path.join(d, "trace", "summary.json")
    with open(sp) as f:
        s = json.load(f)
    s["counts"] = {"bios_data": 8, "bios_data_hot": 2, "bios_data_warm": 5,
                   "bios_data_cold": 1, "bios_data_ipu": 4}
    with open(sp, "w") as f:
        json.dump(s, f)
    m = metrics.run_metrics(schema.load_run(d))
    assert m["trace.bio_hot_pct"] == 25.0 and m["trace.bio_warm_pct"] == 62.5
    assert m["trace.bio_cold_pct"] == 12.5 and m["trace.bio_ipu_pct"] == 50.0
    # no data bio at all: no share rather than 0 %
    s["counts"] = {"bios_data": 0, "bios_data_hot": 0}
    with open(sp, "w") as f:
        json.dump(s, f)
    m = metrics.run_metrics(schema.load_run(d))
    assert m["trace.bio_hot_pct"] is None and "trace.bio_cold_pct" not in m
    # a temperature shift between variants is reported as a change
    for name, hot in (("a", 1), ("b", 7)):
        for i in range(1, 5):
            rd = synth.make_run(str(tmp_path / name / f"rep-{i:02d}"), rep=i,
                                variant="stock" if name == "a" else "patched")
            p = os.path.join(rd, "trace", "summary.json")
            with open(p) as f:
                s = json.load(f)
            s["counts"] = {"bios_data": 8, "bios_data_hot": hot + (i % 2),
                           "bios_data_warm": 8 - hot - (i % 2)}
            with open(p, "w") as f:
                json.dump(s, f)
    doc = compare.compare_dirs(sorted(str(p) for p in (tmp_path / "a").iterdir()),
                               sorted(str(p) for p in (tmp_path / "b").iterdir()))
    row = _row(doc, "trace.bio_hot_pct")
    assert row["a"] == pytest.approx(100 * 1.5 / 8) and row["b"] == pytest.approx(100 * 7.5 / 8)
    assert row["note"].startswith("changed")


def test_digest_table(tmp_path):
    docs = []
    for wl, slow in (("seqwrite", 1.0), ("randwrite", 1.3)):
        a = _group(tmp_path, f"{wl}-a", "stock", [dict(workload=wl, bw_mibps=100 + i) for i in range(4)])
        b = _group(tmp_path, f"{wl}-b", "patched",
                   [dict(workload=wl, bw_mibps=(100 + i) / slow) for i in range(4)])
        docs.append(compare.compare_groups(a, b))
    text = compare.digest_markdown(docs, ["fio.bw_MiBps", "trace.no_such_metric"])
    lines = text.splitlines()
    assert lines[0].startswith("| workload | metric | unit | stock | patched |")
    assert "| p | p Holm | n |" in lines[0]
    body = [ln for ln in lines[2:] if ln.startswith("|")]
    assert len(body) == 2                      # unknown metric skipped, one row per workload
    assert "Holm's correction over the 2 tests" in text
    assert body[0].startswith("| seqwrite | fio.bw_MiBps ↑ | MiB/s |") and "| same |" in body[0]
    assert body[1].startswith("| randwrite |") and "| worse |" in body[1]
    with pytest.raises(ResultsError):
        compare.digest_markdown([])


def test_digest_cli(tmp_path):
    from analysis import cli
    for i in range(1, 4):
        for v in ("stock", "patched"):
            synth.make_run(str(tmp_path / "cmp" / v / f"rep-{i:02d}"), variant=v, rep=i)
    subprocess.run(["/usr/bin/python3", "-m", "analysis", "new-cmp", str(tmp_path / "cmp"),
                    "--workload", "seqwrite", "--reps", "3"], check=True,
                   cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    rc = cli.main(["digest", str(tmp_path / "cmp"), "--json", str(tmp_path / "d.json")])
    assert rc == 0
    d = json.load(open(tmp_path / "d.json"))
    assert d["schema"] == "wbtrace.digest/1" and len(d["comparisons"]) == 1
    assert cli.main(["digest", str(tmp_path / "nothing-here")]) == 2


def test_unlike_probe_sets_are_marked(tmp_path, capsys):
    """Baseline without the hand-out probe, candidate with it on every folio, and a 30 %
    slower loop on the candidate (the tracer's cost): compare still shows the loop-timed
    rows, but marks them with the gate's reason (table flag and note; JSON
    rows[].not_comparable) and leaves them out of Holm's family.  Like probe sets: no mark."""
    from analysis import gate
    from analysis.cli import main
    unlike = synth.make_cmp(str(tmp_path / "u"), reps=3, seed=5, noise=0.005,
                            base={"handouts_per_folio": 0.0},
                            cand={"handouts_per_folio": 1.0, "lat_scale": 1.3})
    js = str(tmp_path / "u.json")
    assert main(["compare", unlike, "--json", js]) == 0
    text = capsys.readouterr().out
    with open(js) as f:
        doc = json.load(f)
    a, b = schema.resolve_pair([unlike])
    why = compare.observer_asymmetry(a, b)
    assert why and why.startswith("not comparable: the tracer's hand-out probe")
    marked = sorted(r["metric"] for r in doc["rows"] if r["not_comparable"])
    assert marked == sorted(r["metric"] for r in doc["rows"] if metrics.loop_timed(r["metric"])
                            and (r["n_a"] or r["n_b"]))
    assert "trace.folio_latency_p50_ns" in marked and "trace.writepages_mean_ns" in marked
    assert doc["observer_asymmetry"] == why
    for r in doc["rows"]:
        if r["not_comparable"]:
            assert r["not_comparable"] == why and "unlike probe sets" in r["flags"]
            assert r["p"] is not None and r["p_holm"] is None
        else:
            assert "unlike probe sets" not in r["flags"]
    judged = [r for r in doc["rows"] if r["p_holm"] is not None]
    assert doc["holm_family"] == len(judged)
    assert [r["p_holm"] for r in judged] == stats.holm([r["p"] for r in judged])
    lat_line = next(ln for ln in text.splitlines() if ln.startswith("trace.folio_latency_p50_ns"))
    assert "unlike probe sets" in lat_line
    assert f"  trace.folio_latency_p50_ns: {why}; left out of Holm's family" in text
    # the gate's note for the same metric is the same text
    gdoc = gate.gate_results([unlike])
    (gc,) = [c for c in gdoc["checks"] if c["metric"] == "trace.folio_latency_p50_ns"]
    assert gc["note"] == why
    like = synth.make_cmp(str(tmp_path / "l"), reps=3, seed=5, noise=0.005,
                          base={"handouts_per_folio": 1.0},
                          cand={"handouts_per_folio": 1.0, "lat_scale": 1.3})
    assert main(["compare", like, "--json", js]) == 0
    text = capsys.readouterr().out
    with open(js) as f:
        doc = json.load(f)
    assert doc["observer_asymmetry"] is None
    assert not any(r["not_comparable"] for r in doc["rows"])
    assert "unlike probe sets" not in text and "hand-out probe" not in text
