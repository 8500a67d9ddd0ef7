"""A/B comparison of two groups of runs: per-metric values, delta %, 95 % CI, Welch's t-test
and a verdict word.  `compare_groups()` is the machinery behind `./wbtrace compare`."""

import math
from typing import Dict, List, Optional, Sequence

from . import schema
from .metrics import (HANDOUT_RATE_SLACK, NOT_ATTACHED, build_fingerprint, config_fingerprint,
                      handouts_per_folio, loop_timed, metric_info, ordered_names, run_metrics,
                      run_resolutions)
from .schema import Group, ResultsError
from .stats import harmonic_mean, holm, mad_outliers, mde, mean, trend, welch_floored

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_REPS = 3
DEFAULT_MIN_EFFECT_PCT = 1.0

BETTER, WORSE, SAME, UNKNOWN, CANNOT = "better", "worse", "same", "unknown", "cannot judge"


def _full_fp(r) -> dict:
    return {**config_fingerprint(r), **build_fingerprint(r)}


def check_group(g: Group) -> None:
    """All reps of one side must share one variant, one config and one build."""
    if not g.runs:
        raise ResultsError(f"{g.source}: no runs")
    fp0 = _full_fp(g.runs[0])
    for r in g.runs[1:]:
        if r.variant != g.runs[0].variant:
            raise ResultsError(f"{g.source}: mixes variants {g.runs[0].variant} and {r.variant}")
        diff = _fp_diff(fp0, _full_fp(r))
        if diff:
            raise ResultsError(f"{g.source}: reps differ in config: {r.run_id} vs "
                               f"{g.runs[0].run_id}: {diff}")


def config_mismatch(a: Group, b: Group) -> Optional[str]:
    """None when comparable, else a one-line description naming every field that differs
    with both values (baseline first)."""
    ra, rb = a.runs[0], b.runs[0]
    fa, fb = config_fingerprint(ra), config_fingerprint(rb)
    ba, bb = build_fingerprint(ra), build_fingerprint(rb)
    if ra.variant == rb.variant:
        fa.update(ba)
        fb.update(bb)
    else:
        for k in set(ba) & set(bb):
            if (k.startswith("probe.") and ba[k] not in NOT_ATTACHED
                    and bb[k] not in NOT_ATTACHED):
                fa[k], fb[k] = ba[k], bb[k]
    d = _fp_diff(fa, fb)
    return d or None


def _fp_diff(fa: dict, fb: dict) -> str:
    parts = []
    for k in sorted(set(fa) | set(fb)):
        if fa.get(k) != fb.get(k):
            parts.append(f"{k}: {fa.get(k, '(unset)')!r} != {fb.get(k, '(unset)')!r}")
    return "; ".join(parts)


def observer_asymmetry(a: Group, b: Group) -> Optional[str]:
    """Why the tracer's own time inside the writeback loop differs between the sides, or
    None.  A loop-timed metric (metrics.loop_timed) of two sides that ran different probes
    per folio measures the tracer as much as the code: the hand-out probe on
    writeback_iter() costs microseconds per folio under TCG.  compare marks such rows
    (`not_comparable`), the gate does not judge them, and neither counts them in Holm's
    family."""
    rates = []
    for g in (a, b):
        r = [x for x in (handouts_per_folio(run) for run in g.runs) if x is not None]
        rates.append(sum(r) / len(r) if r else None)
    ra, rb = rates
    if ra is None or rb is None or abs(ra - rb) <= HANDOUT_RATE_SLACK:
        return None
    return (f"not comparable: the tracer's hand-out probe (writeback_iter() exit) ran "
            f"{ra:.2f} times per folio on the baseline and {rb:.2f} on the candidate, inside "
            f"the interval this metric times (judge the loop by untraced metrics)")


UNLIKE_PROBES_FLAG = "unlike probe sets"


DRIFT_ALPHA = 0.01        # run-order trend flag (informational: ~40 tests per comparison)
POWER = 0.8


def _to_scale(res, v: float, log: bool) -> float:
    """A resolution ("log", r) / ("abs", a) of value v as a step on the test's scale."""
    kind, q = res
    if log:
        return q if kind == "log" else math.log1p(q / v)
    return q if kind == "abs" else abs(v) * math.expm1(q)


