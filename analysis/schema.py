"""Results layout and versioned schemas: the single source of truth (see SCHEMA.md).

Reader side: ``load_run(path)``, ``load_cmp(path)``, ``resolve(spec)`` raise
``ResultsError`` (a ``WbtraceError``) with one clear sentence for missing, corrupt or
foreign-schema data.  Writer side: ``new_meta(...)`` + ``write_meta()``, ``new_cmp(...)`` +
``write_cmp()``, ``rep_dir()``, ``write_summary()``.
"""

import datetime as _dt
import json
import math
import os
import platform
import re
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .stats import hist_loglin_percentile, loglin_nbuckets, loglin_to_log2

RUN_SCHEMA = "wbtrace.run/1"
TRACE_SCHEMA = "wbtrace.trace/1"
CMP_SCHEMA = "wbtrace.cmp/1"
COMPARE_SCHEMA = "wbtrace.compare/1"
GATE_SCHEMA = "wbtrace.gate/1"
THRESHOLDS_SCHEMA = "wbtrace.thresholds/1"

META_FILE = "meta.json"
FIO_FILE = "fio.json"
SUMMARY_FILE = os.path.join("trace", "summary.json")
EVENTS_FILE = os.path.join("trace", "events.jsonl")
STACKS_FILE = "stacks.folded"
GUEST_CPU_FILE = "guest_cpu.json"
GUEST_CPU_SCHEMA = "wbtrace.cpu/1"
BLKTRACE_DIR = "blktrace"
DMESG_FILE = "dmesg.txt"
VERIFY_FILE = "verify.txt"
CMP_FILE = "cmp.json"

VARIANTS = ("stock", "patched", "canary", "host-other")   # canary: test-only, tests/canary/
TARGETS = ("vm", "host")
TRACER_MODES = ("off", "summary", "events", "stacks")
PROBE_MODES = ("fentry", "fexit", "kprobe", "kretprobe", "tracepoint",
               "raw_tracepoint", "off", "failed")
VERIFY_STEPS = ("fio_verify", "after_drop_caches", "after_remount", "fsck", "dmesg")
VERIFY_STATES = ("pass", "fail", "skipped")
DIST_REQUIRED = ("count", "mean", "p50", "p90", "p99", "p999", "hist_log2")
ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")


class WbtraceError(Exception):
    """Any user-facing failure: the CLI prints it on one line and exits 2."""


class ResultsError(WbtraceError):
    """A result directory or file is missing, corrupt, or of a foreign/unknown schema."""


# ----------------------------------------------------------------------------- helpers

def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def load_json(path: str, what: str):
    """Read a JSON file; every failure becomes a ResultsError naming the file."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing ({what})") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a directory, expected {what}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path}: cannot read {what}: {e}") from None
    if not text.strip():
        raise ResultsError(f"{path}: empty file ({what})")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise ResultsError(f"{path}: corrupt JSON ({what}): {e}") from None


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def write_json(path: str, doc) -> None:
    """Atomic write (temp file + rename) so a reader never sees half a file."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=False, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def check_schema(doc, expected: str, path: str) -> None:
    """Accept only `expected` (same kind, same major). Explain what was found otherwise."""
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: expected a JSON object, found {type(doc).__name__}")
    got = doc.get("schema")
    if got == expected:
        return
    kind = expected.split("/")[0]
    if got is None:
        raise ResultsError(f"{path}: no \"schema\" field (expected \"{expected}\")")
    if isinstance(got, str) and got.split("/")[0] == kind:
        raise ResultsError(f"{path}: schema \"{got}\" is not supported by this wbtrace "
                           f"(it reads \"{expected}\")")
    raise ResultsError(f"{path}: foreign schema \"{got}\" (expected \"{expected}\")")


def _need(doc: dict, key: str, types, path: str, nullable=False):
    if key not in doc:
        raise ResultsError(f"{path}: required field \"{key}\" is missing")
    v = doc[key]
    if v is None and nullable:
        return v
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ResultsError(f"{path}: field \"{key}\" has the wrong type (bool)")
    if not isinstance(v, types):
        tn = "/".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise ResultsError(f"{path}: field \"{key}\" must be {tn}, found {type(v).__name__}")
    return v


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ----------------------------------------------------------------------------- validation

