"""Prolific through its REST API (https://api.prolific.com/api/v1/) with httpx.

One Prolific study carries the whole HIT set: a participant opens the study server's
``/prolific`` page with ``PROLIFIC_PID``, ``STUDY_ID`` and ``SESSION_ID``, answers
``crowd.prolific.hits_per_participant`` HITs and is sent back with the completion code.
The token comes from ``PROLIFIC_TOKEN`` (``PROLIFIC_API_URL`` points elsewhere, e.g. a
test double). Prolific pays per submission, so approval and rejection act on the
participant's whole submission.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any, Callable, Iterator

from analysis_core.artifacts.errors import BarlowError
from study.platforms.base import (
    APPROVED,
    REJECTED,
    RETURNED,
    SUBMITTED,
    PlatformError,
    RemoteAssignment,
)

API_URL = "https://api.prolific.com"
TOKEN_VARIABLE = "PROLIFIC_TOKEN"
COMPLETE_URL = "https://app.prolific.com/submissions/complete?cc={code}"
# Prolific submission states -> the words the database keeps.
STATES = {
    "AWAITING REVIEW": SUBMITTED,
    "APPROVED": APPROVED,
    "REJECTED": REJECTED,
    "RETURNED": RETURNED,
    "TIMED-OUT": RETURNED,
}
RETRY_STATUS = {429, 502, 503, 504}


def study_url(base_url: str) -> str:
    """The study URL Prolific opens, with its placeholders for the participant's ids."""
    return base_url.rstrip("/") + "/prolific?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"


PARTICIPANT_PREFIX = "prolific:"


def participant_worker_id(pid: str) -> str:
    """The study's worker id for a Prolific participant (typed worker ids cannot hold a colon)."""
    return PARTICIPANT_PREFIX + pid


def submission_of(assignment_id: str) -> str:
    """Our rows are ``<submission id>/<HIT key>``: Prolific acts on the submission."""
    return assignment_id.split("/", 1)[0]


