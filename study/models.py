"""Database tables of a study: studies, HITs, workers, assignments and answers.

An assignment is one worker's turn at one HIT (the MTurk meaning). Its status moves
``assigned`` -> ``submitted`` (or ``released`` when abandoned past the timeout; the worker
may pick it up again later). Review marks (approved / rejected) are kept apart from the
status so a review never hides whether the work was submitted.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

ASSIGNED = "assigned"
SUBMITTED = "submitted"
RELEASED = "released"
APPROVED = "approved"
REJECTED = "rejected"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where the study is published (``mturk`` / ``prolific``; None while only served locally)
    # and the platform's id for the whole study (MTurk HIT type, Prolific study).
    platform: Mapped[str | None] = mapped_column(String(32), nullable=True)
    platform_sandbox: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    platform_study_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The currency of the platform account the study is paid from (USD, GBP), and the
    # name Barlow gives the remote study before creating it (so a rerun finds that draft
    # instead of creating a second one).
    platform_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    platform_internal_name: Mapped[str | None] = mapped_column(String(255), nullable=True)

    hits: Mapped[list[Hit]] = relationship(back_populates="study", order_by="Hit.position")


class Hit(Base):
    __tablename__ = "hits"
    __table_args__ = (UniqueConstraint("study_id", "key", name="uq_hit_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    grouping: Mapped[str] = mapped_column(String(32))
    class_name: Mapped[str] = mapped_column(String(500))
    feature: Mapped[int] = mapped_column(Integer)
    is_attention_check: Mapped[bool] = mapped_column(Boolean, default=False)
    check_id: Mapped[str] = mapped_column(String(64), default="")
    images: Mapped[dict] = mapped_column(JSON, default=dict)
    max_assignments: Mapped[int] = mapped_column(Integer)
    # Slots held: assignments assigned or submitted (not released). Kept by the database's
    # triggers on SQLite and PostgreSQL (study/migrations/versions/0004_hit_slot_counter.py);
    # Barlow's code only reads it.
    taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The id a crowd platform gave this HIT once published (filled by a platform adapter).
    platform_hit_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    platform: Mapped[str | None] = mapped_column(String(32), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    study: Mapped[Study] = relationship(back_populates="hits")
    assignments: Mapped[list[Assignment]] = relationship(back_populates="hit")


class Worker(Base):
    __tablename__ = "workers"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_worker_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The id the worker typed (local) or the platform's worker id; shown to admins only.
    external_id: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32), default="local")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assignments: Mapped[list[Assignment]] = relationship(back_populates="worker")


class Assignment(Base):
    __tablename__ = "assignments"
    # One row per (HIT, worker): the database itself refuses a worker answering a HIT twice.
    # A worker's assignments by status: what they hold, how many they have answered.
    __table_args__ = (UniqueConstraint("hit_id", "worker_id", name="uq_assignment_hit_worker"), Index("ix_assignments_worker_status", "worker_id", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    status: Mapped[str] = mapped_column(String(16), default=ASSIGNED, index=True)
    mode: Mapped[str] = mapped_column(String(16), default="local")
    # The platform's assignment id in crowd mode (MTurk assignmentId).
    platform_assignment_id: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    work_time_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    attention_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    review: Mapped[str | None] = mapped_column(String(16), nullable=True)
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The review decision the crowd platform has received (so a rerun never sends it twice),
    # the platform's own status of the assignment, and the bonus paid on it (hundredths
    # of the study's currency).
    platform_review: Mapped[str | None] = mapped_column(String(16), nullable=True)
    platform_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    bonus_cents: Mapped[int] = mapped_column(Integer, default=0)

    hit: Mapped[Hit] = relationship(back_populates="assignments")
    worker: Mapped[Worker] = relationship(back_populates="assignments")
    answers: Mapped[list[Answer]] = relationship(back_populates="assignment", order_by="Answer.id")


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("assignment_id", "question_id", name="uq_answer_question"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    question_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assignment: Mapped[Assignment] = relationship(back_populates="answers")


class Bonus(Base):
    """One bonus payment, recorded before any call: intent, set-up, pay sent, paid.

    ``token`` is the platform's idempotency key where it has one (MTurk); ``remote_id``
    Prolific's bulk bonus payment. ``pay_sent_at`` is written before the pay call and
    ``paid_at`` after its answer: a row with the first and not the second has an unknown
    outcome, and a platform whose pay call is not idempotent is never asked again
    without the user's explicit confirmation.
    """

    __tablename__ = "bonuses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), nullable=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="manual")
    # The platform's id of the payment where it has one (Prolific's bulk bonus payment).
    remote_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pay_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    worker: Mapped[Worker] = relationship()
