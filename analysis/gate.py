"""Regression gate: thresholds per metric -> pass (0) / regression (1) / cannot judge (2),
with a JSON verdict and JUnit XML for CI systems."""

import math
import os
import xml.etree.ElementTree as ET
from typing import List, Optional

from . import schema
from .compare import (CANNOT, check_group, compare_groups, config_mismatch, fmt_ci, fmt_num,
                      fmt_p, fmt_pct, render_text_table)
from .metrics import METRICS
from .schema import Group, ResultsError

PASS, REGRESSION, CANNOT_JUDGE = "pass", "regression", "cannot judge"
EXIT = {PASS: 0, REGRESSION: 1, CANNOT_JUDGE: 2}
DEFAULT_THRESHOLDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "thresholds.json")
_TOP_KEYS = {"schema", "_doc", "alpha", "min_reps", "max_drops", "verify", "metrics"}
_METRIC_KEYS = {"max_regression_pct", "required", "_doc"}


def load_thresholds(path: Optional[str] = None) -> dict:
    """Read a thresholds file (.json, or .toml via tomllib) and check it strictly, so a typo
    in a metric name cannot silently disable a check."""
    path = path or DEFAULT_THRESHOLDS
    if path.endswith(".toml"):
        import tomllib
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except FileNotFoundError:
            raise ResultsError(f"{path}: thresholds file missing") from None
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ResultsError(f"{path}: bad TOML thresholds: {e}") from None
    else:
        doc = schema.load_json(path, "thresholds")
    schema.check_schema(doc, schema.THRESHOLDS_SCHEMA, path)
    extra = set(doc) - _TOP_KEYS
    if extra:
        raise ResultsError(f"{path}: unknown key(s) {', '.join(sorted(extra))}")
    out = {"path": path, "alpha": doc.get("alpha", 0.05), "min_reps": doc.get("min_reps", 3),
           "max_drops": doc.get("max_drops", 0),
           "verify": doc.get("verify", list(schema.VERIFY_STEPS)), "metrics": {}}
    if not (isinstance(out["alpha"], (int, float)) and 0 < out["alpha"] < 1):
        raise ResultsError(f"{path}: alpha must be in (0, 1)")
    if not (isinstance(out["min_reps"], int) and out["min_reps"] >= 2):
        raise ResultsError(f"{path}: min_reps must be an integer >= 2 (Welch needs 2)")
    if not (isinstance(out["max_drops"], int) and out["max_drops"] >= 0):
        raise ResultsError(f"{path}: max_drops must be an integer >= 0")
    bad = [s for s in out["verify"] if s not in schema.VERIFY_STEPS]
    if bad:
        raise ResultsError(f"{path}: unknown verify step(s) {', '.join(bad)} "
                           f"(known: {', '.join(schema.VERIFY_STEPS)})")
    mets = doc.get("metrics")
    if not isinstance(mets, dict) or not mets:
        raise ResultsError(f"{path}: \"metrics\" must be a non-empty table")
    for name, spec in mets.items():
        if name not in METRICS:
            raise ResultsError(f"{path}: unknown metric \"{name}\" "
                               f"(known: {', '.join(METRICS)})")
        if not isinstance(spec, dict) or set(spec) - _METRIC_KEYS:
            raise ResultsError(f"{path}: metrics.{name} must only have "
                               f"{', '.join(sorted(_METRIC_KEYS - {'_doc'}))}")
        thr = spec.get("max_regression_pct")
        if not isinstance(thr, (int, float)) or isinstance(thr, bool) or thr < 0:
            raise ResultsError(f"{path}: metrics.{name}.max_regression_pct must be a number >= 0")
        out["metrics"][name] = {"max_regression_pct": float(thr),
                                "required": bool(spec.get("required", False))}
    return out


