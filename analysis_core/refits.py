"""The failure procedure (binned-MI feature selection + entropy tree) refitted on one group for many
label vectors at once: the folds of cross-fitting and the shuffles of the permutation test.

Only the failure flags (and, for a fold, which rows are trained on) change between refits, never
the rows' feature values, so everything that depends on the values alone is done once per group:

* the quantile bins of every feature (``mutual_info.column_bins``; the cuts depend on the feature
  values only, never on failure flags, so folds share the whole group's cuts without seeing any
  held-out flag);
* each selected column's sort order, computed the first time some refit selects the column.

Per batch of label vectors, the per-bin counts of every feature for all vectors come from one
pass (``binned_kernels.count_by_bin``, or on a torch device one matrix product of the bins'
one-hot matrix with the vectors), the MI of every feature and vector from those counts, the
top-k features per vector from one sort, and the trees from ``binned_kernels.grow_tree``.

Devices: ``cpu`` runs the NumPy / numba kernels; any other value (``cuda``, ``cuda:1``, or
``torch-cpu`` for torch on the CPU) computes the counts, MI and top-k with torch on that device
(the trees, a few thousand operations each, stay on the CPU). Both give the same MI to rounding
(tests/analysis/test_refits.py).
"""

from __future__ import annotations

import numpy as np

from analysis_core.binned_kernels import aler_minus_ber_many, count_by_bin, grow_tree, mi_from_counts, sort_rows_into, transpose, tree_tables
from analysis_core.artifacts.errors import BarlowError
from analysis_core.mutual_info import auto_bins, binned_mi, column_bins_of_transposed, mi_of_bins, xlogx_table

CPU = "cpu"
TORCH_CPU = "torch-cpu"


