"""Host unit tests of the guest tests' Python (tests/guest/*.py) and of the
modules they share with the workloads (workloads/sysio.py, workloads/filemodel.py)."""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for p in (TOP, os.path.join(TOP, "workloads"), os.path.join(TOP, "tests", "guest")):
    if p not in sys.path:
        sys.path.insert(0, p)
sys.dont_write_bytecode = True
