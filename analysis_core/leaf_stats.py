"""Uncertainty for leaf error rates: Wilson intervals, binomial tests against BER, BH correction.

A leaf of 12 images with 6 failures has ER 0.5, but so might chance; these numbers tell a
user how far to trust a failure mode before spending crowd money on it.
"""

from __future__ import annotations

import numpy as np


def wilson_interval(n_fail, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for the failure rate n_fail / n (arrays allowed; NaN where n == 0)."""
    from statsmodels.stats.proportion import proportion_confint

    n_fail = np.asarray(n_fail, dtype=float)
    n = np.asarray(n, dtype=float)
    low = np.full(np.broadcast(n_fail, n).shape, np.nan)
    high = low.copy()
    ok = n > 0
    if ok.any():
        lo, hi = proportion_confint(n_fail[ok], n[ok], alpha=1 - confidence, method="wilson")
        # Rounding can put the bound a hair inside the estimate at 0 or 1 failures; keep ER inside.
        rate = n_fail[ok] / n[ok]
        low[ok], high[ok] = np.minimum(lo, rate), np.maximum(hi, rate)
    return low, high


def binomial_p_greater(n_fail, n, base_rate) -> np.ndarray:
    """One-sided p-value of seeing at least n_fail failures in n rows if the true rate were base_rate."""
    from scipy.stats import binom

    n_fail = np.asarray(n_fail, dtype=float)
    n = np.asarray(n, dtype=float)
    base_rate = np.broadcast_to(np.asarray(base_rate, dtype=float), np.broadcast(n_fail, n).shape)
    p = np.full(np.broadcast(n_fail, n).shape, np.nan)
    ok = n > 0
    # P(X >= k) = sf(k - 1).
    p[ok] = binom.sf(n_fail[ok] - 1, n[ok], base_rate[ok])
    return np.clip(p, 0.0, 1.0)


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values (statsmodels ``fdr_bh``); NaN p-values stay NaN and are not counted."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q
