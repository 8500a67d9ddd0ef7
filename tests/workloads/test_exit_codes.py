"""The runner's exit-status tables (workloads/runner/errors.py) against the programs whose
statuses they explain: the lab session (vm.sh, guest-init.sh; the runner reads their table,
kernel-patch/lab/exit-status.sh) and the tracer (whose table the runner reads from
loader/util.h)."""
import os
import re
import subprocess

from runner import errors, paths

LAB = os.path.join(paths.TOP, "kernel-patch", "lab")


def test_vm_statuses_come_from_their_table():
    names = {name: code for code, (name, _) in errors.vm_exits().items()}
    assert {"USAGE", "SETUP", "SPLAT", "TIMEOUT", "NOREPORT", "NOMODULE"} <= set(names)
    # a status both the runner and vm.sh use must mean the same to both
    assert names["USAGE"] == errors.EXIT_USAGE and names["SETUP"] == errors.EXIT_SETUP
    for code in set(errors.vm_exits()) - {errors.EXIT_USAGE, errors.EXIT_SETUP}:
        assert code not in errors.EXIT_MEANING, code
        assert errors.vm_exit_meaning(code) == errors.vm_exits()[code][1]
    assert errors.vm_exit_meaning(errors.EXIT_USAGE) is None     # the runner's to explain
    assert errors.vm_exit_meaning(7) is None                     # the command's own


def test_lab_scripts_name_their_statuses():
    # the table is the only place with the numbers: the scripts use EX_NAME
    codes = "|".join(str(c) for c in errors.vm_exits() if c >= 100)
    for script in ("vm.sh", "guest-init.sh"):
        with open(os.path.join(LAB, script)) as f:
            text = f.read()
        assert '. "' in text and "exit-status.sh" in text, f"{script} does not source the table"
        assert not re.search(rf"\b(wb_die|exit|echo) ({codes})\b", text), script
        assert not re.search(r"^EX_\w+=", text, re.M), f"{script} defines a status itself"


def test_vm_help_prints_the_table():
    out = subprocess.run([os.path.join(LAB, "vm.sh"), "--help"], capture_output=True,
                         text=True, check=True).stdout
    for code, (_, meaning) in errors.vm_exits().items():
        assert re.search(rf"^  {code} +{re.escape(meaning)}$", out, re.M), code


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
