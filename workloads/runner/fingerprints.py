"""Content fingerprints: the SHA-256 of a file (job files, f2fs modules) and the manifest
of a mounted file system, which tells a stale but self-consistent block from the newest."""

import hashlib
import os


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest(mnt):
    out = {}
    for root, dirs, files in os.walk(mnt):
        dirs.sort()
        for fn in sorted(files):
            p = os.path.join(root, fn)
            if os.path.isfile(p) and not os.path.islink(p):
                out[os.path.relpath(p, mnt)] = sha256_file(p)
    return out
