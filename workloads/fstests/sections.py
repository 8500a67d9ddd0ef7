"""The fstests sections of `./wbtrace fstests`: the one table, the guest's disks, and the
local.config they become.

A section is a set of mkfs and mount options for both disks, the same on every variant
but for options only one variant has (a switch the series adds: stock would refuse to
mount with it), so that the pass sets of the variants compare.  fstests carries a
variable over from one section to the next unless the next sets it, so every
section sets all of them; RECREATE_TEST_DEV re-makes TEST_DEV per section.
Add a section here and it is a valid --section everywhere.
"""
from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Section:
    mkfs: str           # MKFS_OPTIONS (mkfs.f2fs)
    mount: str          # mount -o options for both TEST_DEV and SCRATCH_DEV
    feature: str        # /sys/fs/f2fs/features/<feature> the kernel must have ("" none)
    about: str
    only: Tuple[Tuple[str, str], ...] = ()   # (variant, mount options it adds)

    def mount_for(self, variant):
        """The mount options on VARIANT: the shared ones, then that variant's own."""
        extra = [o for v, o in self.only if v == variant]
        return ",".join(x for x in [self.mount] + extra if x)


SECTIONS = {
    "plain": Section(mkfs="", mount="", feature="", about="default mkfs.f2fs and mount options"),
    "compress": Section(
        mkfs="-O extra_attr,inode_crtime,compression",
        mount="compress_algorithm=lz4,compress_extension=*",
        feature="compression",
        about="every new file compressed with lz4 (f2fs refuses punch/zero/collapse/insert "
              "on compressed files: tests that need them are not run)"),
    # Issue 16: the same tests with large folios for writes on patched.  noinline_data on
    # both variants, because a file that is inline when its inode is set up never gets
    # large folios; with it, every regular file fstests writes has them on patched.
    "largefolio": Section(
        mkfs="", mount="noinline_data", feature="",
        only=(("patched", "largefolio"),),
        about="noinline_data; patched also mounts with largefolio (large folios for "
              "writes, issue 16), which stock f2fs does not have"),
}


@dataclass(frozen=True)
class Disk:
    var: str            # its local.config variable
    dev: str            # its node in the guest (vm.sh: /dev/vda is --disk-size, then --extra-disk)
    size: str           # the sparse image vm.sh makes
    min_gib: int        # the least the guest side accepts


# In vm.sh's order.  LOGWRITES_DEV is dm-log-writes' log (generic/455, 457, 482,
# 757 replay every write of a run to find a state fsck rejects); it records
# data as well, so it is the largest, and sparse like the others.
DISKS = (
    Disk("SCRATCH_DEV", "/dev/vda", "6G", 5),
    Disk("TEST_DEV", "/dev/vdb", "3G", 2),
    Disk("LOGWRITES_DEV", "/dev/vdc", "8G", 4),
)
DISK = {d.var: d for d in DISKS}


def vm_disk_args():
    """vm.sh's options for DISKS."""
    args = ["--disk-size", DISKS[0].size]
    for d in DISKS[1:]:
        args += ["--extra-disk", d.size]
    return args


def parse_sections(spec):
    """--section plain|compress|...|all -> the section names in table order, or ValueError."""
    if spec == "all":
        return list(SECTIONS)
    names = [s for s in spec.split(",") if s]
    unknown = [s for s in names if s not in SECTIONS]
    if unknown or not names:
        raise ValueError(f"unknown section '{spec}' ({', '.join(SECTIONS)} or all)")
    return names


def _quote(value):
    # local.config is sourced by bash; the options never hold a double quote.
    assert '"' not in value, value
    return f'"{value}"'


def local_config(names, test_dir, scratch_mnt, result_base, variant, disks=DISKS):
    """The local.config text for these sections on VARIANT, in the order given.  The first
    section holds what they share (options carry over to the sections after it);
    it is never run itself (check runs only the sections given with -s)."""
    out = ["# Written by ./wbtrace fstests (workloads/fstests/sections.py).",
           "[devices]",
           "FSTYP=f2fs",
           *(f"{d.var}={d.dev}" for d in disks),
           f"TEST_DIR={test_dir}",
           f"SCRATCH_MNT={scratch_mnt}",
           f"RESULT_BASE={result_base}",
           "RECREATE_TEST_DEV=true",
           ""]
    for name in names:
        opts = SECTIONS[name].mount_for(variant)
        mount = f"-o {opts}" if opts else ""
        out += [f"[{name}]",
                f"MKFS_OPTIONS={_quote(SECTIONS[name].mkfs)}",
                f"MOUNT_OPTIONS={_quote(mount)}",
                f"TEST_FS_MOUNT_OPTS={_quote(mount)}",
                ""]
    return "\n".join(out)
