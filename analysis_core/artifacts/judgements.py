"""``failure_judgements.csv``: crowd judgements of failure modes, one row per reviewed leaf.

``barlow study analyze`` of a failure-review study writes it (with more columns: n_core,
n_cant_tell, agreement, ...); ``barlow report`` reads it to show each failure mode's
judgement beside its sentence. The columns a reader relies on are :data:`JUDGEMENT_COLUMNS`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.csv_records import read_records, to_bool, to_int
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.extraction import class_name

JUDGEMENTS_FILE = "failure_judgements.csv"
JUDGEMENT_COLUMNS = ("grouping", "class", "leaf", "n_reviewers", "n_spurious")
_WHAT = "it must be failure_judgements.csv from 'barlow study analyze' of a failure-review study (with leaf ids)"


@dataclass
class FailureJudgement:
    """How the reviewers of one failure mode (a leaf of a group's tree) judged it."""

    grouping: str
    class_name: str
    leaf: int
    n_reviewers: int
    n_spurious: int
    verdict: str = ""  # the plurality of core / spurious / can't tell ("tie": none)
    judged_spurious: bool = False  # more than half of the reviewers said spurious

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.grouping, self.class_name, self.leaf)

    @property
    def text(self) -> str:
        return f"judged spurious by {self.n_spurious} of {self.n_reviewers} reviewer{'s' if self.n_reviewers != 1 else ''}"


def _judgements_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / JUDGEMENTS_FILE if path.is_dir() else path


def write_judgements(table, path: str | os.PathLike) -> Path:
    """Write the study analysis's table (a DataFrame), every column kept in its order.

    A batch whose HITs did not name their grouping, class or leaf gives empty cells there:
    the file keeps its layout, and the report matches those rows to no failure mode.
    """
    missing = [c for c in ("n_reviewers", "n_spurious") if c not in table.columns]
    if missing:
        raise BarlowError(f"failure judgements for {path} lack column(s) {', '.join(missing)}")
    table = table.copy()
    for position, column in enumerate(JUDGEMENT_COLUMNS[:3]):
        if column not in table.columns:
            table.insert(position, column, "")
    path = _judgements_path(path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def read_judgements(path: str | os.PathLike) -> dict[tuple[str, str, int], FailureJudgement]:
    """The crowd judgements of failure modes, by (grouping, class, leaf).

    Parameters
    ----------
    path : path-like
        An analysis or study-analysis folder, or the CSV file.

    Returns
    -------
    dict of (str, str, int) to FailureJudgement
        Rows without a leaf (a ``--unit tree`` review judges a whole tree) match no failure
        mode and are left out.

    Raises
    ------
    BarlowError
        The file is missing, lacks a column of ``JUDGEMENT_COLUMNS``, or a cell is malformed
        (the error names the file, the line and the column).
    """
    path = _judgements_path(path)
    out: dict[tuple[str, str, int], FailureJudgement] = {}
    for line, row in read_records(path, JUDGEMENT_COLUMNS, _WHAT):
        if row["leaf"] == "":
            continue
        n = to_int(path, line, row, "n_reviewers", minimum=0)
        n_spurious = to_int(path, line, row, "n_spurious", minimum=0)
        judged = to_bool(path, line, row, "judged_spurious") if row.get("judged_spurious", "") != "" else n_spurious * 2 > n
        judgement = FailureJudgement(
            row["grouping"], class_name(row["class"]), to_int(path, line, row, "leaf", minimum=0),
            n, n_spurious, row.get("verdict", ""), judged,
        )
        out[judgement.key] = judgement
    return out
