"""Majority answers for single-choice questions, with a stated tie rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TIE_RULE = (
    "An item's majority answer is the answer given most often (a plurality). When two or more "
    "answers share the highest count the item has no majority: it is marked as a tie, its "
    "majority is written as the tied answers joined with ' | ' in option order, and it counts "
    "towards none of the options in majority fractions."
)

TIE_SEPARATOR = " | "


@dataclass
class Majority:
    answer: str | None  # None for a tie or an item without answers
    label: str  # the answer, the tied answers joined, or "" without answers
    count: int
    n: int
    tie: bool


def majority_votes(table: np.ndarray, options: list[str]) -> list[Majority]:
    """The majority for each row of an items × options count table (options in display order)."""
    table = np.asarray(table)
    out = []
    for row in table:
        n = int(row.sum())
        if n == 0:
            out.append(Majority(None, "", 0, 0, False))
            continue
        top = int(row.max())
        winners = [options[k] for k in np.flatnonzero(row == top)]
        if len(winners) == 1:
            out.append(Majority(winners[0], winners[0], top, n, False))
        else:
            out.append(Majority(None, TIE_SEPARATOR.join(winners), top, n, True))
    return out
