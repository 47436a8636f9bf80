"""FailureTree metrics against hand-computed values, rules in original ids, assign_leaves."""

import re

import numpy as np
import pytest

from analysis_core.artifacts.errors import BarlowError
from analysis_core.failure_tree import FailureTree, assign_leaves, leaf_is_valid


def tiny_group():
    """10 rows, 5 features; only feature 3 carries information: rows with x3 in {0,1,2} all fail,
    plus one more failure at x3 = 7. Features 0, 1, 2, 4 are constant."""
    X = np.zeros((10, 5), dtype=np.float32)
    X[:, 3] = np.arange(10)
    X[:, 4] = 1.0
    failure = np.isin(np.arange(10), [0, 1, 2, 7])
    return X, failure


def test_depth_one_metrics_match_hand_computation():
    X, failure = tiny_group()
    tree = FailureTree(depth=1, top_k=2).fit(X, failure)
    # BER = 4/10. The split x3 <= 2.5 gives a pure leaf {0,1,2} (3 rows, 3 failures) and
    # {3..9} (7 rows, 1 failure).
    assert tree.n_ == 10 and tree.n_fail_ == 4
    assert tree.ber_ == pytest.approx(0.4)
    assert tree.selected_features_[0] == 3
    root = tree.nodes_[0]
    assert root["feature"] == 3 and root["threshold"] == pytest.approx(2.5)
    left, right = tree.nodes_[root["left"]], tree.nodes_[root["right"]]
    assert (left["n"], left["n_fail"]) == (3, 3)
    assert (right["n"], right["n_fail"]) == (7, 1)
    assert left["er"] == pytest.approx(1.0) and left["ec"] == pytest.approx(0.75)
    assert right["er"] == pytest.approx(1 / 7) and right["ec"] == pytest.approx(0.25)
    assert left["iv"] == pytest.approx(0.75) and right["iv"] == pytest.approx(1 / 28)
    assert tree.aler_ == pytest.approx(0.75 + 1 / 28)
    assert tree.aler_minus_ber_ == pytest.approx(0.75 + 1 / 28 - 0.4)
    # Valid: ER >= 0.4 + 0.1 and EC >= 0.2.
    assert left["valid"] is True and right["valid"] is False
    assert tree.top_leaf()["id"] == left["id"]


def test_rules_use_original_feature_ids_not_reduced_indices():
    X, failure = tiny_group()
    tree = FailureTree(depth=1, top_k=2).fit(X, failure)
    # Feature 3 is column 0 of the reduced array; the original code would have printed feature[0].
    rules = tree.rules()
    assert sorted(rules.values()) == ["feature[3] <= 2.5000", "feature[3] > 2.5000"]


def test_tau_and_delta_change_validity():
    X, failure = tiny_group()
    strict = FailureTree(depth=1, top_k=2, tau=0.8).fit(X, failure)
    assert not any(node["valid"] for node in strict.leaf_nodes())  # EC 0.75 < 0.8
    loose = FailureTree(depth=1, top_k=2, delta=0.0, tau=0.25).fit(X, failure)
    assert [node["valid"] for node in loose.leaf_nodes()] == [True, False]  # right ER 1/7 < BER


def test_leaf_is_valid_boundaries():
    assert leaf_is_valid(0.3, 0.2, 0.2, 0.1, 0.2)  # inclusive, despite 0.2 + 0.1 != 0.3 in floats
    assert not leaf_is_valid(0.3, 0.2, 0.2, 0.1, 0.2, strict=True)
    assert not leaf_is_valid(0.29, 0.9, 0.2, 0.1, 0.2)


def _rule_mask(rule, X):
    mask = np.ones(len(X), dtype=bool)
    for feature, op, value in re.findall(r"feature\[(\d+)\] (<=|>) ([-\d.]+)", rule):
        column = X[:, int(feature)]
        mask &= column <= float(value) if op == "<=" else column > float(value)
    return mask


def test_depth_three_leaves_partition_rows_and_follow_their_rules(planted):
    X, labels, predictions, planted_ids = planted(n_classes=1, per_class=400, n_features=30)
    failure = labels != predictions
    # Round the values so the 4-decimal rule thresholds split exactly like the tree.
    X = np.round(X, 2)
    tree = FailureTree(depth=3, top_k=5).fit(X, failure)
    leaves = tree.leaf_nodes()
    assert sum(node["n"] for node in leaves) == len(X)
    assert sum(node["ec"] for node in leaves) == pytest.approx(1.0)
    assert tree.aler_ == pytest.approx(sum(node["er"] * node["ec"] for node in leaves))
    assert all(node["depth"] <= 3 for node in tree.nodes_)
    for node in leaves:
        mask = _rule_mask(node["rule"], X)
        assert mask.sum() == node["n"]
        assert failure[mask].sum() == node["n_fail"]
        used = {int(f) for f in re.findall(r"feature\[(\d+)\]", node["rule"])}
        assert used <= set(tree.selected_features_.tolist())
    assert tree.nodes_[0]["feature"] == planted_ids[0]


