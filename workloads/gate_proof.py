"""The gate's proof runs (issue 14, item 7): how often stock against stock is called a
regression (false regressions), and how often the canary (stock plus a known extra cost
per folio, tests/canary/) is (detection), each with an exact 95 % interval.

workloads/gate-proof.sh runs the trials; this module gates and tallies them:

  gate_proof.py trial --kind aa|canary --dir TRIAL_DIR --rc RC [--seconds S]
      aa:     TRIAL_DIR/run is one `./wbtrace run W --variant stock --reps 2R`; its odd reps
              are side A, its even reps side B (interleaved in time, one boot, as compare's
              A B B A ... is), gated as BASELINE CANDIDATE;
      canary: TRIAL_DIR/run is one `./wbtrace compare W --baseline stock --candidate canary`.
      Writes TRIAL_DIR/gate.json (wbtrace.gate/1) and TRIAL_DIR/trial.json; prints one line.
  gate_proof.py tally DIR [--json FILE]
      One line per trial and the two rates with Clopper-Pearson intervals (Markdown).

A trial whose run failed (a rep failed verification or the workload, the boot failed) has
no verdict: it is listed and counted apart, never as a pass or a regression."""

import argparse
import glob
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from analysis import gate, schema  # noqa: E402

TRIAL_FILE = "trial.json"
TRIAL_SCHEMA = "wbtrace.gate-proof-trial/1"
KINDS = ("aa", "canary")
# The targets: stock vs stock called a regression in at most 5 % of runs; the
# canary in at least 90 %.
FALSE_REGRESSION_TARGET = 0.05
DETECTION_TARGET = 0.90
CONF = 0.95
SHOWN = ("sys.cpu_ms_per_MiB", "fio.bw_MiBps")   # per-trial deltas the tally lists


# ----------------------------------------------------------------------------- intervals

def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return math.fsum(math.comb(n, i) * p ** i * (1.0 - p) ** (n - i) for i in range(k + 1))


def _solve(f, lo=0.0, hi=1.0):
    """The p in [lo, hi] where the decreasing function f crosses 0 (bisection)."""
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def clopper_pearson(k: int, n: int, conf: float = CONF):
    """Exact (Clopper-Pearson) two-sided interval for k successes in n trials: the p whose
    binomial tails hold (1 - conf) / 2 each.  Conservative: covers at least `conf`."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k} n={n}")
    a = (1.0 - conf) / 2.0
    lo = 0.0 if k == 0 else _solve(lambda p: a - (1.0 - binom_cdf(k - 1, n, p)))
    hi = 1.0 if k == n else _solve(lambda p: binom_cdf(k, n, p) - a)
    return lo, hi


def wilson(k: int, n: int, conf: float = CONF):
    """Wilson score interval (for reference: narrower, not guaranteed to cover)."""
    if n <= 0:
        raise ValueError("n must be > 0")
    z = _z(conf)
    ph = k / n
    den = 1.0 + z * z / n
    mid = (ph + z * z / (2 * n)) / den
    half = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def _z(conf):
    """Two-sided normal quantile (1 + conf) / 2 by bisection on erf."""
    target = (1.0 + conf) / 2.0
    return _solve(lambda z: target - 0.5 * (1.0 + math.erf(z / math.sqrt(2.0))), 0.0, 10.0)


def runs_to_show(target: float, upper: bool, conf: float = CONF) -> int:
    """The fewest trials that could show the target with no miss at all: for a rate that
    must stay under `target` (upper=True), 0 of n with the interval's upper end <= target;
    for one that must reach it, n of n with the lower end >= target."""
    a = (1.0 - conf) / 2.0
    # k = 0: upper end 1 - a^(1/n); k = n: lower end a^(1/n).
    q = (1.0 - target) if upper else target
    return math.ceil(math.log(a) / math.log(q))


# ----------------------------------------------------------------------------- one trial

def split_aa(run_dir: str):
    """The reps of one `run --reps 2R` dir as two interleaved sides: odd reps A, even B."""
    reps = sorted(glob.glob(os.path.join(run_dir, "rep-[0-9][0-9]")))
    runs = [schema.load_run(d) for d in reps]
    if len(runs) < 2:
        raise schema.ResultsError(f"{run_dir}: an A/A trial needs at least 2 rep dirs, "
                                  f"found {len(runs)}")
    a = schema.Group(label="A:stock", runs=[r for r in runs if r.meta["rep"] % 2 == 1],
                     source=f"{run_dir} (odd reps)")
    b = schema.Group(label="B:stock", runs=[r for r in runs if r.meta["rep"] % 2 == 0],
                     source=f"{run_dir} (even reps)")
    return a, b


def gate_trial(kind: str, run_dir: str, thresholds=None) -> dict:
    """The gate document of one trial (a 'cannot judge' document when it cannot load)."""
    try:
        thr = gate.load_thresholds(thresholds)
        if kind == "aa":
            a, b = split_aa(run_dir)
        else:
            a, b = schema.resolve_pair([run_dir])
        return gate.gate(a, b, thr)
    except schema.WbtraceError as e:
        return gate.error_doc(str(e))


def trial_record(kind: str, rc: int, doc, seconds=None) -> dict:
    """What the tally needs from one trial: its verdict (None when the run failed), the
    metrics called regressions, the shown metrics' deltas and intervals."""
    rec = {"schema": TRIAL_SCHEMA, "kind": kind, "run_rc": rc, "seconds": seconds,
           "status": None, "regressions": [], "reps": None, "deltas": {}, "reason": None}
    if doc is None:
        rec["reason"] = f"the run failed (exit {rc}): no verdict"
        return rec
    rec["status"] = doc["status"]
    if doc.get("baseline"):
        rec["reps"] = [len(doc["baseline"]["runs"]), len(doc["candidate"]["runs"])]
    rec["regressions"] = [c["metric"] for c in doc["checks"] if c["status"] == gate.REGRESSION]
    for c in doc["checks"]:
        if c["metric"] in SHOWN:
            rec["deltas"][c["metric"]] = {"delta_pct": c["delta_pct"], "ci_pct": c["ci_pct"],
                                          "decision": c.get("decision")}
    if doc["status"] == gate.CANNOT_JUDGE:
        rec["reason"] = doc["reasons"][0] if doc["reasons"] else "no reason given"
    return rec


