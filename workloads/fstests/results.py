"""fstests outcomes: one boot's results read back, stock vs patched, the summary.

Read from what fstests and the guest driver leave in a boot's directory:
results/SECTION/result.xml (fstests' JUnit XML: a testcase with no child passed,
<skipped message=REASON> was not run, <failure message=...> failed),
state.json (guest.py: which test hung, which sections did not run) and the
guest's console.log (kernel splats, attributed to the test that was running by
fstests' "run fstests TEST at ..." markers; a splat fails its test).
"""
import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field

PASS, FAIL, NOTRUN, HUNG = "pass", "fail", "notrun", "hung"
BAD = (FAIL, HUNG)
# Verdicts of a test whose outcome differs between the variants.
REGRESSION = "regression"          # fails/hangs on patched, passes on stock, both times
STOCK_ONLY = "stock-only failure"  # fails/hangs on stock, passes on patched, both times
FLAKE = "flake"                    # the rerun did not repeat the difference
UNCONFIRMED = "regression (not confirmed: no rerun)"
OTHER = "differs"                  # e.g. not run on one variant only

# A note that starts with this: the section's results are missing, not a result.
BROKEN = "did not run"
# The note of a section a Ctrl-C cut short: the tests with a result count, the rest did not run.
INTERRUPTED = "interrupted: the tests after the last result did not run"
MARKER = re.compile(r"run fstests (\S+) at ")


@dataclass
class Outcome:
    name: str
    status: str
    seconds: int = 0
    reason: str = ""
    splats: list = field(default_factory=list)


def parse_junit(path):
    """The testcases of one fstests result.xml, in file order ([] if there is none yet)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    out = []
    for case in root.iter("testcase"):
        seconds = int(float(case.get("time") or 0))
        skipped, failure = case.find("skipped"), case.find("failure")
        if failure is not None:
            out.append(Outcome(case.get("name"), FAIL, seconds, failure.get("message", "")))
        elif skipped is not None:
            out.append(Outcome(case.get("name"), NOTRUN, seconds,
                               (skipped.get("message") or "no reason given").strip()))
        else:
            out.append(Outcome(case.get("name"), PASS, seconds))
    return out


def progress_line(number, outcome, variant, section):
    """The line printed as a test finishes (KTAP-like, as tests/run-all.sh relays)."""
    where = f"{outcome.name} [{variant} {section}] ({outcome.seconds}s)"
    if outcome.status == PASS:
        return f"ok {number} {where}"
    if outcome.status == NOTRUN:
        return f"ok {number} {where} # SKIP {outcome.reason}"
    return f"not ok {number} {where}: {outcome.reason}"


def splats_by_test(console_text, splat_re):
    """{test: [kernel log lines matching splat_re while it ran]} from the console log."""
    found, current = {}, None
    for line in console_text.splitlines():
        m = MARKER.search(line)
        if m:
            current = m.group(1)
            continue
        if current and splat_re.search(line) and "guest-init:" not in line:
            found.setdefault(current, []).append(line.strip())
    return found


def load_boot(boot_dir, sections, splat_re, interrupted=False):
    """{section: {test: Outcome}} of one guest boot, and its notes (why a section did not run).
    interrupted: the boot was stopped by Ctrl-C, so a section without a record was cut
    short (its result.xml holds the tests that finished), not broken."""
    try:
        with open(os.path.join(boot_dir, "state.json")) as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = {"sections": {}}
    try:
        with open(os.path.join(boot_dir, "console.log"), errors="replace") as f:
            splats = splats_by_test(f.read(), splat_re)
    except OSError:
        splats = {}
    outcomes, notes = {}, {}
    for sec in sections:
        rec = state["sections"].get(sec)
        if rec is None and interrupted:
            notes[sec] = INTERRUPTED
        elif rec is None:
            notes[sec] = f"{BROKEN}: no record of this section (the guest ended before it)"
        elif rec.get("broken"):
            notes[sec] = f"{BROKEN}: {rec['broken']}"
        elif not rec.get("ran"):
            notes[sec] = rec.get("why_not", "not run")
        tests = {t.name: t for t in parse_junit(os.path.join(boot_dir, "results", sec, "result.xml"))}
        hung = (rec or {}).get("hung")
        if hung:
            tests[hung] = Outcome(hung, HUNG, rec.get("hung_after_s") or 0,
                                  f"hung: no result after {rec.get('hung_after_s')}s")
            notes[sec] = f"{hung} hung; the tests after it did not run"
        for name, lines in splats.items():
            t = tests.get(name)
            if t is None:
                continue
            t.splats = lines
            if t.status == PASS:
                t.status, t.reason = FAIL, f"kernel splat: {lines[0][:160]}"
        outcomes[sec] = tests
    return outcomes, notes


def classify(stock1, patched1, stock2=None, patched2=None):
    """The verdict on one test whose first-round statuses differ (None: they agree)."""
    if stock1 == patched1:
        return None
    if patched1 in BAD and stock1 == PASS:
        if stock2 is None or patched2 is None:
            return UNCONFIRMED
        return REGRESSION if (patched2 in BAD and stock2 == PASS) else FLAKE
    if stock1 in BAD and patched1 == PASS:
        if stock2 is None or patched2 is None:
            return STOCK_ONLY + " (not confirmed: no rerun)"
        return STOCK_ONLY if (stock2 in BAD and patched2 == PASS) else FLAKE
    return OTHER


def differing(stock, patched):
    """{section: [test]} whose outcomes differ between the variants' first rounds."""
    out = {}
    for sec in stock:
        names = sorted(set(stock[sec]) | set(patched.get(sec, {})))
        diff = [n for n in names if _status(stock[sec], n) != _status(patched.get(sec, {}), n)]
        if diff:
            out[sec] = diff
    return out


