"""meta.json f2fs.device_kind (issue 14): what kind of device a rep ran on, read from
sysfs; runs on a RAM disk and on a virtio disk are not comparable."""
import os

import pytest

from runner import devices


def fake_block(tmp_path, name, driver=None, partition_of=None):
    """A /sys/class/block/<name> tree: the disk, its device/driver link, a partition."""
    disk = tmp_path / "block" / (partition_of or name)
    disk.mkdir(parents=True, exist_ok=True)
    if driver:
        (tmp_path / "drivers" / driver).mkdir(parents=True, exist_ok=True)
        (disk / "device").mkdir(exist_ok=True)
        os.symlink(tmp_path / "drivers" / driver, disk / "device" / "driver")
    if partition_of:
        part = disk / name
        part.mkdir()
        (part / "partition").write_text("1\n")
        return str(part)
    return str(disk)


@pytest.mark.parametrize("name,driver,parent,want", [
    ("ram0", None, None, "ram"),
    ("loop3", None, None, "loop"),
    ("vda", "virtio_blk", None, "virtio_blk"),
    ("vda1", "virtio_blk", "vda", "virtio_blk"),       # a partition: its disk's driver
    ("nvme0n1", "nvme", None, "nvme"),
    ("md0", None, None, "block"),                      # no driver link
    ("ram0p1", None, "ram0", "ram"),
])
def test_device_kind(tmp_path, monkeypatch, name, driver, parent, want):
    sysd = fake_block(tmp_path, name, driver, parent)
    monkeypatch.setattr(devices, "_sysblock", lambda dev: sysd)
    assert devices.device_kind("/dev/" + name) == want