def _input_problems(a: Group, b: Group, thr: dict) -> List[str]:
    reasons = []
    for side, g in (("baseline", a), ("candidate", b)):
        if len(g.runs) < thr["min_reps"]:
            reasons.append(f"too few reps: {side} has {len(g.runs)}, need >= {thr['min_reps']}")
        for r in g.runs:
            drops = max(r.meta["drops"], (r.summary or {}).get("drops", 0))
            if drops > thr["max_drops"]:
                reasons.append(f"{side} run {r.run_id}: {drops} tracer events dropped "
                               f"(limit {thr['max_drops']})")
            if r.summary is not None and r.summary.get("valid") is False:
                reasons.append(f"{side} run {r.run_id}: the tracer marked it invalid: "
                               f"{r.summary.get('invalid_reason') or 'no reason given'}")
            failed = [s for s in thr["verify"] if r.meta["verify"].get(s) == "fail"]
            if failed:
                reasons.append(f"{side} run {r.run_id}: verification FAILED: {', '.join(failed)}")
    wa, wb = a.runs[0].meta["workload"], b.runs[0].meta["workload"]
    if wa != wb:
        reasons.append(f"mismatched workloads: baseline \"{wa}\", candidate \"{wb}\"")
    else:
        mm = config_mismatch(a, b)
        if mm:
            reasons.append(f"mismatched configs: {mm}")
    return reasons


def gate(a: Group, b: Group, thr: dict) -> dict:
    """Evaluate candidate `b` against baseline `a`. Never raises for data problems it can
    describe: they become 'cannot judge' reasons."""
    reasons = []
    for g in (a, b):
        try:
            check_group(g)
        except ResultsError as e:
            reasons.append(str(e))
    reasons += _input_problems(a, b, thr)
    checks = []
    if not reasons or all(r.startswith("too few reps") for r in reasons):
        cmp = compare_groups(a, b, alpha=thr["alpha"], min_reps=thr["min_reps"],
                             min_effect_pct=0.0, allow_mismatch=True,
                             metrics=list(thr["metrics"]))
        for row in cmp["rows"]:
            checks.append(_check(row, thr["metrics"][row["metric"]]))
    if reasons:
        status = CANNOT_JUDGE
    elif any(c["status"] == REGRESSION for c in checks):
        status = REGRESSION
    elif any(c["status"] == CANNOT_JUDGE for c in checks):
        status = CANNOT_JUDGE
        reasons = [f"{c['metric']}: {c['note']}" for c in checks if c["status"] == CANNOT_JUDGE]
    else:
        status = PASS
    return _doc(status, reasons, checks, thr, a, b)


def _check(row: dict, spec: dict) -> dict:
    thr = spec["max_regression_pct"]
    c = {"metric": row["metric"], "unit": row["unit"], "direction": row["direction"],
         "a": row["a"], "b": row["b"], "delta_pct": row["delta_pct"], "ci_pct": row["ci_pct"],
         "p": row["p"], "n_a": row["n_a"], "n_b": row["n_b"], "threshold_pct": thr,
         "required": spec["required"], "status": PASS, "note": ""}
    if row["n_a"] == 0 and row["n_b"] == 0:
        c["status"] = CANNOT_JUDGE if spec["required"] else "skipped"
        c["note"] = "not measured on either side" + (" (required)" if spec["required"] else "")
        return c
    if row["n_a"] == 0 or row["n_b"] == 0:
        c["status"] = CANNOT_JUDGE
        c["note"] = row["note"]
        return c
    if row["verdict"] == CANNOT:
        c["status"] = CANNOT_JUDGE
        c["note"] = row["note"]
        return c
    bad = -row["direction"] * (row["delta_pct"] if row["delta_pct"] is not None
                               else math.copysign(math.inf, row["b"] - row["a"]))
    if row["significant"] and bad > thr:
        c["status"] = REGRESSION
        c["note"] = f"{fmt_pct(row['delta_pct'])} is beyond the {thr:g} % limit (p {fmt_p(row['p'])})"
    elif bad > thr:
        c["note"] = f"{fmt_pct(row['delta_pct'])} but not significant (p {fmt_p(row['p'])})"
    return c


