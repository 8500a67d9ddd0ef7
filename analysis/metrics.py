"""Per-run metrics: one number per metric per run, from fio.json and trace/summary.json.

Each metric has a direction (+1 higher is better, -1 lower is better, 0 no direction) and a
summary kind ("rate": harmonic mean across reps, tested on 1/x; "level": arithmetic mean).
"""

import math
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .schema import BLKTRACE_DIR, ResultsError, Run
from .stats import loglin_resolution, weighted_percentile

MiB = 1 << 20


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    direction: int          # +1 higher is better, -1 lower is better, 0 none
    kind: str               # "rate" or "level"
    doc: str


_DEFS = [
    Metric("fio.bw_MiBps", "MiB/s", +1, "rate", "write bandwidth, sum over jobs"),
    Metric("fio.iops", "IO/s", +1, "rate", "write IOPS, sum over jobs"),
    Metric("fio.clat_mean_us", "us", -1, "level", "fio completion latency, mean"),
    Metric("fio.clat_p50_us", "us", -1, "level", "fio completion latency, median"),
    Metric("fio.clat_p99_us", "us", -1, "level", "fio completion latency, 99th pct"),
    Metric("fio.clat_p99.9_us", "us", -1, "level", "fio completion latency, 99.9th pct"),
    Metric("fio.sys_cpu_ms_per_MiB", "ms/MiB", -1, "level",
           "system CPU of the fio processes per MiB written"),
    Metric("fio.usr_cpu_ms_per_MiB", "ms/MiB", -1, "level",
           "user CPU of the fio processes per MiB written"),
    Metric("sys.cpu_ms_per_MiB", "ms/MiB", -1, "level",
           "busy CPU of the whole guest (fio, flusher, kworkers, f2fs threads, interrupts) "
           "over the workload, per MiB written"),
    Metric("trace.folio_latency_mean_ns", "ns", -1, "level", "per-folio writeback time, mean"),
    Metric("trace.folio_latency_p50_ns", "ns", -1, "level", "per-folio writeback time, median"),
    Metric("trace.folio_latency_p90_ns", "ns", -1, "level", "per-folio writeback time, p90"),
    Metric("trace.folio_latency_p99_ns", "ns", -1, "level", "per-folio writeback time, p99"),
    Metric("trace.folio_latency_p999_ns", "ns", -1, "level", "per-folio writeback time, p99.9"),
    Metric("trace.bio_mean_bytes", "B", +1, "level", "mean merged write bio size"),
    Metric("trace.bio_p50_bytes", "B", +1, "level", "median write bio size"),
    Metric("trace.writepages_mean_ns", "ns", -1, "level", "->writepages pass duration, mean"),
    Metric("trace.writepages_p99_ns", "ns", -1, "level", "->writepages pass duration, p99"),
    Metric("trace.writepages_ms_per_MiB", "ms/MiB", -1, "level",
           "time inside ->writepages per MiB the workload wrote (a call that writes nothing "
           "adds its few us, where it moves the mean per call)"),
    Metric("trace.bio_hot_pct", "%", 0, "level", "share of data bios of hot temperature"),
    Metric("trace.bio_warm_pct", "%", 0, "level", "share of data bios of warm temperature"),
    Metric("trace.bio_cold_pct", "%", 0, "level", "share of data bios of cold temperature"),
    Metric("trace.bio_ipu_pct", "%", 0, "level", "share of data bios that are in-place updates"),
    Metric("trace.compress_ratio", "x", +1, "level", "raw / compressed bytes"),
    Metric("trace.drops", "events", -1, "level", "ring-buffer events lost"),
    Metric("blk.q2c_avg_ms", "ms", -1, "level", "btt: queue to completion, mean (all devices)"),
    Metric("blk.d2c_avg_ms", "ms", -1, "level", "btt: driver to completion, mean (all devices)"),
]
METRICS: Dict[str, Metric] = {m.name: m for m in _DEFS}

_TRACE_DIST = {  # summary metric name -> (metric prefix, which fields)
    "folio_latency_ns": ("trace.folio_latency", "ns", ("mean", "p50", "p90", "p99", "p999")),
    "bio_bytes": ("trace.bio", "bytes", ("mean", "p50")),
    "writepages_ns": ("trace.writepages", "ns", ("mean", "p99")),
}

