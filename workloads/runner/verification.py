"""Verification steps of a rep (meta.json `verify`): fio's own verify pass and the
driver's end check (fio_verify); fio --verify_only, the driver's check and the manifest
after drop_caches and after remount; fsck.f2fs on the unmounted device; the rep's part
of the kernel log, found by the markers the rep writes to /dev/kmsg."""

import json
import os
import re
import subprocess

import fsckverdict

from . import paths
from .fingerprints import manifest
from .processes import tail

# Kernel log lines that fail a run: the lab's one list (vm.sh greps it too), plus I/O errors.
with open(os.path.join(paths.TOP, "kernel-patch", "lab", "splat.ere")) as _f:
    SPLAT_RE = re.compile(_f.read().strip() + r"|I/O error")
KMSG_TAG = "wbtrace-run:"     # marks the start and end of a rep in the kernel log


def fio_unverified(wl, doc):
    """What fio's verification did not cover, from its JSON output DOC: one line
    per verified job of the workload that is missing from the output or read back
    less than it wrote (its jobs only write, so their reads are the verify phase).
    fio exiting 0 with nothing read back means nothing was checked."""
    per = {j: [0, 0, 0] for j in wl.verify_jobs()}   # job -> [entries, written, read]
    for j in doc.get("jobs", []):
        p = per.get(j.get("jobname"))
        if p is not None:
            p[0] += 1
            p[1] += j.get("write", {}).get("io_bytes", 0)
            p[2] += j.get("read", {}).get("io_bytes", 0)
    problems = []
    for name, (n, w, r) in per.items():
        if n == 0:
            problems.append(f"{name}: not in fio's output")
        elif r == 0:
            problems.append(f"{name}: verified 0 bytes")
        elif r < w:
            problems.append(f"{name}: verified {r} of the {w} bytes it wrote")
    return problems


