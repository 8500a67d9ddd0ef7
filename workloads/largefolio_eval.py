#!/usr/bin/python3
"""Helper of workloads/largefolio-eval.sh and largefolio-crosscheck.sh (issue 16, item 5):
the f2fs `largefolio` mount option off against on, in folios, bios and guest instructions
per MiB written.

  largefolio_eval.py stamp LOG        copy stdin to stdout, and to LOG with the host's time
  largefolio_eval.py cell FILE ...    write one boot's cell.json (workload, side, options,
                                      exit, wall time, host load)
  largefolio_eval.py table DIR [--json FILE]
        the table over DIR/<workload>--<side>/ (one cell = one workload with the switch off
        or on, one guest boot of `./wbtrace run`): per rep, from the tracer's summary, fio
        and the guest's busy time, the figures below; per side their mean and coefficient
        of variation (sample sd / mean, verified reps only); per workload the change on
        against off with a 95 % interval (Welch's t on the log values, as analysis/compare
        does: a ratio of geometric means); per rep the cross-check of the tracer's data
        blocks against f2fs's own counters (f2fs-status.txt).
  largefolio_eval.py crosscheck DIR [--json FILE]
        one largefolio-crosscheck.sh run: the tracer's folio and bio counts against the
        guest's ftrace events and f2fs's status counters; exit 1 on a mismatch.

Figures per MiB are per MiB that fio wrote (its io_bytes), as sys.cpu_ms_per_MiB is.
"""
import argparse
import json
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, TOP)
sys.path.insert(0, HERE)

from analysis import metrics, schema  # noqa: E402
from analysis.stats import welch_floored  # noqa: E402
import icount_eval  # noqa: E402

MiB = 1 << 20
BLK = 4096
SIDES = ("off", "on")
SIDE_OPTS = {"off": "noinline_data", "on": "largefolio,noinline_data"}

# (key, label, unit, direction): direction +1 higher is better, -1 lower is better, 0 a
# description (more or fewer, neither good nor bad by itself).
FIGURES = (
    ("folios_per_MiB", "folios written per MiB", "", 0),
    ("folio_kib", "mean folio written", "KiB", 0),
    ("large_folio_pct", "folios written that are large", "%", 0),
    ("bios_per_MiB", "data bios per MiB", "", 0),
    ("bio_kib", "mean data bio", "KiB", 0),
    ("written_per_MiB", "data written per MiB by fio", "MiB", -1),
    ("busy_ms_per_MiB", "guest busy per MiB (instructions)", "ms", -1),
    ("passes_per_MiB", "writeback passes per MiB", "", 0),
    ("wp_ms_per_MiB", "->writepages time per MiB (traced)", "ms", -1),
    ("hot_pct", "data bios to the hot log", "%", 0),
    ("dirty_segs", "dirty segments at the window's end (GC victims)", "", -1),
    ("bw_MiBps", "fio bandwidth (guest clock)", "MiB/s", +1),
)


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- f2fs's own counters

def f2fs_status_blocks(path):
    """{"allocated": N, "ipu": N, "gc_moved": N, "dirty_segs": N} from a copy of
    /sys/kernel/debug/f2fs/status: data blocks allocated out of place ("Allocated Data
    Blocks", block age extent section), blocks written in place ("IPU: N blocks"), blocks
    garbage collection set out to move ("Try to move N blocks") and segments holding
    invalid blocks, the next victims of background GC ("- Dirty: N"); {} when the file is
    missing or unreadable."""
    out = {}
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return out
    m = re.search(r"Allocated Data Blocks:\s*(\d+)", text)
    if m:
        out["allocated"] = int(m.group(1))
    m = re.search(r"^IPU:\s*(\d+) blocks", text, re.M)
    if m:
        out["ipu"] = int(m.group(1))
    m = re.search(r"^Try to move (\d+) blocks", text, re.M)
    if m:
        out["gc_moved"] = int(m.group(1))
    m = re.search(r"^\s*- Dirty:\s*(\d+)", text, re.M)
    if m:
        out["dirty_segs"] = int(m.group(1))
    return out


