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


def stat_text(t_us, idle0, idle1, iowait):
    return (f"t_us {t_us}\ncpu  1 2 3 4 5 6 7 8 0 0\n"
            f"cpu0 10 0 20 {idle0} {iowait} 0 0 0 0 0\ncpu1 10 0 20 {idle1} 0 0 0 0 0 0\nintr 1 2\n")


def test_row_takes_exact_guest_cpu_from_the_two_snapshots(work):
    (work / "stat0").write_text(stat_text(1_000_000, 100, 200, 5))
    # 2 s later: idle +0.5 s and +1.0 s, iowait +0.1 s -> busy 2 x 2 - 1.6 = 2.4 s
    (work / "stat1").write_text(stat_text(3_000_000, 150, 300, 15))
    r = bo.run_row(str(work), "hist", 0, 0, 10**9, 1, 0, 100, 8, 0)
    assert r["guest_cpu_ns"] == 2_400_000_000 and r["guest_window_ns"] == 2 * 10**9
    assert r["guest_cpu_resolution_ns"] == 40_000_000          # 2 fields x 2 CPUs x 10 ms
    (work / "stat1").write_text("time 3\n")
    with pytest.raises(ValueError):
        bo.run_row(str(work), "hist", 0, 0, 10**9, 1, 0, 100, 8, 0)
    os.remove(work / "stat1")                                  # no snapshots: no guest CPU
    assert "guest_cpu_ns" not in bo.run_row(str(work), "hist", 0, 0, 10**9, 1, 0, 100, 8, 0)


def test_row_sums_programs_whose_cut_names_repeat(work):
    (work / "progs.json").write_text(json.dumps(
        [{"name": "kprobe_f2fs_wri", "run_cnt": 10, "run_time_ns": 500},
         {"name": "kprobe_f2fs_wri", "run_cnt": 5, "run_time_ns": 100}]))
    r = bo.run_row(str(work), "bpftrace", 0, 0, 10**9, 1, 0, 100, 8, 0)
    assert r["bpf_progs"] == {"kprobe_f2fs_wri": [15, 600]}


def cpu_rows(over, reps=10, events=1000, mib=16):
    """Timed runs with exact guest CPU: each config's CPU is none's x (1 + over[cfg] %),
    none's varying from rep to rep, with +-0.1 % of noise alternating by rep."""
    out = []
    for rep in range(reps):
        base = 4e9 * (1 + 0.02 * (rep % 3))
        for cfg in ("none",) + tuple(over):
            pct = over.get(cfg, 0.0) + (0.1 if rep % 2 else -0.1) * (cfg != "none")
            r = {"config": cfg, "rep": rep, "pos": 0, "mib": mib, "mib_s": 10.0, "wall_ns": 10**9,
                 "cpu_busy_ns": 10**9, "tracer_cpu_ns": 0, "writer_sys_ns": 10**8,
                 "guest_cpu_ns": round(base * (1 + pct / 100))}
            if cfg != "none":
                r.update(events=events, drops=0)
            out.append(r)
    return out


COND = {"date_utc": "x", "kernel": "k", "variant": "stock", "virt": "qemu-tcg", "cpu_model": "c",
        "cpus": "2", "icount": "shift=3,align=off"}


