"""The Python of wb-compress-nomem.sh: start the writeback of files and count the calls
that fail, while f2fs fault injection makes compression run out of memory.

  wb_compress_nomem.py fsync|sfr FILE...

fsync: fsync() each file (WB_SYNC_ALL); sfr: sync_file_range(SYNC_FILE_RANGE_WRITE)
over the whole file (WB_SYNC_NONE).  Prints "FAILED ENOMEM" (calls that failed, and
of those how many with ENOMEM); exit status 1 if any call failed.
"""
import errno
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "workloads"))
import sysio  # noqa: E402

MODES = ("fsync", "sfr")


def write_back(mode, path):
    """Start (sfr) or complete (fsync) the writeback of one file; OSError on failure."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if mode == "fsync":
            os.fsync(fd)
        else:
            sysio.sync_file_range(fd, 0, 0)
    finally:
        os.close(fd)


def write_back_all(mode, files, call=write_back):
    """(failed, enomem) over FILES: every file is tried, whatever the others did."""
    failed = enomem = 0
    for path in files:
        try:
            call(mode, path)
        except OSError as e:
            failed += 1
            enomem += e.errno == errno.ENOMEM
    return failed, enomem


def main(argv):
    if len(argv) < 2 or argv[0] not in MODES:
        print(f"usage: wb_compress_nomem.py {'|'.join(MODES)} FILE...", file=sys.stderr)
        return 2
    failed, enomem = write_back_all(argv[0], argv[1:])
    print(failed, enomem)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