def folio_events(path):
    """(written folios, of them large, bytes of the large ones by the folio's size) from a
    stream-mode events.jsonl; None when there is none."""
    if not path or not os.path.exists(path):
        return None
    n = large = 0
    with open(path) as f:
        for line in f:
            if '"k":"folio"' not in line:
                continue
            e = json.loads(line)
            if e.get("outcome") != "written":
                continue
            n += 1
            if (e.get("size") or 0) > BLK:
                large += 1
    return n, large


# ---------------------------------------------------------------- one rep

def rep_figures(rd):
    """The figures of one rep dir (a verified or failed rep) as a dict."""
    row = {"dir": rd, "verified": False}
    try:
        run = schema.load_run(rd)
    except schema.ResultsError as e:
        row["error"] = str(e)
        return row
    m = metrics.run_metrics(run)
    meta = run.meta
    host = meta.get("host") or {}
    f2 = meta.get("f2fs") or {}
    mib = sum(float(w.get("io_bytes", 0)) for w in metrics.fio_write_jobs(run)) / MiB
    row.update({"verified": all(v == "pass" for v in (meta.get("verify") or {}).values()),
                "mount_options": f2.get("mount_options"),
                "module_sha256": (meta.get("kernel") or {}).get("f2fs_module_sha256"),
                "icount": host.get("icount") or "off", "vcpus": host.get("cpus"),
                "scratch": f2.get("device_kind"), "MiB": mib,
                "busy_ms_per_MiB": m.get("sys.cpu_ms_per_MiB"),
                "bw_MiBps": m.get("fio.bw_MiBps")})
    st = f2fs_status_blocks(os.path.join(rd, "f2fs-status.txt"))
    if "allocated" in st and "ipu" in st:
        row["f2fs_blocks"] = st["allocated"] + st["ipu"]
    for k in ("gc_moved", "dirty_segs"):
        if k in st:
            row[k] = st[k]
    s = run.summary
    if mib <= 0:
        row["error"] = "fio wrote nothing"
        return row
    if s is None:           # --no-trace: fio, the guest's busy time and f2fs's counters only
        row["traced"] = False
        return row
    row["traced"] = True
    c = s.get("counts") or {}
    folios, fbytes = c.get("folios_written", 0), c.get("folio_bytes_written", 0)
    bios, bbytes = c.get("bios_data", 0), c.get("bio_bytes_data", 0)
    row.update({"folios": folios, "folio_bytes": fbytes, "bios": bios, "bio_bytes": bbytes,
                "passes": c.get("writepages", 0),
                "folios_per_MiB": folios / mib,
                "folio_kib": fbytes / folios / 1024 if folios else None,
                "bios_per_MiB": bios / mib,
                "bio_kib": bbytes / bios / 1024 if bios else None,
                "written_per_MiB": bbytes / MiB / mib,
                "passes_per_MiB": c.get("writepages", 0) / mib,
                "wp_ms_per_MiB": ((s.get("metrics") or {}).get("writepages_ns") or {})
                .get("sum", 0) / 1e6 / mib,
                "hot_pct": 100.0 * c.get("bios_data_hot", 0) / bios if bios else None,
                "drops": s.get("drops", 0)})
    fe = folio_events(run.file(os.path.join("trace", "events.jsonl")))
    if fe is not None:
        row["large_folios"] = fe[1]
        row["large_folio_pct"] = 100.0 * fe[1] / fe[0] if fe[0] else 0.0
    return row


def rep_dirs(runs_dir):
    """The rep dirs of one `./wbtrace run -o runs_dir` (rep-NN/, or runs_dir itself for one rep)."""
    if not os.path.isdir(runs_dir):
        return []
    dirs = [os.path.join(runs_dir, n) for n in sorted(os.listdir(runs_dir))
            if n.startswith("rep-") and os.path.isdir(os.path.join(runs_dir, n))]
    if not dirs and os.path.isfile(os.path.join(runs_dir, "meta.json")):
        dirs = [runs_dir]
    return dirs


def block_check(row):
    """The tracer's data blocks (bio bytes, folio bytes) against f2fs's own count: "" when
    they agree, else what differs."""
    if "f2fs_blocks" not in row or "bio_bytes" not in row:
        return "not checked"
    bb, fb, f2 = row["bio_bytes"] // BLK, row["folio_bytes"] // BLK, row["f2fs_blocks"]
    bad = []
    if bb != f2:
        bad.append(f"data bio blocks {bb} != f2fs {f2}")
    if fb != f2:
        bad.append(f"folio blocks {fb} != f2fs {f2}")
    return "; ".join(bad)


