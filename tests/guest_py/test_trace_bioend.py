"""tests/guest/trace_bioend.py: the checks of trace-bioend.sh pass on a
consistent synthetic run and each fails on the fault it is there to catch."""
import copy

import trace_bioend
from tracecheck import Checks


def bio(t, sector, pages, end, typ="data", temp="warm", stream=True):
    return {"k": "bio", "t": t, "sector": sector, "bytes": pages * 4096, "pages": pages,
            "type": typ, "temp": temp, "stream": stream, "end": end if stream else None,
            "end_inferred": False if stream else None,
            "pages_traced": pages if stream else None, "all_traced": True if stream else None}


def run():
    """A data stream: 256 pages full -> 256 contiguous pages noncontig -> 8 pages
    elsewhere flushed by fsync -> 4 by a pass end -> 1 by a cluster's flush;
    a node bio flushed by fsync; one IPU bio."""
    ev = [bio(1, 1000, 256, "full"), bio(2, 1000 + 256 * 8, 256, "noncontig"),
          bio(3, 90000, 8, "integrity"), bio(4, 500, 1, "integrity", typ="node"),
          bio(5, 7000, 1, None, stream=False), bio(6, 91000, 4, "pass_end"),
          bio(7, 92000, 1, "cluster_end")]
    stream = [e for e in ev if e["stream"]]
    by_end = {c: {"bios": 0, "inferred": 0} for c in trace_bioend_causes()}
    for e in stream:
        by_end[e["end"]]["bios"] += 1
    s = {"bio_ends": {"complete": True, "stream_bios": len(stream),
                      "stream_pages": sum(e["pages"] for e in stream),
                      "pages": {"new": 6, "merged": 520, "unknown": 0, "data_new": 5,
                                "data_merged": 520},
                      "by_end": by_end}}
    return s, ev


def trace_bioend_causes():
    return ("full", "noncontig", "other_type", "cluster_end", "integrity", "priority_stop",
            "pass_end", "other", "unknown")


def issued(ev):
    return [(e["sector"], e["bytes"]) for e in ev]


def pages_ok(s, ev, variant="patched"):
    c = Checks()
    trace_bioend.check_pages(c, s, ev, variant)
    return c.failed == 0


def blk_ok(ev, d):
    c = Checks()
    trace_bioend.check_blk(c, ev, d)
    return c.failed == 0


def test_parse_blkparse():
    lines = ["D WS 1000 1048576\n", "Q WS 1000 1048576\n", "D FN 0 0\n", "D DS 8 4096\n",
             "C WS 1000 1048576 [0]\n", "D W 2048 4096\n", "garbage\n"]
    assert trace_bioend.parse_blkparse(lines) == [(1000, 1048576), (2048, 4096)]


def test_consistent_run_passes():
    s, ev = run()
    assert pages_ok(s, ev)
    assert blk_ok(ev, issued(ev))


def test_split_bio_matches():
    s, ev = run()
    d = issued(ev)
    d[0] = (1000, 128 * 4096)
    d.insert(1, (1000 + 128 * 8, 128 * 4096))   # the 256-page bio issued as two requests
    assert blk_ok(ev, d)


def test_same_sector_twice_in_order():
    ev = [bio(1, 64, 1, "other", typ="meta", temp="unknown"),
          bio(2, 64, 2, "other", typ="meta", temp="unknown")]
    assert blk_ok(ev, [(64, 4096), (64, 8192)])
    assert not blk_ok(ev, [(64, 8192)])


def test_blk_faults():
    s, ev = run()
    assert not blk_ok(ev, issued(ev)[1:])                   # a traced bio never issued
    assert not blk_ok(ev, issued(ev) + [(123456, 4096)])    # an issued write not traced
    d = issued(ev)
    d[2] = (90000, 4 * 4096)                                # issued smaller than traced
    assert not blk_ok(ev, d)
    d = issued(ev)
    d[0] = (1000, 512 * 4096)                               # one request spanning two bios
    del d[1]
    assert not blk_ok(ev, d)


def test_page_faults():
    s, ev = run()
    s2 = copy.deepcopy(s)
    s2["bio_ends"]["pages"]["merged"] -= 1                  # a page not seen
    assert not pages_ok(s2, ev)
    s2 = copy.deepcopy(s)
    s2["bio_ends"]["pages"]["unknown"] = 1
    assert not pages_ok(s2, ev)
    ev2 = copy.deepcopy(ev)
    ev2[1]["pages_traced"] = 255                            # per bio count short
    assert not pages_ok(s, ev2)
    ev2 = copy.deepcopy(ev)
    ev2[1]["all_traced"] = False                            # opened before the arm
    assert not pages_ok(s, ev2)
    s2 = copy.deepcopy(s)
    s2["bio_ends"]["complete"] = False
    assert not pages_ok(s2, ev)


