"""The Linux interfaces that the workloads and the guest tests call from Python,
each defined once: sync_file_range(2) and fallocate(2) through ctypes, the ioctl
numbers of f2fs and of the VFS, FIEMAP, the /proc/sys/vm writeback knobs, a
hang watchdog and the report of a hung test.

Imported by workloads/wbrace.py, workloads/fstests/guest.py and tests/guest/*.py
(which put workloads/ on sys.path).  Also a command for the guest tests' shell
scripts:

  sysio.py vm flusher-asleep|flusher-eager    set the knobs of FLUSHER_ASLEEP / FLUSHER_EAGER
  sysio.py hang report NAME PID SECONDS       print hang_report() of test NAME (process PID),
                                              each line after "# "
  sysio.py hang pids PID                      PID and every process below it, one a line
"""
import fcntl
import os
import struct
import subprocess
import sys
import threading
import time

# ---------------------------------------------------------------- libc calls
# sync_file_range(2) flags, include/uapi/linux/fs.h.
SYNC_FILE_RANGE_WAIT_BEFORE = 1
SYNC_FILE_RANGE_WRITE = 2           # start WB_SYNC_NONE writeback of the range, do not wait
SYNC_FILE_RANGE_WAIT_AFTER = 4
SYNC_FILE_RANGE_ALL = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
# fallocate(2) modes, include/uapi/linux/falloc.h.
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10

_libc = None


def libc():
    """The C library, with the argument types of the calls made through it
    (ctypes is imported on first use: some callers run right after drop_caches)."""
    global _libc
    if _libc is None:
        import ctypes
        lib = ctypes.CDLL(None, use_errno=True)
        lib.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        lib.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        _libc = lib
    return _libc


def _raise_errno(what):
    import ctypes
    e = ctypes.get_errno()
    raise OSError(e, f"{what}: {os.strerror(e)}")


def sync_file_range(fd, off, n, flags=SYNC_FILE_RANGE_WRITE):
    """sync_file_range(2); OSError on failure.  The default starts WB_SYNC_NONE
    writeback of the range (n = 0: to the end of the file)."""
    if libc().sync_file_range(fd, off, n, flags) != 0:
        _raise_errno("sync_file_range")


def fallocate(fd, mode, off, n):
    """fallocate(2) with MODE; OSError on failure."""
    if libc().fallocate(fd, mode, off, n) != 0:
        _raise_errno("fallocate")


# ---------------------------------------------------------------- ioctls
# Encoded as include/uapi/asm-generic/ioctl.h does.
_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def _ioc(direction, typ, nr, size):
    return (direction << 30) | (size << 16) | (typ << 8) | nr


def _IO(typ, nr):
    return _ioc(_IOC_NONE, typ, nr, 0)


def _IOR(typ, nr, size):
    return _ioc(_IOC_READ, typ, nr, size)


def _IOW(typ, nr, size):
    return _ioc(_IOC_WRITE, typ, nr, size)


def _IOWR(typ, nr, size):
    return _ioc(_IOC_READ | _IOC_WRITE, typ, nr, size)


# include/uapi/linux/f2fs.h
F2FS_IOCTL_MAGIC = 0xf5
F2FS_IOC_WRITE_CHECKPOINT = _IO(F2FS_IOCTL_MAGIC, 7)
F2FS_IOC_GET_COMPRESS_BLOCKS = _IOR(F2FS_IOCTL_MAGIC, 17, 8)      # __u64
F2FS_IOC_GET_COMPRESS_OPTION = _IOR(F2FS_IOCTL_MAGIC, 21, 2)      # struct f2fs_comp_option
F2FS_IOC_SET_COMPRESS_OPTION = _IOW(F2FS_IOCTL_MAGIC, 22, 2)      # struct f2fs_comp_option
F2FS_IOC_DECOMPRESS_FILE = _IO(F2FS_IOCTL_MAGIC, 23)
F2FS_IOC_COMPRESS_FILE = _IO(F2FS_IOCTL_MAGIC, 24)
F2FS_IOC_SHUTDOWN = _IOR(ord("X"), 125, 4)                         # __u32, shared with xfs
F2FS_GOING_DOWN_NOSYNC = 2                                         # no flush at all
# enum compress_algorithm_type (f2fs_comp_option.algorithm)
F2FS_COMPRESS_ALGOS = {"lzo": 0, "lz4": 1, "zstd": 2, "lzo-rle": 3}
# include/uapi/linux/fs.h
FS_IOC_GETFLAGS = _IOR(ord("f"), 1, 8)                             # long
FS_IOC_FIEMAP = _IOWR(ord("f"), 11, 32)                            # struct fiemap
FS_COMPR_FL = 0x4