def torch_device(device: str):
    """The torch device for a --device value other than 'cpu'; a clear error when it cannot be used."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise BarlowError(f"--device {device} needs torch, which is not installed") from exc
    if device == TORCH_CPU:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise BarlowError(f"unknown device '{device}' (use cpu, cuda, cuda:N or {TORCH_CPU})") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BarlowError(f"--device {device} was asked for but torch finds no CUDA GPU here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BarlowError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type != "cpu":
        raise BarlowError(f"--device {device} is not supported (use cpu, cuda, cuda:N or {TORCH_CPU})")
    return dev


def check_device(device: str) -> str:
    if device != CPU:
        torch_device(device)
    return device


class GroupRefits:
    """One group's shared work for refitting the procedure of ``tree`` (a FailureTree's settings)."""

    def __init__(self, X: np.ndarray, top_k: int, depth: int, min_leaf: int, device: str = CPU) -> None:
        X = np.asarray(X, dtype=np.float32)
        self.n, self.n_features = X.shape
        self.top_k = min(int(top_k), self.n_features)
        self.depth, self.min_leaf = int(depth), int(min_leaf)
        self.device = device
        self.n_bins = auto_bins(self.n)
        self.Xt = transpose(X, np.empty((self.n_features, self.n), dtype=np.float32))
        self.bins_t = column_bins_of_transposed(self.Xt, self.n_bins)
        self.table = xlogx_table(self.n)
        self.tree_tables = tree_tables(self.n)
        self._order = np.zeros((self.n_features, self.n), dtype=np.int32)
        self._sorted_values = np.zeros((self.n_features, self.n), dtype=np.float32)
        self._sorted = np.zeros(self.n_features, dtype=bool)
        self._torch = None

    # --- feature selection -------------------------------------------------------------

    def select(self, fail: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Top-k features (vectors x k, MI descending, ties by plug-in MI then lower id) for each row
        of ``fail`` (vectors x rows, 0/1), MI measured on the rows marked in ``rows`` (default all)."""
        fail = np.asarray(fail, dtype=np.uint8)
        if rows is None:
            W = np.concatenate([np.ones((self.n, 1), dtype=np.uint8), fail.T], axis=1)
            fail_col = np.arange(1, len(fail) + 1)
            all_col = np.zeros(len(fail), dtype=np.int64)
        else:
            rows = np.asarray(rows, dtype=np.uint8)
            W = np.concatenate([rows.T, (fail & rows).T], axis=1)
            all_col = np.arange(len(fail))
            fail_col = all_col + len(fail)
        W = np.ascontiguousarray(W)
        if self.device == CPU:
            counts = count_by_bin(self.bins_t, W, self.n_bins)
            mi, plugin = mi_from_counts(counts, fail_col, all_col, self.table)
            return top_features_many(mi, plugin, self.top_k)
        return self._select_torch(W, fail_col, all_col)

    def mutual_information(self, fail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``mutual_info.mutual_info_fast(X, fail, return_plugin=True)`` from the group's bins (same values)."""
        return mi_of_bins(self.bins_t, fail, self.n_bins, self.table)

    def _select_torch(self, W: np.ndarray, fail_col: np.ndarray, all_col: np.ndarray) -> np.ndarray:
        import torch

        dev = torch_device(self.device)
        if self._torch is None:
            # The one-hot matrix of every (feature, bin) (rows x features*bins; counts are exact
            # integers in float32 up to 2^24 rows).
            flat = torch.from_numpy(self.bins_t.T.astype(np.int64)).to(dev)
            flat += torch.arange(self.n_features, device=dev)[None, :] * self.n_bins
            one_hot = torch.zeros((self.n, self.n_features * self.n_bins), dtype=torch.float32, device=dev)
            one_hot.scatter_(1, flat, 1.0)
            self._torch = (one_hot, torch.from_numpy(self.table).to(dev))
        one_hot, table = self._torch
        w = torch.from_numpy(W).to(dev, dtype=torch.float32)
        counts = (one_hot.T @ w).round().to(torch.int64).reshape(self.n_features, self.n_bins, -1)
        fail_idx = torch.from_numpy(fail_col).to(dev)
        all_idx = torch.from_numpy(all_col).to(dev)
        count_all = counts[:, :, all_idx]  # features x bins x vectors
        count_fail = counts[:, :, fail_idx]
        n = count_all[0].sum(dim=0)
        n_fail = count_fail[0].sum(dim=0)
        mi, plugin = binned_mi(count_all, count_fail, n, n_fail, table)
        mi, plugin = mi.T.contiguous(), plugin.T.contiguous()  # vectors x features
        # lexsort by (-mi, -plugin, id) as stable sorts, last key first.
        ids = torch.arange(self.n_features, device=dev).expand_as(mi)
        order = ids.clone()
        for key in (plugin, mi):
            keyed = torch.gather(-key, 1, order)
            order = torch.gather(order, 1, torch.sort(keyed, dim=1, stable=True).indices)
        return order[:, : self.top_k].cpu().numpy().astype(np.int64)

    # --- trees ---------------------------------------------------------------------------

    def sort_columns(self, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every column's sort order and sorted values (features x rows each), computed for the
        ``selected`` ones where missing."""
        need = np.unique(selected)
        need = need[~self._sorted[need]]
        if len(need):
            sort_rows_into(self.Xt, need, self._order, self._sorted_values)
            self._sorted[need] = True
        return self._order, self._sorted_values

    def aler_minus_ber(self, selected: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """In-sample ALER - BER of the tree on ``selected[q]`` for flags Y[q], trained on all rows."""
        order, sorted_values = self.sort_columns(selected)
        return aler_minus_ber_many(order, sorted_values, self.Xt, selected, Y, self.depth, self.min_leaf, *self.tree_tables)

    def grow(self, selected: np.ndarray, fail: np.ndarray, rows: np.ndarray | None = None):
        """The tree on ``selected`` columns for flags ``fail`` trained on ``rows`` (default all);
        returns grow_tree's (feature, threshold, left, right, n_train, n_fail_train, leaf_of_row)."""
        order, sorted_values = self.sort_columns(selected)
        order, sorted_values, values = order[selected], sorted_values[selected], self.Xt[selected]
        fail = np.asarray(fail, dtype=np.int64)
        train = np.ones(self.n, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
        n_fail = int(fail[train].sum())
        w_fail = (int(train.sum()) - n_fail) / n_fail
        return grow_tree(order, sorted_values, values, fail, train, self.depth, self.min_leaf, w_fail, *self.tree_tables)


def top_features_many(mi: np.ndarray, plugin: np.ndarray, k: int) -> np.ndarray:
    """``mutual_info.top_features`` for every row of ``mi`` (vectors x features) at once."""
    n_vectors, n_features = mi.shape
    if k >= n_features:
        ids = np.broadcast_to(np.arange(n_features), mi.shape)
        return np.lexsort((ids, -plugin, -mi), axis=-1)[:, :k]
    # Only the features whose MI reaches the k-th largest can be chosen: sort just those (all of a
    # row's features where ties at that value make more than k candidates).
    kth = -np.partition(-mi, k - 1, axis=1)[:, k - 1]
    candidate = mi >= kth[:, None]
    out = np.empty((n_vectors, k), dtype=np.int64)
    exact = candidate.sum(axis=1) == k
    if exact.any():
        ids = np.nonzero(candidate[exact])[1].reshape(-1, k)
        rows = np.arange(len(ids))[:, None]
        mi_c, plugin_c = mi[exact][rows, ids], plugin[exact][rows, ids]
        out[exact] = np.take_along_axis(ids, np.lexsort((ids, -plugin_c, -mi_c), axis=-1), axis=1)
    if not exact.all():
        ids = np.broadcast_to(np.arange(n_features), (int((~exact).sum()), n_features))
        out[~exact] = np.lexsort((ids, -plugin[~exact], -mi[~exact]), axis=-1)[:, :k]
    return out