def validate_meta(meta, path: str = META_FILE) -> dict:
    check_schema(meta, RUN_SCHEMA, path)
    rid = _need(meta, "run_id", str, path)
    if not ID_RE.match(rid):
        raise ResultsError(f"{path}: run_id \"{rid}\" may only use [A-Za-z0-9._-]")
    _need(meta, "workload", str, path)
    v = _need(meta, "variant", str, path)
    if v not in VARIANTS:
        raise ResultsError(f"{path}: variant \"{v}\" is not one of {', '.join(VARIANTS)}")
    rep = _need(meta, "rep", int, path)
    if rep < 1:
        raise ResultsError(f"{path}: rep must be >= 1, found {rep}")
    t = _need(meta, "target", str, path)
    if t not in TARGETS:
        raise ResultsError(f"{path}: target \"{t}\" is not one of {', '.join(TARGETS)}")
    k = _need(meta, "kernel", dict, path)
    _need(k, "release", str, path + " kernel")
    fs = _need(meta, "f2fs", dict, path)
    _need(fs, "mkfs_options", str, path + " f2fs")
    _need(fs, "mount_options", str, path + " f2fs")
    host = _need(meta, "host", dict, path)
    for key in ("accel", "icount", "cpu_model"):   # optional; compared by compare/gate
        if key in host and not isinstance(host[key], str):
            raise ResultsError(f"{path}: host.{key} must be a string, found {host[key]!r}")
    g = _need(meta, "git", dict, path)
    _need(g, "revision", str, path + " git", nullable=True)
    tr = _need(meta, "tracer", dict, path)
    mode = _need(tr, "mode", str, path + " tracer")
    if mode not in TRACER_MODES:
        raise ResultsError(f"{path}: tracer.mode \"{mode}\" is not one of {', '.join(TRACER_MODES)}")
    _validate_probes(_need(meta, "probes", dict, path), path)
    d = _need(meta, "drops", int, path)
    if d < 0:
        raise ResultsError(f"{path}: drops must be >= 0, found {d}")
    _need(meta, "started", str, path)
    _need(meta, "finished", str, path)
    dur = _need(meta, "duration_s", (int, float), path)
    if not _is_num(dur) or dur < 0:
        raise ResultsError(f"{path}: duration_s must be a finite number >= 0")
    ver = _need(meta, "verify", dict, path)
    for step in VERIFY_STEPS:
        s = _need(ver, step, str, path + " verify")
        if s not in VERIFY_STATES:
            raise ResultsError(f"{path}: verify.{step} \"{s}\" is not one of "
                               f"{', '.join(VERIFY_STATES)}")
    ph = meta.get("phases_s")                  # optional: seconds per runner phase
    if ph is not None and (not isinstance(ph, dict) or not all(
            isinstance(k, str) and _is_num(v) and v >= 0 for k, v in ph.items())):
        raise ResultsError(f"{path}: phases_s must map phase names to seconds >= 0")
    return meta


def _validate_probes(probes: dict, path: str) -> None:
    for name, mode in probes.items():
        if mode not in PROBE_MODES:
            raise ResultsError(f"{path}: probe \"{name}\" has unknown mode \"{mode}\" "
                               f"(one of {', '.join(PROBE_MODES)})")


def validate_dist(d, path: str, name: str) -> dict:
    where = f"{path} metrics.{name}"
    if not isinstance(d, dict):
        raise ResultsError(f"{where}: expected an object")
    for key in DIST_REQUIRED:
        if key not in d:
            raise ResultsError(f"{where}: required field \"{key}\" is missing")
    c = d["count"]
    if not isinstance(c, int) or isinstance(c, bool) or c < 0:
        raise ResultsError(f"{where}: count must be an integer >= 0")
    h = d["hist_log2"]
    if not isinstance(h, list) or len(h) > 64 or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in h):
        raise ResultsError(f"{where}: hist_log2 must be a list of <= 64 integers >= 0")
    if sum(h) != c:
        raise ResultsError(f"{where}: sum(hist_log2) = {sum(h)} but count = {c}")
    for key in ("mean", "p50", "p90", "p99", "p999"):
        v = d[key]
        if c == 0:
            if v is not None and not _is_num(v):
                raise ResultsError(f"{where}: {key} must be null or a number")
        elif not _is_num(v):
            raise ResultsError(f"{where}: {key} must be a finite number when count > 0")
    if "hist_loglin" in d:
        _validate_loglin(d, where)
    elif d.get("pct_method") == "hist_loglin_upper":
        raise ResultsError(f"{where}: pct_method \"hist_loglin_upper\" without hist_loglin")
    return d