def ioctl_u64(fd, req):
    """An ioctl that reads one __u64."""
    return struct.unpack("=Q", fcntl.ioctl(fd, req, bytes(8)))[0]


def compr_blocks(path):
    """F2FS_IOC_GET_COMPRESS_BLOCKS: the blocks compression saved in the file."""
    with open(path, "rb") as f:
        return ioctl_u64(f.fileno(), F2FS_IOC_GET_COMPRESS_BLOCKS)


def compr_option(path):
    """F2FS_IOC_GET_COMPRESS_OPTION: (algorithm, log_cluster_size)."""
    with open(path, "rb") as f:
        buf = fcntl.ioctl(f.fileno(), F2FS_IOC_GET_COMPRESS_OPTION, bytes(2))
    return buf[0], buf[1]


def set_compr_option(fd, algorithm, log_cluster_size):
    """F2FS_IOC_SET_COMPRESS_OPTION; ALGORITHM is a number of F2FS_COMPRESS_ALGOS."""
    fcntl.ioctl(fd, F2FS_IOC_SET_COMPRESS_OPTION, bytes([algorithm, log_cluster_size]))


def iflags(path):
    """FS_IOC_GETFLAGS: the inode flags (FS_COMPR_FL, ...)."""
    with open(path, "rb") as f:
        return struct.unpack("=q", fcntl.ioctl(f.fileno(), FS_IOC_GETFLAGS, bytes(8)))[0]


def checkpoint(fd):
    """F2FS_IOC_WRITE_CHECKPOINT on any file or directory of the f2fs."""
    fcntl.ioctl(fd, F2FS_IOC_WRITE_CHECKPOINT)


def shutdown(fd, how=F2FS_GOING_DOWN_NOSYNC):
    """F2FS_IOC_SHUTDOWN; the default is a power cut: nothing flushed."""
    fcntl.ioctl(fd, F2FS_IOC_SHUTDOWN, struct.pack("I", how))


# ---------------------------------------------------------------- FIEMAP
FIEMAP_MAX_OFFSET = 0xFFFFFFFFFFFFFFFF
FIEMAP_FLAG_SYNC = 0x1                  # write the file back before mapping it
FIEMAP_EXTENT_LAST = 0x1
# Extents whose physical address is no block to read: unknown, delalloc,
# encoded, not aligned, inline, tail-packed.
FIEMAP_EXTENT_UNUSABLE = 0x2 | 0x4 | 0x8 | 0x80 | 0x100 | 0x200
_FIEMAP = struct.Struct("=QQLLLL")     # struct fiemap: start, length, flags, mapped, count, reserved
_EXTENT = struct.Struct("=QQQQQLLLL")  # struct fiemap_extent: logical, physical, length, 2 reserved, flags, 3 reserved


def fiemap_request(count, flags=FIEMAP_FLAG_SYNC, start=0, length=FIEMAP_MAX_OFFSET):
    """The FS_IOC_FIEMAP argument: a struct fiemap with room for COUNT extents."""
    buf = bytearray(_FIEMAP.size + _EXTENT.size * count)
    _FIEMAP.pack_into(buf, 0, start, length, flags, 0, count, 0)
    return buf