# ---------------------------------------------------------------- a cell, the table

def cell_data(cell_dir):
    with open(os.path.join(cell_dir, "cell.json")) as f:
        cell = json.load(f)
    reps = []
    walls = icount_eval.host_walls(os.path.join(cell_dir, "output.log"))
    for rd in rep_dirs(os.path.join(cell_dir, "runs")):
        row = rep_figures(rd)
        base = os.path.basename(rd)
        row["rep"] = int(base[4:]) if base.startswith("rep-") else 1
        row.update(walls.get(row["rep"], {}))
        row["check"] = block_check(row)
        reps.append(row)
    summary = {}
    for key, *_ in FIGURES:
        vals = [r.get(key) for r in reps if r["verified"]]
        mean, c, n = icount_eval.cv(vals)
        if n == 1:
            mean = [v for v in vals if v is not None][0]
        summary[key] = {"mean": mean, "cv": c, "n": n,
                        "values": [v for v in vals if v is not None]}
    return dict(cell, reps=reps, summary=summary)


def delta(off_vals, on_vals, alpha=0.05):
    """On against off: {"pct", "lo", "hi"} in %, Welch on the log values (the ratio of the
    geometric means), or None when a side has fewer than 2 values or a value <= 0."""
    if len(off_vals) < 2 or len(on_vals) < 2 or min(off_vals + on_vals) <= 0:
        return None
    w = welch_floored([math.log(v) for v in off_vals], [math.log(v) for v in on_vals], alpha)

    def pct(x):
        return 100.0 * math.expm1(x)
    return {"pct": pct(w["diff"]), "lo": pct(w["ci_lo"]), "hi": pct(w["ci_hi"]), "p": w["p"]}


def reading(d, direction):
    """What a change means: inside the noise it is no difference shown, never a gain."""
    if d is None:
        return "–"
    if d["lo"] <= 0.0 <= d["hi"]:
        return "no difference shown"
    up = d["lo"] > 0
    if direction == 0:
        return "more" if up else "fewer/smaller"
    return "better" if (up == (direction > 0)) else "WORSE"


def fmt(v):
    """Four significant digits or so: 1,234 / 123.4 / 12.34 / 1.234."""
    if v is None:
        return "–"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{1 if a >= 100 else 2 if a >= 10 else 3}f}"


def fmt_cv(c):
    return "–" if c is None else f"{100 * c:.1f} %"


def fmt_delta(d):
    """+12.3 % [+10.1, +14.6]; a rise beyond +900 % as a ratio: ×252.0 [×251.9, ×252.1]."""
    if d is None:
        return "–"
    if d["lo"] > 900.0:
        def x(p):
            return f"×{1 + p / 100.0:.1f}"
        return f"{x(d['pct'])} [{x(d['lo'])}, {x(d['hi'])}]"
    return f"{d['pct']:+.1f} % [{d['lo']:+.1f}, {d['hi']:+.1f}]"


def load_cells(top):
    if not os.path.isdir(top):
        raise UsageError(f"{top}: no such directory")
    cells = []
    for name in sorted(os.listdir(top)):
        if os.path.isfile(os.path.join(top, name, "cell.json")):
            cells.append(cell_data(os.path.join(top, name)))
    if not cells:
        raise UsageError(f"{top}: no <workload>--<side>/cell.json in it")
    return cells


