"""The batched refits behind cross-fitting and the permutation test agree with the one-at-a-time
procedure, the compiled kernels with their Python versions, torch with NumPy, and the sequential
permutation p-value is valid."""

import numpy as np
import pytest

from analysis_core import binned_kernels as kernels
from analysis_core.compiled import python_version
from analysis_core.artifacts.errors import BarlowError
from analysis_core.failure_analysis import AnalysisConfig
from analysis_core.failure_tree import FailureTree
from analysis_core.mutual_info import auto_bins, binned_mi, column_bins, mutual_info_fast, top_features, xlogx_table
from analysis_core.permutation import permutation_test, stop_count
from analysis_core.refits import GroupRefits


def relu_group(n=400, n_features=60, seed=0, planted=3):
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.standard_normal((n, n_features)).astype(np.float32) + 0.3, 0)
    x = X[:, planted]
    failure = rng.random(n) < np.where(x <= np.quantile(x, 0.4), 0.5, 0.12)
    return X, failure


def reference_mi(X, y):
    """The binned MI written out with entropies of rates (the estimator's textbook form)."""
    n = len(y)
    bins = column_bins(X, auto_bins(n))
    mi = np.empty(X.shape[1])
    p = y.mean()
    h_y = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    for f in range(X.shape[1]):
        h_cond, occupied = 0.0, 0
        for b in np.unique(bins[f]):
            in_bin = bins[f] == b
            rate = y[in_bin].mean()
            occupied += 1
            if 0 < rate < 1:
                h_cond -= in_bin.mean() * (rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
        mi[f] = max(max(h_y - h_cond, 0.0) - (occupied - 1) / (2 * n), 0.0)
    return mi


def test_fast_mi_matches_the_entropy_formula():
    X, failure = relu_group()
    assert np.allclose(mutual_info_fast(X, failure), reference_mi(X, failure), atol=1e-12, rtol=0)


def test_selection_of_many_shuffles_at_once_equals_one_at_a_time():
    X, failure = relu_group()
    rng = np.random.default_rng(1)
    Y = np.stack([failure] + [rng.permutation(failure) for _ in range(40)])
    refits = GroupRefits(X, top_k=8, depth=2, min_leaf=1)
    batched = refits.select(Y)
    for flags, chosen in zip(Y, batched):
        mi, plugin = mutual_info_fast(X, flags, return_plugin=True)
        assert np.array_equal(chosen, top_features(mi, 8, plugin))


def test_displayed_tree_on_the_group_bins_is_the_tree_fitted_alone():
    X, failure = relu_group(seed=6)
    refits = GroupRefits(X, top_k=8, depth=3, min_leaf=1)
    for got, want in zip(refits.mutual_information(failure), mutual_info_fast(X, failure, return_plugin=True)):
        assert np.array_equal(got, want)
    shared = FailureTree(depth=3, top_k=8).fit(X, failure, precomputed_mi=refits.mutual_information(failure))
    alone = FailureTree(depth=3, top_k=8).fit(X, failure)
    assert np.array_equal(shared.selected_features_, alone.selected_features_)
    assert shared.nodes_ == alone.nodes_


def test_fold_selection_measures_mi_on_the_training_rows_only():
    X, failure = relu_group(seed=2)
    rng = np.random.default_rng(3)
    rows = rng.random((4, len(failure))) < 0.8
    refits = GroupRefits(X, top_k=6, depth=1, min_leaf=1)
    chosen = refits.select(np.broadcast_to(failure, rows.shape), rows)
    bins = column_bins(X, auto_bins(len(failure)))  # the whole group's cuts: they never see a flag
    for train, sel in zip(rows, chosen):
        # Held-out flags must not matter: flip them all and the selection stays.
        flipped = np.where(train, failure, ~failure)
        assert np.array_equal(refits.select(flipped[None, :], train[None, :])[0], sel)
        W = np.stack([train, failure & train], axis=1).astype(np.uint8)
        counts = kernels.count_by_bin(bins, W, refits.n_bins)
        mi, plugin = binned_mi(counts[:, :, 0], counts[:, :, 1], int(train.sum()), int((failure & train).sum()),
                               xlogx_table(len(failure)))
        assert np.array_equal(sel, top_features(mi, 6, plugin))


@pytest.mark.parametrize("seed", range(8))
def test_tree_kernel_grows_scikit_learns_tree(seed):
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(seed)
    n = int(rng.integers(80, 900))
    X = rng.standard_normal((n, 12)).astype(np.float32)
    if seed % 2:
        X = np.maximum(X + 0.3, 0)  # ties at zero
    failure = rng.random(n) < 1 / (1 + np.exp(-2 * X[:, 3] + X[:, 5]))
    depth, min_leaf = 1 + seed % 3, 1 + seed % 4
    refits = GroupRefits(X, top_k=12, depth=depth, min_leaf=min_leaf)
    feature, threshold, _, _, n_leaf, k_leaf, leaf = refits.grow(np.arange(12), failure)
    n_fail = int(failure.sum())
    sk = DecisionTreeClassifier(criterion="entropy", max_depth=depth, min_samples_leaf=min_leaf,
                                class_weight={0: 1.0, 1: (n - n_fail) / n_fail}, random_state=0).fit(X, failure)
    assert np.array_equal(sk.apply(X), leaf)
    inner = sk.tree_.feature >= 0
    assert np.array_equal(sk.tree_.feature[inner], feature[feature >= 0])
    assert np.allclose(sk.tree_.threshold[inner], threshold[feature >= 0], rtol=0, atol=0)
    assert np.array_equal(sk.tree_.n_node_samples, n_leaf)


def test_tree_kernel_routes_rows_it_did_not_train_on():
    X, failure = relu_group(n=300, n_features=10)
    train = np.arange(300) % 5 != 0
    refits = GroupRefits(X, top_k=10, depth=2, min_leaf=2)
    feature, threshold, left, right, m, k, leaf = refits.grow(np.arange(10), failure, train)
    assert m.sum() > 0 and m[0] == train.sum() and k[0] == failure[train].sum()
    for i in range(300):  # replay the splits row by row
        node = 0
        while feature[node] >= 0:
            node = left[node] if np.float64(X[i, feature[node]]) <= threshold[node] else right[node]
        assert leaf[i] == node


def test_compiled_kernels_equal_their_python_versions():
    X, failure = relu_group(n=150, n_features=25)
    refits = GroupRefits(X, top_k=5, depth=3, min_leaf=1)
    Xt = np.ascontiguousarray(X.T)
    assert np.array_equal(python_version(kernels.transpose)(X, np.empty_like(Xt)), Xt)
    cuts = np.ascontiguousarray(np.sort(Xt, axis=1)[:, [30, 75, 120]])
    assert np.array_equal(python_version(kernels.bins_from_cuts)(Xt, cuts, np.empty(Xt.shape, np.uint8)),
                          kernels.bins_from_cuts(Xt, cuts, np.empty(Xt.shape, np.uint8)))
    W = np.stack([np.ones(150), failure, failure[::-1]], axis=1).astype(np.uint8)
    counts = kernels.count_by_bin(refits.bins_t, W, refits.n_bins)
    assert np.array_equal(python_version(kernels.count_by_bin_into)(refits.bins_t, W, np.zeros_like(counts)), counts)
    assert np.array_equal(counts.sum(axis=1), np.broadcast_to(W.sum(axis=0), (X.shape[1], 3)))
    cols = (np.array([1, 2]), np.array([0, 0]), refits.table)
    for a, b in zip(python_version(kernels.mi_from_counts)(counts, *cols), kernels.mi_from_counts(counts, *cols)):
        assert np.allclose(a, b, rtol=0, atol=1e-12)
    assert np.array_equal(python_version(kernels.order_keys)(Xt, np.empty(Xt.shape, np.uint64)),
                          kernels.order_keys(Xt, np.empty(Xt.shape, np.uint64)))
    assert np.array_equal(kernels.stable_argsort_rows(Xt), np.argsort(Xt, axis=1, kind="stable"))
    order, sorted_values = refits.sort_columns(np.arange(5))
    assert np.array_equal(sorted_values[:5], np.sort(refits.Xt[:5], axis=1))
    args = (order[:5], sorted_values[:5], refits.Xt[:5], failure.astype(np.int64), np.ones(150, bool), 3, 1, 1.7, *refits.tree_tables)
    for a, b in zip(python_version(kernels.grow_tree)(*args), kernels.grow_tree(*args)):
        assert np.allclose(a, b, rtol=0, atol=1e-12)


def test_torch_path_selects_what_numpy_selects():
    pytest.importorskip("torch")
    X, failure = relu_group(seed=4)
    rng = np.random.default_rng(5)
    Y = np.stack([failure] + [rng.permutation(failure) for _ in range(20)])
    rows = rng.random(Y.shape) < 0.8
    cpu = GroupRefits(X, top_k=10, depth=2, min_leaf=1)
    torch_cpu = GroupRefits(X, top_k=10, depth=2, min_leaf=1, device="torch-cpu")
    assert np.array_equal(cpu.select(Y), torch_cpu.select(Y))
    assert np.array_equal(cpu.select(Y, rows), torch_cpu.select(Y, rows))
    tree = FailureTree(depth=2, top_k=10).fit(X, failure)
    assert permutation_test(tree, X, failure, 30, device="torch-cpu") == permutation_test(tree, X, failure, 30)


def test_binned_mi_on_torch_tensors_equals_numpy():
    torch = pytest.importorskip("torch")
    X, failure = relu_group(seed=6)
    refits = GroupRefits(X, top_k=5, depth=1, min_leaf=1)
    W = np.stack([np.ones(len(failure)), failure], axis=1).astype(np.uint8)
    counts = kernels.count_by_bin(refits.bins_t, W, refits.n_bins).astype(np.int64)
    n, n_fail = len(failure), int(failure.sum())
    mi_np, plugin_np = binned_mi(counts[:, :, 0], counts[:, :, 1], n, n_fail, refits.table)
    t = torch.from_numpy(counts)
    mi_t, plugin_t = binned_mi(t[:, :, 0], t[:, :, 1], torch.tensor(n), torch.tensor(n_fail), torch.from_numpy(refits.table))
    assert np.allclose(mi_t.numpy(), mi_np, rtol=0, atol=1e-12)
    assert np.allclose(plugin_t.numpy(), plugin_np, rtol=0, atol=1e-12)
    assert np.allclose(mi_np, mutual_info_fast(X, failure), rtol=0, atol=1e-12)


def test_device_errors_are_clear():
    torch = pytest.importorskip("torch")
    with pytest.raises(BarlowError, match="unknown device"):
        AnalysisConfig(device="gpu-please").validate()
    if not torch.cuda.is_available():
        with pytest.raises(BarlowError, match="no CUDA GPU"):
            AnalysisConfig(device="cuda").validate()
    assert AnalysisConfig(device="torch-cpu").validate().device == "torch-cpu"


def test_sequential_p_value_is_valid_on_null_groups_and_exact_where_it_matters():
    rng = np.random.default_rng(7)
    n_perm, alpha = 99, 0.05
    h = stop_count(alpha, n_perm)
    p_seq, p_full, runs = [], [], []
    for g in range(120):
        X = rng.standard_normal((60, 8)).astype(np.float32)
        failure = rng.random(60) < 0.3
        failure[:2] = [True, False]
        tree = FailureTree(depth=1, top_k=3)
        seq = permutation_test(tree, X, failure, n_perm, random_state=g, stop_at=h)
        full = permutation_test(tree, X, failure, n_perm, random_state=g)
        p_seq.append(seq["p_value"])
        p_full.append(full["p_value"])
        runs.append(seq["n_permutations"])
        if full["p_value"] <= alpha or not seq["stopped_early"]:
            assert seq["p_value"] == full["p_value"]
        else:
            assert seq["p_value"] > alpha
    p_seq = np.array(p_seq)
    for u in (0.05, 0.1, 0.25, 0.5):  # valid: P(p <= u) <= u (binomial slack for 120 groups)
        assert (p_seq <= u).mean() <= u + 3 * np.sqrt(u * (1 - u) / len(p_seq))
    assert np.mean(runs) < 0.5 * n_perm  # and it stops early on null groups


def test_sequential_test_result_does_not_depend_on_its_block_sizes(monkeypatch):
    from analysis_core import permutation

    X, failure = relu_group(n=300, n_features=40, seed=8)
    null_failure = np.random.default_rng(9).permutation(failure)  # no failure mode: stops early
    tree = FailureTree(depth=2, top_k=5)
    for flags in (failure, null_failure):
        small_first = permutation_test(tree, X, flags, 100, random_state=3, stop_at=6)
        monkeypatch.setattr(permutation, "FIRST_CHUNK", permutation.CHUNK)
        one_size = permutation_test(tree, X, flags, 100, random_state=3, stop_at=6)
        monkeypatch.undo()
        assert small_first == one_size
    assert small_first["stopped_early"] and small_first["n_permutations"] < permutation.FIRST_CHUNK + 31


def test_top_features_of_many_vectors_equal_one_sort_of_each_with_ties():
    from analysis_core.refits import top_features_many

    rng = np.random.default_rng(10)
    mi = rng.random((30, 50))
    plugin = mi + rng.random((30, 50))
    mi[:10, :25] = 0.0  # more than k tied at the cut (MI clipped at zero in small groups)
    mi[10:20, 5] = mi[10:20, 6]  # a tie broken by the plug-in value
    plugin[20:, 7] = plugin[20:, 8]
    mi[20:, 7] = mi[20:, 8]  # a tie broken by the lower id
    for k in (1, 5, 40, 50, 60):
        got = top_features_many(mi, plugin, k)
        for row in range(len(mi)):
            assert np.array_equal(got[row], top_features(mi[row], k, plugin[row]))


def test_packed_float_sort_is_the_stable_argsort_with_negatives_zeros_and_extremes():
    """``sort_rows_into`` sorts float64-packed (value, row) pairs: its order must be NumPy's stable
    argsort exactly (ties by row, -0.0 tied with 0.0, negative values, subnormals, the largest
    finite values), its sorted values bit for bit the gathered ones, its Python version the same;
    infinite values fall back to the integer-key sort."""
    rng = np.random.default_rng(5)
    special = np.array([0.0, -0.0, 1.5, -1.5, 2.0, -3.25, 1e-45, -1e-45, 3e38, -3e38], np.float32)
    for n in (1, 2, 7, 150, 333):
        Xt = rng.choice(special, (8, n))
        Xt[:3] = rng.standard_normal((3, n)).astype(np.float32) * (rng.random((3, n)) < 0.6)
        Xt[3] = -np.abs(Xt[0])
        rows = np.array([6, 0, 3, 1, 2, 7])
        ref = np.argsort(Xt, axis=1, kind="stable")
        for pack, unpack in ((None, None), (python_version(kernels.pack_rows), python_version(kernels.unpack_rows))):
            order, values = np.full(Xt.shape, -1, np.int32), np.zeros(Xt.shape, np.float32)
            if pack is None:
                kernels.sort_rows_into(Xt, rows, order, values)
            else:
                packed = np.empty((len(rows), n))
                assert pack(Xt, packed, rows)
                packed.sort(axis=1)
                unpack(packed, Xt, rows, order, values)
            assert np.array_equal(order[rows], ref[rows])
            assert np.array_equal(values[rows].view(np.uint32), np.take_along_axis(Xt[rows], ref[rows], 1).view(np.uint32))
            assert (order[[4, 5]] == -1).all()  # columns not asked for are left alone
    Xt[2, 0] = np.inf
    Xt[5, 1] = -np.inf
    assert not kernels.pack_rows(Xt, np.empty(Xt.shape), np.arange(len(Xt)))
    order, values = np.zeros(Xt.shape, np.int32), np.zeros(Xt.shape, np.float32)
    kernels.sort_rows_into(Xt, np.arange(8), order, values)
    assert np.array_equal(order, np.argsort(Xt, axis=1, kind="stable"))


@pytest.mark.parametrize("n_vectors", [1, 2, 3, 10, 17, 56, 64, 65])
def test_counts_on_zero_padded_vectors_equal_the_unpadded_kernel(n_vectors):
    """``count_by_bin`` runs the kernel on zero columns added up to a SIMD-friendly width: the counts
    it returns must be the kernel's on the vectors alone, in the same shape."""
    X, _ = relu_group(n=200, n_features=30)
    bins = column_bins(X, 6)
    W = (np.random.default_rng(n_vectors).random((200, n_vectors)) < 0.3).astype(np.uint8)
    counts = kernels.count_by_bin(bins, W, 6)
    assert kernels.padded_width(n_vectors) >= n_vectors and counts.shape == (30, 6, n_vectors)
    assert np.array_equal(counts, kernels.count_by_bin_into(bins, W, np.zeros((30, 6, n_vectors), np.int16)))


TREE_KERNELS = ("_grow", "_scan_one_node", "_score_bound", "_xlogx_floor", "_xlogx")


def random_tree_case(rng, case):
    """A random tree problem: continuous, ReLU-like, heavily tied or sub-FEATURE_THRESHOLD values;
    some fits on part of the rows; depths 1-4 and several minimum leaf sizes."""
    n, n_cols = int(rng.integers(2, 500)), int(rng.integers(1, 10))
    X = rng.standard_normal((n_cols, n)).astype(np.float32)
    if case % 4 == 1:
        X = np.maximum(X + 0.3, 0)
    elif case % 4 == 2:
        X = np.round(X * 2) / 2
    elif case % 4 == 3:
        X = (X * 1e-7).astype(np.float32)
    y = (rng.random(n) < rng.uniform(0.05, 0.6)).astype(np.int64)
    if case % 5 == 0:  # a real failure mode: most cuts far from the best one
        y = (rng.random(n) < 1 / (1 + np.exp(-3 * X[0] / (np.abs(X[0]).max() + 1e-30)))).astype(np.int64)
    train = rng.random(n) < (1.0 if case % 3 else 0.8)
    if y[train].sum() in (0, train.sum()):
        return None
    order = np.argsort(X, axis=1, kind="stable").astype(np.int32)
    n_fail = int(y[train].sum())
    return (order, np.take_along_axis(X, order, 1), X, y, train, int(rng.integers(1, 5)),
            int(rng.choice([1, 1, 2, 5, 20])), (train.sum() - n_fail) / n_fail, *kernels.tree_tables(n))


def test_tree_kernel_skipping_bounded_cuts_grows_the_exhaustive_kernels_tree(monkeypatch):
    """``grow_tree`` passes over runs of cuts whose bound cannot beat the node's best; it must grow
    exactly the tree of ``grow_tree_exhaustive`` (the same kernel scoring every cut), compiled and as plain Python (every tree kernel swapped for its Python version)."""
    rng = np.random.default_rng(11)
    cases = [c for c in (random_tree_case(rng, i) for i in range(300)) if c is not None]
    for args in cases:
        for a, b in zip(kernels.grow_tree(*args), kernels.grow_tree_exhaustive(*args)):
            assert a.shape == b.shape and np.array_equal(a, b)
    for name in TREE_KERNELS:
        monkeypatch.setattr(kernels, name, python_version(getattr(kernels, name)))
    for args in cases[:25]:
        for a, b in zip(python_version(kernels.grow_tree)(*args), kernels.grow_tree_exhaustive(*args)):
            assert a.shape == b.shape and np.array_equal(a, b)


def test_many_trees_on_shared_columns_equal_trees_grown_one_by_one():
    """``aler_minus_ber_many`` grows each vector's tree on its selected columns of the shared sort
    orders (no copies): the same ALER - BER as grow_tree on the copied columns."""
    X, failure = relu_group(n=300, n_features=40)
    refits = GroupRefits(X, top_k=6, depth=3, min_leaf=2)
    rng = np.random.default_rng(2)
    Y = np.stack([failure] + [rng.permutation(failure) for _ in range(9)]).astype(np.uint8)
    selected = refits.select(Y)
    order, values = refits.sort_columns(selected)
    got = kernels.aler_minus_ber_many(order, values, refits.Xt, selected, Y, 3, 2, *refits.tree_tables)
    for q in range(len(Y)):
        cols = selected[q]
        y = Y[q].astype(np.int64)
        n_fail = int(y.sum())
        feature, _, _, _, m, k, _ = kernels.grow_tree_exhaustive(order[cols], values[cols], refits.Xt[cols], y,
                                                                 np.ones(300, bool), 3, 2, (300 - n_fail) / n_fail,
                                                                 *refits.tree_tables)
        leaf = (feature < 0) & (m > 0)
        assert got[q] == np.sum(k[leaf] ** 2 / m[leaf]) / n_fail - n_fail / 300 or np.isclose(
            got[q], np.sum(k[leaf] ** 2 / m[leaf]) / n_fail - n_fail / 300, rtol=0, atol=1e-12)
