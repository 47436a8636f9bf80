"""Reviewing on the platform: one decision per unit the platform pays (an MTurk assignment, a Prolific submission).

A Prolific submission holds every HIT a participant answered: it is approved only when
every one of them passed, rejected when any was marked rejected, and never approved
after a rejection (or the other way round). Every rejection is checked against the
platform's rules (Prolific: a category and a message of at least 100 characters)
before any call is made, so a bad one is listed instead of stopping the run midway.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from analysis_core.artifacts.errors import BarlowError
from study.models import APPROVED, REJECTED, SUBMITTED, Assignment, Hit, utcnow
from study.platforms.service import PlatformStudy
from study.verification import UNCONFIRMED, confirmed


@dataclass
class ReviewReport:
    approved: int = 0
    rejected: int = 0
    failed_checks: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    # Rejections marked in the dashboard that the platform would refuse as they stand.
    needs_reason: list[str] = field(default_factory=list)


def platform_rows(session, ps: PlatformStudy, platform_name: str):
    return session.scalars(
        select(Assignment)
        .join(Hit)
        .where(Hit.study_id == ps.db.study_id, Assignment.mode == platform_name, Assignment.status == SUBMITTED, Assignment.platform_assignment_id.is_not(None), confirmed())
        .order_by(Assignment.id)
    ).all()


def _label(row: Assignment) -> str:
    return f"{row.public_id} (assignment {row.platform_assignment_id}, worker {row.worker.external_id}, HIT {row.hit.key})"


def _decide(ps: PlatformStudy, row_ids: list[int], decision: str, note: str | None = None) -> None:
    """Write the platform's decision on every row of one unit."""
    with ps.db.sessions.begin() as session:
        now = utcnow()
        for row in (session.get(Assignment, i) for i in row_ids):
            row.platform_review = decision
            row.platform_status = "Approved" if decision == APPROVED else "Rejected"
            if decision == APPROVED:
                row.review = row.review or APPROVED
            else:
                row.review = REJECTED
                if note is not None:
                    row.review_note = note
            row.reviewed_at = row.reviewed_at or now


def approve_all_passing(ps: PlatformStudy, platform, feedback: str = "", category: str | None = None) -> ReviewReport:
    """Approve every unit not yet decided whose work all passed; send the dashboard's rejections.

    Failed attention checks and answers that did not validate are left for a person: the
    report lists them (Prolific asks requesters to have such participants return the
    submission rather than reject it); one doubtful HIT holds its whole unit back.
    """
    report = ReviewReport()
    plan: list[tuple[str, str, list[int], str]] = []
    with ps.db.sessions() as session:
        units: dict[str, list[Assignment]] = {}
        for r in platform_rows(session, ps, platform.name):
            units.setdefault(platform.review_unit(r.platform_assignment_id), []).append(r)
        for unit, rows in units.items():
            if any(r.platform_review is not None or r.platform_status not in (None, "Submitted") for r in rows):
                continue  # decided already (here or on the platform)
            ids = [r.id for r in rows]
            marked = [r for r in rows if r.review == REJECTED]
            if marked:
                message = max((r.review_note or "" for r in marked), key=len)
                try:
                    platform.check_rejection(message, category)
                except BarlowError as exc:
                    report.needs_reason.append(f"{_label(marked[0])}: {exc}; reject it with 'barlow study review --reject {unit} --reason ... --category ...'")
                    continue
                plan.append(("reject", unit, ids, message))
            elif any(r.attention_passed is False for r in rows):
                report.failed_checks += [_label(r) for r in rows if r.attention_passed is False]
            elif any(not r.answers for r in rows):
                report.invalid += [f"{_label(r)}: {r.review_note[:120] or 'no answers stored'}" for r in rows if not r.answers]
            else:
                plan.append(("approve", unit, ids, feedback))
    for action, unit, ids, text in plan:
        if action == "reject":
            platform.reject(unit, text, category)
            _decide(ps, ids, REJECTED)
            report.rejected += 1
        else:
            platform.approve(unit, text)
            _decide(ps, ids, APPROVED)
            report.approved += 1
    return report


def find_unit(session, ps: PlatformStudy, platform, ident: str) -> list[Assignment]:
    """Every row of the unit ``ident`` names: a dashboard id, the platform's assignment id or its submission id."""
    rows = session.scalars(
        select(Assignment).join(Hit).where(
            Hit.study_id == ps.db.study_id,
            or_(Assignment.public_id == ident, Assignment.platform_assignment_id == ident, Assignment.platform_assignment_id.startswith(ident + "/", autoescape=True)),
        )
    ).all()
    if not rows:
        raise BarlowError(f"no assignment or submission {ident!r} in study {ps.spec.name!r} (give the platform's assignment or submission id, or the dashboard's id)")
    if any(r.mode != platform.name or not r.platform_assignment_id for r in rows):
        raise BarlowError(f"{ident} was not done on {platform.name}")
    unit = platform.review_unit(rows[0].platform_assignment_id)
    return [r for r in platform_rows(session, ps, platform.name) if platform.review_unit(r.platform_assignment_id) == unit] or rows


def reject(ps: PlatformStudy, platform, ident: str, reason: str, category: str | None = None) -> tuple[str, int]:
    """Reject the unit ``ident`` belongs to; returns (unit, how many HITs it held)."""
    platform.check_rejection(reason, category)
    with ps.db.sessions() as session:
        rows = find_unit(session, ps, platform, ident)
        unit = platform.review_unit(rows[0].platform_assignment_id)
        decided = [r for r in rows if r.platform_review is not None]
        if decided:
            raise BarlowError(f"{unit} was already {decided[0].platform_review} on {platform.name}; a decision cannot be changed there")
        if any(r.platform_status == UNCONFIRMED for r in rows):
            raise BarlowError(f"{ident} is not confirmed by {platform.name} (it never listed it); run 'barlow study collect' first")
        ids = [r.id for r in rows]
    platform.reject(unit, reason, category)
    _decide(ps, ids, REJECTED, note=reason)
    return unit, len(ids)
