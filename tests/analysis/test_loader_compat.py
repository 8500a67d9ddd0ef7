"""A trace/summary.json shaped like loader/output.c writes it (wb_summary_json) must load,
yield metrics, and its validity flag must reach the gate."""

import json
import os

import synth
from analysis import metrics, schema
from analysis.cli import main


def _dist(unit, count, slots):
    if not count:
        return {"unit": unit, "count": 0, "sum": 0, "mean": None, "p50": None, "p90": None,
                "p99": None, "p999": None, "pct_method": "hist_log2_upper", "hist_log2": []}
    return {"unit": unit, "count": count, "sum": 4096 * count, "min": 1000, "max": 70000,
            "mean": 4096.0, "p50": 4095, "p90": 8191, "p99": 65535, "p999": 65535,
            "pct_method": "hist_log2_upper", "hist_log2": slots}


def loader_summary(valid=True, variant="stock"):
    h = [0] * 9 + [count for count in (10, 20, 30, 40)]   # 100 values in slots 9..12
    return {
        "schema": "wbtrace.trace/1", "tool": "wbtrace-trace", "version": "0.1",
        "kernel": "7.3.4-wbtrace", "module_build_id": "ab12", "module_srcversion": None,
        "variant": variant, "mode": "hist",
        "probes": {"writepages": "fexit", "folio": "fentry", "bio": "tracepoint",
                   "compress": "off", "iter": "off"},
        "probe_sites": [{"probe": "folio", "target": "f2fs_write_single_data_page",
                         "kind": "function", "rank": 0, "status": "attached", "mode": "fentry",
                         "note": None}],
        "drops": 0, "drops_by_kind": {"wp": 0, "folio": 0, "bio": 0, "cmp": 0},
        "events": 0, "drop_pct": 0.0, "max_drop_pct": 0.1, "valid": valid,
        "invalid_reason": None if valid else "probe folio missing",
        "duration_ns": 123, "interrupted": False, "command": ["fio", "x.fio"],
        "command_exit": 0, "filters": {}, "counts": {"writepages": 4, "folios_written": 100},
        "bio": {"data": {"count": 3, "bytes": 400000, "hot": 0, "warm": 3, "cold": 0,
                         "ipu": 0, "opu": 3}},
        "metrics": {
            "writepages_ns": _dist("ns", 100, h), "loop_ns": _dist("ns", 100, h),
            "folio_latency_ns": _dist("ns", 100, h), "folio_write_ns": _dist("ns", 0, []),
            "folio_handout_ns": _dist("ns", 0, []), "bio_bytes": _dist("bytes", 100, h),
            "cluster_ns": _dist("ns", 0, []), "compress_ns": _dist("ns", 0, []),
            "writepages_folios": _dist("folios", 100, h),
            "compress": {"clusters": 0, "raw_bytes": 0, "compressed_bytes": 0, "ratio": None,
                         "not_compressed": 0, "written_blocks": 0, "saved_blocks": 0,
                         "algorithm": None, "cluster_pages": None},
        },
    }


def _put(d, doc):
    with open(os.path.join(d, "trace", "summary.json"), "w") as f:
        json.dump(doc, f)


def test_loader_summary_loads(tmp_path):
    d = synth.make_run(str(tmp_path / "r"))
    _put(d, loader_summary())
    r = schema.load_run(d)
    m = metrics.run_metrics(r)
    assert m["trace.folio_latency_p99_ns"] == 65535
    assert m["trace.compress_ratio"] is None
    assert m["trace.loop_mean_ns"] == 4096.0            # extra metric picked up
    assert m["trace.writepages_mean_folios"] == 4096.0
    assert m["trace.folio_write_mean_ns"] is None         # count 0: no data, not zero
    assert metrics.metric_info("trace.loop_mean_ns").direction == 0
    assert metrics.mount_compress_config(r) == ("lz4", 4)  # nulls fall back to mount options


def test_tracer_invalid_flag_blocks_gate(tmp_path, capsys):
    for side, variant in (("a", "stock"), ("b", "patched")):
        for rep in (1, 2, 3):
            d = synth.make_run(str(tmp_path / side / f"rep-{rep}"), variant=variant, rep=rep)
            _put(d, loader_summary(valid=not (side == "b" and rep == 2), variant=variant))
    rc = main(["gate", str(tmp_path / "a"), str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert rc == 2 and "the tracer marked it invalid: probe folio missing" in out


def test_summary_variant_must_match_meta(tmp_path, capsys):
    d = synth.make_run(str(tmp_path / "r"), variant="patched")
    _put(d, loader_summary(variant="stock"))
    assert main(["validate", d]) == 2
    assert 'traced variant "stock" but meta.json says "patched"' in capsys.readouterr().err
