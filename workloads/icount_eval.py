#!/usr/bin/python3
"""Helper of workloads/icount-eval.sh (issue 14, item 1): how steady is each figure from rep
to rep, with and without QEMU's -icount?

  icount_eval.py stamp LOG       copy stdin to stdout, and to LOG with the host's time per line
  icount_eval.py cell FILE ...   write one boot's cell.json (mode, exit, wall time, load)
  icount_eval.py table DIR [--json FILE]
                                 the table over DIR/<cell>/ (one cell = one workload in one
                                 icount mode, one guest boot): per rep fio bw (guest clock),
                                 fio's sys CPU per MiB (analysis metric), guest-wide
                                 CPU per MiB (perf samples of all non-harness tasks), the host's wall time
                                 of the rep and of its workload phase; per cell the mean and the
                                 coefficient of variation (sample sd / mean) and the host load.
"""
import argparse
import json
import math
import os
import re
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)

from analysis import metrics, schema  # noqa: E402

# The runner relays the guest's phase lines ("[wbtrace] fio-randwrite stock rep 2/5: mount
# (1m02s)") and prints one summary line per rep ("rep 2/5: PASS ...").
PHASE = re.compile(r"^\[wbtrace\] .*?rep (\d+)/(\d+): (.+?) \(\d+m\d\ds\)$")
SUMMARY = re.compile(r"^rep (\d+)/(\d+): (PASS|FAIL|INTERRUPTED)")

FIGURES = (("fio.bw_MiBps", "bw MiB/s"), ("fio.sys_cpu_ms_per_MiB", "fio sys ms/MiB"),
           ("sys.cpu_ms_per_MiB", "guest busy ms/MiB"),
           ("guest_cpu_ms_per_MiB", "guest CPU ms/MiB"),
           ("wall_rep_s", "wall/rep s"), ("wall_workload_s", "wall fio s"))

# Guest-wide CPU of the workload phase: the runner's `perf record -a -e cpu-clock -F 99`
# samples (stacks.folded, first frame = the task's comm), every task except idle and the
# measuring harness, i.e. fio plus the flusher, kworkers, f2fs and RCU threads.  One
# sample = 1/99 s of guest time on one CPU.
PERF_HZ = 99
HARNESS = {"swapper", "perf", "blktrace", "wbtrace-trace", "wbtrace-run", "python3"}


def cmd_stamp(log):
    with open(log, "a", buffering=1) as out:
        for line in sys.stdin:
            sys.stdout.write(line)
            sys.stdout.flush()
            out.write(f"{time.time():.3f}\t{line.rstrip(chr(10))}\n")
    return 0


def host_walls(log):
    """{rep: {"wall_rep_s": s, "wall_workload_s": s}} from a stamped log (host clock)."""
    starts, ends, wl_start, wl_end = {}, {}, {}, {}
    try:
        with open(log) as f:
            lines = [ln.rstrip("\n").split("\t", 1) for ln in f if "\t" in ln]
    except OSError:
        return {}
    for t, text in lines:
        t = float(t)
        m = PHASE.match(text)
        if m:
            rep, phase = int(m.group(1)), m.group(3)
            starts.setdefault(rep, t)
            if phase == "workload":
                wl_start[rep] = t
            elif rep in wl_start and rep not in wl_end:
                wl_end[rep] = t
            continue
        m = SUMMARY.match(text)
        if m:
            ends[int(m.group(1))] = t
    out = {}
    for rep in sorted(ends):
        # A rep runs from its first phase line (mkfs) to its summary line.
        d = {}
        if rep in starts:
            d["wall_rep_s"] = ends[rep] - starts[rep]
        if rep in wl_start and rep in wl_end:
            d["wall_workload_s"] = wl_end[rep] - wl_start[rep]
        out[rep] = d
    return out


def guest_cpu_ms_per_mib(run):
    path = run.file("stacks.folded")
    writes = metrics.fio_write_jobs(run)
    mib = sum(float(w.get("io_bytes", 0)) for w in writes) / (1 << 20)
    if not path or mib <= 0:
        return None
    samples = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if stack and stack.split(";", 1)[0] not in HARNESS:
                samples += int(n)
    return samples * 1000.0 / PERF_HZ / mib


def cv(values):
    vals = [v for v in values if v is not None]
    if len(vals) < 2:
        return None, None, len(vals)
    mean = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return mean, (sd / mean if mean else None), len(vals)


