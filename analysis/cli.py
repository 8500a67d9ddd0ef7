"""Command line: python3 -m analysis {compare,gate,flamegraph,report,validate} ...

Exit codes everywhere: 0 success, 2 bad input (one line on stderr, never a traceback);
`gate` also uses 1 for a regression and 2 for "cannot judge"."""

import argparse
import json
import os
import sys
import textwrap

from . import schema
from .schema import WbtraceError

REPO_RESULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")
RESULT_HELP = ("a run dir (has meta.json), a comparison dir (has cmp.json), or a dir of rep "
               "dirs; append :VARIANT to pick one variant of a multi-variant dir")


class _Fmt(argparse.RawDescriptionHelpFormatter):
    """Keeps hand-formatted epilogs; descriptions are wrapped by _d()."""


def _d(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), 78)


def _write_out(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    d = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(d, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise WbtraceError(f"{path}: cannot write: {e.strerror or e}") from None


# ----------------------------------------------------------------------------- subcommands

def cmd_compare(args) -> int:
    from .compare import compare_groups, format_table
    if not 0 < args.alpha < 1:
        raise WbtraceError("--alpha must be between 0 and 1")
    if args.min_reps < 2:
        raise WbtraceError("--min-reps must be >= 2 (Welch's test needs two values a side)")
    a, b = schema.resolve_pair(args.results)
    doc = compare_groups(a, b, alpha=args.alpha, min_reps=args.min_reps,
                         min_effect_pct=args.min_effect, allow_mismatch=args.allow_mismatch)
    if args.json:
        _write_out(args.json, json.dumps(_finite(doc), indent=2) + "\n")
    if args.json != "-":
        print(format_table(doc))
    return 0


def cmd_digest(args) -> int:
    from .compare import DIGEST_METRICS, compare_groups, digest_holm, digest_markdown
    metrics = args.metrics.split(",") if args.metrics else list(DIGEST_METRICS)
    docs = []
    for d in args.results:
        a, b = schema.resolve_pair([d])
        docs.append(compare_groups(a, b, min_effect_pct=args.min_effect))
    family = digest_holm(docs, metrics)
    if args.json:
        _write_out(args.json, json.dumps(_finite({"schema": "wbtrace.digest/1",
                                                  "metrics": metrics, "holm_family": family,
                                                  "comparisons": docs}),
                                         indent=2) + "\n")
    sys.stdout.write(digest_markdown(docs, metrics))
    return 0


def _finite(doc):
    """JSON has no inf: open CI ends become null."""
    if isinstance(doc, float):
        return doc if doc == doc and doc not in (float("inf"), float("-inf")) else None
    if isinstance(doc, dict):
        return {k: _finite(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_finite(v) for v in doc]
    return doc


def cmd_gate(args) -> int:
    from . import gate as g
    doc = g.gate_results(args.results, args.thresholds)
    if args.json:
        _write_out(args.json, json.dumps(_finite(doc), indent=2) + "\n")
    if args.junit:
        try:
            with open(args.junit, "wb") as f:
                f.write(g.junit_xml(doc))
        except OSError as e:
            raise WbtraceError(f"{args.junit}: cannot write: {e.strerror or e}") from None
    text = g.format_gate(doc)
    print(text, file=sys.stderr if args.json == "-" else sys.stdout)
    return doc["exit_code"]


def cmd_flamegraph(args) -> int:
    from . import folded
    from .flamegraph import diff_subtitle, flamegraph_doc

    def load(spec):
        if os.path.isfile(spec):
            st = folded.read_folded(spec)
            label = os.path.basename(spec)
        else:
            grp = schema.resolve_one(spec)
            paths = [r.stacks_path for r in grp.runs if r.stacks_path]
            if not paths:
                modes = sorted({r.meta["tracer"]["mode"] for r in grp.runs})
                raise WbtraceError(f"{spec}: no {schema.STACKS_FILE} in its run(s) (tracer mode "
                                   f"{'/'.join(modes)}; record with tracer mode \"stacks\")")
            st = folded.merge(folded.read_folded(p) for p in paths)
            label = f"{grp.label} ({len(grp.runs)} run{'s' if len(grp.runs) > 1 else ''})"
            units.update(r.meta["tracer"].get("stacks_weight", "samples") for r in grp.runs)
        if folded.total(st) <= 0:
            raise WbtraceError(f"{spec}: empty profile (no samples in the folded stacks)")
        return st, label

    units = set()
    st, label = load(args.result)
    if args.diff:
        base, blabel = load(args.diff)
        root = folded.diff_tree(base, st)
        title = args.title or f"Differential flame graph: {label} vs {blabel}"
        text = flamegraph_doc(root, title, args.output, diff=True, subtitle=diff_subtitle(root))
    else:
        root = folded.build_tree(st)
        title = args.title or f"Flame graph: {label}"
        unit = units.pop() if len(units) == 1 else "samples"
        text = flamegraph_doc(root, title, args.output, diff=False, unit=unit,
                              subtitle=f"{folded.total(st):,.0f} {unit}")
    out = args.output or _default_flame_path(args.result, bool(args.diff))
    _write_out(out, text)
    if out != "-":
        print(out)
    return 0


def _default_flame_path(spec: str, diff: bool) -> str:
    """Next to the data: <dir>/flamegraph[-VARIANT][-diff].svg, or <file>.svg."""
    base, sel = schema.split_spec(spec)
    if os.path.isfile(base):
        return os.path.splitext(base)[0] + ("-diff" if diff else "") + ".svg"
    return os.path.join(base, "flamegraph" + (f"-{sel}" if sel else "") +
                        ("-diff" if diff else "") + ".svg")


def cmd_report(args) -> int:
    from .report import build_report
    out = args.output
    if not out:
        if len(args.results) == 1:
            base, sel = schema.split_spec(args.results[0])
            out = os.path.join(base, "report" + (f"-{sel}" if sel else ""))
        else:
            out = os.path.join(REPO_RESULTS, f"report-{schema.utc_stamp()}")
    path = build_report(args.results, out, thresholds=args.thresholds)
    print(path)
    return 0


def cmd_validate(args) -> int:
    resolved = [(spec, schema.resolve(spec)) for spec in args.results]
    dup = schema.duplicate_runs([g for _, gs in resolved for g in gs])
    if dup:                                  # across the results given (e.g. the two sides)
        raise WbtraceError(f"{' '.join(args.results)}: {dup}")
    for spec, groups in resolved:
        desc = ", ".join(f"{g.label}: {len(g.runs)} run(s)" for g in groups)
        print(f"{spec}: valid ({desc})")
    return 0


def cmd_write_meta(args) -> int:
    run_dir = args.run_dir
    probes, drops = {}, 0
    sp = os.path.join(run_dir, schema.SUMMARY_FILE)
    if os.path.exists(sp):
        s = schema.validate_summary(schema.load_json(sp, "tracer summary"), sp)
        probes, drops = s["probes"], s["drops"]
    verify = {}
    for item in args.verify or []:
        step, _, state = item.partition("=")
        verify[step] = state
    unknown = set(verify) - set(schema.VERIFY_STEPS)
    if unknown:
        raise WbtraceError(f"--verify: unknown step(s) {', '.join(sorted(unknown))} "
                           f"(known: {', '.join(schema.VERIFY_STEPS)})")
    started = args.started or schema.utc_now()
    finished = args.finished or schema.utc_now()
    duration = args.duration
    if duration is None:
        duration = max(0.0, (_parse_ts(finished) - _parse_ts(started)).total_seconds())
    extra = {}
    for item in args.set or []:
        key, eq, val = item.partition("=")
        if not eq or not key:
            raise WbtraceError(f"--set {item!r}: expected KEY=JSON_VALUE")
        try:
            value = json.loads(val)
        except ValueError:
            value = val                        # bare strings need no quotes
        node = extra
        *parents, leaf = key.split(".")
        for k in parents:
            node = node.setdefault(k, {})
        node[leaf] = value
    meta = schema.new_meta(
        workload=args.workload, variant=args.variant, rep=args.rep, target=args.target,
        kernel_release=args.kernel_release, mkfs_options=args.mkfs_options,
        mount_options=args.mount_options, tracer_mode=args.tracer_mode, probes=probes,
        drops=drops, started=started, finished=finished, duration_s=duration, verify=verify,
        run_id=args.run_id, **extra)
    print(schema.write_meta(run_dir, meta))
    return 0


def _parse_ts(ts: str):
    import datetime as dt
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        raise WbtraceError(f"bad timestamp {ts!r}: use ISO 8601, e.g. 2025-11-27T02:03:04Z") \
            from None


def cmd_collapse_perf(args) -> int:
    from . import folded
    try:
        with open(args.input, "r", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise WbtraceError(f"{args.input}: cannot read: {e}") from None
    stacks = folded.collapse_perf_script(text, args.input)
    if not stacks:
        raise WbtraceError(f"{args.input}: no samples with call chains (perf record -g?)")
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(folded.to_text(stacks))
    return 0


def cmd_new_cmp(args) -> int:
    if args.baseline == args.candidate:
        raise WbtraceError("--baseline and --candidate must differ (for A/A runs give two "
                           "result dirs to compare instead)")
    if args.reps < 1:
        raise WbtraceError("--reps must be >= 1")
    cmp = schema.new_cmp(workload=args.workload, baseline=args.baseline,
                         candidate=args.candidate, reps=args.reps, order=args.order)
    d = args.dir or os.path.join(REPO_RESULTS, cmp["cmp_id"])
    if os.path.exists(os.path.join(d, schema.CMP_FILE)):
        raise WbtraceError(f"{d}: already holds a {schema.CMP_FILE}")
    schema.write_cmp(d, cmp)
    for v, r in schema.run_order(cmp, 1, args.reps):
        print(v, r, schema.rep_dir(d, v, r))
    return 0


# ----------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wbtrace", formatter_class=_Fmt,
        description=_d("wbtrace analysis: compare, gate, flame graphs and reports for f2fs "
                    "writeback results (layout: analysis/SCHEMA.md)."),
        epilog="Exit status: 0 ok, 1 regression (gate only), 2 bad input, cannot judge or "
               "inconclusive.")
    sub = p.add_subparsers(dest="cmd", metavar="SUBCOMMAND")
    sub.required = True

    c = sub.add_parser(
        "compare", formatter_class=_Fmt, help="A/B table: deltas, 95%% CI, significance",
        description=_d("Compare baseline A with candidate B, metric by metric: both values, delta %, "
                    "95 % confidence interval, Welch's t-test p-value and a verdict "
                    "(better/worse/same/cannot judge/unknown)."),
        epilog="Rates (bandwidth, IOPS) are averaged with the harmonic mean and tested on 1/x;\n"
               "other metrics use the arithmetic mean. A verdict needs >= --min-reps reps a side.\n"
               "Examples:\n"
               "  wbtrace compare results/cmp-seqwrite-20251127T020000Z\n"
               "  wbtrace compare results/run-a results/run-b --json cmp.json\n"
               "  wbtrace compare results/cmp-x:stock results/cmp-y:patched\n"
               "Exit status: 0 table printed (whatever it says), 2 bad or mismatched input.")
    c.add_argument("results", nargs="+", metavar="RESULT",
                   help="one comparison dir, or BASELINE CANDIDATE; each is " + RESULT_HELP)
    c.add_argument("--json", metavar="FILE", help="also write the comparison as JSON "
                   "(wbtrace.compare/1); '-' = JSON on stdout instead of the table")
    c.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    c.add_argument("--min-reps", type=int, default=3,
                   help="reps needed on each side for a verdict (default 3)")
    c.add_argument("--min-effect", type=float, default=1.0, metavar="PCT",
                   help="noise floor: significant changes smaller than this are 'same' (default 1)")
    c.add_argument("--allow-mismatch", action="store_true",
                   help="compare even if kernel/f2fs/fio options differ (workload must match)")
    c.set_defaults(func=cmd_compare)

    g = sub.add_parser(
        "gate", formatter_class=_Fmt, help="regression gate for CI (exit 0/1/2)",
        description=_d("Decide whether CANDIDATE regresses against BASELINE, per metric in three "
                    "ways: pass when the bad-side end of the 95 % interval is inside the "
                    "metric's max_regression_pct; regression when the change is significant "
                    "(Welch on the log scale, Holm over the gated metrics) AND beyond the limit; "
                    "otherwise inconclusive, with the smallest change the data could detect and "
                    "the reps a side that would decide."),
        epilog="Exit status:\n"
               "  0  pass: every gated metric is shown to be inside its limit\n"
               "  1  regression in at least one gated metric\n"
               "  2  cannot judge: too few reps, tracer drops above max_drops, a failed or\n"
               "     skipped verification step, a run listed twice, runs that are not\n"
               "     comparable (workload/config/accel/icount/CPU/fio/tracer/percentile\n"
               "     method/bdi/sysfs/device size), a limit finer than the metric's\n"
               "     resolution, missing or corrupt data\n"
               "     or inconclusive: the data can neither pass nor fail a metric\n"
               "Thresholds file (JSON, or TOML when it ends in .toml), default\n"
               "analysis/thresholds.json:\n"
               '  {"schema": "wbtrace.thresholds/1", "alpha": 0.05, "min_reps": 3,\n'
               '   "max_drops": 0, "verify": ["fio_verify", "fsck", ...],\n'
               '   "metrics": {"fio.bw_MiBps": {"max_regression_pct": 5, "required": true}}}\n'
               "Example:\n"
               "  wbtrace gate results/cmp-seqwrite-... --json gate.json --junit gate.xml")
    g.add_argument("results", nargs="+", metavar="RESULT",
                   help="BASELINE CANDIDATE, or one comparison dir; each is " + RESULT_HELP)
    g.add_argument("--thresholds", metavar="FILE", help="thresholds file (.json or .toml)")
    g.add_argument("--json", metavar="FILE", help="write the verdict as JSON (wbtrace.gate/1); "
                   "'-' = stdout (the table then goes to stderr)")
    g.add_argument("--junit", metavar="FILE", help="write JUnit XML (one testcase per metric)")
    g.set_defaults(func=cmd_gate)

    f = sub.add_parser(
        "flamegraph", formatter_class=_Fmt, help="flame graph SVG/HTML, or differential",
        description=_d("Render folded stacks (stacks.folded of every run in RESULT, merged) as a "
                    "self-contained flame graph: hover for details, click to zoom, 'Search' to "
                    "highlight frames by regular expression."),
        epilog="With --diff OTHER, draws RESULT with colours relative to OTHER (the baseline):\n"
               "red = the frame's share of all samples grew, blue = it shrank; both profiles are\n"
               "normalised by their total sample count, so different run lengths compare.\n"
               "RESULT may also be a plain .folded file (flamegraph.pl / speedscope format).\n"
               "Examples:\n"
               "  wbtrace flamegraph results/cmp-x:patched -o patched.svg\n"
               "  wbtrace flamegraph results/cmp-x:patched --diff results/cmp-x:stock -o diff.html")
    f.add_argument("result", metavar="RESULT", help=RESULT_HELP + ", or a .folded file")
    f.add_argument("--diff", metavar="OTHER", help="baseline to diff against")
    f.add_argument("-o", "--output",
                   help="output file, .svg or .html; '-' = SVG on stdout (default: next to the "
                        "data, RESULT/flamegraph[-VARIANT][-diff].svg)")
    f.add_argument("--title", help="title text")
    f.set_defaults(func=cmd_flamegraph)

    r = sub.add_parser(
        "report", formatter_class=_Fmt, help="one self-contained HTML report",
        description=_d("Write DIR/index.html (plots embedded as data URIs, flame graphs inline, "
                    "PNG copies next to it): the gate verdict and a validity banner "
                    "(verification, ring-buffer drops, comparability) first, every rep of each "
                    "gated metric in run order with the limits drawn, A/B table, throughput per rep with 95 % CI, latency "
                    "CDFs and histograms, bio sizes, compression ratios, flame graphs, run "
                    "metadata and verification status."),
        epilog="Examples:\n"
               "  wbtrace report results/cmp-seqwrite-...          (writes .../report/index.html)\n"
               "  wbtrace report results/a results/b -o /tmp/rep")
    r.add_argument("results", nargs="+", metavar="RESULT", help=RESULT_HELP)
    r.add_argument("--thresholds", metavar="FILE",
                   help="gate thresholds for the verdict at the top (default "
                        "analysis/thresholds.json)")
    r.add_argument("-o", "--output", metavar="DIR",
                   help="output dir (default: RESULT/report[-VARIANT] for one RESULT, else "
                        "results/report-<UTC stamp> in the repo)")
    r.set_defaults(func=cmd_report)

    v = sub.add_parser("validate", formatter_class=_Fmt, help="check result dirs against the schema",
                       description=_d("Load and check result dirs (meta.json, fio.json, "
                                   "trace/summary.json, cmp.json). Exit 0 valid, 2 invalid."))
    v.add_argument("results", nargs="+", metavar="RESULT", help=RESULT_HELP)
    v.set_defaults(func=cmd_validate)

    w = sub.add_parser(
        "write-meta", formatter_class=_Fmt, help="(runner plumbing) write a run's meta.json",
        description=_d("Write RUN_DIR/meta.json (wbtrace.run/1) with every required field, "
                       "validated. Probe modes and drops are taken from RUN_DIR/trace/"
                       "summary.json when it exists; unset verification steps are 'skipped'."),
        epilog="Example:\n"
               "  wbtrace write-meta results/cmp-x/stock/rep-01 --workload seqwrite \\\n"
               "      --variant stock --rep 1 --mount-options compress_algorithm=lz4 \\\n"
               "      --started 2025-11-27T02:03:04Z --verify fio_verify=pass --verify fsck=pass \\\n"
               "      --set kernel.f2fs_module_sha256=abc --set workload_sha256=0123")
    w.add_argument("run_dir", metavar="RUN_DIR")
    w.add_argument("--workload", required=True)
    w.add_argument("--variant", required=True, choices=schema.VARIANTS)
    w.add_argument("--rep", type=int, default=1)
    w.add_argument("--target", default="vm", choices=schema.TARGETS)
    w.add_argument("--run-id", help="default <workload>-<variant>-<UTC stamp>-rNN")
    w.add_argument("--kernel-release", help="default: uname -r of this machine")
    w.add_argument("--mkfs-options", default="")
    w.add_argument("--mount-options", default="")
    w.add_argument("--tracer-mode", default="summary", choices=schema.TRACER_MODES)
    w.add_argument("--started", help="ISO 8601 UTC (default now)")
    w.add_argument("--finished", help="ISO 8601 UTC (default now)")
    w.add_argument("--duration", type=float, help="seconds (default finished - started)")
    w.add_argument("--verify", action="append", metavar="STEP=pass|fail|skipped")
    w.add_argument("--set", action="append", metavar="KEY=JSON",
                   help="extra or nested field, e.g. host.accel=tcg, git.dirty=true")
    w.set_defaults(func=cmd_write_meta)

    n = sub.add_parser(
        "new-cmp", formatter_class=_Fmt, help="(runner plumbing) create a comparison dir",
        description=_d("Create DIR/cmp.json (wbtrace.cmp/1) and print the runs to make, one "
                       "'VARIANT REP REP_DIR' line each, in run order (interleaved = ABBA...)."),
        epilog="Example:\n"
               "  wbtrace new-cmp results/cmp-seqwrite-$(date -u +%Y%m%dT%H%M%SZ) \\\n"
               "      --workload seqwrite --reps 5 | while read variant rep dir; do ...; done")
    n.add_argument("dir", metavar="DIR", nargs="?",
                   help="default results/cmp-<workload>-<UTC stamp>")
    n.add_argument("--workload", required=True)
    n.add_argument("--reps", type=int, required=True)
    n.add_argument("--baseline", default="stock", choices=schema.VARIANTS)
    n.add_argument("--candidate", default="patched", choices=schema.VARIANTS)
    n.add_argument("--order", default="interleaved", choices=("interleaved", "blocked"))
    n.set_defaults(func=cmd_new_cmp)

    dg = sub.add_parser(
        "digest", formatter_class=_Fmt, help="one Markdown table over several comparisons",
        description=_d("Compare each comparison dir (as `compare` does) and print one Markdown "
                       "table of the chosen metrics over all of them, one block per workload: "
                       "the form a benchmark summary or a cover letter wants. p-values are "
                       "Holm-corrected over every test in the table (column 'p Holm'); a "
                       "better/worse verdict needs the corrected p < alpha."),
        epilog="Example:\n  wbtrace digest results/bench-X/fio-randwrite results/bench-X/fio-seqwrite\n"
               "Exit status: 0 table printed, 2 bad or mismatched input.")
    dg.add_argument("results", nargs="+", metavar="CMP_DIR", help="comparison dirs (with cmp.json)")
    dg.add_argument("--metrics", metavar="M1,M2", help="metric names (default: throughput, "
                    "sys CPU per MiB, p99 latency, bio size, data temperature and IPU shares, "
                    "compression ratio)")
    dg.add_argument("--min-effect", type=float, default=1.0, metavar="PCT",
                    help="noise floor as for compare (default 1)")
    dg.add_argument("--json", metavar="FILE", help="also write all comparisons as JSON")
    dg.set_defaults(func=cmd_digest)

    k = sub.add_parser(
        "collapse-perf", formatter_class=_Fmt,
        help="(runner plumbing) fold `perf script` output into stacks.folded",
        description=_d("Fold the text of `perf script` (from perf record -g) into FlameGraph "
                       "folded stacks, root first, command name as the root frame."))
    k.add_argument("input", metavar="PERF_SCRIPT_TXT")
    k.add_argument("output", metavar="STACKS_FOLDED")
    k.set_defaults(func=cmd_collapse_perf)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"wbtrace {args.cmd}"
    try:
        return args.func(args)
    except WbtraceError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug, but CI must never read a crash as a pass
        if os.environ.get("WBTRACE_DEBUG"):
            raise
        print(f"{prog}: internal error: {type(e).__name__}: {e} "
              f"(set WBTRACE_DEBUG=1 for a traceback)", file=sys.stderr)
        return 2
