"""`run WORKLOAD`: all reps on this machine -- the host target, or inside the lab guest
-- or, from the host, one guest boot that runs this program inside for all of them."""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

from analysis import schema

from . import devices, fingerprints, guest, paths, probes
from .errors import EXIT_FAIL, EXIT_OK, SetupError, UsageError
from .jobfile import fmt_size, merge_mount_opts
from .processes import Cleanup
from .progress import Progress
from .rep import Rep, RepContext
from .results import output_layout


def run_command(args, wl):
    """`run` after the argument checks: pick the target and run there."""
    if args.skip_probe:
        if args.no_trace:
            raise UsageError("--skip-probe chooses tracer probes; with --no-trace there is none")
        probes.check_skip_probes(args.skip_probe)
    context = {}
    if args._context:
        try:
            context = json.loads(args._context)
        except ValueError:
            raise UsageError("--_context: not JSON") from None
    if guest.in_guest() and not context:
        context = guest.guest_context()
    if guest.in_guest() and args.target != "host":
        gv = os.environ.get("WBTRACE_VARIANT", "stock")
        lv = guest.loaded_guest_variant()
        if lv and lv != gv:
            gv = lv                       # swapped since boot: label by what is loaded
            guest.label_loaded(lv)
            context = dict(context, module_sha256=None)
        if args.variant and args.variant != gv:
            raise UsageError(f"this guest runs f2fs {gv}; --variant {args.variant} needs its "
                             f"own boot (run from the host)")
        if args.device:
            raise UsageError("inside the lab guest the workload runs on the scratch disk "
                             "(--device only with --target host)")
        if args.reps > 1:
            warm_up(args, wl, gv, context)
        return run_local(args, wl, "vm", gv, context)
    target = args.target
    if target is None:
        target = "host" if devices.kernel_has_f2fs() else "vm"
    if target == "host":
        if args.variant:
            raise UsageError("--variant picks the lab's f2fs module; on the host the running "
                             "f2fs is used (recorded as host-other)")
        if getattr(args, "icount", None) not in (None, "", "off"):
            raise UsageError("--icount sets the lab guest's QEMU clock; it has no meaning "
                             "with --target host")
        if getattr(args, "cpus", None):
            raise UsageError("--cpus sets the lab guest's vCPUs; it has no meaning with "
                             "--target host")
        if getattr(args, "scratch", None):
            raise UsageError("--scratch picks the lab guest's scratch device; with --target "
                             "host give --device DEV or --image FILE")
        if os.geteuid() != 0:
            raise SetupError(f"--target host needs root: sudo ./wbtrace run {wl.name} ...")
        size = args.size or wl.default_size
        if args.device:
            devices.check_device(args.device, wl.need_device_bytes(size))
        devices.require_f2fs()
        return run_local(args, wl, "host", "host-other", context)
    return run_in_vm(args, wl, args.variant or "stock")


# ---------------------------------------------------------------- host side of a guest run

def run_in_vm(args, wl, variant):
    """Boot the lab guest once and run all reps inside it (this program, WBTRACE_GUEST=1)."""
    size = args.size or wl.default_size
    if args.device:
        raise UsageError("--device is for --target host; the guest uses its own scratch disk")
    stamp = schema.utc_stamp()
    top, _ = output_layout(args.output, wl.name, variant, args.reps, stamp)
    guest.check_output_dir(top)
    module = guest.lab_ready(variant)
    if not module:
        raise SetupError(f"this kernel has no f2fs and the lab (kernel + f2fs {variant} module) is "
                         f"not built or out of date: run './wbtrace lab build'")
    accel, disk_mb = guest.guest_prep(args, top, wl, size)
    icount = guest.icount_spec(args)
    scratch = guest.scratch_kind(args, icount)
    if scratch == "ram" and args.image:
        raise UsageError("--image FILE is a disk scratch; --scratch ram keeps the data in "
                         "guest memory (give --scratch disk with --image)")
    context = guest.boot_context(accel, icount, share_marker=True,
                                 module_sha256=fingerprints.sha256_file(module))
    inner = [paths.WBRUN_EXE, "run", wl.name, "--target", "vm", "--variant", variant,
             "--reps", str(args.reps), "--size", str(size), "-o", top, "--_stamp", stamp,
             "--_context", json.dumps(context, separators=(",", ":"))]
    inner += guest.rep_options(args)
    if args.inject_corruption:
        inner.append(f"--inject-corruption={args.inject_corruption}")
    if args.quiet:
        inner.append("--quiet")
    timeout = args.timeout or max(3600, 600 + 900 * args.reps)
    cmd = guest.vm_command(variant, disk_mb, timeout, icount, args.quiet, top, inner,
                           disk=args.image, scratch=scratch, cpus=guest.guest_cpus(args, icount))
    progress = Progress(args.quiet, prefix="")
    progress.say(f"wbtrace: {wl.name}: booting the lab guest (f2fs {variant}, {scratch} "
                 f"scratch) for {args.reps} rep(s) -> {top}")
    return guest.guest_session(cmd, top, args.quiet, progress, "wbtrace run")


