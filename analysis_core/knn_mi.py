"""scikit-learn's k-NN mutual information with a discrete target, for all features at once.

``mutual_info_knn_exact(X, y, random_state)`` returns the values of
``sklearn.feature_selection.mutual_info_classif(X, y, n_neighbors=3, random_state=...)``
(Ross 2014's estimator, which the original Barlow code used) to floating-point rounding,
but instead of building two neighbour trees per feature it sorts every column once, all
features at once as rows of 2-D arrays, and counts neighbours by searching the sorted rows.

The counting is exact without checking candidates one by one: rounding is monotone, so the
values that a rounded test ``|x_j - x_i| <= r`` accepts form one interval of floats, and its
two ends are computed on the query side (almost always ``fl(x_i - r)`` or the float next to
it; the few others, near zero, are bisected over the bit patterns). One ``searchsorted`` per
column then finds the run of accepted points. With numba installed, two compiled passes
(``analysis_core.knn_kernels``) do the same arithmetic: one scales the columns and adds the noise,
one does everything after NumPy's sort of each class's block (k-th distances, radii, the merge,
the runs of accepted points, counted from each point's place in its merged row, and the digamma
sum); the results are identical bit for bit.

Exactness needs more than the textbook estimator, because scikit-learn's answer depends
on how its neighbour searches round:

* The per-point radius is ``nextafter(d_k, 0)`` where ``d_k`` is the distance to the k-th
  neighbour of the same class. With a KD-tree (class size >= 8) ``d_k`` is exactly
  ``|x_i - x_j|``; with brute force (smaller classes) it is ``sqrt(x_i^2 - 2 x_i x_j + x_j^2)``
  as the GEMM-based search rounds it.
* ``KDTree.query_radius`` counts a point when ``(x_i - x_j)^2 <= r^2`` in floating point, so
  a point just outside ``r`` is counted when the two squares round to the same number, unless
  a tree node holding it was pruned first (node bounds are compared with ``r`` unsquared). In
  one dimension the KD-tree's nodes are ranges of the sorted column, fixed by the row count
  and the leaf size (40), so which nodes get pruned can be replayed exactly. For a normal
  ``r`` the float after ``r`` already squares to more than ``r^2``, so this only happens when
  ``r^2`` underflows (tiny radii), and only those points are checked.

Everything else (scaling, the 1e-10 noise drawn from ``RandomState(random_state)``, the
digamma formula, dropping classes of one point) follows ``sklearn.feature_selection._mutual_info``.
The noise for a seed and a number of features is the same in every call, so it is drawn once per
process (``noise_rows``) rather than at every call as scikit-learn does.
"""

from __future__ import annotations

import functools
import itertools
import threading

import numpy as np

N_NEIGHBORS = 3
LEAF_SIZE = 40  # scikit-learn's KDTree default, which mutual_info_classif uses
NOISE_CACHE_VALUES = 2**23  # 64 MiB of float64


def prepare_columns(X: np.ndarray, random_state: int | None = 0) -> np.ndarray:
    """X as scikit-learn's estimator sees it: float64, scaled to unit std (no centring), plus its noise."""
    from sklearn.preprocessing import scale

    X = np.asarray(X)
    noise = noise_rows(random_state, *X.shape).T
    if X.flags.c_contiguous:
        # scikit-learn scales and measures X[:, all columns], which is a Fortran-ordered copy of
        # its C-ordered float64 X: working on a Fortran-ordered float64 X in place gives the same
        # bits with one copy instead of five, and its transpose is already features x rows.
        X = X.astype(np.float64, order="F")
        X = scale(X, with_mean=False, copy=False)
        means = np.maximum(1, np.mean(np.abs(X), axis=0))
        X += 1e-10 * means * noise
        return X
    # Otherwise mirror scikit-learn's statements literally: scaling a fancy-indexed copy sums in a
    # different memory order than scaling X itself, and at the 1e-16 level that moves the
    # noise that separates tied values (ReLU zeros) enough to change neighbour counts.
    X = X.astype(np.float64)
    continuous = np.ones(X.shape[1], dtype=bool)
    X[:, continuous] = scale(X[:, continuous], with_mean=False, copy=False)
    means = np.maximum(1, np.mean(np.abs(X[:, continuous]), axis=0))
    X[:, continuous] += 1e-10 * means * noise
    return X


