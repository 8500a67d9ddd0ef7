"""tests/guest/tracecheck.py's per-pass checks (used by trace-passes.sh): the
latency phases and the priority-stop overlap pass on consistent synthetic
records and fail on the fault each is there to catch."""

import copy

import trace_passes
from tracecheck import Checks, lonely_priority_stops, phase_checks


def pass_with_folios(tid=7, t0=1_000_000, gaps=(100, 20, 30), writes=(50, 60, 70), tail=40):
    """A pass of three folio writes and the folio records it left."""
    t, folios = t0, []
    for i, (g, w) in enumerate(zip(gaps, writes)):
        t += g + w
        folios.append({"k": "folio", "tid": tid, "t": t, "in_cluster": False, "first": i == 0,
                       "gap_ns": g, "write_ns": w, "lat_ns": None if i == 0 else g + w})
    dur = t + tail - t0
    wp = {"k": "wp", "site": "f2fs_write_data_pages", "tid": tid, "t": t0 + dur, "dur_ns": dur,
          "clusters": 0, "setup_ns": gaps[0], "gap_ns": sum(gaps[1:]), "write_ns": sum(writes),
          "cluster_ns": 0, "tail_ns": tail}
    return [wp] + folios


def summary_of(ev):
    n_lat = sum(1 for e in ev if e["k"] == "folio" and e["lat_ns"] is not None)
    n_setup = sum(1 for e in ev if e["k"] == "folio" and e["first"])
    return {"metrics": {"folio_latency_ns": {"count": n_lat}, "pass_setup_ns": {"count": n_setup}}}


def run_checks(ev, s=None):
    check = Checks("t")
    phase_checks(check, s or summary_of(ev), ev)
    return check.failed


def test_consistent_phases_pass():
    ev = pass_with_folios() + pass_with_folios(tid=8, t0=5_000_000)
    assert run_checks(ev) == 0


def test_each_phase_fault_fails(capsys):
    base = pass_with_folios()
    faults = []
    broken = copy.deepcopy(base)
    broken[0]["tail_ns"] += 1                  # phases no longer sum to the pass
    faults.append(broken)
    broken = copy.deepcopy(base)
    broken[2]["write_ns"] += 5                 # a folio's write not in the pass's sum
    broken[2]["lat_ns"] += 5
    faults.append(broken)
    broken = copy.deepcopy(base)
    broken[2]["gap_ns"] += 5                   # a gap charged to the wrong pass
    broken[2]["lat_ns"] += 5
    faults.append(broken)
    broken = copy.deepcopy(base)
    broken[1]["lat_ns"] = 150                  # a first folio with a loop cycle
    faults.append(broken)
    broken = copy.deepcopy(base)
    broken[3]["lat_ns"] = 1                    # lat != gap + write
    faults.append(broken)
    for ev in faults:
        assert run_checks(ev, summary_of(base)) > 0, ev
    s = summary_of(base)
    s["metrics"]["folio_latency_ns"]["count"] += 1     # summary disagrees with the records
    assert run_checks(base, s) > 0


def span_record(t0, dur, sync, end="range_end"):
    return {"k": "wp", "t": t0 + dur, "dur_ns": dur, "sync": sync, "end": end, "ino": 1,
            "tid": 1, "cpu": 0, "why": "fsync" if sync == "all" else "background", "written": 0}


def test_a_priority_stop_needs_an_overlapping_integrity_pass():
    alls = [span_record(1000, 500, "all")]
    inside = span_record(1200, 10, "none", "priority_stop")
    assert lonely_priority_stops(alls + [inside]) == []
    lone = span_record(5000, 10, "none", "priority_stop")
    out = lonely_priority_stops(alls + [inside, lone])
    assert len(out) == 1 and out[0]["nearest_all_gap_us"] == (5000 - 1500) // 1000


def test_every_round_of_the_script_has_its_function():
    assert sorted(trace_passes.ROUNDS) == ["compr", "hist", "kprobe", "stream", "tponly"]
