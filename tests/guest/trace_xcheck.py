"""The tracer's pass durations against ftrace's function_graph timing of the
same calls (tests/guest/trace-xcheck.sh): an independent clock on the same
function.  Every traced pass must lie inside the function_graph call of its
thread, every call in the tracing window must hold one, and the two durations
must agree up to the two tools' hooks, so a tracer that measured the wrong
interval (a frame out of step, a pass lost or split) fails.

    trace_xcheck.py TRACE_DIR GRAPH_FILE
"""

import re
import sys

from tracecheck import Checks, load

FUNC = "f2fs_write_data_pages"
# A call printed as one leaf line, time = its start:
# "  123.456789 |   1)    dd-345     | ! 234.567 us  |  f2fs_write_data_pages [f2fs]();"
# or, when another event came between its entry and return on that CPU, as an
# entry line and a return line, time = its end:
# "  123.456789 |   1)    dd-345     | ! 234.567 us  |  } /* f2fs_write_data_pages [f2fs] */"
GRAPH_LINE = re.compile(
    r"^\s*(?P<ts>\d+\.\d+)\s*\|\s*(?P<cpu>\d+)\)\s*(?P<comm>.*?)-(?P<pid>\d+)\s*\|"
    r"\s*[-+!#*@$]?\s*(?P<dur>\d+(?:\.\d+)?)\s*us\s*\|\s*"
    r"(?:(?P<fn>\w+)|\}\s*/\*\s*(?P<ret>\w+))")

# ftrace prints the start to the microsecond; the duration to the nanosecond.
SLACK_NS = 1000
# The tracer's interval sits inside function_graph's: ftrace's entry hook runs
# before the BPF trampoline and its return hook after, so on every call
# ftrace starts earlier (measured 17-209 us under TCG) and ends later (5 us,
# or milliseconds when the task is preempted between the two return hooks).
# Typically the two agree to a few percent: the median ratio must be >= 0.9.
MIN_MEDIAN_RATIO = 0.9


def parse_graph(text, func=FUNC):
    """[(pid, start_ns, dur_ns)] of every complete call of FUNC in function_graph
    output with funcgraph-abstime and funcgraph-proc, leaf or entry/return lines,
    in the order printed."""
    calls = []
    for line in text.splitlines():
        m = GRAPH_LINE.match(line)
        if not m or func not in (m.group("fn"), m.group("ret")):
            continue
        ts, dur = round(float(m.group("ts")) * 1e9), round(float(m.group("dur")) * 1e3)
        calls.append((int(m.group("pid")), ts if m.group("fn") else ts - dur, dur))
    return calls


def outermost(passes):
    """(outer, nested): a pass inside another pass of its own thread (f2fs can
    write back a directory from inside a pass: f2fs_balance_fs() -> checkpoint ->
    f2fs_sync_dirty_inodes()) is nested; function_graph at max_graph_depth 1
    shows only the outer call, so only outer passes have a call to match."""
    outer, nested = [], []
    for p in passes:
        inside = any(q is not p and q[0] == p[0] and q[1] <= p[1] and p[1] + p[2] <= q[1] + q[2]
                     and (q[1], -q[2]) < (p[1], -p[2]) for q in passes)
        (nested if inside else outer).append(p)
    return outer, nested


def match(passes, calls, slack_ns=SLACK_NS):
    """Pair each pass record (tid, start, dur) with the function_graph call of
    the same thread that contains it; [(pass, call or None)].  A call holds at
    most one pass."""
    by_pid = {}
    for c in calls:
        by_pid.setdefault(c[0], []).append(c)
    used = set()
    out = []
    for p in passes:
        best = None
        for c in by_pid.get(p[0], []):
            if (id(c) not in used and c[1] <= p[1] + slack_ns and
                    p[1] + p[2] <= c[1] + c[2] + slack_ns):
                best = c
                break
        if best is not None:
            used.add(id(best))
        out.append((p, best))
    return out


def uncovered(passes, calls):
    """function_graph calls inside the tracer's window (from the first traced
    pass's start to the last one's end) that hold no traced pass."""
    if not passes:
        return []
    t0 = min(p[1] for p in passes)
    t1 = max(p[1] + p[2] for p in passes)
    held = {id(c) for _, c in match(passes, calls) if c is not None}
    return [c for c in calls if c[1] >= t0 and c[1] + c[2] <= t1 and id(c) not in held]


def nearest(item, others, same_pid=True):
    """For a diagnosis: the gaps (start, end) in us from ITEM (pid, start, dur) to the
    closest of OTHERS by start, of the same thread or, when none, of any, with that
    one's pid; None when OTHERS is empty."""
    pool = [o for o in others if o[0] == item[0]] if same_pid else []
    pool = pool or list(others)
    if not pool:
        return None
    o = min(pool, key=lambda o: abs(o[1] - item[1]))
    return {"pid": o[0], "d_start_us": round((o[1] - item[1]) / 1e3, 1),
            "d_end_us": round((o[1] + o[2] - item[1] - item[2]) / 1e3, 1)}


def main(argv):
    tdir, graph = argv[1:3]
    s, ev = load(tdir)
    with open(graph) as f:
        calls = parse_graph(f.read())
    check = Checks("xcheck")
    passes = [(e["tid"], e["t"] - e["dur_ns"], e["dur_ns"]) for e in ev
              if e["k"] == "wp" and e["site"] == FUNC and not e["no_exit"]]
    check(s["valid"] and len(passes) >= 20, "traced passes (valid run)", len(passes), ">= 20")
    passes, nested = outermost(passes)
    if nested:
        print(f"  xcheck: {len(nested)} pass(es) nested in another of their thread: not matched")
    check(len(calls) >= len(passes), "function_graph calls of the function", len(calls),
          f">= {len(passes)}")
    pairs = match(passes, calls)
    lone = [p for p, c in pairs if c is None]
    check(not lone, "every traced pass lies inside its function_graph call (same thread)",
          [(p, nearest(p, calls)) for p in lone[:3]], "none outside")
    extra = uncovered(passes, calls)
    check(not extra, "every function_graph call inside the tracing window holds a traced pass",
          [(c, nearest(c, passes)) for c in extra[:3]], "none missed")
    ratios = sorted(p[2] / c[2] for p, c in pairs if c is not None and c[2] > 0)
    med = ratios[len(ratios) // 2] if ratios else 0
    check(med >= MIN_MEDIAN_RATIO, "tracer / function_graph duration, median", round(med, 3),
          f">= {MIN_MEDIAN_RATIO}")
    if ratios:
        print(f"  xcheck: {len(ratios)} passes, tracer/ftrace duration: median {med:.3f}, "
              f"min {ratios[0]:.3f}, max {ratios[-1]:.3f}")
    check.exit()


if __name__ == "__main__":
    main(sys.argv)
