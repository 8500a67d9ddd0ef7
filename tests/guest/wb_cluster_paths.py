"""The Python of wb-cluster-paths.sh: the writes of its cases (16-page lz4
clusters) and the checks of the kprobe events they traced.

  wb_cluster_paths.py compressed FILE        prints "FS_COMPR_FL blocks-saved" (1/0, a count)
  wb_cluster_paths.py clusters mmap|pwrite   the clusters the sub-case writes into
  wb_cluster_paths.py mmap FILE MODEL        stores through mmap into FILE (and MODEL), msync
  wb_cluster_paths.py pwrite FILE MODEL      full-page pwrite()s, sync_file_range(WRITE)
  wb_cluster_paths.py budget-write FILE FIRST NPAGES
                                             pages FIRST.. of text in one pwrite; prints the sha256
  wb_cluster_paths.py preps TRACE INO CLUSTER...
                                             exactly these clusters prepared, each returning CLUSTER
  wb_cluster_paths.py whole TRACE INO CLUSTER...
                                             each of them written whole, none in part
  wb_cluster_paths.py budget TRACE INO FIRST LASTPAGE VARIANT
                                             no WB_SYNC_NONE pass split a cluster of the file

The checks print "ERROR ..." lines and exit 1 when they fail.
"""
import hashlib
import mmap
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "workloads"))
import sysio  # noqa: E402

PAGE = 4096
CLUSTER = 16                                    # pages: compress_log_size=4
MMAP_AT = ((3, 1), (7, 9), (8, 15), (20, 0))    # (cluster, page in it): mmap stores
PWRITE_AT = ((40, 5), (41, 0))                  # full-page pwrite()s

# --- trace parsing: "comm-pid [cpu] flags ts: wbcp_x: (where) k=v ..."
EV = re.compile(r"^\s*.+?-(\d+)\s+\[\d+\].*?\s(wbcp_\w+):\s+\([^)]*\)(.*)$")
KV = re.compile(r"(\w+)=(-?(?:0x[0-9a-fA-F]+|\d+))")


def parse_events(lines):
    """(pid, event, {field: int}) of each wbcp_* event line."""
    for line in lines:
        m = EV.match(line)
        if m:
            yield int(m.group(1)), m.group(2), {k: int(v, 0) for k, v in KV.findall(m.group(3))}


def events(path):
    with open(path) as f:
        yield from parse_events(f)


def clusters_of(spec):
    return sorted({c for c, _ in spec})


def budget_data(first, n):
    """The text of pages FIRST..FIRST+N-1 of the budget case's file."""
    return b"".join((b"page %08d of the cluster budget case, compressible text\n" % i * 74)[:PAGE]
                    for i in range(first, first + n))


def check_preps(evs, ino, want):
    """f2fs_prepare_compress_overwrite_wb() prepared exactly the clusters WANT
    of inode INO, each once, each returning the cluster size.  Returns the
    lines to print and the errors."""
    pending, got, bad = {}, [], []
    for pid, ev, v in evs:
        if ev == "wbcp_prep":
            pending[pid] = v["idx"] // CLUSTER if v.get("ino") == ino else None
        elif ev == "wbcp_prep_ret":
            if pid not in pending:
                bad.append(f"a return ({v.get('ret')}) without its call")
                continue
            c = pending.pop(pid)
            if c is not None:
                got.append((c, v["ret"]))
    out = ["prepared clusters: " + (" ".join(f"{c}(ret {r})" for c, r in got) or "none")]
    if sorted(c for c, _ in got) != sorted(want):
        bad.append(f"prepared clusters {sorted(c for c, _ in got)}, expected {sorted(want)}, each once")
    bad += [f"cluster {c}: returned {r}, expected the cluster size {CLUSTER}" for c, r in got if r != CLUSTER]
    return out, bad


def check_whole(evs, ino, want):
    """f2fs_write_multi_pages() wrote each cluster of WANT of inode INO whole
    and none of them in part.  Returns the lines to print and the errors."""
    w = [v for _, ev, v in evs if ev == "wbcp_wmp" and v.get("ino") == ino]
    out = [f"{len(w)} cluster writes of the file: "
           + " ".join(f"{v['cidx']}(nr {v['nr']}/{v['csz']}, sync {v['sync']})" for v in w)]
    bad = []
    for c in want:
        mine = [v for v in w if v["cidx"] == c]
        if not any(v["nr"] == v["csz"] == CLUSTER for v in mine):
            bad.append(f"cluster {c} was not written whole by f2fs_write_multi_pages")
        bad += [f"cluster {c} written in part: nr_rpages {v['nr']} of {v['csz']}" for v in mine if v["nr"] != v["csz"]]
    return out, bad