def fiemap_extents(buf):
    """The mapped extents of a struct fiemap the kernel filled in:
    [(logical, physical, length, flags)] in bytes."""
    n = _FIEMAP.unpack_from(buf)[3]
    out = []
    for i in range(n):
        e = _EXTENT.unpack_from(buf, _FIEMAP.size + i * _EXTENT.size)
        out.append((e[0], e[1], e[2], e[5]))
    return out


def fiemap(path, count=64, flags=FIEMAP_FLAG_SYNC):
    """FS_IOC_FIEMAP of PATH: its first COUNT extents, as fiemap_extents()."""
    buf = fiemap_request(count, flags)
    with open(path, "rb") as f:
        fcntl.ioctl(f.fileno(), FS_IOC_FIEMAP, buf, True)
    return fiemap_extents(buf)


def physical_at(extents, offset):
    """The disk address of file offset OFFSET from EXTENTS, or None if no extent maps it."""
    for logical, physical, length, _ in extents:
        if logical <= offset < logical + length:
            return physical + offset - logical
    return None


# ---------------------------------------------------------------- /proc/sys/vm
VM = "/proc/sys/vm"
# The flusher kept asleep for an hour: no periodic wake-up, no kupdate expiry.
# Not 0: with periodic writeback off, the first dirty inode of a disk wakes the
# flusher at once (wb_wakeup_delayed() waits dirty_writeback_interval), and
# that wake-up may start background writeback.  Expiry first: setting the
# wake-up interval wakes the flushers once, and they then see both.
FLUSHER_ASLEEP = {"dirty_expire_centisecs": 360000, "dirty_writeback_centisecs": 360000}
# The flusher eager: dirty data expires after 10 ms, the flusher wakes every 10 ms.
FLUSHER_EAGER = {"dirty_expire_centisecs": 1, "dirty_writeback_centisecs": 1}
KNOB_SETS = {"flusher-asleep": FLUSHER_ASLEEP, "flusher-eager": FLUSHER_EAGER}


def set_vm(knobs, root=VM):
    """Write each knob of KNOBS ({name: value}) under ROOT, in order."""
    for k, v in knobs.items():
        with open(os.path.join(root, k), "w") as f:
            f.write(str(v))


# ---------------------------------------------------------------- hangs
SYSRQ = "/proc/sysrq-trigger"


def hang(message, sysrq=SYSRQ):
    """A hang: print MESSAGE, send the blocked tasks with their stacks to the
    kernel log (sysrq w), and end the process with status 3 at once (threads
    stuck in the kernel cannot be joined)."""
    print(message, flush=True)
    with open(sysrq, "w") as f:
        f.write("w")
    os._exit(3)


class Watchdog:
    """Calls that must return within STALL seconds.  start(key, what) marks
    KEY busy with WHAT from now on, done(key) ends it; timed(what, f, *a) runs
    f(*a) marked busy in the calling thread.  overdue() lists what has been
    busy for longer than STALL; watch() checks that from a thread of its own."""

    def __init__(self, stall, clock=time.monotonic):
        self.stall, self.clock = stall, clock
        self.busy = {}                  # key -> (what, since)

    def start(self, key, what):
        self.busy[key] = (what, self.clock())

    def done(self, key):
        self.busy.pop(key, None)

    def timed(self, what, f, *a):
        key = threading.current_thread().name
        self.start(key, what)
        r = f(*a)
        self.done(key)                  # not when f raises: the caller stops then
        return r

    def overdue(self):
        """[(key, what, seconds busy)] of what is busy for longer than STALL."""
        now = self.clock()
        return [(k, what, now - t0) for k, (what, t0) in list(self.busy.items()) if now - t0 > self.stall]

    def check(self, message, sysrq=SYSRQ):
        """hang(MESSAGE(key, what, seconds)) for the first overdue call, if any."""
        for k, what, secs in self.overdue():
            hang(message(k, what, secs), sysrq)

    def watch(self, message, period=1.0, sysrq=SYSRQ):
        """check(MESSAGE) every PERIOD seconds in a daemon thread, until the
        returned event is set."""
        stop = threading.Event()

        def run():
            while not stop.wait(period):
                self.check(message, sysrq)
        threading.Thread(target=run, name="watchdog", daemon=True).start()
        return stop