def _pct_from_log(d: float) -> float:
    return math.expm1(d) * 100.0


def effect_to_pct(row: dict, eff: float, bad: int) -> Optional[float]:
    """A difference `eff` >= 0 on the row's test scale as the size (>= 0) of a % change in
    direction `bad` (-1 = down, +1 = up); None when A is 0 (no relative change)."""
    if row["test"]["scale"] == "log":
        return -_pct_from_log(-eff) if bad < 0 else _pct_from_log(eff)
    return eff / abs(row["a"]) * 100.0 if row["a"] else None


def pct_to_effect(row: dict, pct: float, bad: int) -> float:
    """Inverse of effect_to_pct for a limit of `pct` % in direction `bad` (math.inf when no
    finite difference reaches it: a drop of >= 100 % on the log scale, or A = 0)."""
    if row["test"]["scale"] == "log":
        if bad < 0:
            return -math.log1p(-pct / 100.0) if pct < 100.0 else math.inf
        return math.log1p(pct / 100.0)
    return pct / 100.0 * abs(row["a"]) if row["a"] else math.inf


def _flags(pairs, log: bool, side: str, floor: float) -> List[str]:
    xs = [math.log(v) if log else v for _, v, _ in pairs]
    reps = [rep for rep, _, _ in pairs]
    out = [f"outlier {side} rep {reps[i]}" for i in mad_outliers(xs, floor=floor)]
    tr = trend(xs, reps, floor)
    if tr is not None and tr["p"] < DRIFT_ALPHA:
        out.append(f"drift {side} ({'up' if tr['slope'] > 0 else 'down'} over run order, "
                   f"p {fmt_p(tr['p'])})")
    return out


def _stat_row(name: str, pa, pb, alpha: float, min_reps: int, min_effect_pct: float) -> dict:
    """pa / pb: (rep, value, resolution) of each rep that measured the metric, run order."""
    va, vb = [v for _, v, _ in pa], [v for _, v, _ in pb]
    m = metric_info(name)
    row = {"metric": name, "unit": m.unit, "direction": m.direction, "kind": m.kind,
           "n_a": len(va), "n_b": len(vb), "values_a": list(va), "values_b": list(vb),
           "reps_a": [r for r, _, _ in pa], "reps_b": [r for r, _, _ in pb],
           "a": None, "b": None, "delta_pct": None, "ci_pct": None, "p": None,
           "significant": None, "verdict": UNKNOWN, "note": "", "mde_pct": None,
           "flags": [], "test": None}
    if not va or not vb:
        row["note"] = "not measured on " + ("either side" if not va and not vb
                                             else ("A" if not va else "B"))
        return row
    rate = m.kind == "rate"
    if rate and (min(va) <= 0 or min(vb) <= 0):
        rate = False
        row["note"] = "zero rate in a rep: arithmetic mean used"
        row["kind"] = "level"
    row["a"] = harmonic_mean(va) if rate else mean(va)
    row["b"] = harmonic_mean(vb) if rate else mean(vb)
    if row["a"] != 0:
        row["delta_pct"] = (row["b"] / row["a"] - 1.0) * 100.0
    elif row["b"] == 0:
        row["delta_pct"] = 0.0
    # Positive metrics are tested on the log scale: the interval is that of the ratio of
    # geometric means, exp() maps it into (-100 %, +inf) and it is symmetric for ratios.
    log = min(va) > 0 and min(vb) > 0
    qa = max(_to_scale(res, v, log) for _, v, res in pa)
    qb = max(_to_scale(res, v, log) for _, v, res in pb)
    row["flags"] = _flags(pa, log, "A", qa) + _flags(pb, log, "B", qb)
    if len(va) < min_reps or len(vb) < min_reps:
        row["verdict"] = CANNOT
        row["note"] = f"need >= {min_reps} reps a side (have {len(va)} and {len(vb)})"
        return row
    xa = [math.log(v) for v in va] if log else va
    xb = [math.log(v) for v in vb] if log else vb
    w = welch_floored(xa, xb, alpha, qa, qb)
    w["scale"] = "log" if log else "linear"
    row["test"] = w
    if log:
        row["ci_pct"] = [_pct_from_log(w["ci_lo"]), _pct_from_log(w["ci_hi"])]
    elif row["a"] != 0:
        lo, hi = w["ci_lo"] / abs(row["a"]) * 100.0, w["ci_hi"] / abs(row["a"]) * 100.0
        if min(va) >= 0 and min(vb) >= 0:      # a non-negative metric cannot fall > 100 %
            lo = max(lo, -100.0)
        row["ci_pct"] = [lo, hi]
    bad = -1 if m.direction > 0 else 1
    row["mde_pct"] = effect_to_pct(row, mde(w, alpha, POWER), bad)
    row["p"] = w["p"]
    row["t"] = w["t"]
    row["df"] = w["df"]
    row["significant"] = w["p"] < alpha
    if not row["significant"]:
        row["verdict"] = SAME
    elif row["delta_pct"] is not None and abs(row["delta_pct"]) < min_effect_pct:
        row["verdict"] = SAME
        row["note"] = f"significant but under the {min_effect_pct:g} % noise floor"
    elif m.direction == 0:
        row["verdict"] = UNKNOWN
        row["note"] = "changed; metric has no better/worse direction"
    else:
        up = row["b"] > row["a"]
        row["verdict"] = BETTER if up == (m.direction > 0) else WORSE
    return row


