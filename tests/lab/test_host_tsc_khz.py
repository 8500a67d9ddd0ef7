"""kernel-patch/lab/host_tsc_khz.py: the bracketing and the rate, on a fake clock and TSC."""
import os
import platform
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "kernel-patch", "lab"))
import host_tsc_khz as h  # noqa: E402


def test_tightest_keeps_the_narrowest_bracket():
    # windows of 50, 10, 30 ns: the second read wins, with its midpoint
    times = iter([0, 50, 100, 110, 200, 230])
    tscs = iter([7, 8, 9])
    best = h.tightest(lambda: next(tscs), tries=3, clock=lambda _c: next(times))
    assert best == (10, 105, 8)


def test_rate_from_two_brackets():
    # 2.6e9 ticks per second: 520,000,000 ticks in 0.2 s
    assert h.rate_khz((100, 1_000_000_000, 0), (100, 1_200_000_000, 520_000_000)) == 2_600_000


@pytest.mark.parametrize("first,second", [
    ((20_000, 0, 0), (100, 200_000_000, 520_000_000)),      # a bracket too wide
    ((100, 200_000_000, 0), (100, 200_000_000, 5)),          # no time between them
])
def test_no_rate_from_bad_brackets(first, second):
    assert h.rate_khz(first, second) is None


@pytest.mark.skipif(platform.machine() != "x86_64", reason="n/a: rdtsc is x86_64")
def test_the_host_measurement_is_a_plausible_rate():
    rdtsc = h.rdtsc_function()
    first = h.tightest(rdtsc)
    second = h.tightest(rdtsc)
    assert second[2] > first[2]          # the TSC counts up
