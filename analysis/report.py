"""One self-contained HTML report (PNG plots as data URIs, flame graphs as inline SVG),
with the PNGs also written next to it."""

import base64
import html
import io
import json
import math
import os
from typing import Dict, List, Optional

from . import folded, schema
from .compare import (HEADER, check_group, compare_groups, config_mismatch, fmt_ci, fmt_num,
                      fmt_p, fmt_pct, short_flags, table_rows, unverified)
from .flamegraph import diff_subtitle, render_svg
from .metrics import (fio_clat_bins, mount_compress_config, run_metrics, summary_hist,
                      summary_hist_loglin)
from .schema import Group, ResultsError
from .stats import harmonic_ci, loglin_bounds, merge_hists, slot_bounds

MAX_EVENT_LINES = 2_000_000
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


class _Plots:
    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.files: List[str] = []

    def save(self, fig, name: str, alt: str) -> str:
        plt = _plt()
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        data = buf.getvalue()
        path = os.path.join(self.out_dir, name + ".png")
        with open(path, "wb") as f:
            f.write(data)
        self.files.append(path)
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        return f'<img class="plot" alt="{_e(alt)}" title="{_e(name)}.png" src="{uri}">'


# ----------------------------------------------------------------------------- data helpers

def _events_values(run: schema.Run, kind: str, key: str) -> Optional[List[float]]:
    p = run.events_path
    if not p:
        return None
    vals: List[float] = []
    try:
        with open(p, "r", encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f):
                if i >= MAX_EVENT_LINES:
                    break
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if isinstance(ev, dict) and ev.get("k") == kind and isinstance(ev.get(key), (int, float)):
                    vals.append(float(ev[key]))
    except OSError:
        return None
    return vals or None


def _cdf_from_hist(h: List[int]):
    """Step CDF points (upper slot bounds, cumulative fraction) of a hist_log2."""
    tot = sum(h)
    xs, ys, cum = [], [], 0
    for i, c in enumerate(h):
        if c == 0 and not xs:
            continue
        cum += c
        xs.append(slot_bounds(i)[1] + 1)
        ys.append(cum / tot)
    return xs, ys


def _cdf_from_loglin(hl: dict):
    """Step CDF points (upper bucket bounds, cumulative fraction) of a hist_loglin."""
    tot = sum(c for _, c in hl["buckets"])
    xs, ys, cum = [], [], 0
    for b, c in hl["buckets"]:
        cum += c
        xs.append(loglin_bounds(b, hl["sub_bits"])[1] + 1)
        ys.append(cum / tot)
    return xs, ys


def _group_loglin(g: Group, name: str) -> Optional[dict]:
    """The group's runs' hist_loglin merged, or None unless every run has one
    (a mix would plot finer and coarser runs as one curve)."""
    hls = [summary_hist_loglin(r, name) for r in g.runs if summary_hist(r, name)]
    if not hls or any(h is None for h in hls) or len({h["sub_bits"] for h in hls}) != 1:
        return None
    counts: Dict[int, int] = {}
    for h in hls:
        for b, c in h["buckets"]:
            counts[b] = counts.get(b, 0) + c
    return {"sub_bits": hls[0]["sub_bits"], "buckets": [[b, counts[b]] for b in sorted(counts)]}


def _group_hist(g: Group, name: str) -> Optional[List[int]]:
    hs = [h for h in (summary_hist(r, name) for r in g.runs) if h]
    return merge_hists(hs) if hs else None


# ----------------------------------------------------------------------------- plots

