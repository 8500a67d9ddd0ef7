"""The checks of trace-e2e.sh: what the tracer reported against ground truth
that does not come from it, one "ok"/"FAIL" line per check.

  trace_e2e.py stream DIR VARIANT SIZE INO_PLAIN INO_TEXT DISK_BYTES CW CS
      stream mode output DIR of a copy of a plain and a compressed text file of
      SIZE bytes each; DISK_BYTES: /proc/diskstats bytes written meanwhile;
      CW, CS: the compr_written_block / compr_saved_block sysfs deltas
  trace_e2e.py filtered SUMMARY SIZE LABEL
      hist/fallback run filtered on one inode into which SIZE bytes were written
  trace_e2e.py drops SUMMARY
      a run whose ring buffer overflowed while 4 MiB were written

Exit status 1 if a check failed.
"""
import json
import os
import sys

from tracecheck import Checks, load

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DROPS_BYTES = 4 << 20


def check_stream(check, s, ev, variant, size, ino_p, ino_t, disk_bytes, cw, cs):
    c = s["counts"]
    check(s["valid"] and s["drops"] == 0, "run valid, no drops", s["drops"], 0)
    # a site the verifier rejected in every mode leaves its probe half attached (the
    # compress probe without its end tracepoint once gave every cluster clen 0)
    rejected = [p["target"] for p in s.get("probe_sites", []) if p["status"] == "failed"]
    check(not rejected, "no probe site rejected by the verifier", rejected, [])
    check(s["events"] == len(ev), "events in summary == lines in events.jsonl", s["events"], len(ev))
    fo = [e for e in ev if e["k"] == "folio"]
    plain = [e for e in fo if e["ino"] == ino_p]
    wr = [e for e in plain if e["outcome"] == "written"]
    check(sum(e["size"] for e in wr) == size, "plain file: written folios x size == file size",
          sum(e["size"] for e in wr), size)
    check(len({e["idx"] for e in wr}) == size // 4096, "plain file: distinct folio indexes",
          len({e["idx"] for e in wr}), size // 4096)
    check(c["folio_bytes_written"] == sum(e["size"] for e in fo if e["outcome"] == "written"),
          "kernel counter == stream sum (folio bytes)", c["folio_bytes_written"],
          sum(e["size"] for e in fo if e["outcome"] == "written"))
    allbio = sum(s["bio"][t]["bytes"] for t in s["bio"])
    check(allbio == disk_bytes, "all f2fs write bios == /proc/diskstats sectors x 512", allbio, disk_bytes)
    cm = [e for e in ev if e["k"] == "cmp"]
    cblocks = sum(e["cblocks"] for e in cm if e["outcome"] == "compressed")
    check(s["bio"]["data"]["bytes"] == c["folio_bytes_written"] + 4096 * cblocks,
          "data bios == written folios + compressed blocks", s["bio"]["data"]["bytes"],
          c["folio_bytes_written"] + 4096 * cblocks)
    check(c["compr_written_block"] == cw, "compr_written_block", c["compr_written_block"], cw)
    check(c["compr_saved_block"] == cs, "compr_saved_block", c["compr_saved_block"], cs)
    tcm = [e for e in cm if e["ino"] == ino_t]
    check(sum(e["nr_rpages"] for e in tcm) == size // 4096, "compressed file: pages gathered in clusters",
          sum(e["nr_rpages"] for e in tcm), size // 4096)
    r = s["metrics"]["compress"]["ratio"]
    check(r is not None and r > 1.5, "compression ratio of text > 1.5", r, "> 1.5")
    wp = [e for e in ev if e["k"] == "wp" and e["ino"] == ino_p]
    check(sum(e["written"] for e in wp) == size // 4096, "writepages passes: folios written (plain)",
          sum(e["written"] for e in wp), size // 4096)
    lat = s["metrics"]["folio_latency_ns"]
    check(lat["count"] > 0 and lat["pct_method"] == "exact" and lat["p50"] <= lat["p99"] <= lat["max"],
          "folio latency percentiles exact and ordered", (lat["p50"], lat["p99"], lat["max"]), "ordered")
    # writeback_iter() hand-outs: the patched loop gets every folio from it, the
    # old loop never calls it (and nothing else on this f2fs does).  The probe is
    # on writeback_iter() in vmlinux, so it attaches on both variants.
    ho = [e for e in plain if e["handout_ns"]]   # null (or 0) without a hand-out
    check(s["probes"]["handout"] != "off", "handout probe attached", s["probes"]["handout"], "not off")
    if variant == "patched":
        check(c["handouts"] > 0, "writeback_iter hand-outs counted (patched loop)", c["handouts"], "> 0")
        check(len(ho) == len(wr) > 0, "writeback_iter hand-outs seen for every written plain folio",
              len(ho), len(wr))
    elif variant == "stock":
        check(c["handouts"] == 0 and not ho, "no writeback_iter hand-outs on f2fs (old loop)",
              (c["handouts"], len(ho)), (0, 0))
    else:
        check(False, "WBTRACE_VARIANT is stock or patched", variant, "stock|patched")
    check_keyed_stream(check, s, ev, ino_p, ino_t)
    print("  probes:", s["probes"])
    print("  compress:", s["metrics"]["compress"], {k: c.get(k) for k in (
        "clusters", "clusters_compress_tried", "clusters_compressed", "cluster_compressed_bytes")})
    print("  folio_latency_ns p50/p90/p99/p99.9:", lat["p50"], lat["p90"], lat["p99"], lat["p999"])
    print("  bio_bytes mean:", s["metrics"]["bio_bytes"]["mean"], " bios:", s["bio"]["data"])


def record_samples(ev):
    """{keyed metric: {key: [values]}} recomputed from the records alone, by the rule of
    analysis/SCHEMA.md section 3 "metrics_by_key": sync of the pass (a folio or cluster
    record's "sync", null = "na"), io of a folio's own write, gap and cycle ("na" for a pass,
    its set-up and a cluster), compr of the inode."""
    out = {}

    def add(metric, sync, io, compr, v):
        key = f"{sync or 'na'}/{io or 'na'}/{'compr' if compr else 'plain'}"
        out.setdefault(metric, {}).setdefault(key, []).append(v)

    for e in ev:
        if e["k"] == "wp" and not e["no_exit"]:
            add("writepages_ns", e["sync"], None, e["compr"], e["dur_ns"])
        elif e["k"] == "folio":
            if e["write_ns"] is not None:
                add("folio_write_ns", e["sync"], e["io"], e["compr"], e["write_ns"])
            if e["lat_ns"] is not None:
                add("folio_latency_ns", e["sync"], e["io"], e["compr"], e["lat_ns"])
            if e["gap_ns"] is not None and e["write_ns"] is not None:
                if e["first"]:
                    add("pass_setup_ns", e["sync"], None, e["compr"], e["gap_ns"])
                else:
                    add("folio_gap_ns", e["sync"], e["io"], e["compr"], e["gap_ns"])
        elif e["k"] == "cmp" and not e["no_exit"]:
            add("cluster_ns", e["sync"], None, True, e["dur_ns"])
    return out


def check_keyed_stream(check, s, ev, ino_p, ino_t):
    """The keyed histograms (sync mode, IPU/OPU, compressed) of a stream run: their counts
    add up to the unkeyed totals, and every key's count, sum and exact p99 are what the
    records of the same run give."""
    from analysis import stats
    mk = s["metrics_by_key"]
    want = record_samples(ev)
    for name in ("writepages_ns", "pass_setup_ns", "folio_latency_ns", "folio_gap_ns",
                 "folio_write_ns", "cluster_ns"):
        keyed = mk.get(name, {})
        total = sum(d["count"] for d in keyed.values())
        check(total == s["metrics"][name]["count"], f"{name}: keyed counts sum to the total",
              total, s["metrics"][name]["count"])
        got = {k: (d["count"], d["sum"], d["p99"]) for k, d in keyed.items()}
        rec = {k: (len(v), sum(v), stats.exact_percentile(sorted(v), 99))
               for k, v in want.get(name, {}).items()}
        check(got == rec, f"{name}: per key (count, sum, p99) == the records'", got, rec)
    # independent facts of the load: a fresh copy never writes in place; the text file is the
    # compressed one, the random one is not
    fw = mk["folio_write_ns"]
    ipu = sum(d["count"] for k, d in fw.items() if k.split("/")[1] == "ipu")
    check(ipu == 0, "folio writes keyed ipu (a fresh copy writes out of place)", ipu, 0)
    opu_plain = sum(d["count"] for k, d in fw.items() if k.endswith("/opu/plain"))
    wr_plain = sum(1 for e in ev if e["k"] == "folio" and e["ino"] == ino_p
                   and e["outcome"] == "written")
    check(opu_plain >= wr_plain > 0, "folio writes keyed opu/plain cover the plain file's",
          opu_plain, f">= {wr_plain}")
    wpk = mk["writepages_ns"]
    wp_t = sum(1 for e in ev if e["k"] == "wp" and not e["no_exit"] and e["ino"] == ino_t)
    wp_c = sum(d["count"] for k, d in wpk.items() if k.endswith("/compr"))
    check(wp_c >= wp_t > 0, "passes keyed compr cover the compressed file's", wp_c, f">= {wp_t}")
    for sync in ("none", "all"):
        n = sum(d["count"] for k, d in wpk.items() if k.startswith(sync + "/"))
        check(n == s["passes"]["by_sync"][sync], f"passes keyed sync={sync} == passes.by_sync",
              n, s["passes"]["by_sync"][sync])
    print("  keys:", {name: {k: d["count"] for k, d in keyed.items()} for name, keyed in mk.items()})


def check_keyed_counters(check, s, label):
    """A filtered run (hist mode: the kernel's keyed log-linear histograms): the keys against
    the kernel's own counters, which count on another path (counts, passes)."""
    c, mk = s["counts"], s["metrics_by_key"]
    fw = mk.get("folio_write_ns", {})
    for io in ("ipu", "opu"):
        n = sum(d["count"] for k, d in fw.items() if k.split("/")[1] == io)
        check(n == c[f"folios_{io}"], f"folio writes keyed {io} == counts.folios_{io}",
              n, c[f"folios_{io}"])
    n = sum(d["count"] for k, d in fw.items() if k.endswith("/compr"))
    check(n == c["folios_compressed_file"], "folio writes keyed compr == counts.folios_compressed_file",
          n, c["folios_compressed_file"])
    if s["passes"]["complete"]:
        wpk = mk.get("writepages_ns", {})
        for sync in ("none", "all"):
            n = sum(d["count"] for k, d in wpk.items() if k.startswith(sync + "/"))
            check(n == s["passes"]["by_sync"][sync], f"passes keyed sync={sync} == passes.by_sync",
                  n, s["passes"]["by_sync"][sync])
    lat = s["metrics"]["folio_write_ns"]
    if label in ("hist", "skip"):
        check(lat["pct_method"] == "hist_loglin_upper" and "hist_loglin" in lat,
              "hist mode: percentiles from the log-linear buckets", lat["pct_method"],
              "hist_loglin_upper")


def check_filtered(check, s, size, label):
    c = s["counts"]
    if c["folios_unknown"]:   # tracepoint-only folio probe: no outcome, count entries
        check(c["folios_unknown"] == size // 4096, "folios seen (tracepoint)", c["folios_unknown"], size // 4096)
    else:
        check(c["folio_bytes_written"] == size, "folio bytes written", c["folio_bytes_written"], size)
        check(s["metrics"]["folio_write_ns"]["count"] == size // 4096, "write-time samples",
              s["metrics"]["folio_write_ns"]["count"], size // 4096)
    check(s["valid"], "valid", s["valid"], True)
    check_keyed_counters(check, s, label)
    if label == "skip":       # --skip-probe handout: never attached, nothing counted
        check(s["probes"]["handout"] == "off" and c["handouts"] == 0,
              "--skip-probe handout: the probe is off and counted no hand-out",
              (s["probes"]["handout"], c["handouts"]), ("off", 0))
    print(f"  {label}: probes {s['probes']}, pct_method {s['metrics']['folio_latency_ns']['pct_method']}")


def check_drops(s):
    """The run must say it dropped events, and the in-kernel counters must still be exact."""
    c = s["counts"]
    ok = s["drops"] > 0 and not s["valid"] and "dropped" in (s["invalid_reason"] or "") \
        and c["folio_bytes_written"] == DROPS_BYTES
    print(f"  {'ok  ' if ok else 'FAIL'} drops: {s['drops']} dropped, {s['events']} delivered, "
          f"valid={s['valid']}, kernel folio bytes {c['folio_bytes_written']} (truth {DROPS_BYTES})")
    return ok


def main(argv):
    mode = argv[1]
    if mode == "stream":
        d, variant = argv[2], argv[3]
        size, ino_p, ino_t, disk_bytes, cw, cs = map(int, argv[4:10])
        sys.path.insert(0, TOP)
        from analysis import schema
        s, ev = load(d)
        schema.validate_summary(s)            # raises on a malformed summary
        check = Checks()
        check_stream(check, s, ev, variant, size, ino_p, ino_t, disk_bytes, cw, cs)
        check.exit()
    elif mode == "filtered":
        sys.path.insert(0, TOP)
        from analysis import schema
        with open(argv[2]) as f:
            s = json.load(f)
        schema.validate_summary(s, argv[2])   # hist mode: C and Python percentiles agree
        check = Checks(argv[4])
        check_filtered(check, s, int(argv[3]), argv[4])
        check.exit()
    elif mode == "drops":
        with open(argv[2]) as f:
            return 0 if check_drops(json.load(f)) else 1
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
