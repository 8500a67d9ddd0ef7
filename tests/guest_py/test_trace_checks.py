"""tests/guest/trace_e2e.py, trace_filters.py, trace_probes.py: the checks of
the tracer's output against ground truth pass on a consistent synthetic run,
and each fails on the fault it is there to catch."""
import copy
import json

import pytest

import trace_e2e
import trace_filters
import trace_probes
from tracecheck import Checks

PAGES = 16
SIZE = PAGES * 4096
INO_P, INO_T = 11, 12


def keyed_dists(ev):
    """The summary's metrics_by_key of records EV (count, sum, exact p99 per key)."""
    out = {}
    for name, keyed in trace_e2e.record_samples(ev).items():
        out[name] = {k: {"count": len(v), "sum": sum(v), "p99": sorted(v)[-(-99 * len(v) // 100) - 1]}
                     for k, v in keyed.items()}
    return out


def stream_run(variant):
    """A stream-mode run of a 64 KiB plain file and a 64 KiB text file
    (4 clusters of 4 pages, each compressed into 1 block), one WB_SYNC_NONE pass each."""
    ho = 1000 if variant == "patched" else None   # no hand-out: null
    ev = [{"k": "folio", "ino": INO_P, "outcome": "written", "size": 4096, "idx": i, "handout_ns": ho,
           "write_ns": 100 + i, "gap_ns": 10 + i, "lat_ns": None if i == 0 else 110 + 2 * i,
           "first": i == 0, "sync": "none", "io": "opu", "compr": False}
          for i in range(PAGES)]
    ev += [{"k": "cmp", "ino": INO_T, "outcome": "compressed", "cblocks": 1, "nr_rpages": 4,
            "no_exit": False, "dur_ns": 5000 + i, "sync": "none"} for i in range(4)]
    ev += [{"k": "wp", "ino": INO_P, "written": PAGES, "no_exit": False, "sync": "none", "compr": False,
            "dur_ns": 90000},
           {"k": "wp", "ino": INO_T, "written": 0, "no_exit": False, "sync": "none", "compr": True,
            "dur_ns": 30000}]
    mk = keyed_dists(ev)
    s = {"valid": True, "drops": 0, "events": len(ev),
         "counts": {"folio_bytes_written": SIZE, "compr_written_block": 4, "compr_saved_block": 12,
                    "handouts": PAGES if variant == "patched" else 0},
         "bio": {"data": {"bytes": SIZE + 4 * 4096, "ipu": 0}, "node": {"bytes": 8192}},
         "metrics": {"compress": {"ratio": 4.0}, "bio_bytes": {"mean": 40960},
                     "folio_latency_ns": {"count": PAGES - 1, "pct_method": "exact", "p50": 10, "p90": 20,
                                          "p99": 30, "p999": 31, "max": 40}},
         "metrics_by_key": mk,
         "passes": {"by_sync": {"none": 2, "all": 0}, "complete": True},
         "probes": {"handout": "fexit", "folio": "fentry"}}
    for name, keyed in mk.items():
        if name != "folio_latency_ns":
            s["metrics"][name] = {"count": sum(d["count"] for d in keyed.values())}
    truth = dict(size=SIZE, ino_p=INO_P, ino_t=INO_T, disk_bytes=SIZE + 4 * 4096 + 8192, cw=4, cs=12)
    return s, ev, truth


def run_stream(capsys, variant, s, ev, **truth):
    check = Checks()
    trace_e2e.check_stream(check, s, ev, variant, **truth)
    return check.failed, [x for x in capsys.readouterr().out.splitlines() if x.startswith("  FAIL")]


@pytest.mark.parametrize("variant", ["stock", "patched"])
def test_stream_consistent_run_passes(capsys, variant):
    s, ev, truth = stream_run(variant)
    assert run_stream(capsys, variant, s, ev, **truth) == (0, [])


def test_stream_checks_fail(capsys):
    s, ev, truth = stream_run("patched")
    assert run_stream(capsys, "patched", s, ev, **dict(truth, disk_bytes=truth["disk_bytes"] + 4096)) == (
        1, ["  FAIL all f2fs write bios == /proc/diskstats sectors x 512: traced 90112, truth 94208"])
    # One folio of the plain file lost: its size, its indexes, the counter and the keyed
    # histograms of its write and of its pass's set-up disagree.
    failed, lines = run_stream(capsys, "patched", s, ev[1:], **truth)
    assert failed == 6 and lines[0] == "  FAIL events in summary == lines in events.jsonl: traced 22, truth 21"
    assert [x.split(":")[0] for x in lines[4:]] == [
        "  FAIL pass_setup_ns", "  FAIL folio_write_ns"]
    # The patched loop must hand out every folio; stock none.
    failed, lines = run_stream(capsys, "stock", s, ev, **truth)
    assert lines == ["  FAIL no writeback_iter hand-outs on f2fs (old loop): traced (16, 16), truth (0, 0)"]
    failed, lines = run_stream(capsys, "", s, ev, **truth)
    assert lines == ["  FAIL WBTRACE_VARIANT is stock or patched: traced , truth stock|patched"]
    # A sample under the wrong key (a folio write keyed as a WB_SYNC_ALL pass's), and keys
    # whose counts do not add up to the total.
    s2 = copy.deepcopy(s)
    fw = s2["metrics_by_key"]["folio_write_ns"]
    fw["all/opu/plain"] = {"count": 1, "sum": 100, "p99": 100}
    fw["none/opu/plain"]["count"] -= 1
    _, lines = run_stream(capsys, "patched", s2, ev, **truth)
    assert len(lines) == 1 and lines[0].startswith("  FAIL folio_write_ns: per key (count, sum, p99)")
    s2["metrics"]["folio_write_ns"]["count"] += 1
    _, lines = run_stream(capsys, "patched", s2, ev, **truth)
    assert lines[0] == "  FAIL folio_write_ns: keyed counts sum to the total: traced 16, truth 17"
    s2 = copy.deepcopy(s)
    s2["probe_sites"] = [{"target": "f2fs_compress_pages_start", "status": "attached"},
                         {"target": "f2fs_compress_pages_end", "status": "failed"}]
    _, lines = run_stream(capsys, "patched", s2, ev, **truth)
    assert lines == ["  FAIL no probe site rejected by the verifier: traced ['f2fs_compress_pages_end'], "
                     "truth []"]
    s2 = copy.deepcopy(s)
    s2["passes"]["by_sync"] = {"none": 1, "all": 1}
    _, lines = run_stream(capsys, "patched", s2, ev, **truth)
    assert lines == ["  FAIL passes keyed sync=none == passes.by_sync: traced 2, truth 1",
                     "  FAIL passes keyed sync=all == passes.by_sync: traced 0, truth 1"]
    s2 = copy.deepcopy(s)
    s2["metrics"]["compress"]["ratio"] = None
    s2["drops"] = 3
    _, lines = run_stream(capsys, "patched", s2, ev, **truth)
    assert lines == ["  FAIL run valid, no drops: traced 3, truth 0",
                     "  FAIL compression ratio of text > 1.5: traced None, truth > 1.5"]


def filtered_summary(tp_only=False):
    n = PAGES
    return {"valid": True,
            "counts": {"folios_unknown": n if tp_only else 0, "folio_bytes_written": 0 if tp_only else SIZE,
                       "folios_ipu": 0, "folios_opu": 0 if tp_only else n, "folios_compressed_file": 0},
            "metrics": {"folio_write_ns": {"count": 0 if tp_only else n, "pct_method": "hist_loglin_upper",
                                           "hist_loglin": {"sub_bits": 5, "buckets": []}},
                        "folio_latency_ns": {"pct_method": "exact"}},
            "metrics_by_key": {"folio_write_ns": {} if tp_only else {"none/opu/plain": {"count": n}},
                               "writepages_ns": {} if tp_only else {"none/na/plain": {"count": 2},
                                                                    "all/na/plain": {"count": 1}}},
            "passes": {"complete": not tp_only, "by_sync": {"none": 2, "all": 1}},
            "probes": {"folio": "tracepoint" if tp_only else "kprobe"}}


def test_filtered(capsys):
    for tp_only in (False, True):
        check = Checks("hist")
        trace_e2e.check_filtered(check, filtered_summary(tp_only), SIZE, "hist")
        assert check.failed == 0
    s = filtered_summary()
    s["counts"]["folio_bytes_written"] -= 4096
    check = Checks("kprobe")
    trace_e2e.check_filtered(check, s, SIZE, "kprobe")
    assert check.failed == 1
    assert "  FAIL kprobe: folio bytes written: traced 61440, truth 65536" in capsys.readouterr().out
    # keys against the kernel's counters: an IPU write keyed opu; a pass keyed by the wrong sync
    s = filtered_summary()
    s["counts"]["folios_ipu"], s["counts"]["folios_opu"] = 1, PAGES - 1
    s["metrics_by_key"]["writepages_ns"]["all/na/plain"]["count"] = 0
    check = Checks("hist")
    trace_e2e.check_filtered(check, s, SIZE, "hist")
    out = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  FAIL")]
    assert out == ["  FAIL hist: folio writes keyed ipu == counts.folios_ipu: traced 0, truth 1",
                   "  FAIL hist: folio writes keyed opu == counts.folios_opu: traced 16, truth 15",
                   "  FAIL hist: passes keyed sync=all == passes.by_sync: traced 0, truth 1"]
    s = filtered_summary()
    s["metrics"]["folio_write_ns"]["pct_method"] = "hist_log2_upper"
    check = Checks("hist")
    trace_e2e.check_filtered(check, s, SIZE, "hist")
    assert check.failed == 1


def test_drops(tmp_path, capsys):
    good = {"drops": 10, "valid": False, "invalid_reason": "1001 events dropped", "events": 5,
            "counts": {"folio_bytes_written": 4 << 20}}
    assert trace_e2e.check_drops(good)
    for bad in ({"drops": 0}, {"valid": True}, {"invalid_reason": None},
                {"counts": {"folio_bytes_written": 4 << 19}}):
        assert not trace_e2e.check_drops(dict(good, **bad))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "  ok   drops: 10 dropped, 5 delivered, valid=False, kernel folio bytes 4194304 (truth 4194304)"
    assert all(x.startswith("  FAIL drops:") for x in out[1:])
    (tmp_path / "d.json").write_text(json.dumps(good))
    assert trace_e2e.main(["trace_e2e.py", "drops", str(tmp_path / "d.json")]) == 0


def ipu_run():
    ev = [{"k": "folio", "ino": 5, "outcome": "written", "size": 4096, "io": "ipu"} for _ in range(PAGES)]
    ev += [{"k": "bio", "type": "data", "io": "ipu", "bytes": SIZE // 2} for _ in range(2)]
    s = {"valid": True, "drops": 0, "bio": {"data": {"ipu": 2}},
         "counts": {"folios_ipu": PAGES, "folios_opu": 0}}
    return s, ev


def test_ipu(capsys):
    s, ev = ipu_run()
    check = Checks("ipu")
    trace_filters.check_ipu(check, s, ev, 5, SIZE, PAGES)
    assert check.failed == 0
    ev[0]["io"] = "opu"
    ev.append({"k": "bio", "type": "data", "io": "opu", "bytes": 4096})
    check = Checks("ipu")
    trace_filters.check_ipu(check, s, ev, 5, SIZE, PAGES)
    out = capsys.readouterr().out
    assert check.failed == 2
    assert "  FAIL ipu: every written folio tagged ipu: traced ['ipu', 'opu'], truth ['ipu']" in out
    assert "  FAIL ipu: no OPU data bios: traced 4096, truth 0" in out


def not_worth_run():
    ev = [{"k": "cmp", "ino": 6, "outcome": "not_worth", "saved": 0, "nr_rpages": 4} for _ in range(PAGES // 4)]
    ev += [{"k": "folio", "ino": 6, "outcome": "written", "size": 4096, "in_cluster": True} for _ in range(PAGES)]
    s = {"valid": True, "drops": 0, "bio": {"data": {"bytes": SIZE}}, "metrics": {"compress": {"ratio": None}},
         "counts": {"clusters_not_worth": PAGES // 4, "clusters_compressed": 0, "compr_saved_block": 0,
                    "compr_written_block": PAGES, "clusters_compress_tried": PAGES // 4}}
    return s, ev


def test_not_worth(capsys):
    s, ev = not_worth_run()
    check = Checks("not-worth")
    trace_filters.check_not_worth(check, s, ev, 6, SIZE, PAGES, 0)
    assert check.failed == 0
    ev[0].update(outcome="compressed", saved=3)
    check = Checks("not-worth")
    trace_filters.check_not_worth(check, s, ev, 6, SIZE, PAGES, 3)
    out = capsys.readouterr().out
    assert check.failed == 3
    assert "  FAIL not-worth: every cluster not_worth: traced ['compressed', 'not_worth'], truth ['not_worth']" in out
    assert "  FAIL not-worth: compr_saved_block (sysfs delta, must be 0): traced 0, truth 3" in out


def filtered_events(pid, ino, size):
    ev = [{"k": "folio", "pid": pid, "ino": ino, "outcome": "written", "size": 4096} for _ in range(size // 4096)]
    return ev + [{"k": "wp", "pid": pid, "ino": ino, "written": size // 4096}]


def test_pid_and_cgroup_filters(tmp_path, capsys):
    pa, pb, ia, ib = 100, 200, 21, 22
    for sub, ev in (("fp", filtered_events(pa, ia, 4 << 20)), ("fc", filtered_events(pb, ib, 6 << 20))):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "summary.json").write_text(json.dumps({"valid": True, "drops": 0}))
        (tmp_path / sub / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ev))
    (tmp_path / "fh.json").write_text(json.dumps({"counts": {"folio_bytes_written": 6 << 20}}))
    args = ["trace_filters.py", "filters", str(tmp_path), str(pa), str(pb), str(ia), str(ib)]
    with pytest.raises(SystemExit) as e:
        trace_filters.main(args)
    assert e.value.code == 0
    # An event of the other writer in the -p A run: two checks fail.
    with open(tmp_path / "fp" / "events.jsonl", "a") as f:
        f.write(json.dumps({"k": "folio", "pid": pb, "ino": ib, "outcome": "written", "size": 4096}) + "\n")
    with pytest.raises(SystemExit) as e:
        trace_filters.main(args)
    assert e.value.code == 1
    out = capsys.readouterr().out
    assert "  FAIL -p A: every event from the writer's pid: traced [100, 200], truth [100]" in out
    assert "  FAIL -p A: filtered-out writer: events of its inode: traced 1, truth 0" in out
    check = Checks()
    trace_filters.check_hist_b(check, {"counts": {"folio_bytes_written": 10 << 20}})
    assert check.failed == 1


def test_probes_summary_checks(tmp_path, capsys):
    a = {"probes": {"folio": "fentry", "bio": "tracepoint"},
         "probe_sites": [{"target": "f2fs_write_cache_folios", "status": "attached"},
                         {"target": "f2fs_write_cache_pages", "status": "absent"}]}
    b = copy.deepcopy(a)
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    main = trace_probes.main
    assert main(["tp", "holds", str(tmp_path / "a.json"),
                 "all(s['probes'][p] in ('fentry', 'tracepoint') for p in ('folio', 'bio'))"]) == 0
    assert main(["tp", "holds", str(tmp_path / "a.json"),
                 "any(x['target'] == 'f2fs_write_cache_pages' and x['status'] == 'attached' for x in s['probe_sites'])"]) == 1
    assert main(["tp", "same-sites", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    b["probe_sites"][1]["status"] = "attached"
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert main(["tp", "same-sites", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 1
    assert main(["tp", "probes", str(tmp_path / "a.json")]) == 0
    assert capsys.readouterr().out == "{'folio': 'fentry', 'bio': 'tracepoint'}\n"
    main(["tp", "sites", str(tmp_path / "a.json")])
    assert capsys.readouterr().out.splitlines()[1] == "     {'target': 'f2fs_write_cache_folios', 'status': 'attached'}"
