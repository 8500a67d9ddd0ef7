#!/usr/bin/python3
"""Did the writeback we meant to measure happen?  Per variant of a comparison dir.

The demo exists to compare writeback passes, not one fsync: this reads the tracer's
per-pass records (trace/summary.json "passes", analysis/SCHEMA.md §3) of every rep
and requires, on each variant, background passes (WB_SYNC_NONE, for_background) that
were given a budget (nr_to_write > 0) and at least one integrity pass (WB_SYNC_ALL).
Passes that ended on their budget and priority stops (an integrity writer waiting)
are shown, not required: whether they happen depends on timing.

    wbpasses.py CMP_DIR [--json FILE]
Exit status: 0 every variant passed the check; 1 a variant did not (one line says
which and why); 2 bad input (no comparison dir, a rep without per-pass records).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from analysis import schema  # noqa: E402  (reads and validates the result dirs)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
WHY = schema.PASS_CLASSES["by_why"]
ENDS = schema.PASS_CLASSES["by_end"]


class InputError(Exception):
    pass


def rep_passes(run):
    """The "passes" object of one rep (a schema.Run), validated by schema.load_run."""
    where = os.path.join(run.path, schema.SUMMARY_FILE)
    if run.summary is None:
        raise InputError(f"{run.path}: not traced (tracer mode off): no per-pass records")
    passes = run.summary.get("passes")
    if not isinstance(passes, dict):
        raise InputError(f"{where}: no per-pass records (\"passes\"); is the tracer up to date?")
    if not passes["complete"]:
        raise InputError(f"{where}: per-pass records incomplete (probe mode "
                         f"{run.summary.get('probes', {}).get('writepages', '?')}): cannot check")
    return passes


def add_up(passes_list):
    """Totals over reps: passes by reason class and by end, budgets of background passes."""
    tot = {"reps": len(passes_list), "total": 0, "all": 0, "none": 0,
           "why": dict.fromkeys(WHY, 0), "end": dict.fromkeys(ENDS, 0),
           "none_nr_given_max": 0}
    for p in passes_list:
        tot["total"] += int(p.get("total") or 0)
        tot["all"] += int((p.get("by_sync") or {}).get("all") or 0)
        tot["none"] += int((p.get("by_sync") or {}).get("none") or 0)
        for k in WHY:
            tot["why"][k] += int((p.get("by_why") or {}).get(k) or 0)
        for k in ENDS:
            tot["end"][k] += int((p.get("by_end") or {}).get(k) or 0)
        given = (p.get("none_nr_given") or {}).get("max") or 0
        tot["none_nr_given_max"] = max(tot["none_nr_given_max"], int(given))
    return tot


def judge(tot):
    """Why this variant fails the check ([] = it passes)."""
    why = []
    if tot["why"]["background"] == 0:
        why.append("no background (WB_SYNC_NONE) writeback pass: the flusher never wrote; "
                   "the workload stayed under the dirty limits")
    elif tot["none_nr_given_max"] <= 0:
        why.append("background passes were given no budget (nr_to_write)")
    if tot["all"] == 0:
        why.append("no integrity (WB_SYNC_ALL) pass")
    return why


def check(cmp_dir):
    """{variant: {"totals": ..., "problems": [...]}} for a comparison dir."""
    if not schema.is_cmp_dir(cmp_dir):
        raise InputError(f"{cmp_dir}: not a comparison dir (no {schema.CMP_FILE})")
    try:
        groups = schema.resolve(cmp_dir)
    except schema.ResultsError as e:
        raise InputError(str(e)) from None
    out = {}
    for g in groups:
        tot = add_up([rep_passes(r) for r in g.runs])
        out[g.variant] = {"totals": tot, "problems": judge(tot)}
    return out


def table(result):
    rows = [("variant", "reps", "passes", "background", "kupdate", "fsync/sync", "other",
             "ended: budget", "priority stop", "range end", "error", "max budget")]
    for v, r in result.items():
        t = r["totals"]
        rows.append((v, t["reps"], t["total"], t["why"]["background"], t["why"]["kupdate"],
                     t["why"]["fsync"] + t["why"]["sync"], t["why"]["other"], t["end"]["budget"],
                     t["end"]["priority_stop"], t["end"]["range_end"], t["end"]["error"],
                     t["none_nr_given_max"]))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in rows)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="wbpasses", description=__doc__.split("\n\n")[0])
    ap.add_argument("cmp_dir", metavar="CMP_DIR")
    ap.add_argument("--json", metavar="FILE", help="also write the totals and verdicts as JSON")
    args = ap.parse_args(argv)
    try:
        result = check(args.cmp_dir)
    except InputError as e:
        print(f"wbpasses: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"schema": "wbtrace.passes-check/1", "variants": result}, f, indent=2)
    bad = {v: r["problems"] for v, r in result.items() if r["problems"]}
    for v, problems in bad.items():
        print(f"wbpasses: {v}: {'; '.join(problems)}", file=sys.stderr)
    if not bad:
        print(f"writeback check: background passes with a budget and an integrity pass on "
              f"{' and '.join(result)}")
    return EXIT_FAIL if bad else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