def cmd_trial(args) -> int:
    run_dir = os.path.join(args.dir, "run")
    # A run that failed (`run` and `compare` exit 0 only when every rep ran and passed
    # verification) is still gated when its dirs are there, for the record, but its
    # verdict does not count: a failed rep is a failed trial.
    doc = gate_trial(args.kind, run_dir, args.thresholds) if os.path.isdir(run_dir) else None
    if doc is not None:
        with open(os.path.join(args.dir, "gate.json"), "w") as f:
            json.dump(doc, f, indent=1, allow_nan=True)
    rec = trial_record(args.kind, args.rc, doc if args.rc == 0 else None, args.seconds)
    if args.rc != 0 and doc is not None:
        rec["reason"] = f"the run failed (exit {args.rc}); its gate said {doc['status']}"
    with open(os.path.join(args.dir, TRIAL_FILE), "w") as f:
        json.dump(rec, f, indent=1)
    print(f"gate-proof: {args.kind} {os.path.basename(os.path.normpath(args.dir))}: "
          f"{rec['status'] or 'no verdict'}"
          + (f" ({', '.join(rec['regressions'])})" if rec["regressions"] else "")
          + (f"; {rec['reason']}" if rec["reason"] else ""))
    return 0


# ----------------------------------------------------------------------------- the tally

def load_trials(top: str):
    out = []
    for p in sorted(glob.glob(os.path.join(top, "*", TRIAL_FILE))):
        with open(p) as f:
            rec = json.load(f)
        if rec.get("schema") != TRIAL_SCHEMA or rec.get("kind") not in KINDS:
            raise ValueError(f"{p}: not a {TRIAL_SCHEMA} record")
        rec["name"] = os.path.basename(os.path.dirname(p))
        out.append(rec)
    return out


def tally(trials) -> dict:
    """Counts per kind and verdict, and the two rates.  The denominator of a rate is the
    trials with a verdict the gate could reach (pass, regression, inconclusive); runs that
    failed and 'cannot judge' are counted apart (they are neither a pass nor a call)."""
    res = {}
    for kind in KINDS:
        ts = [t for t in trials if t["kind"] == kind]
        counts = {s: sum(t["status"] == s for t in ts)
                  for s in (gate.PASS, gate.REGRESSION, gate.INCONCLUSIVE, gate.CANNOT_JUDGE)}
        counts["failed"] = sum(t["status"] is None for t in ts)
        n = counts[gate.PASS] + counts[gate.REGRESSION] + counts[gate.INCONCLUSIVE]
        k = counts[gate.REGRESSION]
        entry = {"trials": len(ts), "counts": counts, "n": n, "k": k, "rate": None,
                 "clopper_pearson": None, "wilson": None}
        if n:
            entry["rate"] = k / n
            entry["clopper_pearson"] = list(clopper_pearson(k, n))
            entry["wilson"] = list(wilson(k, n))
        upper = kind == "aa"
        target = FALSE_REGRESSION_TARGET if upper else DETECTION_TARGET
        entry["target"] = target
        entry["runs_to_show"] = runs_to_show(target, upper)
        ci = entry["clopper_pearson"]
        entry["shown"] = bool(ci) and (ci[1] <= target if upper else ci[0] >= target)
        res[kind] = entry
    return res


