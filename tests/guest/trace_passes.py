"""The checks of tests/guest/trace-passes.sh, one function per round; each reads
the tracer output of its round (argv as the script passes it: the output, then
TOP and the round's facts) and prints one line per check."""

import json
import os
import sys

from tracecheck import Checks, load, lonely_priority_stops, phase_checks

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from analysis import schema  # noqa: E402


def stream_round(d, label):
    """(summary, events, checks, passes) of a stream-mode round's output dir."""
    s, ev = load(d)
    schema.validate_summary(s)
    return s, ev, Checks(label), s["passes"]


def stream(argv):
    d, top, variant = argv[1:4]
    mib, ino_big, ino_fs = map(int, argv[4:])
    s, ev, check, P = stream_round(d, "stream")
    c = s["counts"]
    WHY = ("background", "kupdate", "sync", "fsync", "other")
    END = ("range_end", "budget", "priority_stop", "error")

    check(s["valid"] and s["drops"] == 0, "run valid, no drops", s["drops"], 0)
    check(P["complete"] is True and s["probes"]["writepages"] == "fentry",
          "passes complete (f2fs_write_data_pages fentry/fexit)", (P["complete"], s["probes"]["writepages"]),
          (True, "fentry"))
    check(sorted(P["by_why"]) == sorted(WHY) and sorted(P["by_end"]) == sorted(END)
          and sorted(P["by_sync"]) == ["all", "none"], "every class key present",
          (sorted(P["by_why"]), sorted(P["by_end"])), "all")
    tot = P["total"]
    check(sum(P["by_sync"].values()) == tot, "sum(by_sync) == total", sum(P["by_sync"].values()), tot)
    check(sum(P["by_why"].values()) == tot, "sum(by_why) == total", sum(P["by_why"].values()), tot)
    check(sum(P["by_end"].values()) == tot, "sum(by_end) == total", sum(P["by_end"].values()), tot)

    # The pass records: f2fs_write_data_pages (the loop's own records are merged into them).
    wp = [e for e in ev if e["k"] == "wp" and e["site"] == "f2fs_write_data_pages"]
    check(len(wp) == tot, "pass records == passes.total", len(wp), tot)
    for k, key in (("by_sync", "sync"), ("by_why", "why"), ("by_end", "end")):
        got = {v: sum(1 for e in wp if e[key] == v) for v in P[k]}
        check(got == P[k], f"records per {key} == passes.{k}", got, P[k])
    none = [e for e in wp if e["sync"] == "none"]
    g = [e["nr_given"] for e in none]
    want = {"min": min(g) if g else None, "max": max(g) if g else None, "sum": sum(g)}
    check(P["none_nr_given"] == want, "none_nr_given from records", want, P["none_nr_given"])
    check(P["none_nr_used_sum"] == sum(e["nr_used"] for e in none), "none_nr_used_sum from records",
          sum(e["nr_used"] for e in none), P["none_nr_used_sum"])
    check(all(e["sync"] == ("all" if e["sync_mode"] else "none") and e["nr_used"] == e["nr_before"] - e["nr_after"]
              for e in wp), "sync / nr_used agree with sync_mode / nr_before - nr_after", "-", "-")
    for k in ("written", "redirtied", "skipped"):
        n = sum(e[k] for e in wp)
        check(n == c["folios_" + k], f"sum of pass {k} == folios_{k} counter", n, c["folios_" + k])
    big_w = sum(e["written"] for e in wp if e["ino"] == ino_big)
    check(big_w == mib * 256, "folios written in passes of the big file == its pages", big_w, mib * 256)

    # Background passes: the flusher wrote the big file, chunk by chunk.
    bg = [e for e in wp if e["why"] == "background"]
    check(P["by_why"]["background"] > 0, "background passes", P["by_why"]["background"], "> 0")
    check(all(e["sync"] == "none" and e["cyclic"] and e["nr_given"] >= 1024 for e in bg),
          "background passes: WB_SYNC_NONE, range_cyclic, nr_given >= 1024 (MIN_WRITEBACK_PAGES)",
          sorted({e["nr_given"] for e in bg})[:5], ">= 1024")
    bud = [e for e in bg if e["end"] == "budget"]
    check(len(bud) > 0, "background passes that ran out of budget", len(bud), "> 0")
    check(all(e["nr_after"] <= 0 and e["nr_used"] >= e["nr_given"] for e in wp if e["end"] == "budget"),
          "budget passes used their whole budget", "-", "nr_after <= 0")
    check(all(e["nr_after"] > 0 for e in wp if e["end"] == "priority_stop"),
          "priority_stop passes had budget left", "-", "nr_after > 0")
    if s["probes"]["wb_work"] != "off":
        check(all(e["reason"] == 0 for e in bg), "background passes run under a WB_REASON_BACKGROUND work",
              sorted({e["reason"] for e in bg}, key=str), [0])
    # The fsync.
    fs = [e for e in wp if e["ino"] == ino_fs and e["sync"] == "all"]
    check(P["by_sync"]["all"] > 0 and P["by_why"]["fsync"] > 0, "WB_SYNC_ALL fsync passes",
          (P["by_sync"]["all"], P["by_why"]["fsync"]), "> 0")
    check(any(e["why"] == "fsync" and e["end"] == "range_end" and e["reason"] is None for e in fs),
          "the fsync of the second file: why fsync, range_end, no flusher reason",
          [(e["why"], e["end"], e["reason"]) for e in fs], "fsync, range_end, None")
    check(all(e["end"] in ("range_end", "error") for e in wp if e["sync"] == "all"),
          "WB_SYNC_ALL passes end at range_end (or error)", "-", "-")
    # Every end decided by an exact signal: pass_mark, writeback_iter's sentinel
    # (patched), the stock loop's last lookup (range_cyclic passes), budget, error.
    check(P["end_inferred"] == 0 and not any(e["end_inferred"] for e in wp),
          "no inferred end (all exact signals attached)", P["end_inferred"], 0)
    check(all(isinstance(e["sync_waiters"], int) and e["sync_waiters"] >= 0 for e in wp),
          "every pass record says how many integrity writers were in their passes at its exit",
          sorted({e["sync_waiters"] for e in wp}, key=str)[:5], "ints >= 0")
    # Priority: a WB_SYNC_NONE pass can only give way while a WB_SYNC_ALL pass of
    # the file system has wb_sync_req[DATA] raised, i.e. inside its fentry..fexit.
    span = lambda e: (e["t"] - e["dur_ns"], e["t"])
    alls = [span(e) for e in wp if e["sync"] == "all"]
    prio = [e for e in wp if e["end"] == "priority_stop"]
    lonely = lonely_priority_stops(wp)
    check(not lonely, "every priority_stop pass overlaps a WB_SYNC_ALL pass", lonely, [])
    M = 100_000_000   # 100 ms around the wb_sync_req inc/dec: a vCPU of a loaded TCG host may stall
    inside = [e for e in none if any(a0 + M < span(e)[0] < a1 - M for a0, a1 in alls)]
    bad = [e for e in inside if not (e["end"] == "priority_stop" or
                                     (e["end"] == "range_end" and e["written"] == 0 and e["pages_skipped"] == 0))]
    check(not bad, "NONE passes starting inside a WB_SYNC_ALL pass give way at entry",
          [(e["why"], e["end"], e["written"]) for e in bad][:5], "priority_stop")
    phase_checks(check, s, ev)
    print(f"  stream: variant {variant}: {tot} passes, by_why {P['by_why']}, by_end {P['by_end']}, "
          f"none_nr_given {P['none_nr_given']}, {len(prio)} priority_stop "
          f"({sum(1 for e in prio if e['written'] == 0)} at entry), {len(inside)} NONE passes inside ALL passes")
    print(f"  probes: {s['probes']}")
    check.exit()


