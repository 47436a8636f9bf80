"""Bonuses, paid once: the intent is recorded before any call, and an unknown outcome waits for the user.

The money rules:
1. A bonus is written to the database (participant, amount, reason) before the platform
   hears of it; its payment id (Prolific's bulk bonus payment) is written the moment the
   platform gives it; ``pay_sent_at`` is written before the pay call, ``paid_at`` after it.
2. A call the platform does not document as idempotent is never repeated automatically
   (Prolific's pay: "Sending multiple requests with the same bulk bonus payment ID will
   result in participants being paid multiple times").
3. A payment whose answer was lost (a dropped connection, a 5xx, a killed process) has an
   unknown outcome: Barlow does not pay it again by itself. It says so, names the payment
   id and how to check it, and pays again only with ``--confirm-unpaid PAYMENT_ID``, taken
   only once the platform's payments have had time to land (Prolific pays asynchronously).
4. A payment the platform refused outright (a 4xx answer) was not made: its record is removed
   and the error is shown. MTurk's SendBonus is idempotent by its token, so an MTurk
   bonus left unconfirmed is resent with the same token.
5. Two runs at once (two terminals) pay each bonus once: new bonuses are planned and
   recorded in one transaction holding the study's row, and a run sends a payment only
   after marking it sent in a transaction holding the bonus's row, if no other run has.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
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
from study.platforms.base import CostRefused, OutcomeUnknown, PlatformError
from study.platforms.reviewing import platform_rows
from study.platforms.service import PlatformStudy, study_money
from study.verification import confirmed


@dataclass
class UnknownPayment:
    """A payment that was sent and never confirmed: it may have been paid."""

    worker: str
    amount: Decimal
    payment_id: str | None
    check: str
    note: str = ""  # what else is known (e.g. a refused second call)


@dataclass
class BonusReport:
    currency: str = money.MTURK_CURRENCY
    paid: list[tuple[str, Decimal]] = field(default_factory=list)
    resent: int = 0
    skipped: list[str] = field(default_factory=list)
    unknown: list[UnknownPayment] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Bonuses another run (a second terminal) was paying at the same time, left to it.
    elsewhere: int = 0
    # Reasons the payment call cannot carry and whose message could not be sent.
    unsent_reasons: list[str] = field(default_factory=list)

    def money(self, value: Decimal) -> str:
        return money.fmt(value, self.currency)


class PaidElsewhere(Exception):
    """Another run (a second terminal) has taken this bonus further: this run leaves it alone."""


class PaymentUnknown(BarlowError):
    def __init__(self, payment: UnknownPayment):
        super().__init__(f"the payment to {payment.worker} (payment {payment.payment_id}) got no answer")
        self.payment = payment


def _bonus_assignment(session, ps: PlatformStudy, worker: Worker, platform_name: str) -> Assignment | None:
    return session.scalar(
        select(Assignment)
        .join(Hit)
        .where(Hit.study_id == ps.db.study_id, Assignment.worker_id == worker.id, Assignment.mode == platform_name, Assignment.status == SUBMITTED, Assignment.platform_assignment_id.is_not(None), confirmed())
        .order_by(Assignment.submitted_at.desc())
        .limit(1)
    )


def _locked_bonus(session, bonus_id: int) -> Bonus | None:
    # SQLite's write transactions are serialized (BEGIN IMMEDIATE); other backends lock the row.
    return session.scalar(select(Bonus).where(Bonus.id == bonus_id).with_for_update())


def _record_setup(ps: PlatformStudy, bonus_id: int, payment_id: str | None) -> str | None:
    """Keep the first set-up another run may have recorded for this bonus; ours is then never paid."""
    with ps.db.sessions.begin() as session:
        b = _locked_bonus(session, bonus_id)
        if b is None or b.paid_at is not None or b.pay_sent_at is not None:
            raise PaidElsewhere(bonus_id)
        if b.remote_id is None:
            b.remote_id = payment_id
        return b.remote_id


def _claim(ps: PlatformStudy, bonus_id: int, payment_id: str | None, seen_sent) -> None:
    """Mark the payment sent, unless another run has sent it since ``seen_sent``: one run pays it."""
    with ps.db.sessions.begin() as session:
        b = _locked_bonus(session, bonus_id)
        if b is None or b.paid_at is not None or b.remote_id != payment_id or b.pay_sent_at != seen_sent:
            raise PaidElsewhere(bonus_id)
        b.pay_sent_at = utcnow()


def _drop(ps: PlatformStudy, bonus_id: int, unsent_setup: bool = False) -> None:
    """Forget a bonus the platform refused (a set-up refusal only while no other run went further)."""
    with ps.db.sessions.begin() as session:
        b = _locked_bonus(session, bonus_id)
        if b is not None and not (unsent_setup and (b.remote_id is not None or b.pay_sent_at is not None)):
            session.delete(b)


def _unknown(platform, worker: str, amount: Decimal, payment_id: str | None) -> UnknownPayment:
    return UnknownPayment(worker, amount, payment_id, platform.payment_check(worker, payment_id))


def _pay(ps: PlatformStudy, platform, bonus_id: int, report: BonusReport, seen_sent=None) -> Decimal:
    """Take one recorded bonus through set-up, pay-sent and paid; each step is written before the next.

    ``seen_sent``: the pay-sent mark of a payment the user confirmed unpaid (None for one never sent).
    """
    remote_study, _ = study_money(ps)
    with ps.db.sessions() as session:
        b = session.get(Bonus, bonus_id)
        if b is None or b.paid_at is not None:
            raise PaidElsewhere(bonus_id)
        worker = platform.remote_worker(b.worker.external_id)
        assignment = session.get(Assignment, b.assignment_id) if b.assignment_id else None
        remote_assignment = assignment.platform_assignment_id if assignment else ""
        amount, reason, token, payment_id = money.from_cents(b.amount_cents), b.reason, b.token, b.remote_id
    shown = report.money(amount)
    if payment_id is None and seen_sent is None:
        try:
            payment_id = platform.prepare_bonus(worker, amount, remote_study)
        except OutcomeUnknown as exc:
            # A set-up pays nothing: the next run sets up afresh (an orphan set-up is never paid).
            raise PlatformError(f"{exc}; nothing was paid to {worker}; run the command again") from None
        except PlatformError as exc:
            _drop(ps, bonus_id, unsent_setup=True)
            raise PlatformError(f"{exc}; the bonus of {shown} to {worker} was not paid and is no longer recorded") from None
        if payment_id is not None:
            payment_id = _record_setup(ps, bonus_id, payment_id)
    if platform.idempotent_payments:
        _update(ps, bonus_id, pay_sent_at=utcnow())  # resending with the same token pays once
    else:
        _claim(ps, bonus_id, payment_id, seen_sent)
    try:
        platform.pay_bonus(worker, remote_assignment, amount, reason, token, payment_id)
    except OutcomeUnknown:
        raise PaymentUnknown(_unknown(platform, worker, amount, payment_id)) from None
    except PlatformError as exc:
        if platform.idempotent_payments:
            raise  # resent with the same token next time
        if seen_sent is not None:
            # A second call for a payment whose first call may have paid: its refusal proves nothing.
            unknown = _unknown(platform, worker, amount, payment_id)
            unknown.note = f"{platform.name} refused paying it again ({exc}), which does not show that the first call paid nothing"
            raise PaymentUnknown(unknown) from None
        _drop(ps, bonus_id)
        raise PlatformError(f"{exc}; the bonus of {shown} to {worker} was not paid and is no longer recorded") from None
    with ps.db.sessions.begin() as session:
        b = session.get(Bonus, bonus_id)
        b.paid_at = utcnow()
        if b.assignment_id:
            row = session.get(Assignment, b.assignment_id)
            row.bonus_cents = (row.bonus_cents or 0) + b.amount_cents
    try:
        platform.tell_worker(worker, remote_study, reason)
    except PlatformError as exc:
        report.unsent_reasons.append(f"{worker}: {exc}")
    return amount


def _update(ps: PlatformStudy, bonus_id: int, **values) -> None:
    with ps.db.sessions.begin() as session:
        b = session.get(Bonus, bonus_id)
        for key, value in values.items():
            setattr(b, key, value)


def _try_pay(ps: PlatformStudy, platform, bonus_id: int, report: BonusReport, seen_sent=None) -> Decimal | None:
    """The amount paid, or None for a payment whose outcome is unknown or that another run took (listed in the report)."""
    try:
        return _pay(ps, platform, bonus_id, report, seen_sent)
    except PaymentUnknown as exc:
        report.unknown.append(exc.payment)
    except PaidElsewhere:
        report.elsewhere += 1
    return None


def settle_pending(ps: PlatformStudy, platform, report: BonusReport, confirm_unpaid: str | None = None) -> None:
    """Finish bonuses an earlier run left unpaid where that cannot pay twice; list the unknown ones."""
    with ps.db.sessions() as session:
        rows = session.scalars(select(Bonus).where(Bonus.study_id == ps.db.study_id, Bonus.paid_at.is_(None)).order_by(Bonus.id)).all()
        pending = [(b.id, b.remote_id, b.pay_sent_at, platform.remote_worker(b.worker.external_id), money.from_cents(b.amount_cents)) for b in rows]
    if confirm_unpaid:
        sent_at = [sent for _, remote, sent, _, _ in pending if remote == confirm_unpaid and sent]
        if not sent_at:
            raise BarlowError(f"--confirm-unpaid {confirm_unpaid}: no payment with that id is waiting in study {ps.spec.name!r} (see 'barlow study status')")
        ready = sent_at[0] + timedelta(seconds=platform.payment_settle_seconds)
        if utcnow() < ready:
            raise BarlowError(
                f"--confirm-unpaid {confirm_unpaid}: that payment was sent at {sent_at[0]:%H:%M} UTC and {platform.name} may still be making it; "
                f"check again after {ready:%H:%M} UTC and confirm only then; nothing was paid"
            )
    for bonus_id, remote, sent, worker, amount in pending:
        seen_sent = None
        if sent and not platform.idempotent_payments:
            if remote != confirm_unpaid:
                report.unknown.append(_unknown(platform, worker, amount, remote))
                continue
            seen_sent = sent  # the user checked: not paid; sent again unless another run did since
        if _try_pay(ps, platform, bonus_id, report, seen_sent) is not None:
            report.resent += 1


def check_funds(platform, cents: int, currency: str) -> None:
    """Refuse before any call when the account cannot pay ``cents`` plus the platform's fee."""
    need = money.from_cents(cents)
    need += (need * money.bonus_fee_rate(platform.name)).quantize(money.CENT)
    balance = platform.balance()
    if balance is not None and balance < need:
        raise CostRefused(f"these bonuses cost {money.fmt(need, currency)} with the platform's fee but the account holds {money.fmt(balance, currency)}; add funds first; nothing was paid")


