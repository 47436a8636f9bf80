"""Per-image membership in each failure mode: how deep inside a leaf's rule an image lies.

A failure mode is a leaf: a conjunction of at most three conditions ``feature[f] <= t`` or
``feature[f] > t``. For an image, each condition's signed distance to its threshold, in units
of the feature's standard deviation within the group, says how clearly the image meets it;
the rule's ``margin`` is the smallest of them (positive inside the leaf, negative outside, the
distance still to go). Images with the largest margin are the ones most typical of the failure
mode, and ranking a group by margin gives every image a score, which is what precision-at-k and
AUROC of slice membership need.

``score`` orders the images of one failure mode for a user: failures inside the rule first
(the leaf is about failures), then by margin. It is ``margin + FAILURE_BONUS * failure`` with a
bonus large enough to put a failure just inside the rule ahead of a success deep inside it
(the benchmark in benchmarks/slice_discovery measures the choice).

The rules come from the exported tree structure (trees.json's nodes), so the same code scores
the analysed images and any other images with the same feature columns.
"""

from __future__ import annotations

import numpy as np

from analysis_core.artifacts.scores import SCORE_COLUMNS
from analysis_core.artifacts.errors import BarlowError

# Margins are in feature standard deviations; 4 of them is far beyond where rows of a leaf lie
# (the rule's thresholds sit inside the data), so every failure in the leaf ranks first.
FAILURE_BONUS = 4.0


def path_conditions(nodes: list[dict], leaf: int) -> list[tuple[int, float, bool]]:
    """(feature, threshold, goes_left) of every split on the way from the root to ``leaf``."""
    by_id = {int(node["id"]): node for node in nodes}
    if leaf not in by_id or not by_id[leaf]["is_leaf"]:
        raise BarlowError(f"node {leaf} is not a leaf of this tree")
    conditions = []
    child = by_id[leaf]
    while child["parent"] is not None:
        parent = by_id[int(child["parent"])]
        conditions.append((int(parent["feature"]), float(parent["threshold"]), int(parent["left"]) == int(child["id"])))
        child = parent
    return conditions[::-1]


def feature_scale(X: np.ndarray, features) -> dict[int, float]:
    """Standard deviation of each feature over X (1 where a feature is constant)."""
    out = {}
    for f in features:
        sd = float(np.std(np.asarray(X[:, f], dtype=np.float64)))
        out[int(f)] = sd if sd > 0 else 1.0
    return out


def rule_margin(conditions, X: np.ndarray, scale: dict[int, float]) -> np.ndarray:
    """Smallest signed standardized distance of each row to the rule's thresholds (> 0: inside).

    Values are compared in float32, as the tree compares them, so a row on a threshold counts
    as going left exactly as in ``FailureTree.apply``.
    """
    margin = np.full(X.shape[0], np.inf)
    for feature, threshold, goes_left in conditions:
        x = np.asarray(X[:, feature]).astype(np.float32).astype(np.float64)
        signed = (threshold - x) if goes_left else (x - threshold)
        margin = np.minimum(margin, signed / scale[feature])
    if not conditions:  # a tree that never split: every row is in its only leaf
        margin[:] = 0.0
    return margin


def typicality(margin: np.ndarray, failure: np.ndarray) -> np.ndarray:
    """The ``score`` column: failures first, then deeper inside the rule first."""
    return np.asarray(margin, dtype=float) + FAILURE_BONUS * np.asarray(failure, dtype=float)


def score_leaf(nodes: list[dict], leaf: int, X: np.ndarray, failure: np.ndarray, scale: dict[int, float]) -> dict:
    """Columns in_leaf, failure, margin, score of every row of X for one leaf."""
    conditions = path_conditions(nodes, leaf)
    margin = rule_margin(conditions, X, scale)
    in_leaf = margin >= 0
    # A row exactly on a '>' threshold has margin 0 but goes left; keep in_leaf exact.
    for feature, threshold, goes_left in conditions:
        if not goes_left:
            in_leaf &= np.asarray(X[:, feature]).astype(np.float32).astype(np.float64) > threshold
    failure = np.asarray(failure, dtype=bool)
    return {"in_leaf": in_leaf, "failure": failure, "margin": margin, "score": typicality(margin, failure)}


def failure_scores_table(result, features: np.ndarray, labels, predictions, leaves: str = "reported"):
    """One row per (image, failure mode) of every analysed group, in failure_scores.csv's layout.

    ``leaves="reported"`` scores each group's top-ranked leaf and every valid leaf (what the
    report shows); ``"all"`` scores every leaf. Rows are the images of the group (the leaf's
    rule applies to them only), ``row`` is their position in the metadata.
    """
    import pandas as pd

    if leaves not in ("reported", "all"):
        raise BarlowError(f"leaves must be 'reported' or 'all', got {leaves!r}")
    labels = np.asarray(labels).astype(str)
    predictions = np.asarray(predictions).astype(str)
    table = result.failure_modes
    parts = []
    for group in result.groups:
        keys = labels if group.grouping == "label" else predictions
        rows = np.flatnonzero(keys == group.class_name)
        modes = table[(table["grouping"] == group.grouping) & (table["class"] == group.class_name)]
        if leaves == "reported":
            modes = modes[(modes["rank"] == 1) | modes["valid"]]
        if not len(modes) or not len(rows):
            continue
        X = np.asarray(features[rows])
        nodes = group.tree.nodes_
        used = {int(n["feature"]) for n in nodes if not n["is_leaf"]}
        scale = feature_scale(X, used)
        failure = labels[rows] != predictions[rows]
        for leaf, rank in zip(modes["leaf"].astype(int), modes["rank"].astype(int)):
            columns = score_leaf(nodes, leaf, X, failure, scale)
            parts.append(pd.DataFrame({
                "row": rows, "grouping": group.grouping, "class": group.class_name, "leaf": leaf, "rank": rank,
                **columns,
            }))
    if not parts:
        return pd.DataFrame({c: [] for c in SCORE_COLUMNS})
    return pd.concat(parts, ignore_index=True)[list(SCORE_COLUMNS)]


def most_typical(scores, grouping: str, class_name: str, leaf: int, k: int = 8):
    """The ``k`` rows of a failure mode with the highest score that lie inside its rule."""
    rows = scores[(scores["grouping"] == grouping) & (scores["class"] == str(class_name)) & (scores["leaf"] == leaf)]
    rows = rows[rows["in_leaf"]]
    return rows.sort_values(["score", "row"], ascending=[False, True]).head(k)
