import json
import os

import pytest

import synth
from analysis import schema
from analysis.schema import ResultsError


def _rewrite(path, fn):
    with open(path) as f:
        doc = json.load(f)
    fn(doc)
    with open(path, "w") as f:
        json.dump(doc, f)


def test_new_meta_is_valid_and_round_trips(tmp_path):
    m = schema.new_meta(workload="seqwrite", variant="patched", rep=2, kernel_release="7.3.4",
                        verify={"fsck": "pass"})
    assert m["schema"] == "wbtrace.run/1"
    assert m["verify"]["fsck"] == "pass" and m["verify"]["dmesg"] == "skipped"
    assert m["run_id"].startswith("seqwrite-patched-") and m["run_id"].endswith("-r02")
    schema.write_meta(str(tmp_path), m)
    with open(tmp_path / "meta.json") as f:
        assert json.load(f) == m


def test_write_meta_refuses_invalid(tmp_path):
    m = schema.new_meta(workload="w", variant="stock")
    m["verify"]["fsck"] = "ok"
    with pytest.raises(ResultsError, match="verify.fsck"):
        schema.write_meta(str(tmp_path), m)
    assert not (tmp_path / "meta.json").exists()


def test_load_run(tmp_path):
    d = synth.make_run(str(tmp_path / "r"), variant="stock", stacks=synth.STACKS_A)
    r = schema.load_run(d)
    assert r.variant == "stock" and r.summary["schema"] == "wbtrace.trace/1"
    assert r.stacks_path.endswith("stacks.folded") and r.events_path is None


@pytest.mark.parametrize("mutate,msg", [
    (lambda m: m.pop("workload"), 'required field "workload" is missing'),
    (lambda m: m.update(schema="perfkit.run/1"), 'foreign schema "perfkit.run/1"'),
    (lambda m: m.update(schema="wbtrace.run/2"), 'schema "wbtrace.run/2" is not supported'),
    (lambda m: m.pop("schema"), 'no "schema" field'),
    (lambda m: m.update(variant="fast"), 'variant "fast"'),
    (lambda m: m.update(drops=-1), "drops must be >= 0"),
    (lambda m: m.update(rep="1"), 'field "rep" must be int'),
    (lambda m: m["tracer"].update(mode="verbose"), 'tracer.mode "verbose"'),
])
def test_bad_meta(tmp_path, mutate, msg):
    d = synth.make_run(str(tmp_path / "r"))
    _rewrite(os.path.join(d, "meta.json"), mutate)
    with pytest.raises(ResultsError, match=msg.replace("(", r"\(").replace(".", r"\.")):
        schema.load_run(d)


def test_corrupt_and_missing_files(tmp_path):
    d = synth.make_run(str(tmp_path / "r"))
    with open(os.path.join(d, "fio.json"), "w") as f:
        f.write('{"jobs": [')
    with pytest.raises(ResultsError, match="corrupt JSON"):
        schema.load_run(d)
    os.unlink(os.path.join(d, "fio.json"))
    with pytest.raises(ResultsError, match="fio.json: missing"):
        schema.load_run(d)
    with pytest.raises(ResultsError, match="no such result directory"):
        schema.load_run(str(tmp_path / "nope"))


def test_summary_checks(tmp_path):
    d = synth.make_run(str(tmp_path / "r"))
    sp = os.path.join(d, "trace", "summary.json")
    _rewrite(sp, lambda s: s["metrics"]["bio_bytes"]["hist_log2"].append(5))
    with pytest.raises(ResultsError, match=r"sum\(hist_log2\)"):
        schema.load_run(d)
    d2 = synth.make_run(str(tmp_path / "r2"))
    os.unlink(os.path.join(d2, "trace", "summary.json"))
    with pytest.raises(ResultsError, match='tracer mode "summary"'):
        schema.load_run(d2)
    d3 = synth.make_run(str(tmp_path / "r3"), tracer_mode="off")
    assert schema.load_run(d3).summary is None


def test_empty_metric_is_valid(tmp_path):
    from analysis.stats import dist_from_values
    d = synth.make_run(str(tmp_path / "r"))
    _rewrite(os.path.join(d, "trace", "summary.json"),
             lambda s: s["metrics"].update(folio_latency_ns=dist_from_values([])))
    assert schema.load_run(d).summary["metrics"]["folio_latency_ns"]["count"] == 0


