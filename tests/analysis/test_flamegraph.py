import xml.etree.ElementTree as ET

import pytest

import synth
from analysis import folded
from analysis.cli import main
from analysis.flamegraph import XPAD, diff_color, render_html, render_svg
from analysis.schema import ResultsError

SVG = "{http://www.w3.org/2000/svg}"


def test_parse_folded():
    st = folded.parse_folded("# comment\n\na;b;c 3\na;b 2\na;b;c 4\n[unknown] x;y z 1\nq 0\n"
                             "w;v 2.5\n")
    assert st[("a", "b", "c")] == 7          # duplicates add up
    assert st[("a", "b")] == 2
    assert st[("[unknown] x", "y z")] == 1   # spaces inside frames survive
    assert ("q",) not in st                  # zero-count lines carry nothing
    assert st[("w", "v")] == 2.5
    assert folded.total(st) == 12.5


@pytest.mark.parametrize("text,msg", [
    ("a;b;c\n", "f:1: expected"), ("ok 1\na;b x\n", ":2: sample count 'x'"), ("a -3\n", ">= 0")])
def test_parse_folded_errors(text, msg):
    with pytest.raises(ResultsError, match=msg):
        folded.parse_folded(text, "f")


def test_round_trip_text():
    st = folded.parse_folded(synth.STACKS_A)
    assert folded.parse_folded(folded.to_text(st)) == st
    assert folded.to_text(st).splitlines()[0] == "f2fs_write_data_pages;blk_finish_plug 100"


def test_normalise_and_tree():
    st = folded.parse_folded(synth.STACKS_A)
    n = folded.normalise(st)
    assert sum(n.values()) == pytest.approx(1.0)
    assert n[("f2fs_write_data_pages", "blk_finish_plug")] == pytest.approx(0.1)
    root = folded.build_tree(st)
    assert root.value == 1000
    wcp = root.find(("f2fs_write_data_pages", "f2fs_write_cache_pages"))
    assert wcp.value == 900 and wcp.self_value == 0
    assert wcp.children["f2fs_write_single_data_page"].value == 700
    assert root.depth() == 5                 # all + 4 frames
    assert folded.normalise(folded.parse_folded("")) == {}


def test_diff_tree_normalises_by_total():
    a = folded.parse_folded("m;b 50\nm;c 50\n")
    b = folded.parse_folded("m;b 300\nm;c 100\n")          # 4x the samples
    root = folded.diff_tree(a, b)
    assert root.find(("m",)).delta == pytest.approx(0.0)
    assert root.find(("m", "b")).delta == pytest.approx(0.25)
    assert root.find(("m", "c")).delta == pytest.approx(-0.25)
    assert root.find(("m", "b")).value == pytest.approx(0.75)
    gone = folded.diff_tree(folded.parse_folded("m;x 1\nm;b 1\n"), folded.parse_folded("m;b 1\n"))
    assert list(folded.vanished(gone)) == [(("m", "x"), 0.5)]


def _frames(svg_text):
    root = ET.fromstring(svg_text.encode())
    assert root.tag == SVG + "svg"
    return root, {g.get("data-n"): g for g in root.iter(SVG + "g") if g.get("class") == "fr"}


