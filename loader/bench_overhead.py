"""The Python of loader/bench-overhead.sh (the tracer's self-overhead benchmark):

  bench_overhead.py row WORK CFG REP POS WALL_NS BUSY_TICKS TRACER_TICKS HZ MIB KILLED
      one timed run's JSON line, from what the run left in WORK (time, fio.json,
      sum.json or the bpftrace output t.out, progs.json)
  bench_overhead.py progress            the progress line of the JSON row on stdin
  bench_overhead.py report OUT          OUT/report.json and OUT/table.txt from
      OUT/runs.jsonl, OUT/probe_cost.jsonl and OUT/conditions.txt; prints the table

bench-overhead.sh says what is measured and how."""
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from analysis import stats  # noqa: E402

GOALS = {"hist": 3.0, "stream": 5.0}    # the largest slowdown (%) each tracer mode may cost


def run_row(w, cfg, rep, pos, wall, ticks, tticks, hz, mib, killed):
    """One timed run as a dict: throughput, CPU, and the tracer's counts (none when the
    tracer was killed); w is the run's work directory."""
    sys_s, usr_s = map(float, open(f"{w}/time").read().split()[-2:])
    fio = json.load(open(f"{w}/fio.json"))["jobs"][0]["write"]
    row = {"config": cfg, "rep": rep, "pos": pos, "mib": mib, "wall_ns": wall,
           "mib_s": mib / (wall / 1e9), "cpu_busy_ns": ticks * 10**9 // hz,
           "tracer_cpu_ns": tticks * 10**9 // hz,
           "writer_sys_ns": round(sys_s * 1e9), "writer_user_ns": round(usr_s * 1e9),
           "fio_bw_mib_s": fio["bw_bytes"] / 2**20, "fio_ios": fio["total_ios"]}
    if killed:
        row.update(killed=True)
    elif cfg in ("hist", "stream"):
        s = json.load(open(f"{w}/sum.json")); c = s["counts"]
        folios = sum(c[k] for k in ("folios_written", "folios_redirtied", "folios_skipped",
                                    "folios_error", "folios_unknown"))
        bios = sum(c[k] for k in ("bios_data", "bios_node", "bios_meta", "bios_other"))
        row.update(events=c["writepages"] + c["writepages_no_exit"] + folios + bios + c["clusters"],
                   folios=folios, bios=bios, writepages=c["writepages"], handouts=c["handouts"],
                   delivered=s["events"], drops=s["drops"], valid=s["valid"],
                   folio_bytes_written=c["folio_bytes_written"], probes=s["probes"])
    elif cfg == "bpftrace":
        m = {k: int(v) for k, v in re.findall(r"^@(n_\w+): (\d+)$", open(f"{w}/t.out").read(), re.M)}
        row.update(events=sum(m.get(k, 0) for k in ("n_wp", "n_folio", "n_bio", "n_cluster")),
                   folios=m.get("n_folio", 0), bios=m.get("n_bio", 0), writepages=m.get("n_wp", 0),
                   handouts=m.get("n_handout", 0), loops=m.get("n_loop", 0), drops=0)
    # probe-cost pass only: kernel.bpf_stats_enabled run time of every BPF program that ran
    progs = [p for p in json.load(open(f"{w}/progs.json")) if p.get("run_cnt")]
    if progs:
        row.update(bpf_run_cnt=sum(p["run_cnt"] for p in progs),
                   bpf_run_time_ns=sum(p["run_time_ns"] for p in progs),
                   bpf_progs={p.get("name", "?"): [p["run_cnt"], p["run_time_ns"]] for p in progs})
    return row


def ci(xs):
    m, h = stats.mean_ci(xs)
    return {"mean": m, "lo": m - h, "hi": m + h} if not math.isnan(h) else {"mean": m, "lo": None, "hi": None}


