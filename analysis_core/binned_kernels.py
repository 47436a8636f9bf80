"""Inner loops of the binned analysis: column binning, per-bin counts for many label vectors, and
the small entropy trees, compiled by numba when it is installed (``analysis_core.compiled``).

Layouts: ``X`` is rows x features (float32, as read from features.npy); ``bins_t`` is features x
rows (uint8), so that one feature's bins are contiguous; label vectors are columns of an
(rows x vectors) uint8 matrix ``W``, so that one row's flags for all vectors are contiguous
and the counting loop adds a whole row of flags at once.
"""

from __future__ import annotations

import numpy as np

from analysis_core.compiled import jit

BLOCK = 16  # rows x columns of one tile of the transpose
FEATURE_THRESHOLD = 1e-7  # scikit-learn's: values closer than this are not split apart


@jit
def transpose(X, out):
    """out[f, i] = X[i, f], in 16 x 16 tiles: a tile's reads and writes both stay within a few
    cache lines (column blocks of 32 over all rows took 2.6x as long, 15.4 vs 5.9 ms for 1300 x
    2048 in one run; NumPy's strided copy 19 ms)."""
    n, n_features = X.shape
    for i0 in range(0, n, BLOCK):
        i1 = min(i0 + BLOCK, n)
        for f0 in range(0, n_features, BLOCK):
            f1 = min(f0 + BLOCK, n_features)
            for i in range(i0, i1):
                for f in range(f0, f1):
                    out[f, i] = X[i, f]
    return out


@jit
def bins_from_cuts(Xt, cuts, out):
    """out[f, i] = number of cuts[f] strictly below Xt[f, i]."""
    n_features, n = Xt.shape
    n_cuts = cuts.shape[1]
    out[:] = 0
    for f in range(n_features):
        for b in range(n_cuts):
            cut = cuts[f, b]
            for i in range(n):
                out[f, i] += Xt[f, i] > cut
    return out


def padded_width(n_vectors: int) -> int:
    """The number of label vectors ``count_by_bin_into`` is run on for ``n_vectors``: 8, 16, 32 or a
    multiple of 64 (1 or 2 as they are). The compiled inner loop over vectors is vectorized in
    steps of whole SIMD registers and finishes odd widths one vector at a time: 63 vectors took
    2.3x as long as 64, 56 and 10 vectors 1.4x as long as 64 and 16 (2048 features x 1300 rows),
    so zero columns are added."""
    if n_vectors <= 2:
        return n_vectors
    for width in (8, 16, 32):
        if n_vectors <= width:
            return width
    return -(-n_vectors // 64) * 64


def count_by_bin(bins_t, W, n_bins):
    """counts[f, b, q] = sum of W[i, q] over the rows i whose feature f falls in bin b (features x
    bins x vectors; int16 where every count fits, which doubles the additions per instruction)."""
    dtype = np.int16 if bins_t.shape[1] <= np.iinfo(np.int16).max else np.int32
    n_vectors = W.shape[1]
    width = padded_width(n_vectors)
    if width != n_vectors:
        padded = np.zeros((W.shape[0], width), dtype=W.dtype)
        padded[:, :n_vectors] = W
        W = padded
    counts = count_by_bin_into(bins_t, W, np.zeros((bins_t.shape[0], n_bins, width), dtype=dtype))
    return counts[:, :, :n_vectors]


@jit
def count_by_bin_into(bins_t, W, counts):
    """``count_by_bin`` adding into ``counts`` (zeros)."""
    n_features, n = bins_t.shape
    n_vectors = W.shape[1]
    for f in range(n_features):
        for i in range(n):
            b = bins_t[f, i]
            for q in range(n_vectors):
                counts[f, b, q] += W[i, q]
    return counts


@jit
def mi_from_counts(counts, fail_col, all_col, table):
    """(Miller-Madow corrected MI, plug-in MI) of every feature for each vector q: its failures are
    counted in column ``fail_col[q]`` of ``counts`` (features x bins x columns), its rows in
    ``all_col[q]``; ``table`` is ``mutual_info.xlogx_table``. The arithmetic, term by term and in
    the same order, is ``mutual_info.binned_mi``'s."""
    n_features, n_bins, _ = counts.shape
    n_vectors = fail_col.shape[0]
    mi = np.empty((n_vectors, n_features))
    plugin = np.empty((n_vectors, n_features))
    for q in range(n_vectors):
        a, c = all_col[q], fail_col[q]
        n = 0
        n_fail = 0
        for b in range(n_bins):
            n += counts[0, b, a]
            n_fail += counts[0, b, c]
        n_y = table[n] - table[n_fail] - table[n - n_fail]
        both = 1.0 if 0 < n_fail < n else 0.0
        for f in range(n_features):
            s = 0.0
            occupied = 0
            for b in range(n_bins):
                ca = counts[f, b, a]
                cf = counts[f, b, c]
                s += table[ca] - table[cf] - table[ca - cf]
                occupied += ca > 0
            p = max((n_y - s) / n, 0.0)
            plugin[q, f] = p
            mi[q, f] = max(p - (occupied - 1) * both / (2 * n), 0.0)
    return mi, plugin


def tree_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(k log k, log k + 1) for k = 0..2n: a node's weighted total (successes + w_fail x failures,
    w_fail = successes / failures at the root) never exceeds twice the root's successes."""
    k = np.arange(2 * n + 1, dtype=np.float64)
    log_k = np.log(np.maximum(k, 1.0))
    return k * log_k, log_k + 1.0


