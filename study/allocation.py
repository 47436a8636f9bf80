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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping, Protocol

from sqlalchemy import Integer, String, bindparam, case, exists, func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from study.models import ASSIGNED, RELEASED, SUBMITTED, Answer, Assignment, Hit, Worker, utcnow

Clock = Callable[[], datetime]
_TAKEN = (ASSIGNED, SUBMITTED)
LOCAL_MODE = "local"
_ANSWERS = Answer.__table__
_WORKERS = Worker.__table__
_ASSIGNMENTS = Assignment.__table__
_HITS = Hit.__table__


class AllocationError(Exception):
    """A request the allocator must refuse; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


class HasId(Protocol):
    """A HIT or worker as the allocator needs it: a row id (an ORM row or a cached copy)."""

    id: int


@dataclass(frozen=True)
class RowRef:
    """A row known by its id only."""

    id: int


@dataclass
class LocalAssignment:
    """A local worker's assignment read as plain columns (cheaper than an ORM row), for submitting.

    ``slots``: (cap, submitted, taken) of its HIT when read with it under SQLite's write lock;
    ``hit_lock``: (cap, taken) of its HIT when its row was locked by the same read (PostgreSQL).
    Both are dropped when the assignment changes."""

    id: int
    status: str
    worker_id: int
    hit_id: int
    mode: str
    accepted_at: datetime
    slots: tuple[int, int, int] | None = None
    hit_lock: tuple[int, int] | None = None


def new_public_id() -> str:
    return secrets.token_hex(10).upper()


def _submitted_and_taken(assignments, of_hit):
    """Scalar subqueries counting the submitted and the taken assignments (in ``assignments``, the
    table or an alias of it) of the HIT whose id is ``of_hit``."""
    c = assignments.c
    return (
        select(func.count(c.id)).where(c.hit_id == of_hit, c.status == SUBMITTED).scalar_subquery(),
        select(func.count(c.id)).where(c.hit_id == of_hit, c.status.in_(_TAKEN)).scalar_subquery(),
    )


def _of_study(assignments, study_id: int):
    """Whether the assignment (a row of ``assignments``: the table's or an alias's columns) is
    of the study: its HIT looked up by primary key, per row.

    A plan that stays cheap whatever the planner believes about the tables' sizes: PostgreSQL
    planned "hit_id IN (the study's HITs)" from statistics a young study's tables do not have
    yet, and rescanned every HIT of the study for each row.
    """
    hit = _HITS.alias("of_study")
    return select(hit.c.study_id).where(hit.c.id == assignments.hit_id).scalar_subquery() == study_id


class _Statements:
    """The allocator's queries, built once: a reused statement keeps its compiled form and
    cache key, so a request pays for executing SQL, not for building and hashing it. Only
    the rows handed back as objects are ORM queries; counts, ids and writes are plain SQL
    on the tables (no ORM loading machinery)."""

    def __init__(self, study_id: int):
        a, h, w = _ASSIGNMENTS.c, _HITS.c, _WORKERS.c
        worker_id, hit_id, source, external_id = (bindparam(n) for n in ("worker_id", "hit_id", "source", "external_id"))
        of_worker = select(w.id).where(w.source == source, w.external_id == external_id).scalar_subquery()

        self.worker_id = select(w.id).where(w.source == source, w.external_id == external_id)
        # Bound names unlike the columns': an UPDATE would read a column's name as a value to set.
        self.touch_worker_of = (
            update(_WORKERS)
            .where(w.source == bindparam("of_source"), w.external_id == bindparam("of_external_id"))
            .values(last_seen_at=bindparam("now"))
            .returning(w.id)
        )
        self.touch_worker = update(_WORKERS).where(w.id == worker_id).values(last_seen_at=bindparam("now"))
        # The same, with how many HITs of this study the worker has submitted: one statement.
        # Every column named by its table: SQLite renders the updated table's columns without
        # it, where "id" inside the subquery would mean the assignment's id.
        counted = _ASSIGNMENTS.alias("answered")
        answered_of_row = (
            select(func.count(counted.c.id))
            .where(counted.c.worker_id == literal_column("workers.id"), counted.c.status == SUBMITTED, _of_study(counted.c, study_id))
            .scalar_subquery()
        )
        self.touch_worker_of_answered = (
            update(_WORKERS)
            .where(w.source == bindparam("of_source"), w.external_id == bindparam("of_external_id"))
            .values(last_seen_at=bindparam("now"))
            .returning(w.id, answered_of_row)
        )
        self.assignment_id_of = select(a.id).where(a.hit_id == hit_id, a.worker_id == worker_id)
        # A local worker's assignment as plain columns (no ORM object), and on SQLite (the write
        # lock held) the HIT's cap and counted slots in the same statement.
        local_columns = (a.id, a.status, a.worker_id, a.hit_id, a.mode, a.accepted_at)
        self.local_assignment = select(*local_columns).where(a.hit_id == hit_id, a.worker_id == of_worker)
        # PostgreSQL: the worker's last-seen time moved in the same statement (an UPDATE in a CTE).
        touched = (
            update(_WORKERS)
            .where(w.source == bindparam("of_source"), w.external_id == bindparam("of_external_id"))
            .values(last_seen_at=bindparam("now"))
            .returning(w.id)
            .cte("touched")
        )
        # ... and the HIT's row locked by the same statement, which reads its cap and its count of
        # taken slots: that count is current even though the statement's snapshot predates the
        # lock, because every change to it updates the row and a locking read returns the row's
        # newest version.
        self.local_assignment_touching = (
            select(*local_columns, h.max_assignments, h.taken)
            .select_from(_ASSIGNMENTS.join(touched, touched.c.id == a.worker_id).join(_HITS, h.id == a.hit_id))
            .where(a.hit_id == hit_id)
            .with_for_update(of=_HITS)
        )
        mine_h = _HITS.alias("mine_h")
        self.local_assignment_and_slots = (
            select(*local_columns, mine_h.c.max_assignments, *_submitted_and_taken(_ASSIGNMENTS.alias("counted"), a.hit_id))
            .join(mine_h, mine_h.c.id == a.hit_id)
            .where(a.hit_id == hit_id, a.worker_id == of_worker)
        )
        self.answered_count = select(func.count(a.id)).where(a.worker_id == worker_id, a.status == SUBMITTED, _of_study(a, study_id))
        self.answered_count_of = select(func.count(a.id)).where(a.worker_id == of_worker, a.status == SUBMITTED, _of_study(a, study_id))
        # A worker's assignment on one HIT (its status) and how many HITs they have submitted.
        mine = _ASSIGNMENTS.alias("mine")
        self.page_state = select(
            a.status, select(func.count(mine.c.id)).where(mine.c.worker_id == a.worker_id, mine.c.status == SUBMITTED, _of_study(mine.c, study_id)).scalar_subquery()
        ).where(a.hit_id == hit_id, a.worker_id == of_worker)
        self.release = (
            update(_ASSIGNMENTS)
            .where(a.status == ASSIGNED, a.mode == "local", a.accepted_at < bindparam("cutoff"), _of_study(a, study_id))
            .values(status=RELEASED, released_at=bindparam("now"))
        )
        self.current = (
            select(*local_columns)
            .where(a.worker_id == worker_id, a.status == ASSIGNED, a.mode == "local", a.accepted_at >= bindparam("cutoff"), _of_study(a, study_id))
            .order_by(a.accepted_at)
            .limit(1)
        )
        taken = select(a.hit_id, func.count(a.id).label("n")).where(a.status.in_(_TAKEN)).group_by(a.hit_id).subquery()
        n_taken = func.coalesce(taken.c.n, 0)
        # The HITs this worker holds or has answered, read once per search (not once per HIT).
        held = h.id.in_(select(a.hit_id).where(a.worker_id == worker_id, a.status.in_(_TAKEN)))
        self.open_hit = (
            select(h.id, h.max_assignments)
            .outerjoin(taken, taken.c.hit_id == h.id)
            .where(h.study_id == study_id, n_taken < h.max_assignments, ~held, h.id.not_in(bindparam("lost", expanding=True)))
            .order_by(n_taken, h.position)
            .limit(1)
        )
        # SQLite and PostgreSQL: the HIT's count of taken slots kept by the database's triggers
        # (hits.taken, study/migrations/versions/0004_hit_slot_counter.py): the search reads
        # one row per HIT instead of counting every HIT's assignments, so its cost no longer
        # grows with the assignments given out. Other databases count (open_hit above).
        open_hit_kept = (
            select(h.id, h.max_assignments)
            .where(h.study_id == study_id, h.taken < h.max_assignments, ~held, h.id.not_in(bindparam("lost", expanding=True)))
            .order_by(h.taken, h.position)
            .limit(1)
        )
        # Per dialect: the search skipping locked HITs, then the one waiting for a lock
        # (SQLite renders no FOR UPDATE and needs no second search: its write lock is held).
        self.open_hit_kept = open_hit_kept
        self.open_hit_search = {
            "sqlite": (open_hit_kept, None),
            "postgresql": (open_hit_kept.with_for_update(of=_HITS, skip_locked=True), open_hit_kept.with_for_update(of=_HITS)),
        }
        self.open_hit_search_other = (self.open_hit.with_for_update(of=_HITS, skip_locked=True), self.open_hit.with_for_update(of=_HITS))
        # SQLite renders no FOR UPDATE: it already holds the database's write lock (BEGIN IMMEDIATE).
        self.lock_hit = select(h.max_assignments).where(h.id == hit_id).with_for_update()
        # On SQLite (the write lock held) the cap and the counts in one statement.
        self.cap_and_slots = select(h.max_assignments, *_submitted_and_taken(_ASSIGNMENTS, h.id)).where(h.id == hit_id)
        self.slots = select(func.coalesce(func.sum(case((a.status == SUBMITTED, 1), else_=0)), 0), func.count(a.id)).where(
            a.hit_id == hit_id, a.status.in_(_TAKEN)
        )
        # A local worker claims a slot of the HIT found (and on PostgreSQL locked) by open_hit in
        # one statement: the slots are counted again (the statement's snapshot is taken after
        # the lock was granted), and a released assignment of this worker on the HIT is
        # picked up again instead of inserted. No row back: the last slot went meanwhile.
        taken_now = select(func.count(a.id)).where(a.hit_id == bindparam("hit_id"), a.status.in_(_TAKEN)).scalar_subquery()
        # Nor while the worker holds another HIT within its time (their other tab): the search
        # runs before looking for what they hold, which is then one statement less per HIT.
        other = _ASSIGNMENTS.alias("held_now")
        holds_one = exists().where(
            other.c.worker_id == bindparam("worker_id", type_=Integer), other.c.status == ASSIGNED, other.c.mode == LOCAL_MODE,
            other.c.accepted_at >= bindparam("cutoff", type_=a.accepted_at.type), _of_study(other.c, study_id),
        )
        claim_values = select(
            bindparam("public_id", type_=String),
            bindparam("hit_id", type_=Integer),
            bindparam("worker_id", type_=Integer),
            literal_column(f"'{ASSIGNED}'"),
            literal_column(f"'{LOCAL_MODE}'"),
            bindparam("accepted_at", type_=a.accepted_at.type),
        ).where(taken_now < bindparam("cap", type_=Integer), ~holds_one)
        claim_columns = ["public_id", "hit_id", "worker_id", "status", "mode", "accepted_at"]
        self.claim, self.add_worker = {}, {}
        for dialect, insert_of in (("postgresql", pg_insert), ("sqlite", sqlite_insert)):
            self.add_worker[dialect] = insert_of(_WORKERS).on_conflict_do_nothing(index_elements=["source", "external_id"])
            stmt = insert_of(_ASSIGNMENTS).from_select(claim_columns, claim_values)
            self.claim[dialect] = stmt.on_conflict_do_update(
                index_elements=["hit_id", "worker_id"],
                set_={"status": ASSIGNED, "accepted_at": stmt.excluded.accepted_at, "released_at": None, "mode": LOCAL_MODE},
                where=a.status == RELEASED,
            ).returning(a.id, a.public_id)
        self.by_platform_id = select(Assignment).where(Assignment.platform_assignment_id == bindparam("platform_assignment_id"))
        self.answered_by_platform_worker = select(a.id).where(a.hit_id == hit_id, a.worker_id == of_worker, a.status == SUBMITTED)
        self.add_answers = insert(_ANSWERS)
        self.add_assignment = insert(_ASSIGNMENTS)
        # The columns to set come with the parameters (a submit sets five, a re-take four).
        self.set_assignment = update(_ASSIGNMENTS).where(a.id == bindparam("assignment_id"))


class Allocator:
    """The allocation rules, on a session of the study's database; the caller commits.

    ``release_interval``: expired assignments are released at most this often (by the
    allocator's clock), not on every request; a slot freed by the timeout reaches the next
    worker that much later at most.
    """

    def __init__(self, study_id: int, timeout: timedelta, clock: Clock = utcnow, release_interval: timedelta = timedelta(seconds=1)):
        if timeout <= timedelta(0):
            raise ValueError("the assignment timeout must be positive")
        self.study_id = study_id
        self.timeout = timeout
        self.clock = clock
        self.release_interval = release_interval
        self._released_at: datetime | None = None
        self._sql = _Statements(study_id)

    @property
    def claim_dialects(self) -> frozenset[str]:
        """The databases where a local worker claims a slot in one statement (no ORM rows)."""
        return frozenset(self._sql.claim)

    # ------------------------------------------------------------------ workers

    def worker_id(self, session: Session, external_id: str, source: str = "local") -> int:
        """The worker's row id, the row made on first sight; its last-seen time moves to now.

        Made with INSERT ... ON CONFLICT DO NOTHING: one worker opening two pages at the
        same instant must not make the second request fail on the unique constraint.
        """
        now = self.clock()
        key = {"source": source, "external_id": external_id}
        if session.get_bind().dialect.update_returning:
            found = session.scalar(self._sql.touch_worker_of, {"of_source": source, "of_external_id": external_id, "now": now})
        else:
            found = session.scalar(self._sql.worker_id, key)
            if found is not None:
                self.touch(session, found)
        if found is None:
            values = {"external_id": external_id, "source": source, "created_at": now, "last_seen_at": now}
            add = self._sql.add_worker.get(session.get_bind().dialect.name)
            if add is None:
                session.add(Worker(**values))
                session.flush()
            else:
                session.execute(add, values)
            found = session.scalar(self._sql.worker_id, key)
        return found

    def worker_and_answered(self, session: Session, external_id: str, source: str = "local") -> tuple[int, int]:
        """:meth:`worker_id` and :meth:`answered_count` in one statement where the database can."""
        if session.get_bind().dialect.update_returning:
            row = session.execute(self._sql.touch_worker_of_answered, {"of_source": source, "of_external_id": external_id, "now": self.clock()}).first()
            if row is not None:
                return row[0], int(row[1] or 0)
        worker_id = self.worker_id(session, external_id, source)
        return worker_id, self.answered_count(session, worker_id)

    def worker(self, session: Session, external_id: str, source: str = "local") -> Worker:
        """:meth:`worker_id` as the ORM row."""
        return session.get(Worker, self.worker_id(session, external_id, source), populate_existing=True)

    def touch(self, session: Session, worker_id: int) -> None:
        """Move a worker's last-seen time to now (one UPDATE, no unit of work)."""
        session.execute(self._sql.touch_worker, {"worker_id": worker_id, "now": self.clock()})

    def assignment_of(self, session: Session, hit: HasId, worker: HasId) -> Assignment | None:
        found = session.scalar(self._sql.assignment_id_of, {"hit_id": hit.id, "worker_id": worker.id})
        return None if found is None else session.get(Assignment, found)

    def local_assignment(self, session: Session, hit: HasId, external_id: str, source: str = "local") -> LocalAssignment | None:
        """The worker's assignment of ``hit`` as plain columns; on SQLite with the HIT's slots
        (counted under the write lock, which every write transaction there holds)."""
        params = {"hit_id": hit.id, "source": source, "external_id": external_id}
        if session.get_bind().dialect.name == "sqlite":
            row = session.execute(self._sql.local_assignment_and_slots, params).first()
            return None if row is None else LocalAssignment(*row[:6], slots=(int(row[6]), int(row[7]), int(row[8])))
        row = session.execute(self._sql.local_assignment, params).first()
        return None if row is None else LocalAssignment(*row)

    def local_assignment_touching(self, session: Session, hit: HasId, external_id: str, source: str = "local") -> tuple[LocalAssignment | None, bool]:
        """:meth:`local_assignment`, and whether the worker's last-seen time was moved with it
        (PostgreSQL, one statement that also locks the HIT's row for :meth:`submit`);
        otherwise the caller calls :meth:`touch` when it writes."""
        if session.get_bind().dialect.name != "postgresql":
            return self.local_assignment(session, hit, external_id, source), False
        params = {"hit_id": hit.id, "of_source": source, "of_external_id": external_id, "now": self.clock()}
        row = session.execute(self._sql.local_assignment_touching, params).first()
        return (None if row is None else LocalAssignment(*row[:6], hit_lock=(int(row[6]), int(row[7])))), True

    def page_state(self, session: Session, hit: HasId, external_id: str, source: str = "local") -> tuple[str | None, int]:
        """The status of the worker's assignment on ``hit`` (None: none) and how many HITs they have submitted."""
        row = session.execute(self._sql.page_state, {"hit_id": hit.id, "source": source, "external_id": external_id}).first()
        return (None, 0) if row is None else (row[0], int(row[1] or 0))

    def answered_count(self, session: Session, worker_id: int) -> int:
        """How many HITs of this study the worker (by row id) has submitted."""
        return session.scalar(self._sql.answered_count, {"worker_id": worker_id}) or 0

    def answered_count_of(self, session: Session, external_id: str, source: str = "local") -> int:
        """:meth:`answered_count` by the worker's id, without making a worker row (read-only)."""
        return session.scalar(self._sql.answered_count_of, {"source": source, "external_id": external_id}) or 0

    # ------------------------------------------------------------------ timeouts

    def release_expired(self, session: Session) -> int:
        """Release local assignments held past the timeout; return how many."""
        now = self.clock()
        result = session.execute(self._sql.release, {"cutoff": now - self.timeout, "now": now})
        self._released_at = now
        return result.rowcount or 0

    def _release_due(self, session: Session) -> None:
        now = self.clock()
        if self._released_at is None or not (self._released_at <= now < self._released_at + self.release_interval):
            self.release_expired(session)

    # ------------------------------------------------------------------ local sessions

    def _slots(self, session: Session, hit: HasId) -> tuple[int, int]:
        submitted, taken = session.execute(self._sql.slots, {"hit_id": hit.id}).one()
        return int(submitted), int(taken)

    def taken_slots(self, session: Session, hit: HasId) -> int:
        """Slots held by a submitted assignment or one still within its time."""
        return self._slots(session, hit)[1]

    def current(self, session: Session, worker: HasId) -> LocalAssignment | None:
        """The assignment this worker holds and has not submitted, if still within its time."""
        row = session.execute(self._sql.current, {"worker_id": worker.id, "cutoff": self.clock() - self.timeout}).first()
        return None if row is None else LocalAssignment(*row)

    def next_assignment(self, session: Session, worker: HasId) -> LocalAssignment | Assignment | None:
        """The worker's current assignment, or a new one on the next open HIT; None when done.

        None means no HIT has a slot this worker may take, on every backend. SQLite
        serializes writers (BEGIN IMMEDIATE, see study.db), so the first HIT found is free.
        Elsewhere the HIT row is locked and its slots counted again, because another worker
        may have taken the last slot between the search and the lock; then the next HIT is
        tried instead of giving up.
        """
        self._release_due(session)
        dialect = session.get_bind().dialect.name
        claim = self._sql.claim.get(dialect)
        skipping, waiting = self._sql.open_hit_search.get(dialect, self._sql.open_hit_search_other)
        if claim is None:
            held = self.current(session, worker)
            if held is not None:
                return held
        lost: list[int] = []
        while True:
            # First a HIT nobody is locking right now (no waiting behind other workers); only
            # when all open HITs are locked wait for one, so "done" is never a lock artefact.
            # (SQLite renders no FOR UPDATE: the first query is the only one there.)
            params = {"worker_id": worker.id, "lost": lost}
            hit = session.execute(skipping, params).first()
            if hit is None and waiting is not None:
                hit = session.execute(waiting, params).first()
            if hit is None:
                # The search skips the HITs the worker holds: one may still be theirs.
                return self.current(session, worker) if claim is not None else None
            if claim is None:
                if self.taken_slots(session, hit) < hit.max_assignments:
                    return self._take(session, hit, worker, mode="local")
            else:
                row = self._claim(session, claim, hit, worker)
                if row is not None:
                    return row
                # Nothing claimed: the worker holds a HIT (a reload, or their other tab took
                # one meanwhile), then that one is theirs; or the slots went.
                held = self.current(session, worker)
                if held is not None:
                    return held
            lost.append(hit.id)

    def _claim(self, session: Session, claim, hit, worker: HasId) -> LocalAssignment | None:
        """A local slot of ``hit`` for the worker in one statement, or None when none is left."""
        now = self.clock()
        values = {"public_id": new_public_id(), "hit_id": hit.id, "worker_id": worker.id, "accepted_at": now, "cap": hit.max_assignments, "cutoff": now - self.timeout}
        got = session.execute(claim, values).first()
        if got is None:
            return None
        # A new row, or a released one of this worker picked up again: either way the
        # statement set these columns.
        return LocalAssignment(got.id, ASSIGNED, worker.id, hit.id, LOCAL_MODE, now)

    def _take(self, session: Session, hit: HasId, worker: HasId, mode: str, platform_assignment_id: str | None = None) -> Assignment:
        now = self.clock()
        row = self.assignment_of(session, hit, worker)
        if row is not None:
            # A released assignment of this worker on this HIT: pick it up again.
            changes = {"status": ASSIGNED, "accepted_at": now, "released_at": None, "mode": mode}
            if platform_assignment_id:
                changes["platform_assignment_id"] = platform_assignment_id
            self._update(session, row, changes)
            return row
        values = {
            "public_id": new_public_id(),
            "hit_id": hit.id,
            "worker_id": worker.id,
            "status": ASSIGNED,
            "mode": mode,
            "platform_assignment_id": platform_assignment_id,
            "accepted_at": now,
        }
        # A plain INSERT, then the row joins the session as loaded: the ORM's unit of work
        # costs more than the statement itself.
        new_id = session.execute(self._sql.add_assignment, values).inserted_primary_key[0]
        row = Assignment(id=new_id, **values)
        make_transient_to_detached(row)
        session.add(row)
        return row

    def _update(self, session: Session, assignment: Assignment | LocalAssignment, changes: dict) -> None:
        """One UPDATE of the assignment's row; the loaded object shows the new values."""
        session.execute(self._sql.set_assignment, {"assignment_id": assignment.id, **changes})
        orm = isinstance(assignment, Assignment)
        for key, value in changes.items():
            if orm:
                set_committed_value(assignment, key, value)
            elif hasattr(assignment, key):
                setattr(assignment, key, value)
        if not orm:
            assignment.slots = assignment.hit_lock = None  # counted before this change

    # ------------------------------------------------------------------ crowd mode

    def _platform_row(self, session: Session, hit: HasId, platform_assignment_id: str, platform_worker_id: str, source: str) -> tuple[Assignment | None, str]:
        """The assignment recorded under the platform's id, and why it does not fit (or "")."""
        row = session.scalar(self._sql.by_platform_id, {"platform_assignment_id": platform_assignment_id})
        if row is None:
            return None, ""
        if row.hit_id != hit.id:
            return row, "this assignment id belongs to another HIT"
        if row.worker.external_id != platform_worker_id or row.worker.source != source:
            return row, "this assignment id belongs to another worker"
        return row, ""

    def crowd_refusal(self, session: Session, hit: Hit, platform_assignment_id: str, platform_worker_id: str, source: str = "mturk") -> str | None:
        """Why a crowd page cannot be answered, or None; reads only (page views create nothing)."""
        row, mismatch = self._platform_row(session, hit, platform_assignment_id, platform_worker_id, source)
        if row is not None:
            return mismatch or None
        answered = session.scalar(self._sql.answered_by_platform_worker, {"hit_id": hit.id, "source": source, "external_id": platform_worker_id})
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
        row, mismatch = self._platform_row(session, hit, platform_assignment_id, platform_worker_id, source)
        if mismatch:
            raise AllocationError(mismatch, status=400)
        if row is not None:
            return row
        worker = self.worker(session, platform_worker_id, source=source)
        existing = self.assignment_of(session, hit, worker)
        if existing is not None and existing.status == SUBMITTED:
            raise AllocationError("you have already answered this HIT; please return it", status=409)
        row = self._take(session, hit, worker, mode=source, platform_assignment_id=platform_assignment_id)
        if accepted_at is not None and accepted_at <= self.clock():
            # The page was opened (the HIT accepted) before this first write.
            self._update(session, row, {"accepted_at": accepted_at})
        return row

    # ------------------------------------------------------------------ submitting

    def submitted_count(self, session: Session, hit: HasId) -> int:
        return self._slots(session, hit)[0]

    def _slots_under_lock(self, session: Session, assignment: Assignment | LocalAssignment) -> tuple[int, int, int]:
        """The cap of the assignment's HIT and its submitted and taken slots, under the HIT's lock.

        On SQLite the write lock is held; elsewhere the HIT's row is locked here, unless the
        read of the assignment locked it (``hit_lock``). Then, for an assignment that holds its
        slot, the kept count of taken slots suffices while it is within the cap: this
        assignment is one of them, so fewer than the cap are submitted (the number given
        back for submitted is that bound, taken - 1).
        """
        params = {"hit_id": assignment.hit_id}
        slots = getattr(assignment, "slots", None)
        if slots is not None:
            return slots  # read with the assignment in this transaction, under SQLite's write lock
        hit_lock = getattr(assignment, "hit_lock", None)
        if hit_lock is not None:
            cap, taken = hit_lock
            if assignment.status == ASSIGNED and taken <= cap:
                return cap, taken - 1, taken
        elif session.get_bind().dialect.name == "sqlite":
            return tuple(session.execute(self._sql.cap_and_slots, params).one())
        else:
            # The row lock first, then the counts: a statement that started before the lock
            # was granted would count with a snapshot taken before the last holder committed.
            cap = session.scalar(self._sql.lock_hit, params)
        submitted, taken = session.execute(self._sql.slots, params).one()
        return cap, submitted, taken

    def submit(self, session: Session, assignment: Assignment | LocalAssignment, answers: Mapping[str, str], attention_passed: bool | None = None) -> bool:
        """Store the answers of ``assignment``; return False when it was already submitted.

        The caller commits. No HIT ever stores more answer sets than its assignment count,
        whatever the mode: a late local worker whose slot went to someone else, or a crowd
        assignment beyond what was asked for, is refused. The HIT's row is locked (on
        SQLite the write lock is already held) and its cap read under that lock.
        """
        if assignment.status == SUBMITTED:
            return False
        cap, submitted, taken = self._slots_under_lock(session, assignment)
        if submitted >= cap:
            raise AllocationError(
                "this HIT already has all the answers it needs; your answer was not stored" + ("" if assignment.mode == "local" else " (please return the HIT)"),
                status=409,
            )
        if assignment.status == RELEASED and taken >= cap:
            raise AllocationError(
                "your time for this HIT ran out and it was given to another worker; your answer was not stored",
                status=409,
            )
        now = self.clock()
        if answers:
            # One executemany (psycopg sends the rows in one pipeline; SQLAlchemy cannot cache a
            # multi-VALUES INSERT); the unique (assignment, question) constraint still refuses a double submit.
            session.execute(self._sql.add_answers, [{"assignment_id": assignment.id, "question_id": q, "value": v, "created_at": now} for q, v in answers.items()])
            if isinstance(assignment, Assignment):
                session.expire(assignment, ["answers"])
        work_time = max(0.0, (now - assignment.accepted_at).total_seconds())
        self._update(session, assignment, {"status": SUBMITTED, "submitted_at": now, "released_at": None, "work_time_seconds": work_time, "attention_passed": attention_passed})
        return True