def cell_table(cell_dir):
    with open(os.path.join(cell_dir, "cell.json")) as f:
        cell = json.load(f)
    runs_dir = os.path.join(cell_dir, "runs")
    walls = host_walls(os.path.join(cell_dir, "output.log"))
    reps = []
    dirs = [os.path.join(runs_dir, n) for n in sorted(os.listdir(runs_dir))
            if n.startswith("rep-")] if os.path.isdir(runs_dir) else []
    if not dirs and os.path.isfile(os.path.join(runs_dir, "meta.json")):     # --reps 1
        dirs = [runs_dir]
    for rd in dirs:
        rep = int(os.path.basename(rd)[4:]) if rd != runs_dir else 1
        row = {"rep": rep, "verified": False}
        try:
            run = schema.load_run(rd)
        except schema.ResultsError as e:
            # A failed rep (e.g. a guest-side timeout) has no fio.json: listed, not measured.
            row["error"] = str(e)
            why = []
            try:
                with open(os.path.join(rd, "verify.txt")) as f:
                    why = [ln.strip() for ln in f if ln.startswith("note: failed")]
            except OSError:
                pass
            if why:
                row["error"] = why[0][len("note: "):]
            reps.append(row)
            continue
        m = metrics.run_metrics(run)
        host = run.meta.get("host") or {}
        row.update({"fio.bw_MiBps": m.get("fio.bw_MiBps"),
                    "fio.sys_cpu_ms_per_MiB": m.get("fio.sys_cpu_ms_per_MiB"),
                    "sys.cpu_ms_per_MiB": m.get("sys.cpu_ms_per_MiB"),
                    "guest_cpu_ms_per_MiB": guest_cpu_ms_per_mib(run),
                    "verified": all(v == "pass" for v in run.meta.get("verify", {}).values()),
                    "icount": host.get("icount", "off"), "accel": host.get("accel"),
                    "scratch": (run.meta.get("f2fs") or {}).get("device_kind"),
                    "vcpus": host.get("cpus"),
                    "guest_duration_s": run.meta.get("duration_s")})
        row.update(walls.get(rep, {}))
        reps.append(row)
    summary = {}
    for key, _ in FIGURES:
        # Only verified reps count: a failed rep's figures describe a different run.
        mean, c, n = cv([r.get(key) for r in reps if r["verified"]])
        summary[key] = {"mean": mean, "cv": c, "n": n}
    return dict(cell, reps=reps, summary=summary)


def fmt(v, nd=2):
    return "–" if v is None else f"{v:.{nd}f}"


def cmd_table(top, json_out):
    cells = []
    for name in sorted(os.listdir(top)):
        if os.path.isfile(os.path.join(top, name, "cell.json")):
            cells.append(cell_table(os.path.join(top, name)))
    cells.sort(key=lambda c: (c.get("workload", ""), c.get("order", 0)))
    hdr = ["workload", "icount", "scratch", "vCPUs", "reps"]
    for _, label in FIGURES:
        hdr += [f"{label} mean", f"{label} CV"]
    hdr += ["run s (boot incl.)", "load before", "load after"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for c in cells:
        s = c["summary"]
        ok = sum(1 for r in c["reps"] if r["verified"])
        kinds = sorted({str(r.get("scratch")) for r in c["reps"] if r.get("scratch")})
        vcpus = sorted({str(r.get("vcpus")) for r in c["reps"] if r.get("vcpus")})
        row = [c.get("workload", "?"), c.get("icount") or "off",
               "/".join(kinds) or "–", "/".join(vcpus) or "–",
               f"{ok}" + (f" of {len(c['reps'])}" if ok != len(c["reps"]) else "")]
        for key, _ in FIGURES:
            row += [fmt(s[key]["mean"], 1), fmt(100 * s[key]["cv"] if s[key]["cv"] is not None
                                                else None, 1) + " %"]
        row += [str(c.get("boot_wall_s", "–")), c.get("load_before", "–"),
                c.get("load_after", "–")]
        print("| " + " | ".join(row) + " |")
    for c in cells:
        for r in c["reps"]:
            if not r["verified"]:
                print(f"\n{c['workload']}, icount {c.get('icount') or 'off'}, rep {r['rep']}: "
                      f"not verified: {r.get('error', 'a verification step failed')}")
    if json_out:
        with open(json_out, "w") as f:
            json.dump(cells, f, indent=1)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="icount_eval.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stamp")
    s.add_argument("log")
    c = sub.add_parser("cell")
    c.add_argument("file")
    c.add_argument("--workload", required=True)
    c.add_argument("--icount", required=True)
    c.add_argument("--order", type=int, default=0)
    c.add_argument("--reps", type=int, required=True)
    c.add_argument("--exit", type=int, required=True)
    c.add_argument("--wall", type=float, required=True)
    c.add_argument("--load-before", default="")
    c.add_argument("--load-after", default="")
    c.add_argument("--untraced", action="store_true")
    t = sub.add_parser("table")
    t.add_argument("dir")
    t.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    if a.cmd == "stamp":
        return cmd_stamp(a.log)
    if a.cmd == "cell":
        with open(a.file, "w") as f:
            json.dump({"workload": a.workload, "icount": "" if a.icount == "off" else a.icount,
                       "order": a.order, "reps_asked": a.reps, "exit": a.exit,
                       "boot_wall_s": round(a.wall), "load_before": a.load_before,
                       "load_after": a.load_after, "traced": not a.untraced}, f, indent=1)
        return 0
    return cmd_table(a.dir, a.json)


if __name__ == "__main__":
    sys.exit(main())
