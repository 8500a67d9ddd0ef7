"""The checks of trace-bioend.sh: the tracer's cached-bio records (merged /
new pages, why each bio ended) against blktrace's issued (D) requests and
against themselves, one "ok"/"FAIL" line per check.

  trace_bioend.py blk TRACE_DIR BLKPARSE_TXT   bio sizes == blktrace's D sizes
  trace_bioend.py pages TRACE_DIR LABEL VARIANT [kretprobe]
                                               pages merged + new == pages submitted,
                                               end causes exact and consistent, the
                                               load's known flushes seen ("kretprobe":
                                               writeback_iter's arguments unseen, a
                                               pass end may be inferred)
"""
import sys
from collections import defaultdict

from tracecheck import Checks, load

# the causes decided inside f2fs_submit_page_write: a next page of the stream
# could not join, so it opened the stream's next bio
IN_CALL = ("full", "noncontig", "other_type")


def parse_blkparse(lines):
    """(sector, bytes) of the issued (D) writes with data, in blkparse's order,
    from `blkparse -f "%a %d %S %N\\n"` lines (action, RWBS, sector, bytes).
    Discards (RWBS with D) and empty flushes are not writes of data."""
    out = []
    for line in lines:
        f = line.split()
        if len(f) != 4 or f[0] != "D":
            continue
        rwbs, sector, nbytes = f[1], int(f[2]), int(f[3])
        if "W" in rwbs and "D" not in rwbs and nbytes > 0:
            out.append((sector, nbytes))
    return out


def match_issued(bios, issued):
    """Match the traced write bios ("bio" records, in time order) with the
    issued requests: each bio's sectors must be tiled exactly by requests
    starting at its first sector (several when the block layer split it,
    never one spanning two bios: merging is off).  Returns (bios without
    their requests, requests no traced bio explains)."""
    at = defaultdict(list)
    for sector, nbytes in issued:
        at[sector].append(nbytes)
    missing = []
    for b in sorted(bios, key=lambda e: e["t"]):
        pos, left, used = b["sector"], b["bytes"], []
        while left > 0 and at.get(pos):
            n = at[pos].pop(0)
            used.append((pos, n))
            pos += n // 512
            left -= n
        if left != 0:
            missing.append({"sector": b["sector"], "bytes": b["bytes"], "type": b["type"],
                            "matched": used})
            for p, n in used:  # give them back: they belong to another bio
                at[p].insert(0, n)
    extra = [(s, n) for s, ns in at.items() for n in ns]
    return missing, extra


def stream_key(b):
    """The f2fs stream of a bio record: META and META_FLUSH share one bio."""
    if b["type"] in ("meta", "other"):
        return ("meta",)
    return (b["type"], b["temp"])


def cause_conflicts(bios):
    """Stream bios whose end cause the next bio of their stream contradicts:
    a page that could not join opened the next bio, at a block that is not
    the next one (noncontig) or is (full: only a full bio turns a contiguous
    page away)."""
    bad = []
    streams = defaultdict(list)
    for b in sorted((b for b in bios if b.get("stream")), key=lambda e: e["t"]):
        streams[stream_key(b)].append(b)
    for key, seq in streams.items():
        for a, nxt in zip(seq, seq[1:] + [None]):
            if a["end"] not in IN_CALL:
                continue
            end_sector = a["sector"] + a["bytes"] // 512
            if nxt is None:
                bad.append(f"{key} bio at {a['sector']} ended {a['end']} but no bio followed")
            elif a["end"] == "noncontig" and nxt["sector"] == end_sector:
                bad.append(f"{key} bio at {a['sector']} ended noncontig, next starts right after it")
            elif a["end"] == "full" and nxt["sector"] != end_sector:
                bad.append(f"{key} bio at {a['sector']} ended full, next starts at {nxt['sector']}")
    return bad


def check_blk(c, events, issued):
    bios = [e for e in events if e["k"] == "bio"]
    missing, extra = match_issued(bios, issued)
    c(not missing, "every traced bio issued with its size (blktrace D)",
      f"{len(bios) - len(missing)} of {len(bios)} bios", f"{len(issued)} D requests")
    for m in missing[:5]:
        print(f"    not issued as traced: {m}")
    c(not extra, "every issued write (blktrace D) is a traced bio", f"{len(extra)} unexplained",
      "0")
    for x in extra[:5]:
        print(f"    issued, not traced: sector {x[0]}, {x[1]} bytes")
    c(sum(b["bytes"] for b in bios) == sum(n for _, n in issued), "bytes written",
      sum(b["bytes"] for b in bios), sum(n for _, n in issued))