def analyse(rows, cond, pc):
    """The report (wbtrace.bench-overhead/1) of the timed runs ROWS under the conditions
    COND, with the probe-cost runs PC; without its table."""
    by = {}
    for r in rows:
        by.setdefault(r["config"], {})[r["rep"]] = r
    base = by.get("none", {})

    rep = {"schema": "wbtrace.bench-overhead/1", "conditions": cond,
           "workload": f"fio 4k randwrite, {rows[0]['mib']} MiB buffered, end_fsync, psync",
           "reps": max(len(v) for v in by.values()), "ci": "95 % t-interval (analysis.stats.mean_ci) "
           "of the per-repetition paired relative difference vs none",
           "configs": {}, "goals": {}}
    for cfg, rr in by.items():
        rs = [rr[k] for k in sorted(rr)]
        c = {"reps": len(rs), "mib_s": ci([r["mib_s"] for r in rs]),
             "wall_ms": ci([r["wall_ns"] / 1e6 for r in rs]),
             "cpu_busy_ms": ci([r["cpu_busy_ns"] / 1e6 for r in rs]),
             "writer_sys_ms": ci([r["writer_sys_ns"] / 1e6 for r in rs]),
             "tracer_process_cpu_ms": ci([r["tracer_cpu_ns"] / 1e6 for r in rs])}
        counted = [r for r in rs if "events" in r]   # a killed bpftrace leaves no counts
        if counted:
            c["events_per_run"] = stats.mean([r["events"] for r in counted])
            c["drops_total"] = sum(r["drops"] for r in counted)
            c["drops_per_run"] = [r["drops"] for r in counted]
            c["runs_without_counts"] = len(rs) - len(counted)
        if cfg != "none" and base:
            common = sorted(set(rr) & set(base))
            rel = [100.0 * (rr[k]["mib_s"] / base[k]["mib_s"] - 1.0) for k in common]
            c["throughput_delta_pct"] = ci(rel)
            w = stats.welch([base[k]["mib_s"] for k in common], [rr[k]["mib_s"] for k in common])
            m0 = stats.mean([base[k]["mib_s"] for k in common])
            c["throughput_delta_pct_welch"] = {"mean": 100 * w["diff"] / m0, "lo": 100 * w["ci_lo"] / m0,
                                               "hi": 100 * w["ci_hi"] / m0, "p": w["p"]}
            extra = [rr[k]["cpu_busy_ns"] - base[k]["cpu_busy_ns"] for k in common]
            c["extra_cpu_ms"] = ci([x / 1e6 for x in extra])
            ev = [(x, k) for x, k in zip(extra, common) if rr[k].get("events")]
            if ev:
                c["ns_per_event"] = ci([x / rr[k]["events"] for x, k in ev])
                c["writer_sys_ns_per_event"] = ci([(rr[k]["writer_sys_ns"] - base[k]["writer_sys_ns"])
                                                   / rr[k]["events"] for _, k in ev])
        rep["configs"][cfg] = c
    idle = by.get("idle", {})
    if idle:
        for cfg in ("hist", "stream", "bpftrace"):
            rr = by.get(cfg)
            if not rr:
                continue
            common = sorted(set(rr) & set(idle))
            rep["configs"][cfg]["throughput_delta_pct_vs_idle"] = ci(
                [100.0 * (rr[k]["mib_s"] / idle[k]["mib_s"] - 1.0) for k in common])
    for cfg, goal in GOALS.items():
        c = rep["configs"].get(cfg)
        if not c or "throughput_delta_pct" not in c:
            continue
        d = c["throughput_delta_pct"]          # negative = slower
        slow, slow_hi = -d["mean"], (-d["lo"] if d["lo"] is not None else None)
        slow_lo = -d["hi"] if d["hi"] is not None else None
        if slow_hi is not None and slow_hi <= goal:
            verdict = "met"
        elif slow_lo is not None and slow_lo > goal:
            verdict = "not met"
        else:
            verdict = "inconclusive (CI straddles the goal)"
        rep["goals"][f"{cfg}_slowdown_le_{goal:g}pct"] = {"slowdown_pct": slow, "ci": [slow_lo, slow_hi],
                                                          "verdict": verdict}
    st = rep["configs"].get("stream")
    if st:
        rep["goals"]["stream_zero_drops_default_ring"] = {"drops": st["drops_total"],
                                                          "verdict": "met" if st["drops_total"] == 0 else "not met"}

    rep["probe_cost"] = {r["config"]: {
        "events": r.get("events"), "bpf_run_cnt": r.get("bpf_run_cnt"), "bpf_run_time_ns": r.get("bpf_run_time_ns"),
        "ns_per_prog_run": r["bpf_run_time_ns"] / r["bpf_run_cnt"] if r.get("bpf_run_cnt") else None,
        "bpf_ns_per_event": r["bpf_run_time_ns"] / r["events"] if r.get("events") and r.get("bpf_run_cnt") else None,
        "progs": r.get("bpf_progs")} for r in pc}

    return rep


def f(x, nd=1):
    return "-" if x is None else f"{x:.{nd}f}"


def fci(d, nd=1):
    return "-" if not d else f"{f(d['mean'], nd)} [{f(d['lo'], nd)}, {f(d['hi'], nd)}]"


