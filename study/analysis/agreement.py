"""Inter-rater agreement: Fleiss' kappa for choices, Krippendorff's alpha for ordinal answers.

Both take an items × categories count table (how many raters gave each answer to each
item), which is all either statistic depends on: rater identity does not enter them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


def count_table(codes: np.ndarray, item_index: np.ndarray, n_items: int, n_categories: int) -> np.ndarray:
    """Items × categories counts from one code per answer (-1 = missing, left out)."""
    keep = codes >= 0
    table = np.zeros((n_items, n_categories), dtype=np.int64)
    np.add.at(table, (item_index[keep], codes[keep]), 1)
    return table


@dataclass
class KappaResult:
    kappa: float
    n_items: int
    n_raters: int
    n_items_left_out: int
    note: str = ""


def fleiss_kappa(table: np.ndarray) -> KappaResult:
    """Fleiss' kappa (statsmodels) on the items rated by the most common number of raters.

    Fleiss' formula needs the same number of raters for every item, so items with another
    number of ratings are left out and counted in ``n_items_left_out`` (the summary says so).
    Kappa is undefined (NaN, with a note) when every answer falls in one category.
    """
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

    table = np.asarray(table)
    per_item = table.sum(axis=1)
    rated = per_item >= 2
    if not rated.any():
        return KappaResult(float("nan"), 0, 0, int(len(table)), "no item has two or more ratings")
    values, counts = np.unique(per_item[rated], return_counts=True)
    # The most common rater count; on a tie the larger count keeps more answers.
    n_raters = int(values[np.lexsort((values, counts))[-1]])
    used = table[per_item == n_raters]
    left_out = int(len(table) - len(used))
    if (used.sum(axis=0) > 0).sum() < 2:
        return KappaResult(float("nan"), int(len(used)), n_raters, left_out, "all answers are the same; kappa is undefined")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = float(sm_fleiss_kappa(used, method="fleiss"))
    return KappaResult(kappa, int(len(used)), n_raters, left_out)


def item_agreement(table: np.ndarray) -> np.ndarray:
    """Per item, the fraction of rater pairs that agree (Fleiss' P_i); NaN below two ratings."""
    table = np.asarray(table, dtype=float)
    n = table.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (table * (table - 1)).sum(axis=1) / (n * (n - 1))
    p[n < 2] = np.nan
    return p


@dataclass
class AlphaResult:
    alpha: float
    level: str
    n_items: int
    note: str = ""


def krippendorff_alpha(table: np.ndarray, level: str, domain: list | None = None) -> AlphaResult:
    """Krippendorff's alpha from an items × values count table (``krippendorff`` package).

    ``domain`` lists the values in order (for the ordinal level, 1..5 on a 5-point scale);
    items with fewer than two ratings carry no pairable values and drop out, as in the
    statistic's definition. NaN with a note when alpha is undefined (a single value occurs).
    """
    import krippendorff

    table = np.asarray(table)
    pairable = table.sum(axis=1) >= 2
    n_items = int(pairable.sum())
    if n_items == 0:
        return AlphaResult(float("nan"), level, 0, "no item has two or more ratings")
    if (table[pairable].sum(axis=0) > 0).sum() < 2:
        return AlphaResult(float("nan"), level, n_items, "all answers are the same; alpha is undefined")
    domain = list(range(table.shape[1])) if domain is None else list(domain)
    try:
        alpha = float(krippendorff.alpha(value_counts=table[pairable], value_domain=domain, level_of_measurement=level))
    except ValueError as exc:  # the package's own guard for degenerate data
        return AlphaResult(float("nan"), level, n_items, str(exc))
    return AlphaResult(alpha, level, n_items)
