"""A shallow decision tree that explains where one group's failures concentrate (paper section 5).

``FailureTree`` selects the top-k features by mutual information with failure, fits an
entropy-criterion tree with the original code's class weights ``{0: 1, 1: n_success/n_failure}``
on those columns only, and keeps every node's size, failures, error rate (ER), error
coverage (EC) and importance value (IV = ER x EC). Feature ids in nodes and rules are the
ORIGINAL column ids of the feature matrix (the original code printed indices into the
reduced array - a known defect).

``assign_leaves(group_dict, X)`` replays a tree stored in ``trees.json`` on a full feature
matrix, so other code can find the rows of any leaf.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from analysis_core.artifacts.errors import BarlowError
from analysis_core.mutual_info import mutual_information, top_features

MIN_DEPTH, MAX_DEPTH = 1, 3


def check_depth(depth: int) -> int:
    if not isinstance(depth, (int, np.integer)) or isinstance(depth, bool) or not MIN_DEPTH <= depth <= MAX_DEPTH:
        raise BarlowError(f"tree depth must be an integer from {MIN_DEPTH} to {MAX_DEPTH}, got {depth!r}")
    return int(depth)


def format_condition(feature: int, threshold: float, goes_left: bool) -> str:
    op = "<=" if goes_left else ">"
    return f"feature[{feature}] {op} {threshold:.4f}"


def leaf_is_valid(er: float, ec: float, ber: float, delta: float, tau: float, strict: bool = False) -> bool:
    """A leaf explains failures when ER >= BER + delta and EC >= tau (strict: > as in paper section 7)."""
    if strict:
        return bool(er > ber + delta and ec > tau)
    # A small tolerance keeps e.g. ER 0.3 vs BER 0.2 + delta 0.1 valid despite float rounding.
    eps = 1e-12
    return bool(er >= ber + delta - eps and ec >= tau - eps)


def _tree_arrays(nodes: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    size = max(node["id"] for node in nodes) + 1
    feature = np.full(size, -1, dtype=np.int64)
    threshold = np.zeros(size, dtype=np.float64)
    left = np.full(size, -1, dtype=np.int64)
    right = np.full(size, -1, dtype=np.int64)
    for node in nodes:
        if not node["is_leaf"]:
            feature[node["id"]] = node["feature"]
            threshold[node["id"]] = node["threshold"]
            left[node["id"]] = node["left"]
            right[node["id"]] = node["right"]
    return feature, threshold, left, right


def assign_leaves(group: dict, X: np.ndarray) -> np.ndarray:
    """Node id of the leaf that each row of X (ALL original feature columns) falls into.

    Comparisons follow scikit-learn exactly: values are cast to float32 and compared, in
    float64, with ``x[feature] <= threshold`` going to the left child.
    """
    nodes = group["nodes"]
    feature, threshold, left, right = _tree_arrays(nodes)
    n_rows = X.shape[0]
    used = sorted({int(f) for f in feature if f >= 0})
    if used and max(used) >= X.shape[1]:
        raise BarlowError(
            f"tree uses feature {max(used)} but the feature matrix has only {X.shape[1]} columns"
        )
    columns = {f: np.asarray(X[:, f]).astype(np.float32).astype(np.float64) for f in used}
    root = next(node["id"] for node in nodes if node["parent"] is None)
    position = np.full(n_rows, root, dtype=np.int64)
    for _ in range(len(nodes)):
        inner = feature[position] >= 0
        if not inner.any():
            break
        for node_id in np.unique(position[inner]):
            rows = np.flatnonzero(position == node_id)
            goes_left = columns[int(feature[node_id])][rows] <= threshold[node_id]
            position[rows] = np.where(goes_left, left[node_id], right[node_id])
    return position


class FailureTree(BaseEstimator):
    """Failure explanation for one group: MI feature selection + a depth-limited entropy tree.

    A scikit-learn estimator (``get_params``, ``set_params``, ``clone``), so cross-fitting and
    permutation tests can refit it with the same settings. Parameters mirror ``barlow analyze``.
    After ``fit(X, failure)``:

    - ``n_``, ``n_fail_``, ``ber_``: group size, failures, base error rate; ``n_features_in_``
    - ``mi_``: MI of every original feature; ``selected_features_`` (original ids, MI descending)
      and ``selected_mi_``
    - ``estimator_``: the fitted scikit-learn tree (on the selected columns)
    - ``nodes_``: list of node dicts (trees.json layout); ``leaves_``: leaf node ids
    - ``aler_``, ``aler_minus_ber_``: average leaf error rate and its gain over BER
    """

    def __init__(
        self,
        depth: int = 1,
        top_k: int = 20,
        mi: str = "fast",
        min_samples_leaf: int = 1,
        delta: float = 0.1,
        tau: float = 0.2,
        random_state: int = 0,
    ) -> None:
        self.depth = depth
        self.top_k = top_k
        self.mi = mi
        self.min_samples_leaf = min_samples_leaf
        self.delta = delta
        self.tau = tau
        self.random_state = random_state

    def fit(self, X: np.ndarray, failure: np.ndarray) -> "FailureTree":
        check_depth(self.depth)
        if self.top_k < 1:
            raise BarlowError(f"top-k must be at least 1, got {self.top_k}")
        if self.min_samples_leaf < 1:
            raise BarlowError(f"minimum leaf size must be at least 1, got {self.min_samples_leaf}")
        failure = np.asarray(failure).astype(bool)
        if X.shape[0] != failure.shape[0]:
            raise BarlowError(f"{X.shape[0]} feature rows but {failure.shape[0]} failure flags")
        n_fail = int(failure.sum())
        n = int(failure.shape[0])
        if n_fail == 0 or n_fail == n:
            raise BarlowError("a failure tree needs both failures and successes in the group")
        self.n_, self.n_fail_ = n, n_fail
        self.n_features_in_ = int(X.shape[1])
        self.ber_ = n_fail / n
        self.mi_, tiebreak = mutual_information(X, failure, method=self.mi, random_state=self.random_state)
        selected = top_features(self.mi_, self.top_k, tiebreak)
        self.selected_features_ = selected.astype(np.int64)
        self.selected_mi_ = self.mi_[selected]
        X_selected = np.asarray(X[:, selected], dtype=np.float32)
        self.estimator_ = self.fit_tree(X_selected, failure)
        self.nodes_ = self._build_nodes()
        counts_n, counts_fail = self._node_counts(self.estimator_.decision_path(X_selected), failure)
        self._set_metrics(counts_n, counts_fail)
        return self

    def fit_tree(self, X_selected: np.ndarray, failure: np.ndarray):
        """The scikit-learn tree of this configuration fitted on already selected columns.

        The original code's class weights {0: 1, 1: n_success / n_failure} balance the classes.
        """
        from sklearn.tree import DecisionTreeClassifier

        n_fail = int(np.count_nonzero(failure))
        return DecisionTreeClassifier(
            criterion="entropy",
            max_depth=self.depth,
            min_samples_leaf=self.min_samples_leaf,
            class_weight={0: 1.0, 1: (len(failure) - n_fail) / n_fail},
            random_state=self.random_state,
        ).fit(X_selected, np.asarray(failure).astype(int))

    # --- structure -----------------------------------------------------------------------

    def _build_nodes(self) -> list[dict]:
        tree = self.estimator_.tree_
        nodes: list[dict] = []
        parent = {0: None}
        rules = {0: []}
        depth = {0: 0}
        for node_id in range(tree.node_count):
            is_leaf = tree.children_left[node_id] == -1
            node = {
                "id": node_id,
                "parent": parent[node_id],
                "depth": depth[node_id],
                "is_leaf": bool(is_leaf),
                "feature": None,
                "threshold": None,
                "left": None,
                "right": None,
                "rule": " and ".join(rules[node_id]),
            }
            if not is_leaf:
                feature = int(self.selected_features_[tree.feature[node_id]])
                threshold = float(tree.threshold[node_id])
                left, right = int(tree.children_left[node_id]), int(tree.children_right[node_id])
                node.update(feature=feature, threshold=threshold, left=left, right=right)
                for child, goes_left in ((left, True), (right, False)):
                    parent[child] = node_id
                    depth[child] = depth[node_id] + 1
                    rules[child] = rules[node_id] + [format_condition(feature, threshold, goes_left)]
            nodes.append(node)
        return nodes

    @staticmethod
    def _node_counts(path, failure: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        path = path.tocsc()
        counts_n = np.diff(path.indptr).astype(np.int64)
        counts_fail = np.asarray(path.T @ failure.astype(np.int64)).ravel().astype(np.int64)
        return counts_n, counts_fail

    def _set_metrics(self, counts_n: np.ndarray, counts_fail: np.ndarray) -> None:
        self.leaves_ = [node["id"] for node in self.nodes_ if node["is_leaf"]]
        for node in self.nodes_:
            n, k = int(counts_n[node["id"]]), int(counts_fail[node["id"]])
            er = k / n if n else float("nan")
            ec = k / self.n_fail_
            node.update(n=n, n_fail=k, er=er, ec=ec, iv=er * ec)
            node["valid"] = (
                leaf_is_valid(er, ec, self.ber_, self.delta, self.tau) if node["is_leaf"] else False
            )
        self.aler_ = float(sum(self.nodes_[i]["iv"] for i in self.leaves_))
        self.aler_minus_ber_ = self.aler_ - self.ber_

    # --- use -----------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "nodes_"):
            raise RuntimeError("FailureTree is not fitted yet; call fit(X, failure) first")

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Leaf node id of every row of X (all original feature columns)."""
        self._check_fitted()
        return assign_leaves({"nodes": self.nodes_}, X)

    def evaluate(self, X: np.ndarray, failure: np.ndarray) -> list[dict]:
        """Per-leaf counts and ER/EC of this (fitted) tree on other rows, e.g. a held-out part."""
        self._check_fitted()
        failure = np.asarray(failure).astype(bool)
        leaf_of_row = self.apply(X)
        total_fail = int(failure.sum())
        out = []
        for leaf in self.leaves_:
            in_leaf = leaf_of_row == leaf
            n, k = int(in_leaf.sum()), int(failure[in_leaf].sum())
            out.append(
                {
                    "leaf": leaf,
                    "n": n,
                    "n_fail": k,
                    "er": k / n if n else float("nan"),
                    "ec": k / total_fail if total_fail else float("nan"),
                }
            )
        return out

    def rules(self) -> dict[int, str]:
        """Rule of every leaf (path conditions in original feature ids), by leaf node id."""
        self._check_fitted()
        return {leaf: self.nodes_[leaf]["rule"] for leaf in self.leaves_}

    def leaf_nodes(self) -> list[dict]:
        self._check_fitted()
        return [self.nodes_[leaf] for leaf in self.leaves_]

    def leaves_by_iv(self) -> list[int]:
        """Leaf node ids, highest in-sample importance value first (ties: lower id first)."""
        return [node["id"] for node in sorted(self.leaf_nodes(), key=lambda node: (-node["iv"], node["id"]))]

    def top_leaf(self) -> dict:
        """The leaf with the highest importance value (the one the paper visualizes)."""
        return max(self.leaf_nodes(), key=lambda node: (node["iv"], -node["id"]))

    @property
    def tree_depth_(self) -> int:
        self._check_fitted()
        return max(node["depth"] for node in self.nodes_)

    def to_dict(self, grouping: str | None = None, class_name: str | None = None) -> dict[str, Any]:
        """The GROUP record of trees.json."""
        self._check_fitted()
        return {
            "grouping": grouping,
            "class": class_name,
            "n": self.n_,
            "n_fail": self.n_fail_,
            "ber": self.ber_,
            "aler": self.aler_,
            "aler_minus_ber": self.aler_minus_ber_,
            "depth": int(self.depth),
            "tree_depth": self.tree_depth_,
            "selected_features": [
                {"feature": int(f), "mi": float(m)} for f, m in zip(self.selected_features_, self.selected_mi_)
            ],
            "nodes": [dict(node) for node in self.nodes_],
            "leaves": list(self.leaves_),
        }
