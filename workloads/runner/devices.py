"""Block devices the runner erases, and the kernel's f2fs: a device's size and bdi,
whether it is in use (then it is refused), loop images for the host target."""

import errno
import glob
import os
import re
import stat
import subprocess

from .errors import DeviceError, SetupError
from .jobfile import MiB


def _sysblock(dev):
    """/sys/class/block/<name> of a block device node."""
    st = os.stat(dev)
    return os.path.realpath(f"/sys/dev/block/{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}")


def device_bytes(dev):
    with open(os.path.join(_sysblock(dev), "size")) as f:
        return int(f.read()) * 512


def device_in_use(dev):
    """Why `dev` must not be touched (mounted, held, swap, busy), or None."""
    st = os.stat(dev)
    sysd = _sysblock(dev)
    name = os.path.basename(sysd)
    devs = {st.st_rdev: name}
    for part in glob.glob(os.path.join(sysd, name + "*", "dev")):      # its partitions
        with open(part) as f:
            ma, mi = f.read().strip().split(":")
        devs[os.makedev(int(ma), int(mi))] = os.path.basename(os.path.dirname(part))
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            ma, mi = fields[2].split(":")
            rdev = os.makedev(int(ma), int(mi))
            if rdev in devs:
                return f"/dev/{devs[rdev]} is mounted on {fields[4]}"
    for rdev, pname in devs.items():
        held = glob.glob(f"/sys/class/block/{pname}/holders/*")
        if held:
            return f"/dev/{pname} is held by {', '.join(os.path.basename(h) for h in held)}"
    try:
        with open("/proc/swaps") as f:
            for line in list(f)[1:]:
                p = line.split()[0]
                if os.path.exists(p) and os.stat(p).st_rdev in devs:
                    return f"{p} is in use as swap"
    except OSError:
        pass
    try:
        fd = os.open(dev, os.O_RDONLY | os.O_EXCL)
        os.close(fd)
    except OSError as e:
        if e.errno == errno.EBUSY:
            return f"{dev} is busy (another program holds it open exclusively)"
        raise DeviceError(f"cannot open {dev}: {e.strerror}") from None
    try:
        with open(os.path.join(sysd, "ro")) as f:
            if f.read().strip() == "1":
                return f"{dev} is read-only"
    except OSError:
        pass
    return None


def check_device(dev, need, name_for_msg=None):
    """Validate a device the user named; returns its real path."""
    shown = name_for_msg or dev
    if not os.path.exists(dev):
        raise DeviceError(f"{shown}: no such device")
    real = os.path.realpath(dev)
    if not stat.S_ISBLK(os.stat(real).st_mode):
        raise DeviceError(f"{shown} is not a block device (for an image file use --image FILE)")
    why = device_in_use(real)
    if why:
        raise DeviceError(f"refusing {shown}: {why}")
    have = device_bytes(real)
    if have < need:
        raise DeviceError(f"{shown} is too small: {have // MiB} MiB, this workload at this "
                          f"--size needs at least {need // MiB} MiB")
    return real


def _disk_sysdir(dev):
    """/sys/class/block/<disk> of the disk holding `dev` (a partition's parent)."""
    sysd = _sysblock(dev)
    if os.path.exists(os.path.join(sysd, "partition")):
        sysd = os.path.dirname(sysd)
    return sysd


def device_kind(dev):
    """What kind of device `dev` is, for meta.json f2fs.device_kind: "ram" (brd, the lab's
    --scratch ram), "loop", else its driver ("virtio_blk", "nvme", ...) or "block".  Runs
    on different kinds are not comparable: a RAM disk has no I/O wait at all."""
    sysd = _disk_sysdir(dev)
    name = os.path.basename(sysd)
    if re.fullmatch(r"ram\d+", name):
        return "ram"
    if re.fullmatch(r"loop\d+", name):
        return "loop"
    drv = os.path.join(sysd, "device", "driver")
    if os.path.exists(drv):
        return os.path.basename(os.path.realpath(drv))
    return "block"


def bdi_dir(dev):
    """/sys/class/bdi/<maj:min> of the disk holding `dev` (a partition's parent)."""
    p = os.path.join(_disk_sysdir(dev), "bdi")
    return os.path.realpath(p) if os.path.exists(p) else None


def f2fs_sysfs_name(dev):
    return os.path.basename(_sysblock(dev))


def attach_image(image, need, cleanup, kept_as_evidence):
    """The image file `image` on a new loop device (--target host without --device).

    A user's image must be a regular file, not attached already and large enough; a
    missing one is created sparse and removed by `cleanup` unless kept_as_evidence()
    (a rep failed on it).  Returns the loop device and whether the image was created."""
    created = False
    if os.path.exists(image):
        if not stat.S_ISREG(os.stat(image).st_mode):
            raise DeviceError(f"--image {image}: not a regular file")
        busy = subprocess.run(["losetup", "-j", image], capture_output=True, text=True)
        if busy.stdout.strip():
            raise DeviceError(f"refusing --image {image}: already attached "
                              f"({busy.stdout.strip().split(':')[0]})")
        if os.path.getsize(image) < need:
            raise DeviceError(f"--image {image} is too small: "
                              f"{os.path.getsize(image) // MiB} MiB, needs {need // MiB} MiB")
    else:
        os.makedirs(os.path.dirname(image), exist_ok=True)
        with open(image, "wb") as f:
            f.truncate(max(need, 1 << 30))
        created = True
        cleanup.push(f"remove {image}",
                     lambda: (None if kept_as_evidence() else os.unlink(image)))
    p = subprocess.run(["losetup", "--find", "--show", image], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise SetupError(f"losetup failed: {p.stderr.strip()} (is the loop module "
                         f"available?)")
    dev = p.stdout.strip()
    cleanup.push(f"losetup -d {dev}",
                 lambda: subprocess.run(["losetup", "-d", dev], check=True,
                                        capture_output=True))
    return dev, created


def kernel_has_f2fs():
    try:
        with open("/proc/filesystems") as f:
            if any(line.split()[-1] == "f2fs" for line in f if line.strip()):
                return True
    except OSError:
        pass
    try:
        return subprocess.run(["modinfo", "-n", "f2fs"], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def require_f2fs():
    if not kernel_has_f2fs():
        raise SetupError("this kernel has no f2fs (not in /proc/filesystems, no f2fs module): "
                         "use the lab guest, --target vm")