LOGLIN_PCTS = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))


def _validate_loglin(d: dict, where: str) -> None:
    """Optional "hist_loglin" of a {DIST} (SCHEMA.md section 3): sparse [bucket, count]
    pairs, buckets increasing and inside the layout of its sub_bits, counts summing to
    count, refining hist_log2 exactly; with pct_method "hist_loglin_upper" every percentile
    must be what analysis.stats computes from it (the tracer's C code and the Python twin
    agree on the layout)."""
    hl = d["hist_loglin"]
    k = hl.get("sub_bits") if isinstance(hl, dict) else None
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 16:
        raise ResultsError(f"{where}: hist_loglin needs \"sub_bits\" (an integer 1..16)")
    bs, nb, last = hl.get("buckets"), loglin_nbuckets(k), -1
    if not isinstance(bs, list):
        raise ResultsError(f"{where}: hist_loglin.buckets must be a list of [bucket, count]")
    for p in bs:
        if (not isinstance(p, list) or len(p) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in p)
                or not last < p[0] < nb or p[1] <= 0):
            raise ResultsError(f"{where}: hist_loglin.buckets: {p!r} is not [bucket, count] "
                               f"with buckets increasing in 0..{nb - 1} and count > 0")
        last = p[0]
    if sum(p[1] for p in bs) != d["count"]:
        raise ResultsError(f"{where}: sum(hist_loglin) = {sum(p[1] for p in bs)} "
                           f"but count = {d['count']}")
    h2 = list(d["hist_log2"])
    while h2 and not h2[-1]:
        h2.pop()
    if loglin_to_log2(hl) != h2:
        raise ResultsError(f"{where}: hist_log2 is not the log2 view of hist_loglin")
    if d.get("pct_method") == "hist_loglin_upper":
        for key, q in LOGLIN_PCTS:
            want = hist_loglin_percentile(hl, q)
            if d[key] != want and not (want is None and d["count"] == 0):
                raise ResultsError(f"{where}: {key} = {d[key]} but its hist_loglin gives "
                                   f"{want}")


def key_names(header: str = None) -> Dict[str, tuple]:
    """The histogram key dimensions {"sync": names, "io": names, "compr": names}, from the
    one definition both the tracer and this schema read (WB_KSYNCS, WB_KIOS, WB_KCOMPRS in
    bpf/wbtrace.h; SCHEMA.md section 3 "metrics_by_key")."""
    with open(header or WBTRACE_H) as f:
        text = f.read()
    out = {}
    for dim, macro in (("sync", "WB_KSYNCS"), ("io", "WB_KIOS"), ("compr", "WB_KCOMPRS")):
        m = re.search(rf"#define {macro}\(X\)([^\n]*)", text)
        names = tuple(re.findall(r'X\(\s*\w+,\s*"([a-z_]+)"\)', m.group(1) if m else ""))
        if not names:
            raise WbtraceError(f"{header or WBTRACE_H}: no {macro} table")
        out[dim] = names
    return out


def _validate_by_key(mk, metrics: dict, path: str) -> None:
    """Optional "metrics_by_key" (SCHEMA.md section 3): {metric: {"sync/io/compr": {DIST}}},
    keys made of the names of bpf/wbtrace.h; a metric's keyed counts sum to its count in
    "metrics" (absent keys had no sample)."""
    where = f"{path} metrics_by_key"
    if not isinstance(mk, dict):
        raise ResultsError(f"{where}: expected an object")
    dims = key_names()
    for name, keyed in mk.items():
        if not isinstance(keyed, dict):
            raise ResultsError(f"{where}.{name}: expected an object of keys")
        for key, d in keyed.items():
            parts = key.split("/")
            if len(parts) != 3 or any(p not in dims[dim] for p, dim in
                                      zip(parts, ("sync", "io", "compr"))):
                raise ResultsError(f"{where}.{name}: key \"{key}\" is not sync/io/compr "
                                   f"({'|'.join(dims['sync'])}/{'|'.join(dims['io'])}/"
                                   f"{'|'.join(dims['compr'])})")
            validate_dist(d, path, f"metrics_by_key.{name}.{key}")
        total = sum(d["count"] for d in keyed.values())
        if name in metrics and metrics[name]["count"] != total:
            raise ResultsError(f"{where}.{name}: the keys' counts sum to {total} but "
                               f"metrics.{name}.count = {metrics[name]['count']}")


