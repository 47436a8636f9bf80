"""Is there any failure mode in this group at all? A permutation test of ALER - BER.

Under the null hypothesis that failures do not depend on the features within the group,
every shuffle of the failure flags among the group's rows is as likely as the observed one.
For each of P shuffles, the whole procedure - feature selection by mutual information and the
tree - is refitted and its in-sample ALER - BER recorded; the p-value is the share of shuffles
(counting the observed data as one) whose ALER - BER reaches the observed one:
``p = (1 + #{shuffled >= observed}) / (P + 1)``, exact at any group size.

Speed: the rows' feature values never change between shuffles, only the flags, so the
quantile bins of the binned (``fast``) estimator are computed once, and the failure counts
per (feature, bin) of all shuffles come from one matrix product per bin. The statistic is
therefore always computed with the binned estimator (for the observed flags and every
shuffle alike), whatever estimator chose the displayed tree's features; it tests the same
hypothesis. The depth <= 3 tree on the top-k columns is regrown per shuffle by a small NumPy
version of scikit-learn's best-split entropy tree (``tree_leaf_counts``): each column is
sorted once per group, a node's split scores for all columns and cut points come from
cumulative sums, and none of scikit-learn's per-fit input checking is paid 100 times.
"""

from __future__ import annotations

import numpy as np

from analysis_core.mutual_info import _entropy_binary, auto_bins, quantile_bins, top_features

CHUNK = 64  # shuffles whose contingency tables are counted together


