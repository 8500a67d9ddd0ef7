"""Gate on synthetic data sets with known answers, through the real CLI entry point."""

import json
import os
import xml.etree.ElementTree as ET

import pytest

import synth
from analysis import schema
from analysis.cli import main


def _gate(capsys, tmp_path, *args):
    js, ju = str(tmp_path / "gate.json"), str(tmp_path / "gate.xml")
    rc = main(["gate", *args, "--json", js, "--junit", ju])
    out, err = capsys.readouterr()
    with open(js) as f:
        doc = json.load(f)
    junit = ET.parse(ju).getroot()
    assert doc["exit_code"] == rc
    assert "Traceback" not in out + err
    return rc, doc, junit, out


def _status(doc, metric):
    (c,) = [c for c in doc["checks"] if c["metric"] == metric]
    return c["status"]


# The same completion latencies in every rep: fio's clat p99 is then decided by its
# resolution (1/64) rather than by sampling noise of 400 synthetic IOs.
FIXED_CLAT = [20000 + 37 * i for i in range(400)]


def test_quiet_and_equal_passes(tmp_path, capsys):
    same = {"clat_ns": FIXED_CLAT, "guest_cpu_ms_per_mib": 200.0}
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=11, noise=0.005, base=same, cand=same)
    rc, doc, junit, out = _gate(capsys, tmp_path, cmp)
    assert rc == 0 and doc["status"] == "pass", out
    assert {c["decision"] for c in doc["checks"]} == {"pass"}
    assert junit.get("failures") == "0" and junit.get("errors") == "0"
    assert "gate: PASS" in out


def test_noisy_and_equal_is_inconclusive_not_pass(tmp_path, capsys):
    # 3 % noise, 5 reps: the 95 % CI of the bandwidth reaches past the 5 % limit, so the
    # data cannot rule out a regression: exit 2 with what would decide it.
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=11, noise=0.03,
                         base={"clat_ns": FIXED_CLAT}, cand={"clat_ns": FIXED_CLAT})
    rc, doc, junit, out = _gate(capsys, tmp_path, cmp)
    assert rc == 2 and doc["status"] == "inconclusive", out
    (bw,) = [c for c in doc["checks"] if c["metric"] == "fio.bw_MiBps"]
    assert bw["decision"] == "inconclusive" and bw["bad_bound_pct"] < -5
    assert 5 < bw["mde_pct"] < 15 and bw["reps_needed"] > 5
    assert "gate: INCONCLUSIVE (exit 2)" in out and "reps a side would decide at 5 %" in out
    (tc,) = [tc for tc in junit.iter("testcase") if tc.get("name") == "fio.bw_MiBps"]
    assert tc.find("error").get("type") == "inconclusive"


def test_clear_regression_fails(tmp_path, capsys):
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=12,
                         cand={"bw_mibps": 85, "lat_scale": 1.4})
    rc, doc, junit, out = _gate(capsys, tmp_path, cmp)
    assert rc == 1 and doc["status"] == "regression"
    assert _status(doc, "fio.bw_MiBps") == "regression"
    assert _status(doc, "trace.folio_latency_p99_ns") == "regression"
    assert _status(doc, "trace.compress_ratio") == "pass"
    failed = {tc.get("name") for tc in junit.iter("testcase") if tc.find("failure") is not None}
    assert {"fio.bw_MiBps", "fio.iops", "trace.folio_latency_p99_ns"} <= failed
    assert int(junit.get("failures")) == len(failed)


def test_small_significant_change_within_threshold_passes(tmp_path, capsys):
    # -3 % bandwidth with tiny noise: significant, but inside the 5 % limit
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=13, noise=0.002,
                         base={"clat_ns": FIXED_CLAT}, cand={"bw_mibps": 97, "clat_ns": FIXED_CLAT})
    rc, doc, _, _ = _gate(capsys, tmp_path, cmp)
    (bw,) = [c for c in doc["checks"] if c["metric"] == "fio.bw_MiBps"]
    assert bw["p"] < 0.05 and -4 < bw["delta_pct"] < -2
    assert rc == 0


