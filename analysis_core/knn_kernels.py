"""Compiled inner loops of the exact k-NN mutual information (``analysis_core.knn_mi``).

Two passes replace the chains of whole-array NumPy passes: one per block of columns that scales
them and adds the noise (``scaled_noisy_points``), and one per feature row that does everything
after the sort (``digamma_count_sums``: k-th distances, radii, the merge of the classes' sorted
blocks, the neighbour runs, the KD-tree's squared-test fix-up and the digamma sum). Each keeps
its row in cache and does the same arithmetic on every value as the NumPy path, so the results
are identical bit for bit (tests/analysis/test_knn_mi.py runs both ways).
"""

from __future__ import annotations

import numpy as np

from analysis_core.compiled import jit

PAIRWISE_BLOCK = 128  # NumPy's PW_BLOCKSIZE
SENTINEL = 8  # values counted at a time in a neighbour run
COLUMN_BLOCK = 16  # columns gathered together, so that reading a C-ordered X uses whole cache lines


@jit
def pairwise_sum(a, start, n):
    """``np.sum`` of a[start:start + n] with NumPy's own pairwise order (halves split at multiples of
    eight down to blocks of at most 128, each summed by eight accumulators), which a reduction over
    a contiguous axis uses: scikit-learn's scaling must be matched to the last bit.

    The halving is walked with an explicit stack: numba's on-disk cache of a self-recursive
    function crashes when it is loaded again."""
    if n <= PAIRWISE_BLOCK:
        return _block_sum(a, start, n)
    depth = 64
    starts = np.empty(depth, dtype=np.int64)
    sizes = np.empty(depth, dtype=np.int64)
    phase = np.zeros(depth, dtype=np.int64)
    left = np.empty(depth)
    starts[0], sizes[0], top, result = start, n, 1, 0.0
    while top:
        t = top - 1
        size = sizes[t]
        if size <= PAIRWISE_BLOCK:
            result = _block_sum(a, starts[t], size)
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if phase[t] == 2:
            result = left[t] + result
            top -= 1
            continue
        if phase[t] == 0:
            starts[top], sizes[top] = starts[t], half
        else:
            left[t] = result
            starts[top], sizes[top] = starts[t] + half, size - half
        phase[t] += 1
        phase[top] = 0
        top += 1
    return result


@jit
def _block_sum(a, start, n):
    if n < 8:
        res = 0.0
        for i in range(start, start + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    i = 8
    whole = n - n % 8
    while i < whole:
        j = start + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i]
        i += 1
    return res


@jit
def scaled_noisy_points(X, noise, order):
    """Columns of a C-ordered X as scikit-learn's estimator sees them, as rows: each column divided by
    its standard deviation (``np.nanstd``; near-constant columns by 1), then plus
    ``1e-10 * max(1, mean |column|) * noise[column]``; its rows taken in ``order``.

    ``noise`` is features x (at least) rows. The statistics are over all rows of X, as in
    scikit-learn, even when ``order`` leaves some out."""
    n, p = X.shape
    out = np.empty((p, order.shape[0]))
    block = np.empty((COLUMN_BLOCK, n))
    work = np.empty(n)
    tiny = 10 * np.finfo(np.float64).eps
    for first in range(0, p, COLUMN_BLOCK):
        width = min(COLUMN_BLOCK, p - first)
        for i in range(n):
            for b in range(width):
                block[b, i] = X[i, first + b]
        for b in range(width):
            v = block[b]
            mean = pairwise_sum(v, 0, n) / n
            for i in range(n):
                d = v[i] - mean
                work[i] = d * d
            std = np.sqrt(pairwise_sum(work, 0, n) / n)
            if std < tiny:
                std = 1.0
            for i in range(n):
                v[i] = v[i] / std
                work[i] = abs(v[i])
            scale = 1e-10 * max(1.0, pairwise_sum(work, 0, n) / n)
            row = noise[first + b]
            for i in range(n):
                v[i] = v[i] + scale * row[i]
            target = out[first + b]
            for k in range(order.shape[0]):
                target[k] = v[order[k]]
    return out


@jit
def _kth_distances(v, start, count, k, out, out_start):
    """``knn_mi._kth_distance_sorted`` for the sorted block v[start:start + count], into
    out[out_start:]: each point's distance to its k-th nearest other point, the smallest over the
    k + 1 windows of k + 1 positions holding it of the distance to the window's far end."""
    for p in range(count):
        if k == 3 and 3 <= p < count - 3:
            # The common case without the ends' checks; the same differences and the same min/max.
            a = v[start + p]
            best = min(a - v[start + p - 3], v[start + p + 3] - a)
            best = min(best, max(a - v[start + p - 2], v[start + p + 1] - a))
            best = min(best, max(a - v[start + p - 1], v[start + p + 2] - a))
            out[out_start + p] = best
            continue
        best = np.inf
        for right in range(k + 1):
            left = k - right
            d_left = v[start + p] - v[start + p - left] if p - left >= 0 else np.inf
            d_right = v[start + p + right] - v[start + p] if p + right < count else np.inf
            if left == 0:
                d = d_right
            elif right == 0:
                d = d_left
            else:
                d = max(d_left, d_right)
            best = min(best, d)
        out[out_start + p] = best


