"""tests/guest/wb_compress.py: its data generators, its model of the files and
the manifest check, the expected compression counters, the comparison of the
two modules' counters and the module check by build-id."""
import json
import zlib

import pytest

import wb_compress as wbc

PAGE = wbc.PAGE


@pytest.fixture(autouse=True)
def no_errors():
    wbc.errors.clear()
    yield
    wbc.errors.clear()


def test_text_is_deterministic_and_compressible():
    a = wbc.text(100000, 3)
    assert len(a) == 100000 and a == wbc.text(100000, 3) and a != wbc.text(100000, 4)
    assert len(zlib.compress(a)) < len(a) / 3
    r = wbc.rand(100000, 3)
    assert r == wbc.rand(100000, 3) and len(zlib.compress(r)) > 0.99 * len(r)


def test_files_model_and_manifest(tmp_path, capsys):
    fs = wbc.Files(str(tmp_path / "d"), ".cz")
    fs.write("a", 0, wbc.text(3 * PAGE + 5, 1))
    fs.write("a", 10 * PAGE, b"tail")               # a hole in between
    fs.truncate("a", 9 * PAGE)                      # cut the tail again
    fs.write("b", 0, wbc.rand(PAGE, 2))
    fs.sync_drop("a")
    assert fs.check("a", "test") and fs.check("b", "test")
    fs.close()
    fs.manifest(str(tmp_path / "m.json"))
    assert wbc.verify([str(tmp_path / "m.json")])
    assert "2/2 files match the model" in capsys.readouterr().out
    assert wbc.errors == []


def test_check_and_verify_catch_a_changed_byte(tmp_path, capsys):
    fs = wbc.Files(str(tmp_path / "d"), "")
    fs.write("a", 0, wbc.text(5 * PAGE, 1))
    fs.close()
    fs.manifest(str(tmp_path / "m.json"))
    with open(fs.path("a"), "r+b") as f:
        f.seek(2 * PAGE + 7)
        f.write(b"!")
    assert not fs.check("a", "after flip")
    assert not wbc.verify([str(tmp_path / "m.json")])
    out = capsys.readouterr().out
    assert f"FAIL: a: after flip: first difference at byte {2 * PAGE + 7} (page 2)" in out
    assert "content DIFFERS" in out and "0/1 files match the model" in out
    assert len(wbc.errors) == 2


def test_verify_catches_a_short_or_missing_file(tmp_path, capsys):
    fs = wbc.Files(str(tmp_path / "d"), "")
    fs.write("a", 0, b"x" * 5000)
    fs.write("b", 0, b"y")
    fs.close()
    fs.manifest(str(tmp_path / "m.json"))
    (tmp_path / "d" / "a").write_bytes(b"x" * 4096)
    (tmp_path / "d" / "b").unlink()
    assert not wbc.verify([str(tmp_path / "m.json")])
    out = capsys.readouterr().out
    assert "size 4096 (expected 5000)" in out and "No such file" in out


def test_vmstat(tmp_path):
    (tmp_path / "vmstat").write_text("nr_dirty 12\nnr_written 345\n")
    assert wbc.vmstat("nr_written", str(tmp_path / "vmstat")) == 345
    with pytest.raises(KeyError):
        wbc.vmstat("nr_nothing", str(tmp_path / "vmstat"))


def test_expected_counters():
    # By hand: the files' pages are 1, 2, 3, 4, 9, 65, 256 and 334, so full
    # clusters of 4 pages 0+0+0+1+2+16+64+83 = 166, of 16 pages 4+16+20 = 40,
    # of 8 pages 1+8+32+41 = 82: text 4*166 + 16*40 + 8*82, rand 4*166.
    # A cluster counts when i_size reaches into its last page.
    assert wbc.full_clusters(9 * PAGE - 1, 2) == 2 and wbc.full_clusters(3 * PAGE + 1, 2) == 1
    assert wbc.full_clusters(3 * PAGE, 2) == 0
    assert wbc.expected_cluster_blocks("text") == 664 + 640 + 656 == 1960
    assert wbc.expected_cluster_blocks("rand") == 664
    # overwrite: the clusters the five writes touch in the three big files:
    # 5, 3 and 5 of the 4-, 16- and 8-page clusters in the first, 5 of each
    # in the other two.  (Both modules' counters in the lab, 2026-12-05:
    # text 833 + 1127, rand 664 + 0, overwrite 144 + 244 written + saved.)
    assert wbc.expected_cluster_blocks("overwrite") == (5 * 4 + 3 * 16 + 5 * 8) + 2 * (5 * 4 + 5 * 16 + 5 * 8) == 388
    with pytest.raises(ValueError):
        wbc.expected_cluster_blocks("split")


