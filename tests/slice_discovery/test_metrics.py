import numpy as np
import pytest

from slice_discovery.metrics import auroc, best_slice, precision_at_k


def test_precision_at_k_counts_slice_members_among_the_top_scores():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.1])
    in_slice = np.array([True, False, True, True, False, False])
    assert precision_at_k(scores, in_slice, 1) == 1.0
    assert precision_at_k(scores, in_slice, 2) == 0.5
    assert precision_at_k(scores, in_slice, 4) == 0.75


def test_ties_at_the_cut_are_shared_not_taken_in_storage_order():
    # Five images tie at the top, two of them in the slice: any order is as likely as another.
    scores = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    in_slice = np.array([False, False, False, True, True, True])
    assert precision_at_k(scores, in_slice, 2) == pytest.approx(0.4)
    assert auroc(scores, in_slice) == pytest.approx((2 * 0.5 * 3 + 1 * 0.0) / 9 + 0.0)


def test_minus_infinity_ranks_below_every_score():
    scores = np.array([-np.inf, -np.inf, -3.0, 2.0])
    in_slice = np.array([False, False, True, True])
    assert precision_at_k(scores, in_slice, 2) == 1.0
    assert auroc(scores, in_slice) == 1.0


def test_auroc_of_a_perfect_a_reversed_and_a_constant_ranking():
    in_slice = np.array([True, True, False, False, False])
    assert auroc(np.array([5, 4, 3, 2, 1.0]), in_slice) == 1.0
    assert auroc(np.array([1, 2, 3, 4, 5.0]), in_slice) == 0.0
    assert auroc(np.zeros(5), in_slice) == 0.5
    assert np.isnan(auroc(np.zeros(5), np.zeros(5, dtype=bool)))


def test_best_slice_keeps_each_metrics_best_predicted_slice():
    in_slice = np.array([True] * 10 + [False] * 90)
    rng = np.random.default_rng(0)
    noise = rng.random(100)
    perfect = in_slice.astype(float)
    wrong = (~in_slice).astype(float)
    out = best_slice(np.column_stack([wrong, noise, perfect]), in_slice, ks=(10,))
    assert out["precision_at_10"] == 1.0
    assert out["auroc"] == 1.0
    assert out["best_slice"] == 2
    assert best_slice(np.column_stack([wrong]), in_slice, ks=(10,))["precision_at_10"] == 0.0


def test_no_predicted_slice_scores_like_a_random_ranking():
    out = best_slice(np.zeros((20, 0)), np.arange(20) < 5, ks=(10,))
    assert out["precision_at_10"] == 0.0 and out["auroc"] == 0.5


def test_bad_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        precision_at_k(np.array([np.nan, 1.0]), np.array([True, False]), 1)
    with pytest.raises(ValueError, match="2 scores but 3"):
        precision_at_k(np.array([0.0, 1.0]), np.array([True, False, True]), 1)