def summary_round(path, label):
    """(summary, checks, passes) of a hist-mode round's summary.json, every class
    set of "passes" checked to sum to its total."""
    s = json.load(open(path))
    schema.validate_summary(s)
    check = Checks(label)
    P = s["passes"]
    for k in ("by_sync", "by_why", "by_end"):
        check(sum(P[k].values()) == P["total"], f"sum({k}) == total", sum(P[k].values()), P["total"])
    return s, check, P


def hist(argv):
    s, check, P = summary_round(argv[1], "hist")
    check(s["mode"] == "hist" and P["complete"] is True, "hist mode, passes complete", (s["mode"], P["complete"]), ("hist", True))
    check(P["by_why"]["background"] > 0 and P["by_sync"]["all"] > 0 and P["by_why"]["fsync"] > 0,
          "background and fsync passes", (P["by_why"]["background"], P["by_sync"]["all"]), "> 0")
    check(P["none_nr_given"]["min"] is not None and P["none_nr_given"]["min"] >= 1024
          and P["none_nr_given"]["max"] >= P["none_nr_given"]["min"], "none_nr_given min/max",
          P["none_nr_given"], "min >= 1024")
    check(P["end_inferred"] == 0, "no inferred end", P["end_inferred"], 0)
    print(f"  hist: {P}")
    check.exit()


def kprobe(argv):
    s, check, P = summary_round(argv[1], "kprobe")
    check(s["probes"]["writepages"] == "kprobe" and s["probes"]["loop_end"] == "kretprobe"
          and s["probes"]["pass_mark"] == "raw_tracepoint", "kprobe/raw_tp modes",
          (s["probes"]["writepages"], s["probes"]["loop_end"], s["probes"]["pass_mark"]),
          ("kprobe", "kretprobe", "raw_tracepoint"))
    # The kprobe links' "missed" (7.3 has it): read, so an int, not null; and
    # nothing lost (else the run would be invalid and the tracer exit 12).
    km = s.get("kernel_misses") or {}
    check(isinstance(km.get("kprobe"), int) and km.get("bpf_recursion") == 0 and s["valid"],
          "kernel misses read from the kprobe links and the programs, none", km,
          {"bpf_recursion": 0, "kprobe": 0})
    check(P["complete"] is True, "passes complete", P["complete"], True)
    check(P["by_why"]["background"] > 0 and P["by_why"]["fsync"] > 0, "background and fsync passes",
          (P["by_why"]["background"], P["by_why"]["fsync"]), "> 0")
    if argv[3] == "stock":
        check(P["end_inferred"] == 0, "no inferred end on stock (loop_end in kprobe mode)", P["end_inferred"], 0)
    print(f"  kprobe: {P}")
    check.exit()


