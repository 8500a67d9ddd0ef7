"""wbtrace workloads: `./wbtrace list` and `./wbtrace run` (workloads/wbtrace-run).

The workloads are the fio job files workloads/<name>.fio; their header comment lines
(`; purpose:`, `; size:`, `; mkfs:`, `; mount:`, `; sysfs:`, `; bdi:`, `; driver:`)
are the only description of them (see workloads/README.md).

One rep = mkfs.f2fs, mount, tracer + blktrace around the workload (fio, plus the
job's driver program if it has one), then verification: fio's own verify pass, a
verify-only pass and a content manifest after drop_caches, fsck.f2fs, the same after
umount + mount, and a scan of the kernel log.  Everything lands in a run dir in the
layout of analysis/SCHEMA.md; meta.json is written last through analysis.schema.

Targets: "vm" boots the lab guest once (kernel-patch/lab/vm.sh) and runs this same
program inside, where WBTRACE_GUEST=1 makes it work on the scratch disk; "host" works
on a device the user names, or on a loop-mounted image file it creates.
"""

import argparse
import difflib
import errno
import fcntl
import glob
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WL_DIR = os.path.join(TOP, "workloads")
WBRUN_EXE = os.path.join(WL_DIR, "wbtrace-run")
TRACER = os.path.join(TOP, "loader", "build", "wbtrace-trace")
VM_SH = os.path.join(TOP, "kernel-patch", "lab", "vm.sh")
BUILD_SH = os.path.join(TOP, "kernel-patch", "lab", "build.sh")
RESULTS = os.path.join(TOP, "results")
PY = "/usr/bin/python3"

if TOP not in sys.path:
    sys.path.insert(0, TOP)
from analysis import schema  # noqa: E402  (the results schema, single source of truth)
from analysis import folded  # noqa: E402  (perf script -> stacks.folded)

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_SETUP, EXIT_DEVICE, EXIT_INTR = 0, 1, 2, 3, 4, 130
HEADER_KEYS = ("purpose", "size", "mkfs", "mount", "sysfs", "bdi", "driver")
VARIANTS = ("stock", "patched")
MiB = 1 << 20
# Kernel log lines that fail a run: the lab's one list (vm.sh greps it too), plus I/O errors.
with open(os.path.join(TOP, "kernel-patch", "lab", "splat.ere")) as _f:
    SPLAT_RE = re.compile(_f.read().strip() + r"|I/O error")
# Tracer exit codes that mean "could not start tracing" (the command never ran).
TRACER_SETUP_EXITS = {2: "bad command line", 3: "not root", 4: "kernel has no BTF",
                      5: "f2fs or its module BTF missing", 6: "a required probe has no site",
                      7: "kernel too old for BPF tracing", 8: "BPF object failed to load"}


class WbError(Exception):
    code = EXIT_FAIL


class UsageError(WbError):
    code = EXIT_USAGE


class SetupError(WbError):
    code = EXIT_SETUP


class DeviceError(WbError):
    code = EXIT_DEVICE


class RepError(Exception):
    """A rep failed (workload or set-up step); the run goes on to clean-up and evidence."""


# ============================================================================ job files

class Workload:
    def __init__(self, name, path):
        self.name, self.path = name, path
        self.header = {}
        self.globals = {}
        self.jobs = []              # [(section, {opt: value})]
        with open(path, "rb") as f:
            raw = f.read()
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self._parse(raw.decode("utf-8", "replace"))

    # -- parsing
    def _parse(self, text):
        lines = text.splitlines()
        i = 0
        key_re = re.compile(r"^;\s*([A-Za-z_]+):\s*(.*?)\s*$")
        while i < len(lines):
            m = key_re.match(lines[i])
            if not m:
                break
            key = m.group(1).lower()
            if key not in HEADER_KEYS:
                raise UsageError(f"{self.path}:{i + 1}: unknown header '; {key}:' "
                                 f"(known: {', '.join(HEADER_KEYS)})")
            if key in self.header:
                raise UsageError(f"{self.path}:{i + 1}: header '; {key}:' given twice")
            self.header[key] = m.group(2)
            i += 1
        if not self.header.get("purpose"):
            raise UsageError(f"{self.path}: the first line must be '; purpose: <one line>'")
        if "size" not in self.header:
            raise UsageError(f"{self.path}: no '; size: <default size>' header line")
        self.default_size = parse_size(self.header["size"], f"{self.path}: size")
        section = None
        for n, line in enumerate(lines, 1):
            s = line.strip()
            if not s or s[0] in ";#":
                continue
            if s.startswith("["):
                if not s.endswith("]"):
                    raise UsageError(f"{self.path}:{n}: bad section line {s!r}")
                section = s[1:-1].strip()
                if section != "global":
                    if any(j == section for j, _ in self.jobs):
                        raise UsageError(f"{self.path}:{n}: job [{section}] defined twice")
                    self.jobs.append((section, {}))
                continue
            if section is None:
                raise UsageError(f"{self.path}:{n}: option outside a section: {s!r}")
            k, eq, v = s.partition("=")
            opts = self.globals if section == "global" else self.jobs[-1][1]
            opts[k.strip()] = v.strip() if eq else "1"
        if not self.jobs:
            raise UsageError(f"{self.path}: no fio job section")
        for job, _ in self.jobs:
            d = self.option(job, "directory")
            if d != "${WB_DIR}":
                raise UsageError(f"{self.path}: job [{job}] must write under directory=${{WB_DIR}} "
                                 f"(has {d!r})")
            fn = self.option(job, "filename")
            if fn and "/" in fn:
                raise UsageError(f"{self.path}: job [{job}] filename={fn!r} must stay in "
                                 f"${{WB_DIR}} (no '/')")
        for key in ("sysfs", "bdi"):
            self.kv(key)                     # syntax check now, not mid-run
        if self.driver_argv():
            drv = os.path.join(WL_DIR, self.driver_argv()[0])
            if not os.path.isfile(drv):
                raise UsageError(f"{self.path}: driver {self.driver_argv()[0]!r} is not a file "
                                 f"in {WL_DIR}")

    def option(self, job, key, default=None):
        opts = dict(self.jobs)[job]
        if key in opts:
            return opts[key]
        return self.globals.get(key, default)

    @property
    def purpose(self):
        return self.header["purpose"]

    @property
    def mkfs(self):
        return self.header.get("mkfs", "")

    @property
    def mount(self):
        return self.header.get("mount", "")

    def kv(self, key):
        """'a=1 b=2' header → {'a': '1', 'b': '2'} (sizes with suffixes become bytes)."""
        out = {}
        for item in self.header.get(key, "").split():
            k, eq, v = item.partition("=")
            if not eq or not k or not v or "/" in k or k.startswith("."):
                raise UsageError(f"{self.path}: '; {key}:' expects NAME=VALUE items, got {item!r}")
            if re.fullmatch(r"\d+[kKmMgG]", v):
                v = str(parse_size(v, f"{self.path}: {key} {k}"))
            out[k] = v
        return out

    def driver_argv(self):
        d = self.header.get("driver", "").strip()
        return shlex.split(d) if d else []

    def verify_jobs(self):
        return [j for j, _ in self.jobs
                if (self.option(j, "verify") or "0") not in ("0", "none", "null")
                and self.option(j, "ioengine") not in ("exec", "null", "cpuio")]

    def footprint(self, size):
        """Bytes the workload may leave on the file system at --size `size`."""
        total = 0
        for job, _ in self.jobs:
            s = (self.option(job, "size") or "0").replace("${WB_SIZE}", str(size))
            try:
                b = parse_size(s, "size")
            except UsageError:
                b = size
            total += b * int(self.option(job, "numjobs", "1") or 1)
        if self.driver_argv():
            total += size
        return total

    def need_device_bytes(self, size):
        return max(256 * MiB, int(self.footprint(size) * 1.5) + 192 * MiB)

    def describe(self):
        return {"name": self.name, "purpose": self.purpose, "default_size": self.default_size,
                "default_size_h": fmt_size(self.default_size), "mkfs": self.mkfs,
                "mount": self.mount, "sysfs": self.kv("sysfs"), "bdi": self.kv("bdi"),
                "driver": self.header.get("driver") or None,
                "jobs": [j for j, _ in self.jobs], "verified_by_fio": self.verify_jobs(),
                "path": os.path.relpath(self.path, TOP)}


def workload_names():
    return sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(WL_DIR, "*.fio")))


def suggest(name, names):
    """Up to three known names close to `name`: the best spelling matches, then substrings."""
    score = {n: difflib.SequenceMatcher(None, name.lower(), n).ratio() for n in names}
    best = max(score.values(), default=0)
    out = [n for n in sorted(names, key=lambda n: -score[n])
           if score[n] >= 0.55 and score[n] >= best - 0.08]
    core = name.lower().removeprefix("fio-")
    if core:
        out += [n for n in names if core in n and n not in out]
    if not out:
        out = [n for n in sorted(names, key=lambda n: -score[n]) if score[n] >= 0.3][:2]
    return out[:3]


def resolve_workload(name):
    names = workload_names()
    if not names:
        raise SetupError(f"no workloads in {WL_DIR} (*.fio)")
    for cand in (name, "fio-" + name):
        if cand in names:
            return Workload(cand, os.path.join(WL_DIR, cand + ".fio"))
    hint = suggest(name, names)
    raise UsageError(f"unknown workload '{name}'" +
                     (f"; did you mean {' or '.join(hint)}?" if hint else "") +
                     " (./wbtrace list shows them)")


# ============================================================================ small helpers

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*$")