def test_svg_well_formed_with_expected_frames():
    st = folded.parse_folded(synth.STACKS_A + "x<&>\"y;z 5\n")
    svg = render_svg(folded.build_tree(st), "t <&>", "sub")
    root, frames = _frames(svg)
    assert set(frames) == {"all", "f2fs_write_data_pages", "f2fs_write_cache_pages",
                           "f2fs_write_single_data_page", "f2fs_do_write_data_page",
                           "f2fs_balance_fs", "filemap_get_folios_tag", "blk_finish_plug",
                           'x<&>"y', "z"}
    usable = float(root.get("data-usable"))
    # widths are proportional to inclusive samples: 900 of 1005 for write_cache_pages
    w = float(frames["f2fs_write_cache_pages"].find(SVG + "rect").get("width"))
    assert w == pytest.approx(usable * 900 / 1005, abs=0.01)
    assert float(frames["all"].find(SVG + "rect").get("x")) == XPAD
    title = frames["f2fs_balance_fs"].find(SVG + "title").text
    assert "100 samples" in title and "9.95%" in title
    # children sit one row above their parent (flame graphs grow upwards)
    y = {n: float(g.find(SVG + "rect").get("y")) for n, g in frames.items()}
    assert y["f2fs_write_cache_pages"] == y["f2fs_write_data_pages"] - 16
    assert root.find(SVG + "script") is not None
    # frames of one row never overlap, and children lie inside their parent
    rows = {}
    for name, g in frames.items():
        r = g.find(SVG + "rect")
        rows.setdefault(float(r.get("y")), []).append((float(r.get("x")), float(r.get("width"))))
    for spans in rows.values():
        spans.sort()
        for (x0, w0), (x1, _) in zip(spans, spans[1:]):
            assert x0 + w0 <= x1 + 0.01
    x = {n: float(g.find(SVG + "rect").get("x")) for n, g in frames.items()}
    assert x["blk_finish_plug"] == pytest.approx(XPAD)          # sorted by name: first
    assert x["f2fs_write_cache_pages"] == pytest.approx(XPAD + usable * 100 / 1005, abs=0.01)


def test_diff_svg_colours():
    a = folded.parse_folded("m;b 50\nm;c 50\n")
    b = folded.parse_folded("m;b 300\nm;c 100\n")
    _, frames = _frames(render_svg(folded.diff_tree(a, b), "d", diff=True))
    fill = {n: g.find(SVG + "rect").get("fill") for n, g in frames.items()}
    assert fill["b"] == "rgb(255,0,0)"        # grew the most: full red
    assert fill["c"] == "rgb(0,0,255)"        # shrank the most: full blue
    assert fill["m"] == diff_color(0, 0.25) == "rgb(235,235,235)"


def test_tiny_frames_are_dropped():
    st = folded.parse_folded("a 1000000\nb 1\n")
    _, frames = _frames(render_svg(folded.build_tree(st), "t"))
    assert "b" not in frames and "a" in frames


def test_html_wraps_inline_svg():
    svg = render_svg(folded.build_tree(folded.parse_folded("a;b 1\n")), "t")
    page = render_html(svg, "title")
    assert page.startswith("<!DOCTYPE html>") and "<?xml" not in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page


def test_cli_flamegraph(tmp_path, capsys):
    a = synth.make_run(str(tmp_path / "a"), variant="stock", stacks=synth.STACKS_A)
    b = synth.make_run(str(tmp_path / "b"), variant="patched", stacks=synth.STACKS_B)
    out = tmp_path / "d.svg"
    assert main(["flamegraph", b, "--diff", a, "-o", str(out)]) == 0
    _, frames = _frames(out.read_text())
    assert "writeback_iter" in frames and "f2fs_write_cache_pages" not in frames
    assert "only in A" in out.read_text()
    f = tmp_path / "x.folded"
    f.write_text(synth.STACKS_B)
    assert main(["flamegraph", str(f), "-o", str(tmp_path / "x.html")]) == 0
    assert "folio_prepare_writeback" in (tmp_path / "x.html").read_text()
    capsys.readouterr()


def test_cli_default_output_paths(tmp_path, capsys):
    cmp = synth.make_cmp(str(tmp_path / "c"), reps=1, base={"stacks": synth.STACKS_A},
                         cand={"stacks": synth.STACKS_B})
    assert main(["flamegraph", cmp + ":patched", "--diff", cmp + ":stock"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == str(tmp_path / "c" / "flamegraph-patched-diff.svg")
    _frames(open(out).read())
    f = tmp_path / "p.folded"
    f.write_text(synth.STACKS_A)
    assert main(["flamegraph", str(f)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "p.svg")
