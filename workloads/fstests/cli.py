"""`./wbtrace fstests`: fstests on the lab's stock and patched f2fs, compared.

Host side: checks the options, builds fstests once (build.py), boots the lab
guest once per variant with a TEST and a SCRATCH disk (vm.sh), runs guest.py
inside, relays a line per test, reruns once on both variants every test whose
outcome differs, and writes the summary (results.py) to results/fstests-STAMP/.
"""
import argparse
import datetime
import itertools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

from fstests import build, guest, ledger, results, sections

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VM = os.path.join(TOP, "kernel-patch", "lab", "vm.sh")
LAB_BUILD = os.path.join(TOP, "kernel-patch", "lab", "build.sh")
SPLAT_ERE = os.path.join(TOP, "kernel-patch", "lab", "splat.ere")
PY = "/usr/bin/python3"
VARIANTS = {"stock": ["stock"], "patched": ["patched"], "both": ["stock", "patched"]}
# The guest's disks: fstests.md measured f2fs/001 needing a 4 GiB scratch fs.
# A boot that prints nothing for this long past the per-test timeout is stuck
# below the guest's own watchdog (a kernel that no longer schedules it): killed.
STALL_GRACE_S = 300
TEST_NAME = re.compile(r"^[a-z0-9]+/[0-9]{3}$")
GROUP_NAME = re.compile(r"^[a-z0-9_/.-]+$")

# Exit statuses, the one table (--help prints it).  results.exit_status()
# gives EXIT_OK, EXIT_FAIL or EXIT_NO_RESULTS for a run that finished.
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_SETUP, EXIT_NO_RESULTS, EXIT_INTR = 0, 1, 2, 3, 4, 130
EXIT = {
    EXIT_OK: "every boot ran to its end; with --variant both: no regression; with one variant: no test failed",
    EXIT_FAIL: "--variant both: a regression (fails or hangs on patched, passes on stock, again on the rerun; "
               "or no rerun could tell); one variant: a test failed or hung",
    EXIT_USAGE: "bad usage",
    EXIT_SETUP: "set-up: no fstests source, the fstests build failed, a tool is missing",
    EXIT_NO_RESULTS: "a guest boot ended without its results (QEMU failed, panic, stuck and killed)",
    EXIT_INTR: "interrupted (the guests are stopped; the tests that finished are in the summary and the ledger)",
}


