"""The tracer's probe names, read from its one table (loader/probes.def), so the runner
refuses a bad --skip-probe before a guest boots (the tracer would refuse it too, late)."""

import os
import re

from . import paths
from .errors import UsageError

PROBES_DEF = os.path.join(paths.TOP, "loader", "probes.def")
_PROBE = re.compile(r'^WB_PROBE\(\s*\w+\s*,\s*"([^"]+)"\s*,\s*([01])\s*,', re.M)


def tracer_probes(path=PROBES_DEF):
    """{probe name: required} of every WB_PROBE line of probes.def."""
    with open(path) as f:
        return {name: req == "1" for name, req in _PROBE.findall(f.read())}


def check_skip_probes(value, path=PROBES_DEF):
    """--skip-probe NAMES: a comma list of optional probes; UsageError otherwise."""
    table = tracer_probes(path)
    names = value.split(",")
    for n in names:
        if n not in table:
            raise UsageError(f"--skip-probe: no probe '{n}' (known: {', '.join(table)})")
        if table[n]:
            raise UsageError(f"--skip-probe: '{n}' is required: a traced run cannot do "
                             f"without it")
    return value
