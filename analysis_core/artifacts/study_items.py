"""``items.csv``: what a study shows, one row per HIT's subject, for both kinds of study.

A feature-description study (``barlow study create``) fills ``tier``, ``ber`` and ``mi``;
a failure-review study (``--kind failure-review``) fills ``leaf``, ``rule``, ``er``, ``ec``
and ``ber``. Both write every column of :data:`ITEM_COLUMNS` (empty where not known), so
one reader serves the study tools and ``barlow reproduce``. The same reader takes the list
a user passes to ``barlow study create --items FILE.csv``, which needs only
``grouping,class,feature``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.csv_records import cell_error, read_records, text_cell, to_float, to_int
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.extraction import class_name
from analysis_core.artifacts.parameters import GROUPINGS
from analysis_core.artifacts.study_folder import ITEMS_FILE

ITEM_COLUMNS = ("grouping", "class", "feature", "tier", "ber", "mi", "leaf", "rule", "er", "ec")
REQUIRED_ITEM_COLUMNS = ("grouping", "class", "feature")


@dataclass
class StudyItem:
    """One subject of a study's HITs: a (grouping, class, feature) and what was known of it."""

    grouping: str
    class_name: str
    feature: int
    tier: str = ""  # feature studies: top | middle | bottom (by the group's error rate)
    ber: float | None = None
    mi: float | None = None  # feature studies: the feature's MI with failure in the group
    leaf: int | None = None  # failure reviews: the reviewed leaf (None: the whole tree)
    rule: str = ""
    er: float | None = None
    ec: float | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.grouping, self.class_name, int(self.feature))

    def row(self) -> list[str]:
        values = (self.grouping, self.class_name, self.feature, self.tier, self.ber, self.mi, self.leaf, self.rule, self.er, self.ec)
        return [text_cell(v) for v in values]


def _items_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / ITEMS_FILE if path.is_dir() else path


def write_items(items: list[StudyItem], path: str | os.PathLike) -> Path:
    """Write items.csv (into a study folder, or to the given file) atomically."""
    path = _items_path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(ITEM_COLUMNS)
            writer.writerows(item.row() for item in items)
    return path


def read_items(path: str | os.PathLike, *, unique: bool = False) -> list[StudyItem]:
    """A study's items.csv, or a user's list of items (only ``grouping,class,feature`` required).

    Parameters
    ----------
    path : path-like
        A study folder, or a CSV file.
    unique : bool, default=False
        Refuse a (grouping, class, feature) listed twice, as a list of HITs to create must
        (a failure review's items.csv may hold several leaves of one feature).

    Returns
    -------
    list of StudyItem
        In file order; cells left empty read as ``None`` (numbers) or ``""`` (text).

    Raises
    ------
    BarlowError
        The file is missing, lacks a required column, or a cell is malformed (the error
        names the file, the line and the column), or it holds no item.
    """
    path = _items_path(path)
    what = "need columns grouping,class,feature"
    items: list[StudyItem] = []
    seen: set[tuple[str, str, int]] = set()
    for line, row in read_records(path, REQUIRED_ITEM_COLUMNS, what):
        grouping = row["grouping"]
        if grouping not in GROUPINGS:
            raise cell_error(path, line, "grouping", f"{grouping!r} must be {' or '.join(map(repr, GROUPINGS))}")
        name = class_name(row["class"])
        if not name:
            raise cell_error(path, line, "class", "the class is empty")
        item = StudyItem(
            grouping, name, to_int(path, line, row, "feature", minimum=0), tier=row.get("tier", ""),
            ber=to_float(path, line, row, "ber"), mi=to_float(path, line, row, "mi"),
            leaf=to_int(path, line, row, "leaf", minimum=0) if row.get("leaf") else None,
            rule=row.get("rule", ""), er=to_float(path, line, row, "er"), ec=to_float(path, line, row, "ec"),
        )
        if unique and item.key in seen:
            raise BarlowError(f"{path} line {line}: ({grouping}, {name}, {item.feature}) is listed twice")
        seen.add(item.key)
        items.append(item)
    if not items:
        raise BarlowError(f"{path}: no items ({what})")
    return items
