"""workloads/guestcpu.py: busy CPU of the guest from /proc/stat's exact idle time."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "workloads"))
import guestcpu  # noqa: E402

STAT = """cpu  {u0} 0 {s0} {i0} {w0} 3 4 0 0 0
cpu0 {u} 0 {s} {i} {w} 1 2 0 0 0
cpu1 {u} 0 {s} {i} {w} 2 2 0 0 0
intr 12345
ctxt 999
"""


def snap(t_ms, user, system, idle, iowait):
    text = STAT.format(u0=2 * user, s0=2 * system, i0=2 * idle, w0=2 * iowait,
                       u=user, s=system, i=idle, w=iowait)
    return {"t_ns": int(t_ms * 1e6), "cpus": guestcpu.parse_proc_stat(text), "hz": 100}


def test_parse_reads_per_cpu_lines_only():
    cpus = guestcpu.parse_proc_stat(STAT.format(u0=0, s0=0, i0=0, w0=0, u=5, s=6, i=7, w=8))
    assert sorted(cpus) == [0, 1]
    assert cpus[1] == {"user": 5, "nice": 0, "system": 6, "idle": 7, "iowait": 8,
                       "irq": 2, "softirq": 2, "steal": 0}


@pytest.mark.parametrize("text,msg", [
    ("cpu 1 2 3\nintr 1\n", "no per-CPU lines"),
    ("cpu0 1 2 3\n", "has 3 fields"),
    ("cpu0 1 2 x 4 5 6 7 8\n", "cannot read line"),
])
def test_parse_refuses_what_it_cannot_read(text, msg):
    with pytest.raises(ValueError, match=msg):
        guestcpu.parse_proc_stat(text)


def test_busy_is_cpus_times_elapsed_minus_idle_and_iowait():
    # 10 s on 2 CPUs; each CPU idle 6 s and in iowait 1 s (100 Hz units): busy 2 x 3 s.
    a = snap(1000, user=100, system=100, idle=1000, iowait=50)
    b = snap(11000, user=250, system=300, idle=1600, iowait=150)
    w = guestcpu.window(a, b)
    assert w["schema"] == "wbtrace.cpu/1" and w["cpus"] == 2
    assert w["elapsed_ms"] == 10000.0
    assert w["idle_ms"] == 12000.0 and w["iowait_ms"] == 2000.0
    assert w["busy_ms"] == 6000.0
    assert w["resolution_ms"] == 40.0
    # the sampled ticks are a breakdown only: they do not enter busy_ms
    assert w["sampled_ms"]["user"] == 3000.0 and w["sampled_ms"]["system"] == 4000.0


def test_window_refuses_a_changed_cpu_set_or_time_going_backwards():
    a = snap(1000, 1, 1, 1, 1)
    b = snap(2000, 2, 2, 2, 2)
    del b["cpus"][1]
    with pytest.raises(ValueError, match="CPUs changed"):
        guestcpu.window(a, b)
    with pytest.raises(ValueError, match="no length"):
        guestcpu.window(a, snap(1000, 2, 2, 2, 2))
    with pytest.raises(ValueError, match="went backwards"):
        guestcpu.window(snap(1000, 5, 5, 5, 5), snap(2000, 4, 5, 5, 5))


def test_snapshot_reads_the_real_proc_stat():
    s = guestcpu.snapshot()
    assert s["cpus"] and s["hz"] > 0 and s["t_ns"] > 0
