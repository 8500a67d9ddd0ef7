"""Host-side tests of workloads/wbtrace-run: job files, names, sizes, arguments, refusals.

They never touch a device they did not create, and need no f2fs: where a test needs
root or a loop device it says so and is skipped without them."""
import glob
import json
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from analysis import schema
from runner import devices, errors, jobfile, paths, progress, results, verification

TOP = paths.TOP
RUN = os.path.join(TOP, "workloads", "wbtrace-run")
WBTRACE = os.path.join(TOP, "wbtrace")
ENV = dict(os.environ, WBTRACE_GUEST="")          # never take the in-guest path here


def run(*args, env=None, user=None, prog=RUN):
    cmd = [prog, *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, timeout=300)
    return p.returncode, p.stdout, p.stderr


def one_error_line(err):
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------- job files

SHIPPED = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(TOP, "workloads", "*.fio")))
REQUIRED = {"fio-randwrite", "fio-seqwrite", "fio-fsync", "fio-mmap", "fio-compress", "fio-mixed",
            "fio-overwrite"}


def test_required_workloads_exist():
    assert REQUIRED <= set(SHIPPED)
    assert any("race" in n for n in SHIPPED), "a truncate/punch-hole race workload"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_job_file_is_well_formed(name):
    wl = jobfile.Workload(name, os.path.join(TOP, "workloads", name + ".fio"))
    with open(wl.path) as f:
        assert f.readline().startswith("; purpose: "), "purpose is the first line"
    assert len(wl.purpose) <= 200 and "\n" not in wl.purpose
    assert 1 << 20 <= wl.default_size <= 128 << 20, "defaults must fit the slow guest"
    # every job writes under ${WB_DIR}; every job is checked by fio, else the job has a driver
    for job, _ in wl.jobs:
        assert wl.option(job, "directory") == "${WB_DIR}"
        assert wl.option(job, "size") == "${WB_SIZE}", "sizes scale with --size"
    assert wl.verify_jobs() or wl.driver_argv()
    # every job that writes: a read-only job has nothing of its own to check
    assert wl.verify_jobs() == wl.write_jobs(), "all fio jobs that write carry verify headers"
    assert wl.need_device_bytes(wl.default_size) <= 2 << 30, "fits the default 2G scratch disk"


def test_write_jobs_leave_out_reads_only(tmp_path):
    p = tmp_path / "w.fio"
    p.write_text("; purpose: x\n; size: 4M\n[global]\ndirectory=${WB_DIR}\nsize=${WB_SIZE}\n"
                 "[a]\nrw=read\n[b]\nrw=randread\n[c]\nrw=randwrite\n[d]\nreadwrite=rw\n[e]\n")
    wl = jobfile.Workload("w", str(p))
    assert wl.write_jobs() == ["c", "d"]     # [e]: fio's default rw is read


def test_cached_overwrite_reads_the_file_back_before_overwriting_it():
    wl = jobfile.Workload("fio-cached-overwrite", os.path.join(TOP, "workloads", "fio-cached-overwrite.fio"))
    (rd, _), (wr, _) = wl.jobs
    assert wl.option(rd, "rw") == "read" and wl.option(wr, "rw") == "randwrite"
    assert wl.option(rd, "filename") == wl.option(wr, "filename")     # one file
    assert wl.option(wr, "stonewall") is not None and wl.option(wr, "invalidate") == "0"
    assert wl.option(wr, "bs") == "4k" and wl.option(rd, "bs") == "1M"


def test_compress_workload_uses_compression():
    wl = jobfile.Workload("fio-compress", os.path.join(TOP, "workloads", "fio-compress.fio"))
    assert "compression" in wl.mkfs and "compress_log_size=" in wl.mount
    pct = {wl.option(j, "buffer_compress_percentage") for j, _ in wl.jobs}
    assert len(pct) >= 2, "several compressibilities"


def test_overwrite_workload_sets_ipu_policy():
    wl = jobfile.Workload("fio-overwrite", os.path.join(TOP, "workloads", "fio-overwrite.fio"))
    assert "ipu_policy" in wl.kv("sysfs")
    assert wl.option("overwrite", "overwrite") == "1"