def parse_size(text, what="size"):
    m = _SIZE_RE.match(str(text))
    if not m:
        raise UsageError(f"{what}: cannot read {text!r} as a size (e.g. 16M, 512k, 1G)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    v = int(float(m.group(1)) * mult)
    if v <= 0:
        raise UsageError(f"{what}: must be more than 0")
    return v


def fmt_size(b):
    for unit, s in (("G", 1 << 30), ("M", 1 << 20), ("k", 1 << 10)):
        if b >= s and b % s == 0:
            return f"{b // s}{unit}"
    return f"{b / MiB:.1f}M" if b >= MiB else str(b)


def fmt_elapsed(s):
    s = int(s)
    return f"{s // 60}m{s % 60:02d}s"


def merge_mount_opts(base, extra):
    """Mount options of the job file with --fs-opts on top: KEY=V replaces KEY."""
    items = [p for p in base.split(",") if p]
    for p in [p for p in (extra or "").split(",") if p]:
        key = p.split("=", 1)[0]
        items = [q for q in items if q.split("=", 1)[0] != key]
        items.append(p)
    return ",".join(items)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def kernel_has_f2fs():
    try:
        with open("/proc/filesystems") as f:
            if any(line.split()[-1] == "f2fs" for line in f if line.strip()):
                return True
    except OSError:
        pass
    try:
        return subprocess.run(["modinfo", "-n", "f2fs"], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def in_guest():
    return os.environ.get("WBTRACE_GUEST") == "1"


def tail(text, n=3):
    lines = [x for x in (text or "").strip().splitlines() if x.strip()]
    return " | ".join(lines[-n:])


# ============================================================================ progress

class Progress:
    """One status line (phase, rep i/N, elapsed), rewritten in place on a terminal."""

    def __init__(self, quiet, prefix=""):
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self.t0 = time.monotonic()
        self.prefix = prefix
        self.shown = False
        self.text = ""
        self.lock = threading.Lock()

    def status(self, text):
        self.text = text
        if self.quiet:
            return
        with self.lock:
            line = f"[wbtrace] {self.prefix}{text} ({fmt_elapsed(time.monotonic() - self.t0)})"
            if self.tty:
                sys.stdout.write("\r\033[K" + line)
                self.shown = True
            else:
                sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def tick(self):
        if self.tty and self.shown and not self.quiet:
            self.status(self.text)

    def clear(self):
        with self.lock:
            if self.shown:
                sys.stdout.write("\r\033[K")
                sys.stdout.flush()
                self.shown = False

    def say(self, text, always=False):
        if self.quiet and not always:
            return
        self.clear()
        with self.lock:
            print(text, flush=True)


# ============================================================================ processes

def stop_proc(p, sig=signal.SIGINT, timeout=60.0, group=True):
    """Signal a child (its process group when it has its own) and wait; escalate."""
    if p is None or p.poll() is not None:
        return p.returncode if p else None
    for s, t in ((sig, timeout), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            if group:
                os.killpg(p.pid, s)
            else:
                p.send_signal(s)
        except ProcessLookupError:
            pass
        try:
            return p.wait(timeout=t)
        except subprocess.TimeoutExpired:
            continue
    return p.poll()


class Cleanup:
    """Undo actions, run last-in first-out; SIGINT is ignored while they run."""

    def __init__(self, log=None):
        self.items = []
        self.log = log

    def push(self, desc, fn):
        self.items.append((desc, fn))
        return len(self.items) - 1

    def pop(self, token):
        """Run one action now (e.g. an umount that is part of the normal flow)."""
        desc, fn = self.items[token]
        self.items[token] = (desc, None)
        if fn:
            fn()

    def run(self):
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        errors = []
        try:
            while self.items:
                desc, fn = self.items.pop()
                if fn is None:
                    continue
                try:
                    fn()
                except Exception as e:          # keep undoing the rest
                    errors.append(f"{desc}: {e}")
                    if self.log:
                        self.log(f"clean-up: {desc} failed: {e}")
        finally:
            signal.signal(signal.SIGINT, old)
        return errors


class RunLog:
    """run.log of a rep: every command, its exit status and the tail of its output."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")

    def __call__(self, text):
        self.f.write(f"[{schema.utc_now()}] {text}\n")
        self.f.flush()

    def run(self, cmd, check=True, timeout=None, what=None, **kw):
        self(f"$ {' '.join(shlex.quote(str(c)) for c in cmd)}")
        try:
            p = subprocess.run([str(c) for c in cmd], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout,
                               errors="replace", **kw)
        except FileNotFoundError:
            raise RepError(f"{cmd[0]}: not found") from None
        except subprocess.TimeoutExpired:
            raise RepError(f"{what or cmd[0]} timed out after {timeout} s") from None
        out = (p.stdout or "") + (p.stderr or "")
        if out.strip():
            self.f.write("".join("    " + x + "\n" for x in out.rstrip().splitlines()[-60:]))
        self(f"  -> exit {p.returncode}")
        if check and p.returncode != 0:
            raise RepError(f"{what or cmd[0]} failed (exit {p.returncode}): {tail(out)}")
        return p

    def close(self):
        self.f.close()


# ============================================================================ devices

def _sysblock(dev):
    """/sys/class/block/<name> of a block device node."""
    st = os.stat(dev)
    return os.path.realpath(f"/sys/dev/block/{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}")


def device_bytes(dev):
    with open(os.path.join(_sysblock(dev), "size")) as f:
        return int(f.read()) * 512


def device_in_use(dev):
    """Why `dev` must not be touched (mounted, held, swap, busy), or None."""
    st = os.stat(dev)
    sysd = _sysblock(dev)
    name = os.path.basename(sysd)
    devs = {st.st_rdev: name}
    for part in glob.glob(os.path.join(sysd, name + "*", "dev")):      # its partitions
        with open(part) as f:
            ma, mi = f.read().strip().split(":")
        devs[os.makedev(int(ma), int(mi))] = os.path.basename(os.path.dirname(part))
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            ma, mi = fields[2].split(":")
            rdev = os.makedev(int(ma), int(mi))
            if rdev in devs:
                return f"/dev/{devs[rdev]} is mounted on {fields[4]}"
    for rdev, pname in devs.items():
        held = glob.glob(f"/sys/class/block/{pname}/holders/*")
        if held:
            return f"/dev/{pname} is held by {', '.join(os.path.basename(h) for h in held)}"
    try:
        with open("/proc/swaps") as f:
            for line in list(f)[1:]:
                p = line.split()[0]
                if os.path.exists(p) and os.stat(p).st_rdev in devs:
                    return f"{p} is in use as swap"
    except OSError:
        pass
    try:
        fd = os.open(dev, os.O_RDONLY | os.O_EXCL)
        os.close(fd)
    except OSError as e:
        if e.errno == errno.EBUSY:
            return f"{dev} is busy (another program holds it open exclusively)"
        raise DeviceError(f"cannot open {dev}: {e.strerror}") from None
    try:
        with open(os.path.join(sysd, "ro")) as f:
            if f.read().strip() == "1":
                return f"{dev} is read-only"
    except OSError:
        pass
    return None


def check_device(dev, need, name_for_msg=None):
    """Validate a device the user named; returns its real path."""
    shown = name_for_msg or dev
    if not os.path.exists(dev):
        raise DeviceError(f"{shown}: no such device")
    real = os.path.realpath(dev)
    if not stat.S_ISBLK(os.stat(real).st_mode):
        raise DeviceError(f"{shown} is not a block device (for an image file use --image FILE)")
    why = device_in_use(real)
    if why:
        raise DeviceError(f"refusing {shown}: {why}")
    have = device_bytes(real)
    if have < need:
        raise DeviceError(f"{shown} is too small: {have // MiB} MiB, this workload at this "
                          f"--size needs at least {need // MiB} MiB")
    return real


def bdi_dir(dev):
    """/sys/class/bdi/<maj:min> of the disk holding `dev` (a partition's parent)."""
    sysd = _sysblock(dev)
    if os.path.exists(os.path.join(sysd, "partition")):
        sysd = os.path.dirname(sysd)
    p = os.path.join(sysd, "bdi")
    return os.path.realpath(p) if os.path.exists(p) else None


def f2fs_sysfs_name(dev):
    return os.path.basename(_sysblock(dev))


# ============================================================================ FIEMAP (corruption test)

FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 0x1
FIEMAP_EXTENT_UNUSABLE = 0x2 | 0x4 | 0x8 | 0x80 | 0x100 | 0x200   # unknown/delalloc/encoded/...


def fiemap(path, count=64):
    with open(path, "rb") as f:
        buf = bytearray(32 + 56 * count)
        struct.pack_into("=QQIIII", buf, 0, 0, 0xFFFFFFFFFFFFFFFF, FIEMAP_FLAG_SYNC, 0, count, 0)
        fcntl.ioctl(f.fileno(), FS_IOC_FIEMAP, buf, True)
        n = struct.unpack_from("=I", buf, 20)[0]
        out = []
        for i in range(n):
            lo, ph, ln = struct.unpack_from("=QQQ", buf, 32 + 56 * i)
            fl = struct.unpack_from("=I", buf, 32 + 56 * i + 40)[0]
            out.append((lo, ph, ln, fl))
        return out


# ============================================================================ one rep

class RepContext:
    """Everything one run needs to execute its reps locally (host target or in the guest)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def manifest(mnt):
    out = {}
    for root, dirs, files in os.walk(mnt):
        dirs.sort()
        for fn in sorted(files):
            p = os.path.join(root, fn)
            if os.path.isfile(p) and not os.path.islink(p):
                out[os.path.relpath(p, mnt)] = sha256_file(p)
    return out


def largest_file(mnt):
    best = None
    for root, _, files in os.walk(mnt):
        for fn in files:
            p = os.path.join(root, fn)
            s = os.path.getsize(p)
            if s >= 8192 and (best is None or s > best[1]):
                best = (p, s)
    return best


class Rep:
    def __init__(self, ctx, rep, run_dir, run_id, progress):
        self.ctx, self.rep, self.run_dir, self.run_id = ctx, rep, run_dir, run_id
        self.p = progress
        self.wl = ctx.wl
        self.verify = {s: "skipped" for s in schema.VERIFY_STEPS}
        self.notes = []
        self.phases = {}
        self.vlog = []                 # verify.txt lines
        self.tracer_mode = ctx.tracer_mode
        self.failed = False
        self.interrupted = False
        self.fio_ok = False
        self.m0 = None
        self.injected = None
        self.cur_phase = "start"

    # -- helpers
    def phase(self, name):
        self.cur_phase = name
        self.cur_t0 = time.monotonic()
        self.p.status(f"rep {self.rep}/{self.ctx.reps}: {name}")

    def phase_done(self, key):
        self.phases[key] = round(self.phases.get(key, 0) + time.monotonic() - self.cur_t0, 3)

    def v(self, text):
        self.vlog.append(text)
        self.log("verify: " + text)

    def kmsg(self, text):
        try:
            with open("/dev/kmsg", "w") as f:
                f.write(f"wbtrace-run: {text}\n")
        except OSError:
            pass

    def mount(self):
        self.log.run(["mount", "-t", "f2fs"] + (["-o", self.ctx.mount_opts] if self.ctx.mount_opts
                                                 else []) + [self.ctx.dev, self.mnt],
                     what="mount -t f2fs", timeout=300)
        self.mounted = True
        for k, val in self.ctx.wl.kv("sysfs").items():
            p = f"/sys/fs/f2fs/{self.ctx.sysfs_name}/{k}"
            try:
                with open(p, "w") as f:
                    f.write(val)
            except OSError as e:
                raise RepError(f"cannot set {p} = {val}: {e.strerror}") from None
            self.log(f"set {p} = {val}")

    def umount(self):
        if self.mounted:
            self.log.run(["umount", self.mnt], what="umount", timeout=600)
            self.mounted = False

    # -- the rep
    def execute(self):
        ctx = self.ctx
        self.stage = tempfile.mkdtemp(prefix=f"wbtrace-{self.run_id}-", dir=ctx.tmp_root)
        self.mnt = os.path.join(self.stage, "mnt")
        for d in ("mnt", "fio", "verify"):
            os.makedirs(os.path.join(self.stage, d))
        self.log = RunLog(os.path.join(self.stage, "run.log"))
        self.mounted = False
        self.cleanup = Cleanup(self.log)
        self.started = schema.utc_now()
        t0 = time.monotonic()
        self.kmsg(f"{self.run_id} start")
        self.log(f"rep {self.rep}/{ctx.reps} of {self.wl.name} ({ctx.variant}, {ctx.target}) on "
                 f"{ctx.dev}, size {ctx.size}")
        try:
            self._steps()
        except RepError as e:
            self.failed = True
            self.notes.append(f"failed in {self.cur_phase}: {e}")
            self.log(f"FAILED in {self.cur_phase}: {e}")
        except KeyboardInterrupt:
            self.interrupted = True
            self.log(f"interrupted in {getattr(self, 'cur_phase', 'start')}")
        except Exception as e:                       # a bug or an unexpected OS error
            import traceback
            self.failed = True
            self.notes.append(f"internal error in {self.cur_phase}: {type(e).__name__}: {e}")
            self.log("internal error:\n" + traceback.format_exc())
        finally:
            for err in self.cleanup.run():
                self.notes.append(f"clean-up: {err}")
                self.failed = True
            self.kmsg(f"{self.run_id} end")
            self.finished = schema.utc_now()
            self.duration = time.monotonic() - t0
            self._dmesg()
            self._save()
        return not (self.failed or self.interrupted or self.any_verify_failed())

    def any_verify_failed(self):
        return any(s == "fail" for s in self.verify.values())

    def _steps(self):
        ctx = self.ctx
        self.cur_phase = "mkfs"
        self.phase("mkfs.f2fs")
        self.log.run(["mkfs.f2fs", "-f"] + shlex.split(ctx.mkfs_opts) + [ctx.dev],
                     what="mkfs.f2fs", timeout=600)
        self.phase_done("mkfs")
        self.phase("mount")
        self.cleanup.push("umount", lambda: self._force_umount())
        self.mount()
        self._apply_bdi()
        self.phase_done("mount")

        self.phase("workload")
        self._workload()
        self.phase_done("workload")

        self.phase("verify (fio's own pass)")
        self._judge_run()
        self.m0 = manifest(self.mnt)
        with open(os.path.join(self.stage, "verify", "manifest.txt"), "w") as f:
            for k, h in self.m0.items():
                f.write(f"{h}  {k}\n")
        self.v(f"manifest: {len(self.m0)} file(s) hashed after the workload")
        if ctx.inject:
            self._inject(ctx.inject)
        self.phase_done("verify_run")

        self.phase("verify after drop_caches")
        self.log.run(["sync"], what="sync", timeout=1800)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        self.log("dropped the page cache (echo 3 > /proc/sys/vm/drop_caches)")
        self._verify_pass("after_drop_caches")
        self.phase_done("verify_drop_caches")

        self.phase("umount + fsck.f2fs")
        self.umount()
        self._fsck()
        self.phase_done("fsck")

        self.phase("verify after remount")
        self.mount()
        self._verify_pass("after_remount")
        self.umount()
        self.phase_done("verify_remount")

    def _force_umount(self):
        if self.mounted:
            for _ in range(5):
                p = subprocess.run(["umount", self.mnt], capture_output=True, text=True)
                if p.returncode == 0:
                    self.mounted = False
                    return
                time.sleep(1)
            raise RuntimeError(f"cannot umount {self.mnt}: {p.stderr.strip()}")

    # *_bytes limits are stored as ratios: restoring the byte value read back can be refused
    # (EINVAL), so the ratio files are what gets saved and restored.
    BDI_RESTORE = {"max_bytes": ("max_ratio_fine", "max_ratio"),
                   "min_bytes": ("min_ratio_fine", "min_ratio")}

    def _apply_bdi(self):
        want = self.wl.kv("bdi")
        if not want:
            return
        d = self.ctx.bdi
        if not d:
            self.notes.append("no bdi directory for the device: '; bdi:' settings not applied")
            return
        saved = []                                   # (file, old value), restored in reverse
        for k in want:
            for cand in self.BDI_RESTORE.get(k, (k,)):
                p = os.path.join(d, cand)
                if os.path.exists(p) and all(p != q for q, _ in saved):
                    with open(p) as f:
                        saved.append((p, f.read().strip()))
                    break

        def restore():
            errs = []
            for p, old in reversed(saved):
                try:
                    with open(p, "w") as f:
                        f.write(old)
                except OSError as e:
                    errs.append(f"{p} = {old}: {e.strerror}")
            if errs:
                raise RuntimeError("cannot restore " + "; ".join(errs))
        # strict_limit first when setting (so the limits apply), last when restoring
        saved.sort(key=lambda x: not x[0].endswith("/strict_limit"))
        self.cleanup.push(f"restore {d}", restore)
        for k in sorted(want, key=lambda k: k != "strict_limit"):
            p = os.path.join(d, k)
            try:
                with open(p, "w") as f:
                    f.write(want[k])
            except OSError as e:
                raise RepError(f"cannot set {p} = {want[k]}: {e.strerror}") from None
            self.log(f"set {p} = {want[k]}")

    # -- workload under the tracer and blktrace
    def _workload(self):
        ctx, wl = self.ctx, self.wl
        stage = self.stage
        env = {"WB_DIR": self.mnt, "WB_SIZE": str(ctx.size)}
        spec = {
            "fio": ["fio", wl.path, "--output-format=json+",
                    "--output=" + os.path.join(stage, "fio.json")],
            "fio_cwd": os.path.join(stage, "fio"),
            "fio_log": os.path.join(stage, "fio.log"),
            "env": env,
            "driver": None,
            "status": os.path.join(stage, "phase.json"),
        }
        if wl.driver_argv():
            argv = wl.driver_argv()
            spec["driver"] = [PY, os.path.join(WL_DIR, argv[0]), "run", "--dir", self.mnt,
                              "--size", str(ctx.size), "--expect",
                              os.path.join(stage, "verify", "driver-expected.json")] + argv[1:]
            spec["driver_log"] = os.path.join(stage, "driver.log")
        spec_path = os.path.join(stage, "phase-spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f, indent=1)
        phase_cmd = [PY, WBRUN_EXE, "_phase", spec_path]

        self._blktrace_start()
        self._profile_start()
        self.phases_wl_t0 = time.monotonic()
        if self.tracer_mode != "off":
            tdir = os.path.join(stage, "trace")
            cmd = [TRACER, "-O", tdir, "--sync", "-D", ctx.dev]
            if self.tracer_mode == "summary":
                cmd += ["-m", "hist"]
            cmd += ["--"] + phase_cmd
            rc = self._run_bg(cmd, os.path.join(stage, "tracer.out"), "tracer")
            if not os.path.exists(spec["status"]) and rc in TRACER_SETUP_EXITS:
                why = TRACER_SETUP_EXITS[rc]
                msg = tail(open(os.path.join(stage, "tracer.out"), errors="replace").read(), 2)
                self.notes.append(f"tracer could not start (exit {rc}, {why}: {msg}); "
                                  f"the workload ran untraced")
                self.p.say(f"warning: tracer could not start (exit {rc}, {why}); running untraced")
                self.tracer_mode = "off"
                shutil.rmtree(tdir, ignore_errors=True)
            elif rc == 9:
                self.notes.append("tracer: ring-buffer drops above its limit; trace marked invalid")
            elif rc not in (0, 10):
                self.notes.append(f"tracer exited {rc}: "
                                  f"{tail(open(os.path.join(stage, 'tracer.out'), errors='replace').read(), 2)}")
        if self.tracer_mode == "off":
            self._run_bg(phase_cmd, os.path.join(stage, "phase.out"), "workload")
            self.log.run(["sync"], what="sync", timeout=1800)
        self._profile_stop()
        self._blktrace_stop()
        try:
            shutil.copyfile("/sys/kernel/debug/f2fs/status",
                            os.path.join(stage, "f2fs-status.txt"))
        except OSError:
            pass
        try:
            with open(spec["status"]) as f:
                self.phase_status = json.load(f)
        except (OSError, ValueError):
            raise RepError("the workload did not report (see run.log)") from None
        self.log(f"workload status: {self.phase_status}")

    def _run_bg(self, cmd, out_path, what):
        """Run a long child in its own process group; Ctrl-C is forwarded as SIGINT."""
        self.log(f"$ {' '.join(shlex.quote(c) for c in cmd)}")
        with open(out_path, "w") as out:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 process_group=0)
        self.cleanup_token = self.cleanup.push(f"stop {what}", lambda: stop_proc(p))
        try:
            while True:
                try:
                    rc = p.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    self.p.tick()
        except KeyboardInterrupt:
            stop_proc(p, signal.SIGINT, timeout=120)
            raise
        self.cleanup.pop(self.cleanup_token)
        self.log(f"  -> {what} exit {rc}")
        return rc

    def _blktrace_start(self):
        self.blk = None
        if not self.ctx.blktrace:
            return
        bdir = os.path.join(self.stage, "blktrace")
        os.makedirs(bdir, exist_ok=True)
        cmd = ["blktrace", "-d", self.ctx.dev, "-D", bdir, "-o", "dev"]
        self.log(f"$ {' '.join(cmd)} &")
        out = open(os.path.join(bdir, "blktrace.log"), "w")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             process_group=0)
        out.close()
        time.sleep(0.5)
        if p.poll() is not None:
            self.notes.append(f"blktrace did not start (exit {p.returncode}): "
                              f"{tail(open(os.path.join(bdir, 'blktrace.log')).read(), 1)}")
            return
        self.blk = p

        def stop():
            if p.poll() is None:
                rc = stop_proc(p, signal.SIGINT, timeout=30)
                if rc is None or rc < 0:
                    subprocess.run(["blktrace", "-k", "-d", self.ctx.dev], capture_output=True)
        self.blk_token = self.cleanup.push("stop blktrace", stop)

    # On-CPU stacks of the whole machine during the workload, for flamegraphs.
    # cpu-clock is a software event, so it samples under TCG (no PMU) too.
    def _profile_start(self):
        self.prof = None
        if not self.ctx.stacks:
            return
        cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "99", "-a", "-g",
               "-o", os.path.join(self.stage, "perf.data")]
        self.log(f"$ {' '.join(cmd)} &")
        with open(os.path.join(self.stage, "perf.log"), "w") as out:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, process_group=0)
        time.sleep(0.5)
        if p.poll() is not None:
            self.notes.append(f"perf record did not start (exit {p.returncode}); no stacks")
            return
        self.prof = p
        self.prof_token = self.cleanup.push(
            "stop perf record", lambda: stop_proc(p, signal.SIGINT, timeout=30))

    def _profile_stop(self):
        if not self.prof:
            return
        self.cleanup.pop(self.prof_token)
        stop_proc(self.prof, signal.SIGINT, timeout=60)
        data = os.path.join(self.stage, "perf.data")
        text_path = os.path.join(self.stage, "perf-script.txt")
        try:
            with open(text_path, "w") as out:
                subprocess.run(["perf", "script", "-i", data], stdout=out,
                               stderr=subprocess.DEVNULL, timeout=600, check=True)
            with open(text_path, errors="replace") as f:
                stacks = folded.collapse_perf_script(f.read(), text_path)
            if not stacks:
                raise schema.ResultsError("no samples")
            with open(os.path.join(self.stage, schema.STACKS_FILE), "w") as f:
                f.write(folded.to_text(stacks))
            self.log(f"stacks: {int(folded.total(stacks))} samples -> {schema.STACKS_FILE}")
        except (OSError, subprocess.SubprocessError, schema.ResultsError) as e:
            self.notes.append(f"on-CPU stacks not recorded: {e}")
        finally:
            for path in (data, text_path):  # large; the folded file is what is kept
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def _blktrace_stop(self):
        if not self.blk:
            return
        self.cleanup.pop(self.blk_token)
        bdir = os.path.join(self.stage, "blktrace")
        try:
            self.log.run(["blkparse", "-i", "dev", "-D", bdir, "-d", os.path.join(bdir, "dev.bin"),
                          "-O"], what="blkparse", timeout=600, cwd=bdir)
            self.log.run(["btt", "-i", os.path.join(bdir, "dev.bin"), "-o",
                          os.path.join(bdir, "btt")], what="btt", timeout=600, cwd=bdir)
        except RepError as e:
            self.notes.append(f"blktrace post-processing: {e}")

    # -- verification
    def _fio_unverified(self, doc):
        """What fio's verification did not cover, from its JSON output DOC: one line
        per verified job of the workload that is missing from the output or read back
        less than it wrote (its jobs only write, so their reads are the verify phase).
        fio exiting 0 with nothing read back means nothing was checked."""
        per = {j: [0, 0, 0] for j in self.wl.verify_jobs()}   # job -> [entries, written, read]
        for j in doc.get("jobs", []):
            p = per.get(j.get("jobname"))
            if p is not None:
                p[0] += 1
                p[1] += j.get("write", {}).get("io_bytes", 0)
                p[2] += j.get("read", {}).get("io_bytes", 0)
        problems = []
        for name, (n, w, r) in per.items():
            if n == 0:
                problems.append(f"{name}: not in fio's output")
            elif r == 0:
                problems.append(f"{name}: verified 0 bytes")
            elif r < w:
                problems.append(f"{name}: verified {r} of the {w} bytes it wrote")
        return problems

    def _judge_run(self):
        st = self.phase_status
        ok = True
        fio_json = os.path.join(self.stage, "fio.json")
        try:
            with open(fio_json) as f:
                doc = json.load(f)
            errs = [f"{j.get('jobname')}: error {j.get('error')}" for j in doc.get("jobs", [])
                    if j.get("error")]
            written = sum(j.get("write", {}).get("io_bytes", 0) for j in doc.get("jobs", []))
            verified = sum(j.get("read", {}).get("io_bytes", 0) for j in doc.get("jobs", []))
            unverified = self._fio_unverified(doc)
        except (OSError, ValueError, AttributeError) as e:
            errs, written, verified, unverified = [f"fio.json unreadable: {e}"], 0, 0, []
        fio_log = open(os.path.join(self.stage, "fio.log"), errors="replace").read() \
            if os.path.exists(os.path.join(self.stage, "fio.log")) else ""
        if st.get("fio_rc") != 0 or errs:
            ok = False
            self.v(f"fio run: FAIL (exit {st.get('fio_rc')}; {'; '.join(errs) or 'no job error'}; "
                   f"{tail(fio_log, 3)})")
        elif unverified:
            ok = False
            self.v(f"fio run: FAIL (exit 0, but its verify phase did not check what was written: "
                   f"{'; '.join(unverified)})")
        else:
            self.v(f"fio run: pass (wrote {written} bytes, verify phase read back {verified} bytes "
                   f"in {len(self.wl.verify_jobs())} verified job(s))")
        if st.get("driver_rc") is not None:
            dlog = open(os.path.join(self.stage, "driver.log"), errors="replace").read()
            for line in dlog.strip().splitlines()[-6:]:
                self.v("  " + line)
            if st["driver_rc"] != 0:
                ok = False
                self.v(f"driver: FAIL (exit {st['driver_rc']})")
        self.fio_ok = ok
        self.verify["fio_verify"] = "pass" if ok else "fail"

    def _verify_pass(self, label):
        ok = True
        vdir = os.path.join(self.stage, "verify")
        jobs = self.wl.verify_jobs()
        if jobs:
            out_json = os.path.join(vdir, f"{label}.fio.json")
            cmd = ["fio", self.wl.path, "--verify_only", "--output-format=json",
                   "--output=" + out_json]
            if len(jobs) < len(self.wl.jobs):
                cmd += [f"--section={j}" for j in jobs]
            env = dict(os.environ, WB_DIR=self.mnt, WB_SIZE=str(self.ctx.size))
            p = self.log.run(cmd, check=False, timeout=3600, env=env, cwd=os.path.join(self.stage, "fio"))
            with open(os.path.join(vdir, f"{label}.fio.log"), "w") as f:
                f.write((p.stdout or "") + (p.stderr or ""))
            errs, read, unverified = [], 0, []
            try:
                with open(out_json) as f:
                    doc = json.load(f)
                errs = [f"{j.get('jobname')}: error {j.get('error')}" for j in doc["jobs"]
                        if j.get("error")]
                read = sum(j.get("read", {}).get("io_bytes", 0) for j in doc["jobs"])
                unverified = self._fio_unverified(doc)
            except (OSError, ValueError, KeyError, AttributeError) as e:
                errs = [f"no fio output ({e})"]
            if p.returncode != 0 or errs or unverified or read == 0:
                ok = False
                msg = [x for x in (p.stderr or "").splitlines() if "verify" in x or "fio:" in x]
                self.v(f"{label}: fio --verify_only FAIL (exit {p.returncode}; "
                       f"{'; '.join(errs + unverified) or 'read nothing'}; {' | '.join(msg[:3])})")
            else:
                self.v(f"{label}: fio --verify_only pass ({read} bytes read and checked)")
        if self.wl.driver_argv():
            exp = os.path.join(vdir, "driver-expected.json")
            if not os.path.exists(exp):
                ok = False
                self.v(f"{label}: driver check FAIL (the driver recorded no expected contents)")
            else:
                p = self.log.run([PY, os.path.join(WL_DIR, self.wl.driver_argv()[0]), "check",
                                  "--dir", self.mnt, "--expect", exp, "--label", label],
                                 check=False, timeout=3600)
                self.v(f"{label}: driver check: {tail(p.stdout or p.stderr, 1)}")
                ok &= p.returncode == 0
        now = manifest(self.mnt)
        if self.m0 is not None:
            diff = sorted(k for k in set(now) | set(self.m0) if now.get(k) != self.m0.get(k))
            if diff:
                ok = False
                self.v(f"{label}: manifest FAIL: {len(diff)} file(s) differ from what was "
                       f"written: {', '.join(diff[:5])}")
            else:
                self.v(f"{label}: manifest pass ({len(now)} file(s) identical)")
        self.verify[label] = "pass" if ok else "fail"

    def _fsck(self):
        p = self.log.run(["fsck.f2fs", "-f", "--dry-run", self.ctx.dev], check=False,
                         timeout=3600, what="fsck.f2fs")
        out = (p.stdout or "") + (p.stderr or "")
        with open(os.path.join(self.stage, "verify", "fsck.txt"), "w") as f:
            f.write(out)
        oks = [x for x in out.splitlines() if "[Ok..]" in x]
        fails = [x.strip() for x in out.splitlines() if "[Fail]" in x]
        if p.returncode != 0 or fails or not oks:
            self.verify["fsck"] = "fail"
            self.v(f"fsck.f2fs -f: FAIL (exit {p.returncode}, {len(fails)} [Fail] line(s)"
                   f"{': ' + '; '.join(fails[:3]) if fails else ''}"
                   f"{'; no [Ok..] lines: not a fsck report' if not oks else ''})")
        else:
            self.verify["fsck"] = "pass"
            self.v(f"fsck.f2fs -f: pass ({len(oks)} checks [Ok..], none [Fail])")

    def _inject(self, spec):
        mode, _, name = spec.partition(":")
        if name:
            path = os.path.join(self.mnt, name)
            if not os.path.isfile(path):
                raise RepError(f"--inject-corruption: no file {name!r} on the file system")
            target = (path, os.path.getsize(path))
        else:
            target = largest_file(self.mnt)
        if not target or target[1] < 8192:
            raise RepError("--inject-corruption: no data file to corrupt")
        path, size = target
        rel = os.path.relpath(path, self.mnt)
        loff = (size // 2) // 4096 * 4096
        if mode == "dev":
            os.sync()
            ext = [e for e in fiemap(path) if not e[3] & FIEMAP_EXTENT_UNUSABLE and e[2] >= 4096]
            hit = [e for e in ext if e[0] <= loff < e[0] + e[2]] or ext
            if not hit:
                self.v("inject: no plain extent to corrupt through the device; using the file")
                mode = "file"
            else:
                lo, ph, ln, _ = hit[0]
                if not lo <= loff < lo + ln:
                    loff = lo
                poff = ph + (loff - lo)
                self.umount()
                fd = os.open(self.ctx.dev, os.O_RDWR)
                try:
                    blk = bytearray(os.pread(fd, 4096, poff))
                    for i in range(256, 320):
                        blk[i] ^= 0x5A
                    os.pwrite(fd, bytes(blk), poff)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self.mount()
                self.injected = f"{rel} offset {loff + 256} (device offset {poff + 256})"
        if mode == "file":
            fd = os.open(path, os.O_RDWR)
            try:
                blk = bytearray(os.pread(fd, 4096, loff))
                for i in range(256, 320):
                    blk[i] ^= 0x5A
                os.pwrite(fd, bytes(blk), loff)
            finally:
                os.close(fd)
            self.injected = f"{rel} offset {loff + 256} (through the file)"
        self.notes.append(f"debug: --inject-corruption={spec}: flipped 64 bytes of {self.injected}")
        self.v(f"INJECTED CORRUPTION ({mode}): 64 bytes of {self.injected} flipped after the "
               f"workload; the checks below must fail")

    def _dmesg(self):
        try:
            p = subprocess.run(["dmesg"], capture_output=True, text=True, errors="replace",
                               timeout=60)
            lines = p.stdout.splitlines()
        except (OSError, subprocess.SubprocessError) as e:
            self.notes.append(f"dmesg unreadable: {e}")
            return
        start = [i for i, x in enumerate(lines) if f"wbtrace-run: {self.run_id} start" in x]
        mine = lines[start[-1]:] if start else lines
        with open(os.path.join(self.stage, "dmesg.txt"), "w") as f:
            f.write("\n".join(mine) + "\n")
        if not start:
            self.notes.append("dmesg: start marker not found; the whole log was scanned")
        bad = [x for x in mine if SPLAT_RE.search(x) and "wbtrace-run:" not in x]
        if self.interrupted:
            return
        if bad:
            self.verify["dmesg"] = "fail"
            self.v(f"dmesg: FAIL ({len(bad)} line(s)): " + " | ".join(x.strip() for x in bad[:3]))
        else:
            self.verify["dmesg"] = "pass"
            self.v(f"dmesg: pass ({len(mine)} kernel log lines of this rep, no splat or I/O error)")

    # -- evidence
    def _save(self):
        ctx = self.ctx
        os.makedirs(self.run_dir, exist_ok=True)
        st = self.stage
        keep = ["fio.json", "fio.log", "driver.log", "dmesg.txt", "run.log", "f2fs-status.txt",
                "trace", "blktrace", "verify", "tracer.out", schema.STACKS_FILE]
        for name in keep:
            src = os.path.join(st, name)
            if not os.path.exists(src):
                continue
            dst = os.path.join(self.run_dir, name)
            if name == "tracer.out":
                os.makedirs(os.path.join(self.run_dir, "trace"), exist_ok=True)
                dst = os.path.join(self.run_dir, "trace", "tracer.txt")
            if os.path.isdir(src):
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dst)
        shutil.copy2(self.wl.path, os.path.join(self.run_dir, "job.fio"))
        with open(os.path.join(self.run_dir, "verify.txt"), "w") as f:
            f.write(f"# verification of {self.run_id} ({self.wl.name}, f2fs {ctx.variant}, "
                    f"target {ctx.target}, size {fmt_size(ctx.size)} per job)\n")
            for line in self.vlog:
                f.write(line + "\n")
            if self.interrupted:
                f.write(f"INTERRUPTED during {getattr(self, 'cur_phase', '?')}: incomplete, "
                        f"no meta.json written\n")
            for n in self.notes:
                f.write(f"note: {n}\n")
            f.write("summary: " + ", ".join(f"{k} {v}" for k, v in self.verify.items()) + "\n")
        if not self.interrupted:
            self._write_meta()
        shutil.rmtree(st, ignore_errors=True)

    def _write_meta(self):
        ctx = self.ctx
        probes, drops = {}, 0
        sp = os.path.join(self.run_dir, schema.SUMMARY_FILE)
        if self.tracer_mode != "off":
            try:
                s = schema.validate_summary(schema.load_json(sp, "tracer summary"), sp)
                probes, drops = s["probes"], s["drops"]
            except schema.ResultsError as e:
                self.notes.append(f"tracer summary unusable: {e}")
                self.tracer_mode = "off"
                bad = os.path.join(self.run_dir, "trace", "summary.json")
                if os.path.exists(bad):
                    os.replace(bad, bad + ".invalid")
        tracer = {"mode": self.tracer_mode}
        if self.tracer_mode != "off" and ctx.tracer_version:
            tracer["version"] = ctx.tracer_version
        f2fs = {"mkfs_options": ctx.mkfs_opts, "mount_options": ctx.mount_opts,
                "device": ctx.dev_label, "device_bytes": ctx.dev_bytes}
        if self.wl.kv("sysfs"):
            f2fs["sysfs"] = self.wl.kv("sysfs")
        if self.wl.kv("bdi"):
            f2fs["bdi"] = self.wl.kv("bdi")
        host = schema.host_info()
        if ctx.accel:
            host["accel"] = ctx.accel
        # In the guest, /proc/cpuinfo names QEMU's emulated CPU (the same on every
        # host under -cpu max): cpu_model is the physical one, which comparability needs.
        if getattr(ctx, "host_cpu_model", None):
            if host.get("cpu_model") and host["cpu_model"] != ctx.host_cpu_model:
                host["guest_cpu_model"] = host["cpu_model"]
            host["cpu_model"] = ctx.host_cpu_model
        # QEMU's -icount setting for the guest ("shift=auto", ...): compare/gate refuse to
        # mix modes (issue 14).  Set when the runner boots the guest with -icount; absent
        # reads as "off".
        icount = getattr(ctx, "icount", None)
        if icount:
            host["icount"] = str(icount)
        meta = schema.new_meta(
            workload=self.wl.name, variant=ctx.variant, rep=self.rep, target=ctx.target,
            kernel_release=platform.release(), mkfs_options=ctx.mkfs_opts,
            mount_options=ctx.mount_opts, tracer_mode=self.tracer_mode, probes=probes,
            drops=drops, started=self.started, finished=self.finished,
            duration_s=round(self.duration, 3), verify=self.verify, run_id=self.run_id,
            workload_sha256=self.wl.sha256, kernel=ctx.kernel, f2fs=f2fs, host=host,
            git=ctx.git, phases_s=self.phases, tracer=tracer)
        if self.notes:
            meta["notes"] = "; ".join(self.notes)
        schema.write_meta(self.run_dir, meta)

    def summary_line(self):
        if self.interrupted:
            return (f"rep {self.rep}/{self.ctx.reps}: INTERRUPTED during {self.cur_phase}; "
                    f"partial evidence (no meta.json) in {self.run_dir}")
        ok = not (self.failed or self.any_verify_failed())
        bw = ""
        try:
            with open(os.path.join(self.run_dir, "fio.json")) as f:
                doc = json.load(f)
            b = sum(j["write"]["bw_bytes"] for j in doc["jobs"])
            bw = f"fio {b / MiB:.1f} MiB/s, "
        except (OSError, ValueError, KeyError):
            pass
        v = self.verify
        ver = (f"verify run {v['fio_verify']}, drop_caches {v['after_drop_caches']}, "
               f"remount {v['after_remount']}, fsck {v['fsck']}, dmesg {v['dmesg']}")
        why = ""
        if not ok:
            bad = [x for x in self.vlog if "FAIL" in x][:1] + [n for n in self.notes
                                                               if n.startswith("failed")][:1]
            why = ("\n    " + bad[0]) if bad else ""
        return (f"rep {self.rep}/{self.ctx.reps}: {'PASS' if ok else 'FAIL'}  {bw}{ver} "
                f"({self.duration:.0f} s) -> {self.run_dir}{why}")


# ============================================================================ local execution

SHARE_MARKER = ".wbtrace-vm-share"
GUEST_PRIVATE = ("/tmp", "/run", "/var/tmp", "/var/log", "/dev", "/proc", "/sys")


def output_layout(out, wl_name, variant, reps, stamp):
    """[(rep, run_dir, run_id)] and the top dir; refuses to reuse a non-empty dir."""
    if out:
        top = os.path.abspath(out)
    else:
        top = os.path.join(RESULTS, schema.make_run_id(wl_name, variant, None, stamp))
    if os.path.exists(top) and (not os.path.isdir(top) or
                                [n for n in os.listdir(top) if n != SHARE_MARKER]):
        raise UsageError(f"{top} already exists and is not empty: give another -o DIR")
    if reps == 1:
        return top, [(1, top, schema.make_run_id(wl_name, variant, None, stamp))]
    return top, [(r, os.path.join(top, f"rep-{r:02d}"), schema.make_run_id(wl_name, variant, r, stamp))
                 for r in range(1, reps + 1)]


def tracer_version():
    try:
        p = subprocess.run([TRACER, "-V"], capture_output=True, text=True, timeout=20)
        return (p.stdout or p.stderr).strip().splitlines()[0] if p.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def need_tools(names):
    missing = [n for n in names if not shutil.which(n)]
    if missing:
        raise SetupError(f"missing program(s): {', '.join(missing)}: run 'sudo ./wbtrace setup'")


def run_local(args, wl, target, variant, context, rep_no=None):
    """Execute all reps here: in the lab guest (target vm) or on this machine (host).

    rep_no: run one rep, numbered rep_no, straight into -o DIR (a comparison's rep dir)."""
    if os.geteuid() != 0:
        raise SetupError("running a workload needs root (mkfs, mount, BPF, blktrace): "
                         f"sudo ./wbtrace run {wl.name} ...")
    size = args.size or wl.default_size
    need = wl.need_device_bytes(size)
    trace = not args.no_trace
    if trace and not os.access(TRACER, os.X_OK):
        raise SetupError(f"the tracer is not built ({os.path.relpath(TRACER, TOP)}): run "
                         f"'make -C {os.path.join(TOP, 'loader')}', or add --no-trace")
    progress = Progress(args.quiet)
    cleanup = Cleanup()
    image_created = None
    keep_image = False
    stamp = args._stamp or schema.utc_stamp()
    if rep_no is None:
        top, layout = output_layout(args.output, wl.name, variant, args.reps, stamp)
    else:
        top, _ = output_layout(args.output, wl.name, variant, 1, stamp)
        layout = [(rep_no, top, schema.make_run_id(wl.name, variant, rep_no, stamp))]
    if context.get("share_marker") and not os.path.exists(os.path.join(top, SHARE_MARKER)):
        raise SetupError(f"{top} is not shared with the guest (results would be lost)")

    # The device: the guest's scratch disk, a device the user named, or a loop image.
    if target == "vm":
        dev = os.environ.get("WBTRACE_SCRATCH")
        if not dev:
            raise SetupError("WBTRACE_SCRATCH is not set: not in the lab guest")
        dev = check_device(dev, need, f"the guest scratch disk {dev}")
        dev_label = dev
    elif args.device:
        dev = check_device(args.device, need)
        dev_label = args.device
    if not kernel_has_f2fs():
        raise SetupError("this kernel has no f2fs (not in /proc/filesystems, no f2fs module): "
                         "use the lab guest, --target vm")
    if target == "host":
        subprocess.run(["modprobe", "f2fs"], capture_output=True)
    tools = ["fio", "mkfs.f2fs", "fsck.f2fs", "mount", "umount", "sync", "dmesg"]
    if target == "host" and not args.device:
        tools.append("losetup")
    need_tools(tools)
    blk = bool(trace and shutil.which("blktrace") and shutil.which("blkparse")
               and shutil.which("btt"))

    try:
        if target == "host" and not args.device:
            image = os.path.abspath(args.image or os.path.join(
                "/var/tmp", f"wbtrace-{wl.name}-{stamp}.img"))
            if os.path.exists(image):
                if not stat.S_ISREG(os.stat(image).st_mode):
                    raise DeviceError(f"--image {image}: not a regular file")
                busy = subprocess.run(["losetup", "-j", image], capture_output=True, text=True)
                if busy.stdout.strip():
                    raise DeviceError(f"refusing --image {image}: already attached "
                                      f"({busy.stdout.strip().split(':')[0]})")
                if os.path.getsize(image) < need:
                    raise DeviceError(f"--image {image} is too small: "
                                      f"{os.path.getsize(image) // MiB} MiB, needs {need // MiB} MiB")
            else:
                os.makedirs(os.path.dirname(image), exist_ok=True)
                with open(image, "wb") as f:
                    f.truncate(max(need, 1 << 30))
                image_created = image
                cleanup.push(f"remove {image}",
                             lambda: (None if keep_image else os.unlink(image)))
            p = subprocess.run(["losetup", "--find", "--show", image], capture_output=True,
                               text=True)
            if p.returncode != 0:
                raise SetupError(f"losetup failed: {p.stderr.strip()} (is the loop module "
                                 f"available?)")
            dev = p.stdout.strip()
            cleanup.push(f"losetup -d {dev}",
                         lambda: subprocess.run(["losetup", "-d", dev], check=True,
                                                capture_output=True))
            dev_label = f"{dev} ({image})"
        if blk and not os.path.isdir("/sys/kernel/debug/block"):
            if subprocess.run(["mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug"],
                              capture_output=True).returncode == 0:
                cleanup.push("umount debugfs",
                             lambda: subprocess.run(["umount", "/sys/kernel/debug"],
                                                    capture_output=True))
            else:
                blk = False

        if target == "vm":
            module = os.environ.get("WBTRACE_MODULE", "")
            kernel = {"release": platform.release(), "f2fs_module": module or None}
            if context.get("module_sha256"):
                kernel["f2fs_module_sha256"] = context["module_sha256"]
            elif module and os.path.exists(module):
                kernel["f2fs_module_sha256"] = sha256_file(module)
        else:
            mp = subprocess.run(["modinfo", "-n", "f2fs"], capture_output=True, text=True)
            module = mp.stdout.strip() if mp.returncode == 0 else "(built-in)"
            kernel = {"release": platform.release(), "f2fs_module": module}
            if os.path.isfile(module):
                kernel["f2fs_module_sha256"] = sha256_file(module)
        ctx = RepContext(
            wl=wl, size=size, reps=args.reps, variant=variant, target=target, dev=dev,
            dev_label=dev_label, dev_bytes=device_bytes(dev), sysfs_name=f2fs_sysfs_name(dev),
            bdi=bdi_dir(dev), mkfs_opts=args.mkfs_opts if args.mkfs_opts is not None else wl.mkfs,
            mount_opts=merge_mount_opts(wl.mount, args.fs_opts), tracer_mode=(
                "off" if not trace else ("summary" if args.trace_mode == "hist" else "events")),
            tracer_version=tracer_version() if trace else None, blktrace=blk,
            stacks=bool(trace and shutil.which("perf")),
            inject=args.inject_corruption, accel=context.get("accel"),
            icount=context.get("icount"), host_cpu_model=context.get("host_cpu_model"),
            git=context.get("git") or schema.git_info(TOP), kernel=kernel,
            tmp_root=os.environ.get("TMPDIR", "/tmp"))

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
            keep_image = True
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
        if os.path.isdir(top) and not os.listdir(top) and not in_guest():
            os.rmdir(top)


# ============================================================================ the lab guest

def lab_paths():
    try:
        p = subprocess.run([BUILD_SH, "--print-paths"], capture_output=True, text=True, timeout=120)
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
    paths = lab_paths()
    kdir = paths.get("KERNEL_DIR", "")
    mod = paths.get(f"MODULE_{variant.upper()}", "")
    if not (kdir and os.path.exists(os.path.join(kdir, ".done")) and mod and
            os.path.exists(os.path.join(os.path.dirname(mod), ".done"))):
        return None
    return mod


STATUS_LINE = re.compile(r"^\[wbtrace\] (.*) \(\d+m\d\ds\)$")


def guest_prep(args, top, wl, size):
    """What every guest session needs first: the tracer (unless --no-trace), the marker
    proving -o DIR is shared, the accelerator vm.sh will use, the scratch disk size."""
    if not args.no_trace and not os.access(TRACER, os.X_OK):
        raise SetupError(f"the tracer is not built ({os.path.relpath(TRACER, TOP)}): run "
                         f"'make -C {os.path.join(TOP, 'loader')}', or add --no-trace")
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, SHARE_MARKER), "w") as f:
        f.write("the lab guest checks that it sees this file, i.e. that -o DIR is shared\n")
    accel = None
    try:
        p = subprocess.run([VM_SH, "accel"], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        accel = p.stdout.strip().splitlines()[-1] if p.returncode == 0 and p.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        pass
    need = wl.need_device_bytes(size)
    return accel, max(2048, (need + MiB - 1) // MiB)


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


def run_in_vm(args, wl, variant):
    """Boot the lab guest once and run all reps inside it (this program, WBTRACE_GUEST=1)."""
    size = args.size or wl.default_size
    if args.device:
        raise UsageError("--device is for --target host; the guest uses its own scratch disk")
    stamp = schema.utc_stamp()
    top, _ = output_layout(args.output, wl.name, variant, args.reps, stamp)
    _check_not_guest_private(top)
    module = lab_ready(variant)
    if not module:
        raise SetupError(f"this kernel has no f2fs and the lab (kernel + f2fs {variant} module) is "
                         f"not built or out of date: run './wbtrace lab build'")
    accel, disk_mb = guest_prep(args, top, wl, size)
    icount = icount_spec(args)
    if icount:
        accel = "tcg"                  # vm.sh boots TCG for -icount (or refuses)
    context = {"git": schema.git_info(TOP), "accel": accel, "module_sha256": sha256_file(module),
               "share_marker": True, "host_cpu_model": schema.host_info().get("cpu_model")}
    if icount:
        context["icount"] = icount     # meta.json host.icount (Rep._write_meta)
    inner = [WBRUN_EXE, "run", wl.name, "--target", "vm", "--variant", variant,
             "--reps", str(args.reps), "--size", str(size), "-o", top, "--_stamp", stamp,
             "--_context", json.dumps(context, separators=(",", ":"))]
    inner += rep_options(args)
    if args.inject_corruption:
        inner.append(f"--inject-corruption={args.inject_corruption}")
    cmd = [VM_SH, "run", "--variant", variant, "--no-build", "--disk-size", f"{disk_mb}M",
           "--timeout", str(args.timeout or max(3600, 600 + 900 * args.reps))]
    cmd += icount_vm_options(icount)
    if args.image:
        cmd += ["--disk", os.path.abspath(args.image)]
    if args.quiet:
        cmd.append("-q")
    real_results = os.path.realpath(RESULTS)
    if not (os.path.realpath(top) + "/").startswith(real_results + "/"):
        cmd += ["--rw", top]
    if args.quiet:
        inner.append("--quiet")
    cmd += ["--"] + inner
    progress = Progress(args.quiet, prefix="")
    progress.say(f"wbtrace: {wl.name}: booting the lab guest (f2fs {variant}) for {args.reps} "
                 f"rep(s) -> {top}")
    return guest_session(cmd, top, args.quiet, progress, "wbtrace run")


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
        try:
            os.unlink(os.path.join(top, SHARE_MARKER))
        except OSError:
            pass
        if os.path.isdir(top) and not os.listdir(top):
            os.rmdir(top)
            print(f"{prog}: interrupted before any rep finished; nothing kept", file=sys.stderr)
        else:
            print(f"{prog}: interrupted; what was finished is in {top}", file=sys.stderr)
        return EXIT_INTR
    finally:
        stop.set()
        progress.clear()
        try:
            os.unlink(os.path.join(top, SHARE_MARKER))
        except OSError:
            pass
    if rc in (EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_SETUP, EXIT_DEVICE):
        if os.path.isdir(top) and not os.listdir(top):
            os.rmdir(top)
        elif rc in (EXIT_OK, EXIT_FAIL):
            progress.say(f"wbtrace: {'done' if rc == EXIT_OK else 'FAILED'} in "
                         f"{fmt_elapsed(time.monotonic() - progress.t0)} (guest boot included)")
        if rc in (EXIT_USAGE, EXIT_SETUP, EXIT_DEVICE):
            # The guest side said why above (or lost it at power-off): never exit silently.
            why = {EXIT_USAGE: "bad usage", EXIT_SETUP: "set-up missing",
                   EXIT_DEVICE: "device refused"}[rc]
            last = next((ln for ln in reversed(last) if ln.strip()), "")
            print(f"{prog}: FAILED: the guest session ended with exit {rc} ({why}); "
                  f"its last line: {last[:200]}", file=sys.stderr)
        return rc
    what = {120: "a kernel splat (WARN/BUG/lockdep/KASAN) in the guest log",
            121: "the guest timed out (raise --timeout)",
            122: "the guest died without reporting (panic or QEMU error)",
            125: "the guest could not load the f2fs module",
            EXIT_INTR: "interrupted"}.get(rc, f"the guest runner exited {rc}")
    print(f"{prog}: FAILED: {what}; guest logs: see the [vm] lines above; results so far "
          f"in {top}", file=sys.stderr)
    return EXIT_INTR if rc == EXIT_INTR else EXIT_FAIL


# ============================================================================ compare: A/B in one boot

def _check_not_guest_private(top):
    rtop = os.path.realpath(top)
    for d in GUEST_PRIVATE:
        if rtop == d or rtop.startswith(d + "/"):
            raise UsageError(f"-o {top}: {d} is private to the lab guest, results written there "
                             f"would be lost; use a directory elsewhere (default: results/)")
    _check_writable(top)


def _check_writable(top):
    """Refuse before booting anything when the results cannot be written."""
    d = os.path.abspath(top)
    while not os.path.exists(d):
        d = os.path.dirname(d)
    if not os.access(d, os.W_OK | os.X_OK):
        raise SetupError(f"cannot write the results to {top}: {d} is not writable by uid "
                         f"{os.geteuid()} (give -o DIR, or run as root)")


def compare_plan(cmp_dir, workload, reps):
    """Write cmp_dir/cmp.json through `python3 -m analysis new-cmp`; its run order."""
    env = dict(os.environ, PYTHONPATH=TOP + (":" + os.environ["PYTHONPATH"]
                                             if os.environ.get("PYTHONPATH") else ""))
    p = subprocess.run([PY, "-m", "analysis", "new-cmp", cmp_dir, "--workload", workload,
                        "--reps", str(reps), "--order", "interleaved"],
                       capture_output=True, text=True, env=env, cwd=TOP)
    if p.returncode != 0:
        raise SetupError(f"analysis new-cmp failed: {tail(p.stderr, 1)}")
    plan = []
    for line in p.stdout.splitlines():
        v, r, d = line.split(None, 2)
        plan.append((v, int(r), d))
    return plan


def compare_in_vm(args, wl):
    """Host side of `compare`: one guest boot, reps of stock and patched interleaved."""
    size = args.size or wl.default_size
    stamp = schema.utc_stamp()
    top = os.path.abspath(args.output or os.path.join(RESULTS, f"cmp-{wl.name}-{stamp}"))
    if os.path.exists(top) and (not os.path.isdir(top) or os.listdir(top)):
        raise UsageError(f"{top} already exists and is not empty: give another -o DIR")
    _check_not_guest_private(top)
    modules = {v: lab_ready(v) for v in VARIANTS}
    if not all(modules.values()):
        raise SetupError("the lab (kernel + both f2fs modules) is not built or out of date: "
                         "run './wbtrace lab build'")
    if not args.no_trace and not os.access(TRACER, os.X_OK):
        raise SetupError(f"the tracer is not built ({os.path.relpath(TRACER, TOP)}): run "
                         f"'make -C {os.path.join(TOP, 'loader')}', or add --no-trace")
    plan = compare_plan(top, wl.name, args.reps)
    accel, disk_mb = guest_prep(args, top, wl, size)
    icount = icount_spec(args)
    if icount:
        accel = "tcg"                  # vm.sh boots TCG for -icount (or refuses)
    context = {"git": schema.git_info(TOP), "accel": accel,
               "module_sha256": {v: sha256_file(m) for v, m in modules.items()},
               "host_cpu_model": schema.host_info().get("cpu_model")}
    if icount:
        context["icount"] = icount     # meta.json host.icount of every rep
    inner = [WBRUN_EXE, "compare", wl.name, "--reps", str(args.reps), "--size", str(size),
             "-o", top, "--_stamp", stamp, "--_context", json.dumps(context, separators=(",", ":")),
             "--_plan", json.dumps(plan, separators=(",", ":"))]
    inner += rep_options(args)
    if args.quiet:
        inner.append("--quiet")
    cmd = [VM_SH, "run", "--variant", plan[0][0], "--no-build", "--disk-size", f"{disk_mb}M",
           "--timeout", str(args.timeout or max(3600, 600 + 900 * 2 * args.reps))]
    cmd += icount_vm_options(icount)
    if args.quiet:
        cmd.append("-q")
    if not (os.path.realpath(top) + "/").startswith(os.path.realpath(RESULTS) + "/"):
        cmd += ["--rw", top]
    cmd += ["--"] + inner
    progress = Progress(args.quiet, prefix="")
    progress.say(f"wbtrace: {wl.name}: booting the lab guest once for {args.reps} rep(s) of "
                 f"stock and of patched, interleaved -> {top}")
    rc = guest_session(cmd, top, args.quiet, progress, "wbtrace compare")
    if rc != EXIT_OK:
        if rc == EXIT_FAIL:
            print(f"wbtrace compare: FAILED: a rep failed (see above); evidence in {top}",
                  file=sys.stderr)
        return rc
    env = dict(os.environ, PYTHONPATH=TOP)
    print(f"\nA/B table ({top}):", flush=True)
    arc = subprocess.run([PY, "-m", "analysis", "compare", top], env=env, cwd=TOP).returncode
    if arc != 0:
        print(f"wbtrace compare: the analysis could not compare the runs (exit {arc}); "
              f"results in {top}", file=sys.stderr)
        return EXIT_FAIL
    print(f"wbtrace compare: {args.reps} rep(s) each of stock and patched verified; "
          f"comparison dir {top}")
    return EXIT_OK


def swap_guest_module(variant):
    """In the guest: unload f2fs and load the lab's `variant` module instead."""
    ko = os.environ.get(f"WBTRACE_MODULE_{variant.upper()}", "")
    if not ko or not os.path.isfile(ko):
        raise SetupError(f"WBTRACE_MODULE_{variant.upper()} is not set or missing in the guest")
    for cmd in (["rmmod", "f2fs"], ["insmod", ko]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SetupError(f"{' '.join(cmd)} failed: {tail(p.stderr or p.stdout, 1)}")


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
    if not os.path.exists(os.path.join(top, SHARE_MARKER)):
        raise SetupError(f"{top} is not shared with the guest (results would be lost)")
    sums = context.get("module_sha256") or {}
    failed = 0
    for variant, rep, run_dir in plan:
        if loaded_guest_variant() != variant:
            swap_guest_module(variant)
            print(f"wbtrace compare: f2fs {variant} loaded", flush=True)
        loaded = loaded_guest_variant()
        if loaded != variant:
            raise SetupError(f"loaded f2fs is {loaded or 'unknown'}, wanted {variant}")
        os.environ["WBTRACE_MODULE"] = os.environ.get(f"WBTRACE_MODULE_{variant.upper()}", "")
        os.environ["WBTRACE_VARIANT"] = variant       # the tracer labels summary.json with it
        ctx = dict(context, module_sha256=sums.get(variant))
        rargs = argparse.Namespace(**vars(args))
        rargs.output = run_dir
        rc = run_local(rargs, wl, "vm", loaded, ctx, rep_no=rep)
        if rc != EXIT_OK:
            failed += 1
    return EXIT_FAIL if failed else EXIT_OK


def cmd_compare(args):
    wl = resolve_workload(args.workload)
    if args.reps < 1:
        raise UsageError("--reps must be at least 1 (a verdict needs 3)")
    if args.size is not None and args.size < MiB:
        raise UsageError("--size must be at least 1M")
    if args.dry_run:
        print(f"{wl.name}: stock and patched, {args.reps} rep(s) each, interleaved in one guest "
              f"boot, size {fmt_size(args.size or wl.default_size)} per job, tracer "
              f"{'off' if args.no_trace else args.trace_mode}")
        return EXIT_OK
    if in_guest():
        return compare_in_guest(args, wl)
    return compare_in_vm(args, wl)


# ============================================================================ the _phase helper

def cmd_phase(spec_path):
    """Run fio and the job's driver side by side (this process is what the tracer traces)."""
    with open(spec_path) as f:
        spec = json.load(f)
    env = dict(os.environ, **spec["env"])
    procs = {}
    t0 = time.monotonic()
    times = {}
    with open(spec["fio_log"], "w") as flog:
        procs["fio"] = subprocess.Popen(spec["fio"], cwd=spec["fio_cwd"], env=env,
                                        stdin=subprocess.DEVNULL, stdout=flog,
                                        stderr=subprocess.STDOUT)
    if spec.get("driver"):
        with open(spec["driver_log"], "w") as dlog:
            procs["driver"] = subprocess.Popen(spec["driver"], env=env, stdin=subprocess.DEVNULL,
                                               stdout=dlog, stderr=subprocess.STDOUT)
    rcs = {}
    try:
        while len(rcs) < len(procs):
            for k, p in procs.items():
                if k not in rcs and p.poll() is not None:
                    rcs[k] = p.returncode
                    times[k] = round(time.monotonic() - t0, 3)
            time.sleep(0.05)
    except KeyboardInterrupt:
        for p in procs.values():
            stop_proc(p, signal.SIGINT, timeout=60, group=False)
        raise
    status = {"fio_rc": rcs.get("fio"), "driver_rc": rcs.get("driver"),
              "fio_s": times.get("fio"), "driver_s": times.get("driver")}
    with open(spec["status"] + ".tmp", "w") as f:
        json.dump(status, f)
    os.replace(spec["status"] + ".tmp", spec["status"])
    return 0 if all(v == 0 for v in rcs.values()) else 1


# ============================================================================ command line

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

Exit status: 0 every rep verified; 1 a rep failed (workload or verification);
2 bad usage; 3 set-up missing (root, f2fs, lab, tracer, tools); 4 device refused
or too small; 130 interrupted.
"""


COMPARE_EPILOG = """\
Output (analysis/SCHEMA.md): DIR/cmp.json (written by `analysis new-cmp`, which also
gives the run order) and DIR/stock/rep-NN, DIR/patched/rep-NN, each a full verified
run dir as `./wbtrace run` writes it.  Between reps the guest swaps the module
(rmmod f2fs; insmod the other f2fs.ko); every rep is labelled by the build-id of
the module actually loaded.  Each rep: fresh mkfs, caches dropped by verification.

Exit status: 0 every rep verified and the table printed; 1 a rep failed or the
analysis could not compare; 2 bad usage; 3 set-up missing; 130 interrupted.
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
    r.add_argument("--reps", type=int, default=1, help="repetitions (default 1, one guest boot)")
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
    r.add_argument("-o", "--output", metavar="DIR", help="result directory")
    r.add_argument("--timeout", type=int, default=None,
                   help="vm: guest time limit, s (default max(3600, 600 + 900 per rep))")
    r.add_argument("--icount", metavar="SPEC", default=None,
                   help="vm: QEMU -icount SPEC (e.g. shift=auto), TCG only; guest time from "
                        "executed instructions; recorded as meta.json host.icount "
                        "(default $WBTRACE_ICOUNT, else off)")
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
                   help="reps per variant (default 3; a verdict needs at least 3)")
    c.add_argument("--size", metavar="S", type=lambda s: parse_size(s, "--size"),
                   help="size per fio job (default: the job file's '; size:')")
    c.add_argument("--fs-opts", metavar="OPTS", default="", help="as for run")
    c.add_argument("--mkfs-opts", metavar="OPTS", default=None, help="as for run")
    c.add_argument("--no-trace", action="store_true",
                   help="no BPF tracer, no blktrace, no on-CPU stack sampling")
    c.add_argument("--trace-mode", choices=("stream", "hist"), default="stream",
                   help="tracer mode (as for run)")
    c.add_argument("-o", "--output", metavar="DIR",
                   help="comparison dir (default results/cmp-<workload>-<UTC stamp>)")
    c.add_argument("--timeout", type=int, default=None,
                   help="guest time limit, s (default max(3600, 600 + 1800 per rep))")
    c.add_argument("--icount", metavar="SPEC", default=None,
                   help="QEMU -icount SPEC for the guest, as for run")
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
    wls = []
    for n in workload_names():
        wls.append(Workload(n, os.path.join(WL_DIR, n + ".fio")))
    if args.json:
        print(json.dumps([w.describe() for w in wls], indent=2))
        return 0
    width = max(len(w.name) for w in wls)
    for w in wls:
        print(f"{w.name:<{width}}  {w.purpose}")
    return 0


def guest_context():
    """git state and module hash, computed once per guest boot (both are slow over 9p)."""
    path = "/tmp/.wbtrace-run-context.json"
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    module = os.environ.get("WBTRACE_MODULE", "")
    ctx = {"git": schema.git_info(TOP), "accel": None,
           "module_sha256": sha256_file(module) if module and os.path.isfile(module) else None}
    try:
        with open(path, "w") as f:
            json.dump(ctx, f)
    except OSError:
        pass
    return ctx


def loaded_guest_variant():
    """Which lab module is loaded now, by its GNU build-id ("stock"/"patched"), or None.

    The guest offers both modules (WBTRACE_MODULE_STOCK/_PATCHED) so that a test can swap
    them in one boot; WBTRACE_VARIANT only says which one was loaded at boot."""
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


def cmd_run(args):
    wl = resolve_workload(args.workload)
    if args.reps < 1:
        raise UsageError("--reps must be at least 1")
    if args.size is not None and args.size < MiB:
        raise UsageError("--size must be at least 1M")
    context = {}
    if args._context:
        try:
            context = json.loads(args._context)
        except ValueError:
            raise UsageError("--_context: not JSON") from None
    if in_guest() and not context:
        context = guest_context()
    if in_guest() and args.target != "host":
        gv = os.environ.get("WBTRACE_VARIANT", "stock")
        lv = loaded_guest_variant()
        if lv and lv != gv:
            gv = lv                       # swapped since boot: label by what is loaded
            os.environ["WBTRACE_MODULE"] = os.environ.get(f"WBTRACE_MODULE_{lv.upper()}", "")
            os.environ["WBTRACE_VARIANT"] = lv    # the tracer labels summary.json with it
            context = dict(context, module_sha256=None)
        if args.variant and args.variant != gv:
            raise UsageError(f"this guest runs f2fs {gv}; --variant {args.variant} needs its "
                             f"own boot (run from the host)")
        if args.device:
            raise UsageError("inside the lab guest the workload runs on the scratch disk "
                             "(--device only with --target host)")
        return run_local(args, wl, "vm", gv, context)
    target = args.target
    if target is None:
        target = "host" if kernel_has_f2fs() else "vm"
    if target == "host":
        if args.variant:
            raise UsageError("--variant picks the lab's f2fs module; on the host the running "
                             "f2fs is used (recorded as host-other)")
        if getattr(args, "icount", None) not in (None, "", "off"):
            raise UsageError("--icount sets the lab guest's QEMU clock; it has no meaning "
                             "with --target host")
        if os.geteuid() != 0:
            raise SetupError(f"--target host needs root: sudo ./wbtrace run {wl.name} ...")
        size = args.size or wl.default_size
        if args.device:
            check_device(args.device, wl.need_device_bytes(size))
        if not kernel_has_f2fs():
            raise SetupError("this kernel has no f2fs (not in /proc/filesystems, no f2fs "
                             "module): use the lab guest, --target vm")
        return run_local(args, wl, "host", "host-other", context)
    return run_in_vm(args, wl, args.variant or "stock")


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
            return cmd_phase(args.spec)
        if args.cmd == "compare":
            return cmd_compare(args)
        return cmd_run(args)
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
