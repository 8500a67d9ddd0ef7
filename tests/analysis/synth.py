"""Synthetic wbtrace result dirs in the real schema (written through analysis.schema), from a
seeded RNG, so tests know the right answer."""

import json
import math
import os
import random

from analysis import schema
from analysis.stats import dist_from_values, hist_log2_percentile, hist_loglin_percentile

MiB = 1 << 20
BS = 64 * 1024


def fio_doc(*, bw_mibps: float, clat_ns, sys_ms_per_mib: float = 2.0,
            usr_ms_per_mib: float = 0.5, io_bytes: int = 256 * MiB, options=None,
            version: str = "fio-3.33") -> dict:
    """A fio --output-format=json+ document with exact bandwidth and CPU per MiB and the
    given per-IO completion latencies (which become json+ bins)."""
    runtime_ms = io_bytes / (bw_mibps * MiB) * 1000.0
    bins = {}
    for v in clat_ns:
        bins[str(int(v))] = bins.get(str(int(v)), 0) + 1
    srt = sorted(int(v) for v in clat_ns)
    pct = {}
    for q in (1, 5, 10, 50, 90, 99, 99.5, 99.9, 99.95):
        rank = max(1, math.ceil(q / 100 * len(srt) - 1e-9))
        pct[f"{q:.6f}"] = srt[rank - 1]
    mib = io_bytes / MiB
    return {
        "fio version": version,
        "jobs": [{
            "jobname": "w", "groupid": 0, "error": 0,
            "job options": dict(options or {"rw": "write", "bs": "64k", "size": "256M",
                                             "ioengine": "psync", "end_fsync": "1"}),
            "write": {
                "io_bytes": io_bytes, "io_kbytes": io_bytes // 1024,
                "bw_bytes": int(round(bw_mibps * MiB)), "bw": int(round(bw_mibps * 1024)),
                "iops": bw_mibps * MiB / BS, "runtime": int(round(runtime_ms)),
                "total_ios": len(srt),
                "clat_ns": {"min": srt[0], "max": srt[-1], "mean": sum(srt) / len(srt),
                            "stddev": 0.0, "N": len(srt), "percentile": pct, "bins": bins},
            },
            "job_runtime": runtime_ms,
            "usr_cpu": usr_ms_per_mib * mib / runtime_ms * 100.0,
            "sys_cpu": sys_ms_per_mib * mib / runtime_ms * 100.0,
        }],
    }


