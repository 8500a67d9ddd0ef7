"""Shared by the tracer's guest tests (trace-e2e.sh, trace-filters.sh): read a
wbtrace-trace output directory and compare what it traced with ground truth
from elsewhere, one "ok"/"FAIL" line per check."""
import json
import sys


def load(d):
    """The summary and the event records of the output directory D."""
    with open(d + "/summary.json") as f:
        summary = json.load(f)
    with open(d + "/events.jsonl") as f:
        events = [json.loads(line) for line in f]
    return summary, events


class Checks:
    """check(ok, what, traced, truth) prints one line; exit() ends the
    script with status 1 if any check failed."""

    def __init__(self, label=""):
        self.prefix = f"{label}: " if label else ""
        self.failed = 0

    def __call__(self, ok, what, got, want):
        print(f"  {'ok  ' if ok else 'FAIL'} {self.prefix}{what}: traced {got}, truth {want}")
        self.failed += not ok

    def exit(self):
        sys.exit(1 if self.failed else 0)


def lonely_priority_stops(passes):
    """The priority_stop passes of PASSES ("wp" records) that overlap no
    WB_SYNC_ALL pass in time, each described with the nearest WB_SYNC_ALL
    pass (gap in microseconds, its inode and thread), for the failure line."""
    span = lambda e: (e["t"] - e["dur_ns"], e["t"])
    alls = [e for e in passes if e["sync"] == "all"]
    t0 = min((span(e)[0] for e in passes), default=0)
    out = []
    for e in passes:
        if e["end"] != "priority_stop":
            continue
        s0, s1 = span(e)
        gaps = [(max(span(a)[0] - s1, s0 - span(a)[1]), a) for a in alls]
        if any(g < 0 for g, _ in gaps):
            continue
        g, a = min(gaps, key=lambda x: x[0], default=(None, None))
        out.append({"ino": e["ino"], "tid": e["tid"], "cpu": e["cpu"], "why": e["why"],
                    "written": e["written"], "sync_waiters_at_exit": e.get("sync_waiters"), "start_us": (s0 - t0) // 1000, "dur_us": e["dur_ns"] // 1000,
                    "nearest_all_gap_us": None if g is None else g // 1000,
                    "nearest_all": None if a is None else
                    {"ino": a["ino"], "tid": a["tid"], "cpu": a["cpu"], "why": a["why"],
                     "start_us": (span(a)[0] - t0) // 1000, "dur_us": a["dur_ns"] // 1000}})
    return out


def phase_checks(check, summary, events):
    """The latency phases (loader/README.md "Latency phases") of the pass records
    against the pass time and against the folio records of the same thread inside
    each pass: setup + gap + write + cluster + tail == dur_ns exactly; the pass's
    write time is the sum of its folios' (raw writes inside a cluster excluded);
    its gaps are theirs when it wrote no cluster; lat_ns = gap + write, absent for
    the first folio of a pass; the summary's counts match the records."""
    passes = [e for e in events if e["k"] == "wp" and e["site"] == "f2fs_write_data_pages"
              and e["setup_ns"] is not None]
    folios = [e for e in events if e["k"] == "folio"]
    check(len(passes) > 0, "passes with latency phases", len(passes), "> 0")
    parts = ("setup_ns", "gap_ns", "write_ns", "cluster_ns", "tail_ns")
    bad = [{k: e[k] for k in ("dur_ns",) + parts} for e in passes
           if sum(e[k] for k in parts) != e["dur_ns"]]
    check(not bad, "phases sum to the pass time (setup + gap + write + cluster + tail == dur_ns)",
          bad[:3], "every pass")
    by_tid = {}
    for f in folios:
        by_tid.setdefault(f["tid"], []).append(f)
    wmis, gmis, smis, checked = [], [], [], 0
    for p in passes:
        t0, t1 = p["t"] - p["dur_ns"], p["t"]
        fs = [f for f in by_tid.get(p["tid"], []) if t0 <= f["t"] <= t1 and not f["in_cluster"]]
        if not fs:
            continue
        checked += 1
        w = sum(f["write_ns"] for f in fs)
        if w != p["write_ns"]:
            wmis.append((p["write_ns"], w))
        first = [f for f in fs if f["first"]]
        if p["clusters"] == 0:
            g = sum(f["gap_ns"] for f in fs if not f["first"])
            if g != p["gap_ns"]:
                gmis.append((p["gap_ns"], g))
            if len(first) != 1 or first[0]["gap_ns"] != p["setup_ns"]:
                smis.append((p["setup_ns"], [f["gap_ns"] for f in first]))
    check(checked > 0 and not wmis, "a pass's write time == the sum of its folios' write_ns",
          (checked, wmis[:3]), "equal")
    check(not gmis, "a pass's gaps == its folios' gap_ns (first folio: the set-up)", gmis[:3], "equal")
    check(not smis, "exactly one first folio per pass, its gap == the pass's setup_ns", smis[:3], "equal")
    lat_bad = [f for f in folios if f["lat_ns"] is not None and
               (f["first"] or f["lat_ns"] != f["gap_ns"] + f["write_ns"])]
    first_lat = [f for f in folios if f["first"] and f["lat_ns"] is not None]
    check(not lat_bad and not first_lat, "lat_ns == gap_ns + write_ns, absent for a first folio",
          (len(lat_bad), len(first_lat)), (0, 0))
    m = summary["metrics"]
    n_lat = sum(1 for f in folios if f["lat_ns"] is not None)
    n_setup = sum(1 for f in folios if f["first"] and f["gap_ns"] is not None)
    check(m["folio_latency_ns"]["count"] == n_lat and m["pass_setup_ns"]["count"] == n_setup,
          "summary folio_latency_ns / pass_setup_ns counts == the records'",
          (m["folio_latency_ns"]["count"], m["pass_setup_ns"]["count"]), (n_lat, n_setup))
