"""loader/bench_overhead.py, the Python of the tracer's self-overhead benchmark: one run's
row from what the run left behind, and the report over the runs, on made-up runs whose
answers are known."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "loader"))
import bench_overhead as bo  # noqa: E402

PROG = os.path.join(ROOT, "loader", "bench_overhead.py")
COUNTS = {"folios_written": 100, "folios_redirtied": 2, "folios_skipped": 1, "folios_error": 0,
          "folios_unknown": 0, "bios_data": 10, "bios_node": 3, "bios_meta": 1, "bios_other": 0,
          "writepages": 5, "writepages_no_exit": 1, "clusters": 4, "handouts": 7,
          "folio_bytes_written": 409600}


@pytest.fixture
def work(tmp_path):
    (tmp_path / "time").write_text("some noise\n0.50 0.25\n")
    (tmp_path / "fio.json").write_text(json.dumps(
        {"jobs": [{"write": {"bw_bytes": 8 << 20, "total_ios": 2048}}]}))
    (tmp_path / "sum.json").write_text(json.dumps(
        {"counts": COUNTS, "events": 120, "drops": 3, "valid": True, "probes": {"wp": "fexit"}}))
    (tmp_path / "t.out").write_text("@n_wp: 5\n@n_folio: 100\n@n_bio: 14\n@n_cluster: 4\n"
                                    "@n_handout: 7\n@n_loop: 2\n")
    (tmp_path / "progs.json").write_text("[]")
    return tmp_path


def test_row_of_a_traced_run(work):
    r = bo.run_row(str(work), "stream", 2, 1, 2 * 10**9, 300, 50, 100, 16, 0)
    assert (r["config"], r["rep"], r["pos"], r["mib"]) == ("stream", 2, 1, 16)
    assert r["mib_s"] == 8.0                                  # 16 MiB in 2 s
    assert r["cpu_busy_ns"] == 3 * 10**9 and r["tracer_cpu_ns"] == 5 * 10**8   # ticks at 100 Hz
    assert (r["writer_sys_ns"], r["writer_user_ns"]) == (5 * 10**8, 25 * 10**7)  # time's last line
    assert (r["fio_bw_mib_s"], r["fio_ios"]) == (8.0, 2048)
    assert (r["folios"], r["bios"]) == (103, 14)
    assert r["events"] == 5 + 1 + 103 + 14 + 4
    assert (r["drops"], r["delivered"], r["valid"]) == (3, 120, True)
    assert "bpf_run_cnt" not in r                             # not the probe-cost pass


def test_row_of_bpftrace_and_of_a_killed_tracer(work):
    r = bo.run_row(str(work), "bpftrace", 0, 0, 10**9, 1, 0, 100, 8, 0)
    assert (r["events"], r["folios"], r["loops"], r["drops"]) == (5 + 100 + 14 + 4, 100, 2, 0)
    killed = bo.run_row(str(work), "bpftrace", 0, 0, 10**9, 1, 0, 100, 8, 1)
    assert killed["killed"] is True and "events" not in killed


def test_row_of_the_probe_cost_pass_counts_programs_that_ran(work):
    (work / "progs.json").write_text(json.dumps(
        [{"name": "a", "run_cnt": 10, "run_time_ns": 500}, {"name": "idle", "run_cnt": 0,
                                                            "run_time_ns": 0},
         {"run_cnt": 2, "run_time_ns": 100}]))
    r = bo.run_row(str(work), "hist", 0, 0, 10**9, 1, 0, 100, 8, 0)
    assert (r["bpf_run_cnt"], r["bpf_run_time_ns"]) == (12, 600)
    assert r["bpf_progs"] == {"a": [10, 500], "?": [2, 100]}


def rows(slowdown_pct, drops=0, reps=4):
    """Timed runs where hist and stream are slowdown_pct slower than none in every rep,
    give or take a little noise, so the interval is narrow around it."""
    out = []
    for rep in range(reps):
        base = 10.0 + rep
        noise = 0.01 * (rep % 2)
        for cfg, mib_s in (("none", base), ("hist", base * (1 - slowdown_pct / 100 + noise)),
                           ("stream", base * (1 - slowdown_pct / 100 - noise))):
            r = {"config": cfg, "rep": rep, "pos": 0, "mib": 8, "mib_s": mib_s, "wall_ns": 10**9,
                 "cpu_busy_ns": 10**9 + (10**6 if cfg != "none" else 0), "tracer_cpu_ns": 0,
                 "writer_sys_ns": 10**8}
            if cfg != "none":
                r.update(events=1000, drops=drops if cfg == "stream" else 0)
            out.append(r)
    return out


def test_goals_met_and_not_met():
    cond = {"date_utc": "x", "kernel": "k", "variant": "stock", "virt": "qemu-tcg",
            "cpu_model": "c", "cpus": "2"}
    rep = bo.analyse(rows(1.0), cond, [])
    assert rep["goals"]["hist_slowdown_le_3pct"]["verdict"] == "met"
    assert rep["goals"]["stream_slowdown_le_5pct"]["verdict"] == "met"
    assert rep["goals"]["stream_zero_drops_default_ring"]["verdict"] == "met"
    assert rep["configs"]["hist"]["ns_per_event"]["mean"] == pytest.approx(1000.0)  # 1 ms / 1000
    rep = bo.analyse(rows(20.0, drops=1), cond, [])
    assert rep["goals"]["hist_slowdown_le_3pct"]["verdict"] == "not met"
    assert rep["goals"]["stream_zero_drops_default_ring"]["verdict"] == "not met"
    assert rep["configs"]["stream"]["drops_total"] == 4
    assert "| hist |" in bo.table(rep) and "goal hist_slowdown_le_3pct: not met" in bo.table(rep)


def test_report_writes_json_and_table(tmp_path):
    with open(tmp_path / "runs.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows(1.0))
    (tmp_path / "probe_cost.jsonl").write_text(json.dumps(
        {"config": "hist", "events": 100, "bpf_run_cnt": 50, "bpf_run_time_ns": 5000}) + "\n\n")
    (tmp_path / "conditions.txt").write_text(
        "date_utc=2026-01-01T00:00:00Z\nkernel=7.3.4\nvariant=stock\nvirt=qemu-tcg\n"
        "cpu_model=QEMU TCG CPU\ncpus=2\nfio=fio --a=b\n")
    out = subprocess.run([sys.executable, PROG, "report", str(tmp_path)], capture_output=True,
                         text=True, check=True).stdout
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["schema"] == "wbtrace.bench-overhead/1" and rep["conditions"]["fio"] == "fio --a=b"
    assert rep["probe_cost"]["hist"]["ns_per_prog_run"] == 100.0
    assert rep["probe_cost"]["hist"]["bpf_ns_per_event"] == 50.0
    assert (tmp_path / "table.txt").read_text() == rep["table"] + "\n"
    assert out.startswith(rep["table"])


def test_progress_line_and_bad_input():
    run = subprocess.run([sys.executable, PROG, "progress"], input='{"rep": 1, "config": "hist", '
                         '"mib_s": 7.5, "cpu_busy_ns": 12}', capture_output=True, text=True)
    assert run.returncode == 0
    assert run.stdout.split() == "rep 1 hist 7.50 MiB/s cpu 12 ns events - drops -".split()
    bad = subprocess.run([sys.executable, PROG, "row", "w", "hist", "x", "0", "1", "1", "1", "1",
                          "1", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid literal" in bad.stderr and not bad.stdout
    assert subprocess.run([sys.executable, PROG, "nope"], capture_output=True).returncode == 2
    helped = subprocess.run([sys.executable, PROG, "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "bench_overhead.py report OUT" in helped.stdout
