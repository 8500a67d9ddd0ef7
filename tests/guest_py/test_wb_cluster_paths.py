"""tests/guest/wb_cluster_paths.py: the kprobe event parser and the three trace
checks (clusters prepared, written whole, budgets that never split a
cluster), on traces written as tracefs writes them; the budget file's data."""
import hashlib

import wb_cluster_paths as wcp

INO = 345


def ev(name, fields, pid=500, where="f2fs_write_multi_pages+0x0/0x90 [f2fs]"):
    kv = " ".join(f"{k}={v}" for k, v in fields.items())
    return f"   kworker/u4:2-{pid}     [001] ..... 77.123456: {name}: ({where}) {kv}"


def wmp(cidx, nr=16, sync=0, ntw=1000, ino=INO, pid=500):
    return ev("wbcp_wmp", {"nr": nr, "cidx": cidx, "csz": 16, "sync": sync, "ntw": ntw, "ino": ino}, pid)


def wdp(ntw, sync=0, ino=INO, pid=500):
    return ev("wbcp_wdp", {"ino": ino, "ntw": ntw, "sync": sync}, pid, "f2fs_write_data_pages+0x0/0x40 [f2fs]")


def prep(idx, ino=INO, pid=500):
    return ev("wbcp_prep", {"ino": ino, "idx": idx}, pid, "f2fs_prepare_compress_overwrite_wb+0x0/0x70 [f2fs]")


def prep_ret(ret, pid=500):
    return ev("wbcp_prep_ret", {"ret": ret}, pid,
              "f2fs_write_cache_folios+0x1f2/0x6e0 [f2fs] <- f2fs_prepare_compress_overwrite_wb")


def test_parse_events():
    lines = ["# tracer: nop", wmp(3, ntw=-2), prep_ret(-11), wdp(0x400)]
    got = list(wcp.parse_events(lines))
    assert got == [(500, "wbcp_wmp", {"nr": 16, "cidx": 3, "csz": 16, "sync": 0, "ntw": -2, "ino": INO}),
                   (500, "wbcp_prep_ret", {"ret": -11}),
                   (500, "wbcp_wdp", {"ino": INO, "ntw": 1024, "sync": 0})]


def test_clusters_of_the_sub_cases():
    assert wcp.clusters_of(wcp.MMAP_AT) == [3, 7, 8, 20]
    assert wcp.clusters_of(wcp.PWRITE_AT) == [40, 41]


def check(fn, lines, *args):
    return fn(list(wcp.parse_events(lines)), *args)


def test_preps():
    lines = []
    for c in (3, 7, 8, 20):
        lines += [prep(c * 16 + 1), prep_ret(16)]
    lines += [prep(5, ino=999), prep_ret(4)]                 # another file: ignored
    out, bad = check(wcp.check_preps, lines, INO, [3, 7, 8, 20])
    assert bad == [] and out == ["prepared clusters: 3(ret 16) 7(ret 16) 8(ret 16) 20(ret 16)"]
    out, bad = check(wcp.check_preps, lines[:-4], INO, [3, 7, 8, 20])
    assert bad == ["prepared clusters [3, 7, 8], expected [3, 7, 8, 20], each once"]
    out, bad = check(wcp.check_preps, lines + [prep(3 * 16), prep_ret(16)], INO, [3, 7, 8, 20])
    assert bad == ["prepared clusters [3, 3, 7, 8, 20], expected [3, 7, 8, 20], each once"]
    out, bad = check(wcp.check_preps, [prep(40 * 16), prep_ret(-5), prep(41 * 16), prep_ret(16)], INO, [40, 41])
    assert bad == ["cluster 40: returned -5, expected the cluster size 16"]
    out, bad = check(wcp.check_preps, [prep_ret(16)], INO, [])
    assert out == ["prepared clusters: none"] and bad == ["a return (16) without its call"]


