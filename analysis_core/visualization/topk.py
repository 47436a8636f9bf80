"""Most activating images: the rows with the largest values of one feature."""

from __future__ import annotations

import numpy as np


def top_k_rows(values: np.ndarray, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` largest ``values``, largest first.

    ``values`` holds one feature's value per row; ``rows`` optionally restricts the search
    to a subset (e.g. one group) and the result is then in the numbering of ``values``.
    Ties go to the lower row index so that reruns pick the same images.
    """
    values = np.asarray(values)
    candidates = np.arange(len(values)) if rows is None else np.asarray(rows, dtype=np.int64)
    if k <= 0 or len(candidates) == 0:
        return np.zeros(0, dtype=np.int64)
    # A stable sort of the negated values keeps equal values in row order.
    order = np.argsort(-values[candidates].astype(np.float64), kind="stable")
    return candidates[order[:k]].astype(np.int64)
