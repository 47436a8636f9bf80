"""Who answers which HIT next.

Local sessions: a worker gets the open HIT with the fewest taken slots (ties by HIT order)
that this worker has not answered nor is holding; a slot is taken by a submitted
assignment or by an assignment still within its timeout. Abandoned assignments are
released when the timeout passes, so the slot goes to someone else. The clock is injected
so tests move time instead of sleeping.

Crowd mode: the platform decides who works on what; we record its assignment ids and
refuse a worker a second answer to the same HIT.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from study.models import ASSIGNED, RELEASED, SUBMITTED, Answer, Assignment, Hit, Worker, utcnow

Clock = Callable[[], datetime]


class AllocationError(Exception):
    """A request the allocator must refuse; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def new_public_id() -> str:
    return secrets.token_hex(10).upper()


class Allocator:
    def __init__(self, study_id: int, timeout: timedelta, clock: Clock = utcnow):
        if timeout <= timedelta(0):
            raise ValueError("the assignment timeout must be positive")
        self.study_id = study_id
        self.timeout = timeout
        self.clock = clock

    # ------------------------------------------------------------------ workers

    def worker(self, session: Session, external_id: str, source: str = "local") -> Worker:
        now = self.clock()
        worker = session.scalar(select(Worker).where(Worker.source == source, Worker.external_id == external_id))
        if worker is None:
            worker = Worker(external_id=external_id, source=source, created_at=now, last_seen_at=now)
            session.add(worker)
            session.flush()
        else:
            worker.last_seen_at = now
        return worker

    # ------------------------------------------------------------------ timeouts

    def release_expired(self, session: Session) -> int:
        """Release local assignments held past the timeout; return how many."""
        now = self.clock()
        cutoff = now - self.timeout
        hit_ids = select(Hit.id).where(Hit.study_id == self.study_id)
        result = session.execute(
            update(Assignment)
            .where(
                Assignment.status == ASSIGNED,
                Assignment.mode == "local",
                Assignment.accepted_at < cutoff,
                Assignment.hit_id.in_(hit_ids),
            )
            .values(status=RELEASED, released_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0

    def is_expired(self, assignment: Assignment) -> bool:
        return assignment.status == ASSIGNED and assignment.accepted_at < self.clock() - self.timeout

    # ------------------------------------------------------------------ local sessions

    def _taken(self):
        return (
            select(Assignment.hit_id, func.count(Assignment.id).label("n"))
            .where(Assignment.status.in_([ASSIGNED, SUBMITTED]))
            .group_by(Assignment.hit_id)
            .subquery()
        )

    def taken_slots(self, session: Session, hit: Hit) -> int:
        return session.scalar(
            select(func.count(Assignment.id)).where(
                Assignment.hit_id == hit.id, Assignment.status.in_([ASSIGNED, SUBMITTED])
            )
        ) or 0

    def current(self, session: Session, worker: Worker) -> Assignment | None:
        """The assignment this worker holds and has not submitted, if still within its time."""
        return session.scalar(
            select(Assignment)
            .join(Hit)
            .where(
                Hit.study_id == self.study_id,
                Assignment.worker_id == worker.id,
                Assignment.status == ASSIGNED,
                Assignment.mode == "local",
                Assignment.accepted_at >= self.clock() - self.timeout,
            )
            .order_by(Assignment.accepted_at)
            .limit(1)
        )

    def next_assignment(self, session: Session, worker: Worker) -> Assignment | None:
        """The worker's current assignment, or a new one on the next open HIT; None when done."""
        self.release_expired(session)
        held = self.current(session, worker)
        if held is not None:
            return held
        taken = self._taken()
        n_taken = func.coalesce(taken.c.n, 0)
        mine = exists().where(
            and_(
                Assignment.hit_id == Hit.id,
                Assignment.worker_id == worker.id,
                Assignment.status.in_([ASSIGNED, SUBMITTED]),
            )
        )
        query = (
            select(Hit)
            .outerjoin(taken, taken.c.hit_id == Hit.id)
            .where(Hit.study_id == self.study_id, n_taken < Hit.max_assignments, ~mine)
            .order_by(n_taken, Hit.position)
            .limit(1)
        )
        bind = session.get_bind()
        if bind.dialect.name != "sqlite":
            # SQLite serializes writers with BEGIN IMMEDIATE (study.db); elsewhere lock the row
            # and count again, so two workers cannot both take a HIT's last slot.
            query = query.with_for_update(of=Hit, skip_locked=True)
        hit = session.scalar(query)
        if hit is None:
            return None
        if bind.dialect.name != "sqlite" and self.taken_slots(session, hit) >= hit.max_assignments:
            return None
        return self._take(session, hit, worker, mode="local")

    def _take(self, session: Session, hit: Hit, worker: Worker, mode: str, platform_assignment_id: str | None = None) -> Assignment:
        now = self.clock()
        row = session.scalar(select(Assignment).where(Assignment.hit_id == hit.id, Assignment.worker_id == worker.id))
        if row is None:
            row = Assignment(
                public_id=new_public_id(),
                hit_id=hit.id,
                worker_id=worker.id,
                status=ASSIGNED,
                mode=mode,
                platform_assignment_id=platform_assignment_id,
                accepted_at=now,
            )
            session.add(row)
        else:
            # A released assignment of this worker on this HIT: pick it up again.
            row.status = ASSIGNED
            row.accepted_at = now
            row.released_at = None
            row.mode = mode
            if platform_assignment_id:
                row.platform_assignment_id = platform_assignment_id
        session.flush()
        return row

    # ------------------------------------------------------------------ crowd mode

    def platform_assignment(self, session: Session, hit: Hit, platform_assignment_id: str, platform_worker_id: str, source: str = "mturk") -> Assignment:
        """Record (or find) the platform's assignment of ``hit`` to a platform worker."""
        row = session.scalar(select(Assignment).where(Assignment.platform_assignment_id == platform_assignment_id))
        if row is not None:
            if row.hit_id != hit.id:
                raise AllocationError("this assignment id belongs to another HIT", status=400)
            return row
        worker = self.worker(session, platform_worker_id, source=source)
        existing = session.scalar(select(Assignment).where(Assignment.hit_id == hit.id, Assignment.worker_id == worker.id))
        if existing is not None and existing.status == SUBMITTED:
            raise AllocationError("you have already answered this HIT; please return it", status=409)
        return self._take(session, hit, worker, mode=source, platform_assignment_id=platform_assignment_id)

    # ------------------------------------------------------------------ submitting

    def submit(self, session: Session, assignment: Assignment, answers: Mapping[str, str], attention_passed: bool | None = None) -> bool:
        """Store the answers of ``assignment``; return False when it was already submitted.

        The caller commits. A released assignment is accepted only if its HIT still has a
        free slot, so a late worker never pushes a HIT over its assignment count.
        """
        if assignment.status == SUBMITTED:
            return False
        if assignment.status == RELEASED:
            hit = assignment.hit
            if self.taken_slots(session, hit) >= hit.max_assignments:
                raise AllocationError(
                    "your time for this HIT ran out and it was given to another worker; your answer was not stored",
                    status=409,
                )
        now = self.clock()
        for question_id, value in answers.items():
            session.add(Answer(assignment_id=assignment.id, question_id=question_id, value=value, created_at=now))
        assignment.status = SUBMITTED
        assignment.submitted_at = now
        assignment.released_at = None
        assignment.work_time_seconds = max(0.0, (now - assignment.accepted_at).total_seconds())
        assignment.attention_passed = attention_passed
        session.flush()
        return True
