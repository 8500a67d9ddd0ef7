"""One rep: mkfs.f2fs, mount (+ the job's sysfs and bdi flusher knobs), the workload
under the tracer, the verification steps, umount; then the run dir.  Whatever happens,
clean-up undoes what the rep set up, and the evidence is kept."""

import os
import shlex
import subprocess
import tempfile
import time

from analysis import schema

from .corruption import CorruptionInjection
from .errors import RepError
from .fingerprints import manifest
from .processes import Cleanup, RunLog
from .results import ResultsWriter
from .tracing import TracedWorkload
from .verification import Verification


class RepContext:
    """Everything one run needs to execute its reps locally (host target or in the guest)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class Rep(TracedWorkload, Verification, CorruptionInjection, ResultsWriter):
    """A rep's state and its steps; each mixin is one concern of it (see their modules)."""

    def __init__(self, ctx, rep, run_dir, run_id, progress):
        self.ctx, self.rep, self.run_dir, self.run_id = ctx, rep, run_dir, run_id
        self.p = progress
        self.wl = ctx.wl
        self.verify = {s: "skipped" for s in schema.VERIFY_STEPS}
        self.notes = []
        self.phases = {}
        self.vlog = []                 # verify.txt lines
        self.tracer_mode = ctx.tracer_mode
        self.failed = False
        self.interrupted = False
        self.fio_ok = False
        self.m0 = None
        self.injected = None
        self.cur_phase = "start"

    # -- helpers
    def phase(self, name):
        self.cur_phase = name
        self.cur_t0 = time.monotonic()
        self.p.status(f"rep {self.rep}/{self.ctx.reps}: {name}")

    def phase_done(self, key):
        self.phases[key] = round(self.phases.get(key, 0) + time.monotonic() - self.cur_t0, 3)

    def v(self, text):
        self.vlog.append(text)
        self.log("verify: " + text)

    def mount(self):
        self.log.run(["mount", "-t", "f2fs"] + (["-o", self.ctx.mount_opts] if self.ctx.mount_opts
                                                 else []) + [self.ctx.dev, self.mnt],
                     what="mount -t f2fs", timeout=300)
        self.mounted = True
        for k, val in self.ctx.wl.kv("sysfs").items():
            p = f"/sys/fs/f2fs/{self.ctx.sysfs_name}/{k}"
            try:
                with open(p, "w") as f:
                    f.write(val)
            except OSError as e:
                raise RepError(f"cannot set {p} = {val}: {e.strerror}") from None
            self.log(f"set {p} = {val}")

    def umount(self):
        if self.mounted:
            self.log.run(["umount", self.mnt], what="umount", timeout=600)
            self.mounted = False

    # -- the rep
    def execute(self):
        ctx = self.ctx
        self.stage = tempfile.mkdtemp(prefix=f"wbtrace-{self.run_id}-", dir=ctx.tmp_root)
        self.mnt = os.path.join(self.stage, "mnt")
        for d in ("mnt", "fio", "verify"):
            os.makedirs(os.path.join(self.stage, d))
        self.log = RunLog(os.path.join(self.stage, "run.log"))
        self.mounted = False
        self.cleanup = Cleanup(self.log)
        self.started = schema.utc_now()
        t0 = time.monotonic()
        self._kmsg(f"{self.run_id} start")
        self.log(f"rep {self.rep}/{ctx.reps} of {self.wl.name} ({ctx.variant}, {ctx.target}) on "
                 f"{ctx.dev}, size {ctx.size}")
        try:
            self._steps()
        except RepError as e:
            self.failed = True
            self.notes.append(f"failed in {self.cur_phase}: {e}")
            self.log(f"FAILED in {self.cur_phase}: {e}")
        except KeyboardInterrupt:
            self.interrupted = True
            self.log(f"interrupted in {getattr(self, 'cur_phase', 'start')}")
        except Exception as e:                       # a bug or an unexpected OS error
            import traceback
            self.failed = True
            self.notes.append(f"internal error in {self.cur_phase}: {type(e).__name__}: {e}")
            self.log("internal error:\n" + traceback.format_exc())
        finally:
            for err in self.cleanup.run():
                self.notes.append(f"clean-up: {err}")
                self.failed = True
            self._kmsg(f"{self.run_id} end")
            self.finished = schema.utc_now()
            self.duration = time.monotonic() - t0
            self._dmesg()
            self._save()
        return not (self.failed or self.interrupted or self.any_verify_failed())

    def any_verify_failed(self):
        return any(s == "fail" for s in self.verify.values())

    def _steps(self):
        ctx = self.ctx
        self.cur_phase = "mkfs"
        self.phase("mkfs.f2fs")
        self.log.run(["mkfs.f2fs", "-f"] + shlex.split(ctx.mkfs_opts) + [ctx.dev],
                     what="mkfs.f2fs", timeout=600)
        self.phase_done("mkfs")
        self.phase("mount")
        self.cleanup.push("umount", lambda: self._force_umount())
        self.mount()
        self._apply_bdi()
        self.phase_done("mount")

        self.phase("workload")
        self._workload()
        self.phase_done("workload")

        self.phase("verify (fio's own pass)")
        self._judge_run()
        self.m0 = manifest(self.mnt)
        with open(os.path.join(self.stage, "verify", "manifest.txt"), "w") as f:
            for k, h in self.m0.items():
                f.write(f"{h}  {k}\n")
        self.v(f"manifest: {len(self.m0)} file(s) hashed after the workload")
        if ctx.inject:
            self._inject(ctx.inject)
        self.phase_done("verify_run")

        self.phase("verify after drop_caches")
        self.log.run(["sync"], what="sync", timeout=1800)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        self.log("dropped the page cache (echo 3 > /proc/sys/vm/drop_caches)")
        self._verify_pass("after_drop_caches")
        self.phase_done("verify_drop_caches")

        self.phase("umount + fsck.f2fs")
        self.umount()
        self._fsck()
        self.phase_done("fsck")

        self.phase("verify after remount")
        self.mount()
        self._verify_pass("after_remount")
        self.umount()
        self.phase_done("verify_remount")

    def _force_umount(self):
        if self.mounted:
            for _ in range(5):
                p = subprocess.run(["umount", self.mnt], capture_output=True, text=True)
                if p.returncode == 0:
                    self.mounted = False
                    return
                time.sleep(1)
            raise RuntimeError(f"cannot umount {self.mnt}: {p.stderr.strip()}")

    # *_bytes limits are stored as ratios: restoring the byte value read back can be refused
    # (EINVAL), so the ratio files are what gets saved and restored.
    BDI_RESTORE = {"max_bytes": ("max_ratio_fine", "max_ratio"),
                   "min_bytes": ("min_ratio_fine", "min_ratio")}

    def _apply_bdi(self):
        want = self.wl.kv("bdi")
        if not want:
            return
        d = self.ctx.bdi
        if not d:
            self.notes.append("no bdi directory for the device: '; bdi:' settings not applied")
            return
        saved = []                                   # (file, old value), restored in reverse
        for k in want:
            for cand in self.BDI_RESTORE.get(k, (k,)):
                p = os.path.join(d, cand)
                if os.path.exists(p) and all(p != q for q, _ in saved):
                    with open(p) as f:
                        saved.append((p, f.read().strip()))
                    break

        def restore():
            errs = []
            for p, old in reversed(saved):
                try:
                    with open(p, "w") as f:
                        f.write(old)
                except OSError as e:
                    errs.append(f"{p} = {old}: {e.strerror}")
            if errs:
                raise RuntimeError("cannot restore " + "; ".join(errs))
        # strict_limit first when setting (so the limits apply), last when restoring
        saved.sort(key=lambda x: not x[0].endswith("/strict_limit"))
        self.cleanup.push(f"restore {d}", restore)
        for k in sorted(want, key=lambda k: k != "strict_limit"):
            p = os.path.join(d, k)
            try:
                with open(p, "w") as f:
                    f.write(want[k])
            except OSError as e:
                raise RepError(f"cannot set {p} = {want[k]}: {e.strerror}") from None
            self.log(f"set {p} = {want[k]}")