def _lock_study(session, ps: PlatformStudy) -> None:
    """Hold the study's row until the transaction ends, so two runs never plan the same bonuses.

    SQLite serializes write transactions (BEGIN IMMEDIATE); other backends lock the row.
    """
    session.execute(select(Study.id).where(Study.id == ps.db.study_id).with_for_update())


def _add_bonus(session, ps: PlatformStudy, worker_id: int, assignment_id: int | None, cents: int, reason: str, kind: str) -> int:
    b = Bonus(study_id=ps.db.study_id, worker_id=worker_id, assignment_id=assignment_id, amount_cents=cents, reason=reason, kind=kind, token=f"barlow-bonus-{secrets.token_hex(16)}")
    session.add(b)
    session.flush()
    return b.id


def _same_bonuses(session, ps: PlatformStudy, worker: Worker, cents: int, reason: str) -> list:
    """When each bonus of this amount and reason to this worker was paid (None: not yet)."""
    return session.scalars(select(Bonus.paid_at).where(Bonus.study_id == ps.db.study_id, Bonus.worker_id == worker.id, Bonus.amount_cents == cents, Bonus.reason == reason)).all()


def paying_currency(ps: PlatformStudy, platform) -> str:
    """The study's currency, refused unless the account about to pay pays in it too."""
    _, currency = study_money(ps)
    account = platform.currency()
    if account != currency:
        raise BarlowError(
            f"study {ps.spec.name!r} was published in {currency} but the {platform.name} account Barlow reaches now pays in {account}; "
            f"use the account (Prolific: crowd.prolific.workspace or PROLIFIC_WORKSPACE_ID) that published it; nothing was paid"
        )
    return currency


