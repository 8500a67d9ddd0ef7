"""Issue 14, comparability and validity: unlike runs, duplicated runs, unverified runs and
limits that can never fire are refused with exit 2 and a reason naming what is wrong."""

import json
import os
import shutil

import pytest

import synth
from analysis import compare, schema
from analysis.cli import main

FIXED_CLAT = [20000 + 37 * i for i in range(400)]


def _pair(tmp_path, base=None, cand=None, reps=3):
    for side, variant, kw in (("a", "stock", base or {}), ("b", "patched", cand or {})):
        for i in range(1, reps + 1):
            k = dict(kw)
            k.setdefault("bw_mibps", 100 + i)
            synth.make_run(str(tmp_path / side / f"rep-{i:02d}"), variant=variant, rep=i, **k)
    return str(tmp_path / "a"), str(tmp_path / "b")


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


def _gate_json(capsys, tmp_path, *specs, extra=()):
    js = str(tmp_path / "gate.json")
    rc, out, err = _run(capsys, "gate", *specs, "--json", js, *extra)
    with open(js) as f:
        doc = json.load(f)
    assert doc["exit_code"] == rc
    return rc, doc, out


# ----------------------------------------------------------------------------- comparability

@pytest.mark.parametrize("base,cand,field,va,vb", [
    ({"meta_extra": {"host": {"accel": "kvm"}}}, {"meta_extra": {"host": {"accel": "tcg"}}},
     "host.accel", "kvm", "tcg"),
    ({}, {"meta_extra": {"host": {"icount": "shift=auto"}}}, "host.icount", "off",
     "shift=auto"),
    ({"meta_extra": {"host": {"cpu_model": "EPYC 7763"}}},
     {"meta_extra": {"host": {"cpu_model": "Xeon E5-2690"}}}, "host.cpu_model",
     "EPYC 7763", "Xeon E5-2690"),
    ({"meta_extra": {"host": {"cpus": 2}}}, {"meta_extra": {"host": {"cpus": 1}}},
     "host.cpus", 2, 1),
    ({}, {"fio_version": "fio-3.36"}, "fio.version", "fio-3.33", "fio-3.36"),
    ({"meta_extra": {"tracer": {"version": "wbtrace-trace 1.2"}}},
     {"meta_extra": {"tracer": {"version": "wbtrace-trace 1.3"}}}, "tracer.version",
     "wbtrace-trace 1.2", "wbtrace-trace 1.3"),
    ({}, {"pct_method": "hist_log2_upper"}, "pct_method.trace.folio_latency_ns", "exact",
     "hist_log2_upper"),
    ({"meta_extra": {"f2fs": {"bdi": {"strict_limit": "1"}}}},
     {"meta_extra": {"f2fs": {"bdi": {"strict_limit": "0"}}}}, "f2fs.bdi",
     "strict_limit=1", "strict_limit=0"),
    ({"meta_extra": {"f2fs": {"sysfs": {"ipu_policy": "16"}}}}, {}, "f2fs.sysfs",
     "ipu_policy=16", ""),
    ({"meta_extra": {"f2fs": {"device_bytes": 2 << 30}}},
     {"meta_extra": {"f2fs": {"device_bytes": 4 << 30}}}, "f2fs.device_bytes",
     2 << 30, 4 << 30),
    ({"meta_extra": {"f2fs": {"device_kind": "virtio_blk"}}},
     {"meta_extra": {"f2fs": {"device_kind": "ram"}}}, "f2fs.device_kind",
     "virtio_blk", "ram"),
    ({"meta_extra": {"probes": {"folio": "fentry", "bio": "tracepoint"}}},
     {"meta_extra": {"probes": {"folio": "kprobe", "bio": "tracepoint"}}}, "probe.folio",
     "fentry", "kprobe"),
])
def test_unlike_runs_cannot_judge(tmp_path, capsys, base, cand, field, va, vb):
    a, b = _pair(tmp_path, base, cand)
    rc, doc, out = _gate_json(capsys, tmp_path, a, b)
    assert rc == 2 and doc["status"] == "cannot judge"
    assert f"{field}: {va!r} != {vb!r}" in " ".join(doc["reasons"]), doc["reasons"]
    rc, out, err = _run(capsys, "compare", a, b)
    assert rc == 2 and field in err and "not comparable" in err


def test_every_differing_field_is_named(tmp_path, capsys):
    a, b = _pair(tmp_path, {"meta_extra": {"host": {"accel": "kvm"}}},
                 {"meta_extra": {"host": {"accel": "tcg"}}, "fio_version": "fio-3.36",
                  "pct_method": "hist_log2_upper"})
    rc, doc, out = _gate_json(capsys, tmp_path, a, b)
    text = " ".join(doc["reasons"])
    for f in ("host.accel", "fio.version", "pct_method.trace.folio_latency_ns",
              "pct_method.trace.writepages_ns"):
        assert f in text, f


