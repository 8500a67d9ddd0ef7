"""`./wbtrace fstests --jobs 2`: cli.boot_all() runs the variants' boots side by side and
stops every one of them on Ctrl-C.  vm.sh is replaced by a stub that waits for the other
variant's stub to have started (a rendezvous), so the test needs no timing: boots that ran
one after the other cannot meet."""
import argparse
import os
import signal
import stat
import threading
import time

import pytest

from fstests import cli

STUB = """#!/bin/bash
# vm.sh stand-in: run --variant V ...; meets the other variant, or exits 7.
v=$3
echo $$ >"$STUB_DIR/$v.pid"
other=stock; [ "$v" = stock ] && other=patched
for _ in $(seq 1 $((STUB_WAIT * 10))); do
	if [ -e "$STUB_DIR/$other.pid" ]; then
		echo "ok 1 generic/001 [$v plain] (1s)"
		[ -n "$STUB_HOLD" ] && exec sleep 300
		exit 0
	fi
	sleep 0.1
done
echo "$v: the other variant never started"
exit 7
"""


@pytest.fixture
def stub(tmp_path, monkeypatch):
    vm = tmp_path / "vm.sh"
    vm.write_text(STUB)
    vm.chmod(vm.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(cli, "VM", str(vm))
    monkeypatch.setenv("STUB_DIR", str(tmp_path))
    monkeypatch.setenv("STUB_WAIT", "60")
    return tmp_path


def _plan(tmp_path):
    return [(v, str(tmp_path / v), ["plain"], ["generic/001"], v) for v in ("stock", "patched")]


def _args(jobs):
    return argparse.Namespace(jobs=jobs, debug=False, test_timeout=60)


def test_two_jobs_boot_the_variants_side_by_side(stub, capsys):
    assert cli.boot_all(_plan(stub), str(stub), _args(2)) == [0, 0]
    out = capsys.readouterr().out
    assert "ok 1 generic/001 [stock plain]" in out and "ok 1 generic/001 [patched plain]" in out


def test_one_job_boots_them_one_after_the_other(stub, monkeypatch):
    monkeypatch.setenv("STUB_WAIT", "1")
    # stock cannot meet patched, which has not started; patched finds stock's pid file.
    assert cli.boot_all(_plan(stub), str(stub), _args(1)) == [7, 0]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_stops_both_guests(stub, monkeypatch):
    monkeypatch.setenv("STUB_HOLD", "1")
    pids = [stub / "stock.pid", stub / "patched.pid"]

    def interrupt():
        for _ in range(600):
            if all(p.exists() and p.read_text().strip() for p in pids):
                break
            time.sleep(0.1)
        time.sleep(0.5)                  # both relays are reading by now
        os.kill(os.getpid(), signal.SIGUSR1)

    old = signal.signal(signal.SIGUSR1, cli.on_signal)
    try:
        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(cli.Interrupted):
            cli.boot_all(_plan(stub), str(stub), _args(2))
    finally:
        signal.signal(signal.SIGUSR1, old)
    for p in pids:
        pid = int(p.read_text())
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.1)
        assert not _alive(pid), f"{p.name}: the stub guest still runs after Ctrl-C"


def test_jobs_takes_one_or_two(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--jobs", "3", "generic/001"])
    assert "--jobs takes 1 or 2" in capsys.readouterr().err
    assert cli.parse_args(["-j", "2", "generic/001"]).jobs == 2
