"""A shallow decision tree that explains where one group's failures concentrate (paper section 5).

``FailureTree`` selects the top-k features by mutual information with failure, fits an
entropy-criterion tree with the original code's class weights ``{0: 1, 1: n_success/n_failure}``
on those columns only, and keeps every node's size, failures, error rate (ER), error
coverage (EC) and importance value (IV = ER x EC). Feature ids in nodes and rules are the
ORIGINAL column ids of the feature matrix (the original code printed indices into the
reduced array - a known defect).

``assign_leaves(group, X)`` replays a tree stored in ``trees.json`` on a full feature
matrix, so other code can find the rows of any leaf.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from analysis_core.artifacts import parameters
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.trees import GroupTree, SelectedFeature, TreeNode
from analysis_core.mutual_info import mutual_information, top_features


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


def _tree_arrays(nodes: list[TreeNode]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    size = max(node.id for node in nodes) + 1
    feature = np.full(size, -1, dtype=np.int64)
    threshold = np.zeros(size, dtype=np.float64)
    left = np.full(size, -1, dtype=np.int64)
    right = np.full(size, -1, dtype=np.int64)
    for node in nodes:
        if not node.is_leaf:
            feature[node.id] = node.feature
            threshold[node.id] = node.threshold
            left[node.id] = node.left
            right[node.id] = node.right
    return feature, threshold, left, right


def assign_leaves(group: GroupTree | dict, X: np.ndarray) -> np.ndarray:
    """Node id of the leaf that each row of X falls into, for a tree read from ``trees.json``.

    Comparisons follow scikit-learn exactly: values are cast to float32 and compared, in
    float64, with ``x[feature] <= threshold`` going to the left child.

    Parameters
    ----------
    group : GroupTree or dict
        A group of ``trees.json`` (typed, or its plain record).
    X : ndarray of shape (n_samples, n_features)
        ALL original feature columns (at least up to the highest feature the tree uses).

    Returns
    -------
    ndarray of shape (n_samples,)
        Leaf node ids.
    """
    nodes = [TreeNode.from_dict(n) for n in group["nodes"]] if isinstance(group, dict) else group.nodes
    feature, threshold, left, right = _tree_arrays(nodes)
    n_rows = X.shape[0]
    used = sorted({int(f) for f in feature if f >= 0})
    if used and max(used) >= X.shape[1]:
        raise BarlowError(
            f"tree uses feature {max(used)} but the feature matrix has only {X.shape[1]} columns"
        )
    columns = {f: np.asarray(X[:, f]).astype(np.float32).astype(np.float64) for f in used}
    root = next(node.id for node in nodes if node.parent is None)
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


class FailureTree(ClassifierMixin, BaseEstimator):
    """Failure explanation for one group: MI feature selection + a depth-limited entropy tree.

    A scikit-learn classifier of failure (it passes ``check_estimator``), so cross-fitting and
    permutation tests can ``clone`` and refit it with the same settings. Its parameters mirror
    the options of ``barlow analyze``; their defaults come from :mod:`analysis_core.artifacts.parameters`.

    Parameters
    ----------
    depth : int, default=1
        Maximum depth of the tree, from 1 to 3 (the paper's trees are 1 to 3 levels deep).
    top_k : int, default=20
        Number of features, ranked by mutual information with failure, the tree may split on.
    mi : {"fast", "knn"}, default="fast"
        Mutual-information estimator (see :func:`analysis_core.mutual_info.mutual_information`).
    min_samples_leaf : int, default=1
        Minimum number of rows in a leaf.
    delta : float, default=0.1
        A leaf is *valid* when its error rate is at least the base error rate plus ``delta`` ...
    tau : float, default=0.2
        ... and it holds at least the fraction ``tau`` of the group's failures.
    random_state : int, default=0
        Seed of the k-NN MI estimator and of the tree's tie-breaking.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels seen in ``fit``; the second (e.g. ``True`` or ``1``) marks a failure.
    n_features_in_ : int
        Number of columns of the feature matrix.
    n_, n_fail_, ber_ : int, int, float
        Group size, number of failures and base error rate ``n_fail_ / n_``.
    mi_ : ndarray of shape (n_features_in_,)
        Mutual information of every feature with failure.
    selected_features_, selected_mi_ : ndarray of shape (min(top_k, n_features_in_),)
        Original ids of the selected features (MI descending) and their MI.
    estimator_ : sklearn.tree.DecisionTreeClassifier
        The fitted tree on the selected columns, with class weights
        ``{0: 1, 1: n_success / n_failure}`` as in the original code.
    nodes_ : list of dict
        Every node in the ``trees.json`` layout (see :mod:`analysis_core.artifacts.trees`).
    leaves_ : list of int
        Node ids of the leaves.
    aler_, aler_minus_ber_ : float
        Average leaf error rate and its gain over the base error rate.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> failure = X[:, 3] > 1.0
    >>> tree = FailureTree(depth=1, top_k=3).fit(X, failure)
    >>> tree.nodes_[0]["feature"]
    3
    """

    def __init__(
        self,
        depth: int = parameters.DEPTH,
        top_k: int = parameters.TOP_K,
        mi: str = parameters.MI,
        min_samples_leaf: int = parameters.MIN_LEAF,
        delta: float = parameters.DELTA,
        tau: float = parameters.TAU,
        random_state: int = parameters.SEED,
    ) -> None:
        self.depth = depth
        self.top_k = top_k
        self.mi = mi
        self.min_samples_leaf = min_samples_leaf
        self.delta = delta
        self.tau = tau
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A failure is one outcome of two: the tree explains a binary indicator only.
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y, precomputed_mi=None) -> "FailureTree":
        """Select features by mutual information with failure and grow the tree.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature matrix of the group's rows (all original columns); finite numbers.
        y : array-like of shape (n_samples,)
            Failure indicator: exactly two distinct values, the larger (``True``, ``1``) a failure.
        precomputed_mi : tuple (mi, tiebreak) of arrays of shape (n_features,), optional
            What ``mutual_information(X, failure, self.mi)`` returns, when the caller has it already
            (``GroupRefits.mutual_information`` reuses the group's bins); not checked against X.

        Returns
        -------
        self : FailureTree
            The fitted tree.

        Raises
        ------
        ValueError
            A parameter is out of range (:class:`~analysis_core.artifacts.parameters.ParameterError`),
            ``X`` is not a finite 2-D numeric array, or ``y`` does not hold two classes.
        """
        parameters.check_tree_parameters(
            depth=self.depth, top_k=self.top_k, mi=self.mi, min_leaf=self.min_samples_leaf,
            delta=self.delta, tau=self.tau, names={"min_leaf": "min_samples_leaf"},
        )
        X, y = validate_data(self, X, y, dtype="numeric")
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            # check_estimator looks for scikit-learn's own wording of both cases.
            problem = "only one class is present" if len(self.classes_) < 2 else "Only binary classification is supported."
            raise parameters.InputError(
                f"a failure tree needs both failures and successes in the group: {problem} "
                f"(y holds {len(self.classes_)} distinct value(s))"
            )
        failure = y == self.classes_[1]
        n_fail = int(failure.sum())
        n = int(failure.shape[0])
        self.n_, self.n_fail_ = n, n_fail
        self.ber_ = n_fail / n
        if precomputed_mi is None:
            precomputed_mi = mutual_information(X, failure, method=self.mi, random_state=self.random_state)
        self.mi_, tiebreak = precomputed_mi
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
        check_is_fitted(self, "nodes_")

    def _selected_columns(self, X) -> np.ndarray:
        """The selected columns of validated X, as float32 (what the tree was grown on)."""
        check_is_fitted(self, "nodes_")
        X = validate_data(self, X, reset=False, dtype="numeric")
        return np.asarray(X[:, self.selected_features_], dtype=np.float32)

    def apply(self, X) -> np.ndarray:
        """Leaf node id of every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            All original feature columns.

        Returns
        -------
        ndarray of shape (n_samples,)
            Node id (an id of ``nodes_``) of the leaf each row falls into.
        """
        columns = self._selected_columns(X)
        return self.estimator_.apply(columns).astype(np.int64)

    def predict_proba(self, X) -> np.ndarray:
        """Class-weighted probability of success and failure in each row's leaf.

        The tree is grown with balanced class weights, so a leaf's failure "probability" is
        its share of the group's failures over that share plus its share of the successes;
        it exceeds 0.5 exactly where the leaf's error rate exceeds the base error rate. The
        leaf's plain error rate is ``nodes_[leaf]["er"]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Columns in the order of ``classes_``.
        """
        columns = self._selected_columns(X)
        return self.estimator_.predict_proba(columns)

    def predict(self, X) -> np.ndarray:
        """Predicted label: the failure class where a row's leaf is more failure-prone than the group.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples,)
            Values of ``classes_``.
        """
        columns = self._selected_columns(X)
        return self.classes_[self.estimator_.predict(columns).astype(int)]

    def evaluate(self, X: np.ndarray, failure: np.ndarray) -> list[dict]:
        """Per-leaf counts and ER/EC of this fitted tree on other rows, e.g. a held-out part.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
        failure : array-like of shape (n_samples,)
            Failure flags of those rows (true: a failure).

        Returns
        -------
        list of dict
            Per leaf (in ``leaves_`` order): ``leaf``, ``n``, ``n_fail``, ``er`` and ``ec``
            (NaN where the rows hold no row of the leaf, or no failure at all).
        """
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
        """Rule of every leaf, by leaf node id.

        Returns
        -------
        dict of int to str
            The path conditions from the root, in original feature ids, e.g.
            ``"feature[3] > 0.5100 and feature[7] <= 0.1000"`` (the root alone: ``""``).
        """
        self._check_fitted()
        return {leaf: self.nodes_[leaf]["rule"] for leaf in self.leaves_}

    def leaf_nodes(self) -> list[dict]:
        """The node records (``nodes_``) of the leaves, in ``leaves_`` order."""
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

    def to_group(self, grouping: str | None = None, class_name: str | None = None) -> GroupTree:
        """This tree as the typed group record of ``trees.json``.

        Parameters
        ----------
        grouping : {"label", "prediction"}, optional
            How the group's rows were chosen.
        class_name : str, optional
            The class the group's rows are labelled (or predicted) as.

        Returns
        -------
        analysis_core.artifacts.trees.GroupTree
        """
        self._check_fitted()
        return GroupTree(
            grouping=grouping,
            class_name=class_name,
            n=self.n_,
            n_fail=self.n_fail_,
            ber=self.ber_,
            aler=self.aler_,
            aler_minus_ber=self.aler_minus_ber_,
            depth=int(self.depth),
            tree_depth=self.tree_depth_,
            selected_features=[SelectedFeature(int(f), float(m)) for f, m in zip(self.selected_features_, self.selected_mi_)],
            nodes=[TreeNode(**node) for node in self.nodes_],
            leaves=list(self.leaves_),
        )

    def to_dict(self, grouping: str | None = None, class_name: str | None = None) -> dict[str, Any]:
        """The group record of ``trees.json`` as plain data (``to_group(...).to_dict()``)."""
        return self.to_group(grouping, class_name).to_dict()
