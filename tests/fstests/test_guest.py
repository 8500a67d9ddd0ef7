"""The guest side's reading of check's output, its hang report, and its refusal
to run on a host."""
import pytest
import sysio
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


def test_a_hang_report_goes_to_hang_section_txt_and_the_output(monkeypatch, tmp_path, capsys):
    # The report itself is sysio.hang_report()'s (tests/guest_py/test_sysio.py).
    calls = []

    def report(test, pid, limit):
        calls.append((test, pid, limit))
        return [f"{test}: no result after {limit}s; its processes:", "  pid 7 (sh) state D wchan x",
                "blocked tasks (sysrq w) and running CPUs (sysrq l):", "  [ 1.0] sysrq: Show Blocked State"]
    monkeypatch.setattr(sysio, "hang_report", report)
    path = tmp_path / "hang-plain.txt"
    guest.dump_hang(7, str(path), "generic/002", 60)
    assert calls == [("generic/002", 7, 60)]
    assert path.read_text().splitlines() == report("generic/002", 7, 60)
    assert capsys.readouterr().out.splitlines() == [
        "# generic/002: no result after 60s; its processes:", "#   pid 7 (sh) state D wchan x",
        "# blocked tasks (sysrq w) and running CPUs (sysrq l):", "#   [ 1.0] sysrq: Show Blocked State"]