@jit
def _xlogx(a):
    return a * np.log(a) if a > 0 else 0.0


SKIP_ROWS = 8  # a node's next rows that one bound may rule out as cuts (at least) ...
MAX_SKIP = 512  # ... and at most
INV_E = 0.36787944117144233  # -min over x of x log x (at x = 1 / e)


@jit
def _xlogx_floor(t, table, log_table):
    """A lower bound of t log t (t >= 0) from one line: its tangent at floor(t) where that is >= 1,
    else -1/e (its minimum); x log x is convex, so every tangent lies below it."""
    a = int(t)
    tangent = table[a] + log_table[a] * (t - a)
    return tangent if a > 0 else -INV_E


@jit
def _score_bound(l0, l1, n0, n1, w_fail, total, table, log_table):
    """An upper bound of the split score (``grow_tree``'s purity - T_left log T_left - T_right log
    T_right) of the left child with l0 successes and l1 failures of a node with n0 / n1 (total:
    the node's weighted total T_left + T_right), without a logarithm."""
    t_left = l0 + w_fail * l1
    purity = table[l0] + table[n0 - l0] + w_fail * (table[l1] + table[n1 - l1])
    return purity - _xlogx_floor(t_left, table, log_table) - _xlogx_floor(total - t_left, table, log_table)


