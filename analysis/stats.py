"""Small statistics kit: means, Welch's t-test and interval, Student's t distribution,
log2-histogram percentiles.  Pure Python (no scipy needed); tests cross-check it against
closed forms and published tables."""

import math
from typing import Dict, List, Optional, Sequence


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def harmonic_mean(xs: Sequence[float]) -> float:
    """n / Σ(1/x): the right average for rates measured over equal amounts of work
    (mmtests does the same).  Needs every x > 0."""
    if not xs:
        raise ValueError("harmonic mean of nothing")
    if any(x <= 0 for x in xs):
        raise ValueError("harmonic mean needs positive values")
    return len(xs) / sum(1.0 / x for x in xs)


def variance(xs: Sequence[float]) -> float:
    """Unbiased sample variance (n-1); 0 for a single value."""
    n = len(xs)
    if n < 2:
        return 0.0
    m = mean(xs)
    return sum((x - m) ** 2 for x in xs) / (n - 1)


# ----------------------------------------------------------------------------- Student's t

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf2(t: float, df: float) -> float:
    """Two-sided p-value P(|T| >= |t|) for Student's t with df degrees of freedom."""
    if math.isinf(t):
        return 0.0
    if math.isinf(df):
        return math.erfc(abs(t) / math.sqrt(2.0))
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_cdf(t: float, df: float) -> float:
    p = 0.5 * t_sf2(t, df)
    return 1.0 - p if t >= 0 else p


def t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t (bisection on the CDF; plenty fast for our sizes)."""
    if not 0.0 < q < 1.0:
        raise ValueError("quantile must be in (0, 1)")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        hi *= 2.0
        if hi > 1e12:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def welch(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> Dict[str, float]:
    """Welch's unequal-variance t-test of mean(b) - mean(a).

    Returns diff, se, t, df, p (two-sided) and the (1-alpha) confidence interval
    [ci_lo, ci_hi] of the difference.  Needs >= 2 values a side.  With zero variance on
    both sides the test degenerates: p = 1 when the means are equal, else 0.
    """
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        raise ValueError("Welch's test needs at least 2 values per side")
    ma, mb = mean(a), mean(b)
    va, vb = variance(a) / na, variance(b) / nb
    diff = mb - ma
    se = math.sqrt(va + vb)
    scale = max(abs(ma), abs(mb), 1e-300)
    if se <= 1e-12 * scale:
        same = abs(diff) <= 1e-12 * scale
        return {"diff": diff, "se": 0.0, "t": 0.0 if same else math.copysign(math.inf, diff),
                "df": float(na + nb - 2), "p": 1.0 if same else 0.0,
                "ci_lo": diff, "ci_hi": diff}
    t = diff / se
    df = (va + vb) ** 2 / ((va * va) / (na - 1) + (vb * vb) / (nb - 1))
    crit = t_ppf(1.0 - alpha / 2.0, df)
    return {"diff": diff, "se": se, "t": t, "df": df, "p": t_sf2(t, df),
            "ci_lo": diff - crit * se, "ci_hi": diff + crit * se}


def mean_ci(xs: Sequence[float], alpha: float = 0.05):
    """(mean, half-width) of the t confidence interval of the mean; half-width is nan
    for fewer than 2 values."""
    m = mean(xs)
    if len(xs) < 2:
        return m, math.nan
    h = t_ppf(1.0 - alpha / 2.0, len(xs) - 1) * math.sqrt(variance(xs) / len(xs))
    return m, h


def harmonic_ci(xs: Sequence[float], alpha: float = 0.05):
    """Harmonic mean and its interval, from the t interval of mean(1/x):
    returns (hm, lo, hi); hi is inf when the reciprocal interval reaches 0."""
    u = [1.0 / x for x in xs]
    m, h = mean_ci(u, alpha)
    hm = 1.0 / m
    if math.isnan(h):
        return hm, math.nan, math.nan
    lo = 1.0 / (m + h)
    hi = 1.0 / (m - h) if m - h > 0 else math.inf
    return hm, lo, hi


# ----------------------------------------------------------------------------- histograms

def log2_slot(v: float) -> int:
    """Slot of value v in a hist_log2 array: floor(log2(v)), with 0 and 1 in slot 0."""
    v = int(v)
    return 0 if v < 2 else v.bit_length() - 1


def slot_bounds(i: int):
    """Inclusive integer value range [lo, hi] of hist_log2 slot i."""
    return (0 if i == 0 else 1 << i), (1 << (i + 1)) - 1


def hist_log2(values) -> List[int]:
    h: List[int] = []
    for v in values:
        s = log2_slot(v)
        if s >= len(h):
            h.extend([0] * (s + 1 - len(h)))
        h[s] += 1
    return h


def merge_hists(hists) -> List[int]:
    out: List[int] = []
    for h in hists:
        if len(h) > len(out):
            out.extend([0] * (len(h) - len(out)))
        for i, c in enumerate(h):
            out[i] += c
    return out


def hist_log2_percentile(hist: Sequence[int], q: float, method: str = "upper") -> Optional[float]:
    """q-th percentile (0 < q <= 100) from a hist_log2 array.

    The rank is ceil(q/100 * count) (nearest-rank).  "upper" returns the upper bound of the
    slot holding that rank; "interp" interpolates linearly inside the slot.
    """
    total = sum(hist)
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100.0 * total - 1e-9))
    cum = 0
    for i, c in enumerate(hist):
        if c and cum + c >= rank:
            lo, hi = slot_bounds(i)
            if method == "upper":
                return float(hi)
            return lo + (hi - lo) * (rank - cum) / c
        cum += c
    raise AssertionError("unreachable")


def exact_percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values) - 1e-9))
    return float(sorted_values[rank - 1])


def weighted_percentile(pairs, q: float) -> Optional[float]:
    """Nearest-rank percentile of (value, count) pairs (e.g. fio clat bins)."""
    pairs = sorted(pairs)
    total = sum(c for _, c in pairs)
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100.0 * total - 1e-9))
    cum = 0
    for v, c in pairs:
        cum += c
        if cum >= rank:
            return float(v)
    return float(pairs[-1][0])


def dist_from_values(values, unit: str = "ns") -> dict:
    """A trace/summary.json {DIST} object from raw values (writer-side helper)."""
    vs = sorted(int(v) for v in values)
    if not vs:
        return {"unit": unit, "count": 0, "sum": 0, "min": None, "max": None, "mean": None,
                "p50": None, "p90": None, "p99": None, "p999": None, "pct_method": "exact",
                "hist_log2": []}
    return {"unit": unit, "count": len(vs), "sum": sum(vs), "min": vs[0], "max": vs[-1],
            "mean": sum(vs) / len(vs),
            "p50": exact_percentile(vs, 50), "p90": exact_percentile(vs, 90),
            "p99": exact_percentile(vs, 99), "p999": exact_percentile(vs, 99.9),
            "pct_method": "exact", "hist_log2": hist_log2(vs)}