# what writeback_iter's kretprobe cannot prove: priority stop or range end
PASS_ENDS = ("pass_end", "priority_stop")


def check_pages(c, summary, events, variant, kretprobe=False):
    be = summary.get("bio_ends") or {}
    pages = be.get("pages") or {}
    stream = [e for e in events if e["k"] == "bio" and e.get("stream")]
    c(be.get("complete") is True and pages.get("unknown") == 0,
      "page_write sees every page (complete, none unknown)",
      f"complete {be.get('complete')}, unknown {pages.get('unknown')}", "true, 0")
    submitted = sum(b["pages"] for b in stream)
    c(pages.get("new", 0) + pages.get("merged", 0) == submitted == be.get("stream_pages"),
      "pages merged + new == pages submitted in stream bios",
      f"{pages.get('merged')} + {pages.get('new')}",
      f"{submitted} (records), {be.get('stream_pages')} (kernel)")
    partial = [b for b in stream if not b["all_traced"] or b["pages_traced"] != b["pages"]]
    c(not partial, "per bio: pages traced into it == its size", f"{len(partial)} differ", "0")
    for b in partial[:5]:
        print(f"    {b['type']} bio at {b['sector']}: {b['pages']} pages, traced "
              f"{b['pages_traced']} (all {b['all_traced']})")
    unknown = [b for b in stream if b["end"] is None]
    c(not unknown, "every stream bio has an end cause", f"{len(unknown)} without", "0")
    # the converted loop's pass end is exact only with writeback_iter's arguments (fexit)
    may = PASS_ENDS if kretprobe else ()
    inferred = {k: v["inferred"] for k, v in (be.get("by_end") or {}).items() if v["inferred"]}
    c(not [k for k in inferred if k not in may] and
      not any(b["end_inferred"] and b["end"] not in may for b in stream),
      "end causes decided from exact signals" + (" (pass ends may be inferred)" if may else ""),
      inferred, "none" if not may else f"only {', '.join(may)}")
    by_end = be.get("by_end") or {}
    counted = {k: v["bios"] for k, v in by_end.items() if v["bios"]}
    recorded = defaultdict(int)
    for b in stream:
        recorded[b["end"] or "unknown"] += 1
    c(counted == dict(recorded) and sum(counted.values()) == be.get("stream_bios"),
      "bios per end cause: kernel == records", counted, dict(recorded))
    bad = cause_conflicts(events)
    c(not bad, "end causes agree with the next bio of the stream", f"{len(bad)} conflicts", "0")
    for x in bad[:5]:
        print(f"    {x}")
    data = [b for b in stream if b["type"] == "data"]
    c(pages.get("data_merged", 0) > 0 and pages.get("data_new", 0) > 0,
      "the load merged data pages and opened data bios",
      f"merged {pages.get('data_merged')}, new {pages.get('data_new')}", "both > 0")
    ends = sorted({b["end"] for b in data}, key=str)
    c("integrity" in ends, "fsync flushed a data bio (integrity)", ends, "integrity among them")
    c("pass_end" in ends, "sync_file_range's pass flushed a data bio at its end (pass_end)",
      ends, "pass_end among them")
    if variant == "patched":
        # the series submits the stream's bio after each compressed cluster
        c("cluster_end" in ends, "patched: a compressed cluster's write flushed a data bio",
          ends, "cluster_end among them")


def main(argv):
    mode, tdir = argv[1], argv[2]
    summary, events = load(tdir)
    c = Checks(argv[3] if mode == "pages" else "")
    if mode == "blk":
        with open(argv[3]) as f:
            check_blk(c, events, parse_blkparse(f))
    elif mode == "pages":
        check_pages(c, summary, events, argv[4], argv[5:] == ["kretprobe"])
    else:
        sys.exit(f"unknown mode {mode}")
    c.exit()


if __name__ == "__main__":
    main(sys.argv)