def summary_doc(rng: random.Random, *, lat_scale: float = 1.0, bio_kib: float = 256.0,
                ratio: float = 2.5, drops: int = 0, n_folio: int = 2000,
                pct_method: str = "exact", folio=None, handouts_per_folio=None) -> dict:
    """pct_method "hist_loglin_upper": percentiles are log-linear bucket upper bounds, as the
    loader's hist mode writes them; "hist_log2_upper"/"_interp": log2 slots, as older loaders
    wrote them (no hist_loglin).  `folio`: the per-folio latencies (default: lognormal around 4 us).
    handouts_per_folio: the hand-out probe on, with this many runs per folio written."""
    if folio is None:
        folio = [int(rng.lognormvariate(math.log(4000 * lat_scale), 0.5)) for _ in range(n_folio)]
    bios = [max(4096, int(rng.gauss(bio_kib * 1024, bio_kib * 102.4)) // 4096 * 4096)
            for _ in range(300)]
    wp = [int(rng.lognormvariate(math.log(3e6 * lat_scale), 0.3)) for _ in range(200)]
    clusters = 1000
    raw = clusters * 4 * 4096
    comp = int(raw / ratio)
    dists = {"folio_latency_ns": dist_from_values(folio),
             "bio_bytes": dist_from_values(bios, unit="bytes"),
             "writepages_ns": dist_from_values(wp)}
    if pct_method == "hist_loglin_upper":
        for d in dists.values():
            d["pct_method"] = pct_method
            for q, k in ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p999")):
                d[k] = hist_loglin_percentile(d["hist_loglin"], q)
    elif pct_method != "exact":
        how = "upper" if pct_method == "hist_log2_upper" else "interp"
        for d in dists.values():
            d["pct_method"] = pct_method
            del d["hist_loglin"]
            for q, k in ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p999")):
                d[k] = hist_log2_percentile(d["hist_log2"], q, how)
    doc = {
        "schema": schema.TRACE_SCHEMA,
        "kernel": "7.3.4-wbtrace",
        "module_build_id": None,
        "probes": {"folio": "fentry", "writepages": "fexit", "bio": "tracepoint",
                   "compress": "tracepoint"},
        "drops": drops,
        "events": n_folio + len(bios) + len(wp),
        "metrics": {
            **dists,
            "compress": {"clusters": clusters, "raw_bytes": raw, "compressed_bytes": comp,
                         "ratio": raw / comp, "not_compressed": 0},
        },
    }
    if handouts_per_folio is not None:
        doc["probes"]["handout"] = "fexit"
        doc["counts"] = {"folios_written": len(folio),
                         "handouts": round(handouts_per_folio * len(folio))}
    return doc


def make_run(run_dir: str, *, workload="seqwrite", variant="stock", rep=1, bw_mibps=100.0,
             clat_ns=None, sys_ms_per_mib=2.0, rng=None, lat_scale=1.0, bio_kib=256.0,
             ratio=2.5, drops=0, verify=None, tracer_mode="summary", stacks=None,
             mount_options="compress_algorithm=lz4,compress_log_size=2",
             kernel_release="7.3.4-wbtrace", fio_options=None, events=None, meta_extra=None,
             fio_version="fio-3.33", pct_method="exact", folio=None,
             guest_cpu_ms_per_mib=None, handouts_per_folio=None) -> str:
    """meta_extra: more meta.json fields, dicts merged into the defaults (host={"accel":
    "kvm"}, tracer={"version": ...}, f2fs={"device_bytes": ...}, run_id=...)."""
    rng = rng or random.Random(rep)
    if clat_ns is None:
        clat_ns = [int(rng.lognormvariate(math.log(20000 * lat_scale), 0.4)) for _ in range(400)]
    os.makedirs(run_dir, exist_ok=True)
    kw = dict(
        workload=workload, variant=variant, rep=rep, target="vm", kernel_release=kernel_release,
        mkfs_options="-f -O extra_attr,compression", mount_options=mount_options,
        tracer_mode=tracer_mode, probes={} if tracer_mode == "off" else
        {"folio": "fentry", "bio": "tracepoint"}, drops=drops, duration_s=60.0,
        verify={s: "pass" for s in schema.VERIFY_STEPS} | (verify or {}),
        run_id=f"{workload}-{variant}-20251127T000000Z-r{rep:02d}",
        host={"hostname": "synth"}, git={"revision": "0" * 40, "dirty": False})
    for k, v in (meta_extra or {}).items():
        kw[k] = {**kw[k], **v} if isinstance(v, dict) and isinstance(kw.get(k), dict) else v
    meta = schema.new_meta(**kw)                # merges dicts such as f2fs= into its own
    schema.write_meta(run_dir, meta)
    with open(os.path.join(run_dir, schema.FIO_FILE), "w") as f:
        json.dump(fio_doc(bw_mibps=bw_mibps, clat_ns=clat_ns, sys_ms_per_mib=sys_ms_per_mib,
                          options=fio_options, version=fio_version), f)
    if tracer_mode != "off":
        schema.write_summary(run_dir, summary_doc(rng, lat_scale=lat_scale, bio_kib=bio_kib,
                                                  ratio=ratio, drops=drops,
                                                  pct_method=pct_method, folio=folio,
                                                  handouts_per_folio=handouts_per_folio))
    if guest_cpu_ms_per_mib is not None:
        io_mib = 256   # fio_doc's default io_bytes
        with open(os.path.join(run_dir, schema.GUEST_CPU_FILE), "w") as f:
            json.dump({"schema": schema.GUEST_CPU_SCHEMA, "source": "synth", "cpus": 2,
                       "elapsed_ms": 1e6, "busy_ms": guest_cpu_ms_per_mib * io_mib,
                       "idle_ms": 0.0, "iowait_ms": 0.0, "resolution_ms": 40.0}, f)
    if stacks is not None:
        with open(os.path.join(run_dir, schema.STACKS_FILE), "w") as f:
            f.write(stacks)
    if events is not None:
        with open(os.path.join(run_dir, schema.EVENTS_FILE), "w") as f:
            for ev in events:
                f.write(json.dumps(ev) + "\n")
    return run_dir


def make_cmp(cmp_dir: str, *, reps=5, seed=1, workload="seqwrite", base=None, cand=None,
             noise=0.02) -> str:
    """A comparison dir: `base`/`cand` are dicts of make_run arguments; bw and lat get
    `noise` relative Gaussian jitter per rep from a seeded RNG."""
    rng = random.Random(seed)
    base = dict(base or {})
    cand = dict(cand or {})
    cmp = schema.new_cmp(workload=workload, reps=reps, cmp_id="cmp-test")
    for variant, kw in (("stock", base), ("patched", cand)):
        for rep in range(1, reps + 1):
            k = dict(kw)
            k["bw_mibps"] = k.get("bw_mibps", 100.0) * (1 + rng.gauss(0, noise))
            k["lat_scale"] = k.get("lat_scale", 1.0) * (1 + rng.gauss(0, noise))
            k["sys_ms_per_mib"] = k.get("sys_ms_per_mib", 2.0) * (1 + rng.gauss(0, noise))
            if k.get("guest_cpu_ms_per_mib") is not None:
                k["guest_cpu_ms_per_mib"] *= 1 + rng.gauss(0, noise)
            make_run(schema.rep_dir(cmp_dir, variant, rep), workload=workload,
                     variant=variant, rep=rep, rng=random.Random(rng.random()), **k)
    schema.write_cmp(cmp_dir, cmp)
    return cmp_dir


STACKS_A = """\
f2fs_write_data_pages;f2fs_write_cache_pages;f2fs_write_single_data_page;f2fs_do_write_data_page 600
f2fs_write_data_pages;f2fs_write_cache_pages;f2fs_write_single_data_page;f2fs_balance_fs 100
f2fs_write_data_pages;f2fs_write_cache_pages;filemap_get_folios_tag 200
f2fs_write_data_pages;blk_finish_plug 100
"""

STACKS_B = """\
f2fs_write_data_pages;f2fs_write_cache_folios;writeback_iter;folio_prepare_writeback 150
f2fs_write_data_pages;f2fs_write_cache_folios;f2fs_write_single_data_page;f2fs_do_write_data_page 300
f2fs_write_data_pages;blk_finish_plug 50
"""
