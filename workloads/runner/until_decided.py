"""`compare WORKLOAD --until-decided N`, guest side: after the requested reps, gate the
comparison dir; while the gate says "inconclusive" (or too few reps) and a side has fewer
than N reps, run another round of reps in the same guest boot, interleaved as the first
ones (the A B, B A pattern continues by rep number), and gate again.

What to do after each look is analysis.gate.until_decided_step's; this module runs the
rounds, prints one line per look, and records the loop in cmp.json "until_decided"."""

from analysis import gate, schema
from analysis.compare import fmt_pct

# A rep that failed (verification or the workload) ends the loop: the comparison has
# failed, and more reps cannot make it good.
STOP_REP_FAILED = "rep_failed"


def reps_a_side(cmp):
    return min(len(cmp["runs"][cmp["baseline"]]), len(cmp["runs"][cmp["candidate"]]))


def hardest_check(doc):
    """The inconclusive metric that needs the most reps (one without an estimate comes
    first), or None."""
    open_checks = [c for c in doc["checks"] if c["status"] == gate.INCONCLUSIVE]
    if not open_checks:
        return None
    return max(open_checks, key=lambda c: (c["reps_needed"] is None, c["reps_needed"] or 0))


def verdict_text(doc):
    """The verdict; when inconclusive, the smallest detectable change of the metric that
    needs the most reps, and the reps a side the gate says would decide."""
    if doc["status"] == gate.CANNOT_JUDGE:
        return f"cannot judge ({doc['reasons'][0] if doc['reasons'] else 'no reason given'})"
    if doc["status"] == gate.REGRESSION:     # it wins over the metrics still inconclusive
        return "regression: " + ", ".join(
            f"{c['metric']} {fmt_pct(c['delta_pct'])} (limit {c['threshold_pct']:g} %)"
            for c in doc["checks"] if c["status"] == gate.REGRESSION)
    worst = hardest_check(doc)
    if worst is None:
        return doc["status"]
    n_open = sum(c["status"] == gate.INCONCLUSIVE for c in doc["checks"])
    mde = "-" if worst["mde_pct"] is None else f"{worst['mde_pct']:.1f} %"
    need = (f"about {doc['reps_to_decide']} reps a side would decide"
            if doc["reps_to_decide"] else "no estimate of the reps that would decide "
            "(a change sits at its limit)")
    return (f"inconclusive on {n_open} metric(s), hardest {worst['metric']} "
            f"{fmt_pct(worst['delta_pct'])} (limit {worst['threshold_pct']:g} %, smallest "
            f"detectable change {mde}); {need}")


def unlist_unrun(cmp, pairs):
    """Take reps that were planned but never run (after a failed one) out of cmp."""
    for variant, rep in pairs:
        cmp["runs"][variant].remove(f"{variant}/rep-{rep:02d}")
    cmp["reps"] = max(len(v) for v in cmp["runs"].values())


def until_decided(top, max_reps, run_rep, say, failed=0, thresholds=None):
    """Loop over comparison dir `top` (its cmp.json lists the reps run so far).

    run_rep(variant, rep, run_dir) runs one rep and says whether it passed; `failed`: reps
    that failed before the loop.  Returns the record written to cmp.json "until_decided"."""
    cmp = schema.load_cmp(top)
    requested = reps_a_side(cmp)
    looks = []
    added_runs = 0
    while True:
        doc = gate.gate_results([top], thresholds)
        have = reps_a_side(cmp)
        step = gate.until_decided_step(doc, max_reps)
        look = {"reps": have, "status": doc["status"],
                "reps_to_decide": doc["reps_to_decide"]}
        looks.append(look)
        text = (f"wbtrace compare: until decided, look {len(looks)} at {have} reps a side: "
                f"{verdict_text(doc)}")
        if failed:
            stopped = STOP_REP_FAILED
            why = f"{failed} rep(s) failed verification or the workload; more reps cannot help"
            break
        if step["action"] == "stop":
            stopped, why = step["stopped"], step["why"]
            break
        if step["reps"] <= have:
            raise RuntimeError(f"until_decided_step asked for {step['reps']} reps a side, "
                               f"{have} are done")     # a bug: never loop without new reps
        added = schema.extend_cmp(cmp, step["reps"])
        look["added_to"] = step["reps"]
        say(f"{text} -> adding reps {have + 1}..{step['reps']} a side "
            f"(at most {max_reps}), interleaved")
        schema.write_cmp(top, cmp)            # the plan first, as `analysis new-cmp` does
        ran = 0
        for variant, rep in added:
            ran += 1
            if not run_rep(variant, rep, schema.rep_dir(top, variant, rep)):
                failed += 1
                break                         # no more reps after a failed one
        added_runs += ran
        if ran < len(added):
            unlist_unrun(cmp, added[ran:])
            schema.write_cmp(top, cmp)
    record = {"max_reps": max_reps, "requested_reps": requested, "reps": have,
              "added_reps": have - requested, "added_runs": added_runs,
              "failed_reps": failed, "looks": looks,
              "status": doc["status"], "stopped": stopped, "why": why}
    cmp["until_decided"] = record
    schema.write_cmp(top, cmp)
    say(f"{text}; stopped: {why} ({have - requested} rep(s) a side added, "
        f"{have} of at most {max_reps})")
    return record
