"""The command line of `./wbtrace list`, `./wbtrace run` and `./wbtrace compare`
(workloads/wbtrace-run): options, help, and one error line with the exit status.

What the commands do lives in workloads/runner/ (its __init__ lists the modules); the
workloads are the fio job files workloads/<name>.fio (see workloads/README.md)."""

import argparse
import json
import os
import signal
import sys

from runner.compare import compare_command
from runner.errors import (EXIT_DEVICE, EXIT_FAIL, EXIT_INTR, EXIT_OK, EXIT_SETUP, EXIT_USAGE,
                           UsageError, WbError, exit_status_help)
from runner.guest import COMPARE_SKIP_PROBES, VARIANTS
from runner.jobfile import MiB, all_workloads, parse_size, resolve_workload
from runner.run import run_command
from runner.tracing import run_phase

from analysis.gate import load_thresholds   # after runner: its __init__ puts the repo on the path


def _vcpus(text):
    """--cpus: the guest's vCPUs, 1 to the host's CPU count."""
    try:
        n = int(text, 10)
    except ValueError:
        n = 0
    most = os.cpu_count() or 1
    if not 1 <= n <= most:
        raise argparse.ArgumentTypeError(f"expected 1 to {most} vCPUs, not '{text}'")
    return n


def _whole_number(text):
    """An option's value that must be a whole number (its range is checked later)."""
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of reps, not '{text}'") \
            from None


def _inject_spec(text):
    mode, _, name = text.partition(":")
    if mode not in ("dev", "file") or "/" in name or name.startswith("."):
        raise argparse.ArgumentTypeError("expected dev or file, optionally :FILE")
    return text


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see ./wbtrace {self.prog.split()[-1]} --help)")


RUN_EPILOG = """\
Each rep: mkfs.f2fs, mount, the BPF tracer (trace/) and blktrace (blktrace/btt.avg)
around fio (fio.json), then verification: fio's own verify pass, a verify-only pass
and a file manifest after drop_caches, fsck.f2fs -f, the same after umount + mount,
and the kernel log (dmesg.txt).  verify.txt explains every step; meta.json has the
summary (analysis/SCHEMA.md).  A failed step marks the run failed; all evidence stays.

Output: -o DIR, else results/<workload>-<variant>-<UTC stamp>; with --reps N > 1 the
reps are DIR/rep-01, rep-02, ...  An existing non-empty DIR is never reused.

Targets: vm (the lab guest; the default when this kernel has no f2fs) boots once for
all reps; host (needs root) uses --device DEV (refused when mounted, held or swap) or
a loop-mounted image file (--image FILE, default /var/tmp/wbtrace-W-STAMP.img, removed
afterwards unless a rep failed).

""" + exit_status_help({EXIT_FAIL: "(workload or verification)",
                        EXIT_SETUP: "(root, f2fs, lab, tracer, tools)",
                        EXIT_DEVICE: "or too small"}) + "\n"


COMPARE_EPILOG = """\
Output (analysis/SCHEMA.md): DIR/cmp.json (written by `analysis new-cmp`, which also
gives the run order) and DIR/stock/rep-NN, DIR/patched/rep-NN, each a full verified
run dir as `./wbtrace run` writes it.  Between reps the guest swaps the module
(rmmod f2fs; insmod the other f2fs.ko); every rep is labelled by the build-id of
the module actually loaded.  Each rep: fresh mkfs, caches dropped by verification.

--until-decided N: after the --reps reps the guest gates the comparison (as
`./wbtrace gate DIR` does, analysis/thresholds.json); while the verdict is
inconclusive (or there are too few reps for one) and a side has fewer than N
reps, it runs another round in the same boot, interleaved, up to the reps the
gate says would decide (at most N), and gates again: one line per look with
the verdict, the smallest detectable change and the reps that would decide.
It stops on pass or regression, on "cannot judge", on a failed rep, or at N
(straight to N when a change sits at its limit: no estimate).  cmp.json "until_decided" records the reps
added and why it stopped; DIR/gate.json the final verdict.  Each look is one
more test, so a long loop raises the chance of a false decision.

""" + exit_status_help({EXIT_OK: "and the table printed",
                        EXIT_FAIL: "or the analysis could not compare"},
                       codes=(EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_SETUP, EXIT_INTR)) + """
With --until-decided, once every rep passed: the gate's exit status (0 pass,
1 regression, 2 inconclusive or cannot judge).
"""


