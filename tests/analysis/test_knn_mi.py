"""The fast k-NN estimator returns scikit-learn's mutual_info_classif values (to 1e-9), all features at once."""

import itertools

import numpy as np
import pytest
from sklearn.feature_selection import mutual_info_classif

from analysis_core.failure_tree import FailureTree
from analysis_core.knn_mi import kdtree_leaf_starts, mutual_info_knn_exact
from analysis_core.mutual_info import top_features


def sklearn_mi(X, y, seed):
    return mutual_info_classif(X, np.asarray(y).astype(int), n_neighbors=3, random_state=seed)


def awkward_matrix(rng, n, n_features):
    """ReLU-like columns with many exact zeros, a constant column, a rounded (heavily tied) column,
    a binary column and a column with a huge offset."""
    X = rng.standard_normal((n, n_features)).astype(np.float32)
    X[:, ::2] = np.maximum(X[:, ::2], 0)
    X[:, 1] = 3.0
    X[:, 3] = np.round(X[:, 3])
    X[:, 5] = rng.random(n) < 0.5
    X[:, 7] = 1e4 + X[:, 7]
    return X


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("seed", range(12))
def test_equal_to_sklearn_on_random_matrices_with_ties_and_constant_columns(seed, compiled):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 700))
    rate = [0.01, 0.03, 0.1, 0.3, 0.5, 0.8][seed % 6]
    y = rng.random(n) < rate
    y[:2] = [True, False]  # both classes present; some seeds leave the failure class tiny (brute-force path)
    X = awkward_matrix(rng, n, 24)
    ours = mutual_info_knn_exact(X, y, seed, compiled=compiled)
    np.testing.assert_allclose(ours, sklearn_mi(X, y, seed), rtol=0, atol=1e-9)


def test_compiled_and_numpy_paths_agree_bit_for_bit_with_three_classes():
    rng = np.random.default_rng(99)
    X = awkward_matrix(rng, 500, 16)
    y = rng.integers(0, 3, 500)
    assert np.array_equal(mutual_info_knn_exact(X, y, 1, compiled=True), mutual_info_knn_exact(X, y, 1, compiled=False))


def test_a_class_of_one_point_is_left_out_as_in_sklearn():
    rng = np.random.default_rng(3)
    X = awkward_matrix(rng, 60, 10)
    y = np.zeros(60, dtype=int)
    y[7] = 1
    np.testing.assert_allclose(mutual_info_knn_exact(X, y, 0), sklearn_mi(X, y, 0), atol=1e-9)


def test_more_than_two_classes_and_other_seeds():
    rng = np.random.default_rng(4)
    X = awkward_matrix(rng, 300, 12)
    y = rng.integers(0, 4, 300)
    for seed in (0, 7, 123):
        np.testing.assert_allclose(mutual_info_knn_exact(X, y, seed), sklearn_mi(X, y, seed), atol=1e-9)


def test_equal_to_sklearn_on_real_fashion_mnist_features(fmnist_features):
    X, labels, predictions = fmnist_features
    checked = 0
    for c in (0, 2, 6):  # classes with many, some and few failures of the robust model
        rows = labels == c
        failure = labels[rows] != predictions[rows]
        assert 0 < failure.sum() < rows.sum()
        ours = mutual_info_knn_exact(X[rows], failure, 0)
        np.testing.assert_allclose(ours, sklearn_mi(X[rows], failure, 0), rtol=0, atol=1e-9)
        checked += 1
    assert checked == 3


def test_selected_features_and_tree_are_the_originals(fmnist_features):
    X, labels, predictions = fmnist_features
    rows = labels == 6
    failure = labels[rows] != predictions[rows]
    reference = top_features(sklearn_mi(X[rows], failure, 0), 20)
    tree = FailureTree(depth=2, mi="knn").fit(X[rows], failure)
    np.testing.assert_array_equal(tree.selected_features_, reference)


@pytest.mark.parametrize("n", [2, 39, 40, 41, 81, 1300, 5000])
def test_replayed_kdtree_leaves_match_sklearn(n):
    from sklearn.neighbors import KDTree

    x = np.sort(np.random.default_rng(n).standard_normal(n))
    tree = KDTree(x[:, None])
    nodes = tree.get_arrays()[2]  # (data, idx_array, node_data, node_bounds)
    starts = kdtree_leaf_starts(n)
    leaf_ranges = {(int(node["idx_start"]), int(node["idx_end"])) for node in nodes if node["is_leaf"]}
    ours = {(int(s), int(s) + int(np.sum(starts == s))) for s in np.unique(starts)}
    assert ours == leaf_ranges


def test_thresholds_are_the_exact_edges_of_the_rounded_tests():
    """The lowest float counted as within r is within, and the float below it is not, for both the
    |t - x| <= r and the (t - x)^2 <= r^2 test, including the dense floats near zero (bisected)."""
    from analysis_core.knn_mi import _lowest_within

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(4000), rng.standard_normal(2000) * 1e-10, [0.0, 1e-300, -1e-300, 5.0]])
    r = np.abs(np.concatenate([rng.standard_normal(4000), rng.standard_normal(2000) * 1e-10, [0.0, 1e-300, 0.0, 5.0]]))
    r[:500] = np.abs(x[:500])  # x - r lands at or next to zero
    r[500:1000] = np.abs(x[500:1000]) * (1 + rng.random(500) * 1e-15)
    for squared in (False, True):
        for sign in (1, -1):
            xs = sign * x
            t = _lowest_within(xs, r, squared=squared)
            below = np.nextafter(t, -np.inf)
            if squared:
                assert np.all((xs - t) ** 2 <= r * r) and not np.any((xs - below) ** 2 <= r * r)
            else:
                assert np.all(xs - t <= r) and not np.any(xs - below <= r)
            assert np.all(t <= xs)