@jit
def digamma_count_sums(points, bounds, ks, brute_radii, leaf_start, leaf_end, digamma_table):
    """Per row of ``points`` (the classes' blocks points[:, bounds[c]:bounds[c + 1]], each sorted):
    the sum over its points of digamma(m), m being how many points of the whole row
    KDTree.query_radius counts within the point's radius.

    The radius is the float below the distance to the k-th (``ks[c]``) nearest point of the same
    class; classes with ``ks[c] < 0`` take theirs from ``brute_radii`` (the brute-force search's
    rounding). The count is the run of the merged row that the rounded tests ``x - t <= r`` and
    ``t - x <= r`` accept around the point's place, plus, where the float after r still squares
    to r^2 (only radii whose square underflows), the neighbours inside the run's end leaves that
    the squared test accepts (``knn_mi._count_within`` explains why). The sum runs over a
    histogram of m in increasing m, as ``knn_mi.digamma_sums`` adds it."""
    n_rows, n = points.shape
    n_runs = bounds.shape[0] - 1
    sums = np.empty(n_rows)
    radius = np.empty(n)
    radius_bits = radius.view(np.int64)
    # The merged row between SENTINEL infinities on each side, so that runs are counted a window
    # of SENTINEL values at a time without bounds checks (the tests are false on infinities).
    padded = np.empty(n + 2 * SENTINEL)
    padded[:SENTINEL] = -np.inf
    padded[n + SENTINEL :] = np.inf
    position = np.empty(n, dtype=np.int64)
    hist = np.zeros(n + 1, dtype=np.int64)
    for row in range(n_rows):
        v = points[row]
        for c in range(n_runs):
            start, count = bounds[c], bounds[c + 1] - bounds[c]
            if ks[c] < 0:
                for i in range(start, start + count):
                    radius[i] = brute_radii[row, i]
            else:
                _kth_distances(v, start, count, ks[c], radius, start)
                for i in range(start, start + count):  # the float below, for d >= 0
                    radius_bits[i] -= radius_bits[i] > 0
        if n_runs == 2:
            _merge_two(v, bounds[1], padded, position)
        else:
            _merge_runs(v, bounds, padded, position)
        largest = 0
        for i in range(n):
            x = v[i]
            r = radius[i]
            p = position[i] + SENTINEL
            below = _run_length(padded, p, -1, x, r)
            above = _run_length(padded, p, 1, x, r)
            lo, hi = position[i] - below, position[i] + above + 1
            m = hi - lo
            if r < 1e-150:  # elsewhere the float after r squares to more than r^2
                after = np.nextafter(r, np.inf)
                if after * after <= r * r:
                    m += _squared_extra(padded, x, r, lo, hi, leaf_start, leaf_end)
            hist[m] += 1
            largest = max(largest, m)
        sums[row] = _histogram_sum(hist, largest, digamma_table)
    return sums


@jit
def _run_length(padded, p, step, x, r):
    """How many values next to padded[p], going by ``step``, the rounded test ``|t - x| <= r``
    (``x - t`` below, ``t - x`` above) accepts: the test is monotone along the sorted row, so a
    window of SENTINEL values is counted whole and the next one read only if all of it passed."""
    total = 0
    while True:
        passed = 0
        for t in range(1, SENTINEL + 1):
            if step < 0:
                passed += x - padded[p - t] <= r
            else:
                passed += padded[p + t] - x <= r
        total += passed
        if passed < SENTINEL:
            return total
        p += step * SENTINEL


@jit
def _squared_extra(padded, x, r, lo, hi, leaf_start, leaf_end):
    """Neighbours just outside the run [lo, hi) that the KD-tree's squared test counts: within the
    leaf of the run's first point going down and of its last point going up."""
    rr = r * r
    extra = 0
    j = lo - 1
    while j >= leaf_start[lo]:
        d = x - padded[j + SENTINEL]
        if d * d > rr:
            break
        extra += 1
        j -= 1
    j = hi
    while j < leaf_end[hi - 1]:
        d = padded[j + SENTINEL] - x
        if d * d > rr:
            break
        extra += 1
        j += 1
    return extra


@jit
def _merge_two(v, split, padded, position):
    """v[:split] and v[split:] (each sorted) merged into padded[SENTINEL:], ties first from the first
    block as a stable sort orders them; position[i]: where v[i] went."""
    n = v.shape[0]
    i, j = 0, split
    for out in range(n):
        take_first = j >= n or (i < split and v[i] <= v[j])
        source = i if take_first else j
        padded[out + SENTINEL] = v[source]
        position[source] = out
        i += take_first
        j += not take_first


@jit
def _merge_runs(v, bounds, padded, position):
    """``_merge_two`` for any number of sorted blocks."""
    n_runs = bounds.shape[0] - 1
    head = bounds[:-1].copy()
    for out in range(v.shape[0]):
        best = -1
        for c in range(n_runs):
            if head[c] < bounds[c + 1] and (best < 0 or v[head[c]] < v[head[best]]):
                best = c
        source = head[best]
        padded[out + SENTINEL] = v[source]
        position[source] = out
        head[best] += 1


@jit
def _histogram_sum(hist, largest, digamma_table):
    """sum_m hist[m] * digamma(m) in increasing m (digamma_table[m - 1] = digamma(m)); clears hist."""
    total = 0.0
    for m in range(1, largest + 1):
        total += hist[m] * digamma_table[m - 1]
        hist[m] = 0
    return total
