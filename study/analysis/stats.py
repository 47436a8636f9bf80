"""Descriptive statistics of Likert and choice answers, and bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np


def at_least_counts(item_means: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each threshold t, the number of items whose mean answer is ≥ t (Figure 9a's curve).

    Items without a mean (no answers) are not counted.
    """
    means = np.asarray(item_means, dtype=float)
    means = np.sort(means[~np.isnan(means)])
    # Items with mean ≥ t = all items minus those strictly below t.
    return len(means) - np.searchsorted(means, np.asarray(thresholds, dtype=float), side="left")


def group_means(values: np.ndarray, item_index: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-item mean and count of numeric answers (NaN = missing, left out)."""
    keep = ~np.isnan(values)
    sums = np.bincount(item_index[keep], weights=values[keep], minlength=n_items)
    counts = np.bincount(item_index[keep], minlength=n_items)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    means[counts == 0] = np.nan
    return means, counts


def bootstrap_proportions(
    table: np.ndarray, n_resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CIs for the share of answers in each category.

    Items, not answers, are resampled (with all their answers), because answers to the
    same item are not independent. ``table`` is items × categories counts.
    Returns (low, high), one value per category.
    """
    table = np.asarray(table, dtype=float)
    table = table[table.sum(axis=1) > 0]
    k = table.shape[1]
    if len(table) == 0:
        return np.full(k, np.nan), np.full(k, np.nan)
    rng = np.random.default_rng(seed)
    shares = np.empty((n_resamples, k))
    # Chunks keep memory flat for big studies (2000 × 1200 indices is fine, 2000 × 1e6 is not).
    chunk = max(1, int(2e6 // max(len(table), 1)))
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        picks = rng.integers(0, len(table), size=(stop - start, len(table)))
        weights = np.apply_along_axis(np.bincount, 1, picks, minlength=len(table))
        totals = weights @ table
        shares[start:stop] = totals / totals.sum(axis=1, keepdims=True)
    alpha = (1 - level) / 2
    return np.quantile(shares, alpha, axis=0), np.quantile(shares, 1 - alpha, axis=0)


def bootstrap_mean(
    item_values: np.ndarray, n_resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-item values (NaN left out)."""
    values = np.asarray(item_values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(n_resamples, len(values)))
    means = values[picks].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