def validate_summary(s, path: str = SUMMARY_FILE) -> dict:
    check_schema(s, TRACE_SCHEMA, path)
    _validate_probes(_need(s, "probes", dict, path), path)
    for key in ("drops", "events"):
        v = _need(s, key, int, path)
        if v < 0:
            raise ResultsError(f"{path}: {key} must be >= 0")
    if "valid" in s and not isinstance(s["valid"], bool):
        raise ResultsError(f"{path}: \"valid\" must be true or false")
    m = _need(s, "metrics", dict, path)
    for name, d in m.items():
        if name == "compress":
            _validate_compress(d, path)
        else:
            validate_dist(d, path, name)
    if "metrics_by_key" in s:
        _validate_by_key(s["metrics_by_key"], m, path)
    if "passes" in s:
        _validate_passes(s["passes"], path)
    if "bio_ends" in s:
        _validate_bio_ends(s["bio_ends"], path)
    return s


PASS_CLASSES = {"by_sync": ("none", "all"),
                "by_why": ("background", "kupdate", "sync", "fsync", "other"),
                "by_end": ("range_end", "budget", "priority_stop", "error")}


def _validate_passes(p, path: str) -> None:
    """Optional "passes" object (SCHEMA.md section 3): every class key present,
    each class set sums to total; by_end/none_nr_used_sum null iff not complete."""
    where = f"{path} passes"

    def count(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if not isinstance(p, dict) or not isinstance(p.get("complete"), bool) or not count(p.get("total")):
        raise ResultsError(f"{where}: needs \"total\" (integer >= 0) and \"complete\" (true/false)")
    for key, names in PASS_CLASSES.items():
        d = p.get(key)
        if key == "by_end" and d is None and not p["complete"]:
            continue
        if not isinstance(d, dict) or sorted(d) != sorted(names) or not all(map(count, d.values())):
            raise ResultsError(f"{where}.{key}: needs exactly {', '.join(names)} (integers >= 0)")
        if sum(d.values()) != p["total"]:
            raise ResultsError(f"{where}.{key}: sums to {sum(d.values())}, total is {p['total']}")
    g = p.get("none_nr_given")
    if not isinstance(g, dict) or not all(k in g for k in ("min", "max", "sum")):
        raise ResultsError(f"{where}.none_nr_given: needs min, max, sum")
    if p["complete"] != (p.get("none_nr_used_sum") is not None):
        raise ResultsError(f"{where}: none_nr_used_sum must be null exactly when complete is false")


WBTRACE_H = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "bpf", "wbtrace.h")


def bio_end_causes(header: str = WBTRACE_H) -> Dict[str, str]:
    """Why a cached write bio ended: {json name: meaning}, in order, from the
    one table both the tracer and this schema read (WB_BIO_ENDS in
    bpf/wbtrace.h; SCHEMA.md section 3 "bio_ends")."""
    with open(header) as f:
        text = f.read()
    m = re.search(r"#define WB_BIO_ENDS\(X\)(.*?)\n\n", text, re.S)
    causes = dict(re.findall(r'X\(\s*\w+,\s*"([a-z_]+)",\s*"((?:[^"\\]|\\.)*)"\)',
                             m.group(1) if m else ""))
    if not causes:
        raise WbtraceError(f"{header}: no WB_BIO_ENDS table")
    return causes


BIO_END_CAUSES = tuple(bio_end_causes())


