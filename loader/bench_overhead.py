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

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)
sys.path.insert(0, os.path.join(TOP, "workloads"))
from analysis import stats  # noqa: E402
import guestcpu  # noqa: E402

GOALS = {"hist": 3.0, "stream": 5.0}    # the largest overhead (%) each tracer mode may cost
PER_EVENT_FACTOR = 3.0                  # each mode at least this many times cheaper per event than bpftrace


def read_snap(path, hz):
    """A guestcpu snapshot from bench-overhead.sh's snap(): "t_us N", then /proc/stat."""
    with open(path) as fh:
        first, _, rest = fh.read().partition("\n")
    key, _, val = first.partition(" ")
    if key != "t_us":
        raise ValueError(f"{path}: first line {first!r} is not 't_us N'")
    return {"t_ns": int(val) * 1000, "cpus": guestcpu.parse_proc_stat(rest), "hz": hz}


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
    if os.path.exists(f"{w}/stat0") and os.path.exists(f"{w}/stat1"):
        win = guestcpu.window(read_snap(f"{w}/stat0", hz), read_snap(f"{w}/stat1", hz))
        row.update(guest_cpu_ns=round(win["busy_ms"] * 1e6), guest_window_ns=round(win["elapsed_ms"] * 1e6),
                   guest_cpu_resolution_ns=round(win["resolution_ms"] * 1e6))
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
        by_name = {}       # names are cut to 15 characters: bpftrace's can repeat
        for p in progs:
            a = by_name.setdefault(p.get("name", "?"), [0, 0])
            a[0] += p["run_cnt"]
            a[1] += p["run_time_ns"]
        row.update(bpf_run_cnt=sum(p["run_cnt"] for p in progs),
                   bpf_run_time_ns=sum(p["run_time_ns"] for p in progs), bpf_progs=by_name)
    return row


def ci(xs):
    m, h = stats.mean_ci(xs)
    return {"mean": m, "lo": m - h, "hi": m + h} if not math.isnan(h) else {"mean": m, "lo": None, "hi": None}


def le_verdict(d, goal):
    """Is the cost interval d (mean/lo/hi, positive = costlier) at most goal?"""
    if d["hi"] is not None and d["hi"] <= goal:
        return "met"
    if d["lo"] is not None and d["lo"] > goal:
        return "not met"
    if d["lo"] is None:
        return "inconclusive (one run: no interval)"
    return "inconclusive (CI straddles the goal)"


def cheaper_verdict(mode, anchor, factor=PER_EVENT_FACTOR):
    """Is mode's per-event cost interval at least factor times below the anchor's? Met when
    the anchor's lower bound is >= factor x mode's upper bound, not met when the anchor's
    upper bound is below factor x mode's lower bound; without intervals, by the means."""
    ratio = anchor["mean"] / mode["mean"] if mode["mean"] > 0 else None
    out = {"mode_ns": mode, "bpftrace_ns": anchor, "ratio": ratio}
    if None in (mode["lo"], mode["hi"], anchor["lo"], anchor["hi"]):
        if ratio is None:
            out["verdict"] = "inconclusive (no cost left to compare)"
        else:
            out["verdict"] = ("met" if ratio >= factor else "not met") + " (one run: no interval)"
        return out
    out["ratio_bounds"] = [anchor["lo"] / mode["hi"] if mode["hi"] > 0 else None,
                           anchor["hi"] / mode["lo"] if mode["lo"] > 0 else None]
    if mode["hi"] > 0 and anchor["lo"] >= factor * mode["hi"]:
        out["verdict"] = "met"
    elif anchor["hi"] < factor * mode["lo"]:
        out["verdict"] = "not met"
    else:
        out["verdict"] = "inconclusive (intervals overlap the factor)"
    return out


