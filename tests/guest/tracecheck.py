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
                    "written": e["written"], "start_us": (s0 - t0) // 1000, "dur_us": e["dur_ns"] // 1000,
                    "nearest_all_gap_us": None if g is None else g // 1000,
                    "nearest_all": None if a is None else
                    {"ino": a["ino"], "tid": a["tid"], "cpu": a["cpu"], "why": a["why"],
                     "start_us": (span(a)[0] - t0) // 1000, "dur_us": a["dur_ns"] // 1000}})
    return out