class _NoiseRows:
    """The normals ``RandomState(seed).standard_normal(size=(n, width))`` for every n, kept as
    width x n and drawn further when a larger n is asked for: the first n rows of a larger draw
    are the smaller draw (the stream fills rows in order), so one draw serves every group size."""

    def __init__(self, seed: int, width: int):
        self._rng = np.random.RandomState(seed)
        self._rows = np.empty((width, 0))
        self._lock = threading.Lock()

    def first(self, n: int) -> np.ndarray:
        with self._lock:
            have = self._rows.shape[1]
            if n > have:
                more = self._rng.standard_normal(size=(n - have, self._rows.shape[0]))
                self._rows = np.concatenate([self._rows, more.T], axis=1)
                self._rows.flags.writeable = False
            return self._rows[:, :n]


@functools.lru_cache(maxsize=2)
def _noise_stream(seed: int, width: int) -> _NoiseRows:
    return _NoiseRows(seed, width)


def noise_rows(random_state, n: int, width: int) -> np.ndarray:
    """The estimator's tie-breaking noise for an n x width X, as width x n (read-only).

    scikit-learn draws it anew from ``RandomState(random_state)`` at every call; with an integer
    seed it is the same for every group of the same width, and drawing it is as costly as all the
    rest of the estimate, so it is drawn once per process (up to NOISE_CACHE_VALUES values)."""
    from sklearn.utils import check_random_state

    if isinstance(random_state, (int, np.integer)) and n * width <= NOISE_CACHE_VALUES:
        return _noise_stream(int(random_state), width).first(n)
    return check_random_state(random_state).standard_normal(size=(n, width)).T


def mutual_info_knn_exact(X: np.ndarray, y: np.ndarray, random_state: int | None = 0,
                          compiled: bool | None = None) -> np.ndarray:
    """MI (nats) of every column of X with the discrete target y, equal to scikit-learn's knn estimate.

    ``compiled`` (default: when numba is installed) runs the scaling and the neighbour searches as
    compiled loops (``analysis_core.knn_kernels``) instead of whole-array NumPy passes; the values
    are the same.
    """
    from scipy.special import digamma

    from analysis_core.compiled import HAVE_NUMBA

    compiled = HAVE_NUMBA if compiled is None else compiled

    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be 2-D with one row per target value, got {X.shape} and {y.shape}")
    n_features = X.shape[1]
    if n_features == 0:
        return np.zeros(0)

    _, y_codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    # Points whose class has a single member take no part (as in scikit-learn), but they do count
    # in the scaling and the noise, which come first.
    kept = np.flatnonzero(counts[y_codes] > 1)
    n = len(kept)
    if n == 0:
        return np.zeros(n_features)
    # Every class's points side by side (features x rows, so that every column is a contiguous row).
    order = kept[np.argsort(y_codes[kept], kind="stable")]
    if compiled and X.flags.c_contiguous:
        from analysis_core.knn_kernels import scaled_noisy_points

        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        points = scaled_noisy_points(X, noise_rows(random_state, *X.shape), order)
    else:
        points = np.take(prepare_columns(X, random_state).T, order, axis=1)

    class_sizes = np.bincount(y_codes[kept])
    class_sizes = class_sizes[class_sizes > 0]
    bounds = np.concatenate([[0], np.cumsum(class_sizes)])
    ks = np.minimum(N_NEIGHBORS, class_sizes - 1)
    brute = ks >= class_sizes // 2
    brute_radii = np.empty((n_features, n)) if brute.any() else np.empty((1, 1))
    for c, (start, end) in enumerate(itertools.pairwise(bounds)):
        values = points[:, start:end]
        values.sort(axis=1)
        if brute[c]:
            brute_radii[:, start:end] = _float_below(_kth_distance_brute(values, ks[c]))
    sum_digamma_k = float(np.sum(class_sizes * digamma(ks)))
    sum_digamma_count = float(np.sum(class_sizes * digamma(class_sizes)))

    leaf_start = kdtree_leaf_starts(n)
    digamma_table = digamma(np.arange(1, n + 1, dtype=np.float64))  # digamma(m) at index m - 1
    counting = _digamma_count_sums
    if compiled:
        from analysis_core.knn_kernels import digamma_count_sums as counting
    sum_digamma_m = counting(points, bounds, np.where(brute, -1, ks), brute_radii, leaf_start,
                             kdtree_leaf_ends(leaf_start), digamma_table)

    mi = digamma(n) + sum_digamma_k / n - sum_digamma_count / n - sum_digamma_m / n
    return np.maximum(mi, 0.0)


