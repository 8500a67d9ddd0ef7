"""fstests built once per source, cached outside the clone (like the lab kernel).

The key is a hash of the source (a tarball's bytes, or a directory's files) and
of the toolchain it is built with; `make install PKG_LIB_DIR=DIR` gives a flat,
relocatable tree (fstests' DESTDIR install is broken: install-sh adds DESTDIR
twice).  The guest runs the host's root file system, so a tree built here runs
there with the same glibc.
"""
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from runner.fingerprints import sha256_file

# Bump when the way the tree is built changes: it is part of the key.
RECIPE = "make -j; make install PKG_LIB_DIR (v1)"
TARBALL_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar")
# The source a fresh `./wbtrace fstests` uses: the vendored upstream tag, kept
# beside the clone (../shared/vendor); elsewhere pass --source.
VENDORED_NAME = "fstests-v2026.01.27.tar.gz"
UPSTREAM = "https://git.kernel.org/pub/scm/fs/xfs/xfstests-dev.git (tag v2026.01.27)"


class SourceError(Exception):
    """The source given (or the default one) is missing or is not fstests."""


def default_source(top):
    """The fstests source used without --source, or a SourceError saying what to pass."""
    env = os.environ.get("WBTRACE_FSTESTS_SOURCE")
    if env:
        return env
    vendored = os.path.join(os.path.dirname(top), "shared", "vendor", VENDORED_NAME)
    if os.path.exists(vendored):
        return vendored
    raise SourceError(
        f"no fstests source: {vendored} is not there; pass --source DIR|TARBALL "
        f"(a clone of {UPSTREAM}, or its tarball) or set WBTRACE_FSTESTS_SOURCE")


def source_kind(path):
    """'tarball' or 'dir' for an fstests source, else a SourceError."""
    if os.path.isdir(path):
        if not all(os.path.exists(os.path.join(path, f)) for f in ("check", "Makefile", "common/rc")):
            raise SourceError(f"--source {path}: not an fstests tree (no check, Makefile, common/rc)")
        return "dir"
    if os.path.isfile(path):
        if not path.endswith(TARBALL_SUFFIXES):
            raise SourceError(f"--source {path}: not a directory or a tarball ({', '.join(TARBALL_SUFFIXES)})")
        return "tarball"
    raise SourceError(f"--source {path}: no such file or directory")


def dir_files(path):
    """The source files of a directory: git's tracked and untracked-not-ignored
    files in a work tree (build products stay out), else every file."""
    git = subprocess.run(["git", "-C", path, "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                         capture_output=True)
    if git.returncode == 0 and git.stdout:
        names = [n for n in git.stdout.decode().split("\0") if n]
    else:
        names = []
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d != ".git"]
            names += [os.path.relpath(os.path.join(root, f), path) for f in files]
    return sorted(n for n in names if os.path.isfile(os.path.join(path, n)))


def source_digest(path, kind):
    """sha256 of a tarball, or of a directory's (name, exec bit, content) list."""
    if kind == "tarball":
        return sha256_file(path)
    h = hashlib.sha256()
    for name in dir_files(path):
        full = os.path.join(path, name)
        h.update(f"{name}\0{int(os.access(full, os.X_OK))}\0{sha256_file(full)}\n".encode())
    return h.hexdigest()


def toolchain():
    """What the built binaries depend on besides the source."""
    gcc = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    libc = os.confstr("CS_GNU_LIBC_VERSION") or "unknown libc"
    return f"gcc {gcc}; {libc}"


def cache_key(digest, tools):
    return hashlib.sha256(f"{digest}\n{tools}\n{RECIPE}\n".encode()).hexdigest()[:16]


def _run(cmd, cwd, log, what):
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        rc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        with open(log) as f:
            tail = f.readlines()[-15:]
        raise RuntimeError(f"fstests {what} failed (exit {rc}); last lines of {log}:\n" + "".join(tail))


def _unpack(source, kind, dest):
    if kind == "tarball":
        subprocess.run(["tar", "-xf", source, "-C", dest, "--strip-components=1"], check=True)
        return
    for name in dir_files(source):
        target = os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(source, name), target)


