"""The sections table and the local.config written from it."""
import subprocess

import pytest
from fstests import sections as s


def test_parse_sections():
    assert s.parse_sections("plain") == ["plain"]
    assert s.parse_sections("all") == list(s.SECTIONS)
    assert s.parse_sections("compress,plain") == ["compress", "plain"]
    for bad in ("nope", "", "plain,nope"):
        with pytest.raises(ValueError, match="unknown section"):
            s.parse_sections(bad)


def sourced(config, section):
    """What fstests would see: the config's sections sourced in order up to SECTION
    (options carry over from one section to the next)."""
    script = "set -e\n"
    for block in config.split("\n["):
        head, _, body = block.partition("\n")
        script += body + "\n"
        if head.strip("[]") == section:
            break
    script += 'printf "%s|%s|%s|%s|%s\\n" "$MKFS_OPTIONS" "$MOUNT_OPTIONS" "$TEST_FS_MOUNT_OPTS" "$TEST_DEV" "$RESULT_BASE"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.strip()


def test_every_section_sets_its_own_options():
    config = s.local_config(["compress", "plain"], "/t", "/s", "/r", "stock")
    # plain comes after compress: nothing of compress may carry over into it.
    assert sourced(config, "plain") == "|||/dev/vdb|/r"
    assert sourced(config, "compress") == (
        "-O extra_attr,inode_crtime,compression|-o compress_algorithm=lz4,compress_extension=*|"
        "-o compress_algorithm=lz4,compress_extension=*|/dev/vdb|/r")
    assert "[devices]" in config and "RECREATE_TEST_DEV=true" in config and "FSTYP=f2fs" in config


def test_a_variant_only_option_is_on_that_variant_and_after_the_shared_ones():
    """largefolio (issue 16): noinline_data on both variants, largefolio on patched only
    (stock f2fs would refuse to mount), and nothing of it carried into plain after it."""
    names = ["largefolio", "plain"]
    patched = s.local_config(names, "/t", "/s", "/r", "patched")
    stock = s.local_config(names, "/t", "/s", "/r", "stock")
    assert sourced(patched, "largefolio") == (
        "|-o noinline_data,largefolio|-o noinline_data,largefolio|/dev/vdb|/r")
    assert sourced(stock, "largefolio") == "|-o noinline_data|-o noinline_data|/dev/vdb|/r"
    assert sourced(patched, "plain") == "|||/dev/vdb|/r"
    assert s.SECTIONS["plain"].mount_for("patched") == ""
    assert s.SECTIONS["compress"].mount_for("patched") == s.SECTIONS["compress"].mount_for("stock")


def test_section_names_are_ones_fstests_accepts():
    # fstests recognises [name] only for alphanumerics and '_'.
    for name in list(s.SECTIONS) + ["devices"]:
        assert name.replace("_", "").isalnum()


def test_every_disk_is_in_local_config_and_on_vm_sh_in_order():
    """local.config names each disk of the one table, and vm.sh is asked for them in the
    order its nodes appear (/dev/vda = --disk-size, then one --extra-disk each)."""
    config = s.local_config(["plain"], "/t", "/s", "/r", "patched")
    for d in s.DISKS:
        assert f"{d.var}={d.dev}\n" in config
    assert [d.dev for d in s.DISKS] == [f"/dev/vd{c}" for c in "abc"[:len(s.DISKS)]]
    args = s.vm_disk_args()
    assert args[:2] == ["--disk-size", s.DISKS[0].size]
    assert args[2:] == [x for d in s.DISKS[1:] for x in ("--extra-disk", d.size)]
    assert s.DISK["LOGWRITES_DEV"].dev == "/dev/vdc"
