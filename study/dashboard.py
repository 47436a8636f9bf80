"""What the admin dashboard and the admin API show, read in one go as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from study.db import StudyDatabase
from study.models import Hit
from study.platforms.summary import PlatformSummary, platform_summary
from study.progress import HitProgress, Summary, WorkerProgress, hit_progress, recent_answers, status_summary, summary, worker_progress
from study.study_file import StudySpec


@dataclass
class Dashboard:
    summary: Summary
    hits: list[HitProgress]
    workers: list[WorkerProgress]
    # Submitted assignments, newest first, as table rows (answers by question id).
    answers: list[dict]
    crowd: PlatformSummary
    # HIT key -> the crowd platform's id, for the published HITs.
    remote_hits: dict[str, str]


def progress_rows(db: StudyDatabase, timeout: timedelta, now: datetime) -> tuple[list[HitProgress], list[WorkerProgress]]:
    """Progress per HIT and per worker, from one consistent read."""
    with db.reads() as session:
        return hit_progress(session, db.study_id, timeout, now), worker_progress(session, db.study_id, timeout, now)


def status_counts(db: StudyDatabase, timeout: timedelta, now: datetime) -> Summary:
    """The study's counts from aggregate queries: cheap enough for a poller every few seconds."""
    with db.reads() as session:
        return status_summary(session, db.study_id, timeout, now)


def dashboard_view(db: StudyDatabase, spec: StudySpec, timeout: timedelta, now: datetime, answer_limit: int) -> Dashboard:
    """Everything the dashboard page shows, from one read transaction."""
    with db.reads() as session:
        hits = hit_progress(session, db.study_id, timeout, now)
        workers = worker_progress(session, db.study_id, timeout, now)
        answers = [
            {
                "id": a.public_id,
                "hit": a.hit.key,
                "grouping": a.hit.grouping,
                "class": a.hit.class_name,
                "feature": a.hit.feature,
                "is_check": a.hit.is_attention_check,
                "worker": a.worker.external_id,
                "submitted": a.submitted_at.strftime("%Y-%m-%d %H:%M"),
                "seconds": a.work_time_seconds,
                "passed": a.attention_passed,
                "review": a.review,
                "remote": a.platform_assignment_id if a.mode != "local" else None,
                "platform_status": a.platform_status,
                "answers": {ans.question_id: ans.value for ans in a.answers},
            }
            for a in recent_answers(session, db.study_id, limit=answer_limit)
        ]
        crowd = platform_summary(session, db.study_id, spec)
        remote_hits = dict(session.execute(select(Hit.key, Hit.platform_hit_id).where(Hit.study_id == db.study_id, Hit.platform_hit_id.is_not(None))).all())
    return Dashboard(summary(hits, workers), hits, workers, answers, crowd, remote_hits)
