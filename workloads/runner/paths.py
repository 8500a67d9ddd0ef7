"""Where the runner finds the repo's programs and puts results, and the one refusal
for each program it cannot do without."""

import os
import shutil

from .errors import SetupError

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WL_DIR = os.path.join(TOP, "workloads")
WBRUN_EXE = os.path.join(WL_DIR, "wbtrace-run")
TRACER = os.path.join(TOP, "loader", "build", "wbtrace-trace")
VM_SH = os.path.join(TOP, "kernel-patch", "lab", "vm.sh")
BUILD_SH = os.path.join(TOP, "kernel-patch", "lab", "build.sh")
RESULTS = os.path.join(TOP, "results")
PY = "/usr/bin/python3"


def require_tracer():
    if not os.access(TRACER, os.X_OK):
        raise SetupError(f"the tracer is not built ({os.path.relpath(TRACER, TOP)}): run "
                         f"'make -C {os.path.join(TOP, 'loader')}', or add --no-trace")


def need_tools(names):
    missing = [n for n in names if not shutil.which(n)]
    if missing:
        raise SetupError(f"missing program(s): {', '.join(missing)}: run 'sudo ./wbtrace setup'")