class Prolific:
    name = "prolific"
    sandbox = False

    def __init__(self, token: str, base_url: str = API_URL, client: Any = None, retries: int = 5, sleep: Callable[[float], None] = time.sleep, backoff: float = 0.5):
        import httpx

        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(base_url=self.base_url, headers={"Authorization": f"Token {token}"}, timeout=30.0)
        self.retries = retries
        self.sleep = sleep
        self.backoff = backoff
        self._approved: set[str] = set()
        self._rejected: set[str] = set()

    @classmethod
    def from_environment(cls) -> Prolific:
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise BarlowError(f"set {TOKEN_VARIABLE} to a Prolific API token (https://app.prolific.com/researcher/tokens/); Barlow never stores it")
        return cls(token, os.environ.get("PROLIFIC_API_URL", API_URL))

    def unit(self, assignment_id: str) -> str:
        return submission_of(assignment_id)

    def worker_key(self, participant_id: str) -> tuple[str, str]:
        """(source, external id) of a participant's worker row: they answer in session pages."""
        return "local", participant_worker_id(participant_id)

    def remote_worker(self, external_id: str) -> str:
        return external_id.removeprefix(PARTICIPANT_PREFIX)

    # ------------------------------------------------------------------ calls

    def _call(self, method: str, path: str, what: str, json: Any = None) -> Any:
        import httpx

        for attempt in range(self.retries + 1):
            try:
                response = self.client.request(method, path, json=json)
            except httpx.TransportError as exc:
                if attempt < self.retries:
                    self.sleep(self.backoff * 2**attempt)
                    continue
                raise PlatformError(f"Prolific {what}: cannot reach {self.base_url}: {exc}") from None
            if response.status_code in RETRY_STATUS and attempt < self.retries:
                wait = response.headers.get("Retry-After")
                self.sleep(float(wait) if wait and wait.replace(".", "", 1).isdigit() else self.backoff * 2**attempt)
                continue
            if response.status_code in (401, 403):
                raise PlatformError(f"Prolific refused the API token ({response.status_code}) for {what}; check {TOKEN_VARIABLE}")
            if response.status_code >= 400:
                raise PlatformError(f"Prolific {what}: HTTP {response.status_code}: {_detail(response)}")
            return response.json() if response.content else {}
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ interface

    def balance(self) -> Decimal | None:
        # The API has no balance for a token alone (workspace funds are managed on the website).
        return None

    def find_study(self, internal_name: str) -> str | None:
        for study in self._paged("/api/v1/studies/", "listing studies"):
            if study.get("internal_name") == internal_name:
                return study["id"]
        return None

    def create_study(self, *, name: str, internal_name: str, description: str, url: str, completion_code: str, places: int, reward_cents: int, minutes: int) -> str:
        body = {
            "name": name,
            "internal_name": internal_name,
            "description": description,
            "external_study_url": url,
            "prolific_id_option": "url_parameters",
            "completion_codes": [{"code": completion_code, "code_type": "COMPLETED", "actions": [{"action": "MANUALLY_REVIEW"}]}],
            "total_available_places": places,
            "estimated_completion_time": minutes,
            "reward": reward_cents,
            "device_compatibility": ["desktop"],
        }
        return self._call("POST", "/api/v1/studies/", f"creating study {internal_name}", json=body)["id"]

    def publish_study(self, study_id: str) -> None:
        self._call("POST", f"/api/v1/studies/{study_id}/transition/", f"publishing study {study_id}", json={"action": "PUBLISH"})

    def _paged(self, path: str, what: str) -> Iterator[dict]:
        while path:
            out = self._call("GET", path, what)
            yield from out.get("results", [])
            nxt = ((out.get("_links") or {}).get("next") or {}).get("href")
            path = nxt[len(self.base_url):] if nxt and nxt.startswith(self.base_url) else nxt

    def status(self, remote_ids: list[str]) -> dict[str, str]:
        return {sid: self._call("GET", f"/api/v1/studies/{sid}/", f"study {sid}")["status"] for sid in remote_ids}

    def collect(self, remote_ids: list[str]) -> Iterator[RemoteAssignment]:
        """One record per submission (answers are on the study server, not on Prolific)."""
        for sid in remote_ids:
            for sub in self._paged(f"/api/v1/studies/{sid}/submissions/", f"submissions of study {sid}"):
                state = STATES.get(sub.get("status", ""))
                if state is None:
                    continue  # still ACTIVE (or a state with nothing to collect yet)
                yield RemoteAssignment(assignment_id=sub["id"], worker_id=sub["participant_id"], hit_id=sid, status=state, seconds=sub.get("time_taken"))

    def approve(self, assignment_id: str, feedback: str = "") -> None:
        sub = submission_of(assignment_id)
        if sub not in self._approved:
            self._call("POST", f"/api/v1/submissions/{sub}/transition/", f"approving submission {sub}", json={"action": "APPROVE"})
            self._approved.add(sub)

    def reject(self, assignment_id: str, feedback: str) -> None:
        sub = submission_of(assignment_id)
        if sub not in self._rejected:
            body = {"action": "REJECT", "message": feedback, "rejection_category": "LOW_EFFORT"}
            self._call("POST", f"/api/v1/submissions/{sub}/transition/", f"rejecting submission {sub}", json=body)
            self._rejected.add(sub)

    def bonus(self, worker_id: str, assignment_id: str, amount: Decimal, reason: str, token: str, remote_id: str | None = None, record: Callable[[str], None] | None = None, study_id: str | None = None) -> str | None:
        """Set up a bonus payment (recorded at once by ``record``), then pay it.

        Prolific has no request tokens: the payment id recorded between the two calls is
        what keeps a rerun from setting up a second payment.
        """
        if remote_id is None:
            if study_id is None:
                raise PlatformError("a Prolific bonus needs the study id")
            out = self._call("POST", "/api/v1/submissions/bulk-bonus-payments/", f"bonus for {worker_id}", json={"study_id": study_id, "csv_bonuses": f"{worker_id},{amount:.2f}\n"})
            remote_id = out["id"]
            if record:
                record(remote_id)
        try:
            self._call("POST", f"/api/v1/bulk-bonus-payments/{remote_id}/pay/", f"paying bonus {remote_id} to {worker_id}")
        except PlatformError as exc:
            if "already been paid" not in str(exc):
                raise
        return remote_id

    def expire(self, remote_ids: list[str]) -> None:
        for sid in remote_ids:
            self._call("POST", f"/api/v1/studies/{sid}/transition/", f"stopping study {sid}", json={"action": "STOP"})


def _detail(response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("detail") or err.get("title") or err)[:300]
    return str(data)[:300]


class _SessionPagesOnly:
    """Prolific participants answer in the session pages, never through crowd-mode HIT URLs."""

    def verify_assignment(self, hit: Any, assignment_id: str, worker_id: str) -> bool:
        return False


def assignment_verifier(settings: Any = None) -> _SessionPagesOnly:
    """Closed crowd mode for a Prolific study: crowd-mode answers are refused (see study.web.prolific)."""
    return _SessionPagesOnly()
