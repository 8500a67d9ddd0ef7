"""tests/guest/lib.sh's tracer_exit: the tracer's exit statuses as the guest
scripts read them from loader/util.h, the same as the runner reads them
(workloads/runner/errors.py), and a name the table lacks refused."""
import os
import subprocess

from conftest import TOP
from runner import errors

LIB = os.path.join(TOP, "tests", "guest", "lib.sh")


def tracer_exit(tmp_path, name):
    script = tmp_path / "t.sh"
    script.write_text(f'. "{LIB}"\ntracer_exit "$1"\n')
    return subprocess.run(["bash", str(script), name], capture_output=True, text=True,
                          env={**os.environ, "WBTRACE_SCRATCH": "/dev/null"})


def test_tracer_exit_matches_the_runner(tmp_path):
    table = errors.tracer_exits()
    assert table[9][0] == "DROPS" and table[12][0] == "LOST"   # the ones the guest scripts use
    for code, (name, _) in table.items():
        p = tracer_exit(tmp_path, name)
        assert (p.returncode, p.stdout) == (0, f"{code}\n"), (name, p.stderr)


def test_tracer_exit_refuses_an_unknown_name(tmp_path):
    p = tracer_exit(tmp_path, "NO_SUCH_STATUS")
    assert p.returncode != 0 and not any(line.isdigit() for line in p.stdout.splitlines())
    assert "has no tracer exit status NO_SUCH_STATUS" in p.stderr