def _series(g: Group) -> Dict[str, list]:
    """metric -> [(rep, value, resolution)] over the reps that measured it, in run order."""
    per: Dict[str, list] = {}
    for r in g.runs:
        res = run_resolutions(r)
        for k, v in run_metrics(r).items():
            per.setdefault(k, [])
            if v is not None:
                per[k].append((r.meta["rep"], v, res.get(k, ("log", 1e-9) if v > 0
                                                         else ("abs", 1e-9))))
    return per


def unverified(g: Group, steps=schema.VERIFY_STEPS) -> List[str]:
    """'run_id: step skipped, ...' for every rep whose verification is not all 'pass'."""
    out = []
    for r in g.runs:
        bad = [f"{s} {r.meta['verify'][s]}" for s in steps if r.meta["verify"][s] != "pass"]
        if bad:
            out.append(f"{r.run_id}: {', '.join(bad)}")
    return out


def compare_groups(a: Group, b: Group, *, alpha: float = DEFAULT_ALPHA,
                   min_reps: int = DEFAULT_MIN_REPS,
                   min_effect_pct: float = DEFAULT_MIN_EFFECT_PCT,
                   allow_mismatch: bool = False, metrics: Optional[List[str]] = None) -> dict:
    """Compare baseline `a` with candidate `b`. Raises ResultsError when the two sides
    ran different workloads, or different configs unless allow_mismatch."""
    dup = schema.duplicate_runs([a, b])
    if dup:
        raise ResultsError(dup)
    check_group(a)
    check_group(b)
    wa, wb = a.runs[0].meta["workload"], b.runs[0].meta["workload"]
    if wa != wb:
        raise ResultsError(f"mismatched workloads: {a.source} ran \"{wa}\", {b.source} ran \"{wb}\"")
    mismatch = config_mismatch(a, b)
    if mismatch and not allow_mismatch:
        raise ResultsError(f"configs differ, the results are not comparable: {mismatch} "
                           f"(compare --allow-mismatch to look anyway)")
    sa, sb = _series(a), _series(b)
    names = metrics or ordered_names(set(sa) | set(sb))
    rows = [_stat_row(n, sa.get(n, []), sb.get(n, []), alpha, min_reps, min_effect_pct)
            for n in names]
    observer = observer_asymmetry(a, b)
    for r in rows:
        r["not_comparable"] = None
        if observer and loop_timed(r["metric"]) and (r["n_a"] or r["n_b"]):
            r["not_comparable"] = observer
            r["flags"].append(UNLIKE_PROBES_FLAG)
    holm_family = apply_holm(rows)
    return {
        "schema": schema.COMPARE_SCHEMA,
        "workload": wa,
        "alpha": alpha,
        "min_reps": min_reps,
        "min_effect_pct": min_effect_pct,
        "config_mismatch": mismatch,
        "observer_asymmetry": observer,
        "holm_family": holm_family,
        "unverified": {"a": unverified(a), "b": unverified(b)},
        "a": _side(a),
        "b": _side(b),
        "rows": rows,
    }