def test_large_but_insignificant_change_is_inconclusive(tmp_path, capsys):
    # huge noise: a 10 % mean drop is not significant with 3 reps, and not ruled out either
    base = [{"bw_mibps": v} for v in (60, 100, 140)]
    cand = [{"bw_mibps": v} for v in (50, 95, 125)]
    for side, variant, vals in (("a", "stock", base), ("b", "patched", cand)):
        for i, kw in enumerate(vals, 1):
            synth.make_run(str(tmp_path / side / f"rep-{i:02d}"), variant=variant, rep=i, **kw)
    rc, doc, _, out = _gate(capsys, tmp_path, str(tmp_path / "a"), str(tmp_path / "b"))
    (bw,) = [c for c in doc["checks"] if c["metric"] == "fio.bw_MiBps"]
    assert bw["delta_pct"] < -5 and bw["p"] > 0.05
    assert rc == 2 and bw["decision"] == "inconclusive"
    assert bw["mde_pct"] > 30 and bw["reps_needed"] > 20, bw
    assert f"about {bw['reps_needed']} reps a side would decide at 5 %" in out


def test_clear_improvement_passes(tmp_path, capsys):
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=14,
                         cand={"bw_mibps": 130, "lat_scale": 0.6, "bio_kib": 512})
    rc, doc, _, _ = _gate(capsys, tmp_path, cmp)
    assert rc == 0
    (bw,) = [c for c in doc["checks"] if c["metric"] == "fio.bw_MiBps"]
    assert bw["delta_pct"] > 20 and bw["p"] < 0.01


def _pair(tmp_path, base=None, cand=None, reps=3, cand_reps=None):
    for side, variant, kw, n in (("a", "stock", base or {}, reps),
                                 ("b", "patched", cand or {}, cand_reps or reps)):
        for i in range(1, n + 1):
            k = dict(kw)
            k.setdefault("bw_mibps", 100 + i)
            synth.make_run(str(tmp_path / side / f"rep-{i:02d}"), variant=variant, rep=i, **k)
    return str(tmp_path / "a"), str(tmp_path / "b")


@pytest.mark.parametrize("base,cand,cand_reps,reason", [
    ({}, {}, 2, "too few reps: candidate has 2, need >= 3"),
    ({}, {"drops": 17}, None, "17 tracer events dropped"),
    ({}, {"verify": {"fsck": "fail"}}, None, "verification FAILED: fsck"),
    ({}, {"workload": "randwrite"}, None, "mismatched workloads"),
    ({}, {"kernel_release": "7.3.5"}, None, "kernel.release"),
    ({}, {"mount_options": "compress_algorithm=zstd,compress_log_size=2"}, None,
     "f2fs.mount_options"),
])
def test_invalid_inputs_cannot_judge(tmp_path, capsys, base, cand, cand_reps, reason):
    a, b = _pair(tmp_path, base, cand, cand_reps=cand_reps)
    rc, doc, junit, out = _gate(capsys, tmp_path, a, b)
    assert rc == 2 and doc["status"] == "cannot judge"
    assert any(reason in r for r in doc["reasons"]), doc["reasons"]
    (inputs,) = [tc for tc in junit.iter("testcase") if tc.get("name") == "inputs"]
    assert reason in inputs.find("error").text


def test_corrupt_json_cannot_judge(tmp_path, capsys):
    a, b = _pair(tmp_path)
    with open(os.path.join(b, "rep-02", "trace", "summary.json"), "w") as f:
        f.write("{not json")
    rc, doc, junit, out = _gate(capsys, tmp_path, a, b)
    assert rc == 2 and "corrupt JSON" in doc["reasons"][0]
    assert junit.get("errors") == "1"


def test_required_metric_missing(tmp_path, capsys):
    a, b = _pair(tmp_path, {"tracer_mode": "off"}, {"tracer_mode": "off"})
    thr = tmp_path / "t.toml"
    thr.write_text('schema = "wbtrace.thresholds/1"\n'
                   '[metrics."fio.bw_MiBps"]\nmax_regression_pct = 5\n'
                   '[metrics."trace.folio_latency_p99_ns"]\nmax_regression_pct = 10\n'
                   'required = true\n')
    rc, doc, _, _ = _gate(capsys, tmp_path, a, b, "--thresholds", str(thr))
    assert rc == 2 and _status(doc, "trace.folio_latency_p99_ns") == "cannot judge"
    thr.write_text(thr.read_text().replace("required = true", "required = false"))
    rc, doc, junit, _ = _gate(capsys, tmp_path, a, b, "--thresholds", str(thr))
    assert rc == 0 and _status(doc, "trace.folio_latency_p99_ns") == "skipped"
    assert junit.find(".//skipped") is not None