def _digamma_count_sums(points, bounds, ks, brute_radii, leaf_start, leaf_end, digamma_table):
    """``knn_kernels.digamma_count_sums`` as whole-array NumPy passes (same arguments, same bits)."""
    radii = np.empty_like(points)
    for c, k in enumerate(ks):
        start, end = bounds[c], bounds[c + 1]
        if k < 0:
            radii[:, start:end] = brute_radii[:, start:end]
        else:
            radii[:, start:end] = _float_below(_kth_distance_sorted(points[:, start:end], k))
    # The sorted blocks are runs that a stable sort (timsort) merges in linear time.
    full_sorted = np.sort(points, axis=1, kind="stable")
    return digamma_sums(_count_within(full_sorted, points, radii, leaf_start, leaf_end), digamma_table)


def digamma_sums(counts: np.ndarray, digamma_table: np.ndarray) -> np.ndarray:
    """Per row of neighbour counts m, the sum of digamma(m), added as the compiled kernel adds it:
    over a histogram of m, in increasing m (``np.cumsum`` adds in order)."""
    n_rows = counts.shape[0]
    largest = int(counts.max())
    index = (np.arange(n_rows)[:, None] * (largest + 1) + counts).ravel()
    hist = np.bincount(index, minlength=n_rows * (largest + 1)).reshape(n_rows, largest + 1)
    return np.cumsum(hist[:, 1:] * digamma_table[:largest], axis=1)[:, -1]


def _float_below(d: np.ndarray) -> np.ndarray:
    """np.nextafter(d, 0) for distances d >= 0 (stepping the bit pattern is ten times faster)."""
    bits = d.view(np.int64)
    return (bits - (bits > 0)).view(np.float64)


def _kth_distance_sorted(values: np.ndarray, k: int) -> np.ndarray:
    """Distance from every point to its k-th nearest other point, per row of sorted ``values``.

    In one dimension the k nearest neighbours of the point at position p, with p itself, fill
    a window of k + 1 consecutive positions; the k-th distance is the smallest, over the
    k + 1 windows holding p, of the distance to the window's far end.
    """
    n_rows, count = values.shape
    # With k infinities padded on each side, left(j)[:, p] = values[p] - values[p - j] and
    # right(j)[:, p] = values[p + j] - values[p] are infinite off the ends, as they should be.
    padded = np.empty((n_rows, count + 2 * k))
    padded[:, :k] = -np.inf
    padded[:, k + count :] = np.inf
    padded[:, k : k + count] = values

    def left(j):
        return values - padded[:, k - j : k - j + count]

    def right(j):
        return padded[:, k + j : k + j + count] - values

    best = left(k)
    np.minimum(best, right(k), out=best)
    for shift in range(1, k):
        np.minimum(best, np.maximum(left(k - shift), right(shift)), out=best)
    return best


def _kth_distance_brute(values: np.ndarray, k: int) -> np.ndarray:
    """The k-th neighbour distance as scikit-learn's brute-force (GEMM) search rounds it."""
    sq_norm = values * values
    middle = -2.0 * (values[:, :, None] * values[:, None, :])
    sq = np.maximum((sq_norm[:, :, None] + middle) + sq_norm[:, None, :], 0.0)
    # Each point's own distance is exactly 0 and is dropped, leaving the (k+1)-th smallest.
    return np.sqrt(np.sort(sq, axis=2)[:, :, k])


