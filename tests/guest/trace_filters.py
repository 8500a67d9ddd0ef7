"""The checks of trace-filters.sh: what the tracer reported against ground
truth that does not come from it, one "ok"/"FAIL" line per check.

  trace_filters.py ipu DIR INO SIZE IPU_BLOCKS
      SIZE bytes of inode INO overwritten in place; IPU_BLOCKS: the debugfs
      "IPU: N blocks" delta
  trace_filters.py not-worth DIR INO SIZE CW CS
      SIZE bytes of random data into compressed inode INO (4-page clusters);
      CW, CS: the compr_written_block / compr_saved_block sysfs deltas
  trace_filters.py filters DIR PID_A PID_B INO_A INO_B
      DIR/fp (-p A), DIR/fc (-c B's cgroup), DIR/fh.json (-m hist -p B): A
      wrote 4 MiB into INO_A, B 6 MiB into INO_B, each with fsync

Exit status 1 if a check failed.
"""
import json
import sys

from tracecheck import Checks, load

SIZE_A, SIZE_B = 4 << 20, 6 << 20


def check_ipu(check, s, ev, ino, size, ipu_blk):
    check(s["valid"] and s["drops"] == 0, "run valid, no drops", s["drops"], 0)
    fo = [e for e in ev if e["k"] == "folio" and e["ino"] == ino and e["outcome"] == "written"]
    check(sum(e["size"] for e in fo) == size, "folio bytes written", sum(e["size"] for e in fo), size)
    check(all(e["io"] == "ipu" for e in fo) and fo, "every written folio tagged ipu",
          sorted({e["io"] for e in fo}, key=str), ["ipu"])
    db = [e for e in ev if e["k"] == "bio" and e["type"] == "data"]
    ipu = sum(e["bytes"] for e in db if e["io"] == "ipu")
    opu = sum(e["bytes"] for e in db if e["io"] == "opu")
    check(ipu == size, "IPU data bio bytes == bytes overwritten", ipu, size)
    check(ipu == ipu_blk * 4096, "IPU data bio bytes == debugfs 'IPU: N blocks' x 4 KiB", ipu, ipu_blk * 4096)
    check(opu == 0, "no OPU data bios", opu, 0)
    check(s["bio"]["data"]["ipu"] == sum(1 for e in db if e["io"] == "ipu"),
          "summary bio.data.ipu == IPU bio records", s["bio"]["data"]["ipu"],
          sum(1 for e in db if e["io"] == "ipu"))
    check(s["counts"]["folios_ipu"] == size // 4096 and s["counts"]["folios_opu"] == 0,
          "kernel counters folios_ipu/opu", (s["counts"]["folios_ipu"], s["counts"]["folios_opu"]),
          (size // 4096, 0))


def check_not_worth(check, s, ev, ino, size, cw, cs):
    c = s["counts"]
    check(s["valid"] and s["drops"] == 0, "run valid, no drops", s["drops"], 0)
    cm = [e for e in ev if e["k"] == "cmp" and e["ino"] == ino]
    nclu = size // (4 * 4096)
    check(len(cm) == nclu, "clusters of the file (cluster = 4 pages)", len(cm), nclu)
    check(cm and all(e["outcome"] == "not_worth" for e in cm), "every cluster not_worth",
          sorted({e["outcome"] for e in cm}), ["not_worth"])
    check(sum(e["saved"] for e in cm) == 0, "blocks saved in the cluster records", sum(e["saved"] for e in cm), 0)
    check(sum(e["nr_rpages"] for e in cm) == size // 4096, "pages gathered", sum(e["nr_rpages"] for e in cm), size // 4096)
    check(c["clusters_not_worth"] == nclu and c["clusters_compressed"] == 0,
          "kernel counters not_worth/compressed", (c["clusters_not_worth"], c["clusters_compressed"]), (nclu, 0))
    check(c["compr_saved_block"] == cs == 0, "compr_saved_block (sysfs delta, must be 0)", c["compr_saved_block"], cs)
    check(c["compr_written_block"] == cw, "compr_written_block (sysfs delta)", c["compr_written_block"], cw)
    raw = [e for e in ev if e["k"] == "folio" and e["ino"] == ino and e["outcome"] == "written"]
    check(sum(e["size"] for e in raw) == size and all(e["in_cluster"] for e in raw),
          "written raw from the cluster path: folio bytes", sum(e["size"] for e in raw), size)
    check(s["bio"]["data"]["bytes"] == size, "data bio bytes == file size (nothing compressed)",
          s["bio"]["data"]["bytes"], size)
    r = s["metrics"]["compress"]["ratio"]
    print(f"  not-worth: compress ratio {r}, clusters_compress_tried {c['clusters_compress_tried']}")


def check_filtered_run(check, label, s, ev, pid, ino_in, ino_out, size):
    """A run filtered on one writer (PID, writing SIZE bytes into INO_IN) saw
    all of its writeback and nothing of the other writer's INO_OUT."""
    check(s["valid"] and s["drops"] == 0, f"{label}: run valid, no drops", s["drops"], 0)
    pids = sorted({e["pid"] for e in ev})
    check(ev and pids == [pid], f"{label}: every event from the writer's pid", pids, [pid])
    fin = sum(e["size"] for e in ev if e["k"] == "folio" and e["ino"] == ino_in and e["outcome"] == "written")
    check(fin == size, f"{label}: filtered-in writer: folio bytes written (fsync in its context)", fin, size)
    nout = sum(1 for e in ev if e["k"] in ("folio", "wp", "cmp") and e["ino"] == ino_out)
    check(nout == 0, f"{label}: filtered-out writer: events of its inode", nout, 0)
    wp = sum(e["written"] for e in ev if e["k"] == "wp" and e["ino"] == ino_in)
    check(wp == size // 4096, f"{label}: writepages passes: folios written", wp, size // 4096)


def check_hist_b(check, h):
    check(h["counts"]["folio_bytes_written"] == SIZE_B, "-m hist -p B: in-kernel folio bytes (B only, not A's 4 MiB)",
          h["counts"]["folio_bytes_written"], SIZE_B)


def main(argv):
    mode = argv[1]
    if mode == "ipu":
        d, ino, size, ipu_blk = argv[2], *map(int, argv[3:6])
        s, ev = load(d)
        check = Checks("ipu")
        check_ipu(check, s, ev, ino, size, ipu_blk)
        check.exit()
    elif mode == "not-worth":
        d, ino, size, cw, cs = argv[2], *map(int, argv[3:7])
        s, ev = load(d)
        check = Checks("not-worth")
        check_not_worth(check, s, ev, ino, size, cw, cs)
        check.exit()
    elif mode == "filters":
        d, pa, pb, ino_a, ino_b = argv[2], *map(int, argv[3:7])
        check = Checks()
        for sub, label, pid, ino_in, ino_out, size in (("fp", "-p A", pa, ino_a, ino_b, SIZE_A),
                                                       ("fc", "-c B", pb, ino_b, ino_a, SIZE_B)):
            s, ev = load(f"{d}/{sub}")
            check_filtered_run(check, label, s, ev, pid, ino_in, ino_out, size)
        with open(f"{d}/fh.json") as f:
            check_hist_b(check, json.load(f))
        check.exit()
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
