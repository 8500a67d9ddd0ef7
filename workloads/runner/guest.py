"""The lab guest, both sides of a session.

Host side: is the lab built, what the guest needs before it boots (tracer, shared -o
DIR, accelerator, disk size, -icount), the vm.sh command, and the session itself, whose
output is relayed and whose exit status is explained.  Guest side (WBTRACE_GUEST=1):
what this boot records once, which lab f2fs module is loaded, and swapping it."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from analysis import schema

from . import paths
from .errors import (EXIT_DEVICE, EXIT_FAIL, EXIT_INTR, EXIT_MEANING, EXIT_OK, EXIT_SETUP,
                     EXIT_USAGE, SetupError, UsageError, vm_exit_meaning)
from .fingerprints import sha256_file
from .jobfile import MiB
from .processes import stop_proc, tail
from .progress import STATUS_LINE, fmt_elapsed
from .results import SHARE_MARKER

# canary: stock + tests/canary/*.patch, test-only (built on request: lab build --variant canary)
VARIANTS = ("stock", "patched", "canary")
# Guest paths that can never be the host's: results there are lost.  (/tmp, /run,
# /var/tmp are tmpfs in the guest, but -o DIR is shared read-write at its own path,
# mounted over them, and the guest checks it sees SHARE_MARKER.)
GUEST_PRIVATE = ("/dev", "/proc", "/sys")


def in_guest():
    return os.environ.get("WBTRACE_GUEST") == "1"


# ---------------------------------------------------------------- host side: before the boot

def lab_paths():
    try:
        p = subprocess.run([paths.BUILD_SH, "--print-paths"], capture_output=True, text=True,
                           timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        raise SetupError(f"cannot ask the lab where it lives ({e}): run './wbtrace lab build'")
    if p.returncode != 0:
        raise SetupError(f"the lab is not set up ({tail(p.stderr, 1)}): run './wbtrace lab build'")
    out = {}
    for line in p.stdout.splitlines():
        k, eq, v = line.partition("=")
        if eq:
            out[k.strip()] = v.strip()
    return out


def lab_ready(variant):
    lab = lab_paths()
    kdir = lab.get("KERNEL_DIR", "")
    mod = lab.get(f"MODULE_{variant.upper()}", "")
    if not (kdir and os.path.exists(os.path.join(kdir, ".done")) and mod and
            os.path.exists(os.path.join(os.path.dirname(mod), ".done"))):
        return None
    return mod


def check_output_dir(top):
    """Refuse, before booting anything, an -o DIR the guest cannot write back to the host."""
    rtop = os.path.realpath(top)
    for d in GUEST_PRIVATE:
        if rtop == d or rtop.startswith(d + "/"):
            raise UsageError(f"-o {top}: {d} is private to the lab guest, results written there "
                             f"would be lost; use a directory elsewhere (default: results/)")
    d = os.path.abspath(top)
    while not os.path.exists(d):
        d = os.path.dirname(d)
    if not os.access(d, os.W_OK | os.X_OK):
        raise SetupError(f"cannot write the results to {top}: {d} is not writable by uid "
                         f"{os.geteuid()} (give -o DIR, or run as root)")


def guest_prep(args, top, wl, size):
    """What every guest session needs first: the tracer (unless --no-trace), the marker
    proving -o DIR is shared, the accelerator vm.sh will use, the scratch disk size."""
    if not args.no_trace:
        paths.require_tracer()
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, SHARE_MARKER), "w") as f:
        f.write("the lab guest checks that it sees this file, i.e. that -o DIR is shared\n")
    accel = None
    try:
        p = subprocess.run([paths.VM_SH, "accel"], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        accel = p.stdout.strip().splitlines()[-1] if p.returncode == 0 and p.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        pass
    need = wl.need_device_bytes(size)
    return accel, max(2048, (need + MiB - 1) // MiB)


# Tracer probes an A/B leaves out: the hand-out probe on writeback_iter()'s exit runs
# once per folio on patched and never on stock (whose loop does not call it), so its
# cost (about 14 us a folio under -icount) would be charged to one side only.
COMPARE_SKIP_PROBES = "handout"


def rep_options(args):
    """The per-rep options the host side hands on to the runner in the guest."""
    out = []
    if args.fs_opts:
        out += ["--fs-opts", args.fs_opts]
    if args.mkfs_opts is not None:
        out += ["--mkfs-opts", args.mkfs_opts]
    if args.no_trace:
        out.append("--no-trace")
    if args.trace_mode != "stream":
        out += ["--trace-mode", args.trace_mode]
    if not args.no_trace and getattr(args, "skip_probe", None) is not None:
        out += ["--skip-probe", args.skip_probe]     # '' too: compare's "keep every probe"
    return out


def icount_spec(args):
    """QEMU -icount SPEC for the guest boot: --icount, else WBTRACE_ICOUNT; "" for none
    ("off" too).  vm.sh checks the spec (exit 2 on a bad one, or with KVM)."""
    spec = getattr(args, "icount", None)
    if spec is None:
        spec = os.environ.get("WBTRACE_ICOUNT", "")
    spec = spec.strip()
    return "" if spec == "off" else spec


def icount_vm_options(icount):
    """vm.sh options for icount_spec(): explicit, so that vm.sh's own WBTRACE_ICOUNT
    default can never boot a mode other than the one recorded in meta.json."""
    if icount:
        return ["--icount", icount]
    return ["--icount", "off"] if os.environ.get("WBTRACE_ICOUNT") else []


def scratch_kind(args, icount):
    """The guest's scratch device: --scratch, else a RAM disk under -icount (a virtio disk
    is a file on the host, whose I/O waits would leak host time into the guest's clock)
    and the virtio disk otherwise."""
    kind = getattr(args, "scratch", None)
    if kind:
        return kind
    return "ram" if icount else "disk"


def guest_cpus(args, icount):
    """The guest's vCPUs: --cpus, else 1 under -icount and 2 otherwise.  With -icount QEMU
    runs every vCPU on one host thread, in turn: a second vCPU adds no capacity, and while
    one executes, the guest clock also runs for the other, which counts as busy time it
    never executed (guest_cpu.json's busy time then depends on how the two overlapped)."""
    n = getattr(args, "cpus", None)
    if n:
        return n
    return 1 if icount else 2


def boot_context(accel, icount, **facts):
    """What the runner in the guest records but cannot see for itself (meta.json): the
    git state, the accelerator, the physical CPU, the -icount mode, and `facts` (module
    hashes)."""
    context = {"git": schema.git_info(paths.TOP),
               "accel": "tcg" if icount else accel,   # vm.sh boots TCG for -icount (or refuses)
               **facts, "host_cpu_model": schema.host_info().get("cpu_model")}
    if icount:
        context["icount"] = icount     # meta.json host.icount (ResultsWriter._write_meta)
    return context


def vm_command(variant, disk_mb, timeout, icount, quiet, top, inner, disk=None,
               scratch="disk", cpus=2):
    """The vm.sh command that boots the lab guest with `variant` and runs `inner` in it."""
    cmd = [paths.VM_SH, "run", "--variant", variant, "--no-build", "--disk-size", f"{disk_mb}M",
           "--scratch", scratch, "--cpus", str(cpus), "--timeout", str(timeout)]
    cmd += icount_vm_options(icount)
    if disk:
        cmd += ["--disk", os.path.abspath(disk)]
    if quiet:
        cmd.append("-q")
    # results/ is shared read-write anyway; any other -o DIR must be shared on its own.
    if not (os.path.realpath(top) + "/").startswith(os.path.realpath(paths.RESULTS) + "/"):
        cmd += ["--rw", top]
    return cmd + ["--"] + inner


# ---------------------------------------------------------------- host side: the session

def _drop_share_marker(top):
    try:
        os.unlink(os.path.join(top, SHARE_MARKER))
    except OSError:
        pass


def guest_session(cmd, top, quiet, progress, prog):
    """Run the vm.sh command `cmd`, relaying the guest's output; the exit status to return."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
                            process_group=0)
    stop = threading.Event()

    def ticker():
        while not stop.wait(1.0):
            progress.tick()
    th = threading.Thread(target=ticker, daemon=True)
    th.start()
    last = []
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            last = (last + [line])[-20:]
            m = STATUS_LINE.match(line)
            if m:
                progress.status(m.group(1))
            elif line.startswith("[vm] ") and progress.tty and not quiet:
                progress.status(line[5:])
            else:
                progress.say(line, always=True)
        rc = proc.wait()
    except KeyboardInterrupt:
        progress.clear()
        print(f"{prog}: interrupted: stopping the guest", file=sys.stderr)
        stop_proc(proc, signal.SIGINT, timeout=60)
        _drop_share_marker(top)
        if os.path.isdir(top) and not os.listdir(top):
            os.rmdir(top)
            print(f"{prog}: interrupted before any rep finished; nothing kept", file=sys.stderr)
        else:
            print(f"{prog}: interrupted; what was finished is in {top}", file=sys.stderr)
        return EXIT_INTR
    finally:
        stop.set()
        progress.clear()
        _drop_share_marker(top)
    if rc in (EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_SETUP, EXIT_DEVICE):
        if os.path.isdir(top) and not os.listdir(top):
            os.rmdir(top)
        elif rc in (EXIT_OK, EXIT_FAIL):
            progress.say(f"wbtrace: {'done' if rc == EXIT_OK else 'FAILED'} in "
                         f"{fmt_elapsed(time.monotonic() - progress.t0)} (guest boot included)")
        if rc in (EXIT_USAGE, EXIT_SETUP, EXIT_DEVICE):
            # The guest side said why above (or lost it at power-off): never exit silently.
            why = EXIT_MEANING[rc]
            last = next((ln for ln in reversed(last) if ln.strip()), "")
            print(f"{prog}: FAILED: the guest session ended with exit {rc} ({why}); "
                  f"its last line: {last[:200]}", file=sys.stderr)
        return rc
    what = (EXIT_MEANING[EXIT_INTR] if rc == EXIT_INTR else
            vm_exit_meaning(rc) or f"the guest runner exited {rc}")
    print(f"{prog}: FAILED: {what}; guest logs: see the [vm] lines above; results so far "
          f"in {top}", file=sys.stderr)
    return EXIT_INTR if rc == EXIT_INTR else EXIT_FAIL


# ---------------------------------------------------------------- guest side

def require_shared(top):
    if not os.path.exists(os.path.join(top, SHARE_MARKER)):
        raise SetupError(f"{top} is not shared with the guest (results would be lost)")


def guest_context():
    """git state and module hash, computed once per guest boot (both are slow over 9p)."""
    path = "/tmp/.wbtrace-run-context.json"
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    module = os.environ.get("WBTRACE_MODULE", "")
    ctx = {"git": schema.git_info(paths.TOP), "accel": None,
           "module_sha256": sha256_file(module) if module and os.path.isfile(module) else None}
    try:
        with open(path, "w") as f:
            json.dump(ctx, f)
    except OSError:
        pass
    return ctx


def loaded_guest_variant():
    """Which lab module is loaded now, by its GNU build-id ("stock"/"patched"/"canary"), or
    None.

    The guest offers the modules (WBTRACE_MODULE_STOCK/_PATCHED, _CANARY when built) so
    that a test can swap them in one boot; WBTRACE_VARIANT only says which one was loaded
    at boot."""
    try:
        with open("/sys/module/f2fs/notes/.note.gnu.build-id", "rb") as f:
            note = f.read()
    except OSError:
        return None
    cache = "/tmp/.wbtrace-run-variants.json"
    try:
        with open(cache) as f:
            known = json.load(f)
    except (OSError, ValueError):
        known = {}
    key = note.hex()
    if key not in known:
        known[key] = None
        for v in VARIANTS:
            ko = os.environ.get(f"WBTRACE_MODULE_{v.upper()}", "")
            try:
                with open(ko, "rb") as f:
                    if note and note in f.read():
                        known[key] = v
                        break
            except OSError:
                continue
        try:
            with open(cache, "w") as f:
                json.dump(known, f)
        except OSError:
            pass
    return known[key]


def swap_guest_module(variant):
    """In the guest: unload f2fs and load the lab's `variant` module instead."""
    ko = os.environ.get(f"WBTRACE_MODULE_{variant.upper()}", "")
    if not ko or not os.path.isfile(ko):
        raise SetupError(f"WBTRACE_MODULE_{variant.upper()} is not set or missing in the guest")
    for cmd in (["rmmod", "f2fs"], ["insmod", ko]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SetupError(f"{' '.join(cmd)} failed: {tail(p.stderr or p.stdout, 1)}")


def label_loaded(variant):
    """After a swap: the environment names the module now loaded, as it did at boot."""
    os.environ["WBTRACE_MODULE"] = os.environ.get(f"WBTRACE_MODULE_{variant.upper()}", "")
    os.environ["WBTRACE_VARIANT"] = variant       # the tracer labels summary.json with it