def _validate_bio_ends(b, path: str) -> None:
    """Optional "bio_ends" object (SCHEMA.md section 3): pages null or all
    counts; by_end null or exactly the causes of WB_BIO_ENDS plus "unknown",
    each {bios, inferred <= bios, pages: {DIST} with count == bios}, summing
    to stream_bios; complete only when neither is null."""
    where = f"{path} bio_ends"

    def count(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if not isinstance(b, dict) or not isinstance(b.get("complete"), bool) or not all(
            count(b.get(k)) for k in ("stream_bios", "stream_pages")):
        raise ResultsError(f"{where}: needs \"complete\" (true/false), \"stream_bios\" and "
                           f"\"stream_pages\" (integers >= 0)")
    pages, by_end = b.get("pages"), b.get("by_end")
    if pages is not None:
        keys = ("new", "merged", "unknown", "data_new", "data_merged")
        if not isinstance(pages, dict) or not all(count(pages.get(k)) for k in keys):
            raise ResultsError(f"{where}.pages: needs {', '.join(keys)} (integers >= 0) or null")
    if by_end is not None:
        names = BIO_END_CAUSES + ("unknown",)
        if not isinstance(by_end, dict) or sorted(by_end) != sorted(names):
            raise ResultsError(f"{where}.by_end: needs exactly {', '.join(names)} (or null)")
        for name, v in by_end.items():
            if not isinstance(v, dict) or not count(v.get("bios")) or not count(v.get("inferred")) \
                    or v["inferred"] > v["bios"]:
                raise ResultsError(f"{where}.by_end.{name}: needs bios and inferred <= bios "
                                   f"(integers >= 0)")
            d = validate_dist(v.get("pages"), path, f"bio_ends.by_end.{name}.pages")
            if d["count"] != v["bios"]:
                raise ResultsError(f"{where}.by_end.{name}: pages.count {d['count']} but "
                                   f"bios {v['bios']}")
        total = sum(v["bios"] for v in by_end.values())
        if total != b["stream_bios"]:
            raise ResultsError(f"{where}.by_end: sums to {total} bios, stream_bios is "
                               f"{b['stream_bios']}")
    if b["complete"] != (pages is not None and by_end is not None):
        raise ResultsError(f"{where}: complete must be true exactly when pages and by_end "
                           f"are not null")


def _validate_compress(c, path: str) -> None:
    where = f"{path} metrics.compress"
    if not isinstance(c, dict):
        raise ResultsError(f"{where}: expected an object")
    for key in ("clusters", "raw_bytes", "compressed_bytes"):
        v = c.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ResultsError(f"{where}: {key} must be an integer >= 0")
    r = c.get("ratio")
    if r is not None and not _is_num(r):
        raise ResultsError(f"{where}: ratio must be a number or null")


def validate_fio(doc, path: str = FIO_FILE) -> dict:
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list) or not doc["jobs"]:
        raise ResultsError(f"{path}: not fio JSON output (no \"jobs\" list); "
                           f"run fio with --output-format=json+")
    for i, j in enumerate(doc["jobs"]):
        if not isinstance(j, dict) or not isinstance(j.get("write"), dict):
            raise ResultsError(f"{path}: jobs[{i}] has no \"write\" section")
        if j.get("error", 0):
            raise ResultsError(f"{path}: fio job {j.get('jobname', i)} failed "
                               f"(error {j.get('error')})")
    return doc


def validate_cmp(doc, path: str = CMP_FILE) -> dict:
    check_schema(doc, CMP_SCHEMA, path)
    _need(doc, "cmp_id", str, path)
    _need(doc, "workload", str, path)
    b = _need(doc, "baseline", str, path)
    c = _need(doc, "candidate", str, path)
    runs = _need(doc, "runs", dict, path)
    for v in (b, c):
        if v not in runs:
            raise ResultsError(f"{path}: runs has no entry for variant \"{v}\"")
    for v, lst in runs.items():
        if not isinstance(lst, list) or not all(isinstance(p, str) for p in lst):
            raise ResultsError(f"{path}: runs.{v} must be a list of relative paths")
        for p in lst:
            if os.path.isabs(p) or ".." in p.split("/"):
                raise ResultsError(f"{path}: run path \"{p}\" must stay inside the comparison dir")
    if "until_decided" in doc and not isinstance(doc["until_decided"], dict):
        raise ResultsError(f"{path}: until_decided must be an object (see SCHEMA.md §6)")
    return doc


# ----------------------------------------------------------------------------- loading

@dataclass
class Run:
    path: str
    meta: dict
    fio: dict
    summary: Optional[dict]
    guest_cpu: Optional[dict] = None

    @property
    def run_id(self) -> str:
        return self.meta["run_id"]

    @property
    def variant(self) -> str:
        return self.meta["variant"]

    def file(self, rel: str) -> Optional[str]:
        p = os.path.join(self.path, rel)
        return p if os.path.exists(p) else None

    @property
    def stacks_path(self) -> Optional[str]:
        return self.file(STACKS_FILE)

    @property
    def events_path(self) -> Optional[str]:
        return self.file(EVENTS_FILE)