def write_job(tmp_path, text, name="fio-x"):
    p = tmp_path / (name + ".fio")
    p.write_text(text)
    return str(p)


GOOD = "; purpose: p\n; size: 4M\n[global]\ndirectory=${WB_DIR}\n[a]\nrw=write\nsize=${WB_SIZE}\n"


def test_parser_accepts_minimal(tmp_path):
    wl = jobfile.Workload("fio-x", write_job(tmp_path, GOOD))
    assert wl.default_size == 4 << 20 and [j for j, _ in wl.jobs] == ["a"]
    assert wl.verify_jobs() == []


@pytest.mark.parametrize("text,msg", [
    ("; size: 4M\n[a]\ndirectory=${WB_DIR}\n", "purpose"),
    ("; purpose: p\n[a]\ndirectory=${WB_DIR}\n", "size"),
    ("; purpose: p\n; size: 4M\n; mout: x\n[a]\ndirectory=${WB_DIR}\n", "unknown header"),
    ("; purpose: p\n; size: 4M\nrw=write\n[a]\ndirectory=${WB_DIR}\n", "outside a section"),
    ("; purpose: p\n; size: 4M\n[a]\ndirectory=/tmp\n", "directory"),
    ("; purpose: p\n; size: 4M\n[a]\ndirectory=${WB_DIR}\nfilename=/dev/sda\n", "filename"),
    ("; purpose: p\n; size: 4M\n; bdi: strict_limit\n[a]\ndirectory=${WB_DIR}\n", "NAME=VALUE"),
    ("; purpose: p\n; size: 4M\n[a]\ndirectory=${WB_DIR}\n[a]\n", "twice"),
    ("; purpose: p\n; size: 4M\n; driver: nosuch.py\n[a]\ndirectory=${WB_DIR}\n", "driver"),
    ("; purpose: p\n; size: lots\n[a]\ndirectory=${WB_DIR}\n", "size"),
    ("; purpose: p\n; size: 4M\n[global]\ndirectory=${WB_DIR}\n", "no fio job"),
])
def test_parser_rejects(tmp_path, text, msg):
    with pytest.raises(errors.UsageError, match=msg):
        jobfile.Workload("fio-x", write_job(tmp_path, text))


def test_kv_sizes_become_bytes(tmp_path):
    wl = jobfile.Workload("fio-x", write_job(tmp_path, GOOD.replace(
        "; size: 4M\n", "; size: 4M\n; bdi: strict_limit=1 max_bytes=8M\n")))
    assert wl.kv("bdi") == {"strict_limit": "1", "max_bytes": str(8 << 20)}


def test_footprint_counts_numjobs_and_driver(tmp_path):
    wl = jobfile.Workload("fio-x", write_job(tmp_path, GOOD + "numjobs=3\n[b]\nsize=1M\n"))
    assert wl.footprint(4 << 20) == 3 * (4 << 20) + (1 << 20)


# ---------------------------------------------------------------- names, sizes, options

def test_list_is_the_job_files():
    rc, out, err = run("list")
    assert rc == 0, err
    assert [line.split()[0] for line in out.splitlines()] == SHIPPED
    rc, out, _ = run("list", "--json")
    doc = json.loads(out)
    assert [d["name"] for d in doc] == SHIPPED
    assert all(d["purpose"] and d["default_size"] > 0 for d in doc)


def test_dispatcher_forwards_list():
    p = subprocess.run([WBTRACE, "list"], capture_output=True, text=True, env=ENV)
    assert p.returncode == 0 and "fio-randwrite" in p.stdout


@pytest.mark.parametrize("typo,expect", [("fio-randwrit", "fio-randwrite"),
                                        ("seqwrte", "fio-seqwrite"),
                                        ("fio-fsnyc", "fio-fsync"),
                                        ("mmap2", "fio-mmap"),
                                        ("race", "fio-trunc-race")])
def test_suggest_nearest(typo, expect):
    assert expect in jobfile.suggest(typo, SHIPPED)


def test_suggest_nothing_for_noise():
    assert jobfile.suggest("qqqqqqqqqq", SHIPPED) == []


def test_unknown_workload_one_line_with_suggestion():
    rc, out, err = run("run", "fio-randwrit")
    assert rc == 2
    line = one_error_line(err)
    assert "unknown workload 'fio-randwrit'" in line and "fio-randwrite" in line


