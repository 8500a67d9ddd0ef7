"""The fstests outcome reading, the stock/patched comparison and the summary."""
import re

import pytest
from fstests import results as r
from synth import boot, case

SPLAT = re.compile(r"WARNING:|BUG:|Oops|hung_task")


def load(path, sections=("plain",)):
    return r.load_boot(str(path), list(sections), SPLAT)


def test_parse_junit_statuses_times_and_reasons(tmp_path):
    boot(tmp_path, {"plain": [case("generic/001", seconds=12),
                              case("f2fs/002", "notrun", 0, "encryption not supported by the kernel"),
                              case("generic/013", "fail", 40, "- output mismatch (see 013.out.bad)")]})
    got = r.parse_junit(tmp_path / "results" / "plain" / "result.xml")
    assert [(t.name, t.status, t.seconds) for t in got] == [
        ("generic/001", "pass", 12), ("f2fs/002", "notrun", 0), ("generic/013", "fail", 40)]
    assert got[1].reason == "encryption not supported by the kernel"
    assert got[2].reason.startswith("- output mismatch")


def test_parse_junit_missing_or_half_written_is_empty(tmp_path):
    assert r.parse_junit(tmp_path / "none.xml") == []
    (tmp_path / "half.xml").write_text("<testsuite><testcase name='x'")
    assert r.parse_junit(tmp_path / "half.xml") == []


def test_progress_lines():
    assert r.progress_line(1, r.Outcome("generic/001", "pass", 9), "stock", "plain") == \
        "ok 1 generic/001 [stock plain] (9s)"
    assert r.progress_line(2, r.Outcome("f2fs/002", "notrun", 0, "no fscrypt"), "stock", "plain") == \
        "ok 2 f2fs/002 [stock plain] (0s) # SKIP no fscrypt"
    assert r.progress_line(3, r.Outcome("generic/013", "fail", 5, "mismatch"), "patched", "compress") == \
        "not ok 3 generic/013 [patched compress] (5s): mismatch"


def test_a_splat_fails_the_test_it_happened_in(tmp_path):
    console = ("[ 1.0] run fstests generic/001 at 2026-12-05 08:00:00\n"
               "[ 2.0] all fine\n"
               "[ 3.0] run fstests generic/002 at 2026-12-05 08:01:00\n"
               "[ 3.5] WARNING: CPU: 1 PID: 7 at fs/f2fs/data.c:100 f2fs_write_end\n")
    boot(tmp_path, {"plain": [case("generic/001"), case("generic/002")]}, console=console)
    tests, _ = load(tmp_path)
    assert tests["plain"]["generic/001"].status == "pass"
    t = tests["plain"]["generic/002"]
    assert t.status == "fail" and t.reason.startswith("kernel splat: ") and "f2fs_write_end" in t.splats[0]


def test_a_hung_test_and_a_section_that_did_not_run(tmp_path):
    state = {"sections": {"plain": {"ran": True, "hung": "generic/013", "hung_after_s": 900},
                          "compress": {"ran": False, "why_not": "generic/013 hung in section plain"}}}
    boot(tmp_path, {"plain": [case("generic/001")]}, state=state)
    tests, notes = load(tmp_path, ("plain", "compress"))
    assert tests["plain"]["generic/013"].status == "hung"
    assert "hung" in notes["plain"] and notes["compress"] == "generic/013 hung in section plain"
    assert tests["compress"] == {}


@pytest.mark.parametrize("s1,p1,s2,p2,verdict", [
    ("pass", "pass", None, None, None),
    ("fail", "fail", None, None, None),                     # fails on both: not a difference
    ("pass", "fail", "pass", "fail", r.REGRESSION),
    ("pass", "hung", "pass", "hung", r.REGRESSION),
    ("pass", "fail", "pass", "pass", r.FLAKE),              # patched passed the rerun
    ("pass", "fail", "fail", "fail", r.FLAKE),              # stock failed the rerun
    ("pass", "fail", None, None, r.UNCONFIRMED),            # no rerun: counted as a regression
    ("fail", "pass", "fail", "pass", r.STOCK_ONLY),
    ("fail", "pass", "pass", "pass", r.FLAKE),
    ("notrun", "pass", "notrun", "pass", r.OTHER),
])
def test_classify(s1, p1, s2, p2, verdict):
    assert r.classify(s1, p1, s2, p2) == verdict


def two_boots(tmp_path, stock_cases, patched_cases):
    s = load(boot(tmp_path / "stock", {"plain": stock_cases}))[0]
    p = load(boot(tmp_path / "patched", {"plain": patched_cases}))[0]
    return s, p