def probe_costs(pc):
    """The probe-cost runs (kernel.bpf_stats_enabled) per configuration: means over its runs,
    the interval of BPF ns per event, and per program its runs per event and ns per run."""
    out = {}
    by = {}
    for r in pc:
        by.setdefault(r["config"], []).append(r)
    for cfg, rs in by.items():
        ok = [r for r in rs if r.get("bpf_run_cnt")]
        ev = [r for r in ok if r.get("events")]
        progs = {}
        for r in ok:
            for name, (cnt, ns) in r.get("bpf_progs", {}).items():
                a = progs.setdefault(name, [0, 0])
                a[0] += cnt
                a[1] += ns
        events = sum(r["events"] for r in ev)
        out[cfg] = {
            "runs": len(rs),
            "events": stats.mean([r["events"] for r in rs if r.get("events")]) if any(
                r.get("events") for r in rs) else None,
            "bpf_run_cnt": stats.mean([r["bpf_run_cnt"] for r in ok]) if ok else None,
            "bpf_run_time_ns": stats.mean([r["bpf_run_time_ns"] for r in ok]) if ok else None,
            "ns_per_prog_run": stats.mean([r["bpf_run_time_ns"] / r["bpf_run_cnt"] for r in ok]) if ok else None,
            "bpf_ns_per_event": stats.mean([r["bpf_run_time_ns"] / r["events"] for r in ev]) if ev else None,
            "bpf_ns_per_event_ci": ci([r["bpf_run_time_ns"] / r["events"] for r in ev]) if ev else None,
            "progs": {n: {"run_cnt": c, "run_time_ns": t, "ns_per_run": t / c if c else None,
                          "runs_per_event": c / events if events and len(ev) == len(ok) else None}
                      for n, (c, t) in sorted(progs.items(), key=lambda kv: -kv[1][1])}}
    return out


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
        gc = [r for r in rs if "guest_cpu_ns" in r]
        if gc:
            c["guest_cpu_ms_per_mib"] = ci([r["guest_cpu_ns"] / 1e6 / r["mib"] for r in gc])
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
            if len(common) >= 2:        # a one-rep pilot has no interval
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
            gk = [k for k in common if "guest_cpu_ns" in rr[k] and "guest_cpu_ns" in base[k]]
            if gk:
                c["guest_cpu_delta_pct"] = ci([100.0 * (rr[k]["guest_cpu_ns"] / base[k]["guest_cpu_ns"] - 1.0)
                                               for k in gk])
                c["extra_guest_cpu_ms_per_mib"] = ci([(rr[k]["guest_cpu_ns"] - base[k]["guest_cpu_ns"])
                                                      / 1e6 / rr[k]["mib"] for k in gk])
                gev = [k for k in gk if rr[k].get("events")]
                if gev:
                    c["extra_guest_cpu_ns_per_event"] = ci([(rr[k]["guest_cpu_ns"] - base[k]["guest_cpu_ns"])
                                                            / rr[k]["events"] for k in gev])
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
        if c and "guest_cpu_delta_pct" in c:   # the deterministic axis under -icount
            d = c["guest_cpu_delta_pct"]
            rep["goals"][f"{cfg}_guest_cpu_per_mib_le_{goal:g}pct"] = {
                "overhead_pct": d["mean"], "ci": [d["lo"], d["hi"]], "verdict": le_verdict(d, goal)}
            continue
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

    rep["probe_cost"] = probe_costs(pc)
    bt_pc = rep["probe_cost"].get("bpftrace", {}).get("bpf_ns_per_event_ci")
    bt_cpu = rep["configs"].get("bpftrace", {}).get("extra_guest_cpu_ns_per_event")
    for mode in GOALS:
        m_pc = rep["probe_cost"].get(mode, {}).get("bpf_ns_per_event_ci")
        if m_pc and bt_pc:
            rep["goals"][f"{mode}_bpf_ns_per_event_{PER_EVENT_FACTOR:g}x_below_bpftrace"] = cheaper_verdict(m_pc, bt_pc)
        m_cpu = rep["configs"].get(mode, {}).get("extra_guest_cpu_ns_per_event")
        if m_cpu and bt_cpu:
            rep["goals"][f"{mode}_guest_cpu_ns_per_event_{PER_EVENT_FACTOR:g}x_below_bpftrace"] = \
                cheaper_verdict(m_cpu, bt_cpu)

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
             f"{cond['virt']} ({cond['cpu_model']}), {cond['cpus']} CPUs, {rep['workload']}, {rep['reps']} reps"
             + (f", -icount {cond['icount']}" if cond.get("icount", "unknown") != "unknown" else ""),
             ""]
    if any("guest_cpu_ms_per_mib" in c for c in rep["configs"].values()):
        lines += ["Guest CPU (CPUs x elapsed - idle - iowait, fio start to its end + tail; under -icount "
                  "shift=3: executed guest instructions x 8 ns), paired by repetition vs none", "",
                  "| config | guest CPU ms/MiB [95% CI] | Δ guest CPU % vs none [95% CI] | "
                  "extra guest CPU ms/MiB [95% CI] | events/run | extra guest CPU ns/event [95% CI] | "
                  "tracer process CPU ms/run | drops |", "|---|---|---|---|---|---|---|---|"]
        for cfg in ("none", "idle", "hist", "stream", "bpftrace"):
            c = rep["configs"].get(cfg)
            if not c or "guest_cpu_ms_per_mib" not in c:
                continue
            lines.append(f"| {cfg} | {fci(c['guest_cpu_ms_per_mib'], 1)} | {fci(c.get('guest_cpu_delta_pct'), 2)} | "
                         f"{fci(c.get('extra_guest_cpu_ms_per_mib'), 2)} | {f(c.get('events_per_run'), 0)} | "
                         f"{fci(c.get('extra_guest_cpu_ns_per_event'), 0)} | "
                         f"{f(c['tracer_process_cpu_ms']['mean'], 0)} | {c.get('drops_total', '-')} |")
        lines += ["", "Throughput and sampled CPU", ""]
    lines += ["| config | MiB/s [95% CI] | Δ throughput % vs none [95% CI] | busy CPU ms/run | extra CPU ms/run [95% CI] | "
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
        lines += ["", "Probe cost (separate runs per config, kernel.bpf_stats_enabled=1: time inside the BPF "
                  "programs only, means over the runs)", "",
                  "| config | runs | events | BPF program runs | run time ms | ns/program run | BPF ns/event [95% CI] |",
                  "|---|---|---|---|---|---|---|"]
        for cfg, v in rep["probe_cost"].items():
            lines.append(f"| {cfg} | {v['runs']} | {f(v['events'], 0)} | {f(v['bpf_run_cnt'], 0)} | "
                         f"{f((v['bpf_run_time_ns'] or 0) / 1e6)} | {f(v['ns_per_prog_run'], 0)} | "
                         f"{fci(v['bpf_ns_per_event_ci'], 0)} |")
        lines += ["", "| config | program | runs/event | ns/run |", "|---|---|---|---|"]
        for cfg, v in rep["probe_cost"].items():
            for name, p in v["progs"].items():
                lines.append(f"| {cfg} | {name} | {f(p['runs_per_event'], 2)} | {f(p['ns_per_run'], 0)} |")
    lines.append("")
    for k, v in rep["goals"].items():
        if "slowdown_pct" in v:
            extra = f" (slowdown {f(v['slowdown_pct'])} %, CI [{f(v['ci'][0])}, {f(v['ci'][1])}])"
        elif "overhead_pct" in v:
            extra = f" (overhead {f(v['overhead_pct'], 2)} %, CI [{f(v['ci'][0], 2)}, {f(v['ci'][1], 2)}])"
        elif "ratio" in v:
            extra = (f" (bpftrace {fci(v['bpftrace_ns'], 0)} ns/event vs {fci(v['mode_ns'], 0)}: "
                     f"{f(v['ratio'], 2)}x" + (f", bounds [{f(v['ratio_bounds'][0], 2)}, {f(v['ratio_bounds'][1], 2)}]"
                                              if "ratio_bounds" in v else "") + ")")
        else:
            extra = f" ({v['drops']} drops)"
        lines.append(f"goal {k}: {v['verdict']}{extra}")
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
    guest = f"  guest cpu {row['guest_cpu_ns'] / 1e6 / row['mib']:.1f} ms/MiB" if "guest_cpu_ns" in row else ""
    return ("  rep {rep} {config:8s} {mib_s:8.2f} MiB/s  cpu {cpu_busy_ns:>12} ns  "
            "events {events}  drops {drops}".format(**row) + guest)


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