def test_short_name_resolves():
    assert jobfile.resolve_workload("randwrite").name == "fio-randwrite"


@pytest.mark.parametrize("text,val", [("16M", 16 << 20), ("512k", 512 << 10), ("1G", 1 << 30),
                                      ("4096", 4096), ("1.5M", 3 << 19), ("8MiB", 8 << 20)])
def test_parse_size(text, val):
    assert jobfile.parse_size(text) == val


@pytest.mark.parametrize("text", ["abc", "0", "-1M", "1X", ""])
def test_parse_size_rejects(text):
    with pytest.raises(errors.UsageError):
        jobfile.parse_size(text)


def test_merge_mount_opts():
    m = jobfile.merge_mount_opts("compress_algorithm=lz4,compress_log_size=2,compress_extension=cmp",
                               "compress_log_size=4,atgc")
    assert m == "compress_algorithm=lz4,compress_extension=cmp,compress_log_size=4,atgc"
    assert jobfile.merge_mount_opts("", "") == ""


@pytest.mark.parametrize("args,msg", [
    (["run", "fio-randwrite", "--reps", "0"], "--reps"),
    (["run", "fio-randwrite", "--size", "huge"], "--size"),
    (["run", "fio-randwrite", "--device", "/dev/null", "--image", "/tmp/x"], "not allowed"),
    (["run", "fio-randwrite", "--target", "moon"], "invalid choice"),
    (["run", "fio-randwrite", "--variant", "other"], "invalid choice"),
    (["run", "fio-randwrite", "--target", "host", "--variant", "patched"], "--variant"),
    (["run"], "WORKLOAD"),
    (["frobnicate"], "invalid choice"),
    (["compare", "fio-randwrite", "--until-decided", "0"], "--until-decided must be at least 3"),
    (["compare", "fio-randwrite", "--until-decided", "-4"], "--until-decided must be at least 3"),
    (["compare", "fio-randwrite", "--until-decided", "2"], "--until-decided must be at least 3"),
    (["compare", "fio-randwrite", "--until-decided", "4.5"], "expected a whole number of reps"),
    (["compare", "fio-randwrite", "--until-decided", "many"], "expected a whole number of reps"),
    (["compare", "fio-randwrite", "--until-decided"], "expected one argument"),
    (["compare", "fio-randwrite", "--reps", "5", "--until-decided", "4"],
     "--until-decided 4 is below --reps 5"),
])
def test_bad_arguments(args, msg):
    rc, out, err = run(*args)
    assert rc == 2
    assert msg in one_error_line(err)


@pytest.mark.parametrize("args,says", [
    (["--reps", "2", "--until-decided", "4"], "2 rep(s) each"),
    (["--until-decided", "3"], "3 rep(s) each"),            # N may equal --reps
])
def test_until_decided_dry_run(args, says):
    rc, out, err = run("compare", "fio-randwrite", *args, "--dry-run")
    assert rc == 0, err
    assert says in out and f"up to {args[-1]} each" in out


def test_help_documents_exit_codes():
    rc, out, _ = run("run", "--help")
    assert rc == 0
    for word in ("--target", "--variant", "--reps", "--device", "--image", "--fs-opts", "--size",
                 "--no-trace", "--quiet", "Exit status"):
        assert word in out
    assert "inject" not in out, "the corruption switch stays hidden"


# ---------------------------------------------------------------- environment refusals

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def nobody_runner():
    """wbtrace-run in a world-readable copy of the files it loads, to run as nobody:
    the clone itself may sit where nobody cannot reach it (under /root)."""
    top = tempfile.mkdtemp(prefix="wbtrace-nobody-")
    try:
        os.chmod(top, 0o755)
        for d in ("workloads", "analysis", "bpf", os.path.join("kernel-patch", "lab")):
            shutil.copytree(os.path.join(TOP, d), os.path.join(top, d),
                            ignore=shutil.ignore_patterns("__pycache__"))
        yield os.path.join(top, "workloads", "wbtrace-run")
    finally:
        shutil.rmtree(top)


@needs_root
def test_host_target_needs_root(nobody_runner):
    rc, out, err = run("run", "fio-randwrite", "--target", "host", user="65534",
                       prog=nobody_runner)
    assert rc == 3 and "root" in one_error_line(err), err