def build_parser():
    p = _Parser(prog="wbtrace", description="wbtrace workloads (fio jobs in workloads/)")
    sub = p.add_subparsers(dest="cmd", metavar="list|run|compare")
    sub.required = True
    ls = sub.add_parser("list", help="list the workloads")
    ls.add_argument("--json", action="store_true", help="machine-readable list")
    r = sub.add_parser("run", help="run a workload with tracing and verification",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run WORKLOAD (./wbtrace list) on f2fs with tracing and "
                                   "data verification.", epilog=RUN_EPILOG)
    r.add_argument("workload", metavar="WORKLOAD")
    r.add_argument("--target", choices=("vm", "host"),
                   help="vm: the lab guest (default when this kernel has no f2fs); host: here")
    r.add_argument("--variant", choices=VARIANTS,
                   help="f2fs module in the lab guest (default stock); vm target only")
    r.add_argument("--reps", type=int, default=1, help="repetitions (default 1, one guest boot; in the guest, more than one starts "
                        "with a warm-up rep that is not kept)")
    dg = r.add_mutually_exclusive_group()
    dg.add_argument("--device", metavar="DEV", help="host: the block device to mkfs (erased!)")
    dg.add_argument("--image", metavar="FILE",
                    help="host: image file on a loop device; vm: the guest's scratch disk file")
    r.add_argument("--fs-opts", metavar="OPTS", default="",
                   help="mount options added to the job's (KEY=V replaces KEY), "
                        "e.g. compress_log_size=4")
    r.add_argument("--mkfs-opts", metavar="OPTS", default=None,
                   help="mkfs.f2fs options instead of the job's")
    r.add_argument("--size", metavar="S", type=lambda s: parse_size(s, "--size"),
                   help="size per fio job (default: the job file's '; size:')")
    r.add_argument("--no-trace", action="store_true",
                   help="no BPF tracer, no blktrace, no on-CPU stack sampling")
    r.add_argument("--trace-mode", choices=("stream", "hist"), default="stream",
                   help="tracer mode: stream (events.jsonl, exact) or hist (in-kernel)")
    r.add_argument("--skip-probe", metavar="NAMES", default=None,
                   help="optional tracer probes not to attach (wbtrace-trace --skip-probe, "
                        "names: wbtrace-trace --list-probes); compare passes "
                        f"'{COMPARE_SKIP_PROBES}' so both variants run the same probes")
    r.add_argument("-o", "--output", metavar="DIR", help="result directory")
    r.add_argument("--timeout", type=int, default=None,
                   help="vm: guest time limit, s (default max(3600, 600 + 900 per rep))")
    r.add_argument("--icount", metavar="SPEC", default=None,
                   help="vm: QEMU -icount SPEC (e.g. shift=auto), TCG only; guest time from "
                        "executed instructions; recorded as meta.json host.icount "
                        "(default $WBTRACE_ICOUNT, else off)")
    r.add_argument("--scratch", choices=("disk", "ram"), default=None,
                   help="vm: the guest's scratch device: disk (virtio, a file on the host) or "
                        "ram (a RAM disk in guest memory: no host I/O in a rep); default ram "
                        "with --icount, else disk; recorded as meta.json f2fs.device_kind")
    r.add_argument("--cpus", metavar="N", type=_vcpus, default=None,
                   help="vm: the guest's vCPUs (default 1 with --icount, whose vCPUs take "
                        "turns on one host thread, else 2); recorded as meta.json host.cpus")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress lines (CI)")
    r.add_argument("--inject-corruption", nargs="?", const="dev", type=_inject_spec,
                   help=argparse.SUPPRESS)    # debug: dev|file[:FILE], proves verify can fail
    r.add_argument("--_stamp", help=argparse.SUPPRESS)
    r.add_argument("--_context", help=argparse.SUPPRESS)
    c = sub.add_parser("compare", help="A/B: stock and patched interleaved in one guest boot",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run WORKLOAD on f2fs stock and patched, reps interleaved "
                                   "(A B, B A, A B, ...) in ONE lab guest boot, each rep a full "
                                   "verified run; then print the A/B table.", epilog=COMPARE_EPILOG)
    c.add_argument("workload", metavar="WORKLOAD")
    c.add_argument("--reps", type=int, default=3,
                   help="reps per variant (default 3; a verdict needs at least 3), after a warm-up "
                        "rep of the first variant that is not kept")
    c.add_argument("--baseline", choices=VARIANTS, default="stock",
                   help="the variant compared against (default stock)")
    c.add_argument("--candidate", choices=VARIANTS, default="patched",
                   help="the variant judged (default patched; canary = stock plus the "
                        "test-only tests/canary/ patches, to prove the gate)")
    c.add_argument("--until-decided", metavar="N", type=_whole_number, default=None,
                   help="then, while the gate is inconclusive, add reps (interleaved, same "
                        "boot) up to N per variant; exit status the gate's (see below)")
    c.add_argument("--thresholds", metavar="FILE", default=None,
                   help="the gate's thresholds for --until-decided (default "
                        "analysis/thresholds.json; bench gives one with alpha split over "
                        "its workloads)")
    c.add_argument("--size", metavar="S", type=lambda s: parse_size(s, "--size"),
                   help="size per fio job (default: the job file's '; size:')")
    c.add_argument("--fs-opts", metavar="OPTS", default="", help="as for run")
    c.add_argument("--mkfs-opts", metavar="OPTS", default=None, help="as for run")
    c.add_argument("--no-trace", action="store_true",
                   help="no BPF tracer, no blktrace, no on-CPU stack sampling")
    c.add_argument("--trace-mode", choices=("stream", "hist"), default="stream",
                   help="tracer mode (as for run)")
    c.add_argument("--skip-probe", metavar="NAMES", default=COMPARE_SKIP_PROBES,
                   help=f"tracer probes both variants leave out (default "
                        f"'{COMPARE_SKIP_PROBES}': it runs on every folio of patched and on "
                        f"none of stock); '' keeps every probe")
    c.add_argument("-o", "--output", metavar="DIR",
                   help="comparison dir (default results/cmp-<workload>-<UTC stamp>)")
    c.add_argument("--timeout", type=int, default=None,
                   help="guest time limit, s (default max(3600, 600 + 1800 per rep), the reps "
                        "being N with --until-decided N)")
    c.add_argument("--icount", metavar="SPEC", default=None,
                   help="QEMU -icount SPEC for the guest, as for run")
    c.add_argument("--scratch", choices=("disk", "ram"), default=None,
                   help="the guest's scratch device, as for run (default ram with --icount, "
                        "else disk)")
    c.add_argument("--cpus", metavar="N", type=_vcpus, default=None,
                   help="the guest's vCPUs, as for run (default 1 with --icount, else 2)")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines (CI)")
    c.add_argument("--dry-run", action="store_true",
                   help="check the options and say what would run; run nothing")
    c.add_argument("--_stamp", help=argparse.SUPPRESS)
    c.add_argument("--_context", help=argparse.SUPPRESS)
    c.add_argument("--_plan", help=argparse.SUPPRESS)
    c.set_defaults(target="vm", variant=None, device=None, image=None, inject_corruption=None)
    ph = sub.add_parser("_phase", help=argparse.SUPPRESS)
    ph.add_argument("spec")
    return p



