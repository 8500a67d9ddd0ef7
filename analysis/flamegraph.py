"""Self-contained flame graph SVG (and HTML) from folded stacks: hover titles, click to
zoom, search with match share, and differential graphs (red = grew, blue = shrank).
Nothing is fetched at view time: the script is inline."""

import html
import zlib
from typing import List, Optional

from .folded import Node, vanished

FRAME_H = 16
TOP = 44
BOTTOM = 30
XPAD = 10
CHAR_W = 7.0
FONT = "Verdana, DejaVu Sans, sans-serif"

# Browser side; kept free of '<' '&' ']]>' issues by living in CDATA. Finds its own <svg>
# (document.currentScript), so several graphs can live in one HTML page.
_JS = r"""
(function () {
  var cur = document.currentScript;
  var svg = (cur && cur.closest) ? cur.closest('svg') : document.documentElement;
  var W = +svg.getAttribute('data-usable'), X0 = +svg.getAttribute('data-xpad');
  var cw = +svg.getAttribute('data-charw');
  var details = svg.querySelector('.details'), matchedEl = svg.querySelector('.matched');
  var unzoomEl = svg.querySelector('.unzoom'), resetEl = svg.querySelector('.reset');
  var frames = Array.prototype.map.call(svg.querySelectorAll('g.fr'), function (g) {
    var r = g.querySelector('rect');
    return {g: g, x: +g.getAttribute('data-x'), w: +g.getAttribute('data-w'),
            d: +g.getAttribute('data-d'), name: g.getAttribute('data-n'), rect: r,
            text: g.querySelector('text'), fill: r.getAttribute('fill'),
            title: g.querySelector('title').textContent};
  });
  var eps = 1e-9;
  function label(f, px) {
    var n = Math.floor((px - 6) / cw);
    if (n < 3) return '';
    return f.name.length > n ? f.name.slice(0, n - 2) + '..' : f.name;
  }
  function place(f, x, w) {
    var px = w * W;
    f.rect.setAttribute('x', (X0 + x * W).toFixed(2));
    f.rect.setAttribute('width', Math.max(px, 0).toFixed(2));
    f.text.setAttribute('x', (X0 + x * W + 3).toFixed(2));
    f.text.textContent = label(f, px);
  }
  function zoom(z) {
    frames.forEach(function (f) {
      var inside = f.d >= z.d && f.x >= z.x - eps && f.x + f.w <= z.x + z.w + eps;
      var anc = f.d < z.d && f.x <= z.x + eps && f.x + f.w >= z.x + z.w - eps;
      if (inside) { f.g.style.display = ''; f.g.style.opacity = ''; place(f, (f.x - z.x) / z.w, f.w / z.w); }
      else if (anc) { f.g.style.display = ''; f.g.style.opacity = '0.55'; place(f, 0, 1); }
      else { f.g.style.display = 'none'; }
    });
    unzoomEl.style.opacity = z.w < 1 - eps ? '1' : '0.3';
  }
  var root = {x: 0, w: 1, d: 0};
  frames.forEach(function (f) {
    f.g.addEventListener('click', function (e) { e.stopPropagation(); zoom(f); });
    f.g.addEventListener('mouseover', function () { details.textContent = f.title; });
    f.g.addEventListener('mouseout', function () { details.textContent = ' '; });
  });
  unzoomEl.addEventListener('click', function () { zoom(root); });
  function search(re) {
    var hits = [];
    frames.forEach(function (f) {
      if (re && re.test(f.name)) { f.rect.setAttribute('fill', 'rgb(230,0,230)'); hits.push([f.x, f.x + f.w]); }
      else f.rect.setAttribute('fill', f.fill);
    });
    if (!re) { matchedEl.textContent = ' '; resetEl.style.opacity = '0.3'; return; }
    hits.sort(function (a, b) { return a[0] - b[0]; });
    var sum = 0, end = -1;
    hits.forEach(function (h) {
      if (h[0] >= end) { sum += h[1] - h[0]; end = h[1]; }
      else if (h[1] > end) { sum += h[1] - end; end = h[1]; }
    });
    matchedEl.textContent = 'Matched: ' + (100 * sum).toFixed(2) + '%';
    resetEl.style.opacity = '1';
  }
  svg.querySelector('.search').addEventListener('click', function () {
    var s = window.prompt('Search frames (regular expression):', '');
    if (s) { try { search(new RegExp(s)); } catch (err) { details.textContent = 'bad regex: ' + err.message; } }
  });
  resetEl.addEventListener('click', function () { search(null); });
  svg.wbZoom = function (name) {
    frames.forEach(function (f) { if (f.name === name) zoom(f); });
  };
  svg.wbSearch = function (s) { search(s ? new RegExp(s) : null); };
  svg.setAttribute('data-ready', '1');
})();
"""


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def hot_color(name: str) -> str:
    """Deterministic warm colour per function name (FlameGraph's 'hot' palette idea)."""
    h = zlib.crc32(name.encode("utf-8", "replace"))
    v1, v2, v3 = (h & 0xFF) / 255.0, ((h >> 8) & 0xFF) / 255.0, ((h >> 16) & 0xFF) / 255.0
    return f"rgb({205 + int(50 * v3)},{int(230 * v1)},{int(55 * v2)})"


def diff_color(delta: float, maxabs: float) -> str:
    """Red for growth, blue for shrinkage, near white for no change."""
    if maxabs <= 0 or delta == 0:
        return "rgb(235,235,235)"
    i = min(1.0, abs(delta) / maxabs)
    c = int(round(225 * (1.0 - i)))
    return f"rgb(255,{c},{c})" if delta > 0 else f"rgb({c},{c},255)"


