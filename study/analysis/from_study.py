"""Read a local study's answers (contract 6) into an :class:`AnswerTable`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis_core.errors import BarlowError
from study.analysis.answers import AnswerTable, ChoiceQuestion, LikertQuestion, TextQuestion
from study.analysis.loading import LINE, assemble_table, check_choice_and_text, drop_rejected

ITEM_COLUMNS = ["Input.grouping", "Input.class", "Input.feature"]
CHECK_ID = "Input.check_id"


def _label(prompt: str, fallback: str, limit: int = 60) -> str:
    """A short label for plots and tables, from the question's prompt."""
    text = " ".join(str(prompt or "").split()) or fallback
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _answer_frame(frame: pd.DataFrame, likert: list[LikertQuestion], choice: list[ChoiceQuestion], text: list[TextQuestion]) -> pd.DataFrame:
    """The exported records in the analysis's types: Likert answers as floats (NaN when
    missing), choice and text answers as stripped strings ('' when missing), ids as text.

    The database already holds typed values, so nothing is written out as text and parsed back.
    """
    frame = frame.copy()
    for question in likert:
        frame[question.column] = frame[question.column].astype("Float64").astype(float)
    for question in [*choice, *text]:
        values = frame[question.column]
        frame[question.column] = values.where(values.notna(), "").astype(str).str.strip()
    for column in [*ITEM_COLUMNS, "WorkerId", CHECK_ID]:
        values = frame[column]
        frame[column] = values.where(values.notna(), "").astype(str)
    frame["WorkTimeInSeconds"] = frame["WorkTimeInSeconds"].astype(float)
    frame[LINE] = np.arange(len(frame)) + 2
    return frame


def load_study(study_dir: str | Path, database_url: str | None = None, include_unconfirmed: bool = False, **options) -> AnswerTable:
    """Answers of the study in ``study_dir`` with roles taken from its study file.

    Crowd answers the platform has not confirmed yet are left out unless ``include_unconfirmed``.
    """
    from study.export import batch_results
    from study.study_file import load_study_file

    spec = load_study_file(study_dir)
    exported = batch_results(study_dir, database_url, include_unconfirmed=include_unconfirmed)
    if exported.empty:
        raise BarlowError(f"study {study_dir} has no submitted answers yet; nothing to analyse")

    likert, choice, text = [], [], []
    for q in spec.questions:
        column = f"Answer.{q.id}"
        label = _label(q.prompt, q.id)
        if q.type == "likert":
            likert.append(LikertQuestion(column, q.id, label, int(q.scale_min), int(q.scale_max)))
        elif q.type == "choice":
            choice.append(ChoiceQuestion(column, q.id, label, list(q.options)))
        elif q.type == "text":
            text.append(TextQuestion(column, q.id, label))
    frame = _answer_frame(exported, likert, choice, text)

    # Each attention check states its own expected answers; spread them over its rows.
    expected: dict[str, str] = {}
    checks = {c.id: c for c in spec.attention_checks}
    if checks and CHECK_ID in frame.columns:
        question_ids = sorted({qid for c in checks.values() for qid in c.expected})
        for qid in question_ids:
            store = f"Input.expected_{qid}"
            frame[store] = frame[CHECK_ID].map(lambda cid, qid=qid: str(checks[cid].expected.get(qid, "")) if cid in checks else "")
            expected[f"Answer.{qid}"] = store

    descriptions = "Answer.description" if any(q.id == "description" for q in spec.questions) else None
    source = str(study_dir)
    notes: list[str] = []
    frame = drop_rejected(frame, source, options.pop("include_rejected", False), notes)
    check_choice_and_text(frame, choice, text, source)
    return assemble_table(
        frame,
        notes,
        source=source,
        item_columns=ITEM_COLUMNS,
        likert=likert,
        choice=choice,
        text=text,
        worker_column="WorkerId",
        time_column="WorkTimeInSeconds",
        attention_column="Input.is_attention_check",
        expected=expected,
        feature_column="Input.feature",
        description_column=descriptions,
        min_raters=options.pop("min_raters", None),
        source_info={"kind": "study", "name": spec.name, "analysis": (spec.source or {}).get("analysis")},
        **options,
    )