def test_module_build_may_differ_between_variants_but_not_inside_one(tmp_path, capsys):
    sha = {"meta_extra": {"kernel": {"f2fs_module_sha256": "a" * 64}}}
    a, b = _pair(tmp_path, sha, {"meta_extra": {"kernel": {"f2fs_module_sha256": "b" * 64}}})
    assert _run(capsys, "compare", a, b)[0] == 0          # stock vs patched: different .ko
    synth.make_run(os.path.join(b, "rep-02"), variant="patched", rep=2,
                   meta_extra={"kernel": {"f2fs_module_sha256": "c" * 64}})
    rc, out, err = _run(capsys, "compare", a, b)
    assert rc == 2 and "kernel.f2fs_module_sha256" in err and "reps differ" in err


def test_aa_run_needs_the_same_module(tmp_path, capsys):
    for side, sha in (("a", "a"), ("b", "b")):
        for i in (1, 2, 3):
            synth.make_run(str(tmp_path / side / f"rep-{i:02d}"), variant="stock", rep=i,
                           meta_extra={"kernel": {"f2fs_module_sha256": sha * 64},
                                       "run_id": f"{side}-r{i}"})
    rc, out, err = _run(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert rc == 2 and "kernel.f2fs_module_sha256" in err


def test_probe_only_on_the_converted_loop_is_not_a_mismatch(tmp_path, capsys):
    # writeback_iter hand-outs exist on patched only: "off" on stock is not a mode change
    a, b = _pair(tmp_path, {"meta_extra": {"probes": {"folio": "fentry", "handout": "off"}}},
                 {"meta_extra": {"probes": {"folio": "fentry", "handout": "fentry"}}})
    assert _run(capsys, "compare", a, b)[0] == 0


def test_icount_absent_means_off(tmp_path, capsys):
    a, b = _pair(tmp_path, {}, {"meta_extra": {"host": {"icount": "off"}}})
    assert _run(capsys, "compare", a, b)[0] == 0


# ----------------------------------------------------------------------------- duplicates

def test_cmp_listing_one_rep_three_times_is_rejected(tmp_path, capsys):
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=3, seed=3)
    p = os.path.join(cmp, "cmp.json")
    with open(p) as f:
        doc = json.load(f)
    doc["runs"]["patched"] = ["patched/rep-01"] * 3
    with open(p, "w") as f:
        json.dump(doc, f)
    for cmd in ("validate", "compare"):
        rc, out, err = _run(capsys, cmd, cmp)
        assert rc == 2 and "duplicate run dir" in err, cmd
        assert len(err.strip().splitlines()) == 1
    rc, doc, out = _gate_json(capsys, tmp_path, cmp)
    assert rc == 2 and "duplicate run dir" in doc["reasons"][0]


def test_same_dir_on_both_sides_is_rejected(tmp_path, capsys):
    a, _ = _pair(tmp_path)
    rc, out, err = _run(capsys, "compare", a, a)
    assert rc == 2 and "duplicate run dir" in err
    rc, doc, out = _gate_json(capsys, tmp_path, a, a)
    assert rc == 2 and "duplicate run dir" in doc["reasons"][0]


def test_copied_run_id_across_sides_is_rejected(tmp_path, capsys):
    a, b = _pair(tmp_path)
    shutil.rmtree(os.path.join(b, "rep-03"))
    shutil.copytree(os.path.join(a, "rep-03"), os.path.join(b, "rep-03"))
    with open(os.path.join(b, "rep-03", "meta.json")) as f:
        m = json.load(f)
    m["variant"] = "patched"                   # a relabelled copy: same run_id
    with open(os.path.join(b, "rep-03", "meta.json"), "w") as f:
        json.dump(m, f)
    rc, doc, out = _gate_json(capsys, tmp_path, a, b)
    assert rc == 2 and "duplicate run_id" in doc["reasons"][0], doc["reasons"]
    rc, out, err = _run(capsys, "compare", a, b)
    assert rc == 2 and "duplicate run_id" in err
    rc, out, err = _run(capsys, "validate", a, b)
    assert rc == 2 and "duplicate run_id" in err and out == ""
    assert _run(capsys, "validate", a)[0] == 0 and _run(capsys, "validate", b)[0] == 0


def test_compare_dirs_api_rejects_duplicates(tmp_path):
    a, b = _pair(tmp_path)
    reps = [os.path.join(a, f"rep-0{i}") for i in (1, 2, 3)]
    with pytest.raises(schema.ResultsError, match="duplicate run dir"):
        compare.compare_dirs(reps, [os.path.join(b, "rep-01")] * 3)


