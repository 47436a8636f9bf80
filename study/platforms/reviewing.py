"""Reviewing on the platform: approve what passed, send rejections, leave doubtful work to a person."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

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


def platform_rows(session, ps: PlatformStudy, platform_name: str):
    return session.scalars(
        select(Assignment)
        .join(Hit)
        .where(Hit.study_id == ps.db.study_id, Assignment.mode == platform_name, Assignment.status == SUBMITTED, Assignment.platform_assignment_id.is_not(None), confirmed())
        .order_by(Assignment.id)
    ).all()


def approve_all_passing(ps: PlatformStudy, platform, feedback: str = "") -> ReviewReport:
    """Approve every submitted assignment not yet decided that passed its checks; send dashboard rejections.

    Failed attention checks and answers that did not validate are left for a person: the
    report lists them (Prolific asks requesters to have such participants return the
    submission rather than reject it). Where the platform pays per submission (Prolific),
    one doubtful HIT holds its whole submission back.
    """
    report = ReviewReport()
    unit = getattr(platform, "unit", lambda assignment_id: assignment_id)
    with ps.db.sessions() as session:
        rows = [r for r in platform_rows(session, ps, platform.name) if r.platform_review is None and r.platform_status in (None, "Submitted")]
        ids = [r.id for r in rows]
        held = {unit(r.platform_assignment_id) for r in rows if r.attention_passed is False or not r.answers}
    for row_id in ids:
        with ps.db.sessions.begin() as session:
            row = session.get(Assignment, row_id)
            label = f"{row.public_id} (assignment {row.platform_assignment_id}, worker {row.worker.external_id}, HIT {row.hit.key})"
            if row.review == REJECTED:
                platform.reject(row.platform_assignment_id, row.review_note or "Rejected after review.")
                row.platform_review, row.platform_status = REJECTED, "Rejected"
                report.rejected += 1
            elif row.attention_passed is False:
                report.failed_checks.append(label)
            elif not row.answers:
                report.invalid.append(f"{label}: {row.review_note[:120] or 'no answers stored'}")
            elif unit(row.platform_assignment_id) in held:
                continue  # its submission is held back by the HIT listed above
            else:
                platform.approve(row.platform_assignment_id, feedback)
                row.platform_review, row.platform_status = APPROVED, "Approved"
                row.review = APPROVED
                row.reviewed_at = utcnow()
                report.approved += 1
    return report


def find_assignment(session, ps: PlatformStudy, ident: str) -> Assignment:
    row = session.scalar(
        select(Assignment).join(Hit).where(Hit.study_id == ps.db.study_id, (Assignment.public_id == ident) | (Assignment.platform_assignment_id == ident))
    )
    if row is None:
        raise BarlowError(f"no assignment {ident!r} in study {ps.spec.name!r} (give the platform's assignment id or the dashboard's id)")
    return row


def reject(ps: PlatformStudy, platform, ident: str, reason: str) -> Assignment:
    if not reason.strip():
        raise BarlowError("--reason is required: the worker sees it")
    with ps.db.sessions.begin() as session:
        row = find_assignment(session, ps, ident)
        if row.mode != platform.name or not row.platform_assignment_id:
            raise BarlowError(f"assignment {ident} was not done on {platform.name}")
        if row.platform_review is not None:
            raise BarlowError(f"assignment {ident} was already {row.platform_review} on {platform.name}")
        if row.platform_status == UNCONFIRMED:
            raise BarlowError(f"assignment {ident} is not confirmed by {platform.name} (it never listed it); run 'barlow study collect' first")
        platform.reject(row.platform_assignment_id, reason)
        row.platform_review, row.platform_status, row.review = REJECTED, "Rejected", REJECTED
        row.review_note, row.reviewed_at = reason, utcnow()
        return row