def _status(tests, name):
    t = tests.get(name)
    return t.status if t else "missing"


def summarize(variants, rounds, reruns, notes, meta):
    """The summary record.  rounds: {variant: {section: {test: Outcome}}} (first round);
    reruns: the same for the rerun of the differing tests ({} if none); notes:
    {variant: {section: text}}."""
    sections = sorted({s for v in rounds.values() for s in v}, key=list(meta["sections"]).index)
    summary = dict(meta, sections={}, regressions=[], flakes=[], stock_only=[], broken=[])
    for v in variants:
        for sec, note in notes.get(v, {}).items():
            if note.startswith(BROKEN):
                summary["broken"].append(f"{v} {sec}: {note}")
    for sec in sections:
        names = sorted({n for v in variants for n in rounds[v].get(sec, {})})
        tests, counts = {}, {v: {PASS: 0, FAIL: 0, NOTRUN: 0, HUNG: 0} for v in variants}
        for n in names:
            row = {}
            for v in variants:
                t = rounds[v].get(sec, {}).get(n)
                if t:
                    row[v] = asdict(t)
                    counts[v][t.status] += 1
                re_t = reruns.get(v, {}).get(sec, {}).get(n)
                if re_t:
                    row[f"{v}_rerun"] = asdict(re_t)
            # A Ctrl-C stops the boots at different tests: one that finished on one
            # variant only is not a difference.
            on_both = all(v in row for v in variants)
            if len(variants) == 2 and (on_both or not meta.get("interrupted")):
                s1, p1 = (_status(rounds[v].get(sec, {}), n) for v in variants)
                s2, p2 = (reruns[v][sec][n].status if n in reruns.get(v, {}).get(sec, {}) else None
                          for v in variants)
                verdict = classify(s1, p1, s2, p2)
                if verdict:
                    row["verdict"] = verdict
                    entry = f"{sec}:{n}"
                    if verdict in (REGRESSION, UNCONFIRMED):
                        summary["regressions"].append(entry)
                    elif verdict == FLAKE:
                        summary["flakes"].append(entry)
                    elif verdict.startswith(STOCK_ONLY):
                        summary["stock_only"].append(entry)
            tests[n] = row
        summary["sections"][sec] = {
            "counts": counts,
            "notes": {v: notes.get(v, {}).get(sec) for v in variants if notes.get(v, {}).get(sec)},
            "tests": tests,
        }
    return summary


def exit_status(summary):
    """0 or 1 for a finished run: with both variants 1 means a regression; with one,
    a failed or hung test.  4 when a section's results are missing."""
    if summary["broken"]:
        return 4
    if len(summary["variants"]) == 2:
        return 1 if summary["regressions"] else 0
    return 1 if any(c[FAIL] + c[HUNG] for s in summary["sections"].values() for c in s["counts"].values()) else 0


def render_text(summary):
    """The summary as text: counts, the verdicts, failures, and every not-run test with its reason."""
    variants = summary["variants"]
    out = [f"fstests {summary['source_name']} on f2fs, variants {' and '.join(variants)}, "
           f"tests: {' '.join(summary['test_args'])}", ""]
    if summary.get("interrupted"):
        out.insert(1, "INTERRUPTED: the counts are of the tests that finished before Ctrl-C")
    for sec, rec in summary["sections"].items():
        out.append(f"== section {sec} ==")
        for v in variants:
            c = rec["counts"][v]
            out.append(f"  {v}: {c[PASS]} passed, {c[FAIL]} failed, {c[HUNG]} hung, {c[NOTRUN]} not run")
        for v, note in rec["notes"].items():
            out.append(f"  {v}: note: {note}")
        for n, row in rec["tests"].items():
            if row.get("verdict"):
                states = ", ".join(f"{k} {row[k]['status']}" for k in row if k != "verdict")
                out.append(f"  {row['verdict'].upper()}: {n} ({states})")
        for v in variants:
            for n, row in rec["tests"].items():
                t = row.get(v)
                if t and t["status"] in BAD:
                    out.append(f"  {v} {t['status']}: {n} ({t['seconds']}s): {t['reason'][:200]}")
        for v in variants:
            for n, row in rec["tests"].items():
                t = row.get(v)
                if t and t["status"] == NOTRUN:
                    out.append(f"  {v} not run: {n}: {t['reason']}")
        out.append("")
    for line in summary["broken"]:
        out.append(f"MISSING RESULTS: {line}")
    if len(variants) == 2:
        out.append(f"regressions: {' '.join(summary['regressions']) or 'none'}")
        out.append(f"flakes (the rerun did not repeat the difference): {' '.join(summary['flakes']) or 'none'}")
        out.append(f"stock-only failures: {' '.join(summary['stock_only']) or 'none'}")
    return "\n".join(out) + "\n"