def table(rep):
    """The report as Markdown tables and one line per goal."""
    cond = rep["conditions"]
    idle = "idle" in rep["configs"]
    lines = [f"wbtrace self-overhead, {cond['date_utc']}, kernel {cond['kernel']} f2fs {cond['variant']}, "
             f"{cond['virt']} ({cond['cpu_model']}), {cond['cpus']} CPUs, {rep['workload']}, {rep['reps']} reps",
             "",
             "| config | MiB/s [95% CI] | Δ throughput % vs none [95% CI] | busy CPU ms/run | extra CPU ms/run [95% CI] | "
             "writer sys ms/run | tracer process CPU ms/run | events/run | extra CPU ns/event [95% CI] | "
             "extra writer sys ns/event [95% CI] | drops |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for cfg in ("none", "idle", "hist", "stream", "bpftrace"):
        c = rep["configs"].get(cfg)
        if not c:
            continue
        lines.append(f"| {cfg} | {fci(c['mib_s'], 2)} | {fci(c.get('throughput_delta_pct'))} | "
                     f"{f(c['cpu_busy_ms']['mean'], 0)} | {fci(c.get('extra_cpu_ms'), 0)} | "
                     f"{f(c['writer_sys_ms']['mean'], 0)} | {f(c['tracer_process_cpu_ms']['mean'], 0)} | "
                     f"{f(c.get('events_per_run'), 0)} | {fci(c.get('ns_per_event'), 0)} | "
                     f"{fci(c.get('writer_sys_ns_per_event'), 0)} | {c.get('drops_total', '-')} |")
    if idle:
        lines += ["", "Against the idle control (no probes, a task waking every 100 ms):", "",
                  "| config | Δ throughput % vs idle [95% CI] |", "|---|---|"]
        for cfg in ("hist", "stream", "bpftrace"):
            if cfg in rep["configs"]:
                lines.append(f"| {cfg} | {fci(rep['configs'][cfg].get('throughput_delta_pct_vs_idle'))} |")
    if rep["probe_cost"]:
        lines += ["", "Probe cost (separate run per config, kernel.bpf_stats_enabled=1: time inside the BPF programs only)", "",
                  "| config | events | BPF program runs | run time ms | ns/program run | BPF ns/event |", "|---|---|---|---|---|---|"]
        for cfg, v in rep["probe_cost"].items():
            lines.append(f"| {cfg} | {v['events']} | {v['bpf_run_cnt']} | {f((v['bpf_run_time_ns'] or 0) / 1e6)} | "
                         f"{f(v['ns_per_prog_run'], 0)} | {f(v['bpf_ns_per_event'], 0)} |")
    lines.append("")
    for k, v in rep["goals"].items():
        lines.append(f"goal {k}: {v['verdict']}" + (f" (slowdown {f(v['slowdown_pct'])} %, CI "
                     f"[{f(v['ci'][0])}, {f(v['ci'][1])}])" if "slowdown_pct" in v else f" ({v['drops']} drops)"))
    return "\n".join(lines)


def report(out):
    with open(f"{out}/runs.jsonl") as fh:
        rows = [json.loads(ln) for ln in fh]
    with open(f"{out}/conditions.txt") as fh:
        cond = dict(ln.rstrip("\n").split("=", 1) for ln in fh)
    with open(f"{out}/probe_cost.jsonl") as fh:
        pc = [json.loads(ln) for ln in fh if ln.strip()]
    rep = analyse(rows, cond, pc)
    rep["table"] = table(rep)
    with open(f"{out}/report.json", "w") as fh:
        json.dump(rep, fh, indent=1)
    with open(f"{out}/table.txt", "w") as fh:
        fh.write(rep["table"] + "\n")
    print(rep["table"])
    print(f"\nreport: {out}/report.json")


def progress(row):
    row = dict(row)
    row.setdefault("events", "-")
    row.setdefault("drops", "-")
    return ("  rep {rep} {config:8s} {mib_s:8.2f} MiB/s  cpu {cpu_busy_ns:>12} ns  "
            "events {events}  drops {drops}".format(**row))


def main(argv):
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    mode, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    try:
        if mode == "row" and len(args) == 10:
            print(json.dumps(run_row(args[0], args[1], *map(int, args[2:]))))
            return 0
        if mode == "progress" and not args:
            print(progress(json.load(sys.stdin)))
            return 0
        if mode == "report" and len(args) == 1:
            report(args[0])
            return 0
    except ValueError as e:     # a number that is not one, or JSON that is not JSON
        print(f"bench_overhead.py {mode}: {e}", file=sys.stderr)
        return 2
    print(f"bench_overhead.py: bad arguments {' '.join(argv[1:])!r} (see --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
