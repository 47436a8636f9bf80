"""Export a study's answers: MTurk batch-results CSV, JSON lines, and a tidy long table.

:func:`batch_results` is the shared entry point (contract 6): one row per submitted
assignment in the shape Mechanical Turk's "Download CSV" gives, so analysis code written
for real MTurk batches reads local studies unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, true
from sqlalchemy.orm import selectinload

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from study.db import StudyDatabase, open_study_database
from study.failure_review import KIND as REVIEW_KIND
from study.failure_review.context import INPUT_FIELDS as REVIEW_INPUT_FIELDS
from study.failure_review.context import input_fields, load_review_contexts
from study.hits import SECTIONS
from study.models import APPROVED, REJECTED, SUBMITTED, Assignment, Hit
from study.study_file import StudySpec, load_study_file
from study.verification import UNCONFIRMED, confirmed

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("mturk-csv", "jsonl", "long")
INPUT_FIELDS = ["grouping", "class", "feature", "is_attention_check", "check_id"] + [f"image_{s}" for s in SECTIONS]
_STATUS_NAMES = {SUBMITTED: "Submitted", APPROVED: "Approved", REJECTED: "Rejected"}


def _iso(dt) -> str:
    return "" if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _review_inputs(spec: StudySpec) -> dict[str, dict]:
    """Failure-review studies: per HIT key, the Input.* fields naming the failure mode shown."""
    if spec.kind != REVIEW_KIND:
        return {}
    if spec.folder is None:
        raise BarlowError(f"study {spec.name!r} is a failure review: export it from its folder (its review.json names the failure modes)")
    return {key: input_fields(ctx) for key, ctx in load_review_contexts(spec.folder).items()}


def input_field_names(spec: StudySpec) -> list[str]:
    return INPUT_FIELDS + (list(REVIEW_INPUT_FIELDS) if spec.kind == REVIEW_KIND else [])


def _records(db: StudyDatabase, spec: StudySpec, include_unconfirmed: bool = False) -> list[dict]:
    """One dict per submitted assignment, with inputs and answers keyed by question id.

    Crowd answers the platform has not confirmed (closed crowd mode, before ``collect``)
    are left out unless ``include_unconfirmed``; then their AssignmentStatus is "Unconfirmed".
    """
    review = _review_inputs(spec)
    with db.reads() as session:
        rows = session.scalars(
            select(Assignment)
            .join(Hit)
            .where(Hit.study_id == db.study_id, Assignment.status == SUBMITTED, true() if include_unconfirmed else confirmed())
            .options(selectinload(Assignment.answers), selectinload(Assignment.hit), selectinload(Assignment.worker))
            .order_by(Hit.position, Assignment.submitted_at, Assignment.id)
        ).all()
        records = []
        for a in rows:
            hit = a.hit
            inputs = {
                "grouping": hit.grouping,
                "class": hit.class_name,
                "feature": hit.feature,
                "is_attention_check": bool(hit.is_attention_check),
                "check_id": hit.check_id,
                **{f"image_{s}": hit.images.get(s, "") for s in SECTIONS},
                **review.get(hit.key, {}),
            }
            status = _STATUS_NAMES.get(a.review or SUBMITTED, "Submitted")
            if a.platform_status == UNCONFIRMED:
                status = "Unconfirmed"
            records.append(
                {
                    "HITId": hit.platform_hit_id or hit.key,
                    "HITKey": hit.key,
                    "AssignmentId": a.platform_assignment_id or a.public_id,
                    "WorkerId": a.worker.external_id,
                    "WorkerSource": a.worker.source,
                    "AssignmentStatus": status,
                    "AcceptTime": _iso(a.accepted_at),
                    "SubmitTime": _iso(a.submitted_at),
                    "WorkTimeInSeconds": int(round(a.work_time_seconds or 0)),
                    "ApprovalTime": _iso(a.reviewed_at) if a.review == APPROVED else "",
                    "RejectionTime": _iso(a.reviewed_at) if a.review == REJECTED else "",
                    "RequesterFeedback": a.review_note or "",
                    "AttentionPassed": a.attention_passed,
                    "Title": spec.settings.title,
                    "Reward": f"${spec.settings.reward}",
                    "inputs": inputs,
                    "answers": {ans.question_id: ans.value for ans in a.answers},
                }
            )
    return records


def _from_folder(study_dir: str | Path, database_url: str | None, build):
    """Open the study's database just for ``build(db, spec)`` (the CLI's path-based entry points)."""
    spec = load_study_file(study_dir)
    db = open_study_database(study_dir, database_url, spec=spec, create=False)
    try:
        return build(db, spec)
    finally:
        db.dispose()


def batch_results(study_dir: str | Path, database_url: str | None = None, include_unconfirmed: bool = False) -> "pd.DataFrame":
    """All submitted assignments of the study in ``study_dir`` as an MTurk batch-results table.

    See :func:`batch_results_frame` for the columns.
    """
    return _from_folder(study_dir, database_url, lambda db, spec: batch_results_frame(db, spec, include_unconfirmed))


def batch_results_frame(db: StudyDatabase, spec: StudySpec, include_unconfirmed: bool = False) -> "pd.DataFrame":
    """All submitted assignments as an MTurk batch-results table (contract 6).

    Columns: ``HITId, AssignmentId, WorkerId, AssignmentStatus, AcceptTime, SubmitTime,
    WorkTimeInSeconds, ...`` then ``Input.<field>`` (grouping, class, feature,
    is_attention_check, check_id, image_A/B/C) and ``Answer.<question id>`` in study-file
    order. ``Input.feature`` is an int, ``Input.is_attention_check`` a bool; Likert answers
    are ints (missing optional answers are NA); times are ISO 8601 UTC strings.
    """
    import pandas as pd

    records = _records(db, spec, include_unconfirmed)
    head = [
        "HITId",
        "HITKey",
        "AssignmentId",
        "WorkerId",
        "WorkerSource",
        "AssignmentStatus",
        "AcceptTime",
        "SubmitTime",
        "WorkTimeInSeconds",
        "ApprovalTime",
        "RejectionTime",
        "RequesterFeedback",
        "AttentionPassed",
        "Title",
        "Reward",
    ]
    fields = spec.answer_fields()
    columns = head + [f"Input.{f}" for f in input_field_names(spec)] + [f"Answer.{f}" for _, f in fields]
    rows = []
    for r in records:
        row = {k: r[k] for k in head}
        row.update({f"Input.{k}": v for k, v in r["inputs"].items()})
        row.update({f"Answer.{f}": r["answers"].get(f, "") for _, f in fields})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    frame["Input.feature"] = frame["Input.feature"].astype("int64")
    frame["Input.is_attention_check"] = frame["Input.is_attention_check"].astype(bool)
    frame["WorkTimeInSeconds"] = frame["WorkTimeInSeconds"].astype("int64")
    frame["AttentionPassed"] = frame["AttentionPassed"].astype("boolean")
    for q, f in fields:
        if q.type in ("likert", "survey"):
            col = f"Answer.{f}"
            frame[col] = pd.to_numeric(frame[col].replace("", None), errors="coerce").astype("Int64")
    return frame


def long_table(study_dir: str | Path, database_url: str | None = None, include_unconfirmed: bool = False) -> "pd.DataFrame":
    """One row per (assignment, question): tidy data for pandas / R."""
    return _from_folder(study_dir, database_url, lambda db, spec: long_table_frame(db, spec, include_unconfirmed))


def long_table_frame(db: StudyDatabase, spec: StudySpec, include_unconfirmed: bool = False) -> "pd.DataFrame":
    import pandas as pd

    records = _records(db, spec, include_unconfirmed)
    rows = []
    for r in records:
        for q, field_id in spec.answer_fields():
            if field_id not in r["answers"]:
                continue
            rows.append(
                {
                    "hit": r["HITKey"],
                    "assignment": r["AssignmentId"],
                    "worker": r["WorkerId"],
                    "grouping": r["inputs"]["grouping"],
                    "class": r["inputs"]["class"],
                    "feature": r["inputs"]["feature"],
                    "is_attention_check": r["inputs"]["is_attention_check"],
                    "question": field_id,
                    "question_type": q.type,
                    "value": r["answers"][field_id],
                    "submit_time": r["SubmitTime"],
                    "work_time_seconds": r["WorkTimeInSeconds"],
                    "status": r["AssignmentStatus"],
                }
            )
    columns = [
        "hit",
        "assignment",
        "worker",
        "grouping",
        "class",
        "feature",
        "is_attention_check",
        "question",
        "question_type",
        "value",
        "submit_time",
        "work_time_seconds",
        "status",
    ]
    return pd.DataFrame(rows, columns=columns)


def jsonl_lines(study_dir: str | Path, database_url: str | None = None, include_unconfirmed: bool = False) -> list[str]:
    return _from_folder(study_dir, database_url, lambda db, spec: jsonl_records(db, spec, include_unconfirmed))


def jsonl_records(db: StudyDatabase, spec: StudySpec, include_unconfirmed: bool = False) -> list[str]:
    """One JSON line per submitted assignment."""
    records = _records(db, spec, include_unconfirmed)
    lines = []
    for r in records:
        out = {k: v for k, v in r.items() if k not in ("inputs", "answers")}
        out["Input"] = r["inputs"]
        out["Answer"] = r["answers"]
        lines.append(json.dumps(out, ensure_ascii=False))
    return lines


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...) in a
# worker's description would be a link to anywhere), so CSV cells get a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_csv(frame: "pd.DataFrame") -> str:
    """CSV text of ``frame`` that spreadsheet programs open without running any cell."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    frame = frame.copy()
    for column in frame.columns:
        if is_object_dtype(frame[column]) or is_string_dtype(frame[column]):
            frame[column] = frame[column].map(_defuse)
    return frame.to_csv(index=False)


