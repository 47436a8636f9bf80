"""Review marks on submitted assignments (approve / reject / clear): what a platform adapter pays on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from analysis_core.artifacts.errors import BarlowError
from study.db import StudyDatabase
from study.models import APPROVED, REJECTED, SUBMITTED, Assignment, Hit

DECISIONS = {"approve": APPROVED, "reject": REJECTED, "clear": None}
MAX_NOTE = 1000


class ReviewError(BarlowError):
    """A review the study cannot take; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def set_review(db: StudyDatabase, public_id: str, decision: str, note: str, now: datetime) -> str | None:
    """Mark the submitted assignment ``public_id``; return the review stored (None when cleared)."""
    if decision not in DECISIONS:
        raise ReviewError("decision must be approve, reject or clear")
    if len(note) > MAX_NOTE:
        raise ReviewError(f"the review note is longer than {MAX_NOTE} characters")
    with db.sessions.begin() as session:
        assignment = session.scalar(
            select(Assignment).join(Hit).where(Hit.study_id == db.study_id, Assignment.public_id == public_id)
        )
        if assignment is None:
            raise ReviewError(f"no assignment {public_id[:40]!r} in this study", status=404)
        if assignment.status != SUBMITTED:
            raise ReviewError("only submitted assignments can be reviewed", status=409)
        assignment.review = DECISIONS[decision]
        assignment.review_note = note
        assignment.reviewed_at = now if assignment.review is not None else None
        return assignment.review