def test_overwrites_stay_inside_full_clusters():
    for size in wbc.COUNTER_SIZES:
        if size < 16 * PAGE:
            continue
        for _, _, log in wbc.COUNTER_TEXT_OPTS:
            end = wbc.full_clusters(size, log) * (PAGE << log)
            offs = wbc.overwrite_offsets(size, log)
            assert all(0 <= o and o + wbc.OVERWRITE_LEN <= end for o in offs)
            assert max(wbc.touched_clusters(offs, log)) < wbc.full_clusters(size, log)


def test_compare_counters():
    a = {"text": {"written": 500, "saved": 1460}, "rand": {"written": 664, "saved": 0},
         "overwrite": {"written": 100, "saved": 288}, "split": {"written": 10, "saved": 14}}
    lines, bad = wbc.compare_counters(a, dict(a), "stock", "patched")
    assert bad == [] and len(lines) == 4 and not any("DIFFER" in x or "reported" in x for x in lines)
    b = dict(a, split={"written": 12, "saved": 12})
    lines, bad = wbc.compare_counters(a, b, "stock", "patched")
    assert bad == [] and any(x.startswith("  counters split") and x.endswith("(reported only)") for x in lines)
    b = dict(a, text={"written": 501, "saved": 1459})
    lines, bad = wbc.compare_counters(a, b, "stock", "patched")
    assert bad == ["text"]
    assert "  counters text      stock: {'written': 500, 'saved': 1460}  patched: {'written': 501, 'saved': 1459}  DIFFER" in lines
    _, bad = wbc.compare_counters(a, {k: v for k, v in a.items() if k != "rand"}, "stock", "patched")
    assert bad == ["rand"]                  # a missing phase differs too


def test_compare_counters_command(tmp_path, capsys):
    a = {"text": {"written": 1, "saved": 2}}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps({"text": {"written": 2, "saved": 1}}))
    args = ["wb_compress.py", "compare-counters", str(tmp_path / "a.json")]
    assert wbc.main(args + [str(tmp_path / "a.json"), "stock", "patched"]) == 0
    assert wbc.main(args + [str(tmp_path / "b.json"), "stock", "patched"]) == 1
    assert "DIFFER" in capsys.readouterr().out


def test_which_module(tmp_path):
    note = tmp_path / "note"
    stock, patched = tmp_path / "stock.ko", tmp_path / "patched.ko"
    stock.write_bytes(b"\x7fELF...GNU\0" + b"\x11" * 20 + b"...")
    patched.write_bytes(b"\x7fELF...GNU\0" + b"\x22" * 20 + b"...")
    env = {"WBTRACE_MODULE_STOCK": str(stock), "WBTRACE_MODULE_PATCHED": str(patched)}
    assert wbc.which_module(str(note), env) == "none"
    note.write_bytes(b"GNU\0" + b"\x22" * 20)
    assert wbc.which_module(str(note), env) == "patched"
    note.write_bytes(b"GNU\0" + b"\x11" * 20)
    assert wbc.which_module(str(note), env) == "stock"
    assert wbc.which_module(str(note), {"WBTRACE_MODULE_PATCHED": str(patched)}) == "unknown"
    note.write_bytes(b"GNU\0" + b"\x33" * 20)
    assert wbc.which_module(str(note), env) == "unknown"
