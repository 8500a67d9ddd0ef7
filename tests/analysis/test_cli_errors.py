"""Bad input anywhere: one clear line on stderr, exit 2, never a traceback."""

import json
import os
import subprocess
import sys

import pytest

import synth
from analysis.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _err(capsys, argv, code=2):
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == code, (out, err)
    assert "Traceback" not in out + err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"wbtrace {argv[0]}: error: ")
    return lines[0]


@pytest.fixture
def dirs(tmp_path):
    d = {"a": synth.make_run(str(tmp_path / "a"), variant="stock"),
         "b": synth.make_run(str(tmp_path / "b"), variant="patched"),
         "other": synth.make_run(str(tmp_path / "o"), variant="patched", workload="randwrite")}
    (tmp_path / "empty").mkdir()
    d["empty"] = str(tmp_path / "empty")
    d["tmp"] = tmp_path
    return d


def _corrupt(path, text):
    with open(path, "w") as f:
        f.write(text)


@pytest.mark.parametrize("sub", ["compare", "report", "validate"])
def test_missing_dir(capsys, dirs, sub):
    msg = _err(capsys, [sub, str(dirs["tmp"] / "nope")] + ([dirs["b"]] if sub == "compare" else []))
    assert "no such file or directory" in msg


@pytest.mark.parametrize("sub", ["compare", "report", "validate"])
def test_not_a_result(capsys, dirs, sub):
    msg = _err(capsys, [sub, dirs["empty"]] + ([dirs["b"]] if sub == "compare" else []))
    assert "not a wbtrace result" in msg


@pytest.mark.parametrize("sub", ["compare", "report", "validate", "flamegraph"])
def test_corrupt_meta(capsys, dirs, sub):
    _corrupt(os.path.join(dirs["a"], "meta.json"), '{"schema": "wbtrace.run/1", ')
    args = [sub, dirs["a"]] + ([dirs["b"]] if sub == "compare" else [])
    assert "meta.json: corrupt JSON" in _err(capsys, args)


def test_foreign_schema(capsys, dirs):
    _corrupt(os.path.join(dirs["a"], "meta.json"), json.dumps({"schema": "lkp.result/3"}))
    assert 'foreign schema "lkp.result/3"' in _err(capsys, ["compare", dirs["a"], dirs["b"]])


def test_not_fio_json(capsys, dirs):
    _corrupt(os.path.join(dirs["b"], "fio.json"), json.dumps({"hello": 1}))
    assert "not fio JSON output" in _err(capsys, ["validate", dirs["b"]])


def test_mismatched_workloads(capsys, dirs):
    assert "mismatched workloads" in _err(capsys, ["compare", dirs["a"], dirs["other"]])
    assert "mismatched workloads" in _err(capsys, ["report", dirs["a"], dirs["other"]])


def test_compare_argument_shapes(capsys, dirs):
    assert "need exactly two variants" in _err(capsys, ["compare", dirs["a"]])
    assert "give one comparison dir" in _err(capsys, ["compare", dirs["a"], dirs["b"], dirs["a"]])


def test_flamegraph_inputs(capsys, dirs):
    assert "no stacks.folded" in _err(capsys, ["flamegraph", dirs["a"], "-o",
                                               str(dirs["tmp"] / "x.svg")])
    _corrupt(os.path.join(dirs["a"], "stacks.folded"), "# nothing here\n")
    assert "empty profile" in _err(capsys, ["flamegraph", dirs["a"], "-o",
                                            str(dirs["tmp"] / "x.svg")])
    _corrupt(os.path.join(dirs["a"], "stacks.folded"), "a;b 1\nbroken\n")
    assert "stacks.folded:2:" in _err(capsys, ["flamegraph", dirs["a"]])
    assert not os.path.exists(dirs["tmp"] / "x.svg")


def test_unwritable_output(capsys, dirs):
    _corrupt(os.path.join(dirs["a"], "stacks.folded"), "a;b 1\n")
    blocker = dirs["tmp"] / "file"
    blocker.write_text("")
    assert "cannot write" in _err(capsys, ["flamegraph", dirs["a"], "-o",
                                           str(blocker / "sub" / "x.svg")])


def test_empty_trace_metric_reads_as_no_data(capsys, dirs):
    from analysis.stats import dist_from_values
    p = os.path.join(dirs["b"], "trace", "summary.json")
    with open(p) as f:
        s = json.load(f)
    s["metrics"]["folio_latency_ns"] = dist_from_values([])
    _corrupt(p, json.dumps(s))
    assert main(["validate", dirs["b"]]) == 0
    capsys.readouterr()


def test_validate_ok(capsys, dirs):
    assert main(["validate", dirs["a"], dirs["b"]]) == 0
    assert "valid (stock: 1 run(s))" in capsys.readouterr().out


def test_process_level_exit_codes(dirs):
    """The real `python3 -m analysis` process: exit status and stderr, no traceback."""
    _corrupt(os.path.join(dirs["a"], "fio.json"), "garbage")
    for argv, code in ((["compare", dirs["a"], dirs["b"]], 2),
                       (["compare", "--bogus-option"], 2),
                       (["gate", dirs["a"], dirs["b"]], 2),
                       (["validate", dirs["b"]], 0)):
        p = subprocess.run([sys.executable, "-m", "analysis", *argv], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == code, (argv, p.stderr)
        assert "Traceback" not in p.stderr + p.stdout
    assert "fio.json: corrupt JSON" in subprocess.run(
        [sys.executable, "-m", "analysis", "compare", dirs["a"], dirs["b"]], cwd=ROOT,
        capture_output=True, text=True, timeout=60).stderr


def test_help_for_every_subcommand(capsys):
    for sub in ("compare", "gate", "flamegraph", "report", "validate"):
        with pytest.raises(SystemExit) as e:
            main([sub, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: wbtrace {sub}")
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    assert "1  regression" in capsys.readouterr().out