def _plot_throughput(groups: List[Group], per: Dict[str, List[Dict]], plots: _Plots) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    any_data = False
    for gi, g in enumerate(groups):
        vals = [m.get("fio.bw_MiBps") for m in per[g.label]]
        pts = [(i + 1, v) for i, v in enumerate(vals) if v]
        if not pts:
            continue
        any_data = True
        c = COLORS[gi % len(COLORS)]
        xs = [gi + (i - (len(vals) + 1) / 2) * 0.06 for i, _ in pts]
        ax.scatter(xs, [v for _, v in pts], color=c, alpha=0.7, label=f"{g.label} reps")
        hm, lo, hi = harmonic_ci([v for _, v in pts])
        if not math.isnan(lo):
            top = hi if math.isfinite(hi) else max(v for _, v in pts) * 1.5
            ax.errorbar([gi + 0.3], [hm], yerr=[[hm - lo], [top - hm]], fmt="D", color=c,
                        capsize=6, label=f"{g.label} harmonic mean, 95% CI")
        else:
            ax.plot([gi + 0.3], [hm], "D", color=c, label=f"{g.label} (1 rep, no CI)")
    if not any_data:
        plt.close(fig)
        return '<p class="nodata">no fio bandwidth data</p>'
    ax.set_xticks(range(len(groups)), [g.label for g in groups])
    ax.set_ylabel("write bandwidth (MiB/s)")
    ax.set_title("Throughput per rep")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return plots.save(fig, "throughput", "throughput per rep with 95% CI")


def _plot_cdfs(groups: List[Group], plots: _Plots) -> str:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    found = [False, False]
    for gi, g in enumerate(groups):
        c = COLORS[gi % len(COLORS)]
        bins: Dict[int, int] = {}
        for r in g.runs:
            for k, v in (fio_clat_bins(r) or {}).items():
                bins[k] = bins.get(k, 0) + v
        if bins:
            found[0] = True
            xs = sorted(bins)
            tot = sum(bins.values())
            cum, ys = 0, []
            for x in xs:
                cum += bins[x]
                ys.append(cum / tot)
            axes[0].step([x / 1000 for x in xs], ys, where="post", color=c, label=g.label)
        exact = []
        for r in g.runs:
            exact.extend(_events_values(r, "folio", "lat_ns") or [])
        if exact:
            found[1] = True
            exact.sort()
            n = len(exact)
            axes[1].step(exact, [(i + 1) / n for i in range(n)], where="post", color=c,
                         label=f"{g.label} (events, n={n})")
        elif (hl := _group_loglin(g, "folio_latency_ns")) is not None:
            found[1] = True
            xs, ys = _cdf_from_loglin(hl)
            axes[1].step(xs, ys, where="post", color=c, label=f"{g.label} (log-linear hist)")
        else:
            h = _group_hist(g, "folio_latency_ns")
            if h:
                found[1] = True
                xs, ys = _cdf_from_hist(h)
                axes[1].step(xs, ys, where="post", color=c, label=f"{g.label} (log2 hist)")
    for ax, t, xl, ok in ((axes[0], "fio completion latency CDF", "clat (us)", found[0]),
                          (axes[1], "per-folio writeback latency CDF", "latency (ns)", found[1])):
        ax.set_title(t)
        ax.set_xlabel(xl)
        ax.set_ylabel("fraction <= x")
        if ok:
            ax.set_xscale("log")
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.grid(alpha=0.3)
    if not any(found):
        plt.close(fig)
        return '<p class="nodata">no latency data</p>'
    return plots.save(fig, "latency_cdf", "latency CDFs per variant")