def usage_epilog():
    rows = "\n".join(f"  {k:<4} {v}" for k, v in EXIT.items())
    disks = ", ".join(f"{d.var} {d.dev} ({d.size})" for d in sections.DISKS)
    def opts(s):
        mounts = sorted({s.mount_for(v) for v in ("stock", "patched")})
        parts = ([f"mkfs {s.mkfs}"] if s.mkfs else []) + [
            f"mount -o {m}" + (" (patched)" if len(mounts) > 1 and m == s.mount_for("patched") else
                               " (stock)" if len(mounts) > 1 else "")
            for m in mounts if m]
        return f"\n              {'; '.join(parts)}" if parts else ""
    secs = "\n".join(f"  {name:<11} {s.about}{opts(s)}" for name, s in sections.SECTIONS.items())
    return f"""sections:
{secs}

Each variant boots once with sparse disks: {disks};
one after the other, or side by side with --jobs 2 (one host core each).
One line per test as it finishes.  Kept in results/fstests-STAMP/: VARIANT/
(fstests' results and JUnit XML results/SECTION/result.xml, check-SECTION.log,
console.log = the guest kernel log, local.config, state.json), rerun-VARIANT/ when
a test's outcome differed, summary.json and summary.txt (every not-run test with
fstests' reason).  The fstests source: --source, else $WBTRACE_FSTESTS_SOURCE, else
../shared/vendor/{build.VENDORED_NAME} beside the clone; it is built once into
$WBTRACE_CACHE (default ~/.cache/wbtrace), keyed by the source's hash.

exit status:
{rows}"""


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="./wbtrace fstests", formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="./wbtrace fstests [--variant stock|patched|both] [--section NAME[,NAME]|all] "
              "[-g GROUP | TEST...] [--debug] [--source DIR|TARBALL] [--test-timeout SEC] "
              "[--skip-done] [--max-tests N] [--ledger] [--jobs 1|2]",
        description="Run fstests (the filesystem regression suite) on the lab's f2fs in the QEMU guest, "
                    "and with both variants tell a patched regression from stock behaviour and from a flake.",
        epilog=usage_epilog())
    ap.add_argument("--variant", default="both", help="stock, patched or both (default: both)")
    ap.add_argument("--section", default="plain", help=f"{', '.join(sections.SECTIONS)} (comma-separated) or all (default: plain)")
    ap.add_argument("-g", dest="group", help="an fstests group, e.g. quick, auto, f2fs/quick")
    ap.add_argument("tests", nargs="*", metavar="TEST", help="test names, e.g. generic/001 f2fs/001")
    ap.add_argument("--debug", action="store_true", help="the lab's debug kernel (lockdep, KASAN)")
    ap.add_argument("--source", help="fstests source: a directory (e.g. a git clone) or a tarball")
    # generic/032 took 849 s of guest time on a loaded 2-core TCG host (2026-12-06):
    # a limit near that calls a slow test hung.
    ap.add_argument("--test-timeout", type=int, default=1800,
                    help="seconds after which a test counts as hung (default: 1800)")
    ap.add_argument("--skip-done", action="store_true",
                    help="leave out the tests the ledger already has an outcome for, on every "
                         "variant and section asked for, under the current kernel, modules and fstests")
    ap.add_argument("--max-tests", type=int, metavar="N",
                    help="run at most the first N tests (after --skip-done): a slice of a long group")
    ap.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                    help="guests at once: 2 boots the stock and the patched guest side by side "
                         "(one host core each under TCG; each line names its variant); default 1")
    ap.add_argument("--ledger", action="store_true",
                    help="boot nothing: print what the ledger holds for these tests, sections and "
                         "variants under the current conditions (coverage, pass sets compared)")
    args = ap.parse_args(argv)
    if args.variant not in VARIANTS:
        ap.error(f"unknown variant '{args.variant}' (stock, patched or both)")
    try:
        args.sections = sections.parse_sections(args.section)
    except ValueError as e:
        ap.error(str(e))
    if bool(args.group) == bool(args.tests):
        ap.error("give either -g GROUP or test names (e.g. generic/001 f2fs/001), not both or neither")
    bad = [t for t in args.tests if not TEST_NAME.match(t)]
    if bad:
        ap.error(f"not a test name: {' '.join(bad)} (DIR/NNN, e.g. generic/001)")
    if args.group and not GROUP_NAME.match(args.group):
        ap.error(f"not a group name: '{args.group}'")
    if args.test_timeout < 60:
        ap.error("--test-timeout takes seconds, at least 60")
    if args.max_tests is not None and args.max_tests < 1:
        ap.error("--max-tests takes a count, at least 1")
    if args.jobs not in (1, 2):
        ap.error("--jobs takes 1 or 2 (a run boots at most two guests at once: one per variant)")
    if args.ledger and (args.skip_done or args.max_tests):
        ap.error("--ledger boots nothing: --skip-done and --max-tests choose tests to run")
    return args


def log(msg):
    print(f"[fstests] {msg}", file=sys.stderr, flush=True)


class Interrupted(Exception):
    pass


def boot(variant, out, tree, secs, check_args, args, label, live=None):
    """One guest boot running guest.py; returns vm.sh's exit status (or 'stalled').
    live: a list the running vm.sh is added to, for boot_all() to stop on Ctrl-C."""
    os.makedirs(out, exist_ok=True)
    cmd = [VM, "run", "--variant", variant, *sections.vm_disk_args(),
           "--no-splat-check", "--timeout", "172800", "--log-dir", out]
    if args.debug:
        cmd.append("--debug")
    cmd += ["--", "env", f"PYTHONPATH={os.path.join(TOP, 'workloads')}", "PYTHONDONTWRITEBYTECODE=1",
            PY, "-m", "fstests.guest", "--tree", tree, "--out", out, "--sections", ",".join(secs),
            "--test-timeout", str(args.test_timeout), "--"] + check_args
    log(f"{label}: booting the lab guest with f2fs {variant} (results in {os.path.relpath(out, TOP)})")
    t0 = time.time()
    # The tree's directory is the guest's working directory: vm.sh makes it
    # visible even when the cache is under a path the guest covers with tmpfs.
    proc = subprocess.Popen(cmd, cwd=tree, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True, text=True, bufsize=1)
    if live is not None:
        live.append(proc)
    last = time.time()
    stall = args.test_timeout + STALL_GRACE_S
    try:
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], 5)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break
                print(line.rstrip("\n"), flush=True)
                last = time.time()
            elif time.time() - last > stall:
                log(f"{label}: no output for {stall}s, beyond the per-test timeout: stopping the guest")
                stop(proc)
                return "stalled"
        rc = proc.wait()
    except Interrupted:
        stop(proc)
        raise
    log(f"{label}: guest done after {round(time.time() - t0)}s (exit {rc})")
    return rc