@dataclass
class Group:
    """The reps of one side of a comparison (one variant)."""
    label: str
    runs: List[Run] = field(default_factory=list)
    source: str = ""

    @property
    def variant(self) -> str:
        return self.runs[0].variant if self.runs else "?"


def is_run_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, META_FILE))


def is_cmp_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, CMP_FILE))


def load_run(path: str) -> Run:
    if not os.path.isdir(path):
        raise ResultsError(f"{path}: no such result directory")
    meta = validate_meta(load_json(os.path.join(path, META_FILE), "run metadata"),
                         os.path.join(path, META_FILE))
    fio_path = os.path.join(path, FIO_FILE)
    fio = validate_fio(load_json(fio_path, "fio --output-format=json+ output"), fio_path)
    sp = os.path.join(path, SUMMARY_FILE)
    summary = None
    if os.path.exists(sp):
        summary = validate_summary(load_json(sp, "tracer summary"), sp)
        sv = summary.get("variant")
        if sv and sv != meta["variant"]:
            raise ResultsError(f"{sp}: traced variant \"{sv}\" but meta.json says "
                               f"\"{meta['variant']}\" (results written to the wrong dir?)")
    elif meta["tracer"]["mode"] != "off":
        raise ResultsError(f"{sp}: missing, but meta.json says tracer mode "
                           f"\"{meta['tracer']['mode']}\"")
    cp = os.path.join(path, GUEST_CPU_FILE)
    guest_cpu = None
    if os.path.exists(cp):
        guest_cpu = validate_guest_cpu(load_json(cp, "guest CPU over the workload"), cp)
    return Run(path=path, meta=meta, fio=fio, summary=summary, guest_cpu=guest_cpu)


def validate_guest_cpu(c, path: str = GUEST_CPU_FILE) -> dict:
    """guest_cpu.json (SCHEMA.md section 2): busy CPU of the whole guest over the workload."""
    check_schema(c, GUEST_CPU_SCHEMA, path)
    for key in ("elapsed_ms", "busy_ms", "resolution_ms"):
        v = c.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ResultsError(f"{path}: {key} must be a number >= 0")
    n = c.get("cpus")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ResultsError(f"{path}: cpus must be an integer >= 1")
    if c["busy_ms"] > n * c["elapsed_ms"] + c["resolution_ms"]:
        raise ResultsError(f"{path}: busy_ms {c['busy_ms']} exceeds {n} CPUs x elapsed_ms "
                           f"{c['elapsed_ms']}")
    return c


def load_cmp(path: str) -> dict:
    p = os.path.join(path, CMP_FILE)
    return validate_cmp(load_json(p, "comparison description"), p)


def split_spec(spec: str):
    """'DIR:variant' → (DIR, variant) when DIR exists and the suffix names a variant."""
    if ":" in spec and not os.path.exists(spec):
        base, _, sel = spec.rpartition(":")
        if sel and os.path.exists(base):
            return base, sel
    return spec, None


