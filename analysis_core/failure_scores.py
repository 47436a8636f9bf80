"""Per-image membership in each failure mode: inside the leaf's rule or not, by how much, and how alike its failures.

A failure mode is a leaf: a conjunction of at most three conditions ``feature[f] <= t`` or
``feature[f] > t``. For every image of the group, three numbers:

- ``margin``: each condition's signed distance to its threshold, in units of the feature's
  standard deviation within the group; the smallest of them (> 0 inside the leaf, < 0 outside:
  the distance still to go);
- ``typicality``: how close the image lies to the leaf's failures on the features the group's
  tree selected (mutual information with failure): exp(-d^2 / 2), d^2 the mean squared
  standardized distance to their mean. 1 = at the centre of the failure mode's failures;
- ``score``: the order in which a user sees the failure mode's images: failures inside the
  rule first, then failures outside it, successes inside, the rest, each tier by typicality
  (``2 * failure + in_leaf + typicality``).

Why typicality and not the margin orders a tier: the rule's split feature separates the failures
from the successes, not the kind of image that fails. On the slice-discovery benchmark
(benchmarks/slice_discovery), ordering by margin put the extremes of that one feature first,
often another subclass than the one failing (precision-at-10 0.66 over 26 tasks); the failures'
profile on all selected features finds the images the failures are like.

The rules come from the exported tree structure (trees.json's nodes), so the same code scores
the analysed images and any other images with the same feature columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.scores import SCORE_COLUMNS


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


def _scale(X: np.ndarray) -> np.ndarray:
    """Standard deviation of each column (1 where a column is constant)."""
    sd = np.asarray(X, dtype=np.float64).std(axis=0)
    return np.where(sd > 0, sd, 1.0)


@dataclass
class LeafProfile:
    """What scoring a leaf needs besides its rule, measured on the rows the tree was fitted on."""

    rule_scale: dict[int, float]  # standard deviation of each split feature in the group
    features: np.ndarray  # the group's selected features (original ids)
    centre: np.ndarray  # mean of the leaf's failures on them
    scale: np.ndarray  # their standard deviation in the group


def leaf_profile(nodes: list[dict], leaf: int, selected, X: np.ndarray, failure: np.ndarray) -> LeafProfile:
    """The profile of ``leaf`` from the group's rows ``X`` (all feature columns) and their failure flags."""
    conditions = path_conditions(nodes, leaf)
    split = sorted({f for f, _, _ in conditions})
    rule_scale = dict(zip(split, _scale(X[:, split]))) if split else {}
    features = np.asarray(selected, dtype=np.int64)
    Z = np.asarray(X[:, features], dtype=np.float64)
    _, members = _in_rule(conditions, X, rule_scale)
    failures = members & np.asarray(failure, dtype=bool)
    # A leaf without failures (or without rows) is described by its rows (or by the group).
    pick = failures if failures.any() else members if members.any() else np.ones(len(Z), dtype=bool)
    return LeafProfile(rule_scale, features, Z[pick].mean(axis=0), _scale(Z))


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


def _in_rule(conditions, X: np.ndarray, scale: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """(margin, in_leaf) of every row: a row exactly on a '>' threshold has margin 0 but goes left."""
    margin = rule_margin(conditions, X, scale)
    inside = margin >= 0
    for feature, threshold, goes_left in conditions:
        if not goes_left:
            inside &= np.asarray(X[:, feature]).astype(np.float32).astype(np.float64) > threshold
    return margin, inside


def typicality(X: np.ndarray, profile: LeafProfile) -> np.ndarray:
    """exp(-d^2 / 2), d^2 the mean squared standardized distance to the leaf's failures' mean."""
    Z = np.asarray(X[:, profile.features], dtype=np.float64)
    d2 = (((Z - profile.centre) / profile.scale) ** 2).mean(axis=1)
    return np.exp(-d2 / 2)


def score_leaf(nodes: list[dict], leaf: int, X: np.ndarray, failure: np.ndarray, profile: LeafProfile) -> dict:
    """Columns in_leaf, failure, margin, typicality and score of every row of X for one leaf."""
    conditions = path_conditions(nodes, leaf)
    margin, in_leaf = _in_rule(conditions, X, profile.rule_scale)
    failure = np.asarray(failure, dtype=bool)
    typical = typicality(X, profile)
    score = 2.0 * failure + in_leaf + typical
    return {"in_leaf": in_leaf, "failure": failure, "margin": margin, "typicality": typical, "score": score}


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
        failure = labels[rows] != predictions[rows]
        for leaf, rank in zip(modes["leaf"].astype(int), modes["rank"].astype(int)):
            profile = leaf_profile(nodes, leaf, group.tree.selected_features_, X, failure)
            columns = score_leaf(nodes, leaf, X, failure, profile)
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
