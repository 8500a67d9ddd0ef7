"""Small statistics kit: means, Welch's t-test and interval, Student's t distribution,
log2- and log-linear-histogram percentiles.  Pure Python (no scipy needed); tests cross-check it against
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


def t_pdf(t: float, df: float) -> float:
    return math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
                    - (df + 1) / 2 * math.log1p(t * t / df))


def norm_ppf(q: float) -> float:
    """Standard normal quantile (Acklam's rational approximation, |rel err| < 1.2e-9)."""
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
         3.754408661907416e+00)
    if q < 0.02425:
        r = math.sqrt(-2 * math.log(q))
        return (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / \
            ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1)
    if q > 1 - 0.02425:
        return -norm_ppf(1 - q)
    r = q - 0.5
    u = r * r
    return (((((a[0] * u + a[1]) * u + a[2]) * u + a[3]) * u + a[4]) * u + a[5]) * r / \
        (((((b[0] * u + b[1]) * u + b[2]) * u + b[3]) * u + b[4]) * u + 1)


def t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t: Newton's method on the CDF from a Cornish-Fisher start,
    bisection when Newton does not settle (tiny df)."""
    if not 0.0 < q < 1.0:
        raise ValueError("quantile must be in (0, 1)")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    if math.isinf(df):
        return norm_ppf(q)
    z = norm_ppf(q)
    x = z + (z ** 3 + z) / (4 * df)
    for _ in range(30):
        f = t_cdf(x, df) - q
        step = f / t_pdf(x, df)
        x_new = x - step
        if not (x_new > 0 and math.isfinite(x_new)):
            break
        if abs(step) <= 1e-12 * max(1.0, abs(x_new)):
            return x_new
        x = x_new
    return _t_ppf_bisect(q, df)


def _t_ppf_bisect(q: float, df: float) -> float:
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


# Log-linear buckets (HdrHistogram's layout): the Python twin of wb_ll_bucket() in
# bpf/wbtrace.h, tested against the same table (tests/loader/loglin_buckets.tsv) as the C one.
# Values below 2^k have a bucket each; a value v >= 2^k with e = floor(log2 v) goes to group
# g = e - k + 1, sub-bucket s = the k bits below the top one: bucket g * 2^k + s, holding
# [(2^k + s) << (g - 1), ((2^k + s + 1) << (g - 1)) - 1].  A bucket is at most 1/2^k of its
# lower bound wide: its upper bound is within +2^-k of any value in it.
LL_SUB_BITS = 5          # WB_LL_SUB_BITS


def loglin_nbuckets(sub_bits: int = LL_SUB_BITS) -> int:
    return (64 - sub_bits + 1) << sub_bits


def loglin_bucket(v: int, sub_bits: int = LL_SUB_BITS) -> int:
    v = int(v)
    if v < (1 << sub_bits):
        return v
    e = v.bit_length() - 1
    return ((e - sub_bits + 1) << sub_bits) + ((v >> (e - sub_bits)) & ((1 << sub_bits) - 1))


def loglin_bounds(i: int, sub_bits: int = LL_SUB_BITS):
    """Inclusive integer value range [lo, hi] of log-linear bucket i."""
    g, s = i >> sub_bits, i & ((1 << sub_bits) - 1)
    if g == 0:
        return i, i
    lo = ((1 << sub_bits) + s) << (g - 1)
    return lo, lo + (1 << (g - 1)) - 1


def loglin_resolution(sub_bits: int = LL_SUB_BITS) -> float:
    """Relative step of a percentile read as its bucket's upper bound: ln(1 + 2^-k), the same
    form as the other resolutions of metrics.run_resolutions (log2 slots: ln 2)."""
    return math.log1p(1.0 / (1 << sub_bits))


def hist_loglin(values, sub_bits: int = LL_SUB_BITS) -> dict:
    """The summary's "hist_loglin" object of raw values: sparse [bucket, count] pairs."""
    counts: Dict[int, int] = {}
    for v in values:
        b = loglin_bucket(v, sub_bits)
        counts[b] = counts.get(b, 0) + 1
    return {"sub_bits": sub_bits, "buckets": [[b, counts[b]] for b in sorted(counts)]}


def loglin_to_log2(hl: dict) -> List[int]:
    """The hist_log2 array a hist_loglin refines (each bucket lies inside one log2 slot)."""
    out: List[int] = []
    for b, c in hl["buckets"]:
        s = log2_slot(loglin_bounds(b, hl["sub_bits"])[0])
        if s >= len(out):
            out.extend([0] * (s + 1 - len(out)))
        out[s] += c
    return out


