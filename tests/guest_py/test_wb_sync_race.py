"""tests/guest/wb_sync_race.py: the tracing checks on traces written as tracefs
writes them (kprobe events, the f2fs_writepages tracepoint, trace_marker), and
the check of the fsynced files after recovery."""
import json

import filemodel
import wb_sync_race as wsr

F1, F2 = "0xffffea0000a1b200", "0xffffea0000a1b240"


def call(pid, folio, comm="python3"):
    return (f"         {comm}-{pid}     [001] ..... 101.000001: wbt_wsdp: "
            f"(f2fs_write_single_data_page+0x0/0x6a0 [f2fs]) folio={folio} sync=1")


def ret(pid, folio, caller="f2fs_write_cache_folios", comm="python3"):
    return (f"         {comm}-{pid}     [001] ..... 101.000002: wbt_wsdpr: "
            f"({caller}+0x2b4/0x700 [f2fs] <- f2fs_write_single_data_page) ret=-11 folio={folio}")


def stop(pid):
    return (f"   kworker/u4:3-{pid}     [000] ..... 101.000003: wbt_iter: "
            f"(writeback_iter+0x0/0x3b0) magic=0xf2f52010 sync=0 folio=0x0 err=-11")


def relock(pid, folio):
    return (f"         python3-{pid}     [001] ..... 101.000004: wbt_relock: "
            f"(f2fs_write_cache_folios+0x31c/0x700 [f2fs] <- f2fs_wb_relock_folio) ok=0 folio={folio}")


def writepages(pid, mode, comm="python3"):
    return (f"         {comm}-{pid}     [001] ..... 101.000000: f2fs_writepages: dev = (254,0), ino = 7, "
            f"REG, DATA, dirty_count = 10, nr_to_write 9223372036854775807, skipped 0, start 0, end 0, "
            f"wb_idx 0, sync_mode {mode}, for_kupdate 0, for_background 0, tagged_writepages 1, "
            f"for_reclaim 0, range_cyclic 0, for_sync 0")


def marker(text):
    return f"         python3-7      [000] ..... 102.0: tracing_mark_write: wbtest: {text}"


def good_trace():
    """An -EAGAIN under WB_SYNC_ALL retried, another released by the relock,
    the final fsync hitting one, a priority stop."""
    return [
        "# tracer: nop",
        writepages(7, 1), call(7, F1), ret(7, F1), call(7, F1),              # retried
        writepages(7, 1), call(7, F2), ret(7, F2), relock(7, F2),            # relocked, found clean
        writepages(30, 0), stop(30),
        marker(wsr.FINAL_START), writepages(7, 1), call(7, F1), ret(7, F1), call(7, F1),
        marker(wsr.FINAL_END),
    ]


def test_a_trace_with_everything_passes():
    out, ok = wsr.check_trace(good_trace(), "patched", 0)
    assert ok, out
    assert "  -EAGAIN retry: 2/3 WB_SYNC_ALL -EAGAIN returns were followed by a retry of the same folio" in out
    assert "  the fsync just before the shutdown got -EAGAIN 1 time(s)" in out
    assert "  of those not retried, f2fs_wb_relock_folio() found 1 truncated or already written" in out
    assert ("  priority stop: writeback_iter() was handed the -EAGAIN sentinel 1 time(s) "
            "for f2fs WB_SYNC_NONE passes") in out
    assert out[0].startswith("  writepages passes: {'WB_SYNC_ALL': 3, 'WB_SYNC_NONE': 1}")
    assert "returned into: ['f2fs_write_cache_folios']" in out[0]
    assert not any("FAIL" in x for x in out)


def test_stock_needs_no_priority_stop():
    trace = [x for x in good_trace() if "wbt_iter" not in x and "wbt_relock" not in x]
    trace = [x.replace("f2fs_write_cache_folios", "f2fs_write_cache_pages") for x in trace]
    out, ok = wsr.check_trace(trace, "stock", 0)
    assert ok, out
    assert "  priority stop: not observable on stock (the old loop has no probe point for it)" in out