def test_only_one_side_traced_cannot_judge(tmp_path, capsys):
    a, b = _pair(tmp_path, {"tracer_mode": "summary"}, {"tracer_mode": "off"})
    rc, doc, _, _ = _gate(capsys, tmp_path, a, b)
    assert rc == 2 and any("tracer.mode" in r for r in doc["reasons"])


@pytest.mark.parametrize("text,msg", [
    ('{"schema": "wbtrace.thresholds/1", "metrics": {"fio.bandwidth": '
     '{"max_regression_pct": 5}}}', 'unknown metric "fio.bandwidth"'),
    ('{"schema": "wbtrace.thresholds/1", "metrics": {"fio.iops": {"max_regression_pct": -1}}}',
     "must be a number >= 0"),
    ('{"schema": "wbtrace.thresholds/1", "metrics": {}, "alpha": 3}', "alpha"),
    ('{"metrics": {}}', 'no "schema" field'),
    ("{", "corrupt JSON"),
])
def test_bad_thresholds(tmp_path, capsys, text, msg):
    a, b = _pair(tmp_path)
    thr = tmp_path / "t.json"
    thr.write_text(text)
    rc, doc, _, _ = _gate(capsys, tmp_path, a, b, "--thresholds", str(thr))
    assert rc == 2 and msg in doc["reasons"][0]


def test_default_thresholds_file_is_valid():
    from analysis.gate import load_thresholds
    t = load_thresholds()
    assert t["metrics"]["fio.bw_MiBps"]["required"] and t["min_reps"] == 3


def test_gate_json_to_stdout(tmp_path, capsys):
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=3, seed=1)
    rc = main(["gate", cmp, "--json", "-"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["schema"] == schema.GATE_SCHEMA and doc["exit_code"] == rc
    assert "gate:" in err


def test_guest_cpu_per_mib_is_gated(tmp_path, capsys):
    # Everything equal but the whole guest's CPU per MiB (+8 %, 0.5 % noise): the gate
    # flags it from guest_cpu.json, and passes the same data without the increase.
    same = {"clat_ns": FIXED_CLAT, "guest_cpu_ms_per_mib": 200.0}
    worse = dict(same, guest_cpu_ms_per_mib=216.0)
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=21, noise=0.005, base=same, cand=worse)
    rc, doc, _, out = _gate(capsys, tmp_path, cmp)
    assert rc == 1 and _status(doc, "sys.cpu_ms_per_MiB") == "regression", out
    ok = synth.make_cmp(str(tmp_path / "d"), reps=5, seed=21, noise=0.005, base=same, cand=same)
    rc, doc, _, out = _gate(capsys, tmp_path, ok)
    assert rc == 0 and _status(doc, "sys.cpu_ms_per_MiB") == "pass", out


def test_guest_cpu_absent_is_not_required(tmp_path, capsys):
    # Results from before guest_cpu.json existed still gate on everything else.
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=11, noise=0.005,
                         base={"clat_ns": FIXED_CLAT}, cand={"clat_ns": FIXED_CLAT})
    rc, doc, _, out = _gate(capsys, tmp_path, cmp)
    assert rc == 0, out
    (c,) = [c for c in doc["checks"] if c["metric"] == "sys.cpu_ms_per_MiB"]
    assert c["decision"] == "skipped", c


def test_loop_timings_of_unlike_probe_sets_are_not_judged(tmp_path, capsys):
    """The candidate's loop runs the tracer's hand-out probe on every folio, the
    baseline's never: its folio latency looks 30 % worse, but that is the tracer.
    Those metrics are left out (skipped, saying why); the rest is gated as usual."""
    same = {"clat_ns": FIXED_CLAT, "guest_cpu_ms_per_mib": 200.0}
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=11, noise=0.005,
                         base={**same, "handouts_per_folio": 0.0},
                         cand={**same, "handouts_per_folio": 1.0, "lat_scale": 1.3})
    rc, doc, junit, out = _gate(capsys, tmp_path, cmp)
    (lat,) = [c for c in doc["checks"] if c["metric"] == "trace.folio_latency_p50_ns"]
    assert lat["status"] == "skipped" and "hand-out probe" in lat["note"], lat
    assert "0.00 times per folio on the baseline and 1.00" in lat["note"]
    assert _status(doc, "trace.writepages_ms_per_MiB") == "skipped"
    assert _status(doc, "fio.bw_MiBps") == "pass"
    assert rc == 0 and doc["status"] == "pass", out