def ensure_built(source, cache_dir, log=print):
    """The installed fstests tree for SOURCE, built on first use; returns its path."""
    source = os.path.abspath(source)
    kind = source_kind(source)
    digest = source_digest(source, kind)
    key = cache_key(digest, toolchain())
    product = os.path.join(cache_dir, f"fstests-{key}")
    tree = os.path.join(product, "tree")
    if os.path.exists(os.path.join(product, ".done")):
        log(f"fstests: cached ({product})")
        return tree
    os.makedirs(cache_dir, exist_ok=True)
    with open(product + ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"fstests: waiting for another build of {os.path.basename(product)}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(product, ".done")):
            return tree
        work = tempfile.mkdtemp(prefix=f"fstests-{key}.build.", dir=cache_dir)
        try:
            src = os.path.join(work, "src")
            os.mkdir(src)
            build_log = os.path.join(work, "build.log")
            log(f"fstests: building from {source} -> {product} (2.5 min on a quiet 2-core machine, 28 min at load average 10; log {build_log})")
            t0 = time.time()
            _unpack(source, kind, src)
            _run(["make", f"-j{os.cpu_count() or 1}"], src, build_log, "build (make)")
            t_make = time.time() - t0
            # PKG_LIB_DIR is where `make install` puts check, common/, tests/, src/ ...
            _run(["make", "install", f"PKG_LIB_DIR={os.path.join(work, 'tree')}"], src, build_log,
                 "install (make install PKG_LIB_DIR=...)")
            if not os.access(os.path.join(work, "tree", "check"), os.X_OK):
                raise RuntimeError(f"fstests install left no executable check in {work}/tree")
            shutil.rmtree(src)
            with open(os.path.join(work, "source.json"), "w") as f:
                json.dump({"source": source, "kind": kind, "sha256": digest, "toolchain": toolchain(),
                           "recipe": RECIPE, "make_s": round(t_make), "total_s": round(time.time() - t0)},
                          f, indent=1)
            open(os.path.join(work, ".done"), "w").close()
            # One rename: a product dir exists only complete (an old incomplete one goes first).
            shutil.rmtree(product, ignore_errors=True)
            os.rename(work, product)
            log(f"fstests: built in {round(time.time() - t0)} s (make {round(t_make)} s)")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return tree


def default_cache():
    """$WBTRACE_CACHE, else $XDG_CACHE_HOME/wbtrace, else ~/.cache/wbtrace (as cli.py and the lab)."""
    return os.environ.get("WBTRACE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "wbtrace")


def main(argv=None):
    """`python3 -m fstests.build [--source DIR|TARBALL]` (PYTHONPATH=workloads):
    the fstests tree built (or found cached) as `./wbtrace fstests` builds it;
    its path on stdout, progress on stderr.  Exit 0, or cli.EXIT_SETUP."""
    import argparse
    from fstests import cli     # here: cli imports this module

    ap = argparse.ArgumentParser(
        prog="python3 -m fstests.build", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build fstests once (cached), as `./wbtrace fstests` does, and print the\n"
                    "installed tree's path on stdout (progress on stderr).  The lab's guest tests\n"
                    "take fsx from it: TREE/ltp/fsx.",
        epilog=f"""The source: --source, else $WBTRACE_FSTESTS_SOURCE, else ../shared/vendor/{VENDORED_NAME}
beside the clone.  The tree is built once into $WBTRACE_CACHE (default ~/.cache/wbtrace)
as fstests-KEY/tree, KEY a hash of the source and the toolchain; cached, this returns at once.
Run with PYTHONPATH=workloads.

exit status:
  0    the tree is there (its path printed)
  {cli.EXIT_SETUP}    {cli.EXIT[cli.EXIT_SETUP]}
  2    bad usage""")
    ap.add_argument("--source", metavar="DIR|TARBALL", help="fstests source: a directory (e.g. a git clone) or a tarball")
    args = ap.parse_args(argv)
    try:
        source = args.source or default_source(cli.TOP)
        tree = ensure_built(source, default_cache(), log=cli.log)
    except (SourceError, RuntimeError) as e:
        cli.log(f"error: {e}")
        return cli.EXIT_SETUP
    print(tree, flush=True)
    return 0


if __name__ == "__main__":
    # Through the package's module, not this __main__ copy: cli's `build` is that one.
    import sys
    from fstests import build
    sys.exit(build.main())