def export_database(db: StudyDatabase, spec: StudySpec, fmt: str, include_unconfirmed: bool = False) -> tuple[str, int]:
    """The export in ``fmt`` as text and its number of records, from an open database."""
    if fmt == "mturk-csv":
        frame = batch_results_frame(db, spec, include_unconfirmed)
        return safe_csv(frame), len(frame)
    if fmt == "long":
        frame = long_table_frame(db, spec, include_unconfirmed)
        return safe_csv(frame), len(frame)
    if fmt == "jsonl":
        lines = jsonl_records(db, spec, include_unconfirmed)
        return "".join(line + "\n" for line in lines), len(lines)
    raise BarlowError(f"unknown export format {fmt!r} (use one of {', '.join(FORMATS)})")


def export_text(study_dir: str | Path, fmt: str, database_url: str | None = None, include_unconfirmed: bool = False) -> tuple[str, int]:
    """The export in ``fmt`` as text and its number of records (the CLI)."""
    if fmt not in FORMATS:
        raise BarlowError(f"unknown export format {fmt!r} (use one of {', '.join(FORMATS)})")
    return _from_folder(study_dir, database_url, lambda db, spec: export_database(db, spec, fmt, include_unconfirmed))


def write_export(study_dir: str | Path, fmt: str, out: str | Path, database_url: str | None = None, include_unconfirmed: bool = False) -> int:
    """Write the export to ``out`` atomically; return the number of rows/lines written."""
    if fmt not in FORMATS:
        raise BarlowError(f"unknown export format {fmt!r} (use one of {', '.join(FORMATS)})")
    text, n = export_text(study_dir, fmt, database_url, include_unconfirmed)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return n
