"""Inside the lab guest: run fstests' ./check once per section, a line per test.

Started by cli.py through vm.sh (`python3 -m fstests.guest ...`).  It makes what
fstests needs on a read-only host root (an overlay on /etc for its users, mount
points on tmpfs, the tree overlaid outside /root so that fsgqa can reach it and
check can write into it), writes
local.config from the sections table, runs `./check -R xunit -s SECTION ARGS`
and prints `ok|not ok N TEST [VARIANT SECTION] (Ns)` as each test finishes,
read from the result.xml that check rewrites before every test.  A test still
running after --test-timeout seconds is taken for a hang: its processes' stacks,
the blocked tasks (sysrq w) and the CPUs' backtraces (sysrq l), as the kernel
log shows them, go to hang-SECTION.txt and to the output (sysio.hang_report()),
check is killed and the tests after it are not run (tasks stuck in the kernel
cannot be killed, so what would run after them proves nothing).
state.json records how each section ended.  Exit 0 when every section ran to
its end (failed tests are results), 4 when a test hung, 2 bad usage, 1 set-up.
"""
import argparse
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import sysio
from fstests import results, sections

EX_HUNG = 4
WORK = "/tmp/fstests"
TEST_DEV = sections.DISK["TEST_DEV"].dev
USERS = ("fsgqa", "fsgqa2", "123456-fsgqa")  # what _require_user and friends look for
# The guest runs no udev: device mapper (dmsetup) and LVM then make their /dev
# nodes themselves (lvm(8), ENVIRONMENT), else dm-flakey's /dev/mapper/NAME and
# an LV never appear (generic/325: "special device ... does not exist").
CHECK_ENV = {"DM_DISABLE_UDEV": "1"}
# check prints a test's name at the start of its line before running it.
TEST_START = re.compile(r"^([a-z0-9]+/[0-9]{3}[\w-]*) ")


def say(msg):
    print(msg, flush=True)


def sh(*cmd):
    subprocess.run(cmd, check=True)


def disk_gib(dev):
    with open(f"/sys/block/{os.path.basename(dev)}/size") as f:
        return int(f.read()) * 512 / 2**30


def prepare(tree):
    """Users, mount points and a tree path fsgqa can reach; returns that path."""
    for d in sections.DISKS:
        if not os.path.exists(d.dev) or disk_gib(d.dev) < d.min_gib:
            raise SystemExit(f"fstests guest: {d.var} {d.dev} missing or under {d.min_gib} GiB "
                             "(vm.sh --disk-size/--extra-disk)")
    for d in ("test", "scratch", "etc-up", "etc-work", "home", "tree", "tree-up", "tree-work"):
        os.makedirs(f"{WORK}/{d}", exist_ok=True)
    sh("mount", "-t", "overlay", "overlay", "-o",
       f"lowerdir=/etc,upperdir={WORK}/etc-up,workdir={WORK}/etc-work", "/etc")
    for user in USERS:
        sh("useradd", "-m", "-d", f"{WORK}/home/{user}", user)
    # /root is 0700: a tree under it is out of reach of the fsgqa tests.  Writable
    # in tmpfs: a test with a .cfg (generic/035, 050) gets its .out linked there
    # by check; a read-only bind failed such tests before they ran.
    sh("mount", "-t", "overlay", "overlay", "-o",
       f"lowerdir={tree},upperdir={WORK}/tree-up,workdir={WORK}/tree-work", f"{WORK}/tree")
    # fstests writes its "run fstests TEST at ..." markers and reads dmesg per test.
    sh("dmesg", "-n", "7")
    return f"{WORK}/tree"


def dump_hang(pid, path, test, limit):
    """What the hung test waits for (sysio.hang_report(): its processes' stacks,
    sysrq w and l) in PATH and here, each line after "# "."""
    lines = sysio.hang_report(test, pid, limit)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    for line in lines:
        say(f"# {line}")


class Reporter:
    """Prints each finished test once, numbered, from result.xml."""

    def __init__(self, variant, section):
        self.variant, self.section = variant, section
        self.done = set()
        self.number = 0

    def catch_up(self, xml_path):
        for t in results.parse_junit(xml_path):
            if t.name in self.done:
                continue
            self.done.add(t.name)
            self.number += 1
            say(results.progress_line(self.number, t, self.variant, self.section))


def check_env(base):
    """The environment ./check runs in: BASE and CHECK_ENV."""
    return dict(base, **CHECK_ENV)


