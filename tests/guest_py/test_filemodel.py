"""tests/guest/filemodel.py: the model of a file's contents follows what the
kernel does with the same writes, truncates and punched holes."""
import errno
import os
import random

import pytest

import filemodel
import sysio


def test_write_beyond_the_end_leaves_zeroes():
    m = bytearray(b"abc")
    filemodel.write(m, 6, b"xy")
    assert m == b"abc\0\0\0xy"
    filemodel.write(m, 1, b"ZZ")
    assert m == b"aZZ\0\0\0xy"


def test_truncate_cuts_and_extends():
    m = bytearray(b"abcdef")
    filemodel.truncate(m, 2)
    assert m == b"ab"
    filemodel.truncate(m, 5)
    assert m == b"ab\0\0\0"


def test_zero_keeps_the_size():
    m = bytearray(b"abcdef")
    filemodel.zero(m, 4, 100)
    assert m == b"abcd\0\0"
    filemodel.zero(m, 10, 5)                # entirely beyond the end: nothing
    assert m == b"abcd\0\0"
    filemodel.zero(m, 0, 1)
    assert m == b"\0bcd\0\0"


def test_model_follows_the_kernel(tmp_path):
    """Random writes, truncates and punched holes on a real file and on the
    model: the same bytes at the end."""
    p = tmp_path / "f"
    fd = os.open(p, os.O_RDWR | os.O_CREAT)
    m = bytearray()
    r = random.Random(5)
    try:
        for _ in range(300):
            c = r.random()
            if c < 0.5 or not m:
                off, data = r.randrange(0, 200000), r.randbytes(r.choice([1, 100, 4096, 9000]))
                os.pwrite(fd, data, off)
                filemodel.write(m, off, data)
            elif c < 0.7:
                n = r.randrange(0, len(m) + 50000)
                os.ftruncate(fd, n)
                filemodel.truncate(m, n)
            else:
                off, n = r.randrange(0, len(m)), r.randrange(1, 50000)
                try:
                    sysio.fallocate(fd, sysio.FALLOC_FL_PUNCH_HOLE | sysio.FALLOC_FL_KEEP_SIZE, off, n)
                except OSError as e:
                    if e.errno == errno.EOPNOTSUPP:
                        pytest.skip(f"n/a: the file system of {tmp_path} cannot punch holes")
                    raise
                filemodel.zero(m, off, n)
    finally:
        os.close(fd)
    assert p.read_bytes() == bytes(m)
    assert filemodel.sha256_file(p) == filemodel.sha256(bytes(m))
