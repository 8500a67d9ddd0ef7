"""The one verdict on an fsck.f2fs report, used by the runner's verification step
(workloads/runner/verification.py) and by the guest tests (tests/guest/lib.sh
fsck_clean): `fsck.f2fs -f --dry-run DEV` (checks everything, changes nothing).

A clean report exits 0, has at least one "[Ok..]" check line (so it is a report
at all) and no "[Fail]" line nor a word of inconsistency.  "fixing SIT types"
is printed on clean images too and is not a failure.

    fsckverdict.py DEV     run it; one verdict line, the report's tail on failure; exit 0/1
"""

import re
import subprocess
import sys

COMMAND = ("fsck.f2fs", "-f", "--dry-run")
BAD_WORDS = re.compile(r"need to run fsck|inconsisten", re.I)


def verdict(returncode, report):
    """(ok, one line saying why) for fsck.f2fs's exit status and output."""
    lines = report.splitlines()
    oks = [x for x in lines if "[Ok..]" in x]
    fails = [x.strip() for x in lines if "[Fail]" in x]
    bad = [x.strip() for x in lines if BAD_WORDS.search(x)]
    if returncode == 0 and oks and not fails and not bad:
        return True, f"pass ({len(oks)} checks [Ok..], none [Fail])"
    why = [f"exit {returncode}", f"{len(fails)} [Fail] line(s)"]
    if fails:
        why.append("; ".join(fails[:3]))
    if bad:
        why.append("; ".join(bad[:2]))
    if not oks:
        why.append("no [Ok..] lines: not a fsck report")
    return False, "FAIL (" + ", ".join(why) + ")"


def run(dev, timeout=3600):
    """(returncode, report) of fsck.f2fs on DEV."""
    p = subprocess.run([*COMMAND, dev], capture_output=True, text=True, errors="replace",
                       timeout=timeout)
    return p.returncode, (p.stdout or "") + (p.stderr or "")


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.strip())
        return 0 if len(argv) == 2 and argv[1] in ("-h", "--help") else 2
    rc, report = run(argv[1])
    ok, why = verdict(rc, report)
    print(f"fsck.f2fs -f --dry-run {argv[1]}: {why}")
    if not ok:
        print("\n".join(report.splitlines()[-25:]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
