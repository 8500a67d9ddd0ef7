"""The fstests ledger: records from summaries, pooling only like conditions, coverage
of a group, the tests still to run."""
import json
import re

from fstests import cli, ledger, results as r
from synth import boot, case

SPLAT = re.compile(r"WARNING:|BUG:")
PATHS = {"KERNEL_DIR": "/c/kernel-5f28", "BZIMAGE": "/c/kernel-5f28/bzImage",
         "MODULE_STOCK": "/c/f2fs-7022-stock/f2fs.ko", "MODULE_PATCHED": "/c/f2fs-4c6a-patched/f2fs.ko",
         "MODULE_CANARY": "/c/f2fs-8fda-canary/f2fs.ko"}
BOTH = ["stock", "patched"]


def cond(**kw):
    paths = dict(PATHS, **kw)
    return ledger.conditions_from_paths(paths, "ab" * 32, False)


def summary(tmp_path, stamp, stock, patched, section="plain", rerun=None):
    """A run's summary, built by results.summarize() from synthetic boots."""
    first = {}
    for v, cases in (("stock", stock), ("patched", patched)):
        d = tmp_path / f"{stamp}-{v}"
        d.mkdir()
        first[v], _ = r.load_boot(str(boot(d, {section: cases})), [section], SPLAT)
    reruns = {}
    for v, cases in (rerun or {}).items():
        d = tmp_path / f"{stamp}-rerun-{v}"
        d.mkdir()
        reruns[v], _ = r.load_boot(str(boot(d, {section: cases})), [section], SPLAT)
    meta = {"variants": BOTH, "sections": [section], "test_args": ["-g", "quick"],
            "source_name": "fstests", "started": stamp}
    return r.summarize(BOTH, first, reruns, {}, meta)


def test_conditions_are_the_cache_keys_of_the_lab_products():
    c = cond()
    assert c.kernel == "kernel-5f28"
    assert c.module("stock") == "f2fs-7022-stock" and c.module("patched") == "f2fs-4c6a-patched"
    assert ledger.Conditions.from_dict(json.loads(json.dumps(c.as_dict()))) == c


def test_a_new_patched_module_does_not_count_for_patched_but_stock_still_does():
    old = cond()
    new = cond(MODULE_PATCHED="/c/f2fs-9999-patched/f2fs.ko")
    assert not new.covers(old, ["patched"]) and new.covers(old, ["stock"])
    assert not new.covers(old, BOTH)
    assert not cond(KERNEL_DIR="/c/kernel-other").covers(old, ["stock"])
    other_src = ledger.conditions_from_paths(PATHS, "cd" * 32, False)
    debug = ledger.conditions_from_paths(PATHS, "ab" * 32, True)
    assert not other_src.covers(old, ["stock"]) and not debug.covers(old, ["stock"])


def test_record_keeps_each_variant_and_the_verdict(tmp_path):
    s = summary(tmp_path, "20261206-050000",
                [case("generic/001"), case("generic/002")],
                [case("generic/001"), case("generic/002", "fail", 4, "x" * 500)],
                rerun={"stock": [case("generic/002")], "patched": [case("generic/002")]})
    rec = ledger.record_from_summary(s, cond(), "abc123")
    row = rec["sections"]["plain"]["generic/002"]
    assert row["stock"]["status"] == "pass" and row["patched"]["status"] == "fail"
    assert row["patched_rerun"]["status"] == "pass" and row["verdict"] == r.FLAKE
    assert len(row["patched"]["reason"]) == ledger.REASON_MAX
    assert rec["commit"] == "abc123" and rec["conditions"]["modules"]["patched"] == "f2fs-4c6a-patched"
    path = ledger.write_record(str(tmp_path), rec)
    assert path.endswith("results/fstests-ledger/20261206-050000.json")
    assert ledger.load_records(str(tmp_path))[0]["sections"] == rec["sections"]


