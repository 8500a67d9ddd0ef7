"""What a file must hold after pwrite, ftruncate and fallocate: the in-memory
model (a bytearray) that the race driver (wbrace.py) and the guest tests
(tests/guest/wb_*.py) keep beside each file they write, and the checksums
they compare the files with."""
import hashlib


def write(m, off, data):
    """pwrite(DATA) at OFF: a write beyond the end leaves a hole of zeroes."""
    if off > len(m):
        m.extend(bytes(off - len(m)))
    m[off:off + len(data)] = data


def truncate(m, size):
    """ftruncate(SIZE): cut, or extended with zeroes."""
    if size < len(m):
        del m[size:]
    else:
        m.extend(bytes(size - len(m)))


def zero(m, off, n):
    """A punched hole or a zeroed range with FALLOC_FL_KEEP_SIZE: zeroes inside
    the file, the size unchanged."""
    end = min(off + n, len(m))
    if off < end:
        m[off:end] = bytes(end - off)


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def sha256_file(path):
    with open(path, "rb") as f:
        return sha256(f.read())