@jit
def _scan_one_node(order, sorted_values, state, j, d, md, kd, min_leaf, w_fail, table, log_table, best, best_col,
                   best_low, best_high):
    """``_grow``'s scan of column j (its sort order and sorted values) where node d is the only
    node that may split: the same cuts in the same order, scored the same way, except that runs
    of cuts that cannot beat the node's best so far are passed over (``grow_tree``)."""
    n0 = md - kd
    total = n0 + w_fail * kd
    run_n = 0
    run_k = 0
    last = 0.0
    skip_until = 0
    skip_len = SKIP_ROWS
    bd = best[d]
    floor_best = bd - 1e-9 * (abs(bd) + 1.0)
    for t in range(order.shape[0]):
        s = state[order[t]]
        if s < 0:
            continue
        y_i = s & 1
        v = np.float64(sorted_values[t])
        if run_n > 0 and v > last + FEATURE_THRESHOLD and run_n >= skip_until:
            left_n = run_n
            if left_n >= min_leaf and md - left_n >= min_leaf:
                l1 = run_k
                l0 = left_n - l1
                r1 = kd - l1
                r0 = n0 - l0
                if bd > -np.inf:
                    # The cuts at this row and the node's next span - 1 rows: the window doubles
                    # while bounds rule it out, and falls back to SKIP_ROWS.
                    pruned = False
                    span = min(skip_len, r0, r1)
                    while span > 0:
                        bound = max(_score_bound(l0, l1, n0, kd, w_fail, total, table, log_table),
                                    max(_score_bound(l0 + span, l1, n0, kd, w_fail, total, table, log_table),
                                        _score_bound(l0, l1 + span, n0, kd, w_fail, total, table, log_table)))
                        if bound < floor_best:
                            pruned = True
                            break
                        if span <= SKIP_ROWS:
                            break
                        span = min(SKIP_ROWS, r0, r1)
                        skip_len = SKIP_ROWS
                    if pruned:
                        skip_until = left_n + span
                        skip_len = min(2 * span, MAX_SKIP)
                        run_n += 1
                        run_k += y_i
                        last = v
                        continue
                purity = table[l0] + table[r0] + w_fail * (table[l1] + table[r1])
                t_left = l0 + w_fail * l1
                t_right = r0 + w_fail * r1
                scored = True
                if t_left >= 1.0 and t_right >= 1.0:
                    a_left, a_right = int(t_left), int(t_right)
                    bound = (purity - table[a_left] - log_table[a_left] * (t_left - a_left)
                             - table[a_right] - log_table[a_right] * (t_right - a_right))
                    scored = not bound < floor_best
                if scored:
                    score = purity - _xlogx(t_left) - _xlogx(t_right)
                    if score > bd:
                        bd = score
                        floor_best = bd - 1e-9 * (abs(bd) + 1.0)
                        best_col[d] = j
                        best_low[d] = last
                        best_high[d] = v
        run_n += 1
        run_k += y_i
        last = v
    best[d] = bd


@jit
def grow_tree(order, sorted_values, values, y, train, depth, min_leaf, w_fail, table, log_table):
    """The best-split entropy tree that scikit-learn's DecisionTreeClassifier grows with Barlow's
    settings (class weights {0: 1, 1: w_fail}, max_depth, min_samples_leaf), on the ``train`` rows.

    ``order[j]`` is the row order of column j sorted by value (all rows), ``values[j, i]`` the
    float32 value of row i in column j and ``sorted_values[j, t] = values[j, order[j, t]]`` (the
    scans read values in sorted order without a gather). Every row, trained on or not, is routed
    to its leaf.
    Split candidates are scored like scikit-learn's (weighted entropy of the children) and
    thresholds placed as it places them (midpoint, in float64); between equally good splits the
    first column (in the given order) and then the lowest cut wins, where scikit-learn breaks ties by
    its random feature order. Nodes are numbered depth-first, left child first, as scikit-learn numbers
    them. ``table`` / ``log_table`` are ``tree_tables(row count)``: a split's weighted entropy, the
    sum over children of T log T - w0 log w0 - w1 log w1 with w1 = w_fail x failures, then needs
    only the logarithms of the children's weighted totals T (the rest is looked up, and the
    w1 log w_fail terms add up to the same constant for every split of a node).
    Where one node is the only one that may split (the root), the scan passes over runs of cuts
    (``_scan_one_node``): the next s rows of the node in a column's sorted order add at most s
    successes or failures to its left child; the score is convex in the left child's counts (minus the children's summed
    entropies, each concave), so over that triangle of counts it is largest at a vertex. Where
    the three vertices' bounds fall below the node's best so far, the cuts among those rows are
    not scored (they could not win; s doubles from SKIP_ROWS while that holds):
    ``grow_tree_exhaustive`` scores every cut and gives the same results (tested).
    Returns (feature, threshold, left, right, n_train, n_fail_train, leaf_of_row).
    """
    return _grow(order, sorted_values, values, np.arange(order.shape[0]), y, train, depth, min_leaf, w_fail,
                 table, log_table, True)


