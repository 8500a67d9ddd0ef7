"""workloads/icount_eval.py (issue 14, item 1): host wall times from the stamped runner
output, the coefficient of variation, guest-wide CPU from the perf samples."""
import os

import icount_eval


def test_host_walls_from_stamped_log(tmp_path):
    log = tmp_path / "output.log"
    lines = [
        (100.0, "[vm] guest up after 0m11s; running the command"),
        (105.0, "[wbtrace] fio-randwrite stock rep 1/2: mkfs.f2fs (0m05s)"),
        (106.0, "[wbtrace] fio-randwrite stock rep 1/2: workload (0m06s)"),
        (130.0, "[wbtrace] fio-randwrite stock rep 1/2: verify (fio's own pass) (0m30s)"),
        (150.0, "rep 1/2: PASS  fio 10.0 MiB/s, ... (45 s) -> x/rep-01"),
        (151.0, "[wbtrace] fio-randwrite stock rep 2/2: mkfs.f2fs (0m51s)"),
        (152.0, "[wbtrace] fio-randwrite stock rep 2/2: workload (0m52s)"),
        (172.0, "[wbtrace] fio-randwrite stock rep 2/2: verify (fio's own pass) (1m12s)"),
        (191.0, "rep 2/2: PASS  fio 11.0 MiB/s, ... (40 s) -> x/rep-02"),
    ]
    log.write_text("".join(f"{t:.3f}\t{text}\n" for t, text in lines))
    w = icount_eval.host_walls(str(log))
    assert w == {1: {"wall_rep_s": 45.0, "wall_workload_s": 24.0},
                 2: {"wall_rep_s": 40.0, "wall_workload_s": 20.0}}


def test_cv():
    mean, c, n = icount_eval.cv([10.0, 12.0, None, 11.0])
    assert n == 3 and mean == 11.0 and abs(c - 1.0 / 11.0) < 1e-12
    assert icount_eval.cv([5.0]) == (None, None, 1)


class _Run:
    def __init__(self, path, fio):
        self.path, self.fio = str(path), fio

    def file(self, rel):
        p = os.path.join(self.path, rel)
        return p if os.path.exists(p) else None


def test_guest_cpu_counts_all_but_idle_and_harness(tmp_path):
    (tmp_path / "stacks.folded").write_text(
        "fio;entry_SYSCALL_64;vfs_write 50\n"
        "kworker/u8:2-ev;wb_workfn;f2fs_write_data_pages 49\n"
        "swapper;default_idle 1000\n"
        "wbtrace-trace;bpf 300\n"
        "perf;x 7\n")
    run = _Run(tmp_path, {"jobs": [{"write": {"io_bytes": 2 << 20}}]})
    # 99 samples of 1/99 s over 2 MiB
    assert abs(icount_eval.guest_cpu_ms_per_mib(run) - 500.0) < 1e-9