def _doc(status, reasons, checks, thr, a: Optional[Group], b: Optional[Group]) -> dict:
    def side(g):
        if g is None:
            return None
        return {"label": g.label, "variant": g.variant, "source": g.source,
                "runs": [r.run_id for r in g.runs]}
    return {"schema": schema.GATE_SCHEMA, "status": status, "exit_code": EXIT[status],
            "reasons": reasons, "workload": a.runs[0].meta["workload"] if a and a.runs else None,
            "baseline": side(a), "candidate": side(b), "thresholds": thr.get("path"),
            "alpha": thr.get("alpha"), "checks": checks}


def error_doc(message: str, thr: Optional[dict] = None) -> dict:
    """Verdict for inputs that could not even be loaded (corrupt JSON, missing dirs...)."""
    return _doc(CANNOT_JUDGE, [message], [], thr or {}, None, None)


def format_gate(doc: dict) -> str:
    lines = [f"gate: {doc['status'].upper()} (exit {doc['exit_code']})"]
    if doc["baseline"]:
        lines[0] += (f"  workload {doc['workload']}: baseline {doc['baseline']['label']} "
                     f"({len(doc['baseline']['runs'])} reps) vs candidate "
                     f"{doc['candidate']['label']} ({len(doc['candidate']['runs'])} reps)")
    for r in doc["reasons"]:
        lines.append(f"  cannot judge: {r}")
    if doc["checks"]:
        rows = [[c["metric"], fmt_num(c["a"]), fmt_num(c["b"]), fmt_pct(c["delta_pct"]),
                 fmt_ci(c["ci_pct"]), fmt_p(c["p"]), f"{c['threshold_pct']:g}%", c["status"],
                 c["note"]] for c in doc["checks"]]
        lines.append(render_text_table(["metric", "baseline", "candidate", "delta", "95% CI", "p",
                                        "limit", "status", "note"], rows, right={1, 2, 3, 5, 6}))
    return "\n".join(lines)


def junit_xml(doc: dict) -> bytes:
    """JUnit XML: one testcase per gated metric (failure = regression, error = cannot judge,
    skipped = not measured), plus an 'inputs' testcase carrying input problems."""
    suite = ET.Element("testsuite", name="wbtrace.gate")
    cls = f"wbtrace.gate.{doc.get('workload') or 'unknown'}"
    n = fails = errs = skips = 0
    case = ET.SubElement(suite, "testcase", classname=cls, name="inputs")
    n += 1
    if doc["reasons"] and doc["status"] == CANNOT_JUDGE:
        e = ET.SubElement(case, "error", message="cannot judge: " + doc["reasons"][0],
                          type="cannot-judge")
        e.text = "\n".join(doc["reasons"])
        errs += 1
    for c in doc["checks"]:
        n += 1
        case = ET.SubElement(suite, "testcase", classname=cls, name=c["metric"])
        msg = (f"baseline {fmt_num(c['a'])} candidate {fmt_num(c['b'])} {c['unit']} "
               f"delta {fmt_pct(c['delta_pct'])} CI {fmt_ci(c['ci_pct'])} p {fmt_p(c['p'])} "
               f"limit {c['threshold_pct']:g}%")
        if c["status"] == REGRESSION:
            f = ET.SubElement(case, "failure", message=f"regression: {c['note']}",
                              type="regression")
            f.text = msg
            fails += 1
        elif c["status"] == CANNOT_JUDGE:
            e = ET.SubElement(case, "error", message=f"cannot judge: {c['note']}",
                              type="cannot-judge")
            e.text = msg
            errs += 1
        elif c["status"] == "skipped":
            ET.SubElement(case, "skipped", message=c["note"])
            skips += 1
        else:
            out = ET.SubElement(case, "system-out")
            out.text = msg
    suite.set("tests", str(n))
    suite.set("failures", str(fails))
    suite.set("errors", str(errs))
    suite.set("skipped", str(skips))
    root = ET.Element("testsuites", name="wbtrace", tests=str(n), failures=str(fails),
                      errors=str(errs))
    root.append(suite)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"

