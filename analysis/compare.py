"""A/B comparison of two groups of runs: per-metric values, delta %, 95 % CI, Welch's t-test
and a verdict word.  `compare_groups()` is the machinery behind `./wbtrace compare`."""

import math
from typing import Dict, List, Optional, Sequence

from . import schema
from .metrics import config_fingerprint, metric_info, ordered_names, run_metrics
from .schema import Group, ResultsError
from .stats import harmonic_mean, mean, welch

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_REPS = 3
DEFAULT_MIN_EFFECT_PCT = 1.0

BETTER, WORSE, SAME, UNKNOWN, CANNOT = "better", "worse", "same", "unknown", "cannot judge"


def check_group(g: Group) -> None:
    """All reps of one side must share one variant and one config."""
    if not g.runs:
        raise ResultsError(f"{g.source}: no runs")
    fp0 = config_fingerprint(g.runs[0])
    for r in g.runs[1:]:
        if r.variant != g.runs[0].variant:
            raise ResultsError(f"{g.source}: mixes variants {g.runs[0].variant} and {r.variant}")
        diff = _fp_diff(fp0, config_fingerprint(r))
        if diff:
            raise ResultsError(f"{g.source}: reps differ in config: {r.run_id} vs "
                               f"{g.runs[0].run_id}: {diff}")


def config_mismatch(a: Group, b: Group) -> Optional[str]:
    """None when comparable, else a one-line description of what differs."""
    d = _fp_diff(config_fingerprint(a.runs[0]), config_fingerprint(b.runs[0]))
    return d or None


def _fp_diff(fa: dict, fb: dict) -> str:
    parts = []
    for k in sorted(set(fa) | set(fb)):
        if fa.get(k) != fb.get(k):
            parts.append(f"{k}: {fa.get(k, '(unset)')!r} != {fb.get(k, '(unset)')!r}")
    return "; ".join(parts)


def _stat_row(name: str, va: Sequence[float], vb: Sequence[float], alpha: float,
              min_reps: int, min_effect_pct: float) -> dict:
    m = metric_info(name)
    row = {"metric": name, "unit": m.unit, "direction": m.direction, "kind": m.kind,
           "n_a": len(va), "n_b": len(vb), "values_a": list(va), "values_b": list(vb),
           "a": None, "b": None, "delta_pct": None, "ci_pct": None, "p": None,
           "significant": None, "verdict": UNKNOWN, "note": ""}
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
    if len(va) < min_reps or len(vb) < min_reps:
        row["verdict"] = CANNOT
        row["note"] = f"need >= {min_reps} reps a side (have {len(va)} and {len(vb)})"
        return row
    if rate:
        # The harmonic mean is 1/mean(1/x): test and bound the reciprocals, then map back.
        ua = [1.0 / x for x in va]
        ub = [1.0 / x for x in vb]
        w = welch(ua, ub, alpha)
        mua = mean(ua)
        lo = mua / (mua + w["ci_hi"]) - 1.0 if mua + w["ci_hi"] > 0 else math.inf
        hi = mua / (mua + w["ci_lo"]) - 1.0 if mua + w["ci_lo"] > 0 else math.inf
        row["ci_pct"] = [lo * 100.0, hi * 100.0]
    else:
        w = welch(va, vb, alpha)
        if row["a"] != 0:
            row["ci_pct"] = [w["ci_lo"] / abs(row["a"]) * 100.0, w["ci_hi"] / abs(row["a"]) * 100.0]
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


def _series(g: Group) -> Dict[str, List[float]]:
    per: Dict[str, List[float]] = {}
    for r in g.runs:
        for k, v in run_metrics(r).items():
            per.setdefault(k, [])
            if v is not None:
                per[k].append(v)
    return per


def compare_groups(a: Group, b: Group, *, alpha: float = DEFAULT_ALPHA,
                   min_reps: int = DEFAULT_MIN_REPS,
                   min_effect_pct: float = DEFAULT_MIN_EFFECT_PCT,
                   allow_mismatch: bool = False, metrics: Optional[List[str]] = None) -> dict:
    """Compare baseline `a` with candidate `b`. Raises ResultsError when the two sides
    ran different workloads, or different configs unless allow_mismatch."""
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
    return {
        "schema": schema.COMPARE_SCHEMA,
        "workload": wa,
        "alpha": alpha,
        "min_reps": min_reps,
        "min_effect_pct": min_effect_pct,
        "config_mismatch": mismatch,
        "a": _side(a),
        "b": _side(b),
        "rows": rows,
    }


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


def table_rows(doc: dict) -> List[List[str]]:
    out = []
    for r in doc["rows"]:
        arrow = {1: "↑", -1: "↓", 0: " "}[r["direction"]]
        out.append([f"{r['metric']} {arrow}", r["unit"], fmt_num(r["a"]), fmt_num(r["b"]),
                    fmt_pct(r["delta_pct"]), fmt_ci(r["ci_pct"]), fmt_p(r["p"]),
                    f"{r['n_a']}/{r['n_b']}", r["verdict"]])
    return out


HEADER = ["metric", "unit", "A", "B", "delta", "95% CI", "p", "n", "verdict"]


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
            f"delta = B vs A; rates use harmonic means; Welch's t-test, alpha {doc['alpha']:g}; "
            f"↑ higher is better, ↓ lower is better\n")
    if doc.get("config_mismatch"):
        head += f"WARNING: configs differ: {doc['config_mismatch']}\n"
    notes = [f"  {r['metric']}: {r['note']}" for r in doc["rows"] if r["note"]]
    text = head + render_text_table(HEADER, table_rows(doc))
    if notes:
        text += "\nnotes:\n" + "\n".join(notes)
    return text


# Metrics a benchmark summary of the series shows by default: throughput, CPU
# cost, bio merging and which log (temperature, IPU) data goes to.
DIGEST_METRICS = ("fio.bw_MiBps", "fio.sys_cpu_ms_per_MiB", "fio.clat_p99_us",
                  "trace.bio_mean_bytes", "trace.bio_hot_pct", "trace.bio_warm_pct",
                  "trace.bio_cold_pct", "trace.bio_ipu_pct", "trace.compress_ratio")


def digest_markdown(docs: Sequence[dict], metrics: Sequence[str] = DIGEST_METRICS) -> str:
    """One Markdown table over several comparisons (one per workload): the cells
    of `compare`'s table for the given metrics, skipping those a workload did
    not measure on either side."""
    if not docs:
        raise ResultsError("digest: no comparison given")
    head = ["workload"] + HEADER
    head[3:5] = [docs[0]["a"]["label"], docs[0]["b"]["label"]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for doc in docs:
        by_name = {r["metric"]: r for r in doc["rows"]}
        rows = [by_name[n] for n in metrics
                if n in by_name and not (by_name[n]["a"] is None and by_name[n]["b"] is None)]
        lines += ["| " + " | ".join([doc["workload"]] + cells) + " |"
                  for cells in table_rows({"rows": rows})]
    return "\n".join(lines) + "\n"
