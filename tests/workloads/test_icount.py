"""--icount SPEC (issue 14): it reaches vm.sh's command line and the run context that
Rep._write_meta (runner/results.py) turns into meta.json host.icount.  No guest is booted: the guest session,
the lab and the accelerator probe are replaced by stubs that record what they were given."""
import json
import os

import pytest

import wbrun
from analysis import schema
from runner import compare, errors, fingerprints, guest, jobfile, paths, progress, rep, run


@pytest.fixture
def captured(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.delenv("WBTRACE_ICOUNT", raising=False)
    monkeypatch.setattr(paths, "RESULTS", str(tmp_path))
    monkeypatch.setattr(guest, "lab_ready", lambda variant: "/nonexistent/f2fs.ko")
    monkeypatch.setattr(fingerprints, "sha256_file", lambda path: "0" * 64)
    monkeypatch.setattr(guest, "guest_prep", lambda args, top, wl, size: ("tcg", 2048))
    monkeypatch.setattr(compare, "compare_plan",
                        lambda top, workload, reps, *variants:
                        [("stock", 1, os.path.join(top, "s1"))])

    def session(cmd, top, quiet, progress, prog):
        seen["cmd"] = cmd
        return errors.EXIT_INTR            # stop before compare's analysis step
    monkeypatch.setattr(guest, "guest_session", session)
    return seen


def host_args(sub, *extra, tmp_path):
    args = wbrun.build_parser().parse_args(
        [sub, "fio-randwrite", "--no-trace", "-o", str(tmp_path / f"out-{sub}"), *extra])
    return args, jobfile.resolve_workload("fio-randwrite")


def vm_options_and_context(cmd):
    sep = cmd.index("--")
    vm, inner = cmd[:sep], cmd[sep + 1:]
    return vm, json.loads(inner[inner.index("--_context") + 1])


@pytest.mark.parametrize("sub", ["run", "compare"])
def test_icount_reaches_vm_sh_and_context(sub, captured, tmp_path):
    args, wl = host_args(sub, "--icount", "shift=3,sleep=off,align=off", tmp_path=tmp_path)
    if sub == "run":
        run.run_in_vm(args, wl, "stock")
    else:
        compare.compare_in_vm(args, wl)
    vm, ctx = vm_options_and_context(captured["cmd"])
    assert vm[0] == paths.VM_SH and vm[1] == "run"
    i = vm.index("--icount")
    assert vm[i + 1] == "shift=3,sleep=off,align=off"
    assert ctx["icount"] == "shift=3,sleep=off,align=off"
    assert ctx["accel"] == "tcg"


@pytest.mark.parametrize("sub", ["run", "compare"])
def test_no_icount_leaves_the_command_as_it_was(sub, captured, tmp_path):
    args, wl = host_args(sub, tmp_path=tmp_path)
    (run.run_in_vm(args, wl, "stock") if sub == "run" else compare.compare_in_vm(args, wl))
    vm, ctx = vm_options_and_context(captured["cmd"])
    assert "--icount" not in vm and "icount" not in ctx


def test_env_default_and_off(captured, tmp_path, monkeypatch):
    monkeypatch.setenv("WBTRACE_ICOUNT", "shift=auto")
    args, wl = host_args("run", tmp_path=tmp_path)
    run.run_in_vm(args, wl, "stock")
    vm, ctx = vm_options_and_context(captured["cmd"])
    assert vm[vm.index("--icount") + 1] == "shift=auto" and ctx["icount"] == "shift=auto"
    # --icount off beats the environment, and says so to vm.sh (which reads it too)
    args, wl = host_args("compare", "--icount", "off", tmp_path=tmp_path)
    compare.compare_in_vm(args, wl)
    vm, ctx = vm_options_and_context(captured["cmd"])
    assert vm[vm.index("--icount") + 1] == "off" and "icount" not in ctx


@pytest.mark.parametrize("sub", ["run", "compare"])
@pytest.mark.parametrize("option,extra,want", [
    ("--scratch", (), "disk"),                                   # no -icount: the virtio disk
    ("--scratch", ("--icount", "shift=3,align=off"), "ram"),     # no host I/O in the clock
    ("--scratch", ("--icount", "shift=3,align=off", "--scratch", "disk"), "disk"),
    ("--scratch", ("--scratch", "ram"), "ram"),
    ("--cpus", (), "2"),
    ("--cpus", ("--icount", "shift=3,align=off"), "1"),          # vCPUs take turns on one thread
    ("--cpus", ("--icount", "shift=3,align=off", "--cpus", "2"), "2"),
    ("--cpus", ("--cpus", "1"), "1"),
])
def test_guest_defaults_follow_icount(sub, option, extra, want, captured, tmp_path):
    """Under -icount the guest gets a RAM disk and one vCPU unless told otherwise."""
    args, wl = host_args(sub, *extra, tmp_path=tmp_path)
    (run.run_in_vm(args, wl, "stock") if sub == "run" else compare.compare_in_vm(args, wl))
    vm, _ = vm_options_and_context(captured["cmd"])
    assert vm[vm.index(option) + 1] == want


@pytest.mark.parametrize("bad", ["0", "x", "100000"])
def test_cpus_out_of_range(bad):
    with pytest.raises(errors.UsageError, match="vCPUs"):
        wbrun.build_parser().parse_args(["run", "fio-randwrite", "--cpus", bad])


def test_scratch_ram_refuses_an_image_and_the_host_target(captured, tmp_path):
    args, wl = host_args("run", "--scratch", "ram", "--image", str(tmp_path / "x.img"),
                         tmp_path=tmp_path)
    with pytest.raises(errors.UsageError, match="--scratch ram"):
        run.run_in_vm(args, wl, "stock")
    assert "cmd" not in captured
    args, wl = host_args("run", "--target", "host", "--scratch", "ram", tmp_path=tmp_path)
    with pytest.raises(errors.UsageError, match="--scratch"):
        run.run_command(args, wl)


@pytest.mark.parametrize("icount", ["shift=auto", None])
def test_write_meta_records_icount(tmp_path, icount):
    """The context's icount, as run_local hands it to RepContext, lands in meta.json."""
    wl = jobfile.resolve_workload("fio-randwrite")
    context = {"accel": "tcg", "git": schema.git_info(paths.TOP)}
    if icount:
        context["icount"] = icount
    ctx = rep.RepContext(
        wl=wl, reps=1, variant="stock", target="vm", dev="/dev/vda", dev_label="/dev/vda",
        dev_bytes=2 << 30, dev_kind="ram", mkfs_opts=wl.mkfs, mount_opts=wl.mount,
        tracer_mode="off",
        tracer_version=None, accel=context.get("accel"), icount=context.get("icount"),
        git=context["git"], kernel={"release": "7.3.4", "f2fs_module": None})
    run_dir = tmp_path / "rep"
    run_dir.mkdir()
    run_id = schema.make_run_id(wl.name, "stock", 1, schema.utc_stamp())
    r = rep.Rep(ctx, 1, str(run_dir), run_id, progress.Progress(True))
    r.started = r.finished = "2026-12-05T00:00:00Z"
    r.duration = 1.0
    r._write_meta()
    with open(run_dir / "meta.json") as f:
        meta = json.load(f)
    host = meta["host"]
    assert meta["f2fs"]["device_kind"] == "ram"
    assert host.get("icount") == icount
    assert host["accel"] == "tcg"


def test_compare_hands_the_variants_and_thresholds_to_the_guest(captured, tmp_path):
    """compare --candidate canary --until-decided N --thresholds F: the guest's command
    names both variants, and the thresholds are a copy in the comparison dir (which the
    guest sees even when F is under the host's /tmp, and which records what was used)."""
    thr = tmp_path / "thr.json"
    thr.write_text(open(os.path.join(paths.TOP, "analysis", "thresholds.json")).read())
    args, wl = host_args("compare", "--baseline", "stock", "--candidate", "canary",
                         "--until-decided", "4", "--thresholds", str(thr), tmp_path=tmp_path)
    wbrun.check_until_decided(args)
    compare.compare_in_vm(args, wl)
    cmd = captured["cmd"]
    inner = cmd[cmd.index("--") + 1:]
    assert inner[inner.index("--baseline") + 1] == "stock"
    assert inner[inner.index("--candidate") + 1] == "canary"
    copy = inner[inner.index("--thresholds") + 1]
    assert copy == os.path.join(str(tmp_path / "out-compare"), compare.THRESHOLDS_COPY)
    assert open(copy).read() == thr.read_text()
    # the default pair adds neither option (the guest's defaults are the same)
    args, wl = host_args("compare", tmp_path=tmp_path / "x")
    compare.compare_in_vm(args, wl)
    assert "--baseline" not in captured["cmd"] and "--thresholds" not in captured["cmd"]