def hist_loglin_percentile(hl: dict, q: float, method: str = "upper") -> Optional[float]:
    """q-th percentile (0 < q <= 100) from a hist_loglin object: nearest rank
    ceil(q/100 * count); "upper" = the upper bound of the bucket holding it (what the tracer
    reports as pct_method "hist_loglin_upper"), "interp" = linear inside the bucket."""
    total = sum(c for _, c in hl["buckets"])
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100.0 * total - 1e-9))
    cum = 0
    for b, c in hl["buckets"]:
        if c and cum + c >= rank:
            lo, hi = loglin_bounds(b, hl["sub_bits"])
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
                "hist_log2": [], "hist_loglin": hist_loglin([])}
    return {"unit": unit, "count": len(vs), "sum": sum(vs), "min": vs[0], "max": vs[-1],
            "mean": sum(vs) / len(vs),
            "p50": exact_percentile(vs, 50), "p90": exact_percentile(vs, 90),
            "p99": exact_percentile(vs, 99), "p999": exact_percentile(vs, 99.9),
            "pct_method": "exact", "hist_log2": hist_log2(vs), "hist_loglin": hist_loglin(vs)}


# ----------------------------------------------------------------------------- sane intervals

def welch_floored(a: Sequence[float], b: Sequence[float], alpha: float = 0.05,
                  qa: float = 0.0, qb: float = 0.0) -> Dict[str, float]:
    """Welch's test of mean(b) - mean(a) for values measured with resolution qa / qb.

    Two guards against data that is coarser than it looks:
    - each side's variance is floored at q^2/12 (the variance of a uniform rounding error of
      one step), so constant reps never give se = 0, p = 0 and a zero-width interval;
    - the difference of means can be off by up to max(qa, qb) through rounding alone (every
      value may sit anywhere inside its step), so the interval is widened by that much on
      each side and the test statistic uses |diff| shrunk by it.  Thus a latency that moves
      across one log2 bucket edge is not "significant": the data cannot tell 1 % from 100 %.

    The interval still excludes 0 exactly when p < alpha.  Needs >= 2 values a side."""
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        raise ValueError("Welch's test needs at least 2 values per side")
    ma, mb = mean(a), mean(b)
    fa, fb = qa * qa / 12.0, qb * qb / 12.0
    sa2, sb2 = max(variance(a), fa), max(variance(b), fb)
    va, vb = sa2 / na, sb2 / nb
    diff = mb - ma
    w = max(qa, qb)
    se = math.sqrt(va + vb)
    out = {"diff": diff, "se": se, "w": w, "var_a": sa2, "var_b": sb2, "n_a": na, "n_b": nb}
    if se <= 0.0:                              # resolution 0 and constant data
        same = diff == 0
        out.update(t=0.0 if same else math.copysign(math.inf, diff), df=float(na + nb - 2),
                   p=1.0 if same else 0.0, ci_lo=diff, ci_hi=diff, crit=math.nan)
        return out
    df = (va + vb) ** 2 / ((va * va) / (na - 1) + (vb * vb) / (nb - 1))
    crit = t_ppf(1.0 - alpha / 2.0, df)
    shrunk = max(0.0, abs(diff) - w)
    out.update(t=math.copysign(shrunk / se, diff), df=df, p=t_sf2(shrunk / se, df),
               ci_lo=diff - crit * se - w, ci_hi=diff + crit * se + w, crit=crit)
    return out


def mde(w: Dict[str, float], alpha: float = 0.05, power: float = 0.8,
        n_a: Optional[int] = None, n_b: Optional[int] = None) -> float:
    """Minimum detectable effect (on the test's scale) of a Welch test like `w` (a
    welch_floored() result) at n_a / n_b reps (default: the reps it had): the true
    difference that is significant at alpha with probability `power`, plus the rounding
    allowance w['w'].  (t_{1-alpha/2} + t_{power}) * se, with Welch's df."""
    na, nb = n_a or w["n_a"], n_b or w["n_b"]
    va, vb = w["var_a"] / na, w["var_b"] / nb
    se = math.sqrt(va + vb)
    if se == 0.0:
        return w["w"]
    df = (va + vb) ** 2 / ((va * va) / (na - 1) + (vb * vb) / (nb - 1))
    return (t_ppf(1.0 - alpha / 2.0, df) + t_ppf(power, df)) * se + w["w"]


