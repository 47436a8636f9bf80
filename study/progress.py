"""Progress of a study, per HIT and per worker, as plain rows (for the dashboard and the API)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, selectinload

from study.models import APPROVED, ASSIGNED, REJECTED, SUBMITTED, Assignment, Hit


@dataclass
class HitProgress:
    key: str
    grouping: str
    class_name: str
    feature: int
    is_attention_check: bool
    needed: int
    submitted: int
    active: int
    approved: int
    rejected: int

    @property
    def complete(self) -> bool:
        return self.submitted >= self.needed

    def to_dict(self) -> dict:
        return asdict(self) | {"complete": self.complete}


@dataclass
class WorkerProgress:
    worker: str
    source: str
    submitted: int
    active: int
    median_work_seconds: float | None
    checks_passed: int
    checks_failed: int
    approved: int
    rejected: int
    last_seen: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Summary:
    hits: int
    attention_checks: int
    assignments_needed: int
    submitted: int
    active: int
    workers: int
    complete_hits: int

    @property
    def percent(self) -> float:
        return 100.0 * min(self.submitted, self.assignments_needed) / self.assignments_needed if self.assignments_needed else 100.0

    def to_dict(self) -> dict:
        return asdict(self) | {"percent": round(self.percent, 1)}


def _assignments(session: Session, study_id: int) -> list[Assignment]:
    return list(
        session.scalars(
            select(Assignment)
            .join(Hit)
            .where(Hit.study_id == study_id)
            .options(selectinload(Assignment.worker), selectinload(Assignment.hit))
        )
    )


def hit_progress(session: Session, study_id: int, timeout: timedelta, now) -> list[HitProgress]:
    hits = list(session.scalars(select(Hit).where(Hit.study_id == study_id).order_by(Hit.position)))
    rows = {h.id: HitProgress(h.key, h.grouping, h.class_name, h.feature, h.is_attention_check, h.max_assignments, 0, 0, 0, 0) for h in hits}
    for a in _assignments(session, study_id):
        row = rows[a.hit_id]
        if a.status == SUBMITTED:
            row.submitted += 1
            row.approved += a.review == APPROVED
            row.rejected += a.review == REJECTED
        elif a.status == ASSIGNED and a.accepted_at >= now - timeout:
            row.active += 1
    return [rows[h.id] for h in hits]


def worker_progress(session: Session, study_id: int, timeout: timedelta, now) -> list[WorkerProgress]:
    by_worker: dict[int, list[Assignment]] = {}
    for a in _assignments(session, study_id):
        by_worker.setdefault(a.worker_id, []).append(a)
    out = []
    for items in by_worker.values():
        worker = items[0].worker
        done = [a for a in items if a.status == SUBMITTED]
        times = [a.work_time_seconds for a in done if a.work_time_seconds is not None]
        out.append(
            WorkerProgress(
                worker=worker.external_id,
                source=worker.source,
                submitted=len(done),
                active=sum(a.status == ASSIGNED and a.accepted_at >= now - timeout for a in items),
                median_work_seconds=round(statistics.median(times), 1) if times else None,
                checks_passed=sum(a.attention_passed is True for a in done),
                checks_failed=sum(a.attention_passed is False for a in done),
                approved=sum(a.review == APPROVED for a in done),
                rejected=sum(a.review == REJECTED for a in done),
                last_seen=worker.last_seen_at.strftime("%m-%d %H:%M"),
            )
        )
    return sorted(out, key=lambda w: (-w.submitted, w.worker))


def summary(hits: list[HitProgress], workers: list[WorkerProgress]) -> Summary:
    return Summary(
        hits=sum(not h.is_attention_check for h in hits),
        attention_checks=sum(h.is_attention_check for h in hits),
        assignments_needed=sum(h.needed for h in hits),
        submitted=sum(h.submitted for h in hits),
        active=sum(h.active for h in hits),
        workers=len(workers),
        complete_hits=sum(h.complete for h in hits),
    )


def recent_answers(session: Session, study_id: int, limit: int = 200) -> list[Assignment]:
    """Submitted assignments, newest first, with answers loaded (for the answers table)."""
    return list(
        session.scalars(
            select(Assignment)
            .join(Hit)
            .where(Hit.study_id == study_id, Assignment.status == SUBMITTED)
            .options(selectinload(Assignment.answers), selectinload(Assignment.worker), selectinload(Assignment.hit))
            .order_by(Assignment.submitted_at.desc(), Assignment.id.desc())
            .limit(limit)
        )
    )


def status_summary(session: Session, study_id: int, timeout: timedelta, now) -> Summary:
    """The study's :class:`Summary` from a few aggregate queries (no rows loaded).

    For ``/api/status``, which pollers call often: counts come from the indexed status
    column in the database, so the cost does not grow with answers held in Python.
    """
    hit_rows = session.execute(
        select(Hit.is_attention_check, func.count(Hit.id), func.sum(Hit.max_assignments)).where(Hit.study_id == study_id).group_by(Hit.is_attention_check)
    ).all()
    per_hit = (
        select(
            Assignment.hit_id.label("hit_id"),
            func.sum(case((Assignment.status == SUBMITTED, 1), else_=0)).label("submitted"),
            func.sum(case((and_(Assignment.status == ASSIGNED, Assignment.accepted_at >= now - timeout), 1), else_=0)).label("active"),
        )
        .join(Hit)
        .where(Hit.study_id == study_id, Assignment.status.in_([SUBMITTED, ASSIGNED]))
        .group_by(Assignment.hit_id)
        .subquery()
    )
    submitted, active, complete = session.execute(
        select(
            func.coalesce(func.sum(per_hit.c.submitted), 0),
            func.coalesce(func.sum(per_hit.c.active), 0),
            func.coalesce(func.sum(case((per_hit.c.submitted >= Hit.max_assignments, 1), else_=0)), 0),
        ).select_from(per_hit.join(Hit, Hit.id == per_hit.c.hit_id))
    ).one()
    workers = session.scalar(
        select(func.count(func.distinct(Assignment.worker_id))).join(Hit).where(Hit.study_id == study_id)
    )
    return Summary(
        hits=sum(n for check, n, _ in hit_rows if not check),
        attention_checks=sum(n for check, n, _ in hit_rows if check),
        assignments_needed=int(sum(total or 0 for _, _, total in hit_rows)),
        submitted=int(submitted),
        active=int(active),
        workers=int(workers or 0),
        complete_hits=int(complete),
    )
