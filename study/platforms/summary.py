"""What a study on a crowd platform stands at, from the database alone (for status and the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from study.models import APPROVED, REJECTED, SUBMITTED, Assignment, Bonus, Hit, Study, Worker
from study.platforms import money
from study.platforms.prolific import PARTICIPANT_PREFIX
from study.platforms.settings import crowd_settings
from study.study_file import StudySpec
from study.verification import UNCONFIRMED


@dataclass
class PlatformSummary:
    platform: str | None
    sandbox: bool | None
    platform_study_id: str | None
    hits_total: int
    hits_published: int
    submitted: int
    approved_remote: int
    rejected_remote: int
    pending_review: int
    failed_checks_pending: int
    bonuses_paid: Decimal
    bonuses_pending: int
    cost_so_far: Decimal
    median_seconds: float | None
    hourly_pay: Decimal | None
    target_wage: Decimal
    reward: Decimal
    # Crowd answers stored in closed crowd mode that the platform has not listed yet.
    unconfirmed: int = 0
    currency: str = money.MTURK_CURRENCY
    # Bonuses sent whose outcome is unknown: (worker, amount, payment id).
    bonuses_unknown: list[tuple[str, Decimal, str | None]] | None = None

    @property
    def below_target(self) -> bool:
        return self.hourly_pay is not None and self.hourly_pay < self.target_wage

    def money(self, value: Decimal | None) -> str:
        return "-" if value is None else money.fmt(value, self.currency)

    def lines(self) -> list[str]:
        where = "local sessions only (not published)" if not self.platform else f"{self.platform}{' sandbox' if self.sandbox else ''}"
        out = [f"platform:        {where}" + (f" (remote study {self.platform_study_id})" if self.platform_study_id else "")]
        out.append(f"HITs published:  {self.hits_published} of {self.hits_total}")
        out.append(f"submitted:       {self.submitted} assignments ({self.approved_remote} approved, {self.rejected_remote} rejected on the platform)")
        out.append(f"pending review:  {self.pending_review}" + (f" ({self.failed_checks_pending} failed an attention check)" if self.failed_checks_pending else ""))
        out.append(f"bonuses paid:    {self.money(self.bonuses_paid)}" + (f" ({self.bonuses_pending} not yet confirmed; rerun 'study bonus')" if self.bonuses_pending else ""))
        for worker, value, payment in self.bonuses_unknown or []:
            out.append(f"  UNKNOWN: {self.money(value)} to {worker} (payment {payment}) was sent and never confirmed; check it on the platform "
                       f"(Prolific pays bonuses within minutes of the call), then 'barlow study bonus STUDY --confirm-unpaid {payment}' pays it only if it was not paid")
        out.append(f"cost so far:     {self.money(self.cost_so_far)} (approved rewards, bonuses and platform fees)")
        if self.median_seconds is None:
            out.append(f"time per HIT:    not measured yet; reward {self.money(self.reward)} per HIT")
        else:
            out.append(f"time per HIT:    median {self.median_seconds / 60:.1f} min -> {self.money(self.hourly_pay)}/hour at {self.money(self.reward)} per HIT (target {self.money(self.target_wage)}/hour)")
            if self.below_target:
                out.append(f"WARNING: effective pay {self.money(self.hourly_pay)}/hour is below the target {self.money(self.target_wage)}/hour; 'barlow study bonus STUDY --top-up-to-wage' pays the difference")
        return out


def platform_summary(session: Session, study_id: int, spec: StudySpec) -> PlatformSummary:
    study = session.get(Study, study_id)
    crowd = crowd_settings(spec.crowd)
    reward = money.amount(spec.settings.reward)
    hits_total = session.scalar(select(func.count(Hit.id)).where(Hit.study_id == study_id)) or 0
    hits_published = session.scalar(select(func.count(Hit.id)).where(Hit.study_id == study_id, Hit.platform_hit_id.is_not(None))) or 0
    if study and study.platform == "prolific" and study.platform_study_id:
        hits_published = hits_total  # one Prolific study carries every HIT
    rows = session.execute(
        select(Assignment.status, Assignment.platform_status, Assignment.platform_review, Assignment.attention_passed, Assignment.work_time_seconds, Assignment.mode, Assignment.review, Assignment.platform_assignment_id)
        .join(Hit)
        .where(Hit.study_id == study_id)
    ).all()
    platform = study.platform if study else None
    on_platform = [r for r in rows if platform and r.mode == platform]
    submitted = [r for r in on_platform if r.status == SUBMITTED]
    pending = [r for r in submitted if r.platform_review is None and r.platform_status in (None, "Submitted")]
    approved = sum(r.platform_review == APPROVED or r.platform_status == "Approved" for r in submitted)
    rejected = sum(r.platform_review == REJECTED or r.platform_status == "Rejected" for r in submitted)
    bonus_rows = session.execute(
        select(Bonus.amount_cents, Bonus.paid_at, Bonus.pay_sent_at, Bonus.remote_id, Worker.external_id).join(Worker, Bonus.worker_id == Worker.id).where(Bonus.study_id == study_id)
    ).all()
    paid_cents = sum(b.amount_cents for b in bonus_rows if b.paid_at is not None)
    bonuses_paid = money.from_cents(paid_cents)
    timed = submitted if submitted else [r for r in rows if r.status == SUBMITTED]
    median = money.median_seconds(r.work_time_seconds for r in timed)
    # What the platform pays for: one reward per assignment (MTurk), one per submission,
    # however many HITs it holds, at the study's reward per participant (Prolific).
    if platform == "prolific":
        approved_units = len({(r.platform_assignment_id or "").split("/", 1)[0] for r in submitted if r.platform_review == APPROVED or r.platform_status == "Approved"})
        unit_reward = money.unit_reward(reward, False, crowd.prolific.hits_per_participant, hits_total)
    else:
        approved_units, unit_reward = approved, reward
    reward_fee = money.reward_fee(platform, unit_reward, spec.settings.assignments_per_hit)
    bonus_fee = (bonuses_paid * money.bonus_fee_rate(platform)).quantize(money.CENT) if paid_cents else Decimal("0.00")
    cost = (unit_reward + reward_fee) * approved_units + bonuses_paid + bonus_fee
    # Prolific's pay is not idempotent: a payment sent and never confirmed may have been
    # made (MTurk's are resent with their token and are merely pending).
    unknown = [
        (b.external_id.removeprefix(PARTICIPANT_PREFIX), money.from_cents(b.amount_cents), b.remote_id)
        for b in bonus_rows if platform == "prolific" and b.paid_at is None and b.pay_sent_at is not None
    ]
    return PlatformSummary(
        platform=platform,
        sandbox=study.platform_sandbox if study else None,
        platform_study_id=study.platform_study_id if study else None,
        hits_total=hits_total,
        hits_published=hits_published,
        submitted=len(submitted),
        approved_remote=approved,
        rejected_remote=rejected,
        pending_review=len(pending),
        failed_checks_pending=sum(r.attention_passed is False for r in pending),
        bonuses_paid=bonuses_paid,
        bonuses_pending=sum(b.paid_at is None for b in bonus_rows) - len(unknown),
        cost_so_far=cost.quantize(money.CENT),
        median_seconds=median,
        hourly_pay=money.hourly_pay(reward, median),
        target_wage=crowd.target_hourly_wage,
        reward=reward,
        unconfirmed=sum(r.platform_status == UNCONFIRMED for r in submitted),
        # A Prolific study published before currencies were stored shows "?" until the next collect reads it.
        currency=(study.platform_currency if study else None) or ("?" if platform == "prolific" else money.MTURK_CURRENCY),
        bonuses_unknown=unknown,
    )