def boot_all(plan, tree, args):
    """Boot each (variant, out dir, sections, check args, label) of plan; their exit
    statuses in plan order.  --jobs 2: side by side, each boot relayed by its own thread
    (guest.py's lines name the variant).  Ctrl-C (Interrupted, raised in this thread)
    stops every guest still running before it goes on up."""
    if args.jobs == 1 or len(plan) < 2:
        return [boot(v, o, tree, s, c, args, lb) for v, o, s, c, lb in plan]
    rcs, live = [None] * len(plan), []

    def one(i, v, o, s, c, lb):
        try:
            rcs[i] = boot(v, o, tree, s, c, args, lb, live)
        except Exception as e:          # reported as that boot's status; the others go on
            log(f"{lb}: the boot could not run: {e}")
            rcs[i] = f"error ({e})"
    threads = [threading.Thread(target=one, args=(i, *p), daemon=True) for i, p in enumerate(plan)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)             # short joins: the signal handler runs in between
    except Interrupted:
        for p in list(live):
            stop(p)
        for t in threads:
            t.join(120)
        raise
    return rcs


def stop(proc):
    """vm.sh tears the guest down on TERM; wait for that."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def on_signal(signum, frame):
    raise Interrupted()


def lab_conditions(debug, fstests_sha256):
    """The ledger's conditions: the lab's products as build.sh names them (--print-paths
    builds nothing)."""
    cmd = [LAB_BUILD, "--print-paths"] + (["--debug"] if debug else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    paths = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return ledger.conditions_from_paths(paths, fstests_sha256, debug)


def git_commit():
    """HEAD of the clone, '-dirty' when tracked files differ from it ('' outside git)."""
    def git(*a):
        return subprocess.run(["git", "-C", TOP, *a], capture_output=True, text=True).stdout.strip()
    rev = git("rev-parse", "HEAD")
    return rev + ("-dirty" if rev and git("status", "--porcelain", "--untracked-files=no") else "")


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    cache = build.default_cache()
    out = None
    try:
        try:
            source = args.source or build.default_source(TOP)
            tree = build.ensure_built(source, cache, log=log)
        except (build.SourceError, RuntimeError) as e:
            log(f"error: {e}")
            return EXIT_SETUP
        check_args = ["-g", args.group] if args.group else list(args.tests)
        missing = [t for t in args.tests if not os.path.exists(os.path.join(tree, "tests", t))]
        if missing:
            log(f"error: no such test in fstests: {' '.join(missing)}")
            return EXIT_USAGE
        variants = VARIANTS[args.variant]
        with open(os.path.join(tree, "..", "source.json")) as f:
            src_meta = json.load(f)
        try:
            cond = lab_conditions(args.debug, src_meta["sha256"])
        except (OSError, subprocess.CalledProcessError, KeyError) as e:
            log(f"error: cannot name the lab's products for the ledger ({LAB_BUILD} --print-paths: {e})")
            return EXIT_SETUP
        if args.ledger or args.skip_done or args.max_tests:
            wanted = ledger.group_tests(tree, args.group) if args.group else list(args.tests)
            if not wanted:
                log(f"error: group '{args.group}' has no test for f2fs (tests/generic, tests/f2fs)")
                return EXIT_USAGE
            done, used, other, flaky = ledger.latest(ledger.load_records(TOP), cond, variants)
            if args.ledger:
                cov = ledger.coverage(wanted, done, args.sections, variants, flaky)
                what = f"-g {args.group} ({len(wanted)} tests)" if args.group else " ".join(wanted)
                print(ledger.render_coverage(cov, what, cond, used, other, variants), end="")
                return EXIT_OK
            todo = wanted
            if args.skip_done:
                todo = ledger.not_done(wanted, done, args.sections, variants)
                log(f"--skip-done: {len(wanted) - len(todo)} of {len(wanted)} tests already have "
                    f"outcomes in {ledger.LEDGER_DIR}/ for {' and '.join(variants)}, "
                    f"section(s) {','.join(args.sections)}")
            if args.max_tests:
                todo = todo[:args.max_tests]
            if not todo:
                log("nothing left to run")
                return EXIT_OK
            log(f"running {len(todo)} test(s): {todo[0]} .. {todo[-1]}")
            check_args = todo
        splat_re = re.compile(open(SPLAT_ERE).read().strip())
        out, stamp = new_results_dir(TOP, datetime.datetime.now(datetime.timezone.utc))
        meta = {"variants": variants, "sections": args.sections, "test_args": check_args,
                "source_name": os.path.basename(src_meta["source"].rstrip("/")), "source": src_meta,
                "fstests_tree": tree, "debug_kernel": args.debug, "test_timeout_s": args.test_timeout,
                "started": stamp, "boots": []}
        first, notes, failed_boots, reruns = {}, {}, [], {}
        meta["jobs"] = args.jobs
        rcs = boot_all([(v, os.path.join(out, v), args.sections, check_args, v) for v in variants],
                       tree, args)
        for v, rc in zip(variants, rcs):
            meta["boots"].append({"variant": v, "round": 1, "exit": rc})
            if rc not in (0, guest.EX_HUNG):     # guest.py's own: every section ran, or a test hung
                failed_boots.append(f"{v} (exit {rc})")
            first[v], notes[v] = results.load_boot(os.path.join(out, v), args.sections, splat_re)
        if len(variants) == 2:
            diff = results.differing(first["stock"], first["patched"])
            if diff:
                names = sorted({n for tests in diff.values() for n in tests})
                secs = [s for s in args.sections if s in diff]
                log(f"outcomes differ for {' '.join(names)}: running them once more on both variants")
                plan = [(v, os.path.join(out, f"rerun-{v}"), secs, names, f"rerun {v}")
                        for v in variants]
                meta["rerun"] = {"sections": secs, "tests": names}
                for (v, rdir, _, _, _), rc in zip(plan, boot_all(plan, tree, args)):
                    meta["boots"].append({"variant": v, "round": 2, "exit": rc})
                    reruns[v], _ = results.load_boot(rdir, secs, splat_re)
        summary = write_summary(out, cond, results.summarize(variants, first, reruns, notes, meta))
        if failed_boots:
            log(f"error: a guest boot ended without its results: {', '.join(failed_boots)} "
                f"(see the console.log in its directory)")
            return EXIT_NO_RESULTS
        status = results.exit_status(summary)
        if status == EXIT_NO_RESULTS:
            log("error: results are missing: " + "; ".join(summary["broken"]))
        elif status and len(variants) == 2:
            log(f"error: regression on patched: {' '.join(summary['regressions'])}")
        elif status:
            log("error: a test failed or hung (see above)")
        return status
    except Interrupted:
        if out and not any(files for _, _, files in os.walk(out)):
            shutil.rmtree(out, ignore_errors=True)  # interrupted before anything ran: leave nothing
            out = None
        if out:
            for sig in (signal.SIGINT, signal.SIGTERM):    # a second one must not lose the record
                signal.signal(sig, signal.SIG_IGN)
            write_summary(out, cond, interrupted_summary(out, variants, args.sections, meta, splat_re))
        log("interrupted: the guests are stopped" + (f"; what ran is in {os.path.relpath(out, TOP)}" if out else ""))
        return EXIT_INTR


def new_results_dir(top, now):
    """Make results/fstests-STAMP for a run started at NOW (UTC), or STAMP-2, -3, ...
    when another run started in the same second; return its path and its stamp, which
    also names the run's ledger record, so that neither is shared."""
    base = now.strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(1):
        stamp = base if n == 1 else f"{base}-{n}"
        path = os.path.join(top, "results", f"fstests-{stamp}")
        try:
            os.makedirs(path)
        except FileExistsError:
            continue
        return path, stamp