# Keyed histograms (summary.json "metrics_by_key", SCHEMA.md section 3) compare reads: the p99
# per key (sync/io/compr), named "<the metric's p99>[<key>]", e.g.
# "trace.folio_latency_p99_ns[none/opu/plain]", with the direction of the unkeyed metric.
KEYED_FIELDS = {"folio_latency_ns": ("p99",), "writepages_ns": ("p99",)}


def keyed_metric(name: str, field: str, key: str) -> str:
    prefix, unit, _ = _TRACE_DIST[name]
    return f"{prefix}_{field}_{unit}[{key}]"


# Times the tracer takes from inside the writeback loop: its own programs run
# within the measured interval, so two sides compare only when the same programs
# ran per folio.  writeback_iter()'s hand-out probe runs once per folio where the
# loop is writeback_iter() (patched) and never in the old loop (stock).
LOOP_TIMED_PREFIXES = ("trace.folio_latency_", "trace.writepages_")
HANDOUT_RATE_SLACK = 0.05   # hand-outs per folio written that count as "the same"


def loop_timed(name: str) -> bool:
    """True for a metric whose interval holds the tracer's per-folio programs."""
    return name.startswith(LOOP_TIMED_PREFIXES)


def handouts_per_folio(run: Run) -> Optional[float]:
    """Runs of the hand-out probe per folio written in a traced run (None: untraced, or
    nothing written, or the hand-out probe off)."""
    s = run.summary or {}
    c = s.get("counts") or {}
    if (s.get("probes") or {}).get("handout") in (None, "off"):
        return None
    written, handouts = c.get("folios_written"), c.get("handouts")
    if not written or handouts is None:
        return None
    return handouts / written


def known_metric(name: str) -> Optional[Metric]:
    """The Metric of a name the thresholds may use: one of METRICS, or a keyed percentile
    "<one of METRICS>[sync/io/compr]" (KEYED_FIELDS); None otherwise."""
    base, sep, key = name.partition("[")
    if name in METRICS or (sep and base in METRICS and key.endswith("]")
                           and key.count("/") == 2):
        return metric_info(name)
    return None


def metric_info(name: str) -> Metric:
    m = METRICS.get(name)
    if m is not None:
        return m
    base, sep, key = name.partition("[")
    if sep and base in METRICS and key.endswith("]"):      # a keyed percentile
        b = METRICS[base]
        return Metric(name, b.unit, b.direction, b.kind,
                      f"{b.doc}, samples of key {key[:-1]} (sync/io/compr)")
    unit = name.rsplit("_", 1)[-1] if "_" in name else ""
    return Metric(name, unit, 0, "level", "extra tracer metric (no direction)")


