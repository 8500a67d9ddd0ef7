"""The fstests sections of `./wbtrace fstests`: the one table, and the local.config it becomes.

A section is a set of mkfs and mount options for both disks.  fstests carries a
variable over from one section to the next unless the next sets it, so every
section sets all of them; RECREATE_TEST_DEV re-makes TEST_DEV per section.
Add a section here and it is a valid --section everywhere.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    mkfs: str           # MKFS_OPTIONS (mkfs.f2fs)
    mount: str          # mount -o options for both TEST_DEV and SCRATCH_DEV
    feature: str        # /sys/fs/f2fs/features/<feature> the kernel must have ("" none)
    about: str


SECTIONS = {
    "plain": Section(mkfs="", mount="", feature="", about="default mkfs.f2fs and mount options"),
    "compress": Section(
        mkfs="-O extra_attr,inode_crtime,compression",
        mount="compress_algorithm=lz4,compress_extension=*",
        feature="compression",
        about="every new file compressed with lz4 (f2fs refuses punch/zero/collapse/insert "
              "on compressed files: tests that need them are not run)"),
}


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


def local_config(names, test_dev, test_dir, scratch_dev, scratch_mnt, result_base):
    """The local.config text for these sections, in the order given.  The first
    section holds what they share (options carry over to the sections after it);
    it is never run itself (check runs only the sections given with -s)."""
    out = ["# Written by ./wbtrace fstests (workloads/fstests/sections.py).",
           "[devices]",
           "FSTYP=f2fs",
           f"TEST_DEV={test_dev}",
           f"TEST_DIR={test_dir}",
           f"SCRATCH_DEV={scratch_dev}",
           f"SCRATCH_MNT={scratch_mnt}",
           f"RESULT_BASE={result_base}",
           "RECREATE_TEST_DEV=true",
           ""]
    for name in names:
        s = SECTIONS[name]
        mount = f"-o {s.mount}" if s.mount else ""
        out += [f"[{name}]",
                f"MKFS_OPTIONS={_quote(s.mkfs)}",
                f"MOUNT_OPTIONS={_quote(mount)}",
                f"TEST_FS_MOUNT_OPTS={_quote(mount)}",
                ""]
    return "\n".join(out)