def test_resolve_forms(tmp_path):
    cmp = synth.make_cmp(str(tmp_path / "cmp"), reps=3)
    gs = schema.resolve(cmp)
    assert [g.label for g in gs] == ["stock", "patched"] and all(len(g.runs) == 3 for g in gs)
    (g,) = schema.resolve(cmp + ":patched")
    assert g.label == "patched" and [r.meta["rep"] for r in g.runs] == [1, 2, 3]
    # a plain directory of rep dirs (no cmp.json) groups by meta.json variant
    os.unlink(os.path.join(cmp, "cmp.json"))
    assert [g.label for g in schema.resolve(cmp)] == ["stock", "patched"]
    (g,) = schema.resolve(os.path.join(cmp, "stock"))
    assert len(g.runs) == 3
    (g,) = schema.resolve(os.path.join(cmp, "stock", "rep-02"))
    assert g.runs[0].meta["rep"] == 2
    with pytest.raises(ResultsError, match='no runs of variant "host-other"'):
        schema.resolve(cmp + ":host-other")
    with pytest.raises(ResultsError, match="holds several variants"):
        schema.resolve_one(cmp)
    with pytest.raises(ResultsError, match="no such file or directory"):
        schema.resolve(str(tmp_path / "does_not_exist"))


def test_resolve_empty_dir(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(ResultsError, match="not a wbtrace result"):
        schema.resolve(str(tmp_path / "e"))


def test_cmp_json_paths_stay_inside(tmp_path):
    cmp = synth.make_cmp(str(tmp_path / "cmp"), reps=3)
    _rewrite(os.path.join(cmp, "cmp.json"), lambda c: c["runs"]["stock"].append("../../etc"))
    with pytest.raises(ResultsError, match="must stay inside"):
        schema.resolve(cmp)


def test_cmp_variant_must_match_meta(tmp_path):
    cmp = synth.make_cmp(str(tmp_path / "cmp"), reps=3)
    _rewrite(os.path.join(cmp, "cmp.json"),
             lambda c: c["runs"].update(stock=c["runs"]["patched"]))
    with pytest.raises(ResultsError, match='lists it under "stock"'):
        schema.resolve(cmp)


def test_cli_writer_side(tmp_path, capsys):
    """new-cmp + write-meta (what a shell runner calls) produce dirs the readers accept."""
    from analysis.cli import main
    cmp = str(tmp_path / "cmp")
    assert main(["new-cmp", cmp, "--workload", "seqwrite", "--reps", "2"]) == 0
    plan = [l.split() for l in capsys.readouterr().out.splitlines()]
    assert [(v, r) for v, r, _ in plan] == [("stock", "1"), ("patched", "1"),
                                            ("patched", "2"), ("stock", "2")]
    for v, r, d in plan:
        synth.make_run(d, variant=v, rep=int(r))           # fio.json + summary.json
        os.unlink(os.path.join(d, "meta.json"))
        assert main(["write-meta", d, "--workload", "seqwrite", "--variant", v, "--rep", r,
                     "--kernel-release", "7.3.4-wbtrace", "--mkfs-options",
                     "-f -O extra_attr,compression", "--mount-options",
                     "compress_algorithm=lz4,compress_log_size=2",
                     "--started", "2025-11-27T02:00:00Z", "--finished", "2025-11-27T02:01:30Z",
                     "--verify", "fsck=pass", "--set", "host.accel=tcg",
                     "--set", "git.dirty=true"]) == 0
    capsys.readouterr()
    gs = schema.resolve(cmp)
    r = gs[1].runs[0]
    assert r.meta["duration_s"] == 90.0 and r.meta["host"]["accel"] == "tcg"
    assert r.meta["git"]["dirty"] is True and r.meta["verify"]["fsck"] == "pass"
    assert r.meta["probes"] == r.summary["probes"]           # taken from summary.json
    assert main(["new-cmp", cmp, "--workload", "seqwrite", "--reps", "2"]) == 2
    assert "already holds" in capsys.readouterr().err


@pytest.mark.parametrize("mutate,msg", [
    (lambda c: c.update(schema="wbtrace.cpu/9"), "wbtrace.cpu/9"),
    (lambda c: c.update(busy_ms=-1), "busy_ms must be a number >= 0"),
    (lambda c: c.update(busy_ms="lots"), "busy_ms must be a number >= 0"),
    (lambda c: c.update(cpus=0), "cpus must be an integer >= 1"),
    (lambda c: c.update(busy_ms=3000.0, elapsed_ms=1000.0), "exceeds 2 CPUs"),
])
def test_bad_guest_cpu(tmp_path, mutate, msg):
    d = synth.make_run(str(tmp_path / "r"), guest_cpu_ms_per_mib=100.0)
    assert schema.load_run(d).guest_cpu["busy_ms"] == 25600.0
    p = os.path.join(d, schema.GUEST_CPU_FILE)
    with open(p) as f:
        c = json.load(f)
    mutate(c)
    with open(p, "w") as f:
        json.dump(c, f)
    with pytest.raises(ResultsError, match=msg.replace("(", r"\(")):
        schema.load_run(d)
