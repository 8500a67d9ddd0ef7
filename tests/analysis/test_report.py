"""Report and flame graph rendered by a real browser (headless Chromium)."""

import html
import re
import shutil
import subprocess
import tempfile

import pytest

import synth
from analysis import folded, gate
from analysis.cli import main
from analysis.flamegraph import render_html, render_svg

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed "
                                    "(apt-get install -y --no-install-recommends chromium)")


def _chromium(url, *extra):
    with tempfile.TemporaryDirectory() as prof:
        p = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={prof}", "--window-size=1280,2000", *extra,
             url], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("rep")
    cmp = synth.make_cmp(str(base / "cmp"), reps=3, seed=21,
                         base={"stacks": synth.STACKS_A},
                         cand={"bw_mibps": 120, "lat_scale": 0.7, "stacks": synth.STACKS_B,
                               "ratio": 3.0})
    out = base / "out"
    assert main(["report", cmp, "-o", str(out)]) == 0
    return out


def test_report_files(report, capsys):
    capsys.readouterr()
    page = (report / "index.html").read_text()
    for png in ("metrics_by_rep", "throughput", "latency_cdf", "folio_latency_hist",
                "writepages_hist", "bio_size_hist", "compress_ratio"):
        data = (report / f"{png}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, png
    assert page.count('src="data:image/png;base64,') == 7
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")   # nothing fetched
    assert page.count('class="wbflame"') == 3          # stock, patched, differential
    # the A/B table says what the synthetic data was built to show
    row = re.search(r"<tr><td>fio\.bw_MiBps ↑</td>(.*?)</tr>", page).group(1)
    assert "better" in row
    assert re.search(r"<tr><td>trace\.compress_ratio ↑</td>.*?better</td><td[^>]*>[^<]*</td></tr>", page)
    assert page.count('<td class="v-pass">pass</td>') == 6 * 5   # 6 runs x 5 checks


def test_report_empty_trace_sections(tmp_path, capsys):
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=3, base={"tracer_mode": "off"},
                         cand={"tracer_mode": "off"})
    assert main(["report", cmp]) == 0
    page = (tmp_path / "c" / "report" / "index.html").read_text()
    assert "no stacks.folded" in page and "no bio_bytes data" in page
    assert 'id="ab-table"' in page
    assert capsys.readouterr().out.strip().endswith("report/index.html")


@needs_chromium
def test_report_in_browser(report, tmp_path):
    url = "file://" + str(report / "index.html")
    dom = _chromium(url, "--dump-dom")
    assert '<table id="ab-table">' in dom and '<table id="runs">' in dom
    assert len(re.findall(r'<img class="plot"', dom)) == 7
    # the page opens with the verdict and the validity banner, before any table or plot
    sections = re.findall(r'<section id="([^"]+)"', dom)
    assert sections[0] == "verdict", sections
    body = dom[dom.index("<body"):]
    assert body.index('id="gate-verdict"') < body.index('id="validity"') < body.index("<img")
    assert re.search(r'class="verdict-box v-pass">gate: PASS \(exit 0\)<', dom)
    assert len(re.findall(r'<li class="ok"><b>(verification|ring-buffer drops|comparability)'
                          r'</b>: OK', dom)) == 3
    # the flame graph scripts ran in the page (each marks its svg when done)
    assert len(re.findall(r'<svg[^>]*class="wbflame"[^>]*data-ready="1"', dom)) == 3
    shot = tmp_path / "shot.png"
    _chromium(url, f"--screenshot={shot}")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    img = mpimg.imread(str(shot))
    assert img.shape[0] == 2000 and img.shape[1] == 1280
    rgb = img[..., :3]
    assert rgb.std() > 0.05                               # not a blank page
    assert (rgb.mean(axis=2) < 0.5).mean() > 0.005         # some dark ink (text, lines)


@needs_chromium
def test_flamegraph_zoom_and_search_in_browser(tmp_path):
    st = folded.parse_folded(synth.STACKS_A)
    svg = render_svg(folded.build_tree(st), "t")
    drive = ("<script>var s=document.querySelector('svg.wbflame');"
             "s.wbZoom('f2fs_write_cache_pages'); s.wbSearch('balance');</script>")
    page = render_html(svg, "t").replace("</body>", drive + "</body>")
    (tmp_path / "f.html").write_text(page)
    dom = _chromium("file://" + str(tmp_path / "f.html"), "--dump-dom")
    usable = 1200 - 20

    def frame(name):
        m = re.search(r'<g class="fr"[^>]*data-n="%s"[^>]*>(.*?)</g>' % name, dom)
        head = re.search(r'<g class="fr"[^>]*data-n="%s"[^>]*>' % name, dom).group(0)
        return head, m.group(1)
    head, body = frame("f2fs_write_cache_pages")
    width = float(re.search(r'width="([\d.]+)"', body).group(1))
    assert width == pytest.approx(usable, abs=0.05)        # zoomed frame fills the graph
    head, _ = frame("blk_finish_plug")
    assert "display: none" in head                         # sibling hidden
    _, body = frame("f2fs_balance_fs")
    assert 'fill="rgb(230,0,230)"' in body                 # search hit highlighted
    assert "Matched: 10.00%" in dom                        # 100 of 1000 samples