@needs_root
@pytest.mark.parametrize("sub", ["run", "compare"])
def test_unwritable_results_is_one_line_not_a_traceback(nobody_runner, sub):
    # nobody cannot write under /usr: refused before anything is built or booted.
    rc, out, err = run(sub, "fio-randwrite", "-o", "/usr/lib/wbtrace-no-such/out",
                       user="65534", prog=nobody_runner)
    assert rc == 3, err
    assert "cannot write the results" in one_error_line(err), err


def test_vm_target_without_lab_says_how_to_build(tmp_path):
    env = dict(ENV, WBTRACE_CACHE=str(tmp_path / "empty-cache"))
    o = os.path.join(TOP, "tests", "out", f"nolab-{os.getpid()}")   # /tmp is refused for vm
    rc, out, err = run("run", "fio-randwrite", "--target", "vm", "-o", o, env=env)
    assert rc == 3
    assert "./wbtrace lab build" in one_error_line(err)
    assert not os.path.exists(o), "nothing created"


@needs_root
@pytest.mark.skipif(devices.kernel_has_f2fs(), reason="n/a: this kernel has f2fs")
def test_host_without_f2fs(tmp_path):
    img = tmp_path / "x.img"
    rc, out, err = run("run", "fio-randwrite", "--target", "host", "--image", str(img))
    assert rc == 3 and "no f2fs" in one_error_line(err)
    assert not img.exists(), "no image created"


def root_block_device():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fl = line.split()
            if fl[4] == "/":
                ma, mi = fl[2].split(":")
                want = os.makedev(int(ma), int(mi))
                for p in sorted(glob.glob("/dev/*")):
                    try:
                        st = os.stat(p)
                    except OSError:
                        continue
                    if stat.S_ISBLK(st.st_mode) and st.st_rdev == want:
                        return p
    return None


@needs_root
@pytest.mark.skipif(root_block_device() is None, reason="n/a: / is not on a block device here")
def test_refuses_mounted_device():
    dev = root_block_device()
    rc, out, err = run("run", "fio-randwrite", "--target", "host", "--device", dev)
    assert rc == 4
    line = one_error_line(err)
    assert "refusing" in line and "mounted on /" in line


@needs_root
def test_refuses_non_block_device(tmp_path):
    f = tmp_path / "plain"
    f.write_bytes(b"x" * 4096)
    rc, out, err = run("run", "fio-randwrite", "--target", "host", "--device", str(f))
    assert rc == 4 and "not a block device" in one_error_line(err)
    assert f.read_bytes() == b"x" * 4096


@pytest.fixture
def loopdev(tmp_path):
    if os.geteuid() != 0 or not shutil.which("losetup") or not os.path.exists("/dev/loop-control"):
        pytest.skip("needs root and loop devices")
    img = tmp_path / "small.img"
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    p = subprocess.run(["losetup", "--find", "--show", str(img)], capture_output=True, text=True)
    if p.returncode:
        pytest.skip(f"losetup: {p.stderr.strip()}")
    dev = p.stdout.strip()
    yield dev, img
    subprocess.run(["umount", str(tmp_path / "m")], capture_output=True)
    subprocess.run(["losetup", "-d", dev], capture_output=True)


def test_refuses_too_small_device(loopdev):
    dev, img = loopdev
    rc, out, err = run("run", "fio-randwrite", "--target", "host", "--device", dev)
    assert rc == 4
    line = one_error_line(err)
    assert "too small" in line and "64 MiB" in line


def test_device_in_use_sees_a_mount(loopdev, tmp_path):
    dev, img = loopdev
    if not shutil.which("mkfs.ext4"):
        pytest.skip("mkfs.ext4 missing")
    subprocess.run(["mkfs.ext4", "-q", "-F", dev], check=True, capture_output=True)
    (tmp_path / "m").mkdir()
    subprocess.run(["mount", dev, str(tmp_path / "m")], check=True)
    assert "mounted on" in devices.device_in_use(dev)
    rc, out, err = run("run", "fio-randwrite", "--target", "host", "--device", dev)
    assert rc == 4 and "mounted on" in one_error_line(err)
    subprocess.run(["umount", str(tmp_path / "m")], check=True)
    assert devices.device_in_use(dev) is None