def kdtree_leaf_starts(n: int, leaf_size: int = LEAF_SIZE) -> np.ndarray:
    """For each position of n sorted one-dimensional points, where its leaf starts in scikit-learn's KDTree.

    The tree splits a node's index range in halves (``start + (end - start) // 2``) down to a
    fixed number of levels set by n and the leaf size, so in one dimension its nodes are ranges
    of the sorted column.
    """
    n_levels = int(np.log2(max(1.0, (n - 1) / leaf_size)) + 1)
    n_nodes = 2**n_levels - 1
    positions = np.arange(n)
    start = np.zeros(n, dtype=np.int64)
    end = np.full(n, n, dtype=np.int64)
    node = np.zeros(n, dtype=np.int64)
    while True:
        # A node is a leaf at the last level, or when it holds fewer than two points.
        inner = (2 * node + 1 < n_nodes) & (end - start >= 2)
        if not inner.any():
            return start
        mid = start + (end - start) // 2
        go_left = positions < mid
        node = np.where(inner, np.where(go_left, 2 * node + 1, 2 * node + 2), node)
        start, end = np.where(inner & ~go_left, mid, start), np.where(inner & go_left, mid, end)


def kdtree_leaf_ends(leaf_start: np.ndarray) -> np.ndarray:
    """For each position, where its leaf ends (one past its last position), from ``kdtree_leaf_starts``."""
    starts = np.unique(leaf_start)
    return np.append(starts[1:], len(leaf_start))[np.searchsorted(starts, leaf_start)]


def _ordered(t: np.ndarray) -> np.ndarray:
    """float64 -> int64 with the same order (both zeros map to 0), for bisecting between adjacent floats."""
    bits = t.view(np.int64)
    return np.where(bits < 0, -(bits & np.int64(0x7FFFFFFFFFFFFFFF)), bits)


def _unordered(o: np.ndarray) -> np.ndarray:
    bits = np.where(o < 0, (-o) | np.int64(-0x8000000000000000), o)
    return bits.view(np.float64)


def _within_abs(t, x, r):
    return x - t <= r


def _within_squared(t, x, r_squared):
    d = x - t
    return d * d <= r_squared


def _lowest_within(x: np.ndarray, r: np.ndarray, squared: bool = False) -> np.ndarray:
    """The smallest float t <= x that a neighbour search counts as within r of x, elementwise.

    ``squared=False``: ``|t - x| <= r`` as rounded (what KDTree.query_radius always counts);
    ``squared=True``: ``(t - x)^2 <= r^2`` as rounded (what it counts in a leaf searched point by
    point). Rounding is monotone, so for t <= x either test is false below the threshold and true
    from it up to x, and a sorted column's points within r start at ``searchsorted(threshold)``.
    The threshold is almost always fl(x - r) or the float next to it, which two tests settle; the
    rest (near zero, where floats are dense) is bisected.
    """
    within, rr = (_within_squared, r * r) if squared else (_within_abs, r)
    t0 = x - r
    in0 = within(t0, x, rr)
    bits = t0.view(np.int64)
    # Stepping the bit pattern by one moves to the next float up for positive t0, down for
    # negative (np.nextafter is ten times slower); zeros, where this breaks, are bisected.
    up = 1 - 2 * (bits < 0).view(np.int8).astype(np.int64)
    not_in0 = ~in0
    # Probe the float below t0 where t0 is within, above it where it is not.
    probe = (bits + up * (not_in0.view(np.int8) * 2 - 1)).view(np.float64)
    settled = in0 ^ within(probe, x, rr)
    result = (bits + up * not_in0.view(np.int8)).view(np.float64)
    todo = ~settled | (t0 == 0)
    if todo.any():
        result[todo] = _bisect_lowest(x[todo], r[todo], rr[todo], t0[todo], in0[todo], within)
    return result