# ---------------------------------------------------------------- the reps, here

def tracer_version():
    try:
        p = subprocess.run([paths.TRACER, "-V"], capture_output=True, text=True, timeout=20)
        return (p.stdout or p.stderr).strip().splitlines()[0] if p.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def kernel_facts(target, context):
    """meta.json `kernel`: the release and the f2fs module in use, with its hash."""
    if target == "vm":
        module = os.environ.get("WBTRACE_MODULE", "")
        kernel = {"release": platform.release(), "f2fs_module": module or None}
        if context.get("module_sha256"):
            kernel["f2fs_module_sha256"] = context["module_sha256"]
        elif module and os.path.exists(module):
            kernel["f2fs_module_sha256"] = fingerprints.sha256_file(module)
    else:
        mp = subprocess.run(["modinfo", "-n", "f2fs"], capture_output=True, text=True)
        module = mp.stdout.strip() if mp.returncode == 0 else "(built-in)"
        kernel = {"release": platform.release(), "f2fs_module": module}
        if os.path.isfile(module):
            kernel["f2fs_module_sha256"] = fingerprints.sha256_file(module)
    return kernel


def warm_up(args, wl, variant, context):
    """In the guest, before the first measured rep of a boot: one rep that is not kept.

    Without it the first rep also pays for what the boot has not cached yet: fio, the
    tracer, perf, mkfs/fsck and the runner's Python read from the host's root over 9p,
    and f2fs's first mount.  In one boot of 4 reps on a RAM disk under -icount, rep 1's
    guest busy time was 3.5 % above that of reps 2-4, which agreed to 0.1 %; in an A/B
    that cost would land on whichever variant runs first.  It runs at the measured size:
    after a warm-up of 4 MiB, rep 1 of fio-seqwrite still had twice the p99 completion
    latency and writepages time of reps 2-5, which agreed within 5 %."""
    rargs = argparse.Namespace(**vars(args))
    rargs.output = tempfile.mkdtemp(prefix="wbtrace-warmup-", dir="/tmp")   # guest tmpfs
    rargs.reps, rargs.quiet, rargs._stamp = 1, True, None
    rargs.size = args.size or wl.default_size
    rargs.inject_corruption = None
    rargs.until_decided = None
    ctx = {k: v for k, v in context.items() if k != "share_marker"}
    print(f"wbtrace: {wl.name}: a warm-up rep on f2fs {variant} first, not kept (the first "
          f"rep of a boot pays for cold caches)", flush=True)
    try:
        rc = run_local(rargs, wl, "vm", variant, ctx, rep_no=1)
    finally:
        shutil.rmtree(rargs.output, ignore_errors=True)
    if rc != EXIT_OK:
        print(f"wbtrace: {wl.name}: the warm-up rep failed (exit {rc}); the measured reps "
              f"follow anyway and are verified on their own", flush=True)