class Verification:
    """Rep's part: each step sets self.verify[step] and explains itself in verify.txt
    (self.v); they read the stage dir, the mount point and the workload's status."""

    def _kmsg(self, text):
        try:
            with open("/dev/kmsg", "w") as f:
                f.write(f"{KMSG_TAG} {text}\n")
        except OSError:
            pass

    def _judge_run(self):
        st = self.phase_status
        ok = True
        fio_json = os.path.join(self.stage, "fio.json")
        try:
            with open(fio_json) as f:
                doc = json.load(f)
            errs = [f"{j.get('jobname')}: error {j.get('error')}" for j in doc.get("jobs", [])
                    if j.get("error")]
            written = sum(j.get("write", {}).get("io_bytes", 0) for j in doc.get("jobs", []))
            verified = sum(j.get("read", {}).get("io_bytes", 0) for j in doc.get("jobs", []))
            unverified = fio_unverified(self.wl, doc)
        except (OSError, ValueError, AttributeError) as e:
            errs, written, verified, unverified = [f"fio.json unreadable: {e}"], 0, 0, []
        fio_log = open(os.path.join(self.stage, "fio.log"), errors="replace").read() \
            if os.path.exists(os.path.join(self.stage, "fio.log")) else ""
        if st.get("fio_rc") != 0 or errs:
            ok = False
            self.v(f"fio run: FAIL (exit {st.get('fio_rc')}; {'; '.join(errs) or 'no job error'}; "
                   f"{tail(fio_log, 3)})")
        elif unverified:
            ok = False
            self.v(f"fio run: FAIL (exit 0, but its verify phase did not check what was written: "
                   f"{'; '.join(unverified)})")
        else:
            self.v(f"fio run: pass (wrote {written} bytes, verify phase read back {verified} bytes "
                   f"in {len(self.wl.verify_jobs())} verified job(s))")
        if st.get("driver_rc") is not None:
            dlog = open(os.path.join(self.stage, "driver.log"), errors="replace").read()
            for line in dlog.strip().splitlines()[-6:]:
                self.v("  " + line)
            if st["driver_rc"] != 0:
                ok = False
                self.v(f"driver: FAIL (exit {st['driver_rc']})")
        self.fio_ok = ok
        self.verify["fio_verify"] = "pass" if ok else "fail"

    def _verify_pass(self, label):
        ok = True
        vdir = os.path.join(self.stage, "verify")
        jobs = self.wl.verify_jobs()
        if jobs:
            out_json = os.path.join(vdir, f"{label}.fio.json")
            cmd = ["fio", self.wl.path, "--verify_only", "--output-format=json",
                   "--output=" + out_json]
            if len(jobs) < len(self.wl.jobs):
                cmd += [f"--section={j}" for j in jobs]
            env = dict(os.environ, WB_DIR=self.mnt, WB_SIZE=str(self.ctx.size))
            p = self.log.run(cmd, check=False, timeout=3600, env=env, cwd=os.path.join(self.stage, "fio"))
            with open(os.path.join(vdir, f"{label}.fio.log"), "w") as f:
                f.write((p.stdout or "") + (p.stderr or ""))
            errs, read, unverified = [], 0, []
            try:
                with open(out_json) as f:
                    doc = json.load(f)
                errs = [f"{j.get('jobname')}: error {j.get('error')}" for j in doc["jobs"]
                        if j.get("error")]
                read = sum(j.get("read", {}).get("io_bytes", 0) for j in doc["jobs"])
                unverified = fio_unverified(self.wl, doc)
            except (OSError, ValueError, KeyError, AttributeError) as e:
                errs = [f"no fio output ({e})"]
            if p.returncode != 0 or errs or unverified or read == 0:
                ok = False
                msg = [x for x in (p.stderr or "").splitlines() if "verify" in x or "fio:" in x]
                self.v(f"{label}: fio --verify_only FAIL (exit {p.returncode}; "
                       f"{'; '.join(errs + unverified) or 'read nothing'}; {' | '.join(msg[:3])})")
            else:
                self.v(f"{label}: fio --verify_only pass ({read} bytes read and checked)")
        if self.wl.driver_argv():
            exp = os.path.join(vdir, "driver-expected.json")
            if not os.path.exists(exp):
                ok = False
                self.v(f"{label}: driver check FAIL (the driver recorded no expected contents)")
            else:
                driver = os.path.join(paths.WL_DIR, self.wl.driver_argv()[0])
                p = self.log.run([paths.PY, driver, "check", "--dir", self.mnt, "--expect", exp,
                                  "--label", label], check=False, timeout=3600)
                self.v(f"{label}: driver check: {tail(p.stdout or p.stderr, 1)}")
                ok &= p.returncode == 0
        now = manifest(self.mnt)
        if self.m0 is not None:
            diff = sorted(k for k in set(now) | set(self.m0) if now.get(k) != self.m0.get(k))
            if diff:
                ok = False
                self.v(f"{label}: manifest FAIL: {len(diff)} file(s) differ from what was "
                       f"written: {', '.join(diff[:5])}")
            else:
                self.v(f"{label}: manifest pass ({len(now)} file(s) identical)")
        self.verify[label] = "pass" if ok else "fail"

    def _fsck(self):
        p = self.log.run([*fsckverdict.COMMAND, self.ctx.dev], check=False,
                         timeout=3600, what="fsck.f2fs")
        out = (p.stdout or "") + (p.stderr or "")
        with open(os.path.join(self.stage, "verify", "fsck.txt"), "w") as f:
            f.write(out)
        ok, why = fsckverdict.verdict(p.returncode, out)
        self.verify["fsck"] = "pass" if ok else "fail"
        self.v(f"fsck.f2fs -f: {why}")

    def _dmesg(self):
        try:
            p = subprocess.run(["dmesg"], capture_output=True, text=True, errors="replace",
                               timeout=60)
            lines = p.stdout.splitlines()
        except (OSError, subprocess.SubprocessError) as e:
            self.notes.append(f"dmesg unreadable: {e}")
            return
        start = [i for i, x in enumerate(lines) if f"{KMSG_TAG} {self.run_id} start" in x]
        mine = lines[start[-1]:] if start else lines
        with open(os.path.join(self.stage, "dmesg.txt"), "w") as f:
            f.write("\n".join(mine) + "\n")
        if not start:
            self.notes.append("dmesg: start marker not found; the whole log was scanned")
        bad = [x for x in mine if SPLAT_RE.search(x) and KMSG_TAG not in x]
        if self.interrupted:
            return
        if bad:
            self.verify["dmesg"] = "fail"
            self.v(f"dmesg: FAIL ({len(bad)} line(s)): " + " | ".join(x.strip() for x in bad[:3]))
        else:
            self.verify["dmesg"] = "pass"
            self.v(f"dmesg: pass ({len(mine)} kernel log lines of this rep, no splat or I/O error)")
