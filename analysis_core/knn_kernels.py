"""Compiled inner loops of the exact k-NN mutual information (``analysis_core.knn_mi``).

Each replaces a chain of whole-array NumPy passes by one pass per row (feature) that keeps its
row in cache; the arithmetic on every value is the same, so the results are identical bit for
bit (tests/analysis/test_knn_mi.py runs both ways).
"""

from __future__ import annotations

import numpy as np

from analysis_core.compiled import jit


@jit
def kth_distance_sorted(values, k):
    """``knn_mi._kth_distance_sorted``: per row of sorted ``values``, each point's distance to its
    k-th nearest other point, the smallest over the k + 1 windows of k + 1 positions holding it
    of the distance to the window's far end."""
    n_rows, count = values.shape
    out = np.empty((n_rows, count))
    for row in range(n_rows):
        v = values[row]
        for p in range(count):
            best = np.inf
            for right in range(k + 1):
                left = k - right
                d_left = v[p] - v[p - left] if p - left >= 0 else np.inf
                d_right = v[p + right] - v[p] if p + right < count else np.inf
                if left == 0:
                    d = d_right
                elif right == 0:
                    d = d_left
                else:
                    d = max(d_left, d_right)
                best = min(best, d)
            out[row, p] = best
    return out


@jit
def run_within(full_sorted, position, points, radius):
    """(lo, hi): the run full_sorted[row, lo:hi] of values that the rounded tests ``x - t <= r``
    (t <= x) and ``t - x <= r`` (t >= x) accept around each point x = points[row, i], found by
    walking outwards from the point's own position in its sorted row. Both tests are monotone
    in t, so the accepted values are one run; a point's run holds a handful of values, so the
    walk costs less than a binary search for each end. Also flags the radii whose next float up
    still squares to r^2 (rounded): only there can the KD-tree's squared test count more."""
    n_rows, n = points.shape
    lo = np.empty((n_rows, n), dtype=np.int64)
    hi = np.empty((n_rows, n), dtype=np.int64)
    wide = np.zeros((n_rows, n), dtype=np.bool_)
    for row in range(n_rows):
        s = full_sorted[row]
        for i in range(n):
            x = points[row, i]
            r = radius[row, i]
            after = np.nextafter(r, np.inf)
            wide[row, i] = after * after <= r * r
            p = position[row, i]
            j = p - 1
            while j >= 0 and x - s[j] <= r:
                j -= 1
            lo[row, i] = j + 1
            j = p + 1
            while j < n and s[j] - x <= r:
                j += 1
            hi[row, i] = j
    return lo, hi, wide


@jit
def merge_runs(points, bounds):
    """(full_sorted, position): every row of ``points``, whose runs points[:, bounds[c]:bounds[c + 1]]
    are each sorted, merged into one sorted row (ties: earlier run first, as a stable sort of the
    row orders them), and where each point landed."""
    n_rows, n = points.shape
    n_runs = bounds.shape[0] - 1
    full = np.empty((n_rows, n))
    position = np.empty((n_rows, n), dtype=np.int64)
    head = np.empty(n_runs, dtype=np.int64)
    for row in range(n_rows):
        v = points[row]
        for c in range(n_runs):
            head[c] = bounds[c]
        for out in range(n):
            best = -1
            for c in range(n_runs):
                if head[c] < bounds[c + 1] and (best < 0 or v[head[c]] < v[head[best]]):
                    best = c
            i = head[best]
            full[row, out] = v[i]
            position[row, i] = out
            head[best] += 1
    return full, position