def run_local(args, wl, target, variant, context, rep_no=None):
    """Execute all reps here: in the lab guest (target vm) or on this machine (host).

    rep_no: run one rep, numbered rep_no, straight into -o DIR (a comparison's rep dir)."""
    if os.geteuid() != 0:
        raise SetupError("running a workload needs root (mkfs, mount, BPF, blktrace): "
                         f"sudo ./wbtrace run {wl.name} ...")
    size = args.size or wl.default_size
    need = wl.need_device_bytes(size)
    trace = not args.no_trace
    if trace:
        paths.require_tracer()
    progress = Progress(args.quiet)
    cleanup = Cleanup()
    image_created = None
    keep_image = []                   # non-empty: a rep failed, the image is evidence
    stamp = args._stamp or schema.utc_stamp()
    if rep_no is None:
        top, layout = output_layout(args.output, wl.name, variant, args.reps, stamp)
    else:
        top, _ = output_layout(args.output, wl.name, variant, 1, stamp)
        layout = [(rep_no, top, schema.make_run_id(wl.name, variant, rep_no, stamp))]
    if context.get("share_marker"):
        guest.require_shared(top)

    # The device: the guest's scratch disk, a device the user named, or a loop image.
    if target == "vm":
        dev = os.environ.get("WBTRACE_SCRATCH")
        if not dev:
            raise SetupError("WBTRACE_SCRATCH is not set: not in the lab guest")
        dev = devices.check_device(dev, need, f"the guest scratch disk {dev}")
        dev_label = dev
    elif args.device:
        dev = devices.check_device(args.device, need)
        dev_label = args.device
    devices.require_f2fs()
    if target == "host":
        subprocess.run(["modprobe", "f2fs"], capture_output=True)
    tools = ["fio", "mkfs.f2fs", "fsck.f2fs", "mount", "umount", "sync", "dmesg"]
    if target == "host" and not args.device:
        tools.append("losetup")
    paths.need_tools(tools)
    blk = bool(trace and shutil.which("blktrace") and shutil.which("blkparse")
               and shutil.which("btt"))

    try:
        if target == "host" and not args.device:
            image = os.path.abspath(args.image or os.path.join(
                "/var/tmp", f"wbtrace-{wl.name}-{stamp}.img"))
            dev, created = devices.attach_image(image, need, cleanup, lambda: bool(keep_image))
            image_created = image if created else None
            dev_label = f"{dev} ({image})"
        # blktrace needs debugfs; mounted for the run when the system has not.
        if blk and not os.path.isdir("/sys/kernel/debug/block"):
            if subprocess.run(["mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug"],
                              capture_output=True).returncode == 0:
                cleanup.push("umount debugfs",
                             lambda: subprocess.run(["umount", "/sys/kernel/debug"],
                                                    capture_output=True))
            else:
                blk = False

        ctx = RepContext(
            wl=wl, size=size, reps=args.reps, variant=variant, target=target, dev=dev,
            dev_label=dev_label, dev_bytes=devices.device_bytes(dev),
            dev_kind=devices.device_kind(dev),
            sysfs_name=devices.f2fs_sysfs_name(dev), bdi=devices.bdi_dir(dev),
            mkfs_opts=args.mkfs_opts if args.mkfs_opts is not None else wl.mkfs,
            mount_opts=merge_mount_opts(wl.mount, args.fs_opts), tracer_mode=(
                "off" if not trace else ("summary" if args.trace_mode == "hist" else "events")),
            tracer_version=tracer_version() if trace else None, blktrace=blk,
            tracer_skip=args.skip_probe if trace else None,
            stacks=bool(trace and shutil.which("perf")),
            inject=args.inject_corruption, accel=context.get("accel"),
            icount=context.get("icount"), host_cpu_model=context.get("host_cpu_model"),
            git=context.get("git") or schema.git_info(paths.TOP),
            kernel=kernel_facts(target, context), tmp_root=os.environ.get("TMPDIR", "/tmp"))

        where = "the lab guest" if target == "vm" else f"this machine ({dev_label})"
        progress.say(f"wbtrace: {wl.name} on f2fs {variant} in {where}, {args.reps} rep(s), "
                     f"size {fmt_size(size)} per job -> {top}")
        os.makedirs(top, exist_ok=True)
        results = []
        progress.prefix = f"{wl.name} {variant} "
        for rep, run_dir, run_id in layout:
            r = Rep(ctx, rep, run_dir, run_id, progress)
            ok = r.execute()
            results.append(ok)
            progress.say(r.summary_line(), always=True)
            if r.interrupted:
                raise KeyboardInterrupt
        failed = results.count(False)
        if failed and image_created:
            keep_image.append(image_created)
        progress.say(f"wbtrace: {wl.name} on f2fs {variant}: "
                     f"{len(results) - failed}/{len(results)} rep(s) passed verification; "
                     f"results in {top}" +
                     (f"; the image is kept as evidence: {image_created}" if keep_image else ""),
                     always=True)
        return EXIT_FAIL if failed else EXIT_OK
    finally:
        errs = cleanup.run()
        for e in errs:
            print(f"wbtrace run: clean-up problem: {e}", file=sys.stderr)
        if os.path.isdir(top) and not os.listdir(top) and not guest.in_guest():
            os.rmdir(top)
