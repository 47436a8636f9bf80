"""Majority votes with ties, Figure 9a's curve points and bootstrap intervals."""

import numpy as np
import pytest

from study.analysis.stats import at_least_counts, bootstrap_mean, bootstrap_proportions, group_means
from study.analysis.votes import majority_votes

OPTIONS = ["A", "B", "C", "B and C", "none"]


def test_majority_with_ties_follows_the_stated_rule():
    table = np.array([
        [0, 3, 1, 1, 0],  # B wins 3 of 5
        [0, 2, 0, 2, 1],  # B and B-and-C tie at 2
        [0, 0, 0, 0, 0],  # no answers
        [0, 1, 0, 1, 2],  # none wins with a plurality of 2
    ])
    votes = majority_votes(table, OPTIONS)
    assert [v.answer for v in votes] == ["B", None, None, "none"]
    assert votes[1].tie and votes[1].label == "B | B and C"
    assert [v.count for v in votes] == [3, 2, 0, 2]
    assert not votes[2].tie and votes[2].label == ""


def test_at_least_counts_are_the_points_of_figure_9a():
    means = np.array([1.0, 2.5, 3.0, 3.0, 4.2, np.nan])
    # >= 1: five items; >= 3: 3.0, 3.0, 4.2; >= 3.1: 4.2; >= 4.2: 4.2; >= 5: none
    assert at_least_counts(means, [1, 3, 3.1, 4.2, 5]).tolist() == [5, 3, 1, 1, 0]


def test_group_means_ignore_missing_answers():
    values = np.array([1, 3, np.nan, 5, 4])
    items = np.array([0, 0, 0, 1, 2])
    means, counts = group_means(values, items, 4)
    assert means[:3].tolist() == [2.0, 5.0, 4.0]
    assert np.isnan(means[3])
    assert counts.tolist() == [2, 1, 1, 0]


def test_bootstrap_interval_surrounds_the_estimate_and_narrows_with_more_items():
    rng = np.random.default_rng(1)
    small = rng.multinomial(5, [0.5, 0.3, 0.2], size=40)
    large = rng.multinomial(5, [0.5, 0.3, 0.2], size=2000)
    for table in (small, large):
        low, high = bootstrap_proportions(table, n_resamples=500, seed=0)
        share = table.sum(axis=0) / table.sum()
        assert np.all(low <= share) and np.all(share <= high)
    width_small = np.subtract(*bootstrap_proportions(small, 500)[::-1])
    width_large = np.subtract(*bootstrap_proportions(large, 500)[::-1])
    assert np.all(width_large < width_small / 3)
    # Same seed, same interval.
    assert np.array_equal(bootstrap_proportions(small, 300, seed=4)[0], bootstrap_proportions(small, 300, seed=4)[0])


def test_bootstrap_mean_interval():
    values = np.arange(1, 101, dtype=float)
    low, high = bootstrap_mean(values, 1000)
    assert low < 50.5 < high
    assert high - low == pytest.approx(2 * 1.96 * values.std() / 10, rel=0.15)
