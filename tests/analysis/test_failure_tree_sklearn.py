"""FailureTree behaves as a scikit-learn classifier: every check of check_estimator passes."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_estimator

from analysis_core.failure_tree import FailureTree
from analysis_core.artifacts.parameters import InputError


# The one check that does not run: it tests inputs of the array API standard (CuPy, torch, ...)
# and skips itself unless SCIPY_ARRAY_API=1 is set before SciPy is imported. FailureTree works
# on NumPy arrays only (its tree is scikit-learn's, grown on float32 columns).
NOT_RUN = {"check_array_api_input"}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("estimator", [FailureTree(), FailureTree(depth=2, mi="knn", top_k=3)], ids=repr)
def test_scikit_learn_estimator_checks(estimator):
    results = check_estimator(estimator, on_fail=None)
    failed = {r["check_name"]: str(r["exception"]) for r in results if r["status"] == "failed"}
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert failed == {}
    assert skipped <= NOT_RUN
    assert len({r["check_name"] for r in results if r["status"] == "passed"}) > 40


def _group(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    return X, X[:, 4] > 0.8


def test_lists_and_arrays_give_the_same_tree():
    X, failure = _group()
    from_lists = FailureTree(depth=2).fit(X.tolist(), failure.tolist())
    from_arrays = FailureTree(depth=2).fit(X, failure)
    assert from_lists.to_dict() == from_arrays.to_dict()
    assert from_arrays.nodes_[0]["feature"] == 4


def test_missing_values_are_refused_not_ignored():
    X, failure = _group()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FailureTree().fit(X, failure)


def test_an_unfitted_tree_says_so():
    X, _ = _group()
    for method in ("predict", "predict_proba", "apply", "rules"):
        with pytest.raises(NotFittedError):
            getattr(FailureTree(), method)(*([X] if method != "rules" else []))


def test_a_group_without_failures_is_a_clear_value_error():
    X, failure = _group()
    with pytest.raises(InputError, match="needs both failures and successes") as caught:
        FailureTree().fit(X, np.zeros_like(failure))
    assert isinstance(caught.value, ValueError)


def test_predictions_follow_the_leaves():
    X, failure = _group()
    tree = FailureTree(depth=2).fit(X, failure)
    leaf = tree.apply(X)
    er = np.array([tree.nodes_[i]["er"] for i in leaf])
    # Balanced class weights: a row is predicted to fail exactly where its leaf's ER beats BER.
    np.testing.assert_array_equal(tree.predict(X), er > tree.ber_)
    proba = tree.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(tree.classes_[proba.argmax(axis=1)], tree.predict(X))
    assert (tree.predict(X) == failure).mean() > 0.9