def test_counts_follow_the_kdtree_rules_when_squares_underflow():
    """Radii so small that squared distances underflow to 0 make the squared test count points beyond
    r, but only inside the leaf of the last point within r (scikit-learn's KD-tree); compared with a
    point-by-point reading of those rules."""
    from analysis_core.knn_mi import _count_within

    rng = np.random.default_rng(1)
    n = 200
    rows = np.sort(np.concatenate([rng.integers(-60, 60, (3, n)) * 1e-170, rng.standard_normal((1, n))]), axis=1)
    points = rows[:, ::3].copy()
    radius = np.where(rng.random(points.shape) < 0.5, 0.0, 2e-170)
    radius[3] = 0.05
    leaf_start = kdtree_leaf_starts(n)
    expected = np.zeros(points.shape, dtype=int)
    for i in range(points.shape[0]):
        s = [float(v) for v in rows[i]]
        for p in range(points.shape[1]):
            x, r = float(points[i, p]), float(radius[i, p])
            inside = [j for j in range(n) if abs(s[j] - x) <= r]
            lo, hi = min(inside), max(inside) + 1
            count = hi - lo
            j = lo - 1
            while j >= 0 and (s[j] - x) ** 2 <= r * r and leaf_start[j] == leaf_start[lo]:
                count, j = count + 1, j - 1
            j = hi
            while j < n and (s[j] - x) ** 2 <= r * r and leaf_start[j] == leaf_start[hi - 1]:
                count, j = count + 1, j + 1
            expected[i, p] = count
    got = _count_within(rows, points, radius, leaf_start)
    np.testing.assert_array_equal(got, expected)
    assert (expected[:3] > 1).any()  # the squared test did reach beyond r somewhere


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_equal_to_sklearn_whatever_the_memory_layout_of_X(layout):
    rng = np.random.default_rng(11)
    X = awkward_matrix(rng, 400, 40)
    y = rng.random(400) < 0.3
    X = {"C": X, "F": np.asfortranarray(X), "strided": X[:, ::2]}[layout]
    np.testing.assert_allclose(mutual_info_knn_exact(X, y, 0), sklearn_mi(X, y, 0), rtol=0, atol=1e-9)


def test_noise_is_scikit_learns_draw_for_every_group_size_in_any_order():
    """One draw per seed and width serves every group size: smaller groups after a larger one and
    larger groups after a smaller one get exactly RandomState(seed).standard_normal((n, width))."""
    from analysis_core.knn_mi import noise_rows

    for n in (7, 300, 40, 301, 5):
        expected = np.random.RandomState(5).standard_normal(size=(n, 3))
        assert np.array_equal(noise_rows(5, n, 3).T, expected)
    assert not noise_rows(5, 10, 3).flags.writeable
    fresh = np.random.RandomState(2)
    assert np.array_equal(noise_rows(fresh, 4, 3).T, np.random.RandomState(2).standard_normal(size=(4, 3)))


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 136, 1300, 4099])
def test_compiled_pairwise_sum_adds_in_numpys_order(n):
    from analysis_core.knn_kernels import pairwise_sum

    rng = np.random.default_rng(n)
    a = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n)
    assert pairwise_sum(a, 0, n) == np.sum(a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_scaling_and_noise_are_scikit_learns_bits(dtype):
    from analysis_core.knn_kernels import scaled_noisy_points
    from analysis_core.knn_mi import noise_rows, prepare_columns

    rng = np.random.default_rng(8)
    for n in (5, 130, 1300):
        X = awkward_matrix(rng, n, 21).astype(dtype)
        order = rng.permutation(n)[: n - 2]
        expected = prepare_columns(X, 3).T[:, order]
        assert np.array_equal(scaled_noisy_points(X, noise_rows(3, *X.shape), order), expected)


def test_compiled_counts_follow_the_numpy_path_where_squares_underflow():
    """Tiny, heavily tied values give radii whose squares underflow, where the KD-tree's squared test
    counts neighbours beyond r inside a leaf: the compiled kernel and the NumPy passes agree, with two
    and with three classes and with a brute-force (tiny) class."""
    from scipy.special import digamma

    from analysis_core.knn_kernels import digamma_count_sums
    from analysis_core.knn_mi import (
        _digamma_count_sums,
        _float_below,
        _kth_distance_brute,
        kdtree_leaf_ends,
    )

    rng = np.random.default_rng(2)
    for sizes in ([120, 90], [60, 70, 4]):
        n = sum(sizes)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        points = rng.integers(-30, 30, (6, n)) * 1e-170
        points[5] = rng.standard_normal(n)
        ks = np.array([3] * len(sizes))
        brute_radii = np.empty((6, n))
        for c, (a, b) in enumerate(itertools.pairwise(bounds)):
            points[:, a:b].sort(axis=1)
            if b - a < 8:
                ks[c] = -1
                brute_radii[:, a:b] = _float_below(_kth_distance_brute(points[:, a:b], 3))
        leaf_start = kdtree_leaf_starts(n)
        table = digamma(np.arange(1, n + 1, dtype=np.float64))
        args = (points, bounds, ks, brute_radii, leaf_start, kdtree_leaf_ends(leaf_start), table)
        assert np.array_equal(digamma_count_sums(*args), _digamma_count_sums(*args))
