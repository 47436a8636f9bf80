"""Honest leaf estimates by K-fold cross-fitting: every row is scored once by a tree that did not see it.

The tree a user reads is fitted on the whole group, so its leaves' in-sample error rates are
optimistic: the features, the threshold and the cell were all chosen to make them high. To
estimate how a group's failure modes carry over to images the tree did not see, without
setting any image aside:

1. split the group into K folds, stratified by failure;
2. for each fold, refit the whole procedure (feature selection + tree, same settings) on the
   other K - 1 folds and rank that tree's leaves by their (training) importance value;
3. drop the held-out fold through that tree, and credit each held-out row to the rank of the
   leaf it lands in;
4. pool the held-out counts of each rank over the K folds.

The honest ER/EC of the group's rank-r leaf are the pooled counts of the rank-r leaves; the
binomial test of those counts against BER is honest because no held-out row influenced the
leaf it was credited to, nor that leaf's rank. ``stability`` says how much the refitted
rank-r leaves overlap the displayed one (mean Jaccard index over folds): near 1 when the rule
the user reads is the one the refits find, low when the tree changes with the data (a sign
that the in-sample leaf is noise).

With the binned estimator the K refits run together (``analysis_core.refits``): feature
selection is redone on each fold's training rows (their failure flags only), on quantile bins
cut once for the whole group from the feature values (which carry no failure flag, so no
held-out flag reaches a refit), and each fold's tree is grown by ``binned_kernels.grow_tree``,
scikit-learn's split rule on the same settings (ties between equally good splits aside).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_FOLDS = 5


@dataclass
class HonestLeaves:
    """Pooled held-out counts per in-sample IV rank (index 0 = the displayed tree's top leaf)."""

    n_folds: int
    n_leaf: np.ndarray
    n_fail_leaf: np.ndarray
    n: int
    n_fail: int
    stability: np.ndarray

    @property
    def ber(self) -> float:
        return self.n_fail / self.n

    @property
    def er(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n_leaf > 0, self.n_fail_leaf / np.maximum(self.n_leaf, 1), np.nan)

    @property
    def ec(self) -> np.ndarray:
        return self.n_fail_leaf / self.n_fail

    @property
    def iv(self) -> np.ndarray:
        return self.er * self.ec

    @property
    def aler(self) -> float:
        iv = self.iv
        return float(np.nansum(iv)) if np.isfinite(iv).any() else float("nan")


def stratified_folds(failure: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number of every row; each fold gets an equal share (+-1) of the failures and of the successes."""
    fold = np.empty(len(failure), dtype=np.int64)
    offset = 0
    for value in (True, False):
        idx = rng.permutation(np.flatnonzero(failure == value))
        # Continue the round-robin where the failures stopped, so fold sizes stay balanced.
        fold[idx] = (np.arange(len(idx)) + offset) % n_folds
        offset += len(idx)
    return fold


def cross_fit(tree, X: np.ndarray, failure: np.ndarray, n_folds: int = DEFAULT_FOLDS, random_state: int = 0,
              refits=None, device: str = "cpu") -> HonestLeaves:
    """Honest per-rank leaf counts for ``tree`` (a fitted FailureTree) on the rows it was fitted on.

    With the binned estimator (``tree.mi == "fast"``) all folds are refitted together on the group's
    shared bins and sort orders (``analysis_core.refits``; pass ``refits`` to share them with the
    permutation test); with ``knn`` each fold refits a clone of the FailureTree.
    """
    failure = np.asarray(failure).astype(bool)
    rng = np.random.default_rng(random_state)
    fold = stratified_folds(failure, n_folds, rng)
    trains = [fold != k for k in range(n_folds)]
    usable = [k for k in range(n_folds) if (fold == k).any() and failure[trains[k]].any() and not failure[trains[k]].all()]
    # A fold whose complement lacks failures or successes cannot be refitted; its rows are
    # credited to no leaf (they still count in BER and in EC's denominator).
    if tree.mi == "fast":
        refit_leaves = _binned_refits(tree, X, failure, [trains[k] for k in usable], refits, device)
    else:
        refit_leaves = [_clone_refit(tree, X, failure, trains[k]) for k in usable]
    ranks_full = tree.leaves_by_iv()
    n_ranks = len(ranks_full)
    n_leaf = np.zeros(n_ranks, dtype=np.int64)
    n_fail_leaf = np.zeros(n_ranks, dtype=np.int64)
    jaccard = np.zeros(n_ranks)
    full_leaf = tree.apply(X)
    for k, (refit_ranked, refit_leaf) in zip(usable, refit_leaves):
        held = fold == k
        rank_of_leaf = {leaf: r for r, leaf in enumerate(refit_ranked)}
        held_rank = np.array([rank_of_leaf[leaf] for leaf in refit_leaf[held]], dtype=np.int64)
        in_range = held_rank < n_ranks
        n_leaf += np.bincount(held_rank[in_range], minlength=n_ranks)[:n_ranks]
        n_fail_leaf += np.bincount(held_rank[in_range], weights=failure[held][in_range], minlength=n_ranks)[
            :n_ranks
        ].astype(np.int64)
        for r, (leaf_full, leaf_refit) in enumerate(zip(ranks_full, refit_ranked)):
            a, b = full_leaf == leaf_full, refit_leaf == leaf_refit
            union = np.count_nonzero(a | b)
            jaccard[r] += np.count_nonzero(a & b) / union if union else 0.0
    used = len(usable)
    stability = jaccard / used if used else np.full(n_ranks, np.nan)
    return HonestLeaves(used, n_leaf, n_fail_leaf, int(len(failure)), int(failure.sum()), stability)


def _clone_refit(tree, X: np.ndarray, failure: np.ndarray, train: np.ndarray) -> tuple[list[int], np.ndarray]:
    """(leaf ids by training IV, leaf of every row) of a clone of ``tree`` fitted on the ``train`` rows."""
    from sklearn.base import clone

    refit = clone(tree).fit(X[train], failure[train])
    return refit.leaves_by_iv(), refit.apply(X)


def _binned_refits(tree, X, failure, trains, refits, device) -> list[tuple[list[int], np.ndarray]]:
    """``_clone_refit`` for every fold at once with the binned estimator and ``grow_tree``."""
    from analysis_core.refits import GroupRefits

    if not trains:
        return []
    if refits is None:
        refits = GroupRefits(X, tree.top_k, tree.depth, tree.min_samples_leaf, device)
    rows = np.stack(trains)
    selected = refits.select(np.broadcast_to(failure, rows.shape), rows)
    out = []
    for columns, train in zip(selected, trains):
        feature, _, _, _, m, k, leaf_of_row = refits.grow(columns, failure, train)
        n_fail = int(failure[train].sum())
        leaves = np.flatnonzero(feature < 0)
        # Rank by training IV = ER x EC, ties by lower node id (FailureTree.leaves_by_iv).
        iv = [(k[leaf] / m[leaf]) * (k[leaf] / n_fail) if m[leaf] else float("nan") for leaf in leaves]
        out.append(([int(leaf) for _, leaf in sorted(zip(iv, leaves), key=lambda t: (-t[0], t[1]))], leaf_of_row))
    return out
