"""Mutual information between every feature and the binary failure indicator of a group.

Two estimators:

* ``knn`` - the values of scikit-learn's ``mutual_info_classif(X, y, random_state=seed)``, the
  k-nearest-neighbour estimator (3 neighbours) that the original Barlow code uses, computed
  for all features at once by sorting and searching each column (``analysis_core.knn_mi``)
  instead of building neighbour trees feature by feature.
* ``fast`` - a plug-in estimate on equal-frequency (quantile) bins, computed for all features at
  once: each column is cut at its own quantiles, a (bin x failure) contingency table is counted
  for every column with one ``bincount``, and MI is read off the tables, with the Miller-Madow
  correction for the number of occupied bins. Tied values (ReLU zeros) always share a bin, so a
  feature that is mostly zero is not credited with information it does not have.

Both return MI in nats; their scales differ slightly but the ranking - which is all that
feature selection uses - agrees on strong features (see tests/analysis/test_mutual_info.py).
"""

from __future__ import annotations

import numpy as np

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.parameters import MI_METHODS as METHODS


def auto_bins(n_rows: int) -> int:
    """Bins per feature for the fast estimator: about n^(1/3), between 2 and 20.

    Few bins keep the plug-in estimate's bias small in small groups; ~10 bins for an ImageNet
    class (1300 images) resolve thresholds finely enough to rank features by split quality.
    """
    return int(np.clip(round(n_rows ** (1 / 3)), 2, 20))


def quantile_bins(X: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index (0..n_bins-1) of every value, cutting each column at its own quantiles.

    Ties never straddle a cut: a value's bin is the number of cut points strictly below it.
    Returns uint8 of the shape of X.
    """
    n = X.shape[0]
    # Sorting the transposed (features x rows) copy keeps each column contiguous.
    sorted_t = np.sort(np.ascontiguousarray(X.T), axis=1)
    cut_rows = (np.arange(1, n_bins) * n) // n_bins
    cuts = sorted_t[:, cut_rows]  # (n_features, n_bins - 1)
    bins = np.zeros(X.shape, dtype=np.uint8)
    for j in range(n_bins - 1):
        bins += X > cuts[:, j]
    return bins


def mutual_info_fast(
    X: np.ndarray, y: np.ndarray, n_bins: int | None = None, return_plugin: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Quantile-binned plug-in MI (nats) of each column of X with binary y, Miller-Madow corrected.

    The corrected value is clipped at 0 (as scikit-learn clips its estimate). In a small group
    the correction can zero every feature; ``return_plugin=True`` also returns the uncorrected
    estimate, which ``top_features`` uses to break such ties.
    """
    X = np.asarray(X)
    y = np.asarray(y).astype(bool)
    n, n_features = X.shape
    if n_bins is None:
        n_bins = auto_bins(n)
    bins = quantile_bins(X, n_bins)
    # One flat index per value (feature * n_bins + bin) turns all contingency tables into two bincounts.
    size = n_features * n_bins
    index_dtype = np.int32 if size < 2**31 else np.int64
    flat = bins.astype(index_dtype)
    flat += (np.arange(n_features, dtype=index_dtype) * n_bins)[None, :]
    count_all = np.bincount(flat.ravel(), minlength=size).reshape(n_features, n_bins)
    count_fail = np.bincount(flat[y].ravel(), minlength=size).reshape(n_features, n_bins)
    count_ok = count_all - count_fail
    n_fail = int(y.sum())
    p_fail = n_fail / n
    h_y = _entropy_binary(np.array([p_fail]))[0]
    # H(Y | bin) = sum_b p(b) H(Y | b); MI = H(Y) - H(Y | bin).
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(count_all > 0, count_fail / np.maximum(count_all, 1), 0.0)
    h_cond = (count_all / n * _entropy_binary(rate)).sum(axis=1)
    plugin = np.maximum(h_y - h_cond, 0.0)
    # Miller-Madow: the plug-in estimate is biased up by (occupied bins - 1)(classes - 1) / 2n,
    # so features with many distinct values would otherwise beat mostly-zero (ReLU) ones by chance.
    occupied = (count_all > 0).sum(axis=1)
    both_classes = 1 if (n_fail > 0 and count_ok.sum() > 0) else 0
    mi = np.maximum(plugin - (occupied - 1) * both_classes / (2 * n), 0.0)
    return (mi, plugin) if return_plugin else mi


def _entropy_binary(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log(p), 0.0) + np.where(p < 1, (1 - p) * np.log(1 - p), 0.0))
    return h


def mutual_info_knn(X: np.ndarray, y: np.ndarray, random_state: int = 0) -> np.ndarray:
    """The original Barlow estimator: scikit-learn's k-NN mutual_info_classif (3 neighbours), same values."""
    from analysis_core.knn_mi import mutual_info_knn_exact

    return mutual_info_knn_exact(X, np.asarray(y).astype(int), random_state=random_state)


def mutual_information(
    X: np.ndarray, y: np.ndarray, method: str = "fast", random_state: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mutual information of every column of X with the binary failure indicator y.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Feature matrix (float32 or float64).
    y : ndarray of shape (n_samples,)
        Failure indicator (bool or 0/1).
    method : {"fast", "knn"}, default="fast"
        "fast": vectorized quantile bins, bias-corrected; "knn": scikit-learn's 3-neighbour
        ``mutual_info_classif`` values, as in the original code (about 10x slower).
    random_state : int, default=0
        Seed of the k-NN estimator's noise.

    Returns
    -------
    mi : ndarray of shape (n_features,)
        Mutual information in nats.
    tiebreak : ndarray of shape (n_features,) or None
        A secondary ranking score (the fast estimator's uncorrected plug-in value), or None.

    Raises
    ------
    BarlowError
        ``method`` is not one of ``METHODS``.
    """
    if method == "fast":
        return mutual_info_fast(X, y, return_plugin=True)
    if method == "knn":
        return mutual_info_knn(X, y, random_state=random_state), None
    raise BarlowError(f"unknown mutual-information estimator '{method}' (choose from {', '.join(METHODS)})")


def top_features(mi: np.ndarray, k: int, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """Indices of the k largest MI values, largest first; ties by ``tiebreak`` (larger first), then lower id."""
    k = min(k, mi.shape[0])
    ids = np.arange(mi.shape[0])
    secondary = np.zeros_like(mi) if tiebreak is None else tiebreak
    return np.lexsort((ids, -secondary, -mi))[:k]
