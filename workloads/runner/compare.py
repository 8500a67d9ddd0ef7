"""`compare WORKLOAD`: two lab variants (stock and patched by default; --baseline and
--candidate pick any two of stock, patched, canary) interleaved (the order `analysis
new-cmp` gives) in one guest boot, the f2fs module swapped between reps; then the A/B
table."""

import argparse
import json
import os
import shutil
import subprocess
import sys

from analysis import schema

from . import fingerprints, guest, paths, until_decided
from .errors import EXIT_FAIL, EXIT_OK, SetupError, UsageError
from .jobfile import fmt_size
from .processes import tail
from .progress import Progress
from .results import refuse_to_reuse
from .run import run_local, warm_up


# --thresholds FILE is copied into the comparison dir under this name.
THRESHOLDS_COPY = "thresholds.json"


def sides(args):
    """(baseline, candidate) variants of a compare (stock, patched unless chosen)."""
    return (getattr(args, "baseline", None) or "stock",
            getattr(args, "candidate", None) or "patched")


def compare_command(args, wl):
    """`compare` after the argument checks: say what would run, or run it."""
    base, cand = sides(args)
    if args.dry_run:
        print(f"{wl.name}: {base} and {cand}, {args.reps} rep(s) each, interleaved in one guest "
              f"boot, size {fmt_size(args.size or wl.default_size)} per job, tracer "
              f"{'off' if args.no_trace else args.trace_mode}" +
              (f"; then more reps, interleaved, while the gate is inconclusive, up to "
               f"{args.until_decided} each" if args.until_decided else ""))
        return EXIT_OK
    if guest.in_guest():
        return compare_in_guest(args, wl)
    return compare_in_vm(args, wl)


def compare_plan(cmp_dir, workload, reps, baseline="stock", candidate="patched"):
    """Write cmp_dir/cmp.json through `python3 -m analysis new-cmp`; its run order."""
    env = dict(os.environ, PYTHONPATH=paths.TOP + (":" + os.environ["PYTHONPATH"]
                                             if os.environ.get("PYTHONPATH") else ""))
    p = subprocess.run([paths.PY, "-m", "analysis", "new-cmp", cmp_dir, "--workload", workload,
                        "--reps", str(reps), "--order", "interleaved",
                        "--baseline", baseline, "--candidate", candidate],
                       capture_output=True, text=True, env=env, cwd=paths.TOP)
    if p.returncode != 0:
        raise SetupError(f"analysis new-cmp failed: {tail(p.stderr, 1)}")
    plan = []
    for line in p.stdout.splitlines():
        v, r, d = line.split(None, 2)
        plan.append((v, int(r), d))
    return plan


def compare_in_vm(args, wl):
    """Host side of `compare`: one guest boot, reps of the two variants interleaved."""
    base, cand = sides(args)
    size = args.size or wl.default_size
    stamp = schema.utc_stamp()
    top = os.path.abspath(args.output or os.path.join(paths.RESULTS, f"cmp-{wl.name}-{stamp}"))
    refuse_to_reuse(top)
    guest.check_output_dir(top)
    modules = {v: guest.lab_ready(v) for v in ("stock", "patched", base, cand)}
    if not all(modules.values()):
        missing = " and ".join(v for v, m in modules.items() if not m)
        raise SetupError(f"the lab (kernel + f2fs {missing}) is not built or out of date: "
                         "run './wbtrace lab build'" +
                         (" and './wbtrace lab build --variant canary'"
                          if "canary" in missing else ""))
    modules = {v: modules[v] for v in (base, cand)}
    if not args.no_trace:
        paths.require_tracer()         # before compare_plan writes cmp.json
    plan = compare_plan(top, wl.name, args.reps, base, cand)
    thresholds = getattr(args, "thresholds", None)
    if thresholds:
        # A copy in the comparison dir: the guest sees it (a file under the host's /tmp
        # it would not), and the dir records which limits and alpha its gate used.
        os.makedirs(top, exist_ok=True)
        shutil.copyfile(thresholds, os.path.join(top, THRESHOLDS_COPY))
        thresholds = os.path.join(top, THRESHOLDS_COPY)
    accel, disk_mb = guest.guest_prep(args, top, wl, size)
    icount = guest.icount_spec(args)
    scratch = guest.scratch_kind(args, icount)
    context = guest.boot_context(accel, icount, module_sha256={
        v: fingerprints.sha256_file(m) for v, m in modules.items()})
    inner = [paths.WBRUN_EXE, "compare", wl.name, "--reps", str(args.reps), "--size", str(size),
             "-o", top, "--_stamp", stamp, "--_context", json.dumps(context, separators=(",", ":")),
             "--_plan", json.dumps(plan, separators=(",", ":"))]
    inner += guest.rep_options(args)
    if (base, cand) != ("stock", "patched"):
        inner += ["--baseline", base, "--candidate", cand]
    if args.until_decided:
        inner += ["--until-decided", str(args.until_decided)]
    if thresholds:
        inner += ["--thresholds", thresholds]
    if args.quiet:
        inner.append("--quiet")
    most = args.until_decided or args.reps
    timeout = args.timeout or max(3600, 600 + 900 * 2 * most)
    cmd = guest.vm_command(plan[0][0], disk_mb, timeout, icount, args.quiet, top, inner,
                           scratch=scratch, cpus=guest.guest_cpus(args, icount))
    progress = Progress(args.quiet, prefix="")
    progress.say(f"wbtrace: {wl.name}: booting the lab guest once for {args.reps} rep(s) of "
                 f"{base} and of {cand}, interleaved, {scratch} scratch" +
                 (f", then more while the gate is inconclusive, up to {most} each"
                  if args.until_decided else "") + f" -> {top}")
    rc = guest.guest_session(cmd, top, args.quiet, progress, "wbtrace compare")
    if rc != EXIT_OK:
        if rc == EXIT_FAIL:
            print(f"wbtrace compare: FAILED: a rep failed (see above); evidence in {top}",
                  file=sys.stderr)
        return rc
    env = dict(os.environ, PYTHONPATH=paths.TOP)
    print(f"\nA/B table ({top}):", flush=True)
    arc = subprocess.run([paths.PY, "-m", "analysis", "compare", top], env=env,
                         cwd=paths.TOP).returncode
    if arc != 0:
        print(f"wbtrace compare: the analysis could not compare the runs (exit {arc}); "
              f"results in {top}", file=sys.stderr)
        return EXIT_FAIL
    if args.until_decided:
        return until_decided_verdict(top, base, cand, thresholds)
    print(f"wbtrace compare: {args.reps} rep(s) each of {base} and {cand} verified; "
          f"comparison dir {top}")
    return EXIT_OK


