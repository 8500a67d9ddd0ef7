"""The fstests source checks and the cache key."""
import os
import subprocess
import tarfile

import pytest
from fstests import build


def fake_tree(path):
    (path / "common").mkdir(parents=True)
    for name in ("check", "Makefile", "common/rc"):
        (path / name).write_text(f"{name}\n")
    return path


def test_source_kind(tmp_path):
    assert build.source_kind(str(fake_tree(tmp_path / "t"))) == "dir"
    tgz = tmp_path / "f.tar.gz"
    tgz.write_bytes(b"x")
    assert build.source_kind(str(tgz)) == "tarball"
    (tmp_path / "empty").mkdir()
    with pytest.raises(build.SourceError, match="not an fstests tree"):
        build.source_kind(str(tmp_path / "empty"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(build.SourceError, match="not a directory or a tarball"):
        build.source_kind(str(tmp_path / "notes.txt"))
    with pytest.raises(build.SourceError, match="no such file"):
        build.source_kind(str(tmp_path / "missing"))


def test_dir_digest_follows_content_not_build_products(tmp_path):
    tree = fake_tree(tmp_path / "t")
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    (tree / ".gitignore").write_text("*.o\n")
    d1 = build.source_digest(str(tree), "dir")
    (tree / "x.o").write_text("object")          # ignored: a build product
    assert build.source_digest(str(tree), "dir") == d1
    (tree / "common" / "rc").write_text("changed\n")
    d2 = build.source_digest(str(tree), "dir")
    assert d2 != d1
    os.chmod(tree / "check", 0o755)
    assert build.source_digest(str(tree), "dir") != d2


def test_tarball_digest_and_key(tmp_path):
    tgz = tmp_path / "f.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(str(fake_tree(tmp_path / "t")), arcname="fstests")
    d = build.source_digest(str(tgz), "tarball")
    assert len(d) == 64
    assert build.cache_key(d, "gcc 12") != build.cache_key(d, "gcc 13")
    assert build.cache_key(d, "gcc 12") == build.cache_key(d, "gcc 12")


def test_no_default_source_names_the_option(tmp_path, monkeypatch):
    monkeypatch.delenv("WBTRACE_FSTESTS_SOURCE", raising=False)
    with pytest.raises(build.SourceError, match="--source DIR|TARBALL"):
        build.default_source(str(tmp_path / "clone"))
    monkeypatch.setenv("WBTRACE_FSTESTS_SOURCE", "/some/where")
    assert build.default_source(str(tmp_path / "clone")) == "/some/where"


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    tree = fake_tree(tmp_path / "src")
    (tree / "Makefile").write_text("default:\n\tfalse\n")
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="build \\(make\\) failed"):
        build.ensure_built(str(tree), str(cache), log=lambda m: None)
    assert [p for p in os.listdir(cache) if not p.endswith(".lock")] == []


def test_a_build_is_cached(tmp_path):
    tree = fake_tree(tmp_path / "src")
    # A stand-in for fstests' Makefile: make builds, make install PKG_LIB_DIR=DIR installs.
    (tree / "Makefile").write_text("default:\n\ttouch built\n"
                                   "install:\n\tmkdir -p $(PKG_LIB_DIR)\n\tcp check $(PKG_LIB_DIR)/check\n"
                                   "\tchmod +x $(PKG_LIB_DIR)/check\n")
    cache, said = tmp_path / "cache", []
    first = build.ensure_built(str(tree), str(cache), log=said.append)
    assert os.access(os.path.join(first, "check"), os.X_OK)
    assert build.ensure_built(str(tree), str(cache), log=said.append) == first
    assert any("building" in m for m in said) and "cached" in said[-1]
