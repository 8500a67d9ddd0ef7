"""The workload under the tracer, blktrace and perf.

The rep writes a spec (phase-spec.json) and runs `wbtrace-run _phase SPEC` under
wbtrace-trace; that child (run_phase) starts fio and the job's driver side by side, so
the tracer's command is exactly the workload, and reports their exit statuses in
phase.json.  blktrace and perf record run beside it, each in its own process group."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import time

from analysis import folded, schema

import guestcpu

from . import paths
from .errors import TRACER_NOT_STARTED, RepError, tracer_exit
from .processes import stop_proc, tail


class TracedWorkload:
    """Rep's part: `_workload` runs the workload and leaves fio.json, trace/, blktrace/,
    stacks.folded and f2fs-status.txt in the stage dir, and its status in
    self.phase_status."""

    def _workload(self):
        ctx, wl = self.ctx, self.wl
        stage = self.stage
        env = {"WB_DIR": self.mnt, "WB_SIZE": str(ctx.size)}
        spec = {
            "fio": ["fio", wl.path, "--output-format=json+",
                    "--output=" + os.path.join(stage, "fio.json")],
            "fio_cwd": os.path.join(stage, "fio"),
            "fio_log": os.path.join(stage, "fio.log"),
            "env": env,
            "driver": None,
            "status": os.path.join(stage, "phase.json"),
            "guest_cpu": os.path.join(stage, schema.GUEST_CPU_FILE),
        }
        if wl.driver_argv():
            argv = wl.driver_argv()
            spec["driver"] = [paths.PY, os.path.join(paths.WL_DIR, argv[0]), "run",
                              "--dir", self.mnt, "--size", str(ctx.size), "--expect",
                              os.path.join(stage, "verify", "driver-expected.json")] + argv[1:]
            spec["driver_log"] = os.path.join(stage, "driver.log")
        spec_path = os.path.join(stage, "phase-spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f, indent=1)
        phase_cmd = [paths.PY, paths.WBRUN_EXE, "_phase", spec_path]

        self._blktrace_start()
        self._profile_start()
        self.phases_wl_t0 = time.monotonic()
        if self.tracer_mode != "off":
            tdir = os.path.join(stage, "trace")
            cmd = [paths.TRACER, "-O", tdir, "--sync", "-D", ctx.dev]
            if self.tracer_mode == "summary":
                cmd += ["-m", "hist"]
            if getattr(self.ctx, "tracer_skip", None):
                cmd += ["--skip-probe", self.ctx.tracer_skip]
            cmd += ["--"] + phase_cmd
            rc = self._run_bg(cmd, os.path.join(stage, "tracer.out"), "tracer")
            name, why = tracer_exit(rc)

            def tracer_said():
                with open(os.path.join(stage, "tracer.out"), errors="replace") as f:
                    return tail(f.read(), 2)
            if not os.path.exists(spec["status"]) and name in TRACER_NOT_STARTED:
                self.notes.append(f"tracer could not start (exit {rc}, {why}: {tracer_said()}); "
                                  f"the workload ran untraced")
                self.p.say(f"warning: tracer could not start (exit {rc}, {why}); running untraced")
                self.tracer_mode = "off"
                shutil.rmtree(tdir, ignore_errors=True)
            elif name == "DROPS":
                self.notes.append("tracer: ring-buffer drops above its limit; trace marked invalid")
            elif name not in ("OK", "CMD"):      # CMD: the workload failed; verification says how
                self.notes.append(f"tracer exited {rc}: {tracer_said()}")
        if self.tracer_mode == "off":
            self._run_bg(phase_cmd, os.path.join(stage, "phase.out"), "workload")
            self.log.run(["sync"], what="sync", timeout=1800)
        self._profile_stop()
        self._blktrace_stop()
        try:
            shutil.copyfile("/sys/kernel/debug/f2fs/status",
                            os.path.join(stage, "f2fs-status.txt"))
        except OSError:
            pass
        try:
            with open(spec["status"]) as f:
                self.phase_status = json.load(f)
        except (OSError, ValueError):
            raise RepError("the workload did not report (see run.log)") from None
        self.log(f"workload status: {self.phase_status}")

    def _run_bg(self, cmd, out_path, what):
        """Run a long child in its own process group; Ctrl-C is forwarded as SIGINT."""
        self.log(f"$ {' '.join(shlex.quote(c) for c in cmd)}")
        with open(out_path, "w") as out:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 process_group=0)
        self.cleanup_token = self.cleanup.push(f"stop {what}", lambda: stop_proc(p))
        try:
            while True:
                try:
                    rc = p.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    self.p.tick()
        except KeyboardInterrupt:
            stop_proc(p, signal.SIGINT, timeout=120)
            raise
        self.cleanup.pop(self.cleanup_token)
        self.log(f"  -> {what} exit {rc}")
        return rc

    def _blktrace_start(self):
        self.blk = None
        if not self.ctx.blktrace:
            return
        bdir = os.path.join(self.stage, "blktrace")
        os.makedirs(bdir, exist_ok=True)
        cmd = ["blktrace", "-d", self.ctx.dev, "-D", bdir, "-o", "dev"]
        self.log(f"$ {' '.join(cmd)} &")
        out = open(os.path.join(bdir, "blktrace.log"), "w")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             process_group=0)
        out.close()
        time.sleep(0.5)
        if p.poll() is not None:
            self.notes.append(f"blktrace did not start (exit {p.returncode}): "
                              f"{tail(open(os.path.join(bdir, 'blktrace.log')).read(), 1)}")
            return
        self.blk = p

        def stop():
            if p.poll() is None:
                rc = stop_proc(p, signal.SIGINT, timeout=30)
                if rc is None or rc < 0:
                    subprocess.run(["blktrace", "-k", "-d", self.ctx.dev], capture_output=True)
        self.blk_token = self.cleanup.push("stop blktrace", stop)

    # On-CPU stacks of the whole machine during the workload, for flamegraphs.
    # cpu-clock is a software event, so it samples under TCG (no PMU) too.
    def _profile_start(self):
        self.prof = None
        if not self.ctx.stacks:
            return
        cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "99", "-a", "-g",
               "-o", os.path.join(self.stage, "perf.data")]
        self.log(f"$ {' '.join(cmd)} &")
        with open(os.path.join(self.stage, "perf.log"), "w") as out:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, process_group=0)
        time.sleep(0.5)
        if p.poll() is not None:
            self.notes.append(f"perf record did not start (exit {p.returncode}); no stacks")
            return
        self.prof = p
        self.prof_token = self.cleanup.push(
            "stop perf record", lambda: stop_proc(p, signal.SIGINT, timeout=30))

    def _profile_stop(self):
        if not self.prof:
            return
        self.cleanup.pop(self.prof_token)
        stop_proc(self.prof, signal.SIGINT, timeout=60)
        data = os.path.join(self.stage, "perf.data")
        text_path = os.path.join(self.stage, "perf-script.txt")
        try:
            with open(text_path, "w") as out:
                subprocess.run(["perf", "script", "-i", data], stdout=out,
                               stderr=subprocess.DEVNULL, timeout=600, check=True)
            with open(text_path, errors="replace") as f:
                stacks = folded.collapse_perf_script(f.read(), text_path)
            if not stacks:
                raise schema.ResultsError("no samples")
            with open(os.path.join(self.stage, schema.STACKS_FILE), "w") as f:
                f.write(folded.to_text(stacks))
            self.log(f"stacks: {int(folded.total(stacks))} samples -> {schema.STACKS_FILE}")
        except (OSError, subprocess.SubprocessError, schema.ResultsError) as e:
            self.notes.append(f"on-CPU stacks not recorded: {e}")
        finally:
            for path in (data, text_path):  # large; the folded file is what is kept
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def _blktrace_stop(self):
        if not self.blk:
            return
        self.cleanup.pop(self.blk_token)
        bdir = os.path.join(self.stage, "blktrace")
        try:
            self.log.run(["blkparse", "-i", "dev", "-D", bdir, "-d", os.path.join(bdir, "dev.bin"),
                          "-O"], what="blkparse", timeout=600, cwd=bdir)
            self.log.run(["btt", "-i", os.path.join(bdir, "dev.bin"), "-o",
                          os.path.join(bdir, "btt")], what="btt", timeout=600, cwd=bdir)
        except RepError as e:
            self.notes.append(f"blktrace post-processing: {e}")

    # -- verification


def run_phase(spec_path):
    """Run fio and the job's driver side by side (this process is what the tracer traces)."""
    with open(spec_path) as f:
        spec = json.load(f)
    env = dict(os.environ, **spec["env"])
    procs = {}
    cpu0 = guestcpu.snapshot()
    t0 = time.monotonic()
    times = {}
    with open(spec["fio_log"], "w") as flog:
        procs["fio"] = subprocess.Popen(spec["fio"], cwd=spec["fio_cwd"], env=env,
                                        stdin=subprocess.DEVNULL, stdout=flog,
                                        stderr=subprocess.STDOUT)
    if spec.get("driver"):
        with open(spec["driver_log"], "w") as dlog:
            procs["driver"] = subprocess.Popen(spec["driver"], env=env, stdin=subprocess.DEVNULL,
                                               stdout=dlog, stderr=subprocess.STDOUT)
    rcs = {}
    try:
        while len(rcs) < len(procs):
            for k, p in procs.items():
                if k not in rcs and p.poll() is not None:
                    rcs[k] = p.returncode
                    times[k] = round(time.monotonic() - t0, 3)
            time.sleep(0.05)
    except KeyboardInterrupt:
        for p in procs.values():
            stop_proc(p, signal.SIGINT, timeout=60, group=False)
        raise
    # The window of guest_cpu.json: the workload and the writeback of its data
    # (sync), not the tracer's attach before it nor the harness after.
    os.sync()
    if spec.get("guest_cpu"):
        body = guestcpu.window(cpu0, guestcpu.snapshot())
        with open(spec["guest_cpu"], "w") as f:
            json.dump(body, f, indent=1)
    status = {"fio_rc": rcs.get("fio"), "driver_rc": rcs.get("driver"),
              "fio_s": times.get("fio"), "driver_s": times.get("driver")}
    with open(spec["status"] + ".tmp", "w") as f:
        json.dump(status, f)
    os.replace(spec["status"] + ".tmp", spec["status"])
    return 0 if all(v == 0 for v in rcs.values()) else 1