def settle(ps: PlatformStudy, platform, confirm_unpaid: str | None = None) -> BonusReport:
    """Only finish (or list) what earlier runs left unpaid."""
    report = BonusReport(currency=paying_currency(ps, platform))
    settle_pending(ps, platform, report, confirm_unpaid)
    return report


def bonus(ps: PlatformStudy, platform, worker_id: str, amount: Decimal, reason: str, again: bool = False, confirm_unpaid: str | None = None) -> BonusReport:
    """Pay one worker a bonus once, in the study's currency."""
    _, currency = study_money(ps)
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(money.CENT):
        raise BarlowError(f"--amount must be a positive amount in {currency} with at most two decimals, got {amount}")
    if not reason.strip():
        raise BarlowError("--reason is required: the worker sees it")
    report = BonusReport(currency=paying_currency(ps, platform))
    cents = money.to_cents(amount)
    with ps.db.sessions() as session:
        source, external = platform.worker_key(worker_id)
        worker = session.scalar(select(Worker).where(Worker.source == source, Worker.external_id == external))
        if worker is None:
            raise BarlowError(f"worker {worker_id!r} has no {platform.name} assignment in study {ps.spec.name!r}; run 'barlow study collect' first")
        same = _same_bonuses(session, ps, worker, cents, reason)
        assignment = _bonus_assignment(session, ps, worker, platform.name)
    if assignment is None and platform.bonus_needs_assignment:
        raise BarlowError(f"worker {worker_id} has no submitted {platform.name} assignment in this study to attach the bonus to")
    settle_pending(ps, platform, report, confirm_unpaid)
    if confirm_unpaid or any(paid is None for paid in same):
        return report  # the same bonus is waiting (listed as unknown) or was just finished
    paid = [p for p in same if p is not None]
    if paid and not again:
        raise BarlowError(f"worker {worker_id} was already paid a {report.money(amount)} bonus for {reason!r} on {paid[-1]:%Y-%m-%d %H:%M} UTC; pass --again to pay another")
    check_funds(platform, cents, currency)
    with ps.db.sessions.begin() as session:
        _lock_study(session, ps)
        if len(_same_bonuses(session, ps, worker, cents, reason)) > len(same):
            report.elsewhere += 1  # another run recorded this bonus meanwhile: it pays it
            return report
        bonus_id = _add_bonus(session, ps, worker.id, assignment.id if assignment else None, cents, reason, "manual")
    paid_now = _try_pay(ps, platform, bonus_id, report)
    if paid_now is not None:
        report.paid.append((worker_id, paid_now))
    return report