def test_whole():
    lines = [wmp(40, sync=1), wmp(41, sync=1), wmp(2, nr=3, ino=999)]
    out, bad = check(wcp.check_whole, lines, INO, [40, 41])
    assert bad == [] and out == ["2 cluster writes of the file: 40(nr 16/16, sync 1) 41(nr 16/16, sync 1)"]
    out, bad = check(wcp.check_whole, [wmp(40, nr=4), wmp(40), wmp(41, nr=15)], INO, [40, 41])
    assert bad == ["cluster 40 written in part: nr_rpages 4 of 16",
                   "cluster 41 was not written whole by f2fs_write_multi_pages",
                   "cluster 41 written in part: nr_rpages 15 of 16"]


FIRST, LASTPAGE = 8, 16399                    # clusters 0 (half) .. 1024 (last)


def passes(*spans, first_budget=1024):
    """WB_SYNC_NONE passes writing clusters [a, b] each, the first one from half a cluster."""
    lines = []
    for k, (a, b) in enumerate(spans):
        lines.append(wdp(first_budget if k == 0 else 3072))
        lines += [wmp(c, nr=8 if c == 0 else 16) for c in range(a, b + 1)]
    return lines


def test_budget_passes_that_end_inside_the_file():
    lines = passes((0, 64), (65, 256), (257, 1024))
    out, bad = check(wcp.check_budget, lines, INO, FIRST, LASTPAGE, "patched")
    assert bad == [], out
    assert out[0] == "1025 WB_SYNC_NONE cluster writes (16392 pages) in 3 WB_SYNC_NONE passes of 3; 16392 pages were dirty"
    assert out[1] == ("  pass 0: budget 1024, 65 clusters 0..64; last one nr 16/16, nr_to_write 1000 when written"
                      "  (ended inside the file)")
    assert not out[3].endswith("(ended inside the file)")


def test_budget_failures():
    # A cluster inside the file written in part: a budget split it.
    lines = passes((0, 64), (65, 1024))
    lines.insert(10, wmp(9, nr=5))
    out, bad = check(wcp.check_budget, lines, INO, FIRST, LASTPAGE, "patched")
    assert bad == ["1 WB_SYNC_NONE cluster writes inside the file were partial: a budget split a cluster"]
    assert "  PARTIAL: cluster 9: nr_rpages 5 of 16, nr_to_write 1000" in out
    # No pass ended inside the file: required on patched, reported on stock.
    lines = passes((0, 1024), first_budget=1024)
    _, bad = check(wcp.check_budget, lines, INO, FIRST, LASTPAGE, "patched")
    assert bad == ["no WB_SYNC_NONE pass ended inside the file: the budget never ran out in a cluster"]
    out, bad = check(wcp.check_budget, lines, INO, FIRST, LASTPAGE, "stock")
    assert bad == [] and out[-1] == "  (no pass ended inside the file)"
    # A budget as big as the file proves nothing.
    _, bad = check(wcp.check_budget, passes((0, 64), (65, 1024), first_budget=20000), INO, FIRST, LASTPAGE, "stock")
    assert bad and bad[0].startswith("the first pass's budget (20000 pages) is not smaller than the file")
    # Nothing traced proves nothing; other files and WB_SYNC_ALL writes do not count.
    _, bad = check(wcp.check_budget, [wdp(1024, sync=1), wmp(3, sync=1), wdp(1024, ino=7), wmp(3, ino=7)],
                   INO, FIRST, LASTPAGE, "stock")
    assert bad == ["no WB_SYNC_NONE cluster write of the file was traced: the check proves nothing"]


def test_budget_orphans_are_reported():
    lines = [wmp(1, pid=9)] + passes((0, 64), (65, 1024))
    out, _ = check(wcp.check_budget, lines, INO, FIRST, LASTPAGE, "patched")
    assert out[0].endswith("; 1 cluster writes outside a traced pass")


def test_budget_write(tmp_path, capsys):
    f = tmp_path / "b.cz"
    assert wcp.main(["wb_cluster_paths.py", "budget-write", str(f), "8", "20"]) == 0
    data = f.read_bytes()
    assert len(data) == 28 * 4096 and data[:8 * 4096] == bytes(8 * 4096)
    assert data[8 * 4096:].startswith(b"page 00000008 of the cluster budget case")
    assert capsys.readouterr().out.strip() == hashlib.sha256(data).hexdigest()
    assert wcp.budget_data(8, 20) == data[8 * 4096:]
