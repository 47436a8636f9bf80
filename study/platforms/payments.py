"""Bonuses: recorded with a unique token before they are sent, so none is ever paid twice."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from analysis_core.artifacts.errors import BarlowError
from study.models import (
    APPROVED,
    SUBMITTED,
    Assignment,
    Bonus,
    Hit,
    Study,
    Worker,
    utcnow,
)
from study.platforms import money
from study.platforms.reviewing import platform_rows
from study.platforms.service import PlatformStudy
from study.verification import confirmed


@dataclass
class BonusReport:
    paid: list[tuple[str, Decimal]] = field(default_factory=list)
    resent: int = 0
    skipped: list[str] = field(default_factory=list)


def _bonus_assignment(session, ps: PlatformStudy, worker: Worker, platform_name: str) -> Assignment | None:
    return session.scalar(
        select(Assignment)
        .join(Hit)
        .where(Hit.study_id == ps.db.study_id, Assignment.worker_id == worker.id, Assignment.mode == platform_name, Assignment.status == SUBMITTED, Assignment.platform_assignment_id.is_not(None), confirmed())
        .order_by(Assignment.submitted_at.desc())
        .limit(1)
    )


def _pay(ps: PlatformStudy, platform, bonus_id: int) -> Decimal:
    """Send one recorded bonus with its token and mark it paid (safe to call again)."""
    with ps.db.sessions() as session:
        b = session.get(Bonus, bonus_id)
        worker = platform.remote_worker(b.worker.external_id)
        assignment = session.get(Assignment, b.assignment_id) if b.assignment_id else None
        remote_assignment = assignment.platform_assignment_id if assignment else ""
        amount, reason, token, remote_id = money.from_cents(b.amount_cents), b.reason, b.token, b.remote_id
        extra = {"study_id": session.get(Study, ps.db.study_id).platform_study_id} if platform.name == "prolific" else {}
    remote = platform.bonus(worker, remote_assignment, amount, reason, token, remote_id=remote_id, record=lambda rid: _bonus_remote(ps, bonus_id, rid), **extra)
    with ps.db.sessions.begin() as session:
        b = session.get(Bonus, bonus_id)
        b.paid_at = utcnow()
        b.remote_id = remote or b.remote_id
        if b.assignment_id:
            row = session.get(Assignment, b.assignment_id)
            row.bonus_cents = (row.bonus_cents or 0) + b.amount_cents
    return amount


def _bonus_remote(ps: PlatformStudy, bonus_id: int, remote_id: str) -> None:
    with ps.db.sessions.begin() as session:
        session.get(Bonus, bonus_id).remote_id = remote_id


def resend_pending(ps: PlatformStudy, platform, report: BonusReport) -> None:
    with ps.db.sessions() as session:
        ids = session.scalars(select(Bonus.id).where(Bonus.study_id == ps.db.study_id, Bonus.paid_at.is_(None)).order_by(Bonus.id)).all()
    for bonus_id in ids:
        _pay(ps, platform, bonus_id)
        report.resent += 1


def _new_bonus(ps: PlatformStudy, worker: Worker, assignment: Assignment | None, cents: int, reason: str, kind: str) -> int:
    with ps.db.sessions.begin() as session:
        b = Bonus(study_id=ps.db.study_id, worker_id=worker.id, assignment_id=assignment.id if assignment else None, amount_cents=cents, reason=reason, kind=kind, token=f"barlow-bonus-{secrets.token_hex(16)}")
        session.add(b)
        session.flush()
        return b.id


def bonus(ps: PlatformStudy, platform, worker_id: str, amount: Decimal, reason: str, again: bool = False) -> BonusReport:
    """Pay one worker a bonus once; a rerun after a failure resends the same token."""
    if amount <= 0 or amount != amount.quantize(money.CENT):
        raise BarlowError(f"--amount must be a positive amount in dollars and cents, got {amount}")
    if not reason.strip():
        raise BarlowError("--reason is required: the worker sees it")
    report = BonusReport()
    cents = money.to_cents(amount)
    with ps.db.sessions() as session:
        source, external = platform.worker_key(worker_id)
        worker = session.scalar(select(Worker).where(Worker.source == source, Worker.external_id == external))
        if worker is None:
            raise BarlowError(f"worker {worker_id!r} has no {platform.name} assignment in study {ps.spec.name!r}; run 'barlow study collect' first")
        same = session.scalars(select(Bonus).where(Bonus.study_id == ps.db.study_id, Bonus.worker_id == worker.id, Bonus.amount_cents == cents, Bonus.reason == reason)).all()
        assignment = _bonus_assignment(session, ps, worker, platform.name)
    if any(b.paid_at is None for b in same):
        # The same bonus was started before and not confirmed: finish it with its token.
        resend_pending(ps, platform, report)
        return report
    paid = [b for b in same if b.paid_at is not None]
    if paid and not again:
        raise BarlowError(f"worker {worker_id} was already paid a ${amount} bonus for {reason!r} on {paid[-1].paid_at:%Y-%m-%d %H:%M} UTC; pass --again to pay another")
    if assignment is None and platform.name == "mturk":
        raise BarlowError(f"worker {worker_id} has no submitted MTurk assignment in this study to attach the bonus to")
    resend_pending(ps, platform, report)
    bonus_id = _new_bonus(ps, worker, assignment, cents, reason, "manual")
    report.paid.append((worker_id, _pay(ps, platform, bonus_id)))
    return report


def top_up_to_wage(ps: PlatformStudy, platform, reason: str = "") -> BonusReport:
    """Bonus each worker the difference between their approved pay and the target hourly wage."""
    report = BonusReport()
    resend_pending(ps, platform, report)
    wage = ps.crowd.target_hourly_wage
    reward = money.dollars(ps.spec.settings.reward)
    reason = reason or f"Top-up so that your work on this study pays ${wage} per hour."
    with ps.db.sessions() as session:
        rows = [r for r in platform_rows(session, ps, platform.name) if r.platform_review == APPROVED]
        by_worker: dict[int, list[Assignment]] = {}
        for r in rows:
            by_worker.setdefault(r.worker_id, []).append(r)
        plan = []
        for worker_id, items in by_worker.items():
            seconds = sum(r.work_time_seconds or 0.0 for r in items)
            already = sum(session.scalars(select(Bonus.amount_cents).where(Bonus.study_id == ps.db.study_id, Bonus.worker_id == worker_id, Bonus.kind == "wage")).all())
            top = money.wage_top_up(reward * len(items) + money.from_cents(already), seconds, wage)
            worker = items[0].worker
            if top >= money.CENT:
                latest = max(items, key=lambda r: r.submitted_at)
                plan.append((worker, latest, money.to_cents(top)))
            else:
                report.skipped.append(platform.remote_worker(worker.external_id))
    for worker, assignment, cents in plan:
        bonus_id = _new_bonus(ps, worker, assignment, cents, reason, "wage")
        report.paid.append((platform.remote_worker(worker.external_id), _pay(ps, platform, bonus_id)))
    return report