def apply_holm(rows: Sequence[dict], judged=None) -> int:
    """rows[i]['p_holm']: Holm-adjusted over the family of rows that are judged: by default
    those with a p-value, a better/worse direction and no `not_comparable` mark
    (direction-less metrics are reported, never judged; a row not comparable is not a test
    of the code); `judged(row)` narrows it further.  The others get None.  A test left out
    of the family must not make the correction of the others stricter.  Returns the
    family's size."""
    fam = [r for r in rows if r["p"] is not None and r["direction"] != 0
           and not r.get("not_comparable") and (judged is None or judged(r))]
    for r in rows:
        r["p_holm"] = None
    for r, ph in zip(fam, holm([r["p"] for r in fam])):
        r["p_holm"] = ph
    return len(fam)


def compare_dirs(baseline_dirs: Sequence[str], candidate_dirs: Sequence[str], **kw) -> dict:
    """Entry point for the runner: rep dirs of the two variants -> compare document."""
    a = Group(label="", runs=[schema.load_run(d) for d in baseline_dirs], source="baseline")
    b = Group(label="", runs=[schema.load_run(d) for d in candidate_dirs], source="candidate")
    if not a.runs or not b.runs:
        raise ResultsError("compare_dirs: each side needs at least one run dir")
    a.label, b.label = a.variant, b.variant
    if a.label == b.label:
        a.label, b.label = f"A:{a.label}", f"B:{b.label}"
    return compare_groups(a, b, **kw)


def _side(g: Group) -> dict:
    return {"label": g.label, "variant": g.variant, "source": g.source,
            "runs": [r.run_id for r in g.runs], "reps": len(g.runs)}


# ----------------------------------------------------------------------------- formatting