@jit
def _grow(order_all, sorted_all, values_all, cols, y, train, depth, min_leaf, w_fail, table, log_table, may_skip):
    """``grow_tree`` on the columns ``cols`` of order_all / sorted_all / values_all (tree column j
    is cols[j]; no copies of the columns); ``may_skip=False`` scores every cut."""
    n_cols = cols.shape[0]
    n = order_all.shape[1]
    max_nodes = 2 ** (depth + 1) - 1
    feature = np.full(max_nodes, -1, dtype=np.int64)
    threshold = np.zeros(max_nodes, dtype=np.float64)
    left = np.full(max_nodes, -1, dtype=np.int64)
    right = np.full(max_nodes, -1, dtype=np.int64)
    m = np.zeros(max_nodes, dtype=np.int64)
    k = np.zeros(max_nodes, dtype=np.int64)
    node = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if train[i]:
            m[0] += 1
            k[0] += y[i]
    n_nodes = 1
    level_start, level_end = 0, 1
    run_n = np.zeros(max_nodes, dtype=np.int64)
    run_k = np.zeros(max_nodes, dtype=np.int64)
    last = np.zeros(max_nodes, dtype=np.float64)
    best = np.full(max_nodes, -np.inf)
    best_col = np.full(max_nodes, -1, dtype=np.int64)
    best_low = np.zeros(max_nodes, dtype=np.float64)
    best_high = np.zeros(max_nodes, dtype=np.float64)
    active = np.zeros(max_nodes, dtype=np.bool_)
    # One gather per row and cut in the scans: state[i] = 2 x node + failure flag for a training
    # row in a node that may split, -1 for any other row.
    state = np.empty(n, dtype=np.int64)
    for level in range(depth):
        any_active = False
        for d in range(level_start, level_end):
            active[d] = m[d] >= 2 and m[d] >= 2 * min_leaf and 0 < k[d] < m[d]
            any_active = any_active or active[d]
        if not any_active:
            break
        for i in range(n):
            d = node[i]
            state[i] = 2 * d + y[i] if train[i] and active[d] else -1
        n_active = 0
        for d in range(level_start, level_end):
            n_active += active[d]
        # Skipping pays where one node has the column's rows to itself (the root); where nodes'
        # rows interleave, the windows' bookkeeping cost more than the cuts it spared (measured).
        skipping = may_skip and n_active == 1
        for j in range(n_cols):
            cj = cols[j]
            if skipping:
                for d in range(level_start, level_end):
                    if active[d]:
                        _scan_one_node(order_all[cj], sorted_all[cj], state, j, d, m[d], k[d], min_leaf, w_fail,
                                       table, log_table, best, best_col, best_low, best_high)
                continue
            for d in range(level_start, level_end):
                run_n[d] = 0
                run_k[d] = 0
            for t in range(n):
                s = state[order_all[cj, t]]
                if s < 0:
                    continue
                d = s >> 1
                y_i = s & 1
                v = np.float64(sorted_all[cj, t])
                if run_n[d] > 0 and v > last[d] + FEATURE_THRESHOLD:
                    left_n = run_n[d]
                    if left_n >= min_leaf and m[d] - left_n >= min_leaf:
                        l1 = run_k[d]
                        l0 = left_n - l1
                        r1 = k[d] - l1
                        r0 = (m[d] - k[d]) - l0
                        purity = table[l0] + table[r0] + w_fail * (table[l1] + table[r1])
                        t_left = l0 + w_fail * l1
                        t_right = r0 + w_fail * r1
                        if t_left >= 1.0 and t_right >= 1.0:
                            # x log x is convex: its tangent at floor(x) bounds it from below (to
                            # within 1 / (2 floor(x))), so most cuts are ruled out without a logarithm.
                            a_left, a_right = int(t_left), int(t_right)
                            bound = (purity - table[a_left] - log_table[a_left] * (t_left - a_left)
                                     - table[a_right] - log_table[a_right] * (t_right - a_right))
                            if bound < best[d] - 1e-9 * (abs(best[d]) + 1.0):
                                run_n[d] += 1
                                run_k[d] += y_i
                                last[d] = v
                                continue
                        score = purity - _xlogx(t_left) - _xlogx(t_right)
                        if score > best[d]:
                            best[d] = score
                            best_col[d] = j
                            best_low[d] = last[d]
                            best_high[d] = v
                run_n[d] += 1
                run_k[d] += y_i
                last[d] = v
        next_start = n_nodes
        for d in range(level_start, level_end):
            if not active[d] or best_col[d] < 0:
                continue
            thr = best_low[d] / 2.0 + best_high[d] / 2.0
            if thr == best_high[d] or np.isinf(thr):
                thr = best_low[d]
            feature[d] = best_col[d]
            threshold[d] = thr
            left[d] = n_nodes
            right[d] = n_nodes + 1
            n_nodes += 2
        for i in range(n):
            d = node[i]
            if d >= level_start and d < level_end and feature[d] >= 0:
                child = left[d] if np.float64(values_all[cols[feature[d]], i]) <= threshold[d] else right[d]
                node[i] = child
                if train[i]:
                    m[child] += 1
                    k[child] += y[i]
        level_start, level_end = next_start, n_nodes
        if level_start == level_end:
            break
    # Renumber depth-first, left child first (scikit-learn's order).
    new_id = np.full(n_nodes, -1, dtype=np.int64)
    stack = np.zeros(max_nodes, dtype=np.int64)
    top = 1
    count = 0
    while top > 0:
        top -= 1
        d = stack[top]
        new_id[d] = count
        count += 1
        if feature[d] >= 0:
            stack[top] = right[d]
            stack[top + 1] = left[d]
            top += 2
    out_feature = np.full(n_nodes, -1, dtype=np.int64)
    out_threshold = np.zeros(n_nodes, dtype=np.float64)
    out_left = np.full(n_nodes, -1, dtype=np.int64)
    out_right = np.full(n_nodes, -1, dtype=np.int64)
    out_m = np.zeros(n_nodes, dtype=np.int64)
    out_k = np.zeros(n_nodes, dtype=np.int64)
    for d in range(n_nodes):
        e = new_id[d]
        out_feature[e] = feature[d]
        out_threshold[e] = threshold[d]
        out_m[e] = m[d]
        out_k[e] = k[d]
        if feature[d] >= 0:
            out_left[e] = new_id[left[d]]
            out_right[e] = new_id[right[d]]
    leaf_of_row = np.empty(n, dtype=np.int64)
    for i in range(n):
        leaf_of_row[i] = new_id[node[i]]
    return out_feature, out_threshold, out_left, out_right, out_m, out_k, leaf_of_row


