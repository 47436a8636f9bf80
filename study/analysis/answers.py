"""The answer table every analysis step reads, and the roles of its columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

ITEM_KEY = "_item"  # column holding one string key per item (the item columns joined)
ITEM_KEY_SEPARATOR = " / "


@dataclass
class LikertQuestion:
    column: str
    name: str
    label: str
    scale_min: int = 1
    scale_max: int = 5


@dataclass
class ChoiceQuestion:
    column: str
    name: str
    label: str
    options: list[str] = field(default_factory=list)  # display order


@dataclass
class TextQuestion:
    column: str
    name: str
    label: str


@dataclass
class AnswerTable:
    """One row per submitted assignment, validated, with the role of every column.

    ``answers`` holds the real items; ``checks`` holds attention-check assignments (same
    columns), whose expected answers are in ``expected`` (question column → column of
    ``checks`` holding the expected answer for each row).
    """

    answers: pd.DataFrame
    checks: pd.DataFrame
    item_columns: list[str]
    likert: list[LikertQuestion]
    choice: list[ChoiceQuestion]
    text: list[TextQuestion]
    worker_column: str | None
    time_column: str | None
    feature_column: str | None
    description_column: str | None
    expected: dict[str, str] = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def question_name(column: str) -> str:
    """``Answer.useful_view`` → ``useful_view``: the short name used in output columns."""
    return column[len("Answer."):] if column.startswith("Answer.") else column
