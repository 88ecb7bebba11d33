"""The statistics of a difference between two groups of runs: a 95% bootstrap interval never narrower than
Welch's t interval (``gitxp compare``, ``gitxp report`` and ``gitxp bisect`` decide on it)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["bootstrap_ci", "welch_interval", "t_quantile_975", "BOOTSTRAP_SAMPLES", "BOOTSTRAP_EXACT"]

BOOTSTRAP_SAMPLES = 5000
BOOTSTRAP_EXACT = 10_000  # values per side resampled one by one; more: the normal limit (see bootstrap_ci)


def bootstrap_ci(
    a: list[float], b: list[float], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[float, float] | None:
    """95% percentile-bootstrap interval of mean(b) - mean(a); None when a side has fewer than 2 values.

    Vectorised with numpy, in blocks of resamples so that memory stays bounded (5,000 resamples of 30,000
    values each would otherwise be a 150 M-element index array). A side of more than ``BOOTSTRAP_EXACT``
    values draws its resampled means from their normal limit, with the bootstrap's own mean and variance
    (mean, population variance / n): by then the central limit theorem makes the two indistinguishable within
    the Monte-Carlo error of 5,000 resamples, and drawing them costs 5,000 numbers instead of 5,000 x n."""
    if len(a) < 2 or len(b) < 2:
        return None
    import numpy as np

    rng = np.random.default_rng(seed)
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mean_a = _resampled_means(va, samples, rng)
    low, high = _percentiles(_resampled_means(vb, samples, rng) - mean_a, samples)
    t_low, t_high = welch_interval(va, vb)
    return min(low, t_low), max(high, t_high)


def welch_interval(va: Any, vb: Any) -> tuple[float, float]:
    """Welch's 95% t interval of mean(b) - mean(a) (unequal variances, Welch-Satterthwaite degrees of freedom).

    ``bootstrap_ci`` never reports less than this: a percentile bootstrap of a handful of runs is too narrow (with
    3 runs a side it calls an unchanged metric significantly different about 19% of the time instead of 5%,
    because it uses the spread of 3 values as if it were known), and ``gitxp bisect`` and ``gitxp report`` decide on
    3-5 runs. With many runs the two intervals agree and the bootstrap's is kept."""
    va_n, vb_n = len(va), len(vb)
    var_a, var_b = float(va.var(ddof=1)) / va_n, float(vb.var(ddof=1)) / vb_n
    centre = float(vb.mean() - va.mean())
    se = math.sqrt(var_a + var_b)
    if se == 0.0:
        return centre, centre
    bottom = var_a**2 / (va_n - 1) + var_b**2 / (vb_n - 1)
    df = (var_a + var_b) ** 2 / bottom if bottom > 0 else math.inf
    half = t_quantile_975(df) * se
    return centre - half, centre + half


def t_quantile_975(df: float) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom, rounded down to whole degrees (so never
    smaller than the exact one): exact for 1 and 2, the Cornish-Fisher series (Abramowitz & Stegun 26.7.5,
    error below 0.15% from 3 on) above."""
    z = 1.959963984540054
    if not math.isfinite(df) or df > 1e6:
        return z
    k = max(1, math.floor(df))
    if k == 1:
        return math.tan(math.pi * 0.475)
    if k == 2:
        return 0.95 / math.sqrt(2 * 0.975 * 0.025)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / k + g2 / k**2 + g3 / k**3 + g4 / k**4


def _resampled_means(values: Any, samples: int, rng: Any) -> Any:
    """The means of ``samples`` bootstrap resamples of ``values``."""
    import numpy as np

    n = len(values)
    if n > BOOTSTRAP_EXACT:
        return rng.normal(values.mean(), values.std() / math.sqrt(n), size=samples)
    means = np.empty(samples, dtype=np.float64)
    block = max(1, min(samples, 4_000_000 // n))
    for start in range(0, samples, block):
        count = min(block, samples - start)
        means[start : start + count] = values[rng.integers(0, n, size=(count, n), dtype=np.int32)].mean(
            axis=1
        )
    return means


def _percentiles(diffs: Any, samples: int) -> tuple[float, float]:
    diffs.sort()
    return float(diffs[int(0.025 * samples)]), float(diffs[min(samples - 1, int(0.975 * samples))])