@jit
def grow_tree_exhaustive(order, sorted_values, values, y, train, depth, min_leaf, w_fail, table, log_table):
    """``grow_tree`` scoring every cut (no runs passed over by a bound): the reference the faster
    scan is tested against; same arguments and results."""
    return _grow(order, sorted_values, values, np.arange(order.shape[0]), y, train, depth, min_leaf, w_fail,
                 table, log_table, False)


@jit
def aler_minus_ber_many(order_all, sorted_all, Xt, selected, Y, depth, min_leaf, table, log_table):
    """In-sample ALER - BER of the tree grown on all rows for each label vector Y[q], on the columns
    ``selected[q]`` (``order_all`` / ``sorted_all`` / ``Xt``: sort order, sorted values and values of
    every column, features x rows)."""
    n_vectors, n = Y.shape
    out = np.empty(n_vectors)
    train = np.ones(n, dtype=np.bool_)
    for q in range(n_vectors):
        n_fail = 0
        for i in range(n):
            n_fail += Y[q, i]
        w_fail = (n - n_fail) / n_fail
        feature, _, _, _, m, k, _ = _grow(order_all, sorted_all, Xt, selected[q], Y[q], train, depth, min_leaf,
                                          w_fail, table, log_table, True)
        aler = 0.0
        for d in range(feature.shape[0]):
            if feature[d] < 0 and m[d] > 0:
                aler += k[d] * k[d] / m[d]
        out[q] = aler / n_fail - n_fail / n
    return out


