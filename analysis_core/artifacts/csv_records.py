"""Small CSV files read as typed records: every error names the file, the line and the column.

The tables Barlow's steps hand each other by hand-sized CSV (a study's ``items.csv``,
``failure_judgements.csv``) are read here as text, so class names stay text ("NA", "1")
and a bad cell is reported where a user can find it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Iterable, Iterator

from analysis_core.artifacts.errors import BarlowError

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def read_records(path: Path, required: Iterable[str], what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row as text) for each data row; refuses a file without the ``required`` columns.

    ``what`` says in an error what the file should be, e.g. "a study's items.csv".
    """
    path = Path(path)
    if not path.is_file():
        raise BarlowError(f"{path} not found ({what})")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise BarlowError(f"{path} lacks column(s) {', '.join(missing)} ({what})")
            for row in reader:
                if None in row:  # more cells than the header names
                    raise BarlowError(f"{path} line {reader.line_num}: more cells than columns in the header")
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BarlowError(f"cannot read {path}: {exc}") from None


def cell_error(path: Path, line: int, column: str, message: str) -> BarlowError:
    return BarlowError(f"{path} line {line}, column {column}: {message}")


def to_int(path: Path, line: int, row: dict[str, str], column: str, minimum: int | None = None) -> int:
    text = row.get(column, "")
    try:
        value = int(text)
    except ValueError:
        raise cell_error(path, line, column, f"{text!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise cell_error(path, line, column, f"{value} is below {minimum}")
    return value


def to_float(path: Path, line: int, row: dict[str, str], column: str) -> float | None:
    """A number, or None for an empty (or absent) cell."""
    text = row.get(column, "")
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise cell_error(path, line, column, f"{text!r} is not a number") from None
    return None if math.isnan(value) else value


def to_bool(path: Path, line: int, row: dict[str, str], column: str) -> bool:
    text = row.get(column, "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise cell_error(path, line, column, f"{text!r} is not true or false")


def text_cell(value) -> str:
    """How a record's value is written: None and NaN as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)