def _wage_plan(session, ps: PlatformStudy, platform, wage: Decimal) -> tuple[list[tuple[int, str, int, int]], list[str]]:
    """([(worker row id, worker, assignment row id, cents)], workers already at the wage).

    Every wage bonus recorded counts as paid whatever its state, so a top-up whose
    payment has an unknown outcome is never topped up a second time.
    """
    reward = money.unit_reward(money.amount(ps.spec.settings.reward), platform.per_hit, ps.crowd.prolific.hits_per_participant, len(ps.hits))
    by_worker: dict[int, list[Assignment]] = {}
    for r in platform_rows(session, ps, platform.name):
        if r.platform_review == APPROVED:
            by_worker.setdefault(r.worker_id, []).append(r)
    plan, skipped = [], []
    for worker_id, items in by_worker.items():
        seconds = sum(r.work_time_seconds or 0.0 for r in items)
        already = sum(session.scalars(select(Bonus.amount_cents).where(Bonus.study_id == ps.db.study_id, Bonus.worker_id == worker_id, Bonus.kind == "wage")).all())
        units = {platform.review_unit(r.platform_assignment_id) for r in items}
        top = money.wage_top_up(reward * len(units) + money.from_cents(already), seconds, wage)
        name = platform.remote_worker(items[0].worker.external_id)
        if top >= money.CENT:
            plan.append((worker_id, name, max(items, key=lambda r: r.submitted_at).id, money.to_cents(top)))
        else:
            skipped.append(name)
    return plan, skipped


def top_up_to_wage(ps: PlatformStudy, platform, reason: str = "", confirm_unpaid: str | None = None) -> BonusReport:
    """Bonus each worker the difference between their approved pay and the target hourly wage.

    The whole plan is recorded in one transaction that holds the study's row before any
    of it is paid, so a second run at the same time sees it (and pays none of it twice).
    """
    currency = paying_currency(ps, platform)
    report = BonusReport(currency=currency)
    settle_pending(ps, platform, report, confirm_unpaid)
    wage = ps.crowd.target_hourly_wage
    reason = reason or f"Top-up so that your work on this study pays {money.fmt(wage, currency)} per hour."
    with ps.db.sessions() as session:
        plan, _ = _wage_plan(session, ps, platform, wage)
    if plan:
        check_funds(platform, sum(cents for *_, cents in plan), currency)
    with ps.db.sessions.begin() as session:
        _lock_study(session, ps)
        plan, report.skipped = _wage_plan(session, ps, platform, wage)
        recorded = [(name, _add_bonus(session, ps, worker_id, assignment_id, cents, reason, "wage")) for worker_id, name, assignment_id, cents in plan]
    for name, bonus_id in recorded:
        try:
            paid_now = _try_pay(ps, platform, bonus_id, report)
        except PlatformError as exc:
            report.failed.append(str(exc))
            continue
        if paid_now is not None:
            report.paid.append((name, paid_now))
    return report
