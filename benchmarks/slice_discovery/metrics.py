"""dcbench's slice-discovery metrics: precision-at-k and AUROC of slice membership, best predicted slice per true slice.

A slicer hands over predicted slices as score columns (one per slice, higher = more inside);
the true slice is a boolean vector over the same images. Ties are broken by expectation (as
if at random), so a slicer gets no credit for the order its scores happen to be stored in.
"""

from __future__ import annotations

import numpy as np


def _finite(scores: np.ndarray) -> np.ndarray:
    """-inf (outside a slicer's reach, e.g. another class) becomes a value below every finite score."""
    scores = np.asarray(scores, dtype=float)
    if np.isnan(scores).any():
        raise ValueError("slice scores contain NaN")
    finite = scores[np.isfinite(scores)]
    low = finite.min() - 1.0 if len(finite) else 0.0
    high = finite.max() + 1.0 if len(finite) else 0.0
    return np.where(scores == -np.inf, low, np.where(scores == np.inf, high, scores))


def precision_at_k(scores: np.ndarray, in_slice: np.ndarray, k: int) -> float:
    """Fraction of the k highest-scored images that are in the slice (ties at the cut shared pro rata)."""
    scores = _finite(scores)
    in_slice = np.asarray(in_slice, dtype=bool)
    if len(scores) != len(in_slice):
        raise ValueError(f"{len(scores)} scores but {len(in_slice)} slice flags")
    k = min(int(k), len(scores))
    if k < 1:
        raise ValueError("k must be at least 1")
    cut = np.sort(scores)[::-1][k - 1]
    above = scores > cut
    tied = scores == cut
    slots = k - int(above.sum())
    hits = in_slice[above].sum() + slots * in_slice[tied].mean()
    return float(hits / k)


def auroc(scores: np.ndarray, in_slice: np.ndarray) -> float:
    """Area under the ROC curve of slice membership (ties count one half); NaN without both classes."""
    from scipy.stats import rankdata

    scores = _finite(scores)
    in_slice = np.asarray(in_slice, dtype=bool)
    n_pos, n_neg = int(in_slice.sum()), int((~in_slice).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[in_slice].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def best_slice(slice_scores: np.ndarray, in_slice: np.ndarray, ks=(10, 25, 100)) -> dict:
    """Each metric's best value over the predicted slices (columns of ``slice_scores``), as dcbench keeps them.

    With no predicted slice at all every metric is 0 precision and 0.5 AUROC (a random ranking).
    """
    slice_scores = np.asarray(slice_scores, dtype=float)
    if slice_scores.ndim == 1:
        slice_scores = slice_scores[:, None]
    out = {f"precision_at_{k}": 0.0 for k in ks}
    out["auroc"] = 0.5
    out["best_slice"] = -1
    for j in range(slice_scores.shape[1]):
        column = slice_scores[:, j]
        for k in ks:
            out[f"precision_at_{k}"] = max(out[f"precision_at_{k}"], precision_at_k(column, in_slice, k))
        value = auroc(column, in_slice)
        if value == value and value > out["auroc"]:
            out["auroc"], out["best_slice"] = value, j
    return out