# ----------------------------------------------------------------------------- verification

@pytest.mark.parametrize("side", ["a", "b"])
@pytest.mark.parametrize("state", ["skipped", "fail"])
def test_unverified_rep_cannot_judge(tmp_path, capsys, side, state):
    kw = {"verify": {"after_remount": state}}
    a, b = _pair(tmp_path, kw if side == "a" else {}, kw if side == "b" else {})
    rc, doc, out = _gate_json(capsys, tmp_path, a, b)
    assert rc == 2 and doc["status"] == "cannot judge"
    word = "SKIPPED" if state == "skipped" else "FAILED"
    who = "baseline" if side == "a" else "candidate"
    assert any(r.startswith(who) and f"verification {word}: after_remount" in r
               for r in doc["reasons"]), doc["reasons"]
    rc, out, err = _run(capsys, "compare", a, b)
    assert rc == 0 and f"WARNING: {side.upper()} not fully verified:" in out
    assert f"after_remount {state}" in out


# ----------------------------------------------------------------------------- thresholds

def _thr(tmp_path, metrics):
    p = tmp_path / "thr.json"
    p.write_text(json.dumps({"schema": "wbtrace.thresholds/1", "metrics": metrics}))
    return str(p)


def test_direction_less_limit_is_refused(tmp_path, capsys):
    a, b = _pair(tmp_path)
    thr = _thr(tmp_path, {"fio.bw_MiBps": {"max_regression_pct": 5},
                          "trace.bio_ipu_pct": {"max_regression_pct": 1}})
    rc, doc, out = _gate_json(capsys, tmp_path, a, b, extra=("--thresholds", thr))
    assert rc == 2 and doc["checks"] == []
    assert "trace.bio_ipu_pct" in doc["reasons"][0] and "direction" in doc["reasons"][0]


def test_percentile_limit_finer_than_log2_buckets_is_refused(tmp_path, capsys):
    a, b = _pair(tmp_path, {"pct_method": "hist_log2_upper"}, {"pct_method": "hist_log2_upper"})
    thr = _thr(tmp_path, {"fio.bw_MiBps": {"max_regression_pct": 5},
                          "trace.folio_latency_p99_ns": {"max_regression_pct": 15}})
    rc, doc, out = _gate_json(capsys, tmp_path, a, b, extra=("--thresholds", thr))
    assert rc == 2
    (r,) = doc["reasons"]
    assert "trace.folio_latency_p99_ns" in r and "hist_log2_upper" in r and "100 %" in r
    # a limit of one full bucket is allowed, and the mean is not a percentile
    thr = _thr(tmp_path, {"trace.folio_latency_p99_ns": {"max_regression_pct": 100},
                          "trace.folio_latency_mean_ns": {"max_regression_pct": 5}})
    rc, doc, out = _gate_json(capsys, tmp_path, a, b, extra=("--thresholds", thr))
    assert not any("refused" in r for r in doc["reasons"]), doc["reasons"]


def test_fio_percentile_limit_finer_than_its_bins_is_refused(tmp_path, capsys):
    a, b = _pair(tmp_path)
    thr = _thr(tmp_path, {"fio.clat_p99_us": {"max_regression_pct": 1}})
    rc, doc, out = _gate_json(capsys, tmp_path, a, b, extra=("--thresholds", thr))
    assert rc == 2 and "fio.clat_p99_us" in doc["reasons"][0]
    assert "fio json+ bins" in doc["reasons"][0]


def test_mde_is_a_size_in_both_directions(tmp_path):
    # bandwidth (higher is better) and latency (lower is better): mde_pct is the size of the
    # smallest detectable bad change, positive either way, and a drop cannot exceed 100 %
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=4, seed=6, noise=0.05)
    doc = compare.compare_groups(*schema.resolve_pair([cmp]))
    for r in doc["rows"]:
        if r["mde_pct"] is not None:
            assert r["mde_pct"] > 0, r["metric"]
            if r["direction"] > 0 and r["test"]["scale"] == "log":
                assert r["mde_pct"] < 100, r["metric"]


def test_host_fields_must_be_strings(tmp_path, capsys):
    d = str(tmp_path / "r")
    synth.make_run(d)
    p = os.path.join(d, "meta.json")
    with open(p) as f:
        m = json.load(f)
    m["host"]["icount"] = 7
    with open(p, "w") as f:
        json.dump(m, f)
    rc, out, err = _run(capsys, "validate", d)
    assert rc == 2 and "host.icount must be a string" in err
