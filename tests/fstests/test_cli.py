"""./wbtrace fstests: bad input is one clear error (exit 2), before anything is built."""
import datetime

import pytest
from fstests import cli, sections


@pytest.mark.parametrize("argv,message", [
    (["--variant", "blue", "generic/001"], "unknown variant 'blue'"),
    (["--section", "zstd", "generic/001"], "unknown section 'zstd'"),
    ([], "give either -g GROUP or test names"),
    (["-g", "quick", "generic/001"], "give either -g GROUP or test names"),
    (["generic/1"], "not a test name: generic/1"),
    (["-g", "quick;rm"], "not a group name"),
    (["--test-timeout", "5", "generic/001"], "at least 60"),
    (["--ledger", "--skip-done", "-g", "quick"], "--ledger boots nothing"),
    (["--max-tests", "0", "-g", "quick"], "at least 1"),
])
def test_bad_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.parse_args(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_good_usage():
    a = cli.parse_args(["--variant", "stock", "--section", "all", "f2fs/001", "generic/001"])
    assert a.sections == list(sections.SECTIONS) and "largefolio" in a.sections and a.tests == ["f2fs/001", "generic/001"]
    assert cli.parse_args(["-g", "f2fs/quick"]).group == "f2fs/quick"


def test_the_help_lists_every_exit_status_and_section(capsys):
    with pytest.raises(SystemExit) as e:
        cli.parse_args(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for code in cli.EXIT:
        assert f"  {code} " in out
    for name in ("plain", "compress", "largefolio"):
        assert f"  {name} " in out


def test_runs_started_in_the_same_second_get_their_own_results_dir(tmp_path):
    """Two ./wbtrace fstests started in one second (two chains of slices) once shared a
    stamp: the second died on the existing directory, and would have overwritten the
    first's ledger record."""
    now = datetime.datetime(2026, 12, 6, 16, 22, 14, tzinfo=datetime.timezone.utc)
    got = [cli.new_results_dir(str(tmp_path), now) for _ in range(3)]
    assert [stamp for _, stamp in got] == ["20261206-162214", "20261206-162214-2", "20261206-162214-3"]
    assert all(p.endswith(f"results/fstests-{s}") and (tmp_path / "results" / f"fstests-{s}").is_dir()
               for p, s in got)
