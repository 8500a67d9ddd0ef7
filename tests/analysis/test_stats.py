import math

import pytest

from analysis import stats


def test_harmonic_mean_by_hand():
    # 3 / (1/100 + 1/200 + 1/400) = 3 / 0.0175
    assert stats.harmonic_mean([100, 200, 400]) == pytest.approx(171.4285714285714)
    assert stats.harmonic_mean([5, 5, 5]) == pytest.approx(5)
    with pytest.raises(ValueError):
        stats.harmonic_mean([1, 0])


def test_variance_unbiased():
    assert stats.variance([10, 12, 14]) == pytest.approx(4.0)
    assert stats.variance([7]) == 0.0


def _t4_two_sided(t):
    # closed-form CDF of Student's t with 4 degrees of freedom
    F = 0.5 + 3 / 8 * (t / math.sqrt(1 + t * t / 4)) * (1 - t * t / (12 * (1 + t * t / 4)))
    return 2 * (1 - F)


def test_welch_known_case():
    # means 12 and 17, variances 4 and 4, n 3 and 3:
    # se = sqrt(4/3 + 4/3), t = 5 / se = 3.0619, df = (8/3)^2 / (2 * (4/3)^2 / 2) = 4
    w = stats.welch([10, 12, 14], [15, 17, 19])
    assert w["diff"] == pytest.approx(5.0)
    assert w["t"] == pytest.approx(5 / math.sqrt(8 / 3))
    assert w["df"] == pytest.approx(4.0)
    assert w["p"] == pytest.approx(_t4_two_sided(5 / math.sqrt(8 / 3)), rel=1e-9)
    assert w["p"] == pytest.approx(0.0375901, abs=1e-6)
    half = 2.7764451051977987 * math.sqrt(8 / 3)       # t(0.975, 4) from tables
    assert w["ci_lo"] == pytest.approx(5 - half, rel=1e-7)
    assert w["ci_hi"] == pytest.approx(5 + half, rel=1e-7)


def test_welch_unequal_variances_df():
    a, b = [1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0]
    va, vb = stats.variance(a) / 4, stats.variance(b) / 3
    df = (va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 2)
    w = stats.welch(a, b)
    assert w["df"] == pytest.approx(df)
    assert w["df"] < 5  # Welch, not the pooled n-2 = 5


def test_welch_zero_variance():
    assert stats.welch([3, 3, 3], [3, 3, 3])["p"] == 1.0
    w = stats.welch([3, 3, 3], [4, 4, 4])
    assert w["p"] == 0.0 and w["ci_lo"] == w["ci_hi"] == 1.0
    with pytest.raises(ValueError):
        stats.welch([1], [2, 3])


@pytest.mark.parametrize("t", [0.3, 1.0, 2.5, 7.0])
def test_t_two_sided_df2_closed_form(t):
    # df = 2: P(|T| >= t) = 1 - t / sqrt(2 + t^2)
    assert stats.t_sf2(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-10)


@pytest.mark.parametrize("df,q,expected", [
    (1, 0.975, 12.706204736), (2, 0.975, 4.302652730), (4, 0.975, 2.776445105),
    (10, 0.95, 1.812461123), (30, 0.995, 2.749995654)])
def test_t_ppf_tables(df, q, expected):
    assert stats.t_ppf(q, df) == pytest.approx(expected, rel=1e-8)
    assert stats.t_ppf(1 - q, df) == pytest.approx(-expected, rel=1e-8)


def test_t_large_df_tends_to_normal():
    assert stats.t_sf2(1.959963985, 1e7) == pytest.approx(0.05, rel=1e-4)


def test_harmonic_ci_contains_hm():
    hm, lo, hi = stats.harmonic_ci([100, 110, 90, 105])
    assert lo < hm < hi
    assert hm == pytest.approx(4 / (1 / 100 + 1 / 110 + 1 / 90 + 1 / 105))


def test_log2_slots_follow_libbpf_convention():
    assert [stats.log2_slot(v) for v in (0, 1, 2, 3, 4, 7, 8, 1023, 1024)] == \
        [0, 0, 1, 1, 2, 2, 3, 9, 10]
    assert stats.slot_bounds(0) == (0, 1)
    assert stats.slot_bounds(3) == (8, 15)
    assert stats.hist_log2([0, 1, 2, 5, 5, 9]) == [2, 1, 2, 1]


def test_hist_percentile_known():
    h = [0, 0, 10, 80, 10]          # 10 in [4,7], 80 in [8,15], 10 in [16,31]
    assert stats.hist_log2_percentile(h, 5) == 7.0          # rank 5 in slot 2
    assert stats.hist_log2_percentile(h, 50) == 15.0
    assert stats.hist_log2_percentile(h, 90) == 15.0        # rank 90 is the last of slot 3
    assert stats.hist_log2_percentile(h, 91) == 31.0
    # interpolated: rank 50 is the 40th of 80 in [8, 15] -> 8 + 7 * 40/80
    assert stats.hist_log2_percentile(h, 50, "interp") == pytest.approx(11.5)
    assert stats.hist_log2_percentile([], 50) is None
    # nearest rank rounds up: 10 values, p50 -> rank 5 (slot [2,3]), p51 -> rank 6 (slot [4,7])
    assert stats.hist_log2_percentile([0, 5, 5], 50) == 3.0
    assert stats.hist_log2_percentile([0, 5, 5], 51) == 7.0


def test_weighted_and_exact_percentiles():
    pairs = [(10, 1), (20, 2), (30, 7)]                    # 10 values
    assert stats.weighted_percentile(pairs, 10) == 10
    assert stats.weighted_percentile(pairs, 30) == 20
    assert stats.weighted_percentile(pairs, 31) == 30
    assert stats.exact_percentile(list(range(1, 101)), 99) == 99
    assert stats.exact_percentile(list(range(1, 1001)), 99.9) == 999


def test_dist_from_values():
    d = stats.dist_from_values([1, 2, 3, 4, 100])
    assert d["count"] == 5 and d["sum"] == 110 and d["mean"] == 22
    assert d["p50"] == 3 and d["p99"] == 100
    assert sum(d["hist_log2"]) == 5 and d["hist_log2"][6] == 1
    e = stats.dist_from_values([])
    assert e["count"] == 0 and e["p99"] is None and e["hist_log2"] == []
