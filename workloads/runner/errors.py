"""Exit statuses and the exceptions that carry them.

The runner's own statuses are one table, EXIT_MEANING: `--help` prints it and the host
side uses it to say why a guest session ended.  The statuses of the programs the runner
starts belong to them and are read where they are defined: vm.sh's from
kernel-patch/lab/exit-status.sh, the tracer's from loader/util.h."""

import functools
import os
import re
import textwrap

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_SETUP, EXIT_DEVICE, EXIT_INTR = 0, 1, 2, 3, 4, 130
EXIT_MEANING = {
    EXIT_OK: "every rep verified",
    EXIT_FAIL: "a rep failed",
    EXIT_USAGE: "bad usage",
    EXIT_SETUP: "set-up missing",
    EXIT_DEVICE: "device refused",
    EXIT_INTR: "interrupted",
}


def exit_status_help(details, codes=tuple(EXIT_MEANING)):
    """The 'Exit status:' paragraph of a command's --help; `details` adds to a code's
    meaning what is particular to that command."""
    glue = "\u00a0"                 # no line break between a code and its first word
    parts = [f"{c}{glue}{EXIT_MEANING[c]}" + (f" {details[c]}" if c in details else "")
             for c in codes]
    return textwrap.fill("Exit status: " + "; ".join(parts) + ".", width=80).replace(glue, " ")


@functools.lru_cache(maxsize=None)
def vm_exits():
    """{code: (NAME, meaning)} of the statuses a lab session (kernel-patch/lab/vm.sh) ends
    with besides its command's own, from their table, kernel-patch/lab/exit-status.sh."""
    from .paths import TOP          # paths needs this module's SetupError first
    path = os.path.join(TOP, "kernel-patch", "lab", "exit-status.sh")
    with open(path) as f:
        rows = re.findall(r"^EX_(\w+)=(\d+) # (.+)$", f.read(), re.M)
    if not rows:
        raise RuntimeError(f"{path}: no EX_NAME=CODE # meaning lines")
    return {int(code): (name, what) for name, code, what in rows}


def vm_exit_meaning(rc):
    """Why a lab session ended with `rc`, when vm.sh (not its command) chose it; else None.
    Statuses the runner shares with vm.sh (usage, set-up) are the runner's to explain."""
    if rc in EXIT_MEANING:
        return None
    return vm_exits().get(rc, (None, None))[1]


# Tracer statuses (loader/util.h names) that mean it never started the command: the rep
# then runs untraced.
TRACER_NOT_STARTED = ("USAGE", "PRIV", "NO_BTF", "NO_F2FS", "PROBE", "OLD_KERNEL", "LOAD")


@functools.lru_cache(maxsize=None)
def tracer_exits():
    """{code: (NAME, meaning)} of wbtrace-trace, from the WB_EXIT_CODES table in
    loader/util.h (read when a tracer has exited, so a runner that never traces does
    not need loader/)."""
    from .paths import TOP          # paths needs this module's SetupError first
    path = os.path.join(TOP, "loader", "util.h")
    with open(path) as f:
        rows = re.findall(r'X\((\w+),\s*(\d+),\s*"([^"]*)"\)', f.read())
    if not rows:
        raise RuntimeError(f"{path}: no WB_EXIT_CODES table")
    # The short meaning: the header's without its parenthesised details.
    return {int(code): (name, re.sub(r"\s*\([^)]*\)", "", what)) for name, code, what in rows}


def tracer_exit(rc):
    """(NAME, meaning) of a tracer exit status, (None, None) for one it does not define."""
    return tracer_exits().get(rc, (None, None))


class WbError(Exception):
    code = EXIT_FAIL


class UsageError(WbError):
    code = EXIT_USAGE


class SetupError(WbError):
    code = EXIT_SETUP


class DeviceError(WbError):
    code = EXIT_DEVICE


class RepError(Exception):
    """A rep failed (workload or set-up step); the run goes on to clean-up and evidence."""