def _bisect_lowest(x, r, rr, t0, in0, within):
    """_lowest_within for the few points where the threshold is further than one float from fl(x - r)."""
    true_at = np.where(in0, t0, x)  # x itself is always within
    # A point far enough below is outside: grow the step until it is (for tiny or zero radii too).
    step = 16.0 * np.spacing(np.maximum(np.abs(x), r))
    false_at = np.where(in0, t0 - step, t0)
    bad = within(false_at, x, rr)
    while bad.any():
        step = np.where(bad, 65536.0 * step + 1e-300, step)
        false_at = np.where(bad, t0 - step, false_at)
        bad = within(false_at, x, rr)
    lo, hi = _ordered(false_at), _ordered(true_at)
    while True:
        open_ = lo + 1 < hi  # (hi - lo can overflow int64 when they straddle zero)
        if not open_.any():
            return _unordered(hi)
        mid = (lo >> 1) + (hi >> 1) + (lo & hi & 1)  # floor((lo + hi) / 2) without overflowing int64
        inside = within(_unordered(mid), x, rr)
        hi = np.where(open_ & inside, mid, hi)
        lo = np.where(open_ & ~inside, mid, lo)


def _count_within(full_sorted: np.ndarray, points: np.ndarray, radius: np.ndarray, leaf_start: np.ndarray,
                  leaf_end: np.ndarray | None = None) -> np.ndarray:
    """How many points of each full row KDTree.query_radius counts within ``radius`` of each of ``points``."""
    n_rows, n = full_sorted.shape
    # The points within r form one run of each sorted row, from the lowest to the highest value
    # within r; the highest is the negated lowest of the mirrored problem.
    lowest = _lowest_within(points, radius)
    highest = -_lowest_within(-points, radius)
    lo = np.empty(points.shape, dtype=np.int64)
    hi = np.empty(points.shape, dtype=np.int64)
    for row in range(n_rows):
        lo[row] = full_sorted[row].searchsorted(lowest[row], side="left")
        hi[row] = full_sorted[row].searchsorted(highest[row], side="right")
    result = (hi - lo).ravel()

    # Just outside r, a point whose rounded square equals r^2 is counted when its tree leaf is
    # searched point by point, and not when a node holding it is pruned first by its bounds; a
    # node is pruned exactly when it starts beyond the last point inside r, so the point counts
    # when it shares a leaf with that point. Leaves are runs of positions, so walk outwards from
    # the run's ends within the leaf while the squared test holds.
    # The squared test only reaches beyond r where the float after r squares to r^2 (rounded),
    # which for normal r is rare: only those points need it.
    r_flat = radius.ravel()
    after_r = (r_flat.view(np.int64) + 1).view(np.float64)  # r >= 0
    wide = np.flatnonzero(after_r * after_r <= r_flat * r_flat)
    if not len(wide):
        return result.reshape(points.shape)
    x, r = points.ravel()[wide], r_flat[wide]
    if leaf_end is None:
        leaf_end = kdtree_leaf_ends(leaf_start)
    flat = full_sorted.ravel()
    base = (wide // points.shape[1]) * n  # where the point's row starts in flat
    lo_w, hi_w = lo.ravel()[wide], hi.ravel()[wide]
    for step in (-1, 1):
        if step < 0:
            bound = _lowest_within(x, r, squared=True)
            pos, stop = lo_w - 1, leaf_start[lo_w]
        else:
            bound = -_lowest_within(-x, r, squared=True)
            pos, stop = hi_w, leaf_end[hi_w - 1] - 1
        cand = wide
        live = (pos >= stop) if step < 0 else (pos <= stop)
        cand, bound, pos, stop, b = cand[live], bound[live], pos[live], stop[live], base[live]
        while len(cand):
            value = flat[b + pos]
            ok = value >= bound if step < 0 else value <= bound
            cand, bound, pos, stop, b = cand[ok], bound[ok], pos[ok], stop[ok], b[ok]
            # Each point index occurs at most once per pass, so plain fancy addition is safe.
            result[cand] += 1
            more = pos != stop
            cand, bound, pos, stop, b = cand[more], bound[more], pos[more] + step, stop[more], b[more]
    return result.reshape(points.shape)
