"""`bench --until-decided N` (workloads/bench-series.sh): per workload, `compare WORKLOAD
--until-decided N` (runner/until_decided.py adds interleaved reps in that workload's boot
until its gate decides or N reps a side), with one thresholds file for the whole bench;
then one verdict per workload and the bench's.

Multiplicity: the gate corrects with Holm over the metrics of one workload.  Across W
workloads the bench splits alpha (Bonferroni): each workload is gated at alpha / W, so
that identical code is called a regression somewhere in the bench with probability at
most alpha (per look; the until-decided loop's looks are not corrected, as for compare).

  python3 -m runner.bench thresholds OUT --workloads W [--base FILE]
      writes the bench's thresholds file: BASE (default analysis/thresholds.json) with
      alpha / W.
  python3 -m runner.bench verdicts CMP_DIR...
      one line per workload (verdict, reps a side, reps added, why the loop stopped) and
      the bench's verdict; exit 0 all pass, 1 a regression or a failed comparison, 2
      otherwise (inconclusive, cannot judge)."""

import argparse
import json
import os
import sys

from analysis import gate, schema

from .paths import TOP

FAILED = "failed"
# Worst first: the bench's verdict is the worst of its workloads'.
RANK = {FAILED: 0, gate.REGRESSION: 1, gate.CANNOT_JUDGE: 2, gate.INCONCLUSIVE: 3,
        gate.PASS: 4}
EXIT = {FAILED: 1, gate.REGRESSION: 1, gate.CANNOT_JUDGE: 2, gate.INCONCLUSIVE: 2,
        gate.PASS: 0}


def bench_thresholds(n_workloads: int, base=None) -> dict:
    """The thresholds document for a bench of n_workloads: `base`'s (checked by the gate's
    own reader) with alpha / n_workloads."""
    if n_workloads < 1:
        raise ValueError("a bench has at least one workload")
    path = base or gate.DEFAULT_THRESHOLDS
    gate.load_thresholds(path)                   # refuses a bad file with its reason
    with open(path) as f:
        doc = json.load(f)
    alpha = doc.get("alpha", 0.05)
    doc["alpha"] = alpha / n_workloads
    doc["_doc"] = (f"bench of {n_workloads} workload(s): {os.path.relpath(path, TOP)} "
                   f"with alpha {alpha:g} / {n_workloads} (Bonferroni across workloads, Holm "
                   f"within each). " + str(doc.get("_doc", "")))
    return doc


def workload_verdict(cmp_dir: str, compare_rc=None) -> dict:
    """One workload's outcome from its comparison dir: the final gate (DIR/gate.json,
    written by compare --until-decided) and the loop (cmp.json "until_decided")."""
    out = {"dir": cmp_dir, "workload": os.path.basename(os.path.normpath(cmp_dir)),
           "status": FAILED, "reps": None, "added_reps": None, "stopped": None, "why": None,
           "regressions": [], "compare_rc": compare_rc}
    try:
        cmp = schema.load_cmp(cmp_dir)
    except schema.WbtraceError as e:
        out["why"] = f"no comparison: {e}"
        return out
    out["workload"] = cmp["workload"]
    rec = cmp.get("until_decided")
    if not rec:
        out["why"] = "the comparison did not record its until-decided loop (it failed early)"
        return out
    out.update(reps=rec["reps"], added_reps=rec["added_reps"], stopped=rec["stopped"],
               why=rec["why"])
    if rec["failed_reps"]:
        out["why"] = f"{rec['failed_reps']} rep(s) failed; {rec['why']}"
        return out
    try:
        g = schema.load_json(os.path.join(cmp_dir, "gate.json"), "gate")
    except schema.WbtraceError as e:
        out["why"] = f"no final gate verdict: {e}"
        return out
    out["status"] = g["status"]
    out["regressions"] = [c["metric"] for c in g["checks"] if c["status"] == gate.REGRESSION]
    return out


def bench_verdict(verdicts) -> str:
    return min((v["status"] for v in verdicts), key=RANK.__getitem__) if verdicts else FAILED


def format_verdicts(verdicts) -> str:
    lines = ["| workload | verdict | reps a side | added | stopped | why |",
             "|---|---|---|---|---|---|"]
    for v in verdicts:
        what = v["status"] + (f" ({', '.join(v['regressions'])})" if v["regressions"] else "")
        lines.append(f"| {v['workload']} | {what} | {v['reps'] if v['reps'] is not None else '-'} "
                     f"| {v['added_reps'] if v['added_reps'] is not None else '-'} | "
                     f"{v['stopped'] or '-'} | {v['why'] or ''} |")
    lines.append("")
    lines.append(f"bench verdict: {bench_verdict(verdicts)} (the worst of the workloads': "
                 f"failed, regression, cannot judge, inconclusive, pass)")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="runner.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("thresholds")
    t.add_argument("out")
    t.add_argument("--workloads", type=int, required=True)
    t.add_argument("--base", default=None)
    v = sub.add_parser("verdicts")
    v.add_argument("dirs", nargs="+", metavar="CMP_DIR")
    v.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if args.cmd == "thresholds":
        try:
            doc = bench_thresholds(args.workloads, args.base)
        except (ValueError, schema.WbtraceError) as e:
            print(f"wbtrace bench: error: {e}", file=sys.stderr)
            return 2
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        return 0
    verdicts = [workload_verdict(d) for d in args.dirs]
    sys.stdout.write(format_verdicts(verdicts))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"schema": "wbtrace.bench-verdicts/1", "status": bench_verdict(verdicts),
                       "workloads": verdicts}, f, indent=1)
    return EXIT[bench_verdict(verdicts)]


if __name__ == "__main__":
    sys.exit(main())
