"""The runner's exit-status tables (workloads/runner/errors.py) against the programs whose
statuses they explain: vm.sh and guest-init.sh (bash, whose numbers the runner keeps a
copy of) and the tracer (whose table the runner reads from loader/util.h)."""
import os
import re
import subprocess

from runner import errors, paths

LAB = os.path.join(paths.TOP, "kernel-patch", "lab")


def test_vm_statuses_are_vm_sh_s():
    with open(os.path.join(LAB, "vm.sh")) as f:
        ex = dict((n, int(v)) for n, v in re.findall(r"\bEX_([A-Z]+)=(\d+)", f.read()))
    assert {ex["SPLAT"], ex["TIMEOUT"], ex["NOREPORT"]} <= set(errors.VM_EXIT_MEANING)
    with open(os.path.join(LAB, "guest-init.sh")) as f:
        assert "echo 125 >" in f.read()     # insmod of the variant's module failed
    assert set(errors.VM_EXIT_MEANING) == {ex["SPLAT"], ex["TIMEOUT"], ex["NOREPORT"], 125}
    # the runner's own statuses pass through a session unexplained: they must not collide
    assert not set(errors.VM_EXIT_MEANING) & set(errors.EXIT_MEANING)


def test_tracer_statuses_come_from_loader_util_h():
    codes = errors.tracer_exits()
    names = {name: code for code, (name, _) in codes.items()}
    for name in errors.TRACER_NOT_STARTED + ("OK", "CMD", "DROPS"):
        assert name in names, f"loader/util.h has no WB_EXIT_{name}"
    assert names["OK"] == 0
    # the set-up failures the rep survives by running untraced: 2..8 when this was written
    assert sorted(names[n] for n in errors.TRACER_NOT_STARTED) == list(range(2, 9))
    assert errors.tracer_exit(names["PRIV"]) == ("PRIV", "not root")
    assert errors.tracer_exit(-2) == (None, None)


def test_help_lists_every_status_of_the_table():
    for sub, skip in (("run", ()), ("compare", (errors.EXIT_DEVICE,))):
        out = subprocess.run([paths.WBRUN_EXE, sub, "--help"], capture_output=True, text=True,
                             check=True).stdout
        para = " ".join(out[out.index("Exit status:"):].split())
        for code, meaning in errors.EXIT_MEANING.items():
            if code not in skip:
                assert f"{code} {meaning}" in para, (sub, code)
