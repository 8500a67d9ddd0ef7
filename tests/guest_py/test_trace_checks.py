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


def stream_run(variant):
    """A stream-mode run of a 64 KiB plain file and a 64 KiB text file
    (4 clusters of 4 pages, each compressed into 1 block)."""
    ho = 1000 if variant == "patched" else None   # no hand-out: null
    ev = [{"k": "folio", "ino": INO_P, "outcome": "written", "size": 4096, "idx": i, "handout_ns": ho}
          for i in range(PAGES)]
    ev += [{"k": "cmp", "ino": INO_T, "outcome": "compressed", "cblocks": 1, "nr_rpages": 4} for _ in range(4)]
    ev += [{"k": "wp", "ino": INO_P, "written": PAGES}]
    s = {"valid": True, "drops": 0, "events": len(ev),
         "counts": {"folio_bytes_written": SIZE, "compr_written_block": 4, "compr_saved_block": 12,
                    "handouts": PAGES if variant == "patched" else 0},
         "bio": {"data": {"bytes": SIZE + 4 * 4096, "ipu": 0}, "node": {"bytes": 8192}},
         "metrics": {"compress": {"ratio": 4.0}, "bio_bytes": {"mean": 40960},
                     "folio_latency_ns": {"count": PAGES, "pct_method": "exact", "p50": 10, "p90": 20,
                                          "p99": 30, "p999": 31, "max": 40}},
         "probes": {"handout": "fexit", "folio": "fentry"}}
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
    # One folio of the plain file lost: its size, its indexes and the counter disagree.
    failed, lines = run_stream(capsys, "patched", s, ev[1:], **truth)
    assert failed == 4 and lines[0] == "  FAIL events in summary == lines in events.jsonl: traced 21, truth 20"
    # The patched loop must hand out every folio; stock none.
    failed, lines = run_stream(capsys, "stock", s, ev, **truth)
    assert lines == ["  FAIL no writeback_iter hand-outs on f2fs (old loop): traced (16, 16), truth (0, 0)"]
    failed, lines = run_stream(capsys, "", s, ev, **truth)
    assert lines == ["  FAIL WBTRACE_VARIANT is stock or patched: traced , truth stock|patched"]
    s2 = copy.deepcopy(s)
    s2["metrics"]["compress"]["ratio"] = None
    s2["drops"] = 3
    _, lines = run_stream(capsys, "patched", s2, ev, **truth)
    assert lines == ["  FAIL run valid, no drops: traced 3, truth 0",
                     "  FAIL compression ratio of text > 1.5: traced None, truth > 1.5"]


def filtered_summary(tp_only=False):
    n = PAGES
    return {"valid": True,
            "counts": {"folios_unknown": n if tp_only else 0, "folio_bytes_written": 0 if tp_only else SIZE},
            "metrics": {"folio_write_ns": {"count": 0 if tp_only else n},
                        "folio_latency_ns": {"pct_method": "exact"}},
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
