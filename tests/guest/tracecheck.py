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