def descendants(root, proc="/proc"):
    """ROOT and every pid below it, from the ppid field of PROC/*/stat (the lab
    kernel has no /proc/PID/task/*/children): ROOT first, then each generation
    in pid order.  A process that vanishes while it is read is left out."""
    parent = {}
    for name in os.listdir(proc):
        if name.isdigit():
            try:
                with open(os.path.join(proc, name, "stat")) as f:
                    parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, keep = [root], {root}
    while True:
        more = sorted(p for p, pp in parent.items() if p not in keep and pp in keep)
        if not more:
            return out
        keep.update(more)
        out += more


def _read(path):
    """PATH's text, None when it cannot be read (a process gone, a file the kernel lacks)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def kernel_log():
    """The kernel log's lines as dmesg(1) prints them ([] without dmesg)."""
    try:
        r = subprocess.run(["dmesg"], capture_output=True, text=True, errors="replace")
    except OSError:
        return []
    return r.stdout.splitlines()


def new_lines(before, after):
    """The lines of AFTER that follow BEFORE: after BEFORE's last line, or, when
    the ring buffer dropped that line meanwhile, past BEFORE's count."""
    if before:
        for i in range(len(after) - 1, -1, -1):
            if after[i] == before[-1]:
                return after[i + 1:]
    return after[len(before):]


def hang_report(name, root, seconds, proc="/proc", sysrq=SYSRQ, log=kernel_log, sleep=time.sleep, settle=2):
    """The report of test NAME, process ROOT, which gave no result after SECONDS:
    each process of ROOT's tree (descendants()) with its state, wait channel and
    kernel stack; then the tasks in uninterruptible sleep (sysrq w) and what the
    CPUs run (sysrq l: a livelock blocks others without sleeping itself), as the
    kernel-log lines (LOG()) the two triggers added, SETTLE seconds after each.
    Lines without a prefix; the callers print each after "# "."""
    lines = [f"{name}: no result after {seconds}s; its processes:"]
    for p in descendants(root, proc):
        stat = _read(os.path.join(proc, str(p), "stat"))
        if stat is None or ")" not in stat:
            continue
        comm = (_read(os.path.join(proc, str(p), "comm")) or "").strip()
        state = (stat.rsplit(")", 1)[1].split() or ["?"])[0]
        wchan = (_read(os.path.join(proc, str(p), "wchan")) or "").strip()
        lines.append(f"  pid {p} ({comm}) state {state} wchan {wchan}")
        lines += ["    " + s for s in (_read(os.path.join(proc, str(p), "stack")) or "").splitlines()]
    before = log()
    for key in "wl":
        try:
            with open(sysrq, "w") as f:
                f.write(key)
        except OSError as e:
            lines.append(f"cannot trigger sysrq {key}: {e}")
        sleep(settle)
    lines.append("blocked tasks (sysrq w) and running CPUs (sysrq l):")
    lines += ["  " + s for s in new_lines(before, log())]
    return lines


USAGE = f"""usage: sysio.py vm {'|'.join(KNOB_SETS)}
       sysio.py hang report NAME PID SECONDS
       sysio.py hang pids PID"""


def main(argv):
    a = argv[1:]
    if len(a) == 2 and a[0] == "vm" and a[1] in KNOB_SETS:
        set_vm(KNOB_SETS[a[1]])
        return 0
    if len(a) == 5 and a[:2] == ["hang", "report"] and a[3].isdigit() and a[4].isdigit():
        for line in hang_report(a[2], int(a[3]), int(a[4])):
            print(f"# {line}", flush=True)
        return 0
    if len(a) == 3 and a[:2] == ["hang", "pids"] and a[2].isdigit():
        print("\n".join(str(p) for p in descendants(int(a[2]))))
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
