"""`./wbtrace compare`: the dispatcher sends `compare WORKLOAD ...` to the workload runner
(stock vs patched in the lab guest) and `compare RESULT...` to the analysis, as before.

`--help` shows which program got the command line without booting anything: the runner's
help has WORKLOAD and --reps, the analysis' has RESULT and --alpha."""
import os
import subprocess

import pytest

from runner import paths

WBTRACE = os.path.join(paths.TOP, "wbtrace")
ENV = dict(os.environ, WBTRACE_GUEST="")


def routed(*args, cwd=None):
    p = subprocess.run([WBTRACE, "compare", "--help", *args], capture_output=True, text=True,
                       env=ENV, timeout=120, cwd=cwd or paths.TOP)
    assert p.returncode == 0, p.stderr
    runner = "WORKLOAD" in p.stdout and "--reps" in p.stdout
    analysis = "RESULT" in p.stdout and "--alpha" in p.stdout
    assert runner != analysis, p.stdout
    return "runner" if runner else "analysis"


@pytest.mark.parametrize("args", [
    ["fio-randwrite"],
    ["fio-compress", "--reps", "5"],
    ["--reps", "3", "fio-randwrite"],            # an option value is not the first argument
    ["--size", "2M", "-o", "results/x", "fio-seqwrite", "--quiet"],
    ["-q", "--", "fio-mmap"],
    ["--until-decided", "6", "fio-randwrite"],   # its value is not the workload either
])
def test_workload_name_goes_to_the_runner(args):
    assert routed(*args) == "runner"


@pytest.mark.parametrize("args", [
    ["results/cmp-a"],                           # one comparison dir
    ["results/run-a", "results/run-b"],          # BASELINE CANDIDATE
    ["results/cmp-x:stock", "results/cmp-x:patched"],
    ["--json", "fio-randwrite", "results/a", "results/b"],   # --json's value, not a workload
    ["--alpha", "0.1", "a", "b"],
    ["workloads/fio-randwrite"],                 # a path, not a name
    ["fio-nosuch"],                              # no such job file
])
def test_result_dirs_go_to_the_analysis(args):
    assert routed(*args) == "analysis"


def test_bare_compare_help_explains_both_forms():
    p = subprocess.run([WBTRACE, "compare", "--help"], capture_output=True, text=True, env=ENV,
                       timeout=120)
    assert p.returncode == 0
    assert "two forms" in p.stdout and "--reps" in p.stdout and "--alpha" in p.stdout


def test_a_workload_name_routes_from_any_cwd(tmp_path):
    assert routed("fio-randwrite", cwd=str(tmp_path)) == "runner"


def test_compare_workload_usage_errors_are_the_runners():
    p = subprocess.run([WBTRACE, "compare", "fio-randwrite", "--reps", "0"], capture_output=True,
                       text=True, env=ENV, timeout=120)
    assert p.returncode == 2
    assert "--reps must be at least 1" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("args,msg", [
    (["fio-nosuch"], "unknown workload 'fio-nosuch'"),
    (["--reps", "x"], "--reps needs a whole number of at least 1"),
    (["--reps", "0"], "--reps needs a whole number of at least 1"),
    (["--reps"], "--reps needs a value"),
    (["--size", "-1"], "--size: cannot read '-1'"),
    (["--size", "0"], "--size: must be more than 0"),
    (["--size"], "--size needs a value"),
    (["-o"], "-o needs a value"),
    (["--frobnicate"], "unknown option --frobnicate"),
    (["--until-decided", "x"], "--until-decided needs a whole number, not 'x'"),
    (["--until-decided", "2"], "--until-decided must be at least 3"),
    (["--until-decided", "4"], "--until-decided 4 is below --reps 5"),
    (["--until-decided"], "--until-decided needs a value"),
])
@pytest.mark.parametrize("with_output", [True, False])
def test_bench_bad_input(args, msg, with_output, tmp_path):
    """`wbtrace bench` refuses bad input with one line, before it boots or makes anything."""
    out = tmp_path / "bench"
    results = os.path.join(paths.TOP, "results")
    before = set(os.listdir(results))
    p = subprocess.run([WBTRACE, "bench", *(["-o", str(out)] if with_output else []), *args],
                       capture_output=True, text=True, env=ENV, timeout=60)
    assert p.returncode == 2 and msg in p.stderr, (p.returncode, p.stderr)
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not out.exists()
    assert set(os.listdir(results)) == before, "bench left something in results/"


def test_bench_help():
    p = subprocess.run([WBTRACE, "bench", "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "digest" in p.stdout and "--reps" in p.stdout


def test_compare_any_two_variants_dry_run():
    """--baseline/--candidate pick the two variants (the canary proves the gate); the dry
    run names them and boots nothing."""
    p = subprocess.run([WBTRACE, "compare", "fio-randwrite", "--baseline", "stock",
                        "--candidate", "canary", "--dry-run"], capture_output=True, text=True,
                       env=ENV, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("fio-randwrite: stock and canary, 3 rep(s) each"), p.stdout


@pytest.mark.parametrize("args,msg", [
    (["--baseline", "stock", "--candidate", "stock"], "an A/A noise check"),
    (["--candidate", "blue"], "invalid choice: 'blue'"),
])
def test_compare_variant_usage_errors(args, msg):
    p = subprocess.run([WBTRACE, "compare", "fio-randwrite", *args, "--dry-run"],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 2 and msg in p.stderr, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr


def test_compare_plan_names_the_chosen_variants(tmp_path):
    """The plan `analysis new-cmp` writes for stock vs canary: cmp.json's sides and an
    interleaved run order (A B, B A, ...) over the two."""
    from analysis import schema
    from runner import compare
    top = str(tmp_path / "cmp")
    plan = compare.compare_plan(top, "fio-randwrite", 3, "stock", "canary")
    assert [(v, r) for v, r, _ in plan] == [("stock", 1), ("canary", 1), ("canary", 2),
                                            ("stock", 2), ("stock", 3), ("canary", 3)]
    cmp = schema.load_cmp(top)
    assert (cmp["baseline"], cmp["candidate"]) == ("stock", "canary")
    assert all(d == schema.rep_dir(top, v, r) for v, r, d in plan)