@jit
def order_keys(Xt, keys):
    """keys[f, i] = (Xt[f, i] as order-preserving bits) << 32 | i: sorting each row of keys sorts
    the row's values with ties by row number, so its low halves are the stable argsort (NumPy's
    vectorized sort of integers is several times faster than its indirect argsort)."""
    n_features, n = Xt.shape
    bits = Xt.view(np.uint32)
    for f in range(n_features):
        for i in range(n):
            b = bits[f, i]
            if b == np.uint32(0x80000000):
                b = np.uint32(0)  # -0.0 ties with 0.0
            # IEEE order as unsigned: flip all bits of negatives, the sign bit of the others.
            b = b ^ np.uint32(0xFFFFFFFF) if b & np.uint32(0x80000000) else b | np.uint32(0x80000000)
            keys[f, i] = (np.uint64(b) << np.uint64(32)) | np.uint64(i)
    return keys


def stable_argsort_rows(Xt: np.ndarray) -> np.ndarray:
    """np.argsort(Xt, axis=1, kind="stable") of a float32 matrix without NaN, as int32."""
    keys = order_keys(Xt, np.empty(Xt.shape, dtype=np.uint64))
    keys.sort(axis=1)
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.int32)


PACK_BITS = 29  # a float32 widened to float64 leaves the low 29 bits of the significand zero


@jit
def pack_rows(Xt, out, rows):
    """out[f, i] = Xt[f, i] widened to float64 with its row number in the 29 low significand bits
    that widening leaves zero (counted down for negative values, whose magnitude grows with
    those bits), -0.0 as 0.0: every packed value lies strictly between the float32 below and the
    one above, so sorting the packed rows as floats sorts each row's values with ties by row
    number, the stable argsort, with NumPy's vectorized float64 sort (faster than sorting
    integer keys). out[r] packs Xt[rows[r]] (no copy of those columns first).
    Returns False, leaving ``out`` unusable, where a value is infinite.
    Branch-free (the loops vectorize): low - i = low ^ i for i <= low."""
    n_features, n = out.shape
    bits = out.view(np.uint64)
    low = np.uint64((1 << PACK_BITS) - 1)
    sign = np.uint64(1) << np.uint64(63)
    exponent = np.uint64(0x7FF)
    bad = np.uint64(0)
    for f in range(n_features):
        src = rows[f]
        for i in range(n):
            out[f, i] = np.float64(Xt[src, i])
        for i in range(n):
            b = bits[f, i]
            b = np.uint64(0) if b == sign else b
            neg = b >> np.uint64(63)
            bad |= np.uint64((b >> np.uint64(52)) & exponent == exponent)
            bits[f, i] = b | (np.uint64(i) ^ (neg * low))
    return bad == 0


@jit
def unpack_rows(packed, Xt, rows, order, sorted_values):
    """From the sorted ``pack_rows`` output of the columns ``rows`` of Xt: their argsort into
    order[rows[r]] and their sorted values (read from Xt, so -0.0 stays -0.0) into
    sorted_values[rows[r]]."""
    n = packed.shape[1]
    bits = packed.view(np.uint64)
    low = np.uint64((1 << PACK_BITS) - 1)
    for r in range(rows.shape[0]):
        f = rows[r]
        for t in range(n):
            b = bits[r, t]
            order[f, t] = np.int32((b & low) ^ ((b >> np.uint64(63)) * low))
        for t in range(n):
            sorted_values[f, t] = Xt[f, order[f, t]]


def sort_rows_into(Xt: np.ndarray, rows: np.ndarray, order: np.ndarray, sorted_values: np.ndarray) -> None:
    """order[f] = np.argsort(Xt[f], kind="stable") (int32) and sorted_values[f] = Xt[f][order[f]]
    for every f in ``rows`` (Xt: float32 features x rows, no NaN)."""
    rows = np.asarray(rows, dtype=np.int64)
    packed = np.empty((len(rows), Xt.shape[1]), dtype=np.float64)
    if Xt.shape[1] <= 1 << PACK_BITS and pack_rows(Xt, packed, rows):
        packed.sort(axis=1)
        unpack_rows(packed, Xt, rows, order, sorted_values)
        return
    sub = Xt[rows]
    o = stable_argsort_rows(sub)  # infinite values or too many rows for the packing
    order[rows] = o
    sorted_values[rows] = np.take_along_axis(sub, o, axis=1)
