"""Run dirs (analysis/SCHEMA.md): where a run's reps go, and what a rep leaves in its
own -- the evidence copied from its stage dir, verify.txt, and meta.json, written last
through analysis.schema."""

import json
import os
import platform
import shutil

from analysis import schema

from . import paths
from .errors import UsageError
from .jobfile import MiB, fmt_size

# In -o DIR, proof that the guest sees the host's DIR (else its results would be lost).
SHARE_MARKER = ".wbtrace-vm-share"


def refuse_to_reuse(top, ignore=()):
    """-o DIR must be new or empty (but for `ignore`, files the runner put there itself)."""
    if os.path.exists(top) and (not os.path.isdir(top) or
                                [n for n in os.listdir(top) if n not in ignore]):
        raise UsageError(f"{top} already exists and is not empty: give another -o DIR")


def output_layout(out, wl_name, variant, reps, stamp):
    """[(rep, run_dir, run_id)] and the top dir; refuses to reuse a non-empty dir."""
    if out:
        top = os.path.abspath(out)
    else:
        top = os.path.join(paths.RESULTS, schema.make_run_id(wl_name, variant, None, stamp))
    refuse_to_reuse(top, ignore=(SHARE_MARKER,))
    if reps == 1:
        return top, [(1, top, schema.make_run_id(wl_name, variant, None, stamp))]
    return top, [(r, os.path.join(top, f"rep-{r:02d}"), schema.make_run_id(wl_name, variant, r, stamp))
                 for r in range(1, reps + 1)]


class ResultsWriter:
    """Rep's part: `_save` fills the run dir from the stage dir (any rep, failed ones
    too); meta.json only for a rep that was not interrupted."""

    def _save(self):
        ctx = self.ctx
        os.makedirs(self.run_dir, exist_ok=True)
        st = self.stage
        keep = ["fio.json", "fio.log", "driver.log", "dmesg.txt", "run.log", "f2fs-status.txt",
                "trace", "blktrace", "verify", "tracer.out", schema.STACKS_FILE,
                schema.GUEST_CPU_FILE]
        for name in keep:
            src = os.path.join(st, name)
            if not os.path.exists(src):
                continue
            dst = os.path.join(self.run_dir, name)
            if name == "tracer.out":
                os.makedirs(os.path.join(self.run_dir, "trace"), exist_ok=True)
                dst = os.path.join(self.run_dir, "trace", "tracer.txt")
            if os.path.isdir(src):
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dst)
        shutil.copy2(self.wl.path, os.path.join(self.run_dir, "job.fio"))
        with open(os.path.join(self.run_dir, "verify.txt"), "w") as f:
            f.write(f"# verification of {self.run_id} ({self.wl.name}, f2fs {ctx.variant}, "
                    f"target {ctx.target}, size {fmt_size(ctx.size)} per job)\n")
            for line in self.vlog:
                f.write(line + "\n")
            if self.interrupted:
                f.write(f"INTERRUPTED during {getattr(self, 'cur_phase', '?')}: incomplete, "
                        f"no meta.json written\n")
            for n in self.notes:
                f.write(f"note: {n}\n")
            f.write("summary: " + ", ".join(f"{k} {v}" for k, v in self.verify.items()) + "\n")
        if not self.interrupted:
            self._write_meta()
        shutil.rmtree(st, ignore_errors=True)

    def _write_meta(self):
        ctx = self.ctx
        probes, drops = {}, 0
        sp = os.path.join(self.run_dir, schema.SUMMARY_FILE)
        if self.tracer_mode != "off":
            try:
                s = schema.validate_summary(schema.load_json(sp, "tracer summary"), sp)
                probes, drops = s["probes"], s["drops"]
            except schema.ResultsError as e:
                self.notes.append(f"tracer summary unusable: {e}")
                self.tracer_mode = "off"
                bad = os.path.join(self.run_dir, "trace", "summary.json")
                if os.path.exists(bad):
                    os.replace(bad, bad + ".invalid")
        tracer = {"mode": self.tracer_mode}
        if self.tracer_mode != "off" and ctx.tracer_version:
            tracer["version"] = ctx.tracer_version
        f2fs = {"mkfs_options": ctx.mkfs_opts, "mount_options": ctx.mount_opts,
                "device": ctx.dev_label, "device_bytes": ctx.dev_bytes}
        if getattr(ctx, "dev_kind", None):
            f2fs["device_kind"] = ctx.dev_kind
        if self.wl.kv("sysfs"):
            f2fs["sysfs"] = self.wl.kv("sysfs")
        if self.wl.kv("bdi"):
            f2fs["bdi"] = self.wl.kv("bdi")
        host = schema.host_info()
        if ctx.accel:
            host["accel"] = ctx.accel
        # In the guest, /proc/cpuinfo names QEMU's emulated CPU (the same on every
        # host under -cpu max): cpu_model is the physical one, which comparability needs.
        if getattr(ctx, "host_cpu_model", None):
            if host.get("cpu_model") and host["cpu_model"] != ctx.host_cpu_model:
                host["guest_cpu_model"] = host["cpu_model"]
            host["cpu_model"] = ctx.host_cpu_model
        # QEMU's -icount setting for the guest ("shift=auto", ...): compare/gate refuse to
        # mix modes (issue 14).  Set when the runner boots the guest with -icount; absent
        # reads as "off".
        icount = getattr(ctx, "icount", None)
        if icount:
            host["icount"] = str(icount)
        meta = schema.new_meta(
            workload=self.wl.name, variant=ctx.variant, rep=self.rep, target=ctx.target,
            kernel_release=platform.release(), mkfs_options=ctx.mkfs_opts,
            mount_options=ctx.mount_opts, tracer_mode=self.tracer_mode, probes=probes,
            drops=drops, started=self.started, finished=self.finished,
            duration_s=round(self.duration, 3), verify=self.verify, run_id=self.run_id,
            workload_sha256=self.wl.sha256, kernel=ctx.kernel, f2fs=f2fs, host=host,
            git=ctx.git, phases_s=self.phases, tracer=tracer)
        if self.notes:
            meta["notes"] = "; ".join(self.notes)
        schema.write_meta(self.run_dir, meta)

    def summary_line(self):
        if self.interrupted:
            return (f"rep {self.rep}/{self.ctx.reps}: INTERRUPTED during {self.cur_phase}; "
                    f"partial evidence (no meta.json) in {self.run_dir}")
        ok = not (self.failed or self.any_verify_failed())
        bw = ""
        try:
            with open(os.path.join(self.run_dir, "fio.json")) as f:
                doc = json.load(f)
            b = sum(j["write"]["bw_bytes"] for j in doc["jobs"])
            bw = f"fio {b / MiB:.1f} MiB/s, "
        except (OSError, ValueError, KeyError):
            pass
        v = self.verify
        ver = (f"verify run {v['fio_verify']}, drop_caches {v['after_drop_caches']}, "
               f"remount {v['after_remount']}, fsck {v['fsck']}, dmesg {v['dmesg']}")
        why = ""
        if not ok:
            bad = [x for x in self.vlog if "FAIL" in x][:1] + [n for n in self.notes
                                                               if n.startswith("failed")][:1]
            why = ("\n    " + bad[0]) if bad else ""
        return (f"rep {self.rep}/{self.ctx.reps}: {'PASS' if ok else 'FAIL'}  {bw}{ver} "
                f"({self.duration:.0f} s) -> {self.run_dir}{why}")
