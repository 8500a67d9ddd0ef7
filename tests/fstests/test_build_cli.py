"""`python3 -m fstests.build`: the fstests tree built or found in the cache, its
path alone on stdout; --help builds nothing; a set-up failure is one clear
line and cli.py's EXIT_SETUP.  No real fstests build: fake sources and trees."""
import os
import subprocess
import sys

import pytest
from conftest import TOP
from fstests import build, cli

ENV = {**os.environ, "PYTHONPATH": os.path.join(TOP, "workloads"), "PYTHONDONTWRITEBYTECODE": "1"}


def fake_source(path, makefile="default:\n\tfalse\n"):
    """An fstests-looking source whose make fails unless MAKEFILE says otherwise:
    a build attempted where none should be fails the test."""
    (path / "common").mkdir(parents=True)
    for name in ("check", "common/rc"):
        (path / name).write_text(f"{name}\n")
    (path / "Makefile").write_text(makefile)
    return path


def cached_product(source, cache):
    """The cache entry ensure_built() would have left for SOURCE: fstests-KEY/{.done,tree/ltp/fsx}."""
    key = build.cache_key(build.source_digest(str(source), "dir"), build.toolchain())
    product = cache / f"fstests-{key}"
    (product / "tree" / "ltp").mkdir(parents=True)
    (product / "tree" / "ltp" / "fsx").write_text("#!/bin/sh\n")
    (product / ".done").write_text("")
    return product / "tree"


def run_module(args, cache, **env):
    return subprocess.run([sys.executable, "-m", "fstests.build", *args], capture_output=True, text=True,
                          env={**ENV, "WBTRACE_CACHE": str(cache), **env}, cwd=TOP)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    c = tmp_path / "cache"
    monkeypatch.setenv("WBTRACE_CACHE", str(c))
    return c


def test_help_explains_and_builds_nothing(tmp_path, cache, capsys):
    src = fake_source(tmp_path / "src", "default:\n\ttouch $(CURDIR)/../../built\n")
    with pytest.raises(SystemExit) as e:
        build.main(["--help", "--source", str(src)])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--source DIR|TARBALL" in out and "TREE/ltp/fsx" in out and "$WBTRACE_CACHE" in out
    assert f"  {cli.EXIT_SETUP}    {cli.EXIT[cli.EXIT_SETUP]}" in out
    assert not cache.exists()
    p = run_module(["--help"], cache)
    assert p.returncode == 0 and p.stdout.startswith("usage: python3 -m fstests.build") and p.stderr == ""
    assert not cache.exists()


def test_bad_usage_is_exit_2(cache, capsys):
    with pytest.raises(SystemExit) as e:
        build.main(["--sauce", "x"])
    assert e.value.code == 2
    assert "unrecognized arguments: --sauce" in capsys.readouterr().err
    assert not cache.exists()


def test_a_missing_source_is_a_set_up_failure(tmp_path, cache, capsys):
    assert build.main(["--source", str(tmp_path / "nowhere")]) == cli.EXIT_SETUP == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"[fstests] error: --source {tmp_path / 'nowhere'}: no such file or directory\n"
    assert not cache.exists()


def test_no_default_source_names_what_to_pass(tmp_path, cache, capsys, monkeypatch):
    monkeypatch.delenv("WBTRACE_FSTESTS_SOURCE", raising=False)
    monkeypatch.setattr(cli, "TOP", str(tmp_path / "clone"))   # no ../shared/vendor beside it
    assert build.main([]) == cli.EXIT_SETUP
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("[fstests] error: no fstests source: ") and "pass --source DIR|TARBALL" in err
    assert "WBTRACE_FSTESTS_SOURCE" in err


def test_the_environment_names_the_source(tmp_path, cache, capsys, monkeypatch):
    (tmp_path / "notfstests").mkdir()
    monkeypatch.setenv("WBTRACE_FSTESTS_SOURCE", str(tmp_path / "notfstests"))
    assert build.main([]) == cli.EXIT_SETUP
    assert "not an fstests tree" in capsys.readouterr().err


def test_a_failed_build_is_a_set_up_failure(tmp_path, cache, capsys):
    src = fake_source(tmp_path / "src")
    assert build.main(["--source", str(src)]) == cli.EXIT_SETUP
    out, err = capsys.readouterr()
    assert out == "" and "fstests build (make) failed" in err


def test_a_cached_tree_is_printed_without_a_build(tmp_path, cache, capsys):
    src = fake_source(tmp_path / "src")            # its make fails: a rebuild would show
    tree = cached_product(src, cache)
    before = sorted(os.listdir(cache))
    assert build.main(["--source", str(src)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{tree}\n"
    assert err == f"[fstests] fstests: cached ({tree.parent})\n"
    assert sorted(os.listdir(cache)) == before
    # as a module: the path alone on stdout, the progress on stderr
    p = run_module(["--source", str(src)], cache)
    assert (p.returncode, p.stdout) == (0, f"{tree}\n") and "cached" in p.stderr
    assert sorted(os.listdir(cache)) == before


def test_another_source_is_another_tree(tmp_path, cache, capsys):
    src = fake_source(tmp_path / "src")
    cached_product(src, cache)
    (src / "common" / "rc").write_text("changed\n")
    assert build.main(["--source", str(src)]) == cli.EXIT_SETUP   # not cached: built, and that fails
    assert "building from" in capsys.readouterr().err


def test_a_build_prints_the_new_tree(tmp_path, cache, capsys):
    src = fake_source(tmp_path / "src", "default:\n\ttouch built\n"
                                         "install:\n\tmkdir -p $(PKG_LIB_DIR)/ltp\n"
                                         "\tcp check $(PKG_LIB_DIR)/check\n\tchmod +x $(PKG_LIB_DIR)/check\n")
    assert build.main(["--source", str(src)]) == 0
    out, err = capsys.readouterr()
    tree = out.strip()
    assert out == f"{tree}\n" and os.path.dirname(os.path.dirname(tree)) == str(cache)
    assert os.access(os.path.join(tree, "check"), os.X_OK)
    assert "building from" in err and "built in" in err
    assert build.main(["--source", str(src)]) == 0
    assert capsys.readouterr().out == f"{tree}\n"


def test_the_default_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("WBTRACE_CACHE", "/c")
    assert build.default_cache() == "/c"
    monkeypatch.delenv("WBTRACE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert build.default_cache() == str(tmp_path / "xdg" / "wbtrace")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert build.default_cache() == str(tmp_path / "home" / ".cache" / "wbtrace")
