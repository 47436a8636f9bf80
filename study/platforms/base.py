"""The one interface every crowd platform implements, and the plain records it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable, Iterator, Protocol

from analysis_core.artifacts.errors import BarlowError

# Remote assignment states, in the platform-neutral words the database keeps.
SUBMITTED, APPROVED, REJECTED, RETURNED = "Submitted", "Approved", "Rejected", "Returned"


class PlatformError(BarlowError):
    """A crowd platform refused or failed a call; the message is one line naming what and why."""


class OutcomeUnknown(PlatformError):
    """A call that must not be repeated got no answer (a dropped connection, a 5xx): it may have happened."""


class CostRefused(BarlowError):
    """Publishing would cost more than allowed, or was not confirmed."""


@dataclass(frozen=True)
class HitListing:
    """What workers see in the platform's list of HITs (shared by every HIT of a study)."""

    title: str
    description: str
    keywords: list[str]
    reward: Decimal
    assignments_per_hit: int
    assignment_seconds: int
    lifetime_seconds: int
    auto_approval_seconds: int


@dataclass(frozen=True)
class HitToPublish:
    key: str
    question: str  # MTurk: the Question XML; Prolific: the study URL
    token: str  # idempotency key derived from the study and the HIT
    annotation: str


@dataclass
class RemoteAssignment:
    assignment_id: str
    worker_id: str
    hit_id: str
    status: str
    accept_time: datetime | None = None
    submit_time: datetime | None = None
    answers: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None


Recorder = Callable[[str, str], None]


class Platform(Protocol):
    """What every crowd platform offers the publish, collect, review and pay steps.

    Callers never ask which platform they hold: the attributes below say how it works.
    """

    name: str
    sandbox: bool
    # One remote object per HIT (MTurk) rather than one remote study for every HIT (Prolific).
    per_hit: bool
    # Answers reach the study server (Prolific) rather than come back with the platform's assignments.
    answers_on_server: bool
    # A payment call may be repeated with the same token without paying twice (MTurk's
    # UniqueRequestToken); where not (Prolific's pay), an unknown outcome waits for the user.
    idempotent_payments: bool
    # How long after a payment call its outcome may still be on its way (a check sooner can miss it).
    payment_settle_seconds: int
    # A bonus must name an assignment it is paid on (MTurk).
    bonus_needs_assignment: bool
    # The categories a rejection must carry (empty: the platform takes none).
    rejection_categories: tuple[str, ...]

    def check_access(self) -> None:
        """Raise PlatformError unless the credentials work (one cheap call)."""
        ...

    def currency(self) -> str:
        """The currency the account pays rewards and bonuses in (ISO code)."""
        ...

    def balance(self) -> Decimal | None: ...

    def worker_key(self, worker_id: str) -> tuple[str, str]:
        """(source, external id) of the worker row for the platform's worker id."""
        ...

    def remote_worker(self, external_id: str) -> str: ...

    def review_unit(self, assignment_id: str) -> str:
        """What the platform approves or rejects: the assignment (MTurk) or the whole submission (Prolific)."""
        ...

    def check_rejection(self, message: str, category: str | None) -> None:
        """Raise BarlowError for a rejection the platform would refuse, before any call."""
        ...

    def approve(self, unit: str, feedback: str = "") -> None: ...

    def reject(self, unit: str, message: str, category: str | None) -> None: ...

    def prepare_bonus(self, worker_id: str, amount: Decimal, study_id: str | None) -> str | None:
        """Set a bonus up where the platform has a separate step; its payment id (None where not)."""
        ...

    def pay_bonus(self, worker_id: str, assignment_id: str, amount: Decimal, reason: str, token: str, remote_id: str | None) -> None:
        """Pay once; raises OutcomeUnknown when the platform's answer was lost."""
        ...

    def payment_check(self, worker_id: str, remote_id: str | None) -> str:
        """How a person checks whether a payment of unknown outcome went through."""
        ...

    def tell_worker(self, worker_id: str, study_id: str | None, message: str) -> None:
        """Send the bonus reason where the payment call cannot carry it (no-op where it can)."""
        ...

    def status(self, remote_ids: list[str]) -> dict[str, str]: ...

    def collect(self, remote_ids: list[str]) -> Iterator[RemoteAssignment]: ...

    def expire(self, remote_ids: list[str]) -> None: ...