def reps_needed(w: Dict[str, float], effect: float, alpha: float = 0.05, power: float = 0.8,
                max_reps: int = 100000) -> Optional[int]:
    """Smallest n (reps per side, >= 2) whose MDE is at most `effect` (same scale as the
    test): with that many reps a true change of `effect` is found significant with
    probability `power`, and a true change of 0 gives an interval narrower than `effect`
    on each side.  None when even max_reps would not do (the limit is finer than the
    resolution, or absurdly small)."""
    if effect <= w["w"]:
        return None
    if mde(w, alpha, power, max_reps, max_reps) > effect:
        return None
    if mde(w, alpha, power, 2, 2) <= effect:
        return 2
    lo, hi = 2, max_reps                       # mde(lo) > effect >= mde(hi); mde falls with n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mde(w, alpha, power, mid, mid) <= effect:
            hi = mid
        else:
            lo = mid
    return hi


def holm(pvals: Sequence[Optional[float]]) -> List[Optional[float]]:
    """Holm's step-down adjusted p-values (None stays None).  Rejecting where the adjusted
    p < alpha keeps the chance of ANY false rejection in the family <= alpha, whatever the
    dependence between the tests."""
    idx = sorted((i for i, p in enumerate(pvals) if p is not None), key=lambda i: pvals[i])
    m = len(idx)
    out: List[Optional[float]] = [None] * len(pvals)
    running = 0.0
    for k, i in enumerate(idx):
        running = max(running, min(1.0, (m - k) * pvals[i]))
        out[i] = running
    return out


def median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


# Leave-one-out MAD multipliers that a sample of n normal values exceeds anywhere in only
# ~1 % of samples (seeded simulation, 20 000 samples per n): with few reps the MAD itself is
# so noisy that "3 MADs" would flag 20-30 % of perfectly normal sides.
_OUTLIER_K = {5: 32.0, 6: 32.0, 7: 16.0, 8: 16.0, 9: 10.5, 10: 10.5, 11: 8.7, 12: 8.7}


def outlier_k(n: int) -> float:
    if n in _OUTLIER_K:
        return _OUTLIER_K[n]
    return 6.8 if n <= 16 else 6.0 if n <= 20 else 5.3 if n <= 30 else 5.0


def mad_outliers(xs: Sequence[float], k: Optional[float] = None,
                 floor: float = 0.0) -> List[int]:
    """Indices of values far from the others: |x_i - median(others)| > k * s(others), with
    s = 1.4826 * MAD (the normal-consistent sigma; when the MAD is 0 because most others are
    equal, 1.2533 * their mean absolute deviation), floored at `floor` (the resolution) so
    values a rounding step apart are never outliers.  Leaving x_i out keeps a gross outlier
    from inflating its own yardstick.  k defaults to outlier_k(n), calibrated for a ~1 %
    false-flag rate per sample of normal values; no flags below 5 values (3 or 4 reps cannot
    tell an outlier from noise)."""
    n = len(xs)
    if n < 5:
        return []
    k = outlier_k(n) if k is None else k
    out = []
    for i, x in enumerate(xs):
        others = list(xs[:i]) + list(xs[i + 1:])
        med = median(others)
        dev = [abs(y - med) for y in others]
        s = 1.4826 * median(dev)
        if s == 0.0:
            s = 1.2533 * mean(dev)
        s = max(s, floor)
        if (abs(x - med) > k * s) if s > 0.0 else (x != med):
            out.append(i)
    return out


def trend(xs: Sequence[float], order: Optional[Sequence[float]] = None,
          floor: float = 0.0) -> Optional[Dict[str, float]]:
    """Least-squares slope of xs over run order and its two-sided p-value (t-test on the
    slope, df = n - 2); residual variance floored at floor^2/12.  None for < 4 values: with
    3 points one degree of freedom is too little to call anything a drift."""
    n = len(xs)
    if n < 4:
        return None
    t_ = list(order) if order is not None else list(range(n))
    mt, mx = mean(t_), mean(xs)
    stt = sum((ti - mt) ** 2 for ti in t_)
    if stt == 0:
        return None
    slope = sum((ti - mt) * (xi - mx) for ti, xi in zip(t_, xs)) / stt
    resid = sum((xi - mx - slope * (ti - mt)) ** 2 for ti, xi in zip(t_, xs)) / (n - 2)
    resid = max(resid, floor * floor / 12.0)
    if resid <= 0.0:
        return {"slope": slope, "p": 1.0 if slope == 0 else 0.0}
    tval = slope / math.sqrt(resid / stt)
    return {"slope": slope, "p": t_sf2(tval, n - 2)}