def fails(trace, variant="patched", lost=0):
    out, ok = wsr.check_trace(trace, variant, lost)
    assert not ok
    return [x for x in out if x.startswith("  FAIL: ")]


def test_each_missing_state_fails():
    t = good_trace()
    assert fails([x for x in t if "wbtest" not in x]) == ["  FAIL: no trace marker for the final fsync"]
    final = t.index(marker(wsr.FINAL_START))
    no_final_eagain = t[:final + 1] + [writepages(7, 1), call(7, F1)] + t[-1:]
    assert fails(no_final_eagain) == [
        "  FAIL: the final fsync never hit a held f2fs_lock_op(): the shutdown check proves nothing"]
    no_stop = [x for x in t if "wbt_iter" not in x]
    assert fails(no_stop) == ["  FAIL: the WB_SYNC_NONE priority stop was never reached"]
    old_loop = [x.replace("f2fs_write_cache_folios", "f2fs_write_cache_pages") for x in t]
    assert fails(old_loop) == ["  FAIL: the old loop wrote non-compressed data"]
    no_retry = [x for x in t if x != call(7, F1)]
    assert "  FAIL: -EAGAIN under WB_SYNC_ALL was never retried" in fails(no_retry)
    no_eagain = [x for x in t if "wbt_wsdpr" not in x]
    assert ("  FAIL: no WB_SYNC_ALL data write hit a held f2fs_lock_op(): the retry path was not exercised"
            in fails(no_eagain, "stock"))


def test_an_eagain_neither_retried_nor_released_fails_unless_events_were_lost():
    t = [x for x in good_trace() if "wbt_relock" not in x]
    assert fails(t) == ["  FAIL: 1 -EAGAIN folio(s) neither retried nor released by the relock"]
    out, ok = wsr.check_trace(t, "patched", 5)
    assert ok and "  trace buffer overflowed (5 events lost): counts are lower bounds" in out
    out, ok = wsr.check_trace(t + ["CPU:1 [LOST 3 EVENTS]"], "patched", 0)
    assert ok and "  trace buffer overflowed (1 events lost): counts are lower bounds" in out


def test_eagain_in_a_background_pass_is_not_taken_for_sync_all():
    # The task's last WB_SYNC_ALL call was F1; then a WB_SYNC_NONE pass of the
    # same task returns -EAGAIN for F1: not a WB_SYNC_ALL -EAGAIN.
    t = [writepages(7, 1), call(7, F1), writepages(7, 0), ret(7, F1)]
    out, _ = wsr.check_trace(t, "stock", 0)
    assert "0 under WB_SYNC_ALL, 1 under WB_SYNC_NONE" in out[0]


def test_by_task_counts_kworkers_too():
    t = [writepages(99, 1, "kworker/u4:1"), call(99, F1, "kworker/u4:1"), ret(99, F1, comm="kworker/u4:1")]
    out, _ = wsr.check_trace(t, "stock", 0)
    assert "  WB_SYNC_ALL -EAGAIN by task: {'kworker/u4:1': 1} (python3: fsync; kworker: sync(2) and the flusher)" in out


def test_verify_after_recovery(tmp_path, capsys):
    (tmp_path / "fs").mkdir()
    (tmp_path / "fs" / "a").write_bytes(b"aaa")
    (tmp_path / "fs" / "b").write_bytes(b"bbb")
    res = tmp_path / "race.json"
    res.write_text(json.dumps({"fsynced": {"fs/a": filemodel.sha256(b"aaa"), "fs/b": filemodel.sha256(b"bbb")}}))
    assert wsr.verify(str(tmp_path), str(res)) == 0
    assert "2/2 fsynced files intact" in capsys.readouterr().out
    (tmp_path / "fs" / "b").write_bytes(b"bb")
    assert wsr.verify(str(tmp_path), str(res)) == 1
    assert "1/2 fsynced files intact; BAD: ['fs/b']" in capsys.readouterr().out
    (tmp_path / "fs" / "a").unlink()
    assert wsr.verify(str(tmp_path), str(res)) == 1
    res.write_text(json.dumps({"fsynced": {}}))
    assert wsr.verify(str(tmp_path), str(res)) == 1        # nothing known fsynced proves nothing
