"""``failure_modes.csv`` (one row per tree leaf) and ``skipped.csv`` (groups not analysed).

The writers keep every column of the table they are given, in order, so columns added by
newer steps (held-out or cross-fitted estimates, ...) travel through; the readers check
only the columns a reader relies on and return the rest as they are.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError

FAILURE_MODES_FILE = "failure_modes.csv"
SKIPPED_FILE = "skipped.csv"

# What a reader of failure_modes.csv may rely on being there.
REQUIRED_LEAF_COLUMNS = (
    "grouping", "class", "n", "n_fail", "ber", "aler", "aler_minus_ber", "leaf", "n_leaf", "n_fail_leaf", "er", "ec", "iv", "valid",
)
SKIPPED_COLUMNS = ["grouping", "class", "n", "n_fail", "reason"]
_TRUE = ("true", "1", "yes")


def _path(folder_or_file: str | os.PathLike, name: str) -> Path:
    path = Path(folder_or_file)
    return path / name if path.is_dir() or path.suffix != ".csv" else path


def _read_csv(path: Path, required) -> "object":
    import pandas as pd

    from analysis_core.artifacts.extraction import class_name

    if not path.is_file():
        raise BarlowError(f"{path} not found: --analysis must be a folder written by 'barlow analyze'")
    try:
        # Class names are text ("NA", "1" and "nan" are classes, not missing values).
        table = pd.read_csv(path, dtype={"class": str, "grouping": str, "rule": str, "reason": str},
                            keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BarlowError(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise BarlowError(f"{path} lacks column(s) {', '.join(missing)}")
    for column in ("class", "grouping", "rule", "reason"):
        if column in table.columns:
            table[column] = table[column].fillna("").map(class_name if column == "class" else str)
    return table


def read_failure_modes(analysis_dir: str | os.PathLike):
    """failure_modes.csv as a DataFrame: text class names, ``valid`` as bool, every column kept.

    Parameters
    ----------
    analysis_dir : path-like
        A folder written by ``barlow analyze``, or its ``failure_modes.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per tree leaf; at least the columns of ``REQUIRED_LEAF_COLUMNS``.

    Raises
    ------
    BarlowError
        The file is missing, not CSV, or lacks a required column (named).
    """
    table = _read_csv(_path(analysis_dir, FAILURE_MODES_FILE), REQUIRED_LEAF_COLUMNS)
    table["valid"] = table["valid"].map(lambda v: str(v).strip().lower() in _TRUE if isinstance(v, str) else bool(v))
    table["leaf"] = table["leaf"].astype(int)
    return table


def write_failure_modes(table, path: str | os.PathLike) -> Path:
    missing = [c for c in REQUIRED_LEAF_COLUMNS if c not in table.columns]
    if missing:
        raise BarlowError(f"failure-mode table for {path} lacks column(s) {', '.join(missing)}")
    path = _path(path, FAILURE_MODES_FILE)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def read_skipped(analysis_dir: str | os.PathLike) -> list[dict]:
    """skipped.csv as records (grouping, class, n, n_fail, reason); [] when the file is absent."""
    path = _path(analysis_dir, SKIPPED_FILE)
    if not path.is_file():
        return []
    return _read_csv(path, ("grouping", "class", "reason")).to_dict("records")


def skipped_frame(records):
    """A DataFrame in skipped.csv's layout from records or (grouping, class, n, n_fail, reason) tuples."""
    import pandas as pd

    rows = [tuple(r[c] for c in SKIPPED_COLUMNS) if isinstance(r, dict) else tuple(r) for r in records]
    return pd.DataFrame(rows, columns=SKIPPED_COLUMNS)


def write_skipped(records, path: str | os.PathLike) -> Path:
    path = _path(path, SKIPPED_FILE)
    frame = records if hasattr(records, "to_csv") else skipped_frame(records)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def optional_float(value) -> float | None:
    """A number read from a table cell: None when the cell is empty, not a number or NaN."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value