def test_assign_leaves_matches_sklearn_apply(planted):
    X, labels, predictions, _ = planted(n_classes=1, per_class=500, n_features=40, seed=3)
    failure = labels != predictions
    X64 = X.astype(np.float64) + np.random.default_rng(0).normal(0, 1e-9, X.shape)
    tree = FailureTree(depth=3, top_k=8).fit(X64, failure)
    expected = tree.estimator_.apply(X64[:, tree.selected_features_].astype(np.float32))
    assert np.array_equal(assign_leaves(tree.to_dict("label", "x"), X64), expected)
    assert np.array_equal(tree.apply(X64), expected)


def test_min_samples_leaf_is_respected(planted):
    X, labels, predictions, _ = planted(n_classes=1, per_class=300)
    tree = FailureTree(depth=3, min_samples_leaf=40).fit(X, labels != predictions)
    assert min(node["n"] for node in tree.leaf_nodes()) >= 40


@pytest.mark.parametrize("depth", [0, 4, -1])
def test_depth_outside_one_to_three_is_refused(depth):
    X, failure = tiny_group()
    with pytest.raises(BarlowError, match="depth must be an integer from 1 to 3"):
        FailureTree(depth=depth).fit(X, failure)


def test_group_without_failures_is_refused():
    X, _ = tiny_group()
    with pytest.raises(BarlowError, match="both failures and successes"):
        FailureTree().fit(X, np.zeros(10, dtype=bool))


def test_to_dict_has_contract_fields():
    X, failure = tiny_group()
    record = FailureTree(depth=1, top_k=2).fit(X, failure).to_dict("label", "purse")
    for key in ["grouping", "class", "n", "n_fail", "ber", "aler", "aler_minus_ber", "depth",
                "selected_features", "nodes", "leaves"]:
        assert key in record
    assert record["selected_features"][0]["feature"] == 3
    mis = [entry["mi"] for entry in record["selected_features"]]
    assert mis == sorted(mis, reverse=True)
    node_keys = {"id", "parent", "depth", "is_leaf", "feature", "threshold", "left", "right", "rule",
                 "n", "n_fail", "er", "ec", "iv", "valid"}
    assert all(node_keys <= set(node) for node in record["nodes"])
    assert record["nodes"][0]["rule"] == "" and record["nodes"][0]["parent"] is None


def test_failure_tree_is_a_scikit_learn_estimator(planted):
    from sklearn.base import clone

    tree = FailureTree(depth=2, top_k=5, mi="knn", min_samples_leaf=3, delta=0.05, tau=0.3, random_state=7)
    params = tree.get_params()
    assert params == {"depth": 2, "top_k": 5, "mi": "knn", "min_samples_leaf": 3, "delta": 0.05, "tau": 0.3,
                      "random_state": 7}
    copy = clone(tree)
    assert copy is not tree and copy.get_params() == params
    assert tree.set_params(depth=1) is tree and tree.depth == 1
    assert repr(tree).startswith("FailureTree(") and "top_k=5" in repr(tree)  # non-default params

    X, labels, predictions, planted_ids = planted(n_classes=1, per_class=300, n_features=30)
    failure = labels != predictions
    fitted = FailureTree(depth=1).fit(X, failure)
    # Documented attributes survive fitting and cloning a fitted tree gives an unfitted one.
    assert fitted.mi_.shape == (30,) and fitted.n_features_in_ == 30
    assert fitted.selected_features_[0] == planted_ids[0]
    np.testing.assert_array_equal(fitted.selected_mi_, fitted.mi_[fitted.selected_features_])
    unfitted = clone(fitted)
    assert not hasattr(unfitted, "nodes_")
    refit = unfitted.fit(X, failure)
    assert refit.to_dict() == fitted.to_dict()


def test_leaves_by_iv_orders_by_in_sample_importance(planted):
    X, labels, predictions, _ = planted(n_classes=1, per_class=300, n_features=30)
    tree = FailureTree(depth=2).fit(X, labels != predictions)
    ivs = [tree.nodes_[leaf]["iv"] for leaf in tree.leaves_by_iv()]
    assert ivs == sorted(ivs, reverse=True) and tree.leaves_by_iv()[0] == tree.top_leaf()["id"]
