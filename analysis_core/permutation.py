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
hypothesis. Only the depth <= 3 tree on the top-k columns is refitted per shuffle.
"""

from __future__ import annotations

import numpy as np

from analysis_core.mutual_info import _entropy_binary, auto_bins, quantile_bins, top_features

CHUNK = 64  # shuffles whose contingency tables are counted together


def binned_mi_many(bins: np.ndarray, n_bins: int, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Miller-Madow corrected and plug-in binned MI of every column for each row of Y (shuffles x rows).

    Same formulas as ``mutual_info.mutual_info_fast``; Y holds 0/1 failure flags.
    """
    n = bins.shape[0]
    Yf = Y.astype(np.float32)
    count_all = np.stack([(bins == b).sum(axis=0) for b in range(n_bins)], axis=1).astype(np.float64)  # f x B
    # Counts are integers below 2^24, exact in float32 products.
    count_fail = np.stack([Yf @ (bins == b).astype(np.float32) for b in range(n_bins)], axis=2).astype(np.float64)
    n_fail = Y.sum(axis=1).astype(np.float64)  # same for every shuffle
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


def _aler_minus_ber(tree, X_selected: np.ndarray, failure: np.ndarray) -> float:
    fitted = tree.fit_tree(X_selected, failure)
    leaf = fitted.apply(X_selected)
    n_leaf = np.bincount(leaf)
    k_leaf = np.bincount(leaf, weights=failure.astype(np.float64))
    n_fail = failure.sum()
    occupied = n_leaf > 0
    aler = float(np.sum(k_leaf[occupied] ** 2 / n_leaf[occupied]) / n_fail)
    return aler - n_fail / len(failure)


def permutation_test(tree, X: np.ndarray, failure: np.ndarray, n_permutations: int, random_state: int = 0) -> dict:
    """Observed ALER - BER (binned MI), the shuffled ones' mean, and the permutation p-value.

    ``tree`` supplies the settings (depth, top-k, minimum leaf size) and is not modified.
    """
    failure = np.asarray(failure).astype(bool)
    n = len(failure)
    n_bins = auto_bins(n)
    bins = quantile_bins(np.asarray(X), n_bins)
    rng = np.random.default_rng(random_state)
    shuffles = np.stack([rng.permutation(failure) for _ in range(n_permutations)]) if n_permutations else None
    Y = failure[None, :] if shuffles is None else np.vstack([failure[None, :], shuffles])
    stats = np.empty(len(Y))
    for start in range(0, len(Y), CHUNK):
        block = Y[start : start + CHUNK]
        mi, plugin = binned_mi_many(bins, n_bins, block)
        for i, flags in enumerate(block):
            selected = top_features(mi[i], tree.top_k, plugin[i])
            X_selected = np.asarray(X[:, selected], dtype=np.float32)
            stats[start + i] = _aler_minus_ber(tree, X_selected, flags)
    observed, null = stats[0], stats[1:]
    # A tolerance keeps shuffles that tie the observed value (up to rounding) on the null's side.
    exceed = int(np.count_nonzero(null >= observed - 1e-12))
    return {
        "statistic": float(observed),
        "null_mean": float(null.mean()) if len(null) else float("nan"),
        "p_value": (1 + exceed) / (1 + len(null)) if len(null) else float("nan"),
        "n_permutations": int(len(null)),
    }
