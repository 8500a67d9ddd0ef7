"""The tail of trace-bioend's load, in the traced process: small random
rewrites with fdatasync after every 16 (new blocks out of place, then blocks
written before), then one WB_SYNC_NONE pass in this thread (sync_file_range)
after which the fsync finds nothing left to write.

    trace_bioend_load.py MOUNTPOINT
"""

import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "workloads"))
import sysio  # noqa: E402

SEED = 15
BLOCK = 4096
FILE_BLOCKS = 2048
ROUNDS, WRITES_PER_SYNC = 32, 16


def rewrite(path, rng):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for _ in range(ROUNDS):
            for _ in range(WRITES_PER_SYNC):
                os.pwrite(fd, os.urandom(BLOCK), rng.randrange(FILE_BLOCKS) * BLOCK)
            os.fdatasync(fd)
    finally:
        os.close(fd)


def async_then_fsync(path, size=1 << 20):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, os.urandom(size))
        sysio.sync_file_range(fd, 0, 0, sysio.SYNC_FILE_RANGE_WRITE)
        os.fsync(fd)
    finally:
        os.close(fd)


def main(argv):
    mnt = argv[1]
    rng = random.Random(SEED)
    for name in ("rnd", "seq"):
        rewrite(os.path.join(mnt, name), rng)
    async_then_fsync(os.path.join(mnt, "sfr"))


if __name__ == "__main__":
    main(sys.argv)
