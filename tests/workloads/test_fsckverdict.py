"""workloads/fsckverdict.py: the one verdict on an fsck.f2fs report."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "workloads"))
import fsckverdict  # noqa: E402

CLEAN = """Info: Fix the reported corruption.
Info: sector size = 512
[FSCK] Unreachable nat entries                       [Ok..] [0x0]
[FSCK] SIT valid block bitmap checking                [Ok..]
[FSCK] other corrupted node count                     [Ok..]
Info: fixing SIT types
Done: 0.123 secs
"""


def test_a_clean_report_passes():
    ok, why = fsckverdict.verdict(0, CLEAN)
    assert ok and why == "pass (3 checks [Ok..], none [Fail])"


@pytest.mark.parametrize("rc,report,says", [
    (0, CLEAN.replace("[Ok..] [0x0]", "[Fail] [0x5]"), "1 [Fail] line(s)"),
    (255, CLEAN, "exit 255"),
    (0, "Info: no f2fs found\n", "no [Ok..] lines: not a fsck report"),
    (0, CLEAN + "[FSCK] checkpoint state is inconsistent\n", "inconsistent"),
    (0, CLEAN + "Info: need to run fsck\n", "need to run fsck"),
])
def test_each_sign_of_trouble_fails(rc, report, says):
    ok, why = fsckverdict.verdict(rc, report)
    assert not ok and why.startswith("FAIL (") and says in why


def test_the_command_checks_without_repairing():
    assert fsckverdict.COMMAND == ("fsck.f2fs", "-f", "--dry-run")


def test_cli_usage_errors_do_nothing(capsys):
    assert fsckverdict.main(["fsckverdict.py"]) == 2
    assert fsckverdict.main(["fsckverdict.py", "--help"]) == 0
    assert "fsck.f2fs -f --dry-run" in capsys.readouterr().out
