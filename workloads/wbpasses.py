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

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
WHY = ("background", "kupdate", "sync", "fsync", "other")
ENDS = ("range_end", "budget", "priority_stop", "error")


class InputError(Exception):
    pass


def load_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{what}{path}: {e}") from None


def rep_dirs(cmp_dir):
    """{variant: [rep dir, ...]} from cmp.json (analysis/SCHEMA.md §6)."""
    path = os.path.join(cmp_dir, "cmp.json")
    cmp = load_json(path, f"{cmp_dir}: not a comparison dir: ")
    runs = cmp.get("runs")
    if not isinstance(runs, dict) or not runs:
        raise InputError(f"{path}: no runs")
    return {v: [os.path.join(cmp_dir, d) for d in ds] for v, ds in runs.items()}


def rep_passes(run_dir):
    """The "passes" object of one rep's trace/summary.json."""
    path = os.path.join(run_dir, "trace", "summary.json")
    summary = load_json(path, "")
    passes = summary.get("passes")
    if not isinstance(passes, dict):
        raise InputError(f"{path}: no per-pass records (\"passes\"); is the tracer up to date?")
    if not passes.get("complete", False):
        raise InputError(f"{path}: per-pass records incomplete (probe mode "
                         f"{summary.get('probes', {}).get('writepages', '?')}): cannot check")
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
    out = {}
    for variant, dirs in rep_dirs(cmp_dir).items():
        tot = add_up([rep_passes(d) for d in dirs])
        out[variant] = {"totals": tot, "problems": judge(tot)}
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