def compare_cells(cells):
    """{workload: {"off": cell, "on": cell, "rows": [...], "warnings": [...]}}"""
    by = {}
    for c in cells:
        by.setdefault(c["workload"], {})[c["side"]] = c
    out = {}
    for wl, sides in by.items():
        rows, warns = [], []
        off, on = sides.get("off"), sides.get("on")
        for key, label, unit, direction in FIGURES:
            so = off["summary"][key] if off else None
            sn = on["summary"][key] if on else None
            d = delta(so["values"], sn["values"]) if so and sn else None
            rows.append({"figure": key, "label": label, "unit": unit, "direction": direction,
                         "off": so, "on": sn, "delta": d, "reading": reading(d, direction)})
        if off and on:
            for what in ("module_sha256", "icount", "scratch", "vcpus"):
                vo = {r.get(what) for r in off["reps"] if r["verified"]}
                vn = {r.get(what) for r in on["reps"] if r["verified"]}
                if len(vo | vn) > 1:
                    warns.append(f"{what} differs: off {sorted(map(str, vo))}, "
                                 f"on {sorted(map(str, vn))}")
        for side, c in sides.items():
            opts = {r.get("mount_options") for r in c["reps"] if r["verified"]}
            want = "largefolio" in (c.get("fs_opts") or "")
            for o in opts:
                if o is not None and ("largefolio" in o.split(",")) != want:
                    warns.append(f"{side}: mount options {o!r} do not match the side")
            bad = [f"rep {r['rep']}: {r['check']}" for r in c["reps"]
                   if r["check"] not in ("", "not checked")]
            if bad:
                warns.append(f"{side}: tracer vs f2fs counters: " + "; ".join(bad))
            unver = [r["rep"] for r in c["reps"] if not r["verified"]]
            if unver:
                warns.append(f"{side}: reps not verified (left out): {unver}")
            if c["summary"]["large_folio_pct"]["n"] and side == "on" and \
                    max(c["summary"]["large_folio_pct"]["values"]) == 0:
                warns.append("on: no large folio was written: its writes got order-0 "
                             "folios with the switch on too")
        out[wl] = {"off": off, "on": on, "rows": rows, "warnings": warns}
    return out


def cmd_table(top, json_out):
    cells = load_cells(top)
    comp = compare_cells(cells)
    print("| workload | figure | off: mean (CV) | on: mean (CV) | on vs off [95 % CI] | reading |")
    print("|---|---|---|---|---|---|")
    for wl in sorted(comp):
        for r in comp[wl]["rows"]:
            unit = f" {r['unit']}" if r["unit"] else ""

            def side(s):
                if not s or not s["n"]:
                    return "–"
                return f"{fmt(s['mean'])}{unit} ({fmt_cv(s['cv'])})"
            print(f"| {wl} | {r['label']} | {side(r['off'])} | {side(r['on'])} | "
                  f"{fmt_delta(r['delta'])} | {r['reading']} |")
    print()
    print("| workload | side | mount options | verified reps | module | icount | scratch | "
          "vCPUs | boot s | load before → after | tracer vs f2fs blocks |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for wl in sorted(comp):
        for side in SIDES:
            c = comp[wl][side]
            if not c:
                continue
            ok = [r for r in c["reps"] if r["verified"]]
            mods = sorted({(r.get("module_sha256") or "?")[:12] for r in ok}) or ["–"]
            ic = sorted({str(r.get("icount")) for r in ok}) or ["–"]
            sc = sorted({str(r.get("scratch")) for r in ok}) or ["–"]
            vc = sorted({str(r.get("vcpus")) for r in ok}) or ["–"]
            checks = [r["check"] for r in c["reps"]]
            if checks and all(x == "" for x in checks):
                chk = "agree"
            elif checks and all(x == "not checked" for x in checks):
                chk = "not checked" + ("" if c.get("traced", True) else " (untraced)")
            else:
                chk = "; ".join(f"rep {r['rep']}: {r['check']}" for r in c["reps"]
                                if r["check"]) or "–"
            print(f"| {wl} | {side} | {c.get('fs_opts', '?')} | {len(ok)} of {len(c['reps'])} | "
                  f"{'/'.join(mods)} | {'/'.join(ic)} | {'/'.join(sc)} | {'/'.join(vc)} | "
                  f"{c.get('boot_wall_s', '–')} | {c.get('load_before', '–')} → "
                  f"{c.get('load_after', '–')} | {chk} |")
    warned = False
    for wl in sorted(comp):
        for w in comp[wl]["warnings"]:
            if not warned:
                print()
                warned = True
            print(f"- {wl}: {w}")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"cells": cells, "comparison": {
                wl: {"rows": v["rows"], "warnings": v["warnings"]} for wl, v in comp.items()}},
                f, indent=1)
    return 0


# ---------------------------------------------------------------- the ftrace cross-check

