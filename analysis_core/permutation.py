"""Is there any failure mode in this group at all? A permutation test of ALER - BER.

Under the null hypothesis that failures do not depend on the features within the group,
every shuffle of the failure flags among the group's rows is as likely as the observed one.
For each shuffle, the whole procedure - feature selection by binned mutual information and the
tree - is refitted and its in-sample ALER - BER recorded. The statistic is always computed with
the binned estimator and ``binned_kernels.grow_tree`` (for the observed flags and every shuffle
alike), whatever estimator chose the displayed tree's features; it tests the same hypothesis.
The refits share the group's bins and column sort orders (``analysis_core.refits``).

The p-value, with at most P shuffles (``n_permutations``):

* fixed (``stop_at=None``): ``p = (1 + #{shuffled >= observed}) / (P + 1)``, exact at any group size;
* sequential (``stop_at=h``, Besag & Clifford 1991): shuffles are drawn one after another and the
  test stops at the h-th shuffle that reaches the observed statistic; stopped after L shuffles,
  ``p = h / L``; never stopped, p is the fixed test's. This p-value is valid (under the null,
  P(p <= u) <= u for every u). With ``h = floor(alpha * P) + 1`` (``stop_count``), a stopped test has
  ``p >= h / P > alpha``, and a test whose fixed p-value is <= alpha never stops, so every call at
  level alpha (and, with Benjamini-Hochberg across groups, every q-value <= alpha) is the fixed
  test's; only p-values above alpha come out coarser. A group without a failure mode then costs
  about h / p shuffles (e.g. 12 instead of 100 for p = 0.5).
"""

from __future__ import annotations

import numpy as np

CHUNK = 63  # label vectors refitted together (with the column of ones, 64 counted per row)
FIRST_CHUNK = 15  # a group without a failure mode often stops after ~12 shuffles: start small, then double


def stop_count(alpha: float, n_permutations: int) -> int:
    """Besag-Clifford's h for level alpha: the smallest count at which a stopped p-value exceeds alpha."""
    return int(np.floor(alpha * n_permutations)) + 1


def statistics(refits, Y: np.ndarray) -> np.ndarray:
    """In-sample ALER - BER of the refitted procedure for each row of Y (vectors x rows, 0/1)."""
    Y = np.ascontiguousarray(Y, dtype=np.uint8)
    return refits.aler_minus_ber(refits.select(Y), Y)


def permutation_test(tree, X: np.ndarray, failure: np.ndarray, n_permutations: int, random_state=0,
                     stop_at: int | None = None, refits=None, device: str = "cpu") -> dict:
    """Observed ALER - BER (binned MI), the shuffled ones' mean, and the permutation p-value.

    ``tree`` supplies the settings (depth, top-k, minimum leaf size) and is not modified;
    ``refits`` (an ``analysis_core.refits.GroupRefits`` of X) shares work with cross-fitting.
    """
    from analysis_core.refits import GroupRefits

    failure = np.asarray(failure).astype(bool)
    if refits is None:
        refits = GroupRefits(X, tree.top_k, tree.depth, tree.min_samples_leaf, device)
    rng = np.random.default_rng(random_state)
    null: list[float] = []
    exceed = 0
    stopped = False
    observed = None
    size = FIRST_CHUNK if stop_at is not None else CHUNK
    while observed is None or (len(null) < n_permutations and not stopped):
        # The shuffles are drawn in the same order whatever the block sizes: they change no result.
        block = [rng.permutation(failure) for _ in range(min(size, n_permutations - len(null)) - (observed is None))]
        size = min(2 * size + 1, CHUNK)
        values = statistics(refits, np.stack(([failure] if observed is None else []) + block))
        if observed is None:  # the observed flags ride with the first shuffles
            observed, values = float(values[0]), values[1:]
        for value in values:
            null.append(float(value))
            # A tolerance keeps shuffles that tie the observed value (up to rounding) on the null's side.
            exceed += value >= observed - 1e-12
            if stop_at is not None and exceed >= stop_at:
                stopped = True
                break
    n_run = len(null)
    if not n_run:
        p_value = float("nan")
    elif stopped:
        p_value = stop_at / n_run
    else:
        p_value = (1 + exceed) / (1 + n_run)
    return {
        "statistic": observed,
        "null_mean": float(np.mean(null)) if n_run else float("nan"),
        "p_value": p_value,
        "n_permutations": int(n_run),
        "max_permutations": int(n_permutations),
        "stopped_early": stopped,
    }