def resolve(spec: str) -> List[Group]:
    """Turn a command-line result argument into groups of runs, one per variant.

    Accepts a run dir, a comparison dir, a dir of run dirs (children or grandchildren),
    optionally suffixed with ':VARIANT'. Order: baseline first for comparison dirs,
    otherwise stock, patched, host-other, then by name.
    """
    path, sel = split_spec(spec)
    path = os.path.normpath(path)
    if not os.path.exists(path):
        raise ResultsError(f"{path}: no such file or directory")
    if not os.path.isdir(path):
        raise ResultsError(f"{path}: not a directory (expected a run, rep or comparison dir)")
    groups: Dict[str, Group] = {}
    order: List[str] = []
    if is_run_dir(path):
        r = load_run(path)
        groups[r.variant] = Group(label=r.variant, runs=[r], source=path)
    elif is_cmp_dir(path):
        cmp = load_cmp(path)
        order = [cmp["baseline"], cmp["candidate"]]
        for v, rels in cmp["runs"].items():
            g = groups.setdefault(v, Group(label=v, source=path))
            for rel in rels:
                r = load_run(os.path.join(path, rel))
                if r.variant != v:
                    raise ResultsError(f"{r.path}: variant \"{r.variant}\" but cmp.json lists "
                                       f"it under \"{v}\"")
                g.runs.append(r)
    else:
        run_dirs = []
        for name in sorted(os.listdir(path)):
            c = os.path.join(path, name)
            if not os.path.isdir(c):
                continue
            if is_run_dir(c):
                run_dirs.append(c)
            else:
                run_dirs.extend(os.path.join(c, n) for n in sorted(os.listdir(c))
                                if is_run_dir(os.path.join(c, n)))
        if not run_dirs:
            raise ResultsError(f"{path}: no {META_FILE} here or in its subdirectories: "
                               f"not a wbtrace result (see analysis/SCHEMA.md)")
        for c in run_dirs:
            r = load_run(c)
            groups.setdefault(r.variant, Group(label=r.variant, source=path)).runs.append(r)
    for g in groups.values():
        g.runs.sort(key=lambda r: (r.meta["rep"], r.run_id))
    if sel is not None:
        if sel not in groups:
            raise ResultsError(f"{path}: has no runs of variant \"{sel}\" "
                               f"(found: {', '.join(sorted(groups)) or 'none'})")
        g = groups[sel]
        g.source = spec
        return [g]
    dup = duplicate_runs(groups.values())
    if dup:
        raise ResultsError(f"{spec}: {dup}")
    rank = {v: i for i, v in enumerate(order or VARIANTS)}
    keys = sorted(groups, key=lambda v: (rank.get(v, len(rank)), v))
    out = [groups[k] for k in keys if groups[k].runs]
    if not out:
        raise ResultsError(f"{path}: comparison dir lists no runs")
    return out


def duplicate_runs(groups) -> Optional[str]:
    """A run dir (by realpath) or a run_id listed twice, in one side or across the sides,
    would count one measurement as several reps: name the first such duplicate."""
    seen_path: Dict[str, str] = {}
    seen_id: Dict[str, str] = {}
    for g in groups:
        for r in g.runs:
            rp = os.path.realpath(r.path)
            if rp in seen_path:
                return (f"duplicate run dir: {r.path} and {seen_path[rp]} are the same "
                        f"directory ({rp})")
            if r.run_id in seen_id:
                return (f"duplicate run_id \"{r.run_id}\": {seen_id[r.run_id]} and {r.path}")
            seen_path[rp] = r.path
            seen_id[r.run_id] = r.path
    return None


def resolve_one(spec: str) -> Group:
    gs = resolve(spec)
    if len(gs) != 1:
        raise ResultsError(f"{spec}: holds several variants ({', '.join(g.label for g in gs)}); "
                           f"pick one with {spec}:VARIANT")
    return gs[0]


def resolve_pair(specs: List[str]):
    """One spec with exactly two variants, or two specs with one variant each."""
    if len(specs) == 1:
        gs = resolve(specs[0])
        if len(gs) != 2:
            raise ResultsError(f"{specs[0]}: need exactly two variants to compare, found "
                               f"{len(gs)} ({', '.join(g.label for g in gs)}); "
                               f"give two result paths instead")
        return gs[0], gs[1]
    if len(specs) == 2:
        a, b = resolve_one(specs[0]), resolve_one(specs[1])
        dup = duplicate_runs([a, b])
        if dup:
            raise ResultsError(f"baseline and candidate share runs: {dup}")
        if a.label == b.label:
            a.label, b.label = f"A:{a.label}", f"B:{b.label}"
        return a, b
    raise WbtraceError("give one comparison dir, or two result paths (baseline candidate)")


# ----------------------------------------------------------------------------- writer side

def host_info() -> dict:
    info = {"hostname": socket.gethostname(), "cpus": os.cpu_count(),
            "machine": platform.machine()}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_bytes"] = int(line.split()[1]) * 1024
                    break
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def git_info(repo: Optional[str] = None) -> dict:
    repo = repo or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        rev = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        st = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True, timeout=10)
        revision = rev.stdout.strip() if rev.returncode == 0 else None
        return {"revision": revision or None,
                "dirty": bool(st.stdout.strip()) if st.returncode == 0 else None}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def make_run_id(workload: str, variant: str, rep: Optional[int] = None,
                stamp: Optional[str] = None) -> str:
    rid = f"{workload}-{variant}-{stamp or utc_stamp()}"
    return f"{rid}-r{rep:02d}" if rep is not None else rid