def _num(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ResultsError(f"{where}: expected a number, found {v!r}")
    return float(v)


def fio_write_jobs(run: Run) -> List[dict]:
    return [j["write"] for j in run.fio["jobs"]]


def fio_clat_bins(run: Run) -> Optional[Dict[int, int]]:
    """Merged json+ completion-latency bins {ns: count} over all jobs, or None."""
    where = f"{run.path}/fio.json"
    merged: Dict[int, int] = {}
    for w in fio_write_jobs(run):
        bins = (w.get("clat_ns") or {}).get("bins")
        if bins is None:
            return None
        if not isinstance(bins, dict):
            raise ResultsError(f"{where}: clat_ns.bins is not an object")
        for k, c in bins.items():
            try:
                v = int(k)
            except ValueError:
                raise ResultsError(f"{where}: clat_ns.bins key {k!r} is not a number") from None
            merged[v] = merged.get(v, 0) + int(_num(c, where))
    return merged


def _fio_metrics(run: Run) -> Dict[str, Optional[float]]:
    where = f"{run.path}/fio.json"
    out: Dict[str, Optional[float]] = {}
    jobs = run.fio["jobs"]
    writes = fio_write_jobs(run)
    bw = 0.0
    for w in writes:
        if "bw_bytes" in w:
            bw += _num(w["bw_bytes"], where + " write.bw_bytes")
        else:
            bw += _num(w.get("bw"), where + " write.bw") * 1024.0
    iops = sum(_num(w.get("iops"), where + " write.iops") for w in writes)
    io_bytes = sum(_num(w.get("io_bytes", 0), where + " write.io_bytes") for w in writes)
    out["fio.bw_MiBps"] = bw / MiB if io_bytes > 0 else None
    out["fio.iops"] = iops if io_bytes > 0 else None

    total_ios = sum(_num((w.get("clat_ns") or {}).get("N", 0), where + " clat_ns.N")
                    for w in writes)
    if total_ios > 0:
        out["fio.clat_mean_us"] = sum(
            _num(w["clat_ns"].get("mean", 0), where + " clat_ns.mean")
            * _num(w["clat_ns"].get("N", 0), where) for w in writes) / total_ios / 1000.0
        bins = fio_clat_bins(run)
        for q, key in ((50, "fio.clat_p50_us"), (99, "fio.clat_p99_us"),
                       (99.9, "fio.clat_p99.9_us")):
            if bins:
                v = weighted_percentile(bins.items(), q)
                out[key] = v / 1000.0 if v is not None else None
            elif len(writes) == 1:
                pct = writes[0]["clat_ns"].get("percentile") or {}
                v = pct.get(f"{q:.6f}")
                out[key] = _num(v, where + f" percentile {q}") / 1000.0 if v is not None else None
            else:
                out[key] = None  # several jobs and no json+ bins: percentiles do not add up
    else:
        for key in ("fio.clat_mean_us", "fio.clat_p50_us", "fio.clat_p99_us", "fio.clat_p99.9_us"):
            out[key] = None

    mib = io_bytes / MiB
    for field, key in (("sys_cpu", "fio.sys_cpu_ms_per_MiB"), ("usr_cpu", "fio.usr_cpu_ms_per_MiB")):
        if mib <= 0 or any(field not in j for j in jobs):
            out[key] = None
            continue
        cpu_ms = 0.0
        for j in jobs:
            rt = j.get("job_runtime", j["write"].get("runtime"))
            cpu_ms += _num(j[field], where + " " + field) / 100.0 * _num(rt, where + " job_runtime")
        out[key] = cpu_ms / mib
    return out


def _trace_metrics(run: Run) -> Dict[str, Optional[float]]:
    out: Dict[str, Optional[float]] = {}
    s = run.summary
    drops = run.meta["drops"]
    if s is None:
        out["trace.drops"] = float(drops)
        return out
    out["trace.drops"] = float(max(drops, s["drops"]))
    # Temperature and IPU shares of data bios: the series must not change
    # which log a folio goes to.  A run without data bios has no share.
    counts = s.get("counts") or {}
    n = counts.get("bios_data", 0)
    for key, metric in (("bios_data_hot", "trace.bio_hot_pct"),
                        ("bios_data_warm", "trace.bio_warm_pct"),
                        ("bios_data_cold", "trace.bio_cold_pct"),
                        ("bios_data_ipu", "trace.bio_ipu_pct")):
        if key in counts:
            out[metric] = 100.0 * _num(counts[key], f"counts.{key}") / n if n > 0 else None
    m = s["metrics"]
    for name, d in m.items():
        if name == "compress":
            out["trace.compress_ratio"] = (float(d["ratio"]) if d["clusters"] > 0
                                           and d.get("ratio") is not None else None)
            continue
        prefix, unit, fields = _TRACE_DIST.get(name, (f"trace.{name}", None, ("mean", "p99")))
        if unit is None:  # extra metric: keep its own suffix as unit
            base, _, unit = name.rpartition("_")
            prefix = f"trace.{base}" if base else prefix
            unit = unit if base else ""
        for f in fields:
            v = d.get(f) if d["count"] > 0 else None
            out[f"{prefix}_{f}_{unit}" if unit else f"{prefix}_{f}"] = \
                float(v) if v is not None else None
    for name, keyed in (s.get("metrics_by_key") or {}).items():
        for f in KEYED_FIELDS.get(name, ()):
            for key, d in keyed.items():
                v = d.get(f) if d["count"] > 0 else None
                out[keyed_metric(name, f, key)] = float(v) if v is not None else None
    wp = m.get("writepages_ns")
    if wp is not None:
        mib = _fio_mib(run)
        out["trace.writepages_ms_per_MiB"] = (_writepages_total_ns(wp) / 1e6 / mib
                                               if mib > 0 and wp["count"] > 0 else None)
    return out


def _writepages_total_ns(d: dict) -> float:
    """All ->writepages time of a run: the summary's exact `sum`, or count x mean where an
    older summary has no sum (the loader's mean is sum / count)."""
    if d.get("sum") is not None:
        return _num(d["sum"], "metrics.writepages_ns.sum")
    return d["count"] * _num(d["mean"], "metrics.writepages_ns.mean")


BTT_FILES = ("btt.avg", "btt.txt")


def parse_btt(text: str) -> Dict[str, float]:
    """{'Q2C': avg seconds, ...} from the first "All Devices" table of btt's report."""
    out: Dict[str, float] = {}
    in_all = False
    for line in text.splitlines():
        if line.startswith("====="):
            if in_all:
                break
            in_all = "All Devices" in line
            continue
        parts = line.split()
        if in_all and len(parts) == 5 and parts[0].isalnum() and parts[0] != "ALL":
            # btt takes virtio-blk (major 254 in the lab guest) for device-mapper
            # and labels its queue-to-completion row "Q2Cdm": same quantity.
            label = parts[0][:-2] if parts[0].endswith("dm") else parts[0]
            try:
                out.setdefault(label, float(parts[2]))
            except ValueError:
                continue
    return out


def _blk_metrics(run: Run) -> Dict[str, Optional[float]]:
    for name in BTT_FILES:
        p = run.file(os.path.join(BLKTRACE_DIR, name))
        if p:
            try:
                with open(p, "r", encoding="utf-8", errors="replace") as f:
                    t = parse_btt(f.read())
            except OSError as e:
                raise ResultsError(f"{p}: cannot read: {e}") from None
            return {"blk.q2c_avg_ms": t["Q2C"] * 1e3 if "Q2C" in t else None,
                    "blk.d2c_avg_ms": t["D2C"] * 1e3 if "D2C" in t else None}
    return {}


# ----------------------------------------------------------------------------- resolution

LOG2 = math.log(2.0)
FIO_PLAT_STEP = math.log1p(1.0 / 64)   # fio's clat histogram: 64 buckets per power of two


def _runtime_ms(run: Run) -> float:
    rts = []
    for j in run.fio["jobs"]:
        rt = j.get("job_runtime", (j.get("write") or {}).get("runtime"))
        if isinstance(rt, (int, float)) and not isinstance(rt, bool) and rt > 0:
            rts.append(float(rt))
    return min(rts) if rts else 1.0


def pct_method(d: dict) -> str:
    return d.get("pct_method") or "unspecified"


def run_resolutions(run: Run) -> Dict[str, Tuple[str, float]]:
    """How finely each metric of this run is measured: ("log", r) = a relative step,
    r = ln(next value / value) (log2-histogram percentiles: ln 2; fio's clat bins: ln(1+1/64);
    times derived from fio's millisecond runtime: ln(1 + 1 ms / runtime)), or ("abs", a) = an
    absolute step in the metric's unit (integer ns, bytes, events).  compare floors variances
    and widens intervals by it (stats.welch_floored), gate refuses limits finer than it."""
    res: Dict[str, Tuple[str, float]] = {}
    rt = ("log", math.log1p(1.0 / _runtime_ms(run)))
    for k in ("fio.bw_MiBps", "fio.iops", "fio.sys_cpu_ms_per_MiB", "fio.usr_cpu_ms_per_MiB"):
        res[k] = rt
    res["fio.clat_mean_us"] = ("abs", 0.001)
    for k in ("fio.clat_p50_us", "fio.clat_p99_us", "fio.clat_p99.9_us"):
        res[k] = ("log", FIO_PLAT_STEP)
    res["trace.drops"] = ("abs", 1.0)
    mib = _fio_mib(run)
    if run.guest_cpu is not None and mib > 0:
        res["sys.cpu_ms_per_MiB"] = ("abs", run.guest_cpu["resolution_ms"] / mib)
    res["blk.q2c_avg_ms"] = res["blk.d2c_avg_ms"] = ("abs", 1e-6)   # btt prints ns
    s = run.summary
    if s is None:
        return res
    n = (s.get("counts") or {}).get("bios_data", 0)
    for k in ("trace.bio_hot_pct", "trace.bio_warm_pct", "trace.bio_cold_pct",
              "trace.bio_ipu_pct"):
        res[k] = ("abs", 100.0 / n if n else 1.0)
    for name, d in s["metrics"].items():
        if name == "compress":
            res["trace.compress_ratio"] = ("log", 1e-6)
            continue
        prefix, unit, fields = _TRACE_DIST.get(name, (f"trace.{name}", None, ("mean", "p99")))
        if unit is None:
            base, _, unit = name.rpartition("_")
            prefix = f"trace.{base}" if base else prefix
            unit = unit if base else ""
        for f in fields:
            key = f"{prefix}_{f}_{unit}" if unit else f"{prefix}_{f}"
            if f == "mean":
                res[key] = ("abs", 1.0 / d["count"] if d["count"] else 1.0)
            else:
                res[key] = percentile_resolution(d)
    for name, keyed in (s.get("metrics_by_key") or {}).items():
        for f in KEYED_FIELDS.get(name, ()):
            for key, d in keyed.items():
                res[keyed_metric(name, f, key)] = percentile_resolution(d)
    if "writepages_ns" in s["metrics"] and mib > 0:
        res["trace.writepages_ms_per_MiB"] = ("abs", 1e-6 / mib)   # whole ns
    return res


def percentile_resolution(d: dict) -> Tuple[str, float]:
    """Step of a {DIST}'s percentiles: log-linear bucket upper bounds ln(1 + 2^-sub_bits)
    (3.1 % with the tracer's 5 bits), log2 slots ln 2 (100 %, older result sets), exact
    values 1 unit."""
    m = pct_method(d)
    if m == "hist_loglin_upper":
        return ("log", loglin_resolution(d["hist_loglin"]["sub_bits"]))
    if m.startswith("hist_log2"):
        return ("log", LOG2)
    return ("abs", 1.0)


def percentile_source(run: Run, name: str) -> Optional[str]:
    """How the percentile metric `name` of this run was derived, or None when it is not a
    percentile: "fio json+ bins", "fio percentile list", or the summary's pct_method."""
    if name.startswith("fio.clat_p"):
        return "fio json+ bins" if fio_clat_bins(run) else "fio percentile list"
    if not name.startswith("trace.") or run.summary is None:
        return None
    for sname, d in run.summary["metrics"].items():
        if sname == "compress":
            continue
        prefix = _TRACE_DIST.get(sname, (f"trace.{sname.rpartition('_')[0] or sname}",))[0]
        if name.startswith(prefix + "_p"):
            return pct_method(d)
    return None


def _fio_mib(run: Run) -> float:
    where = f"{run.path}/fio.json"
    return sum(_num(w.get("io_bytes", 0), where + " write.io_bytes")
               for w in fio_write_jobs(run)) / MiB


def _sys_metrics(run: Run) -> Dict[str, Optional[float]]:
    """Guest-wide CPU per MiB (guest_cpu.json), absent when the run did not record it."""
    c = run.guest_cpu
    if c is None:
        return {}
    mib = _fio_mib(run)
    return {"sys.cpu_ms_per_MiB": c["busy_ms"] / mib if mib > 0 else None}


def run_metrics(run: Run) -> Dict[str, Optional[float]]:
    """All metrics of one run; None = not measured in this run."""
    out = _fio_metrics(run)
    out.update(_sys_metrics(run))
    out.update(_trace_metrics(run))
    out.update(_blk_metrics(run))
    return out


def ordered_names(names) -> List[str]:
    known = [m.name for m in _DEFS if m.name in names]
    return known + sorted(n for n in names if n not in METRICS)


# ----------------------------------------------------------------------------- config checks

_FIO_JOB_KEYS = ("rw", "readwrite", "bs", "blocksize", "size", "filesize", "nrfiles", "numjobs",
                 "ioengine", "iodepth", "direct", "buffered", "fsync", "fdatasync", "end_fsync",
                 "sync", "runtime", "time_based", "io_size", "rate", "buffer_compress_percentage",
                 "buffer_compress_chunk", "refill_buffers", "verify", "file_service_type")


def fio_job_options(run: Run) -> Dict[str, str]:
    opts = {}
    g = run.fio.get("global options") or {}
    for k, v in g.items():
        if k in _FIO_JOB_KEYS:
            opts[k] = str(v)
    for j in run.fio["jobs"]:
        name = j.get("jobname", "?")
        for k, v in (j.get("job options") or {}).items():
            if k in _FIO_JOB_KEYS:
                opts[f"{name}.{k}"] = str(v)
    return opts


def config_fingerprint(run: Run) -> Dict[str, object]:
    """What must be equal for two runs to be comparable (see SCHEMA.md §2)."""
    m = run.meta
    fp = {
        "workload": m["workload"],
        "target": m["target"],
        "kernel.release": m["kernel"]["release"],
        "f2fs.mkfs_options": _norm_opts(m["f2fs"]["mkfs_options"]),
        "f2fs.mount_options": _norm_opts(m["f2fs"]["mount_options"]),
        "tracer.mode": m["tracer"]["mode"],
    }
    if m.get("workload_sha256"):
        fp["workload_sha256"] = m["workload_sha256"]
    for k, v in fio_job_options(run).items():
        fp[f"fio.{k}"] = v
    # Measurement conditions (issue 14): a KVM baseline against a TCG candidate, exact
    # against histogram percentiles, or another fio/tracer build is not a comparison.
    host = m.get("host") or {}
    fp["host.accel"] = host.get("accel", UNSET)
    fp["host.icount"] = host.get("icount") or "off"     # absent in older results = off
    fp["host.cpu_model"] = host.get("cpu_model", UNSET)
    fp["host.cpus"] = host.get("cpus", UNSET)
    fp["fio.version"] = run.fio.get("fio version", UNSET)
    fp["tracer.version"] = m["tracer"].get("version", UNSET)
    f2 = m["f2fs"]
    fp["f2fs.device_bytes"] = f2.get("device_bytes", UNSET)
    fp["f2fs.device_kind"] = f2.get("device_kind", UNSET)
    fp["f2fs.sysfs"] = _norm_map(f2.get("sysfs") or {})
    fp["f2fs.bdi"] = _norm_map(f2.get("bdi") or {})
    fp["pct_method.fio"] = ("none" if not any(w.get("clat_ns") for w in fio_write_jobs(run))
                            else "fio json+ bins" if fio_clat_bins(run) else
                            "fio percentile list")
    if run.summary is not None:
        fp["trace.mode"] = run.summary.get("mode", UNSET)
        for name, d in sorted(run.summary["metrics"].items()):
            if name != "compress":
                fp[f"pct_method.trace.{name}"] = pct_method(d)
    return fp


UNSET = "(unset)"

NOT_ATTACHED = ("off", "failed")


def build_fingerprint(run: Run) -> Dict[str, object]:
    """Fields that identify one variant's build: the f2fs module (sha256, GNU build id) and
    the probe modes (the converted loop has probe sites the old one lacks, and inlining may
    differ).  They must agree between the reps of a side, and between the two sides when
    both are the same variant (A/A); across variants only the modes of probes attached on
    both sides must agree (see compare.config_mismatch)."""
    fp: Dict[str, object] = {"kernel.f2fs_module_sha256":
                             run.meta["kernel"].get("f2fs_module_sha256", UNSET)}
    if run.summary is not None:
        fp["trace.module_build_id"] = run.summary.get("module_build_id") or UNSET
    for name, mode in run.meta["probes"].items():
        fp[f"probe.{name}"] = mode
    return fp


def _norm_map(d: dict) -> str:
    return ",".join(f"{k}={d[k]}" for k in sorted(d))


def _norm_opts(s: str) -> str:
    parts = [p for p in re.split(r"[,\s]+", s.strip()) if p]
    return ",".join(parts)


def mount_compress_config(run: Run):
    """(algorithm, cluster_pages) from the summary, else from the mount options."""
    s = run.summary
    c = (s or {}).get("metrics", {}).get("compress") if s else None
    alg = c.get("algorithm") if c else None
    pages = c.get("cluster_pages") if c else None
    opts = dict(p.split("=", 1) for p in _norm_opts(run.meta["f2fs"]["mount_options"]).split(",")
                if "=" in p)
    if alg is None:
        alg = opts.get("compress_algorithm")
        if alg and ":" in alg:
            alg = alg.split(":")[0]
    if pages is None and "compress_log_size" in opts:
        try:
            pages = 1 << int(opts["compress_log_size"])
        except ValueError:
            pages = None
    return alg or "?", pages


def summary_hist(run: Run, name: str) -> Optional[List[int]]:
    if run.summary is None:
        return None
    d = run.summary["metrics"].get(name)
    if not d or name == "compress" or d["count"] == 0:
        return None
    return d["hist_log2"]


def summary_hist_loglin(run: Run, name: str) -> Optional[dict]:
    """The metric's hist_loglin (3 % buckets) when the run has one, else None
    (result sets from before it carry hist_log2 only)."""
    if run.summary is None:
        return None
    d = run.summary["metrics"].get(name)
    if not d or name == "compress" or d["count"] == 0:
        return None
    return d.get("hist_loglin")
