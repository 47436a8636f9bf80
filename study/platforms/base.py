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
    """publish, status, collect, approve, reject, bonus, expire (plus the balance before paying)."""

    name: str
    sandbox: bool

    def balance(self) -> Decimal | None: ...

    def publish(self, listing: HitListing, hits: list[HitToPublish], record: Recorder) -> str: ...

    def status(self, remote_ids: list[str]) -> dict[str, str]: ...

    def collect(self, remote_ids: list[str]) -> Iterator[RemoteAssignment]: ...

    def approve(self, assignment_id: str, feedback: str = "") -> None: ...

    def reject(self, assignment_id: str, feedback: str) -> None: ...

    def bonus(
        self, worker_id: str, assignment_id: str, amount: Decimal, reason: str, token: str,
        remote_id: str | None = None, record: Callable[[str], None] | None = None,
    ) -> str | None:
        """Pay once per ``token``; ``remote_id``/``record`` carry a platform's own payment id across retries."""
        ...

    def expire(self, remote_ids: list[str]) -> None: ...