def new_meta(*, workload: str, variant: str, rep: int = 1, target: str = "vm",
             kernel_release: Optional[str] = None, mkfs_options: str = "",
             mount_options: str = "", tracer_mode: str = "summary",
             probes: Optional[dict] = None, drops: int = 0,
             started: Optional[str] = None, finished: Optional[str] = None,
             duration_s: float = 0.0, verify: Optional[dict] = None,
             run_id: Optional[str] = None, **extra) -> dict:
    """Build a meta.json dict with every required field. Unset verification steps are
    "skipped". Extra keyword arguments are merged in (e.g. workload_sha256=, notes=,
    kernel={...} to add module fields, host=..., git=...)."""
    ver = {s: "skipped" for s in VERIFY_STEPS}
    ver.update(verify or {})
    meta = {
        "schema": RUN_SCHEMA,
        "run_id": run_id or make_run_id(workload, variant, rep),
        "workload": workload,
        "variant": variant,
        "rep": rep,
        "target": target,
        "kernel": {"release": kernel_release or platform.release()},
        "f2fs": {"mkfs_options": mkfs_options, "mount_options": mount_options},
        "host": host_info(),
        "git": git_info(),
        "tracer": {"mode": tracer_mode},
        "probes": dict(probes or {}),
        "drops": drops,
        "started": started or utc_now(),
        "finished": finished or utc_now(),
        "duration_s": duration_s,
        "verify": ver,
    }
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(meta.get(k), dict):
            meta[k] = {**meta[k], **v}
        else:
            meta[k] = v
    return meta


def _write_valid(path: str, doc: dict, validate) -> str:
    """Validate DOC as the file PATH, then write it: nothing invalid reaches the disk."""
    validate(doc, path)
    write_json(path, doc)
    return path


def write_meta(run_dir: str, meta: dict) -> str:
    return _write_valid(os.path.join(run_dir, META_FILE), meta, validate_meta)


def write_summary(run_dir: str, summary: dict) -> str:
    return _write_valid(os.path.join(run_dir, SUMMARY_FILE), summary, validate_summary)


def rep_dir(cmp_dir: str, variant: str, rep: int) -> str:
    return os.path.join(cmp_dir, variant, f"rep-{rep:02d}")


def new_cmp(*, workload: str, baseline: str = "stock", candidate: str = "patched",
            reps: int, order: str = "interleaved", cmp_id: Optional[str] = None) -> dict:
    return {
        "schema": CMP_SCHEMA,
        "cmp_id": cmp_id or f"cmp-{workload}-{utc_stamp()}",
        "workload": workload,
        "baseline": baseline,
        "candidate": candidate,
        "reps": reps,
        "order": order,
        "created": utc_now(),
        "runs": {baseline: [f"{baseline}/rep-{i:02d}" for i in range(1, reps + 1)],
                 candidate: [f"{candidate}/rep-{i:02d}" for i in range(1, reps + 1)]},
    }


def run_order(cmp: dict, first: int, last: int) -> List[tuple]:
    """(variant, rep) for reps first..last of a comparison, in the order to run them:
    interleaved = A B, B A, A B, ... by rep number (neither variant always goes first, and
    reps added later continue the same pattern); blocked = all of A, then all of B."""
    a, b = cmp["baseline"], cmp["candidate"]
    reps = range(first, last + 1)
    if cmp.get("order", "interleaved") == "interleaved":
        return [(v, r) for r in reps for v in ((a, b) if r % 2 else (b, a))]
    return [(v, r) for v in (a, b) for r in reps]


def extend_cmp(cmp: dict, reps: int) -> List[tuple]:
    """List reps up to `reps` a side in cmp (its "reps" and "runs"); the (variant, rep)
    pairs added, in run order."""
    have = min(len(cmp["runs"][cmp["baseline"]]), len(cmp["runs"][cmp["candidate"]]))
    added = run_order(cmp, have + 1, reps)
    for v, r in added:
        cmp["runs"][v].append(f"{v}/rep-{r:02d}")
    cmp["reps"] = max(cmp.get("reps", 0), reps)
    return added


def write_cmp(cmp_dir: str, cmp: dict) -> str:
    return _write_valid(os.path.join(cmp_dir, CMP_FILE), cmp, validate_cmp)