def run_section(tree, out, name, check_args, variant, limit):
    """One ./check run; returns its state record."""
    feature = sections.SECTIONS[name].feature
    if feature and not os.path.exists(f"/sys/fs/f2fs/features/{feature}"):
        say(f"# section {name}: not run, the f2fs module has no {feature} feature")
        return {"ran": False, "why_not": f"f2fs has no {feature} feature"}
    # check mounts TEST_DEV before it looks at the sections (init_rc), so it
    # must hold an f2fs already; RECREATE_TEST_DEV then re-makes it per section.
    mkfs = subprocess.run(["mkfs.f2fs", "-f", "-q"] + sections.SECTIONS[name].mkfs.split() + [TEST_DEV],
                          capture_output=True, text=True)
    if mkfs.returncode != 0:
        why = f"mkfs.f2fs of TEST_DEV failed: {(mkfs.stdout + mkfs.stderr).strip()[-300:]}"
        say(f"# section {name}: {why}")
        return {"ran": True, "check_exit": None, "started": [], "hung": None, "broken": why}
    say(f"# section {name} ({variant}): ./check -R xunit -s {name} {' '.join(check_args)}")
    xml = os.path.join(out, "results", name, "result.xml")
    log = open(os.path.join(out, f"check-{name}.log"), "wb")
    cmd = ["./check", "-R", "xunit", "-s", name] + check_args
    proc = subprocess.Popen(cmd, cwd=tree, env=check_env(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    rep = Reporter(variant, name)
    started, current, t_current, line, hung = [], None, time.time(), b"", None
    t0 = time.time()
    while True:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            log.write(chunk)
            log.flush()
            for byte_line in re.split(rb"(\n)", chunk):
                if byte_line == b"\n":
                    line = b""
                    continue
                line += byte_line
                m = TEST_START.match(line.decode(errors="replace"))
                if m and m.group(1) != current:
                    rep.catch_up(xml)  # check rewrote result.xml just before this name
                    current, t_current = m.group(1), time.time()
                    started.append(current)
        if current and time.time() - t_current > limit:
            hung = current
            say(f"not ok {rep.number + 1} {hung} [{variant} {name}] (hung: no result after {limit}s)")
            dump_hang(proc.pid, os.path.join(out, f"hang-{name}.txt"), hung, limit)
            for p in sysio.descendants(proc.pid):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            break
    if hung is None:
        proc.wait()
    rep.catch_up(xml)
    log.close()
    rec = {"ran": True, "check_exit": proc.poll(), "started": started, "hung": hung,
           "hung_after_s": limit if hung else None, "wall_s": round(time.time() - t0)}
    if not started and rec["check_exit"] != 0:
        # check gave up before its first test (a device it cannot mount, a bad option).
        with open(os.path.join(out, f"check-{name}.log"), errors="replace") as f:
            tail = [line.rstrip() for line in f.readlines()[-8:]]
        rec["broken"] = f"check exited {rec['check_exit']} before any test: " + " | ".join(tail)
        say(f"# section {name}: {rec['broken']}")
    return rec


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="fstests.guest", description=__doc__.split("\n")[0])
    ap.add_argument("--tree", required=True, help="the installed fstests tree (build.py)")
    ap.add_argument("--out", required=True, help="this boot's results directory (shared with the host)")
    ap.add_argument("--sections", required=True, help="comma-separated section names")
    ap.add_argument("--test-timeout", type=int, required=True, help="seconds before a test counts as hung")
    ap.add_argument("check_args", nargs="*", help="-g GROUP or test names, handed to ./check")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if os.environ.get("WBTRACE_GUEST") != "1":
        # It writes over every disk of sections.DISKS: never on a host.
        print("fstests.guest: runs only inside the lab guest (it writes over "
              f"{', '.join(d.dev for d in sections.DISKS)})", file=sys.stderr)
        return 2
    variant = os.environ.get("WBTRACE_VARIANT", "?")
    names = args.sections.split(",")
    tree = prepare(args.tree)
    config = os.path.join(args.out, "local.config")
    with open(config, "w") as f:
        f.write(sections.local_config(names, f"{WORK}/test", f"{WORK}/scratch",
                                      os.path.join(args.out, "results"), variant))
    os.environ["HOST_OPTIONS"] = config
    state = {"variant": variant, "kernel": os.uname().release, "module": os.environ.get("WBTRACE_MODULE", ""),
             "test_timeout_s": args.test_timeout, "sections": {}}
    status = 0
    for name in names:
        rec = run_section(tree, args.out, name, args.check_args, variant, args.test_timeout)
        state["sections"][name] = rec
        with open(os.path.join(args.out, "state.json"), "w") as f:
            json.dump(state, f, indent=1)
        if rec.get("hung"):
            status = EX_HUNG
            for rest in names[names.index(name) + 1:]:
                state["sections"][rest] = {"ran": False, "why_not": f"{rec['hung']} hung in section {name}"}
            break
    with open(os.path.join(args.out, "state.json"), "w") as f:
        json.dump(state, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