def _plot_hists(groups: List[Group], name: str, title: str, xlabel: str, fname: str,
                plots: _Plots, mean_label: bool = False) -> str:
    plt = _plt()
    hs = [(g, _group_hist(g, name)) for g in groups]
    hs = [(g, h) for g, h in hs if h]
    if not hs:
        return f'<p class="nodata">no {_e(name)} data</p>'
    n = max(len(h) for _, h in hs)
    first = min(next(i for i, c in enumerate(h) if c) for _, h in hs)
    slots = list(range(first, n))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    width = 0.8 / len(hs)
    for k, (g, h) in enumerate(hs):
        tot = sum(h)
        ys = [(h[i] if i < len(h) else 0) / tot for i in slots]
        lab = g.label
        if mean_label:
            ms = [r.summary["metrics"][name]["mean"] for r in g.runs
                  if r.summary and name in r.summary["metrics"]
                  and r.summary["metrics"][name]["count"]]
            if ms:
                lab += f" (mean {fmt_num(sum(ms) / len(ms))})"
        ax.bar([j + (k - (len(hs) - 1) / 2) * width for j in range(len(slots))], ys, width,
               color=COLORS[groups.index(g) % len(COLORS)], label=lab)
    ax.set_xticks(range(len(slots)), [_slot_label(i) for i in slots], rotation=60, fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return plots.save(fig, fname, title)


def _slot_label(i: int) -> str:
    lo = 0 if i == 0 else 1 << i
    for div, suf in ((1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")):
        if lo >= div:
            return f"{lo // div}{suf}"
    return str(lo)


def _plot_compress(groups: List[Group], per: Dict[str, List[Dict]], plots: _Plots) -> str:
    plt = _plt()
    data: Dict[str, Dict[str, List[float]]] = {}
    for g in groups:
        for r, m in zip(g.runs, per[g.label]):
            v = m.get("trace.compress_ratio")
            if v is None:
                continue
            alg, pages = mount_compress_config(r)
            key = f"{alg}, {pages if pages else '?'} pages/cluster"
            data.setdefault(key, {}).setdefault(g.label, []).append(v)
    if not data:
        return '<p class="nodata">no compression data (no compressed files in this workload)</p>'
    keys = sorted(data)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(groups)
    for k, g in enumerate(groups):
        c = COLORS[k % len(COLORS)]
        for j, key in enumerate(keys):
            vs = data[key].get(g.label)
            if not vs:
                continue
            x = j + (k - (len(groups) - 1) / 2) * width
            ax.bar([x], [sum(vs) / len(vs)], width, color=c, alpha=0.6,
                   label=g.label if j == 0 else None)
            ax.scatter([x] * len(vs), vs, color=c, s=12, zorder=3)
    ax.set_xticks(range(len(keys)), keys, fontsize=8)
    ax.set_ylabel("raw / compressed bytes")
    ax.set_title("Compression ratio per algorithm and cluster size")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return plots.save(fig, "compress_ratio", "compression ratio per cluster size/algorithm")


# ----------------------------------------------------------------------------- sections

def _group_stacks(g: Group):
    paths = [r.stacks_path for r in g.runs if r.stacks_path]
    if not paths:
        return None
    st = folded.merge(folded.read_folded(p) for p in paths)
    return st if folded.total(st) > 0 else None


def _flame_section(groups: List[Group]) -> str:
    parts = []
    stacks = {g.label: _group_stacks(g) for g in groups}
    for g in groups:
        st = stacks[g.label]
        if st is None:
            continue
        root = folded.build_tree(st)
        parts.append(f"<h3>{_e(g.label)}</h3>" + _strip_xml_decl(render_svg(
            root, f"{g.label}: {len(g.runs)} run(s) merged",
            f"{folded.total(st):,.0f} samples", width=1150)))
    if len(groups) == 2 and all(stacks[g.label] for g in groups):
        a, b = groups
        root = folded.diff_tree(stacks[a.label], stacks[b.label])
        parts.append(f"<h3>differential: {_e(b.label)} vs {_e(a.label)}</h3>" + _strip_xml_decl(
            render_svg(root, f"{b.label} vs {a.label}", diff_subtitle(root), width=1150,
                       diff=True)))
    if not parts:
        return '<p class="nodata">no stacks.folded in these runs (tracer mode "stacks" records them)</p>'
    return "\n".join(parts)


def _strip_xml_decl(svg: str) -> str:
    return svg.split("?>", 1)[1] if svg.startswith("<?xml") else svg


def _runs_table(groups: List[Group]) -> str:
    head = ["run", "variant", "rep", "target", "kernel", "tracer", "probes", "drops",
            "duration", "git"] + list(schema.VERIFY_STEPS)
    rows = []
    for g in groups:
        for r in g.runs:
            m = r.meta
            probes = ", ".join(f"{k}={v}" for k, v in sorted(m["probes"].items())) or "-"
            rev = (m["git"].get("revision") or "-")[:12] + ("+" if m["git"].get("dirty") else "")
            cells = [_e(m["run_id"]), _e(m["variant"]), str(m["rep"]), _e(m["target"]),
                     _e(m["kernel"]["release"]), _e(m["tracer"]["mode"]), _e(probes),
                     str(m["drops"]), f"{m['duration_s']:.1f} s", _e(rev)]
            cells += [f'<td class="v-{_e(m["verify"][s])}">{_e(m["verify"][s])}</td>'
                      for s in schema.VERIFY_STEPS]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells[:10]) +
                        "".join(cells[10:]) + "</tr>")
    m0 = groups[0].runs[0].meta
    info = (f"<p>f2fs mkfs: <code>{_e(m0['f2fs']['mkfs_options'] or '(defaults)')}</code>; "
            f"mount: <code>{_e(m0['f2fs']['mount_options'] or '(defaults)')}</code>; "
            f"host: <code>{_e(json.dumps(m0['host'], sort_keys=True))}</code></p>")
    return (info + '<table id="runs"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head) +
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _ab_section(groups: List[Group], doc: Optional[dict]) -> str:
    if len(groups) != 2 or doc is None:
        return '<p class="nodata">the A/B table needs exactly two variants</p>'
    warn = ""
    if doc["config_mismatch"]:
        warn = f'<p class="warn">WARNING: configs differ: {_e(doc["config_mismatch"])}</p>'
    marked = [r["metric"] for r in doc["rows"] if r.get("not_comparable")]
    if marked:
        warn += (f'<p class="warn" id="not-comparable">{_e(", ".join(marked))} (flag '
                 f'"unlike probe sets"): {_e(doc["observer_asymmetry"] or "")}</p>')
    rows = table_rows(doc)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="verdict {_e(c.replace(" ", "-"))}">{_e(c)}</td>' if i == len(row) - 1
            else f"<td>{_e(c)}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows)
    hdr = [h if h not in ("A", "B") else f"{h} ({groups[0 if h == 'A' else 1].label})"
           for h in HEADER]
    return (warn + f'<p>delta = B vs A. Rates use harmonic means; Welch\'s t-test (log scale for positive metrics) at alpha '
            f'{doc["alpha"]:g}; at least {doc["min_reps"]} reps a side for a verdict; '
            f'changes under {doc["min_effect_pct"]:g} % count as "same". ↑ higher is better, '
            f'↓ lower is better.</p>'
            '<table id="ab-table"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in hdr) +
            "</tr></thead><tbody>" + body + "</tbody></table>")


# ----------------------------------------------------------------------------- human units

def human_scale(unit: str, values) -> tuple:
    """(divisor, label) that shows `values` (in `unit`) in a readable unit: ns -> µs/ms/s,
    bytes -> KiB/MiB/GiB, MiB/s -> GiB/s."""
    vals = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(vals) if vals else 0.0
    steps = {"ns": [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1, "ns")],
             "us": [(1e6, "s"), (1e3, "ms"), (1, "µs")],
             "ms": [(1e3, "s"), (1, "ms")],
             "B": [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"), (1, "B")],
             "bytes": [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"), (1, "B")],
             "MiB/s": [(1024, "GiB/s"), (1, "MiB/s")],
             "ms/MiB": [(1, "ms/MiB")]}.get(unit)
    if not steps:
        return 1.0, unit
    for div, label in steps:
        if top >= div:
            return float(div), label
    return float(steps[-1][0]), steps[-1][1]


def human(v: Optional[float], unit: str) -> str:
    if v is None:
        return "-"
    div, label = human_scale(unit, [v])
    return f"{fmt_num(v / div)} {label}".strip()


# ----------------------------------------------------------------------------- verdict first

def _gate_doc(groups: List[Group], thr: Optional[dict]) -> Optional[dict]:
    from . import gate as g
    if len(groups) != 2 or thr is None:
        return None
    return g.gate(groups[0], groups[1], thr)


def _validity(groups: List[Group], thr: Optional[dict]) -> List[tuple]:
    """(name, ok, text) for the banner: verification, ring-buffer drops, comparability."""
    items = []
    bad = [f"{g.label}: {u}" for g in groups for u in unverified(g)]
    n = sum(len(g.runs) for g in groups)
    items.append(("verification", not bad, "all %d reps passed every step (%s)"
                  % (n, ", ".join(schema.VERIFY_STEPS)) if not bad
                  else "not verified: " + "; ".join(bad)))
    limit = thr["max_drops"] if thr else 0
    drops = []
    for g in groups:
        for r in g.runs:
            d = max(r.meta["drops"], (r.summary or {}).get("drops", 0))
            if d > limit:
                drops.append(f"{g.label} {r.run_id}: {d} events lost")
            if r.summary is not None and r.summary.get("valid") is False:
                drops.append(f"{g.label} {r.run_id}: tracer marked the run invalid: "
                             f"{r.summary.get('invalid_reason') or 'no reason given'}")
    traced = any(r.summary is not None for g in groups for r in g.runs)
    items.append(("ring-buffer drops", not drops,
                  ("no tracer events lost" if traced else "tracer off: nothing to lose")
                  if not drops else "; ".join(drops)))
    problems = []
    dup = schema.duplicate_runs(groups)
    if dup:
        problems.append(dup)
    for g in groups:
        try:
            check_group(g)
        except ResultsError as e:
            problems.append(str(e))
    if len(groups) == 2 and not problems:
        mm = config_mismatch(groups[0], groups[1])
        if mm:
            problems.append("differ: " + mm)
    h = groups[0].runs[0].meta.get("host") or {}
    what = "; ".join(problems) or (
        f"same workload, options, kernel, fio, tracer, percentile method; accel "
        f"{h.get('accel', 'not recorded')}, icount {h.get('icount') or 'off'}")
    items.append(("comparability", not problems, what))
    return items


def _verdict_section(gdoc: Optional[dict], validity: List[tuple]) -> str:
    if gdoc is None:
        head = ('<div id="gate-verdict" class="verdict-box v-none">no gate verdict: the gate needs '
                'exactly two variants</div>')
    else:
        st = gdoc["status"]
        head = (f'<div id="gate-verdict" class="verdict-box v-{_e(st.replace(" ", "-"))}">'
                f'gate: {_e(st.upper())} (exit {gdoc["exit_code"]})</div>')
        if gdoc["reasons"]:
            word = "inconclusive" if st == "inconclusive" else "cannot judge"
            head += ("<ul class=\"reasons\">" + "".join(f"<li>{_e(word)}: {_e(r)}</li>"
                                                       for r in gdoc["reasons"]) + "</ul>")
    banner = ('<ul id="validity">' + "".join(
        f'<li class="{"ok" if ok else "bad"}"><b>{_e(name)}</b>: {"OK" if ok else "PROBLEM"}'
        f' — {_e(text)}</li>' for name, ok, text in validity) + "</ul>")
    table = ""
    if gdoc and gdoc["checks"]:
        rows = []
        for c in gdoc["checks"]:
            rows.append("<tr>" + "".join(f"<td>{_e(x)}</td>" for x in (
                c["metric"], human(c["a"], c["unit"]), human(c["b"], c["unit"]),
                fmt_pct(c["delta_pct"]), fmt_ci(c["ci_pct"]), fmt_p(c.get("p_holm")),
                f"{c['threshold_pct']:g} %",
                "-" if c.get("mde_pct") is None else f"{c['mde_pct']:.1f} %",
                "-" if c.get("reps_needed") is None else str(c["reps_needed"]),
                short_flags(c.get("flags") or []))) +
                f'<td class="decision d-{_e(c["decision"])}">{_e(c["decision"])}</td></tr>')
        table = ('<table id="gate-table"><thead><tr>' + "".join(
            f"<th>{h}</th>" for h in ("metric", "baseline", "candidate", "delta", "95% CI",
                                      "p (Holm)", "limit", "MDE", "reps needed", "flags",
                                      "decision")) + "</tr></thead><tbody>" + "".join(rows) +
            "</tbody></table><p>pass = the bad-side end of the 95 % interval is inside the "
            "limit; regression = significant after Holm and beyond the limit; inconclusive = "
            "neither (MDE: the smallest bad change these reps detect with power 0.8; reps "
            "needed: a side, to decide at the limit).</p>")
    return head + banner + table


def _plot_metric_reps(groups: List[Group], cmp_doc: Optional[dict], gdoc: Optional[dict],
                      plots: _Plots) -> str:
    """Every rep of every gated (or else every directional) metric in run order, both
    variants, with the baseline mean and the gate limit drawn."""
    if cmp_doc is None or len(groups) != 2:
        return '<p class="nodata">per-rep plots need exactly two variants</p>'
    limits = {c["metric"]: c["threshold_pct"] for c in (gdoc or {}).get("checks", [])}
    rows = [r for r in cmp_doc["rows"] if (r["metric"] in limits if limits else
                                            r["direction"] != 0) and (r["n_a"] or r["n_b"])]
    if not rows:
        return '<p class="nodata">no gated metric was measured</p>'
    order = sorted(((r.meta["started"], r.meta["rep"], gi, r.meta["rep"])
                    for gi, g in enumerate(groups) for r in g.runs))
    pos = {(gi, rep): i + 1 for i, (_, _, gi, rep) in enumerate(order)}
    plt = _plt()
    ncol = 2
    nrow = (len(rows) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 2.7 * nrow), squeeze=False)
    captions = []
    for k, row in enumerate(rows):
        ax = axes[k // ncol][k % ncol]
        div, ulabel = human_scale(row["unit"], row["values_a"] + row["values_b"])
        for gi, (vals, reps) in enumerate(((row["values_a"], row.get("reps_a") or []),
                                           (row["values_b"], row.get("reps_b") or []))):
            xs = [pos.get((gi, rep), j + 1) for j, rep in enumerate(reps)]
            ax.plot(xs, [v / div for v in vals], "o-" if len(xs) > 1 else "o", alpha=0.8,
                    color=COLORS[gi], label=groups[gi].label, lw=0.8, ms=5)
        cap = f"{row['metric']} ({ulabel}{', ↑' if row['direction'] > 0 else ', ↓' if row['direction'] < 0 else ''})"
        if row["a"] is not None:
            ax.axhline(row["a"] / div, color=COLORS[0], lw=0.8, ls=":",
                       label=f"{groups[0].label} mean")
        if row["metric"] in limits and row["a"] is not None and row["direction"] != 0:
            lim = limits[row["metric"]]
            edge = row["a"] * (1 - lim / 100.0 if row["direction"] > 0 else 1 + lim / 100.0)
            ax.axhline(edge / div, color="#d62728", lw=1.2, ls="--",
                       label=f"limit {'-' if row['direction'] > 0 else '+'}{lim:g} %")
            cap += (f": limit {lim:g} % {'below' if row['direction'] > 0 else 'above'} the "
                    f"baseline = {human(edge, row['unit'])}")
        captions.append(cap)
        ax.set_title(row["metric"], fontsize=9)
        ax.set_ylabel(ulabel, fontsize=8)
        ax.set_xlabel("run order", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for k in range(len(rows), nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    img = plots.save(fig, "metrics_by_rep", "every rep of each gated metric in run order, "
                     "with the gate limits")
    return img + '<ul id="limits">' + "".join(f"<li>{_e(c)}</li>" for c in captions) + "</ul>"


_CSS = """
body{font-family:sans-serif;margin:16px 24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;margin-top:28px}
h3{font-size:15px}table{border-collapse:collapse;font-size:12px;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}
td:first-child{text-align:left}.verdict.better{background:#c8f0c8}.verdict.worse{background:#f6c0c0}
.verdict.cannot-judge,.verdict.unknown{background:#f4e9b0}.v-pass{background:#c8f0c8}
.v-fail{background:#f6c0c0;font-weight:bold}.v-skipped{color:#888}.nodata{color:#888}
.warn{background:#f6c0c0;padding:6px}img.plot{max-width:100%;display:block;margin:6px 0}
svg.wbflame{max-width:100%;height:auto}code{font-size:12px}
.verdict-box{font-size:20px;font-weight:bold;padding:10px;margin:8px 0;border-radius:4px}
.v-pass{background:#c8f0c8}.v-regression{background:#f6c0c0}.v-inconclusive{background:#f4e9b0}
.v-cannot-judge,.v-none{background:#e0e0e0}#validity{list-style:none;padding:0}
#validity li{padding:4px 8px;margin:2px 0}#validity li.ok{background:#e3f6e3}
#validity li.bad{background:#f6c0c0;font-weight:bold}.d-pass{background:#c8f0c8}
.d-regression{background:#f6c0c0;font-weight:bold}.d-inconclusive{background:#f4e9b0}
.d-cannot_judge{background:#e0e0e0}
"""


def build_report(specs: List[str], out_dir: str, thresholds: Optional[str] = None) -> str:
    """Write out_dir/index.html (+ PNGs); return the path of index.html.  The page opens
    with the gate's verdict (thresholds file `thresholds`, default analysis/thresholds.json)
    and a validity banner, then every rep of each gated metric in run order."""
    from .gate import load_thresholds
    thr = load_thresholds(thresholds)
    groups: List[Group] = []
    for s in specs:
        for g in schema.resolve(s):
            if any(x.label == g.label for x in groups):
                g.label = f"{g.label}#{len(groups) + 1}"
            groups.append(g)
    workloads = sorted({r.meta["workload"] for g in groups for r in g.runs})
    if len(workloads) != 1:
        raise ResultsError(f"mismatched workloads in one report: {', '.join(workloads)}")
    os.makedirs(out_dir, exist_ok=True)
    plots = _Plots(out_dir)
    per = {g.label: [run_metrics(r) for r in g.runs] for g in groups}
    title = f"wbtrace report: {workloads[0]}"
    sub = " vs ".join(f"{_e(g.label)} ({len(g.runs)} rep{'s' if len(g.runs) != 1 else ''})"
                      for g in groups)
    cmp_doc = (compare_groups(groups[0], groups[1], allow_mismatch=True)
               if len(groups) == 2 else None)
    gdoc = _gate_doc(groups, thr)
    sections = [
        ("Verdict", _verdict_section(gdoc, _validity(groups, thr))),
        ("Per-rep values and limits", _plot_metric_reps(groups, cmp_doc, gdoc, plots)),
        ("A/B comparison", _ab_section(groups, cmp_doc)),
        ("Throughput", _plot_throughput(groups, per, plots)),
        ("Latency CDFs", _plot_cdfs(groups, plots)),
        ("Latency histograms", _plot_hists(groups, "folio_latency_ns",
                                           "Per-folio writeback latency (log2 buckets)",
                                           "latency (ns, bucket start)", "folio_latency_hist",
                                           plots)
         + _plot_hists(groups, "writepages_ns", "->writepages pass duration (log2 buckets)",
                       "duration (ns, bucket start)", "writepages_hist", plots)),
        ("Bio sizes", _plot_hists(groups, "bio_bytes", "Write bio size distribution",
                                  "bio size (bytes, bucket start)", "bio_size_hist", plots,
                                  mean_label=True)),
        ("Compression", _plot_compress(groups, per, plots)),
        ("Flame graphs", _flame_section(groups)),
        ("Runs and verification", _runs_table(groups)),
    ]
    body = "\n".join(f'<section id="{_e(t.lower().split()[0].replace("/", ""))}"><h2>{_e(t)}</h2>'
                     f"\n{c}\n</section>" for t, c in sections)
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
            f"<h1>{_e(title)}</h1><p>{sub}; generated {schema.utc_now()}</p>\n{body}\n"
            "</body></html>\n")
    path = os.path.join(out_dir, "index.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
