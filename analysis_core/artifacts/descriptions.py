"""``feature_descriptions.csv``: what crowd workers said each feature shows.

Written by ``barlow study analyze`` (columns ``feature,description,n_descriptions,agreement``),
read by ``barlow report`` from the analysis folder or a path given with ``--descriptions``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.tables import optional_float

DESCRIPTIONS_FILE = "feature_descriptions.csv"
DESCRIPTION_COLUMNS = ("feature", "description", "n_descriptions", "agreement")


@dataclass
class FeatureDescription:
    description: str
    n_descriptions: int | None = None
    agreement: float | None = None

    def get(self, key: str, default=None):
        """Dict-style access, for templates written against the earlier plain-dict records."""
        return getattr(self, key, default)

    def __getitem__(self, key: str):
        return getattr(self, key)


def _count(value) -> int | None:
    number = optional_float(value)
    return None if number is None else int(number)


def read_descriptions(path: str | os.PathLike) -> dict[int, FeatureDescription]:
    """Per feature id, its (non-empty) description; a folder means its feature_descriptions.csv."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / DESCRIPTIONS_FILE
    try:
        table = pd.read_csv(path, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BarlowError(f"cannot read feature descriptions {path}: {exc}") from None
    for column in ("feature", "description"):
        if column not in table.columns:
            raise BarlowError(f"{path} lacks the column '{column}' (expected {','.join(DESCRIPTION_COLUMNS)})")
    out: dict[int, FeatureDescription] = {}
    for row_no, row in enumerate(table.to_dict("records"), start=2):
        try:
            feature = int(row["feature"])
        except (TypeError, ValueError):
            raise BarlowError(f"{path} row {row_no}: feature '{row['feature']}' is not an integer id") from None
        text = str(row["description"]).strip()
        if text:
            out[feature] = FeatureDescription(text, _count(row.get("n_descriptions")), optional_float(row.get("agreement")))
    return out


def write_descriptions(frame, path: str | os.PathLike) -> Path:
    """Write a descriptions table (a DataFrame with at least feature, description) atomically."""
    missing = [c for c in ("feature", "description") if c not in frame.columns]
    if missing:
        raise BarlowError(f"feature descriptions for {path} lack column(s) {', '.join(missing)}")
    path = Path(path)
    if path.is_dir():
        path = path / DESCRIPTIONS_FILE
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path