def tponly(argv):
    s, ev, check, P = stream_round(argv[1], "tponly")
    check(s["probes"]["writepages"] == "tracepoint", "writepages from the tracepoint", s["probes"]["writepages"], "tracepoint")
    check(P["complete"] is False and P["by_end"] is None and P["none_nr_used_sum"] is None,
          "complete false, by_end and none_nr_used_sum null", (P["complete"], P["by_end"], P["none_nr_used_sum"]),
          (False, None, None))
    tot = P["total"]
    wp = [e for e in ev if e["k"] == "wp"]
    check(len(wp) == tot > 0, "one record per pass (2nd f2fs_writepages of a yielding pass not counted)", len(wp), tot)
    check(sum(P["by_sync"].values()) == tot and sum(P["by_why"].values()) == tot, "sum(by_sync) == sum(by_why) == total",
          (sum(P["by_sync"].values()), sum(P["by_why"].values())), tot)
    check(P["by_why"]["background"] > 0 and P["by_why"]["fsync"] > 0, "background and fsync passes seen at entry",
          (P["by_why"]["background"], P["by_why"]["fsync"]), "> 0")
    check(all(e["no_exit"] and e["end"] is None and e["nr_used"] is None and e["written"] is None
              and e["pages_skipped"] is None for e in wp), "records: exit fields null", "-", "null")
    g = [e["nr_given"] for e in wp if e["sync"] == "none"]
    check(P["none_nr_given"]["sum"] == sum(g), "none_nr_given.sum from records", sum(g), P["none_nr_given"]["sum"])
    # With entries only no latency phase can be measured: absent, never entry -> entry.
    fo = [e for e in ev if e["k"] == "folio"]
    check(fo and all(e["lat_ns"] is None and e["gap_ns"] is None and e["write_ns"] is None for e in fo)
          and all(e["setup_ns"] is None for e in wp)
          and s["metrics"]["folio_latency_ns"]["count"] == 0 and s["metrics"]["pass_setup_ns"]["count"] == 0,
          "latencies absent (null, no samples), not entry-to-entry", (len(fo), s["metrics"]["folio_latency_ns"]["count"]),
          "null, 0 samples")
    print(f"  tponly: {P}")
    check.exit()


def compr(argv):
    s, ev, check, P = stream_round(argv[1], "compr")
    c = s["counts"]
    wp = [e for e in ev if e["k"] == "wp" and e["site"] == "f2fs_write_data_pages"]
    check(s["valid"] and s["drops"] == 0 and P["complete"], "valid, no drops, complete", (s["drops"], P["complete"]), (0, True))
    check(len(wp) == P["total"], "pass records == passes.total", len(wp), P["total"])
    for k, key in (("by_sync", "sync"), ("by_why", "why"), ("by_end", "end")):
        got = {v: sum(1 for e in wp if e[key] == v) for v in P[k]}
        check(got == P[k], f"records per {key} == passes.{k}", got, P[k])
    check(c["clusters"] > 0 and sum(e["clusters"] for e in wp) == c["clusters"], "clusters written in passes == counter",
          sum(e["clusters"] for e in wp), c["clusters"])
    check(sum(e["written"] for e in wp) == c["folios_written"], "folios written in passes == counter",
          sum(e["written"] for e in wp), c["folios_written"])
    check(P["by_why"]["background"] > 0 and P["by_why"]["fsync"] > 0, "background and fsync passes",
          (P["by_why"]["background"], P["by_why"]["fsync"]), "> 0")
    check(P["end_inferred"] == 0, "no inferred end", P["end_inferred"], 0)
    check(all(e["nr_after"] <= 0 for e in wp if e["end"] == "budget") and
          all(e["nr_after"] > 0 for e in wp if e["end"] == "priority_stop"),
          "budget ends have no budget left, priority stops some", "-", "-")
    lonely = lonely_priority_stops(wp)
    check(not lonely, "every priority_stop pass overlaps a WB_SYNC_ALL pass", lonely, [])
    phase_checks(check, s, ev)
    print(f"  compr: {P}")
    check.exit()


ROUNDS = {f.__name__: f for f in (stream, hist, kprobe, tponly, compr)}


if __name__ == "__main__":
    ROUNDS[sys.argv[1]](sys.argv[1:])