def cmd_list(args):
    wls = all_workloads()
    if args.json:
        print(json.dumps([w.describe() for w in wls], indent=2))
        return 0
    width = max(len(w.name) for w in wls)
    for w in wls:
        print(f"{w.name:<{width}}  {w.purpose}")
    return 0


def checked_workload(args, reps_hint=""):
    """The workload named on the command line, once --reps and --size make sense."""
    wl = resolve_workload(args.workload)
    if args.reps < 1:
        raise UsageError(f"--reps must be at least 1{reps_hint}")
    if args.size is not None and args.size < MiB:
        raise UsageError("--size must be at least 1M")
    return wl


def check_until_decided(args):
    """--until-decided N: the most reps a side, the first --reps included; the gate needs
    its min_reps (analysis/thresholds.json) a side before it can decide anything."""
    n = args.until_decided
    if args.thresholds is not None:
        args.thresholds = os.path.abspath(args.thresholds)
        load_thresholds(args.thresholds)           # a bad file is a usage error, now
        if n is None:
            raise UsageError("--thresholds is the gate's for --until-decided N; give that too")
    if n is None:
        return
    need = load_thresholds(args.thresholds)["min_reps"]
    if n < need:
        raise UsageError(f"--until-decided must be at least {need} (the most reps per "
                         f"variant; the gate needs {need} for a verdict), not {n}")
    if n < args.reps:
        raise UsageError(f"--until-decided {n} is below --reps {args.reps}: N is the most reps "
                         f"per variant, the first --reps included")


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    sub = argv[0] if argv else ""
    prog = f"wbtrace {sub}" if sub in ("list", "run", "compare") else "wbtrace-run"
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = build_parser().parse_args(argv)
        if args.cmd == "list":
            return cmd_list(args)
        if args.cmd == "_phase":
            return run_phase(args.spec)
        if args.cmd == "compare":
            wl = checked_workload(args, " (a verdict needs 3)")
            if args.baseline == args.candidate:
                raise UsageError(f"--baseline and --candidate are both {args.baseline}: an "
                                 "A/A noise check is one `run --reps 2N` split in two "
                                 "(workloads/gate-proof.sh)")
            check_until_decided(args)
            return compare_command(args, wl)
        return run_command(args, checked_workload(args))
    except WbError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTR
    except BrokenPipeError:
        return 0
    except OSError as e:
        # Unforeseen file-system errors: one line, not a traceback.
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_FAIL
