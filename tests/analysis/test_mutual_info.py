"""The fast MI estimator agrees with the original k-NN one on planted data."""

import numpy as np
import pytest

from analysis_core.artifacts.errors import BarlowError
from analysis_core.failure_tree import FailureTree
from analysis_core.mutual_info import (
    mutual_info_fast,
    mutual_information,
    quantile_bins,
    top_features,
)


def test_fast_and_knn_rank_the_planted_feature_first(planted):
    X, labels, predictions, planted_ids = planted(n_classes=4, per_class=300, n_features=48)
    for c in range(4):
        rows = labels == f"class_{c}"
        failure = labels[rows] != predictions[rows]
        fast, tiebreak = mutual_information(X[rows], failure, "fast")
        knn, _ = mutual_information(X[rows], failure, "knn")
        assert top_features(fast, 1, tiebreak)[0] == planted_ids[c]
        assert top_features(knn, 1)[0] == planted_ids[c]


@pytest.mark.parametrize("mi", ["fast", "knn"])
def test_both_estimators_put_the_planted_feature_at_the_root(planted, mi):
    X, labels, predictions, planted_ids = planted(n_classes=2, per_class=300, n_features=40, seed=5)
    for c in range(2):
        rows = labels == f"class_{c}"
        tree = FailureTree(depth=1, mi=mi).fit(X[rows], labels[rows] != predictions[rows])
        assert tree.nodes_[0]["feature"] == planted_ids[c]


def test_fast_mi_of_independent_feature_is_near_zero_and_of_copy_is_entropy():
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.3
    X = np.column_stack([rng.random(2000), y.astype(float) + rng.normal(0, 0.01, 2000)])
    mi = mutual_info_fast(X, y)
    h_y = -(0.3 * np.log(0.3) + 0.7 * np.log(0.7))
    assert mi[0] < 0.01
    assert mi[1] == pytest.approx(h_y, abs=0.03)


def test_ties_share_a_bin():
    # 70% zeros (a ReLU feature): all zeros must land in one bin, not be split arbitrarily.
    column = np.r_[np.zeros(70), np.arange(1, 31)].astype(np.float32)[:, None]
    bins = quantile_bins(column, 4)
    assert len(np.unique(bins[:70])) == 1
    assert bins[70:].min() > bins[0]


def test_unknown_estimator_is_refused():
    with pytest.raises(BarlowError, match="unknown mutual-information estimator 'mine'"):
        mutual_information(np.zeros((5, 2)), np.array([0, 1, 0, 1, 0]), "mine")
