"""Read a local study's answers (contract 6) into an :class:`AnswerTable`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis_core.artifacts.errors import BarlowError
from study.analysis.answers import (
    AnswerTable,
    ChoiceQuestion,
    LikertQuestion,
    TextQuestion,
)
from study.analysis.loading import (
    LINE,
    assemble_table,
    check_choice_and_text,
    drop_rejected,
)
from study.failure_review import KIND as REVIEW_KIND

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
    for column in [*ITEM_COLUMNS, "WorkerId", CHECK_ID, *(["Input.leaf"] if "Input.leaf" in frame.columns else [])]:
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
    item_columns = ITEM_COLUMNS
    if spec.kind == REVIEW_KIND:
        # An item is a failure mode; its answers describe the failures, not one feature, so
        # they must not become the feature descriptions the report shows.
        descriptions = None
        leaves = frame.get("Input.leaf", pd.Series(dtype=str)).astype(str).str.strip()
        item_columns = ["Input.grouping", "Input.class"] + (["Input.leaf"] if (leaves != "").all() else [])
    source = str(study_dir)
    notes: list[str] = []
    frame = drop_rejected(frame, source, options.pop("include_rejected", False), notes)
    check_choice_and_text(frame, choice, text, source)
    table = assemble_table(
        frame,
        notes,
        source=source,
        item_columns=item_columns,
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
    if spec.kind == REVIEW_KIND:
        table.feature_column = table.description_column = None
    return table


def review_roles(study_dir: str | Path):
    """Where a failure-review study's answers sit in its export; None for other kinds."""
    from study.analysis.review import ReviewRoles
    from study.study_file import load_study_file

    spec = load_study_file(study_dir)
    if spec.kind != REVIEW_KIND:
        return None
    from study.failure_review.questions import JUDGEMENT

    try:
        judgement = spec.question(JUDGEMENT)
    except KeyError:
        raise BarlowError(f"{study_dir}: a failure-review study needs its choice question '{JUDGEMENT}' (where the feature is); study.yaml has none") from None
    if judgement.type != "choice":
        raise BarlowError(f"{study_dir}: question '{JUDGEMENT}' must be a choice question (main_object / separate_object / background / cant_tell)")
    likert = next((q for q in spec.questions if q.type == "likert"), None)
    multi = next((q for q in spec.questions if q.type == "multi"), None)
    survey = next((q for q in spec.questions if q.type == "survey"), None)
    # The study's own option ids are the places; a reworded option keeps its id.
    spellings = {where: (where,) for where in ("main_object", "separate_object", "background", "cant_tell")}
    unknown = [o for o in judgement.options if o not in spellings]
    if unknown:
        raise BarlowError(
            f"{study_dir}: judgement option(s) {', '.join(unknown)} are not main_object / separate_object / background / cant_tell; "
            "the analysis needs those ids to tell core from spurious"
        )
    return ReviewRoles(
        judgement=f"Answer.{JUDGEMENT}",
        spellings=spellings,
        confidence=f"Answer.{likert.id}" if likert else None,
        actions=f"Answer.{multi.id}" if multi else None,
        action_options=multi.all_options() if multi else [],
        action_labels=dict(multi.option_labels) if multi else {},
        actions_other=f"Answer.{multi.id}_other" if multi and multi.other else None,
        survey=[(f"Answer.{survey.id}_{st.id}", st.text) for st in survey.statements] if survey else [],
        survey_scale=(survey.scale_min, survey.scale_max) if survey else (1, 5),
        survey_labels=dict(survey.scale_labels) if survey else {},
    )
