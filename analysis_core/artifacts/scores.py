"""``failure_scores.csv``: per-image membership strength in each failure mode (``barlow analyze``).

One row per (image, failure mode): ``row`` (the image's position in metadata.csv),
``grouping``, ``class``, ``leaf`` (node id in trees.json), ``rank`` (the leaf's rank in its
group), ``in_leaf`` (the image meets the rule), ``failure`` (prediction != label), ``margin``
(smallest standardized distance to the rule's thresholds, > 0 inside), ``typicality`` (0 to 1:
closeness to the failure mode's failures) and ``score`` (the order
in which the report shows a failure mode's images, highest first). The file sits beside
failure_modes.csv; analysis_core.failure_scores computes it.
"""

from __future__ import annotations

import os
from pathlib import Path

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError

FAILURE_SCORES_FILE = "failure_scores.csv"
SCORE_COLUMNS = ("row", "grouping", "class", "leaf", "rank", "in_leaf", "failure", "margin", "typicality", "score")
_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}


def _path(folder_or_file: str | os.PathLike) -> Path:
    path = Path(folder_or_file)
    return path / FAILURE_SCORES_FILE if path.is_dir() or path.suffix != ".csv" else path


def _check(table, where: str):
    import numpy as np

    missing = [c for c in SCORE_COLUMNS if c not in table.columns]
    if missing:
        raise BarlowError(f"{where} lacks column(s) {', '.join(missing)}")
    for column in ("row", "leaf", "rank"):
        values = np.asarray(table[column], dtype=float) if len(table) else np.zeros(0)
        if np.isnan(values).any() or (values != np.round(values)).any() or (values < 0).any():
            raise BarlowError(f"{where}: column {column} must hold non-negative whole numbers")
    for column in ("margin", "typicality", "score"):
        values = np.asarray(table[column], dtype=float) if len(table) else np.zeros(0)
        if np.isnan(values).any():
            raise BarlowError(f"{where}: column {column} has empty or non-numeric cells")
    key = ["row", "grouping", "class", "leaf"]
    if table.duplicated(key).any():
        first = table[table.duplicated(key)].iloc[0]
        raise BarlowError(
            f"{where}: image row {int(first['row'])} appears twice for {first['grouping']} group "
            f"'{first['class']}' leaf {int(first['leaf'])}"
        )


def _as_bool(column, where: str, name: str):
    def convert(value):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in _BOOLEAN:
            raise BarlowError(f"{where}: column {name} holds {value!r}, not true/false")
        return _BOOLEAN[text]

    return column.map(convert).astype(bool)


def read_failure_scores(analysis_dir: str | os.PathLike):
    """failure_scores.csv as a DataFrame with typed columns; a clear error for a damaged file."""
    import pandas as pd

    from analysis_core.artifacts.tables import _read_csv

    path = _path(analysis_dir)
    table = _read_csv(path, SCORE_COLUMNS)
    for column in ("margin", "typicality", "score", "row", "leaf", "rank"):
        converted = pd.to_numeric(table[column], errors="coerce")
        if converted.isna().any():
            bad = table[column][converted.isna()].iloc[0]
            raise BarlowError(f"{path}: column {column} holds {bad!r}, not a number")
        table[column] = converted
    _check(table, str(path))
    for column in ("row", "leaf", "rank"):
        table[column] = table[column].astype(int)
    for column in ("in_leaf", "failure"):
        table[column] = _as_bool(table[column], str(path), column)
    return table


def write_failure_scores(table, path: str | os.PathLike) -> Path:
    """Write the table (checked first: nothing half-valid reaches the disk)."""
    path = _path(path)
    _check(table, f"failure-score table for {path}")
    with atomic_path(path) as tmp:
        table.loc[:, list(SCORE_COLUMNS)].to_csv(tmp, index=False, float_format="%.6g")
    return path