def test_latest_pools_like_conditions_newest_wins_and_reports_flakes(tmp_path):
    top = str(tmp_path / "repo")
    old = cond(MODULE_PATCHED="/c/f2fs-0000-patched/f2fs.ko")
    # An old series failed generic/007 on patched: no evidence for the current one; its
    # stock outcome (same stock module) still counts.
    ledger.write_record(top, ledger.record_from_summary(
        summary(tmp_path, "20261201-000000", [case("generic/007")], [case("generic/007", "fail")]),
        old, "c0"))
    ledger.write_record(top, ledger.record_from_summary(
        summary(tmp_path, "20261205-000000", [case("generic/001"), case("generic/002", "fail")],
                [case("generic/001"), case("generic/002", "fail")]), cond(), "c1"))
    # A newer run of generic/002 passes on both; a flake on generic/003.
    ledger.write_record(top, ledger.record_from_summary(
        summary(tmp_path, "20261206-000000", [case("generic/002"), case("generic/003")],
                [case("generic/002"), case("generic/003", "fail")],
                rerun={"stock": [case("generic/003")], "patched": [case("generic/003")]}), cond(), "c2"))
    done, used, other, flaky = ledger.latest(ledger.load_records(top), cond(), BOTH)
    assert (used, other) == (3, {"stock": 0, "patched": 1})   # the old record's patched half
    assert done["plain"]["generic/007"] == {"stock": "pass"}
    assert done["plain"]["generic/001"] == {"stock": "pass", "patched": "pass"}
    assert done["plain"]["generic/002"] == {"stock": "pass", "patched": "pass"}
    assert done["plain"]["generic/003"] == {"stock": "pass", "patched": "pass"}   # the rerun's
    assert flaky == {"plain": {"generic/003"}}
    # Patched alone: the old record does not count at all.
    done_p, used_p, other_p, _ = ledger.latest(ledger.load_records(top), cond(), ["patched"])
    assert (used_p, other_p) == (2, {"patched": 1}) and "generic/007" not in done_p["plain"]


def test_coverage_compares_the_pass_sets():
    done = {"plain": {"generic/001": {"stock": "pass", "patched": "pass"},
                      "generic/002": {"stock": "pass", "patched": "fail"},
                      "generic/003": {"stock": "fail", "patched": "fail"},
                      "generic/004": {"stock": "hung", "patched": "pass"},
                      "generic/005": {"stock": "notrun", "patched": "pass"},
                      "generic/006": {"stock": "pass"}}}
    tests = [f"generic/00{i}" for i in range(1, 9)]
    cov = ledger.coverage(tests, done, ["plain", "compress"], BOTH, {"plain": {"generic/001", "xfs/001"}})
    p = cov["plain"]
    assert (p["tests"], p["complete"], p["partial"], p["missing"]) == (8, 5, 1, 2)
    assert p["patched_bad_stock_pass"] == ["generic/002"]
    assert p["bad_on_both"] == ["generic/003"]
    assert p["stock_bad_patched_pass"] == ["generic/004"]
    assert p["other_differences"] == ["generic/005"]
    assert p["same_outcome"] == 2 and p["flaky"] == ["generic/001"]
    assert p["counts"]["stock"] == {"pass": 2, "fail": 1, "notrun": 1, "hung": 1}
    assert cov["compress"]["missing"] == 8 and cov["compress"]["complete"] == 0
    text = ledger.render_coverage(cov, "-g quick (8 tests)", cond(), 3, {"stock": 0, "patched": 1}, BOTH)
    assert "== section plain: 5 of 8 on stock and patched, 1 on one only, 2 not yet ==" in text
    assert "fail on patched, pass on stock: generic/002" in text
    assert "flaky (a rerun did not repeat a difference): generic/001" in text
    assert "3 run(s) under the current conditions" in text
    assert "not counted, made under other conditions: 0 run(s) of stock, 1 run(s) of patched" in text


def test_not_done_needs_every_section_and_variant():
    done = {"plain": {"generic/001": {"stock": "pass", "patched": "pass"},
                      "generic/002": {"stock": "pass"}},
            "compress": {"generic/001": {"stock": "pass", "patched": "pass"}}}
    tests = ["generic/001", "generic/002", "generic/003"]
    assert ledger.not_done(tests, done, ["plain"], BOTH) == ["generic/002", "generic/003"]
    assert ledger.not_done(tests, done, ["plain"], ["stock"]) == ["generic/003"]
    assert ledger.not_done(tests, done, ["plain", "compress"], ["stock"]) == ["generic/002", "generic/003"]


def test_group_tests_reads_generic_and_f2fs_group_lists(tmp_path):
    for d, body in (("generic", "# comment\n\n001 rw auto quick\n002 auto\n003 quick\n"),
                    ("f2fs", "001 auto quick\n"), ("xfs", "001 auto quick\n")):
        (tmp_path / "tests" / d).mkdir(parents=True)
        (tmp_path / "tests" / d / "group.list").write_text(body)
    assert ledger.group_tests(str(tmp_path), "quick") == ["generic/001", "generic/003", "f2fs/001"]
    assert ledger.group_tests(str(tmp_path), "f2fs/quick") == ["f2fs/001"]
    assert ledger.group_tests(str(tmp_path), "auto") == ["generic/001", "generic/002", "f2fs/001"]
    assert ledger.group_tests(str(tmp_path), "nosuch") == []


def test_ledger_options_parse():
    a = cli.parse_args(["-g", "quick", "--skip-done", "--max-tests", "40", "--section", "plain,compress"])
    assert a.skip_done and a.max_tests == 40 and a.sections == ["plain", "compress"]
    assert cli.parse_args(["--ledger", "-g", "quick"]).ledger