FTRACE_LINE = re.compile(r"\[\d+\]\s+(?:\S+\s+)?(\d+\.\d+): (\w+): (.*)$")
KV = re.compile(r"(\w+) = (\d+)")
BDP_PAUSE = re.compile(r"\bpause=(-?\d+)")   # writeback:balance_dirty_pages, ms


def parse_ftrace(path, window=None):
    """Counts from the trace of largefolio-crosscheck.sh's ftrace instance.  window:
    (t0_ns, t1_ns) of the tracer's records (the same monotonic clock): the f2fs events
    are counted inside it only (those outside: "outside_window", with the blocks written
    there and the first and last time, s), folios entering the page cache both inside and
    in the whole trace."""
    calls = []              # per f2fs_writepage (DATA) call: {"ino", "index", "pages", "blocks"}
    open_calls = {}
    out = {"writepage_calls": 0, "blocks": 0, "blocks_ipu": 0, "blocks_opu": 0,
           "blocks_outside_call": 0, "data_bios": 0, "data_bio_bytes": 0,
           "add_by_order": {}, "add_by_order_in_window": {}, "lines": 0,
           "dirty_throttle": {"events": 0, "sleeps": 0, "pause_ms": 0},
           "outside_window": {"f2fs_events": 0, "blocks": 0, "first_s": None, "last_s": None}}
    ow = out["outside_window"]
    with open(path, errors="replace") as f:
        for line in f:
            m = FTRACE_LINE.search(line)
            if not m:
                continue
            out["lines"] += 1
            ts, ev, rest = float(m.group(1)), m.group(2), m.group(3)
            kv = {k: int(v) for k, v in KV.findall(rest)}
            inside = window is None or window[0] <= ts * 1e9 <= window[1]
            if ev.startswith("f2fs_") and not inside:
                ow["f2fs_events"] += 1
                if ev == "f2fs_do_write_data_page":
                    ow["blocks"] += 1
                    ow["first_s"] = ts if ow["first_s"] is None else ow["first_s"]
                    ow["last_s"] = ts
                continue
            if ev == "f2fs_writepage":
                if ", DATA," not in rest:
                    continue
                c = {"ino": kv.get("ino"), "index": kv.get("index"),
                     "pages": kv.get("nr_pages", 1), "blocks": 0}
                calls.append(c)
                open_calls[(c["ino"], c["index"])] = c
            elif ev == "f2fs_do_write_data_page":
                out["blocks"] += 1
                if "IN-PLACE" in rest:
                    out["blocks_ipu"] += 1
                elif "OUT-OF-PLACE" in rest:
                    out["blocks_opu"] += 1
                c = open_calls.get((kv.get("ino"), kv.get("index")))
                if c is None:
                    out["blocks_outside_call"] += 1
                else:
                    c["blocks"] += 1
            elif ev == "f2fs_submit_write_bio":
                if re.search(r"\), DATA, sector", rest):
                    out["data_bios"] += 1
                    out["data_bio_bytes"] += kv.get("size", 0)
            elif ev == "balance_dirty_pages":
                # a writer over the dirty limits: pause > 0 is a sleep of that many ms
                if inside:
                    dt = out["dirty_throttle"]
                    dt["events"] += 1
                    mp = BDP_PAUSE.search(rest)
                    if mp and int(mp.group(1)) > 0:
                        dt["sleeps"] += 1
                        dt["pause_ms"] += int(mp.group(1))
            elif ev == "mm_filemap_add_to_page_cache":
                mo = re.search(r"order=(\d+)", rest)
                order = int(mo.group(1)) if mo else 0
                out["add_by_order"][order] = out["add_by_order"].get(order, 0) + 1
                if window and inside:
                    d = out["add_by_order_in_window"]
                    d[order] = d.get(order, 0) + 1
    written = [c for c in calls if c["blocks"] > 0]
    out.update({"writepage_calls": len(calls), "folios_written": len(written),
                "large_folios_written": sum(1 for c in written if c["pages"] > 1),
                "blocks_in_written_folios": sum(c["blocks"] for c in written),
                "pages_of_written_folios": sum(c["pages"] for c in written),
                "blocks_of_large_folios": sum(c["blocks"] for c in written if c["pages"] > 1)})
    return out


