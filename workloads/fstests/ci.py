"""fstests' CI subset: `./wbtrace fstests --variant both` on a few writeback tests, judged for CI.

tests/run-all.sh runs this (`python3 -m fstests.ci`).  It runs the subset on
both variants through cli.py (one boot each, a rerun of any test whose outcome
differs), relays that run's output as comments ("# ..."), then prints one KTAP
line per test and variant, judged from the run's summary.json:

  ok      the test passed on that variant (on the rerun, if it was rerun: a
          flake the rerun did not repeat passes, and says so)
  not ok  it failed or hung, or was not run (a CI test must run: a not-run test
          means a tool or kernel option went missing), or has no result

so a regression (fails on patched, passes on stock, twice) fails the suite, and
so does a test that fails on stock too (the subset then shows nothing).  Exit 0
when every line is ok, else 1.
"""
import json
import os
import re
import subprocess
import sys

from fstests import results

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = "/usr/bin/python3"
# The subset (README, "fstests"): mapped writes against truncate, ranged fsync
# then a power cut through dm-flakey, a rename over an open file (a test
# whose .out check links at run time: the guest's tree must be writable), and
# a swap file (f2fs_swap_activate(), which the series changes; it needs the lab
# kernel's CONFIG_SWAP, so a kernel that lost it fails CI).
# Chosen to take about 5 min per variant under TCG here; change it only with a
# new measurement in the README.
CI_TESTS = ("generic/029", "generic/325", "generic/035", "generic/472")
VARIANTS = ("stock", "patched")
SECTION = "plain"
# Its tests take 30-85 s here even loaded; a hang must end well inside CI's limit.
TEST_TIMEOUT_S = 600
RESULTS_LINE = re.compile(r"^\[fstests\] results: (\S+?)/? ")


def results_dir(output):
    """The results directory cli.py named in its output (relative to TOP), or None."""
    for line in output.splitlines():
        m = RESULTS_LINE.match(line)
        if m:
            return m.group(1)
    return None


def final(row, variant):
    """A test's outcome on one variant: the rerun's when there was one (a dict), or None."""
    return row.get(f"{variant}_rerun") or row.get(variant)


def judge(summary, tests, section=SECTION):
    """KTAP lines, one per test and variant, and whether all are ok."""
    lines, number, all_ok = [], 0, True
    rec = summary.get("sections", {}).get(section, {})
    broken = "; ".join(summary.get("broken", []))
    for name in tests:
        row = rec.get("tests", {}).get(name, {})
        for v in summary.get("variants", VARIANTS):
            number += 1
            t = final(row, v)
            where = f"{name} [{v}]"
            if t is None:
                ok, detail = False, "no result" + (f" ({broken})" if broken else "")
            elif t["status"] == results.PASS:
                ok = True
                first = row.get(v, {}).get("status")
                detail = f"{t['seconds']}s" + (f"; flake: {first} in the first round" if first != results.PASS else "")
            elif t["status"] == results.NOTRUN:
                ok, detail = False, f"not run: {t['reason']}"
            else:
                verdict = row.get("verdict")
                ok = False
                detail = f"{t['status']}: {t['reason'][:160]}" + (f" [{verdict}]" if verdict else "")
            all_ok &= ok
            lines.append(f"{'ok' if ok else 'not ok'} {number} {where} ({detail})")
    return lines, all_ok


def main(argv=None):
    tests = list(argv if argv else CI_TESTS)
    cmd = [PY, "-m", "fstests.cli", "--variant", "both", "--section", SECTION,
           "--test-timeout", str(TEST_TIMEOUT_S)] + tests
    env = dict(os.environ, PYTHONPATH=os.path.join(TOP, "workloads"), PYTHONDONTWRITEBYTECODE="1")
    print(f"# fstests CI subset: {' '.join(tests)} (both variants, section {SECTION})", flush=True)
    proc = subprocess.Popen(cmd, cwd=TOP, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, bufsize=1)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        print(f"# {line.rstrip()}", flush=True)
    rc = proc.wait()
    out = results_dir("".join(seen))
    summary_path = os.path.join(TOP, out, "summary.json") if out else None
    if not summary_path or not os.path.exists(summary_path):
        print(f"not ok 1 fstests CI subset (exit {rc}, no summary.json)")
        return 1
    with open(summary_path) as f:
        summary = json.load(f)
    lines, ok = judge(summary, tests)
    print("\n".join(lines))
    print(f"# results: {out}/ (./wbtrace fstests exit {rc})")
    if rc != 0 and ok:
        # A failure the lines did not catch (cli.EXIT: 3 set-up, 4 results missing).
        print(f"not ok {len(lines) + 1} fstests CI subset (./wbtrace fstests exit {rc})")
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