def until_decided_verdict(top, base="stock", cand="patched", thresholds=None):
    """Host side, after an --until-decided session: the gate's table (also DIR/gate.json)
    and its exit status, with what the loop in the guest recorded in cmp.json."""
    env = dict(os.environ, PYTHONPATH=paths.TOP)
    print(f"\nGate ({top}):", flush=True)
    grc = subprocess.run([paths.PY, "-m", "analysis", "gate", top, "--json",
                          os.path.join(top, "gate.json")] +
                         (["--thresholds", thresholds] if thresholds else []),
                         env=env, cwd=paths.TOP).returncode
    try:
        rec = schema.load_cmp(top).get("until_decided")
    except schema.ResultsError as e:
        rec, why = None, str(e)
    else:
        why = "the guest did not record the loop in cmp.json"
    if not rec:
        print(f"wbtrace compare: FAILED: --until-decided: {why}", file=sys.stderr)
        return EXIT_FAIL
    print(f"wbtrace compare: until decided: {rec['reps']} rep(s) each of {base} and {cand} "
          f"verified ({rec['added_reps']} added to the {rec['requested_reps']} asked for, at "
          f"most {rec['max_reps']}); stopped: {rec['why']}; gate exit {grc}; comparison dir "
          f"{top}")
    return grc


def compare_in_guest(args, wl):
    """Guest side of `compare`: the planned reps, swapping the f2fs module between them."""
    try:
        context = json.loads(args._context or "{}")
        plan = json.loads(args._plan or "[]")
    except ValueError:
        raise UsageError("--_context/--_plan: not JSON") from None
    top = os.path.abspath(args.output or "")
    if not plan or not args.output:
        raise UsageError("compare inside the guest is started by `./wbtrace compare` on the host")
    guest.require_shared(top)
    sums = context.get("module_sha256") or {}

    def load(variant):
        """Swap the f2fs module to `variant` if need be; its run context."""
        if guest.loaded_guest_variant() != variant:
            guest.swap_guest_module(variant)
            print(f"wbtrace compare: f2fs {variant} loaded", flush=True)
        loaded = guest.loaded_guest_variant()
        if loaded != variant:
            raise SetupError(f"loaded f2fs is {loaded or 'unknown'}, wanted {variant}")
        guest.label_loaded(variant)
        return dict(context, module_sha256=sums.get(variant))

    def run_rep(variant, rep, run_dir):
        """One rep of `variant` (swapping the module first if need be); did it pass?"""
        ctx = load(variant)
        rargs = argparse.Namespace(**vars(args))
        rargs.output = run_dir
        rargs.reps = max(args.reps, rep)      # "rep 3/3", not 3/2, for a rep --until-decided adds
        return run_local(rargs, wl, "vm", variant, ctx, rep_no=rep) == EXIT_OK
    first = plan[0][0]
    warm_up(args, wl, first, load(first))
    failed = sum(not run_rep(*step) for step in plan)
    if args.until_decided:
        failed = until_decided.until_decided(
            top, args.until_decided, run_rep, lambda line: print(line, flush=True),
            failed=failed, thresholds=getattr(args, "thresholds", None))["failed_reps"]
    return EXIT_FAIL if failed else EXIT_OK