def binned_mi_many(bins: np.ndarray, n_bins: int, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Miller-Madow corrected and plug-in binned MI of every column for each row of Y (shuffles x rows).

    Same formulas as ``mutual_info.mutual_info_fast``; Y holds 0/1 failure flags.
    """
    n, n_features = bins.shape
    Y = np.asarray(Y).astype(bool)
    offsets = np.arange(n_features, dtype=np.int64) * n_bins
    count_all = np.bincount((bins + offsets).ravel(), minlength=n_features * n_bins).reshape(n_features, n_bins)
    count_all = count_all.astype(np.float64)
    # Count the smaller class of each shuffle (every shuffle has the same number of failures)
    # with one bincount over its rows' bins; the other class is the remainder.
    n_fail = Y.sum(axis=1).astype(np.float64)
    minority_is_fail = n_fail[0] <= n / 2
    rows = np.stack([np.flatnonzero(flags if minority_is_fail else ~flags) for flags in Y])  # shuffles x m
    count_fail = np.empty((len(Y), n_features, n_bins))
    per_chunk = max(1, int(4e6 // max(1, rows.shape[1] * n_features)))
    for start in range(0, len(Y), per_chunk):
        block = rows[start : start + per_chunk]
        flat = bins[block].astype(np.int64) + offsets  # shuffles x m x f
        flat += (np.arange(len(block), dtype=np.int64) * n_features * n_bins)[:, None, None]
        counts = np.bincount(flat.ravel(), minlength=len(block) * n_features * n_bins)
        count_fail[start : start + len(block)] = counts.reshape(len(block), n_features, n_bins)
    if not minority_is_fail:
        count_fail = count_all[None] - count_fail
    p_fail = n_fail / n
    h_y = _entropy_binary(p_fail)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(count_all > 0, count_fail / np.maximum(count_all, 1), 0.0)
    h_cond = (count_all / n * _entropy_binary(rate)).sum(axis=2)
    plugin = np.maximum(h_y - h_cond, 0.0)
    occupied = (count_all > 0).sum(axis=1)
    both = ((n_fail > 0) & (n_fail < n)).astype(np.float64)[:, None]
    mi = np.maximum(plugin - (occupied - 1)[None, :] * both / (2 * n), 0.0)
    return mi, plugin


FEATURE_THRESHOLD = 1e-7  # scikit-learn's: values closer than this are not split apart


def _xlogx(a: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, a * np.log(np.where(a > 0, a, 1.0)), 0.0)


def _weighted_entropy_sum(w0: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """total * H(class | node) for weighted class counts w0, w1 (natural log)."""
    total = w0 + w1
    return _xlogx(total) - _xlogx(w0) - _xlogx(w1)


def tree_leaf_counts(X_sorted_idx: np.ndarray, X_sel: np.ndarray, failure: np.ndarray, depth: int, min_leaf: int):
    """(rows, failures) of each leaf of the entropy tree scikit-learn's DecisionTreeClassifier grows with
    Barlow's settings (class weights {0: 1, 1: n_success / n_failure}, best split, depth-first).

    ``X_sorted_idx`` holds each column's row order (argsort). Ties between equally good splits may be
    broken differently from scikit-learn; the permutation test computes this same function for the
    observed flags and every shuffle, which is all its validity needs.
    """
    n, n_cols = X_sel.shape
    n_fail = int(failure.sum())
    w_fail = (n - n_fail) / n_fail
    leaves = []
    stack = [(np.ones(n, dtype=bool), 0)]
    while stack:
        mask, level = stack.pop()
        m = int(mask.sum())
        k = int(failure[mask].sum())
        pure = k == 0 or k == m
        if level >= depth or pure or m < 2 or m < 2 * min_leaf:
            leaves.append((m, k))
            continue
        keep = mask[X_sorted_idx]  # n x cols, m True per column
        order = X_sorted_idx.T[keep.T].reshape(n_cols, m)  # node rows of each column, sorted by value
        values = np.take_along_axis(X_sel.T, order, axis=1)
        y = failure[order]
        left1 = np.cumsum(y, axis=1)[:, :-1].astype(np.float64)  # failures left of the cut after position i
        left_n = np.arange(1, m, dtype=np.float64)[None, :]
        left0 = left_n - left1
        right1, right0 = k - left1, (m - k) - left0
        score = -(_weighted_entropy_sum(left0, w_fail * left1) + _weighted_entropy_sum(right0, w_fail * right1))
        ok = values[:, 1:] > values[:, :-1] + FEATURE_THRESHOLD
        ok &= (left_n >= min_leaf) & (m - left_n >= min_leaf)
        if not ok.any():
            leaves.append((m, k))
            continue
        score = np.where(ok, score, -np.inf)
        col, pos = np.unravel_index(int(np.argmax(score)), score.shape)
        goes_left = np.zeros(n, dtype=bool)
        goes_left[order[col, : pos + 1]] = True
        stack.append((mask & ~goes_left, level + 1))
        stack.append((mask & goes_left, level + 1))
    return leaves


def _aler_minus_ber(tree, X_sel: np.ndarray, sorted_idx: np.ndarray, failure: np.ndarray) -> float:
    leaves = tree_leaf_counts(sorted_idx, X_sel, failure, tree.depth, tree.min_samples_leaf)
    n_fail = failure.sum()
    aler = sum(k * k / m for m, k in leaves if m) / n_fail
    return float(aler - n_fail / len(failure))


def permutation_test(tree, X: np.ndarray, failure: np.ndarray, n_permutations: int, random_state: int = 0) -> dict:
    """Observed ALER - BER (binned MI), the shuffled ones' mean, and the permutation p-value.

    ``tree`` supplies the settings (depth, top-k, minimum leaf size) and is not modified.
    """
    failure = np.asarray(failure).astype(bool)
    X = np.asarray(X, dtype=np.float32)
    n = len(failure)
    n_bins = auto_bins(n)
    bins = quantile_bins(X, n_bins)
    column_order: dict[int, np.ndarray] = {}  # each column's row order, sorted once when first selected
    rng = np.random.default_rng(random_state)
    shuffles = np.stack([rng.permutation(failure) for _ in range(n_permutations)]) if n_permutations else None
    Y = failure[None, :] if shuffles is None else np.vstack([failure[None, :], shuffles])
    stats = np.empty(len(Y))
    for start in range(0, len(Y), CHUNK):
        block = Y[start : start + CHUNK]
        mi, plugin = binned_mi_many(bins, n_bins, block)
        for i, flags in enumerate(block):
            selected = top_features(mi[i], tree.top_k, plugin[i])
            for j in selected:
                if j not in column_order:
                    column_order[j] = np.argsort(X[:, j], kind="stable")
            sorted_idx = np.stack([column_order[j] for j in selected], axis=1)
            stats[start + i] = _aler_minus_ber(tree, X[:, selected], sorted_idx, flags)
    observed, null = stats[0], stats[1:]
    # A tolerance keeps shuffles that tie the observed value (up to rounding) on the null's side.
    exceed = int(np.count_nonzero(null >= observed - 1e-12))
    return {
        "statistic": float(observed),
        "null_mean": float(null.mean()) if len(null) else float("nan"),
        "p_value": (1 + exceed) / (1 + len(null)) if len(null) else float("nan"),
        "n_permutations": int(len(null)),
    }
