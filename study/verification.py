"""Closed crowd mode: a crowd answer counts only for an assignment the platform really issued.

Anyone who knows a HIT's URL can add ``assignmentId=...&workerId=...`` to it, so in crowd
mode the server asks the platform whether that assignment exists, belongs to that worker
and is for that HIT before it stores anything. A platform adapter (``study.platforms``)
provides the check; this module defines the interface and finds the adapter.

Some platforms cannot answer at that moment. An MTurk ExternalQuestion form posts to our
server *before* the hand-off page posts to MTurk's ``externalSubmit``, and MTurk shows an
assignment only once it is submitted. A verifier that says so (``confirms_at_collect``)
has its refused answers stored as :data:`UNCONFIRMED` instead: still capped per HIT,
excluded from exports, analyses, approval and pay until ``barlow study collect`` finds the
assignment on the platform for that HIT and worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from analysis_core.artifacts.errors import BarlowError

OFF, OPEN, CLOSED, AUTO = "off", "open", "closed", "auto"
CROWD_MODES = (AUTO, CLOSED, OPEN, OFF)
# assignments.platform_status of a crowd answer the platform has not confirmed yet.
UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class HitRef:
    """What a verifier may need to know about the HIT: our key and the platform's id."""

    key: str
    platform_hit_id: str | None


class VerificationUnavailable(Exception):
    """The platform could not be asked right now (network, rate limit): try again later."""


@runtime_checkable
class AssignmentVerifier(Protocol):
    """Implemented by a platform adapter (MTurk: GetAssignment; Prolific: the submission)."""

    def verify_assignment(self, hit: HitRef, assignment_id: str, worker_id: str) -> bool:
        """True when the platform issued ``assignment_id`` for ``hit`` to ``worker_id``.

        Raise :class:`VerificationUnavailable` when the platform cannot be reached; the
        worker is then asked to submit again instead of the answer being refused.
        """
        ...


def confirms_at_collect(verifier: AssignmentVerifier | None) -> bool:
    """Whether an assignment the verifier cannot confirm yet may be stored as unconfirmed.

    True for adapters whose platform only shows an assignment after the worker's answer
    has reached us (MTurk ExternalQuestion); ``collect`` confirms those later. Other
    adapters (Prolific) keep refusing what they do not confirm.
    """
    return bool(getattr(verifier, "confirms_at_collect", False))


def confirmed():
    """SQL condition: an assignment not waiting for the platform's confirmation."""
    from sqlalchemy import or_

    from study.models import Assignment

    return or_(Assignment.platform_status.is_(None), Assignment.platform_status != UNCONFIRMED)


def resolve_crowd_mode(mode: str, verifier: AssignmentVerifier | None) -> str:
    """``auto`` is closed when a verifier is configured and open otherwise."""
    if mode not in CROWD_MODES:
        raise BarlowError(f"crowd mode must be one of {', '.join(CROWD_MODES)}, got {mode!r}")
    if mode == AUTO:
        return CLOSED if verifier is not None else OPEN
    if mode == CLOSED and verifier is None:
        raise BarlowError("closed crowd mode needs a platform adapter that verifies assignments (configure the study's platform)")
    return mode