def _max_abs_delta(n: Node) -> float:
    m = abs(n.delta) if n.value > 0 else 0.0
    for c in n.children.values():
        m = max(m, _max_abs_delta(c))
    return m


def render_svg(root: Node, title: str, subtitle: str = "", width: int = 1200,
               diff: bool = False, min_px: float = 0.1, unit: str = "samples") -> str:
    """Flame graph of `root` (as built by folded.build_tree / diff_tree) as an SVG string."""
    if root.value <= 0:
        raise ValueError("empty profile")
    usable = width - 2 * XPAD
    frames: List[tuple] = []   # (x_frac, w_frac, depth, node, parent)
    maxabs = _max_abs_delta(root) if diff else 0.0

    def walk(n: Node, x: float, depth: int):
        w = n.value / root.value
        if w * usable < min_px:
            return
        frames.append((x, w, depth, n))
        cx = x
        for name in sorted(n.children):
            c = n.children[name]
            if c.value > 0:
                walk(c, cx, depth + 1)
                cx += c.value / root.value
    walk(root, 0.0, 0)
    max_depth = max(f[2] for f in frames)
    height = TOP + (max_depth + 1) * FRAME_H + BOTTOM
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" class="wbflame" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'data-usable="{usable}" data-xpad="{XPAD}" data-charw="{CHAR_W}">',
        '<style>.fr text{font-family:' + FONT + ';font-size:11px;fill:#000;pointer-events:none}'
        '.fr:hover rect{stroke:#000;stroke-width:0.5}.fr{cursor:pointer}'
        '.ui{font-family:' + FONT + ';font-size:12px;fill:#000}.btn{cursor:pointer}</style>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f2"/>',
        f'<text class="ui title" x="{width / 2:.0f}" y="18" text-anchor="middle" '
        f'style="font-size:15px">{_esc(title)}</text>',
        f'<text class="ui subtitle" x="{width / 2:.0f}" y="34" text-anchor="middle" '
        f'style="fill:#555">{_esc(subtitle)}</text>',
        f'<text class="ui btn unzoom" x="{XPAD}" y="18" style="opacity:0.3">Reset Zoom</text>',
        f'<text class="ui btn search" x="{width - XPAD}" y="18" text-anchor="end">Search</text>',
        f'<text class="ui btn reset" x="{width - XPAD - 60}" y="18" text-anchor="end" '
        f'style="opacity:0.3">Clear</text>',
        f'<text class="ui matched" x="{width - XPAD}" y="{height - 10}" text-anchor="end"> </text>',
        f'<text class="ui details" x="{XPAD}" y="{height - 10}"> </text>',
    ]
    for x, w, depth, n in frames:
        y = height - BOTTOM - (depth + 1) * FRAME_H
        px = w * usable
        pct = 100.0 * w
        if diff:
            tip = (f"{n.name} (B {100 * n.value:.2f}%, A {100 * n.other:.2f}%, "
                   f"delta {100 * n.delta:+.2f} pp)")
            fill = diff_color(n.delta, maxabs)
        else:
            tip = f"{n.name} ({n.value:,.0f} {unit}, {pct:.2f}%)"
            fill = hot_color(n.name)
        n_chars = int((px - 6) // CHAR_W)
        lab = "" if n_chars < 3 else (n.name if len(n.name) <= n_chars
                                      else n.name[:n_chars - 2] + "..")
        out.append(
            f'<g class="fr" data-x="{x:.9f}" data-w="{w:.9f}" data-d="{depth}" '
            f'data-n="{_esc(n.name)}"><title>{_esc(tip)}</title>'
            f'<rect x="{XPAD + x * usable:.2f}" y="{y}" width="{px:.2f}" height="{FRAME_H - 1}" '
            f'fill="{fill}" rx="2" ry="2"/>'
            f'<text x="{XPAD + x * usable + 3:.2f}" y="{y + FRAME_H - 4.5:.1f}">{_esc(lab)}</text></g>')
    out.append("<script type=\"text/ecmascript\"><![CDATA[" + _JS + "]]></script>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def diff_subtitle(root: Node) -> str:
    gone = sorted(vanished(root), key=lambda t: -t[1])
    s = "red = grew, blue = shrank (share of all samples, B vs A); widths are B"
    if gone:
        share = sum(v for _, v in gone)
        s += f"; {len(gone)} stack(s) only in A ({100 * share:.1f}% of A) not drawn"
    return s


def render_html(svg: str, title: str, extra_html: str = "") -> str:
    """Wrap an SVG (string from render_svg) in a minimal standalone HTML page."""
    body = svg.split("?>", 1)[1] if svg.startswith("<?xml") else svg
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title>"
            "<style>body{font-family:sans-serif;margin:12px;background:#fff}"
            "svg.wbflame{max-width:100%;height:auto}</style></head><body>\n"
            f"<h1 style=\"font-size:18px\">{_esc(title)}</h1>\n{extra_html}{body}</body></html>\n")


def flamegraph_doc(root: Node, title: str, out_path: Optional[str], diff: bool,
                   subtitle: str = "", unit: str = "samples") -> str:
    """Render to SVG or (for .html paths) HTML text."""
    svg = render_svg(root, title, subtitle, diff=diff, unit=unit)
    if out_path and out_path.endswith((".html", ".htm")):
        return render_html(svg, title)
    return svg
