"""The guest side's reading of check's output, and its refusal to run on a host."""
import pytest
from fstests import guest


@pytest.mark.parametrize("line,name", [
    ("f2fs/001            47s", "f2fs/001"),
    ("generic/081        [not run] This test requires dm snapshot support", "generic/081"),
    ("generic/013 ", "generic/013"),                # the name alone, while the test runs
    ("SECTION       -- plain", None),
    ("MKFS_OPTIONS  -- /dev/vda", None),
    ("Ran: f2fs/001 generic/002", None),
    ("Xunit report: /r/results/plain/result.xml", None),
    ("generic/013", None),                          # not yet followed by the padding
])
def test_a_test_start_is_its_name_at_the_start_of_a_line(line, name):
    m = guest.TEST_START.match(line)
    assert (m.group(1) if m else None) == name


def test_it_refuses_to_run_outside_the_guest(monkeypatch, capsys):
    monkeypatch.delenv("WBTRACE_GUEST", raising=False)
    argv = ["--tree", "/nonexistent", "--out", "/nonexistent", "--sections", "plain",
            "--test-timeout", "60", "generic/001"]
    assert guest.main(argv) == 2
    assert "only inside the lab guest" in capsys.readouterr().err


def test_check_runs_with_device_mapper_making_its_own_nodes(monkeypatch):
    base = {"PATH": "/usr/bin", "HOST_OPTIONS": "/x/local.config"}
    env = guest.check_env(base)
    assert env["DM_DISABLE_UDEV"] == "1" and env["HOST_OPTIONS"] == "/x/local.config"
    assert "DM_DISABLE_UDEV" not in base
