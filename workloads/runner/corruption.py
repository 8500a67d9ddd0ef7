"""The hidden --inject-corruption switch: flips 64 bytes of a file after the workload,
through the block device while unmounted (dev) or through the file, so that tests can
prove the verification steps fail when the data is wrong."""

import os

from sysio import FIEMAP_EXTENT_UNUSABLE, fiemap

from .errors import RepError


def largest_file(mnt):
    best = None
    for root, _, files in os.walk(mnt):
        for fn in files:
            p = os.path.join(root, fn)
            s = os.path.getsize(p)
            if s >= 8192 and (best is None or s > best[1]):
                best = (p, s)
    return best


class CorruptionInjection:
    """Rep's part: `_inject` runs after the workload's manifest, before drop_caches."""

    def _inject(self, spec):
        mode, _, name = spec.partition(":")
        if name:
            path = os.path.join(self.mnt, name)
            if not os.path.isfile(path):
                raise RepError(f"--inject-corruption: no file {name!r} on the file system")
            target = (path, os.path.getsize(path))
        else:
            target = largest_file(self.mnt)
        if not target or target[1] < 8192:
            raise RepError("--inject-corruption: no data file to corrupt")
        path, size = target
        rel = os.path.relpath(path, self.mnt)
        loff = (size // 2) // 4096 * 4096
        if mode == "dev":
            os.sync()
            ext = [e for e in fiemap(path) if not e[3] & FIEMAP_EXTENT_UNUSABLE and e[2] >= 4096]
            hit = [e for e in ext if e[0] <= loff < e[0] + e[2]] or ext
            if not hit:
                self.v("inject: no plain extent to corrupt through the device; using the file")
                mode = "file"
            else:
                lo, ph, ln, _ = hit[0]
                if not lo <= loff < lo + ln:
                    loff = lo
                poff = ph + (loff - lo)
                self.umount()
                fd = os.open(self.ctx.dev, os.O_RDWR)
                try:
                    blk = bytearray(os.pread(fd, 4096, poff))
                    for i in range(256, 320):
                        blk[i] ^= 0x5A
                    os.pwrite(fd, bytes(blk), poff)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self.mount()
                self.injected = f"{rel} offset {loff + 256} (device offset {poff + 256})"
        if mode == "file":
            fd = os.open(path, os.O_RDWR)
            try:
                blk = bytearray(os.pread(fd, 4096, loff))
                for i in range(256, 320):
                    blk[i] ^= 0x5A
                os.pwrite(fd, bytes(blk), loff)
            finally:
                os.close(fd)
            self.injected = f"{rel} offset {loff + 256} (through the file)"
        self.notes.append(f"debug: --inject-corruption={spec}: flipped 64 bytes of {self.injected}")
        self.v(f"INJECTED CORRUPTION ({mode}): 64 bytes of {self.injected} flipped after the "
               f"workload; the checks below must fail")