def test_report_gate_table_limits_and_human_units(report):
    page = (report / "index.html").read_text()
    table = page[page.index('<table id="gate-table">'):]
    table = table[:table.index("</table>")]
    # bandwidth in MiB/s, p99 latencies in µs, writepages time in ms/MiB, bio sizes in KiB
    assert re.search(r"<td>fio\.bw_MiBps</td><td>[\d.]+ MiB/s</td>", table)
    assert re.search(r"<td>fio\.clat_p99_us</td><td>[\d.]+ µs</td>", table)
    assert re.search(r"<td>trace\.writepages_ms_per_MiB</td><td>[\d.]+ ms/MiB</td>", table)
    assert re.search(r"<td>trace\.bio_mean_bytes</td><td>[\d.]+ KiB</td>", table)
    assert table.count('class="decision d-pass">pass<') == 9
    # every gated metric is plotted with its limit, drawn at baseline x (1 -/+ limit)
    lims = re.findall(r"<li>([^<]+)</li>", page[page.index('<ul id="limits">'):])
    bw = [x for x in lims if x.startswith("fio.bw_MiBps")][0]
    base = float(re.search(r"<td>fio\.bw_MiBps</td><td>([\d.]+) MiB/s", table).group(1))
    edge = float(re.search(r"= ([\d.]+) MiB/s", bw).group(1))
    assert "limit 5 % below the baseline" in bw and edge == pytest.approx(base * 0.95, rel=2e-3)
    p99 = [x for x in lims if x.startswith("trace.folio_latency_p99_ns")][0]
    limit = gate.load_thresholds(None)["metrics"]["trace.folio_latency_p99_ns"]
    assert f"(µs, ↓): limit {limit['max_regression_pct']:g} % above the baseline" in p99


def test_human_units():
    from analysis.report import human
    assert human(1536, "B") == "1.50 KiB" and human(3.2e6, "ns") == "3.20 ms"
    assert human(850, "us") == "850 µs" and human(2048, "MiB/s") == "2.00 GiB/s"
    assert human(12.5, "ms/MiB") == "12.50 ms/MiB" and human(None, "ns") == "-"


def test_report_opens_with_problems(tmp_path, capsys):
    # an unverified rep, lost tracer events and another accelerator: all three banner items
    # say PROBLEM and the verdict is "cannot judge", naming them
    for side, variant, kw in (("a", "stock", {"meta_extra": {"host": {"accel": "kvm"}}}),
                              ("b", "patched", {"verify": {"fsck": "skipped"}, "drops": 5,
                                                "meta_extra": {"host": {"accel": "tcg"}}})):
        for i in (1, 2, 3):
            synth.make_run(str(tmp_path / side / f"rep-{i:02d}"), variant=variant, rep=i, **kw)
    out = tmp_path / "r"
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out)]) == 0
    page = (out / "index.html").read_text()
    body = page[page.index("<body"):]
    assert body.index('id="gate-verdict"') < body.index('id="validity"') < body.index("<img")
    assert 'gate: CANNOT JUDGE (exit 2)' in page
    bad = re.findall(r'<li class="bad"><b>([^<]+)</b>: PROBLEM — ([^<]+)</li>', page)
    assert [b[0] for b in bad] == ["verification", "ring-buffer drops", "comparability"]
    assert "fsck skipped" in bad[0][1] and "5 events lost" in bad[1][1]
    assert "host.accel: &#x27;kvm&#x27; != &#x27;tcg&#x27;" in bad[2][1]


def test_report_marks_loop_timings_of_unlike_probe_sets(tmp_path, capsys):
    """The A/B table of the report names the rows compare marks not comparable, with the
    gate's reason; a comparison of like probe sets has no such line."""
    from analysis import compare, schema
    unlike = synth.make_cmp(str(tmp_path / "u"), reps=3, seed=5, noise=0.005,
                            base={"handouts_per_folio": 0.0},
                            cand={"handouts_per_folio": 1.0, "lat_scale": 1.3})
    assert main(["report", unlike]) == 0
    page = (tmp_path / "u" / "report" / "index.html").read_text()
    why = compare.observer_asymmetry(*schema.resolve_pair([unlike]))
    m = re.search(r'<p class="warn" id="not-comparable">(.*?)</p>', page)
    assert m and "trace.folio_latency_p50_ns" in m.group(1), page[:2000]
    assert html.escape(why, quote=True) in m.group(1)
    like = synth.make_cmp(str(tmp_path / "l"), reps=3, seed=5, noise=0.005)
    assert main(["report", like]) == 0
    assert 'id="not-comparable"' not in (tmp_path / "l" / "report" / "index.html").read_text()
    capsys.readouterr()