def test_loop_timings_of_like_probe_sets_are_judged(tmp_path, capsys):
    """Both sides ran the hand-out probe on every folio: a 30 % slower loop is a regression."""
    same = {"clat_ns": FIXED_CLAT, "guest_cpu_ms_per_mib": 200.0, "handouts_per_folio": 1.0}
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=5, seed=11, noise=0.005,
                         base=same, cand={**same, "lat_scale": 1.3})
    rc, doc, junit, out = _gate(capsys, tmp_path, cmp)
    assert _status(doc, "trace.folio_latency_p50_ns") == "regression"
    assert rc == 1 and doc["status"] == "regression", out


def _unlike_probe_cmp(top, base_cpu, cand_cpu):
    """Baseline without the hand-out probe, candidate with it on every folio; per-rep
    guest CPU per MiB as given, every other value the same on both sides (each side's rep
    N draws the same synthetic latencies), so the loop-timed metrics show no change."""
    import random
    cmp = schema.new_cmp(workload="seqwrite", reps=len(base_cpu), cmp_id="cmp-test")
    for variant, vals, hpf in (("stock", base_cpu, 0.0), ("patched", cand_cpu, 1.0)):
        for rep, v in enumerate(vals, 1):
            synth.make_run(schema.rep_dir(top, variant, rep), variant=variant, rep=rep,
                           rng=random.Random(rep), clat_ns=FIXED_CLAT,
                           guest_cpu_ms_per_mib=v, handouts_per_folio=hpf)
    schema.write_cmp(top, cmp)
    return top


def test_skipped_loop_timings_do_not_enlarge_the_holm_family(tmp_path, capsys):
    """Known answer: four gated metrics, three of them loop-timed and skipped for unlike
    probe sets.  Guest CPU per MiB rises 2.3 % (limit 1 %) with p = 0.0165: judged alone
    that is a regression; had the three skipped metrics stayed in Holm's family it would
    be corrected to 4 x 0.0165 = 0.066 and come out "inconclusive"."""
    from analysis import stats
    thr = tmp_path / "thr.json"
    thr.write_text(json.dumps({"schema": "wbtrace.thresholds/1", "metrics": {
        "sys.cpu_ms_per_MiB": {"max_regression_pct": 1},
        "trace.folio_latency_p50_ns": {"max_regression_pct": 10},
        "trace.folio_latency_p99_ns": {"max_regression_pct": 15},
        "trace.writepages_mean_ns": {"max_regression_pct": 15}}}))
    cmp = _unlike_probe_cmp(str(tmp_path / "c"), [200, 203, 197, 201, 199],
                            [204, 208, 202, 206, 203])
    rc, doc, junit, out = _gate(capsys, tmp_path, cmp, "--thresholds", str(thr))
    (cpu,) = [c for c in doc["checks"] if c["metric"] == "sys.cpu_ms_per_MiB"]
    assert 0.0125 < cpu["p"] < 0.05, cpu            # the window where the family matters
    skipped = [c for c in doc["checks"] if c["metric"] != "sys.cpu_ms_per_MiB"]
    assert {c["decision"] for c in skipped} == {"skipped"}, skipped
    assert all(c["p_holm"] is None for c in skipped), skipped
    assert cpu["p_holm"] == cpu["p"] and doc["holm_family"] == 1, (cpu, doc.get("holm_family"))
    assert cpu["decision"] == "regression" and rc == 1, out
    # The judged metrics' p_holm is Holm over exactly them (the default thresholds).
    cmp2 = _unlike_probe_cmp(str(tmp_path / "d"), [200, 203, 197, 201, 199],
                             [204, 208, 202, 206, 203])
    rc, doc, junit, out = _gate(capsys, tmp_path, cmp2)
    judged = [c for c in doc["checks"] if c["p"] is not None and c["decision"] != "skipped"]
    assert not any(c["metric"].startswith("trace.folio_latency_") and c["p_holm"] is not None
                   for c in doc["checks"])
    assert doc["holm_family"] == len(judged)
    assert [c["p_holm"] for c in judged] == stats.holm([c["p"] for c in judged])