def test_existing_output_dir_is_not_reused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(errors.UsageError, match="not empty"):
        results.output_layout(str(tmp_path), "fio-x", "stock", 1, "20250101T000000Z")
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_output_layout_reps(tmp_path):
    top, lay = results.output_layout(str(tmp_path / "o"), "fio-x", "stock", 3, "20250101T000000Z")
    assert [os.path.basename(d) for _, d, _ in lay] == ["rep-01", "rep-02", "rep-03"]
    assert lay[1][2] == "fio-x-stock-20250101T000000Z-r02"
    top, lay = results.output_layout(None, "fio-x", "patched", 1, "20250101T000000Z")
    assert lay == [(1, top, "fio-x-patched-20250101T000000Z")]
    assert top == os.path.join(TOP, "results", "fio-x-patched-20250101T000000Z")


# ---------------------------------------------------------------- progress, meta

def test_progress_lines_match_what_the_host_parses(capsys):
    p = progress.Progress(quiet=False, prefix="fio-x stock ")
    p.tty = False
    p.status("rep 1/2: workload")
    out = capsys.readouterr().out.strip()
    m = progress.STATUS_LINE.match(out)
    assert m and m.group(1) == "fio-x stock rep 1/2: workload"
    q = progress.Progress(quiet=True)
    q.status("x")
    q.say("y")
    assert capsys.readouterr().out == ""


def test_meta_phases_s_is_validated(tmp_path):
    meta = schema.new_meta(workload="fio-x", variant="stock", phases_s={"mkfs": 0.5})
    schema.write_meta(str(tmp_path), meta)
    meta["phases_s"] = {"mkfs": -1}
    with pytest.raises(schema.ResultsError, match="phases_s"):
        schema.validate_meta(meta)


def test_splat_regex():
    for bad in ["WARNING: CPU: 1 PID: 2 at fs/f2fs/data.c:100", "BUG: KASAN: use-after-free",
                "F2FS-fs (vda): inconsistent node block", "blk_update_request: I/O error, dev vda"]:
        assert verification.SPLAT_RE.search(bad), bad
    for ok in ["F2FS-fs (vda): Mounted with checkpoint version = 5999c661",
               "wbtrace-run (75): drop_caches: 3"]:
        assert not verification.SPLAT_RE.search(ok), ok


@pytest.mark.parametrize("d", ["/proc/wbtrace-test-out", "/sys/x", "/dev/y"])
def test_vm_output_in_guest_private_dir_is_refused(d):
    rc, out, err = run("run", "fio-randwrite", "--target", "vm", "-o", d)
    assert rc == 2 and "private to the lab guest" in one_error_line(err)
    assert not os.path.exists(d)


# ---------------------------------------------------------------- fio verification coverage

def _unverified(jobs):
    """verification.fio_unverified of fio-randwrite for a fio.json holding JOBS."""
    wl = jobfile.Workload("fio-randwrite", os.path.join(paths.WL_DIR, "fio-randwrite.fio"))
    return verification.fio_unverified(wl, {"jobs": jobs})


def _job(name, wrote, read):
    return {"jobname": name, "write": {"io_bytes": wrote}, "read": {"io_bytes": read}}


def test_fio_verify_that_read_back_everything_passes():
    assert _unverified([_job("randwrite", 1 << 25, 1 << 25)]) == []


def test_fio_verify_of_zero_bytes_fails():
    # fio exits 0 with do_verify=0: nothing was checked.
    assert _unverified([_job("randwrite", 1 << 25, 0)]) == ["randwrite: verified 0 bytes"]


def test_fio_verify_of_part_of_the_data_fails():
    assert "verified 1024 of the 4096 bytes" in _unverified([_job("randwrite", 4096, 1024)])[0]


def test_fio_verify_of_a_missing_job_fails():
    assert _unverified([_job("other", 4096, 4096)]) == ["randwrite: not in fio's output"]


def test_icount_with_host_target_is_refused():
    rc, out, err = run("run", "fio-randwrite", "--target", "host", "--icount", "shift=3")
    assert rc == 2 and "--icount" in one_error_line(err)