def tracer_window(events_path):
    """(t0, t1) ns of a stream-mode events.jsonl: a record is stamped when its call
    returns, so a pass or folio record reaches back by its dur_ns / write_ns (the first
    folio's blocks are written before its record's stamp)."""
    t0 = t1 = None
    if events_path and os.path.exists(events_path):
        with open(events_path) as f:
            for line in f:
                m = re.search(r'"t":(\d+)', line)
                if not m:
                    continue
                t = int(m.group(1))
                d = re.search(r'"(?:dur_ns|write_ns)":(\d+)', line)
                start = t - int(d.group(1)) if d else t
                t0 = start if t0 is None else min(t0, start)
                t1 = t if t1 is None else max(t1, t)
    return (t0, t1) if t0 is not None else None


def crosscheck(top):
    run_dir = os.path.join(top, "run")
    dirs = rep_dirs(run_dir)
    if not dirs:
        raise UsageError(f"{run_dir}: no rep (meta.json) in it")
    rd = dirs[-1]
    ft = os.path.join(top, "ftrace.txt")
    if not os.path.isfile(ft):
        raise UsageError(f"{ft}: missing")
    with open(os.path.join(rd, "trace", "summary.json")) as f:
        s = json.load(f)
    c = s["counts"]
    ev_path = os.path.join(rd, "trace", "events.jsonl")
    win = tracer_window(ev_path)
    fx = parse_ftrace(ft, win)
    n_ev, n_large = folio_events(ev_path) or (None, None)
    pass_folios = pass_bytes = 0
    if os.path.exists(ev_path):
        with open(ev_path) as f:
            for line in f:
                if '"k":"wp"' in line:
                    e = json.loads(line)
                    pass_folios += e.get("written") or 0
                    pass_bytes += e.get("bytes") or 0
    st = f2fs_status_blocks(os.path.join(rd, "f2fs-status.txt"))
    calls = sum(c.get(k, 0) for k in ("folios_written", "folios_redirtied", "folios_skipped",
                                      "folios_error", "folios_unknown"))
    pages = (s.get("bio_ends") or {}).get("pages") or {}
    joined = pages.get("data_new", 0) + pages.get("data_merged", 0) if pages else None
    rows = [
        ("calls of the per-folio write function", calls, fx["writepage_calls"],
         "f2fs_writepage (DATA) events"),
        ("folios written", c["folios_written"], fx["folios_written"],
         "f2fs_writepage calls with >= 1 f2fs_do_write_data_page"),
        ("large folios written (events.jsonl size > 4 KiB)", n_large,
         fx["large_folios_written"], "those calls with nr_pages > 1"),
        ("folio_bytes_written / 4 KiB", c["folio_bytes_written"] // BLK,
         fx["blocks_in_written_folios"], "f2fs_do_write_data_page events in those calls"),
        ("passes' folios (events.jsonl wp written)", pass_folios, c["folios_written"],
         "counts.folios_written (the tracer's own sum)"),
        ("passes' bytes / 4 KiB (events.jsonl wp bytes)", pass_bytes // BLK,
         c["folio_bytes_written"] // BLK, "counts.folio_bytes_written / 4 KiB"),
        ("data bios", c["bios_data"], fx["data_bios"], "f2fs_submit_write_bio DATA events"),
        ("data bio bytes / 4 KiB", c["bio_bytes_data"] // BLK, fx["data_bio_bytes"] // BLK,
         "their sizes / 4 KiB"),
        ("data bio bytes / 4 KiB", c["bio_bytes_data"] // BLK, fx["blocks"],
         "f2fs_do_write_data_page events (blocks written)"),
        ("pages joined to cached data bios (bio_ends.pages data_new + data_merged)", joined,
         fx["blocks_opu"], "f2fs_do_write_data_page OUT-OF-PLACE events (one bio join each)"),
    ]
    if "allocated" in st and "ipu" in st:
        rows.append(("data bio bytes / 4 KiB", c["bio_bytes_data"] // BLK,
                     st["allocated"] + st["ipu"],
                     "f2fs status: Allocated Data Blocks + IPU blocks"))
    table = [{"tracer": a, "tracer_value": b, "independent": d, "independent_value": e,
              "agree": b == e} for a, b, e, d in rows]
    meta = {}
    try:
        with open(os.path.join(rd, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        pass
    return {"run": rd, "window_ns": win, "ftrace": fx, "f2fs_status": st, "checks": table,
            "mount_options": (meta.get("f2fs") or {}).get("mount_options"),
            "module_sha256": (meta.get("kernel") or {}).get("f2fs_module_sha256")}


def cmd_crosscheck(top, json_out):
    r = crosscheck(top)
    fx = r["ftrace"]
    print(f"Cross-check of {r['run']} (mount options {r['mount_options']}, f2fs module "
          f"sha256 {(r.get('module_sha256') or '?')[:16]})")
    print()
    print("| tracer figure | tracer | independent count | value | agree |")
    print("|---|---|---|---|---|")
    for row in r["checks"]:
        print(f"| {row['tracer']} | {row['tracer_value']} | {row['independent']} | "
              f"{row['independent_value']} | {'yes' if row['agree'] else '**NO**'} |")
    print()

    def orders(d):
        return ", ".join(f"order {k}: {v}" for k, v in sorted(d.items())) or "none"
    print(f"Folios added to the page cache of the scratch f2fs in the tracer's window: "
          f"{orders(fx['add_by_order_in_window'])}; in the whole boot: "
          f"{orders(fx['add_by_order'])}.")
    print(f"Blocks written in the tracer's window: {fx['blocks']} ({fx['blocks_opu']} out "
          f"of place, {fx['blocks_ipu']} in place), {fx['blocks_of_large_folios']} of them in "
          f"large folios; {fx['blocks_outside_call']} outside a folio write call.")
    dt = fx["dirty_throttle"]
    print(f"Dirty throttling in the tracer's window (writeback:balance_dirty_pages on the "
          f"scratch disk): {dt['events']} events, {dt['sleeps']} sleeps, {dt['pause_ms']} ms "
          f"asleep in all (not compared: context for the bandwidth).")
    ow = fx["outside_window"]
    if ow["f2fs_events"]:
        where = (f", blocks written from {ow['first_s']:.3f} s to {ow['last_s']:.3f} s"
                 if ow["blocks"] else "")
        print(f"Outside the tracer's window ({r['window_ns'][0] / 1e9:.3f} s to "
              f"{r['window_ns'][1] / 1e9:.3f} s, guest monotonic clock): "
              f"{ow['f2fs_events']} f2fs events, {ow['blocks']} data blocks written{where} "
              f"(not compared).")
    if json_out:
        with open(json_out, "w") as f:
            json.dump(r, f, indent=1)
    return 0 if all(row["agree"] for row in r["checks"]) else 1


# ---------------------------------------------------------------- main

def main(argv=None):
    p = argparse.ArgumentParser(prog="largefolio_eval.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stamp")
    s.add_argument("log")
    c = sub.add_parser("cell")
    c.add_argument("file")
    c.add_argument("--workload", required=True)
    c.add_argument("--side", required=True, choices=SIDES)
    c.add_argument("--fs-opts", required=True)
    c.add_argument("--icount", required=True)
    c.add_argument("--order", type=int, default=0)
    c.add_argument("--reps", type=int, required=True)
    c.add_argument("--size", default="")
    c.add_argument("--exit", type=int, required=True)
    c.add_argument("--wall", type=float, required=True)
    c.add_argument("--load-before", default="")
    c.add_argument("--load-after", default="")
    c.add_argument("--untraced", action="store_true")
    t = sub.add_parser("table")
    t.add_argument("dir")
    t.add_argument("--json", metavar="FILE")
    x = sub.add_parser("crosscheck")
    x.add_argument("dir")
    x.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    try:
        if a.cmd == "stamp":
            return icount_eval.cmd_stamp(a.log)
        if a.cmd == "cell":
            with open(a.file, "w") as f:
                json.dump({"workload": a.workload, "side": a.side, "fs_opts": a.fs_opts,
                           "icount": a.icount, "order": a.order, "reps_asked": a.reps,
                           "size": a.size, "exit": a.exit, "boot_wall_s": round(a.wall),
                           "load_before": a.load_before, "load_after": a.load_after,
                           "traced": not a.untraced}, f, indent=1)
            return 0
        if a.cmd == "table":
            return cmd_table(a.dir, a.json)
        return cmd_crosscheck(a.dir, a.json)
    except UsageError as e:
        print(f"largefolio_eval.py: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