def check_budget(evs, ino, first, lastpage, variant):
    """The background passes over inode INO (dirty pages FIRST..LASTPAGE):
    their budget was smaller than the file, and none of their cluster writes
    inside the file was partial; on patched a pass must have ended inside the
    file.  Returns the lines to print and the errors."""
    first_c, last_c = first // CLUSTER, lastpage // CLUSTER
    dirty = lastpage - first + 1
    passes, cur, orphans = [], {}, 0
    for pid, ev, v in evs:
        if v.get("ino") != ino:
            continue
        if ev == "wbcp_wdp":
            cur[pid] = {"ntw": v["ntw"], "sync": v["sync"], "writes": []}
            passes.append(cur[pid])
        elif ev == "wbcp_wmp":
            if pid in cur:
                cur[pid]["writes"].append(v)
            else:
                orphans += 1
    out, bad = [], []
    none = [p for p in passes if p["sync"] == 0]
    writes = [w for p in passes for w in p["writes"] if w["sync"] == 0]
    out.append(f"{len(writes)} WB_SYNC_NONE cluster writes ({sum(w['nr'] for w in writes)} pages) in "
               f"{len(none)} WB_SYNC_NONE passes of {len(passes)}; {dirty} pages were dirty"
               + (f"; {orphans} cluster writes outside a traced pass" if orphans else ""))
    if not writes:
        bad.append("no WB_SYNC_NONE cluster write of the file was traced: the check proves nothing")
    elif none[0]["ntw"] >= dirty:
        bad.append(f"the first pass's budget ({none[0]['ntw']} pages) is not smaller than the file "
                   f"({dirty} dirty pages): no budget can have run out in it, the check proves nothing")
    ended_inside = 0
    for k, p in enumerate(none):
        if not p["writes"]:
            out.append(f"  pass {k}: budget {p['ntw']}, no cluster written")
            continue
        a, z = p["writes"][0], p["writes"][-1]
        inside = z["cidx"] < last_c
        ended_inside += inside
        out.append(f"  pass {k}: budget {p['ntw']}, {len(p['writes'])} clusters {a['cidx']}..{z['cidx']}; last one "
                   f"nr {z['nr']}/{z['csz']}, nr_to_write {z['ntw']} when written"
                   + ("  (ended inside the file)" if inside else ""))
    partial = [w for w in writes if w["nr"] < w["csz"] and w["cidx"] not in (first_c, last_c)]
    for w in partial[:10]:
        out.append(f"  PARTIAL: cluster {w['cidx']}: nr_rpages {w['nr']} of {w['csz']}, nr_to_write {w['ntw']}")
    if partial:
        bad.append(f"{len(partial)} WB_SYNC_NONE cluster writes inside the file were partial: a budget split a cluster")
    if writes and variant == "patched" and not ended_inside:
        bad.append("no WB_SYNC_NONE pass ended inside the file: the budget never ran out in a cluster")
    elif writes and not ended_inside:
        out.append("  (no pass ended inside the file)")
    return out, bad


def report(out, bad):
    for line in out:
        print(line)
    for b in bad:
        print("ERROR", b)
    return 1 if bad else 0


def main(argv):
    mode = argv[1]
    if mode == "compressed":            # FILE: "FS_COMPR_FL blocks-saved"
        print(1 if sysio.iflags(argv[2]) & sysio.FS_COMPR_FL else 0, sysio.compr_blocks(argv[2]))
    elif mode == "clusters":            # mmap|pwrite: the clusters the sub-case writes into
        print(*clusters_of(MMAP_AT if argv[2] == "mmap" else PWRITE_AT))
    elif mode == "mmap":                # FILE MODEL: stores through mmap into FILE, msync
        fd = os.open(argv[2], os.O_RDWR)
        m = mmap.mmap(fd, 0)
        with open(argv[3], "r+b") as model:
            for c, pg in MMAP_AT:
                off = (c * CLUSTER + pg) * PAGE + 100
                data = b"MMAP store %02d.%02d" % (c, pg)
                m[off:off + len(data)] = data
                model.seek(off)
                model.write(data)
        m.flush()                       # msync(MS_SYNC): a WB_SYNC_ALL pass
        m.close()
        os.close(fd)
    elif mode == "pwrite":              # FILE MODEL: full-page pwrite()s, sync_file_range(WRITE)
        fd = os.open(argv[2], os.O_RDWR)
        with open(argv[3], "r+b") as model:
            for c, pg in PWRITE_AT:
                off = (c * CLUSTER + pg) * PAGE
                data = (b"pwrite page %02d.%02d " % (c, pg) * 256)[:PAGE]
                assert os.pwrite(fd, data, off) == PAGE
                model.seek(off)
                model.write(data)
        sysio.sync_file_range(fd, 0, 0, sysio.SYNC_FILE_RANGE_WRITE)   # a WB_SYNC_NONE pass over the whole file
        os.close(fd)
    elif mode == "budget-write":        # FILE FIRST NPAGES: pages FIRST.. of text, one pwrite; prints the sha256
        path, first, n = argv[2], int(argv[3]), int(argv[4])
        data = budget_data(first, n)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        assert os.pwrite(fd, data, first * PAGE) == len(data)
        os.close(fd)
        print(hashlib.sha256(bytes(first * PAGE) + data).hexdigest())
    elif mode == "preps":
        return report(*check_preps(events(argv[2]), int(argv[3]), [int(c) for c in argv[4:]]))
    elif mode == "whole":
        return report(*check_whole(events(argv[2]), int(argv[3]), [int(c) for c in argv[4:]]))
    elif mode == "budget":
        return report(*check_budget(events(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]), argv[6]))
    else:
        sys.exit(f"unknown mode {mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