def _pct(x):
    return "-" if x is None else f"{100.0 * x:.0f} %"


def _delta(t, metric):
    d = t["deltas"].get(metric)
    if not d or d["delta_pct"] is None:
        return "-"
    ci = d["ci_pct"]
    return f"{d['delta_pct']:+.1f} %" + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else "")


def markdown(trials, res) -> str:
    lines = ["| trial | kind | reps a side | verdict | called regressions | "
             "guest CPU/MiB Δ [95 % CI] | bandwidth Δ [95 % CI] | host s |",
             "|---|---|---|---|---|---|---|---|"]
    for t in trials:
        lines.append(f"| {t['name']} | {t['kind']} | "
                     f"{'/'.join(map(str, t['reps'])) if t['reps'] else '-'} | "
                     f"{t['status'] or 'no verdict: ' + (t['reason'] or '')} | "
                     f"{', '.join(t['regressions']) or '-'} | "
                     f"{_delta(t, 'sys.cpu_ms_per_MiB')} | {_delta(t, 'fio.bw_MiBps')} | "
                     f"{'-' if t['seconds'] is None else round(t['seconds'])} |")
    lines += ["", "| | trials | pass | regression | inconclusive | cannot judge | run failed | "
              "rate (of pass + regression + inconclusive) | 95 % Clopper-Pearson | "
              "target | shown? |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind, what in (("aa", "stock vs stock: false regressions"),
                       ("canary", "stock vs canary: detections")):
        e = res[kind]
        c = e["counts"]
        ci = e["clopper_pearson"]
        want = (f"≤ {_pct(e['target'])}" if kind == "aa" else f"≥ {_pct(e['target'])}")
        shown = ("yes" if e["shown"] else
                 f"no (needs ≥ {e['runs_to_show']} trials even with no "
                 f"{'false call' if kind == 'aa' else 'miss'})")
        lines.append(f"| {what} | {e['trials']} | {c[gate.PASS]} | {c[gate.REGRESSION]} | "
                     f"{c[gate.INCONCLUSIVE]} | {c[gate.CANNOT_JUDGE]} | {c['failed']} | "
                     f"{e['k']}/{e['n']} = {_pct(e['rate'])} | "
                     f"{'-' if not ci else _pct(ci[0]) + ' – ' + _pct(ci[1])} | {want} | "
                     f"{shown} |")
    return "\n".join(lines) + "\n"


def cmd_tally(args) -> int:
    try:
        trials = load_trials(args.dir)
    except (OSError, ValueError) as e:
        print(f"gate_proof.py tally: error: {e}", file=sys.stderr)
        return 2
    if not trials:
        print(f"gate_proof.py tally: error: no {TRIAL_FILE} under {args.dir}/*/",
              file=sys.stderr)
        return 2
    res = tally(trials)
    sys.stdout.write(markdown(trials, res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"schema": "wbtrace.gate-proof/1", "trials": trials, "tally": res}, f,
                      indent=1)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="gate_proof.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("trial", help="gate one trial and record it")
    t.add_argument("--kind", choices=KINDS, required=True)
    t.add_argument("--dir", required=True, help="the trial dir (its run in DIR/run)")
    t.add_argument("--rc", type=int, required=True, help="the run's exit status")
    t.add_argument("--seconds", type=float, default=None, help="host wall time of the run")
    t.add_argument("--thresholds", default=None, help="default: analysis/thresholds.json")
    y = sub.add_parser("tally", help="the rates over DIR/*/trial.json")
    y.add_argument("dir")
    y.add_argument("--json", default=None)
    args = p.parse_args(argv)
    return cmd_trial(args) if args.cmd == "trial" else cmd_tally(args)


if __name__ == "__main__":
    sys.exit(main())
