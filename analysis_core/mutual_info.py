"""Mutual information between every feature and the binary failure indicator of a group.

Two estimators:

* ``knn`` - the values of scikit-learn's ``mutual_info_classif(X, y, random_state=seed)``, the
  k-nearest-neighbour estimator (3 neighbours) that the original Barlow code uses, computed
  for all features at once by sorting and searching each column (``analysis_core.knn_mi``)
  instead of building neighbour trees feature by feature.
* ``fast`` - a plug-in estimate on equal-frequency (quantile) bins, computed for all features at
  once: each column is cut at its own quantiles, a (bin x failure) contingency table is counted
  for every column in one pass (``binned_kernels.count_by_bin``, compiled by numba when it is
  installed), and MI is read off the tables, with the Miller-Madow
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


def column_bins(X: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index (0..n_bins-1) of every value, cutting each column at its own quantiles.

    Ties never straddle a cut: a value's bin is the number of cut points strictly below it.
    Returns uint8 features x rows (each feature's bins contiguous).
    """
    from analysis_core.binned_kernels import transpose

    X = np.asarray(X, dtype=np.float32)
    return column_bins_of_transposed(transpose(X, np.empty((X.shape[1], X.shape[0]), dtype=np.float32)), n_bins)


def column_bins_of_transposed(Xt: np.ndarray, n_bins: int) -> np.ndarray:
    """``column_bins`` of the features x rows float32 matrix Xt."""
    from analysis_core.binned_kernels import bins_from_cuts

    n = Xt.shape[1]
    cut_rows = (np.arange(1, n_bins) * n) // n_bins
    cuts = np.ascontiguousarray(np.sort(Xt, axis=1)[:, cut_rows])  # (n_features, n_bins - 1)
    return bins_from_cuts(Xt, cuts, np.empty(Xt.shape, dtype=np.uint8))


def quantile_bins(X: np.ndarray, n_bins: int) -> np.ndarray:
    """``column_bins`` in the shape of X (rows x features)."""
    return column_bins(X, n_bins).T


def xlogx_table(n: int) -> np.ndarray:
    """k log k for k = 0..n (0 log 0 = 0): every entropy of counts below is a sum of these."""
    k = np.arange(n + 1, dtype=np.float64)
    return k * np.log(np.maximum(k, 1.0))


def binned_mi(count_all, count_fail, n, n_fail, table):
    """Miller-Madow corrected and plug-in MI (nats) from per-bin counts, bins on axis 1.

    ``count_all`` / ``count_fail``: integer counts (features x bins [x vectors]); ``n`` / ``n_fail``:
    rows and failures of each vector (scalars or arrays broadcasting against the result);
    ``table = xlogx_table(max n)``. Written with operations NumPy arrays and torch tensors share, so
    one function serves both backends. H(Y | bin) * n = sum_b [c log c - c1 log c1 - c0 log c0].
    """
    n_cond = (table[count_all] - table[count_fail] - table[count_all - count_fail]).sum(axis=1)
    n_y = table[n] - table[n_fail] - table[n - n_fail]
    plugin = ((n_y - n_cond) / n).clip(min=0.0)
    # Miller-Madow: the plug-in estimate is biased up by (occupied bins - 1)(classes - 1) / 2n,
    # so features with many distinct values would otherwise beat mostly-zero (ReLU) ones by chance.
    occupied = (count_all > 0).sum(axis=1)
    both_classes = (n_fail > 0) & (n_fail < n)
    half = n_y * 0 + 0.5  # in the table's float type: torch divides integer tensors in float32
    mi = (plugin - (occupied - 1) * both_classes * half / n).clip(min=0.0)
    return mi, plugin


def mutual_info_fast(
    X: np.ndarray, y: np.ndarray, n_bins: int | None = None, return_plugin: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Quantile-binned plug-in MI (nats) of each column of X with binary y, Miller-Madow corrected.

    The corrected value is clipped at 0 (as scikit-learn clips its estimate). In a small group
    the correction can zero every feature; ``return_plugin=True`` also returns the uncorrected
    estimate, which ``top_features`` uses to break such ties.
    """
    if n_bins is None:
        n_bins = auto_bins(X.shape[0])
    mi, plugin = mi_of_bins(column_bins(X, n_bins), y, n_bins)
    return (mi, plugin) if return_plugin else mi


def mi_of_bins(bins_t: np.ndarray, y: np.ndarray, n_bins: int, table: np.ndarray | None = None):
    """(corrected, plug-in) MI of every feature of ``column_bins`` output ``bins_t`` with binary y."""
    from analysis_core.binned_kernels import count_by_bin, mi_from_counts

    n = bins_t.shape[1]
    W = np.ones((n, 2), dtype=np.uint8)
    W[:, 1] = np.asarray(y).astype(bool)
    table = xlogx_table(n) if table is None else table
    mi, plugin = mi_from_counts(count_by_bin(bins_t, W, n_bins), np.array([1]), np.array([0]), table)
    return mi[0], plugin[0]




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