META = {"variants": ["stock", "patched"], "sections": ["plain"], "test_args": ["generic/001"],
        "source_name": "fstests-test.tar.gz"}


def test_a_regression_is_named_and_fails_the_run(tmp_path):
    s, p = two_boots(tmp_path, [case("generic/001"), case("generic/002"), case("generic/003", "fail", 1, "x")],
                     [case("generic/001"), case("generic/002", "fail", 2, "mismatch"), case("generic/003", "fail", 1, "x")])
    assert r.differing(s, p) == {"plain": ["generic/002"]}
    rs, rp = two_boots(tmp_path / "re", [case("generic/002")], [case("generic/002", "fail", 2, "mismatch")])
    summary = r.summarize(["stock", "patched"], {"stock": s, "patched": p}, {"stock": rs, "patched": rp}, {}, META)
    assert summary["regressions"] == ["plain:generic/002"]
    assert summary["sections"]["plain"]["tests"]["generic/003"].get("verdict") is None  # fails on both
    assert r.exit_status(summary) == 1
    text = r.render_text(summary)
    assert "REGRESSION: generic/002" in text and "regressions: plain:generic/002" in text


def test_a_flake_is_said_and_does_not_fail_the_run(tmp_path):
    s, p = two_boots(tmp_path, [case("generic/001")], [case("generic/001", "fail", 2, "mismatch")])
    rs, rp = two_boots(tmp_path / "re", [case("generic/001")], [case("generic/001")])
    summary = r.summarize(["stock", "patched"], {"stock": s, "patched": p}, {"stock": rs, "patched": rp}, {}, META)
    assert summary["flakes"] == ["plain:generic/001"] and summary["regressions"] == []
    assert r.exit_status(summary) == 0
    assert "FLAKE: generic/001" in r.render_text(summary)


def test_stock_only_failures_are_listed_not_regressions(tmp_path):
    s, p = two_boots(tmp_path, [case("generic/042", "fail", 2, "mount busy")], [case("generic/042")])
    rs, rp = two_boots(tmp_path / "re", [case("generic/042", "fail", 2, "mount busy")], [case("generic/042")])
    summary = r.summarize(["stock", "patched"], {"stock": s, "patched": p}, {"stock": rs, "patched": rp}, {}, META)
    assert summary["stock_only"] == ["plain:generic/042"] and r.exit_status(summary) == 0


def test_every_not_run_test_is_listed_with_its_reason(tmp_path):
    s, p = two_boots(tmp_path, [case("f2fs/002", "notrun", 0, "fscrypt not in the kernel"),
                                case("generic/081", "notrun", 0, "This test requires dm flakey")],
                     [case("f2fs/002", "notrun", 0, "fscrypt not in the kernel"),
                      case("generic/081", "notrun", 0, "This test requires dm flakey")])
    text = r.render_text(r.summarize(["stock", "patched"], {"stock": s, "patched": p}, {}, {}, META))
    for v in ("stock", "patched"):
        assert f"{v} not run: f2fs/002: fscrypt not in the kernel" in text
        assert f"{v} not run: generic/081: This test requires dm flakey" in text


def test_one_variant_fails_on_a_failed_test(tmp_path):
    meta = dict(META, variants=["patched"])
    p = load(boot(tmp_path, {"plain": [case("generic/001"), case("generic/002", "fail", 1, "x")]}))[0]
    assert r.exit_status(r.summarize(["patched"], {"patched": p}, {}, {}, meta)) == 1
    p = load(boot(tmp_path / "ok", {"plain": [case("generic/001"), case("f2fs/002", "notrun", 0, "why")]}))[0]
    assert r.exit_status(r.summarize(["patched"], {"patched": p}, {}, {}, meta)) == 0


def test_check_that_stops_before_any_test_is_missing_results_not_a_pass(tmp_path):
    state = {"sections": {"plain": {"ran": True, "check_exit": 1, "started": [], "hung": None,
                                    "broken": "check exited 1 before any test: could not mount /dev/vdb"}}}
    p = load(boot(tmp_path, {"plain": []}, state=state))
    meta = dict(META, variants=["patched"])
    summary = r.summarize(["patched"], {"patched": p[0]}, {}, {"patched": p[1]}, meta)
    assert r.exit_status(summary) == 4
    assert "MISSING RESULTS: patched plain: did not run: check exited 1" in r.render_text(summary)