def fmt_num(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    av = abs(v)
    if av == 0:
        return "0"
    if av >= 1e6:
        return f"{v:.4g}"
    if av >= 100:
        return f"{v:.0f}"
    if av >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def fmt_pct(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return f"{v:+.1f}%"


def fmt_ci(ci) -> str:
    if not ci:
        return "-"
    return f"[{fmt_pct(ci[0])}, {fmt_pct(ci[1])}]"


def fmt_p(p: Optional[float]) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def table_rows(doc: dict, holm_column: bool = False) -> List[List[str]]:
    out = []
    for r in doc["rows"]:
        arrow = {1: "↑", -1: "↓", 0: " "}[r["direction"]]
        cells = [f"{r['metric']} {arrow}", r["unit"], fmt_num(r["a"]), fmt_num(r["b"]),
                 fmt_pct(r["delta_pct"]), fmt_ci(r["ci_pct"]), fmt_p(r["p"]),
                 f"{r['n_a']}/{r['n_b']}", r["verdict"], short_flags(r.get("flags") or [])]
        if holm_column:
            cells.insert(7, fmt_p(r.get("p_holm")))
        out.append(cells)
    return out


def short_flags(flags: Sequence[str]) -> str:
    """'outlier A rep 2' -> 'outlier A2', 'drift B (up ...)' -> 'drift B up'."""
    out = []
    for f in flags:
        w = f.split()
        if w[0] == "outlier":
            out.append(f"outlier {w[1]}{w[3]}")
        elif w[0] == "drift":
            out.append(f"drift {w[1]} {w[2].lstrip('(')}")
        else:
            out.append(f)
    return ", ".join(out)


HEADER = ["metric", "unit", "A", "B", "delta", "95% CI", "p", "n", "verdict", "flags"]


def render_text_table(header: List[str], rows: List[List[str]], right=frozenset({2, 3, 4, 6, 7})) -> str:
    """Plain-text table; columns whose index is in `right` are right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def format_table(doc: dict) -> str:
    a, b = doc["a"], doc["b"]
    head = (f"workload {doc['workload']}: A = {a['label']} ({a['reps']} reps, {a['source']})  "
            f"B = {b['label']} ({b['reps']} reps, {b['source']})\n"
            f"delta = B vs A; rates use harmonic means; Welch's t-test, alpha {doc['alpha']:g}, "
            f"on log values for positive metrics, variance floored at the resolution; "
            f"↑ higher is better, ↓ lower is better\n")
    if doc.get("config_mismatch"):
        head += f"WARNING: configs differ: {doc['config_mismatch']}\n"
    for side in ("a", "b"):
        for u in (doc.get("unverified") or {}).get(side, []):
            head += f"WARNING: {side.upper()} not fully verified: {u}\n"
    notes = [f"  {r['metric']}: {r['note']}" for r in doc["rows"] if r["note"]]
    notes += [f"  {r['metric']}: {f}" for r in doc["rows"] for f in r.get("flags") or []
              if f != UNLIKE_PROBES_FLAG]
    # The gate's reason, word for word, for rows it would not judge (flag "unlike probe
    # sets" in the table; JSON rows[].not_comparable).
    notes += [f"  {r['metric']}: {r['not_comparable']}; left out of Holm's family"
              for r in doc["rows"] if r.get("not_comparable")]
    text = head + render_text_table(HEADER, table_rows(doc))
    if notes:
        text += "\nnotes:\n" + "\n".join(notes)
    return text


# Metrics a benchmark summary of the series shows by default: throughput, CPU
# cost, bio merging and which log (temperature, IPU) data goes to.
DIGEST_METRICS = ("fio.bw_MiBps", "fio.sys_cpu_ms_per_MiB", "fio.clat_p99_us",
                  "trace.bio_mean_bytes", "trace.bio_hot_pct", "trace.bio_warm_pct",
                  "trace.bio_cold_pct", "trace.bio_ipu_pct", "trace.compress_ratio")


def digest_holm(docs: Sequence[dict], metrics: Sequence[str] = DIGEST_METRICS) -> int:
    """Holm's correction over every test the digest shows (the given metrics, all
    workloads): each shown row gets p_holm over that family and a verdict that needs
    p_holm < alpha.  Without it a six-workload bench of identical code shows a false
    "worse" somewhere in about 40 % of runs at 10 % noise.  Returns the family size.
    Idempotent (works from the raw p)."""
    shown = [r for doc in docs for r in doc["rows"]
             if r["metric"] in metrics and r["p"] is not None]
    for r, ph in zip(shown, holm([r["p"] for r in shown])):
        r["p_holm"] = ph
        r["holm_family"] = len(shown)
        alpha = next(d["alpha"] for d in docs if r in d["rows"])
        if r["significant"] and ph >= alpha and r["verdict"] in (BETTER, WORSE, UNKNOWN):
            r["verdict"] = SAME
            r["note"] = (f"p {fmt_p(r['p'])} alone, {fmt_p(ph)} after Holm over "
                         f"{len(shown)} tests")
    return len(shown)


def digest_markdown(docs: Sequence[dict], metrics: Sequence[str] = DIGEST_METRICS) -> str:
    """One Markdown table over several comparisons (one per workload): the cells
    of `compare`'s table for the given metrics, skipping those a workload did
    not measure on either side; p-values Holm-corrected over the whole table."""
    if not docs:
        raise ResultsError("digest: no comparison given")
    n = digest_holm(docs, metrics)
    head = ["workload"] + HEADER
    head.insert(8, "p Holm")
    head[3:5] = [docs[0]["a"]["label"], docs[0]["b"]["label"]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for doc in docs:
        by_name = {r["metric"]: r for r in doc["rows"]}
        rows = [by_name[n] for n in metrics
                if n in by_name and not (by_name[n]["a"] is None and by_name[n]["b"] is None)]
        lines += ["| " + " | ".join([doc["workload"]] + cells) + " |"
                  for cells in table_rows({"rows": rows}, holm_column=True)]
    lines.append("")
    lines.append(f"Verdicts need p < alpha after Holm's correction over the {n} tests in this "
                 f"table (\"p Holm\"), so identical code shows no false better/worse in "
                 f"at least 95 % of benches.")
    return "\n".join(lines) + "\n"
