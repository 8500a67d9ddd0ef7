"""Job files: workloads/<name>.fio and its header lines -> Workload; the size syntax they
and --size share; mount options with --fs-opts on top."""

import difflib
import glob
import hashlib
import os
import re
import shlex

from . import paths
from .errors import SetupError, UsageError

HEADER_KEYS = ("purpose", "size", "mkfs", "mount", "sysfs", "bdi", "driver")
MiB = 1 << 20


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
            drv = os.path.join(paths.WL_DIR, self.driver_argv()[0])
            if not os.path.isfile(drv):
                raise UsageError(f"{self.path}: driver {self.driver_argv()[0]!r} is not a file "
                                 f"in {paths.WL_DIR}")

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

    def write_jobs(self):
        """The jobs that write: all but reads (fio's rw= default is read)."""
        return [j for j, _ in self.jobs
                if (self.option(j, "rw") or self.option(j, "readwrite") or "read") not in ("read", "randread")]

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
                "path": os.path.relpath(self.path, paths.TOP)}


def workload_names():
    return sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(paths.WL_DIR, "*.fio")))


def all_workloads():
    return [Workload(n, os.path.join(paths.WL_DIR, n + ".fio")) for n in workload_names()]


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
        raise SetupError(f"no workloads in {paths.WL_DIR} (*.fio)")
    for cand in (name, "fio-" + name):
        if cand in names:
            return Workload(cand, os.path.join(paths.WL_DIR, cand + ".fio"))
    hint = suggest(name, names)
    raise UsageError(f"unknown workload '{name}'" +
                     (f"; did you mean {' or '.join(hint)}?" if hint else "") +
                     " (./wbtrace list shows them)")


# -- sizes (job files, --size) and mount options

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


def merge_mount_opts(base, extra):
    """Mount options of the job file with --fs-opts on top: KEY=V replaces KEY."""
    items = [p for p in base.split(",") if p]
    for p in [p for p in (extra or "").split(",") if p]:
        key = p.split("=", 1)[0]
        items = [q for q in items if q.split("=", 1)[0] != key]
        items.append(p)
    return ",".join(items)