def test_cause_faults():
    s, ev = run()
    ev2 = copy.deepcopy(ev)
    ev2[2]["end"] = None                                    # no cause
    assert not pages_ok(s, ev2)
    ev2 = copy.deepcopy(ev)
    ev2[2]["end_inferred"] = True
    assert not pages_ok(s, ev2)
    # kretprobe mode: a pass end may be inferred, nothing else
    s2 = copy.deepcopy(s)
    s2["bio_ends"]["by_end"]["pass_end"]["inferred"] = 1
    ev2 = copy.deepcopy(ev)
    ev2[5]["end_inferred"] = True
    assert not pages_ok(s2, ev2)
    c = Checks()
    trace_bioend.check_pages(c, s2, ev2, "patched", kretprobe=True)
    assert c.failed == 0
    s2["bio_ends"]["by_end"]["integrity"]["inferred"] = 1
    c = Checks()
    trace_bioend.check_pages(c, s2, ev2, "patched", kretprobe=True)
    assert c.failed == 1
    s2 = copy.deepcopy(s)
    s2["bio_ends"]["by_end"]["integrity"]["bios"] = 3       # kernel != records
    assert not pages_ok(s2, ev)
    # noncontig, yet the next bio of the stream starts right after it
    ev2 = copy.deepcopy(ev)
    ev2[0]["end"] = "noncontig"
    assert trace_bioend.cause_conflicts(ev2)
    s2 = copy.deepcopy(s)
    s2["bio_ends"]["by_end"]["full"]["bios"] = 0
    s2["bio_ends"]["by_end"]["noncontig"]["bios"] = 2
    assert not pages_ok(s2, ev2)
    # full, yet the next bio starts elsewhere
    ev2 = copy.deepcopy(ev)
    ev2[1]["end"] = "full"
    assert trace_bioend.cause_conflicts(ev2)
    # an in-call cause with no next bio in its stream
    ev2 = copy.deepcopy(ev)
    ev2[-1]["end"] = "noncontig"
    assert any("no bio followed" in x for x in trace_bioend.cause_conflicts(ev2))
    # another stream's bio in between does not count as the next one
    ev2 = copy.deepcopy(ev)
    ev2.insert(1, bio(1.5, 1000 + 256 * 8, 4, "other", typ="node"))
    assert not trace_bioend.cause_conflicts(ev2)


def test_load_must_show_merges_and_fsync():
    s, ev = run()
    s2 = copy.deepcopy(s)
    s2["bio_ends"]["pages"]["data_merged"] = 0
    assert not pages_ok(s2, ev)
    for end in ("integrity", "pass_end", "cluster_end"):
        ev2 = copy.deepcopy(ev)
        for e in ev2:
            if e["type"] == "data" and e["end"] == end:
                e["end"] = "other"
        s2 = copy.deepcopy(s)
        s2["bio_ends"]["by_end"]["other"]["bios"] += s2["bio_ends"]["by_end"][end]["bios"] - (
            end == "integrity")         # the node bio keeps its integrity
        s2["bio_ends"]["by_end"][end]["bios"] = int(end == "integrity")
        assert not pages_ok(s2, ev2)
    # the stock loop has no per-cluster flush
    ev2 = copy.deepcopy(ev)
    ev2[-1]["end"] = "other"
    s2 = copy.deepcopy(s)
    s2["bio_ends"]["by_end"]["cluster_end"]["bios"] = 0
    s2["bio_ends"]["by_end"]["other"]["bios"] = 1
    assert pages_ok(s2, ev2, "stock") and not pages_ok(s2, ev2, "patched")


def test_load_writes_the_files_the_checks_expect(tmp_path):
    """The load's Python part (trace_bioend_load.py) runs on any file system:
    two files of scattered 4 KiB rewrites inside 8 MiB and a 1 MiB file."""
    import trace_bioend_load as load
    load.main(["trace_bioend_load.py", str(tmp_path)])
    for name in ("rnd", "seq"):
        size = (tmp_path / name).stat().st_size
        assert 0 < size <= load.FILE_BLOCKS * load.BLOCK and size % load.BLOCK == 0
    assert (tmp_path / "sfr").stat().st_size == 1 << 20