def interrupted_summary(out, variants, secs, meta, splat_re):
    """The summary of a run stopped by Ctrl-C, read back from its boot directories:
    the tests that finished count (and go to the ledger), those after them did not run,
    and no test that finished on one variant only is called a difference."""
    first, notes, reruns = {}, {}, {}
    for v in variants:
        first[v], notes[v] = results.load_boot(os.path.join(out, v), secs, splat_re, interrupted=True)
    rerun = meta.get("rerun")
    if rerun:
        for v in variants:
            reruns[v], _ = results.load_boot(os.path.join(out, f"rerun-{v}"), rerun["sections"],
                                             splat_re, interrupted=True)
    return results.summarize(variants, first, reruns, notes, dict(meta, interrupted=True))


def write_summary(out, cond, summary):
    """summary.json, summary.txt and the run's ledger record, then the summary
    printed: all written before the first print, which fails when the reader
    of a pipe (`| tee`) got the same Ctrl-C and is gone."""
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    text = results.render_text(summary)
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(text)
    rec_path = ledger.write_record(TOP, ledger.record_from_summary(summary, cond, git_commit()))
    print(text, end="")
    log(f"results: {os.path.relpath(out, TOP)}/ (summary.txt, summary.json)")
    log(f"ledger: {os.path.relpath(rec_path, TOP)} (commit it: the outcomes accumulate across sessions)")
    return summary


if __name__ == "__main__":
    sys.exit(main())