def test_guest_cpu_overhead_paired_by_rep_and_its_goals():
    rep = bo.analyse(cpu_rows({"hist": 1.0, "stream": 8.0, "bpftrace": 4.0}), COND, [])
    h = rep["configs"]["hist"]
    assert h["guest_cpu_delta_pct"]["mean"] == pytest.approx(1.0, abs=1e-6)
    assert 0.9 < h["guest_cpu_delta_pct"]["lo"] < 1.0 < h["guest_cpu_delta_pct"]["hi"] < 1.1
    none_mean = 4e9 * (1 + 0.02 * (4 * 0 + 3 * 1 + 3 * 2) / 10)   # reps 0..9: rep % 3 is 0 x4, 1 x3, 2 x3
    assert rep["configs"]["none"]["guest_cpu_ms_per_mib"]["mean"] == pytest.approx(none_mean / 1e6 / 16)
    assert h["extra_guest_cpu_ns_per_event"]["mean"] == pytest.approx(none_mean * 0.01 / 1000, rel=1e-3)
    g = rep["goals"]
    assert g["hist_guest_cpu_per_mib_le_3pct"]["verdict"] == "met"
    assert g["stream_guest_cpu_per_mib_le_5pct"]["verdict"] == "not met"
    assert "hist_slowdown_le_3pct" not in g                  # the CPU axis replaces throughput
    # per event: bpftrace costs 4 % / 1 % = 4x hist's (met) and 0.5x stream's (not met)
    assert g["hist_guest_cpu_ns_per_event_3x_below_bpftrace"]["verdict"] == "met"
    assert g["hist_guest_cpu_ns_per_event_3x_below_bpftrace"]["ratio"] == pytest.approx(4.0, rel=1e-3)
    assert g["stream_guest_cpu_ns_per_event_3x_below_bpftrace"]["verdict"] == "not met"
    rep = bo.analyse(cpu_rows({"hist": 3.0}), COND, [])   # 3 % +- noise: the interval straddles 3
    assert rep["goals"]["hist_guest_cpu_per_mib_le_3pct"]["verdict"].startswith("inconclusive")
    t = bo.table(bo.analyse(cpu_rows({"hist": 1.0, "stream": 8.0, "bpftrace": 4.0}), COND, []))
    assert "-icount shift=3,align=off" in t and "| hist | " in t
    assert "goal hist_guest_cpu_per_mib_le_3pct: met (overhead 1.00 %" in t


def test_cheaper_per_event_verdicts():
    iv = lambda m, h: {"mean": m, "lo": m - h, "hi": m + h}   # noqa: E731
    v = bo.cheaper_verdict(iv(10, 1), iv(40, 2))          # 38 >= 3 x 11
    assert v["verdict"] == "met" and v["ratio"] == 4.0 and v["ratio_bounds"] == [38 / 11, 42 / 9]
    assert bo.cheaper_verdict(iv(10, 1), iv(20, 2))["verdict"] == "not met"     # 22 < 3 x 9
    assert bo.cheaper_verdict(iv(10, 1), iv(30, 2))["verdict"].startswith("inconclusive")
    one = {"mean": 10, "lo": None, "hi": None}
    assert bo.cheaper_verdict(one, {"mean": 35, "lo": None, "hi": None})["verdict"] == \
        "met (one run: no interval)"
    assert bo.cheaper_verdict({"mean": 0, "lo": None, "hi": None}, one)["verdict"].startswith("inconclusive")


def test_probe_costs_over_several_runs():
    pc = [{"config": "hist", "events": 100, "bpf_run_cnt": 300, "bpf_run_time_ns": 30000,
           "bpf_progs": {"a": [200, 20000], "b": [100, 10000]}},
          {"config": "hist", "events": 100, "bpf_run_cnt": 300, "bpf_run_time_ns": 36000,
           "bpf_progs": {"a": [200, 26000], "b": [100, 10000]}},
          {"config": "bpftrace", "events": 100, "bpf_run_cnt": 400, "bpf_run_time_ns": 120000,
           "bpf_progs": {"k": [400, 120000]}},
          {"config": "bpftrace", "events": 100, "bpf_run_cnt": 400, "bpf_run_time_ns": 126000,
           "bpf_progs": {"k": [400, 126000]}}]
    p = bo.probe_costs(pc)
    h = p["hist"]
    assert (h["runs"], h["events"], h["bpf_run_time_ns"], h["bpf_ns_per_event"]) == (2, 100, 33000, 330)
    assert h["bpf_ns_per_event_ci"]["mean"] == 330 and h["bpf_ns_per_event_ci"]["lo"] < 330
    assert h["progs"]["a"] == {"run_cnt": 400, "run_time_ns": 46000, "ns_per_run": 115.0, "runs_per_event": 2.0}
    assert list(h["progs"]) == ["a", "b"]                 # the most expensive first
    rep = bo.analyse(cpu_rows({"hist": 1.0, "bpftrace": 4.0}), COND, pc)
    g = rep["goals"]["hist_bpf_ns_per_event_3x_below_bpftrace"]
    assert g["ratio"] == pytest.approx(1230 / 330)
    assert "| hist | a | 2.00 | 115 |" in bo.table(rep)
