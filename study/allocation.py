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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
        """The worker row, made on first sight.

        Made with INSERT ... ON CONFLICT DO NOTHING: one worker opening two pages at the
        same instant must not make the second request fail on the unique constraint.
        """
        now = self.clock()
        worker = session.scalar(select(Worker).where(Worker.source == source, Worker.external_id == external_id))
        if worker is None:
            dialect = session.get_bind().dialect.name
            insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}.get(dialect)
            values = {"external_id": external_id, "source": source, "created_at": now, "last_seen_at": now}
            if insert is None:
                session.add(Worker(**values))
                session.flush()
            else:
                stmt = insert(Worker).values(**values).on_conflict_do_nothing(index_elements=["source", "external_id"])
                session.execute(stmt)
            worker = session.scalar(select(Worker).where(Worker.source == source, Worker.external_id == external_id))
        else:
            worker.last_seen_at = now
        return worker

    def find_worker(self, session: Session, external_id: str, source: str = "local") -> Worker | None:
        return session.scalar(select(Worker).where(Worker.source == source, Worker.external_id == external_id))

    def hit(self, session: Session, hit_key: str) -> Hit | None:
        return session.scalar(select(Hit).where(Hit.study_id == self.study_id, Hit.key == hit_key))

    def assignment_of(self, session: Session, hit: Hit, worker: Worker) -> Assignment | None:
        return session.scalar(select(Assignment).where(Assignment.hit_id == hit.id, Assignment.worker_id == worker.id))

    def answered_count(self, session: Session, worker: Worker) -> int:
        """How many HITs of this study the worker has submitted."""
        return session.scalar(
            select(func.count(Assignment.id))
            .join(Hit)
            .where(Hit.study_id == self.study_id, Assignment.worker_id == worker.id, Assignment.status == SUBMITTED)
        ) or 0

    def answered_count_of(self, session: Session, external_id: str, source: str = "local") -> int:
        """:meth:`answered_count` by the worker's id, without making a worker row (read-only)."""
        return session.scalar(
            select(func.count(Assignment.id))
            .join(Hit)
            .join(Worker)
            .where(Hit.study_id == self.study_id, Worker.source == source, Worker.external_id == external_id, Assignment.status == SUBMITTED)
        ) or 0

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

    def _open_hit_query(self, worker: Worker, exclude: set[int]):
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
        if exclude:
            query = query.where(Hit.id.not_in(exclude))
        return query

    def next_assignment(self, session: Session, worker: Worker) -> Assignment | None:
        """The worker's current assignment, or a new one on the next open HIT; None when done.

        None means no HIT has a slot this worker may take, on every backend. SQLite
        serializes writers (BEGIN IMMEDIATE, see study.db), so the first HIT found is free.
        Elsewhere the HIT row is locked and its slots counted again, because another worker
        may have taken the last slot between the search and the lock; then the next HIT is
        tried instead of giving up.
        """
        self.release_expired(session)
        held = self.current(session, worker)
        if held is not None:
            return held
        if session.get_bind().dialect.name == "sqlite":
            hit = session.scalar(self._open_hit_query(worker, set()))
            return None if hit is None else self._take(session, hit, worker, mode="local")
        lost: set[int] = set()
        while True:
            # First a HIT nobody is locking right now (no waiting behind other workers); only
            # when all open HITs are locked wait for one, so "done" is never a lock artefact.
            hit = session.scalar(self._open_hit_query(worker, lost).with_for_update(of=Hit, skip_locked=True))
            if hit is None:
                hit = session.scalar(self._open_hit_query(worker, lost).with_for_update(of=Hit))
            if hit is None:
                return None
            if self.taken_slots(session, hit) < hit.max_assignments:
                return self._take(session, hit, worker, mode="local")
            lost.add(hit.id)

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

    def crowd_refusal(self, session: Session, hit: Hit, platform_assignment_id: str, platform_worker_id: str, source: str = "mturk") -> str | None:
        """Why a crowd page cannot be answered, or None; reads only (page views create nothing)."""
        row = session.scalar(select(Assignment).where(Assignment.platform_assignment_id == platform_assignment_id))
        if row is not None:
            if row.hit_id != hit.id:
                return "this assignment id belongs to another HIT"
            if row.worker.external_id != platform_worker_id or row.worker.source != source:
                return "this assignment id belongs to another worker"
            return None
        answered = session.scalar(
            select(Assignment.id)
            .join(Worker)
            .where(
                Assignment.hit_id == hit.id,
                Worker.source == source,
                Worker.external_id == platform_worker_id,
                Assignment.status == SUBMITTED,
            )
        )
        if answered is not None:
            return "you have already answered this HIT; please return it"
        if self.submitted_count(session, hit) >= hit.max_assignments:
            return "this HIT already has all the answers it needs; please return it"
        return None

    def platform_assignment(
        self,
        session: Session,
        hit: Hit,
        platform_assignment_id: str,
        platform_worker_id: str,
        source: str = "mturk",
        accepted_at: datetime | None = None,
    ) -> Assignment:
        """Record (or find) the platform's assignment of ``hit`` to a platform worker."""
        row = session.scalar(select(Assignment).where(Assignment.platform_assignment_id == platform_assignment_id))
        if row is not None:
            if row.hit_id != hit.id:
                raise AllocationError("this assignment id belongs to another HIT", status=400)
            if row.worker.external_id != platform_worker_id or row.worker.source != source:
                raise AllocationError("this assignment id belongs to another worker", status=400)
            return row
        worker = self.worker(session, platform_worker_id, source=source)
        existing = session.scalar(select(Assignment).where(Assignment.hit_id == hit.id, Assignment.worker_id == worker.id))
        if existing is not None and existing.status == SUBMITTED:
            raise AllocationError("you have already answered this HIT; please return it", status=409)
        row = self._take(session, hit, worker, mode=source, platform_assignment_id=platform_assignment_id)
        if accepted_at is not None and accepted_at <= self.clock():
            # The page was opened (the HIT accepted) before this first write.
            row.accepted_at = accepted_at
        return row

    # ------------------------------------------------------------------ submitting

    def submitted_count(self, session: Session, hit: Hit) -> int:
        return session.scalar(select(func.count(Assignment.id)).where(Assignment.hit_id == hit.id, Assignment.status == SUBMITTED)) or 0

    def _lock_hit(self, session: Session, hit: Hit) -> None:
        # SQLite already holds the database's write lock (BEGIN IMMEDIATE).
        if session.get_bind().dialect.name != "sqlite":
            session.execute(select(Hit.id).where(Hit.id == hit.id).with_for_update())

    def submit(self, session: Session, assignment: Assignment, answers: Mapping[str, str], attention_passed: bool | None = None) -> bool:
        """Store the answers of ``assignment``; return False when it was already submitted.

        The caller commits. No HIT ever stores more answer sets than its assignment count,
        whatever the mode: a late local worker whose slot went to someone else, or a crowd
        assignment beyond what was asked for, is refused.
        """
        if assignment.status == SUBMITTED:
            return False
        hit = assignment.hit
        self._lock_hit(session, hit)
        if self.submitted_count(session, hit) >= hit.max_assignments:
            raise AllocationError(
                "this HIT already has all the answers it needs; your answer was not stored" + ("" if assignment.mode == "local" else " (please return the HIT)"),
                status=409,
            )
        if assignment.status == RELEASED and self.taken_slots(session, hit) >= hit.max_assignments:
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
