"""Prolific through its REST API (https://api.prolific.com/api/v1/) with httpx.

One Prolific study carries the whole HIT set: a participant opens the study server's
``/prolific`` page with ``PROLIFIC_PID``, ``STUDY_ID`` and ``SESSION_ID``, answers
``crowd.prolific.hits_per_participant`` HITs and is sent back with the completion code.
The token comes from ``PROLIFIC_TOKEN`` (``PROLIFIC_API_URL`` points elsewhere, e.g. a
test double); the workspace whose balance and currency pay for the study from
``crowd.prolific.workspace`` or ``PROLIFIC_WORKSPACE_ID`` (needed only when the token
sees more than one workspace).

Prolific decides per submission: approving or rejecting acts on the participant's whole
submission (every HIT they answered). Calls that Prolific does not document as
idempotent (creating a study, publishing it, setting up and paying a bonus, messages)
are sent once and never repeated by this client: when their answer is lost it raises
``OutcomeUnknown`` and the caller checks the platform's state instead.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any, Callable, Iterator

from analysis_core.artifacts.errors import BarlowError
from study.platforms import money
from study.platforms.base import (
    APPROVED,
    REJECTED,
    RETURNED,
    SUBMITTED,
    OutcomeUnknown,
    PlatformError,
    RemoteAssignment,
)

API_URL = "https://api.prolific.com"
TOKEN_VARIABLE = "PROLIFIC_TOKEN"
WORKSPACE_VARIABLE = "PROLIFIC_WORKSPACE_ID"
COMPLETE_URL = "https://app.prolific.com/submissions/complete?cc={code}"
# Prolific submission states -> the words the database keeps.
STATES = {
    "AWAITING REVIEW": SUBMITTED,
    "APPROVED": APPROVED,
    "REJECTED": REJECTED,
    "RETURNED": RETURNED,
    "TIMED-OUT": RETURNED,
}
DRAFT = "UNPUBLISHED"  # a study's status until PUBLISH went through
# The rejection categories Prolific takes (its submission transition; the CLI lists the same).
REJECTION_CATEGORIES = (
    "TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK", "LOW_EFFORT",
    "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER",
)
MIN_REJECTION_MESSAGE = 100
# Prolific's "Managing high loads" page: a 429 is answered when calls contend for the
# workspace's wallet while funds are checked, before the transaction, and is to be retried
# with back-off; so it is sent again, whatever the call (a 429 left after the retries is a refusal).
THROTTLED = 429
SERVER_ERRORS = {502, 503, 504}


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
    per_hit = False
    answers_on_server = True
    idempotent_payments = False  # "not idempotent": each pay call pays again
    # "Bonus payments are made asynchronously ... in the following minutes": a check made
    # sooner after a lost answer can miss a payment that is on its way.
    payment_settle_seconds = 15 * 60
    bonus_needs_assignment = False
    rejection_categories = REJECTION_CATEGORIES

    def __init__(self, token: str, base_url: str = API_URL, workspace_id: str | None = None, client: Any = None,
                 retries: int = 5, sleep: Callable[[float], None] = time.sleep, backoff: float = 0.5):
        import httpx

        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(base_url=self.base_url, headers={"Authorization": f"Token {token}"}, timeout=30.0)
        self.retries = retries
        self.sleep = sleep
        self.backoff = backoff
        self.workspace_id = workspace_id
        self._balance: dict | None = None

    @classmethod
    def from_environment(cls, workspace_id: str | None = None) -> Prolific:
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise BarlowError(f"set {TOKEN_VARIABLE} to a Prolific API token (https://app.prolific.com/researcher/tokens/); Barlow never stores it")
        return cls(token, os.environ.get("PROLIFIC_API_URL", API_URL), workspace_id or os.environ.get(WORKSPACE_VARIABLE, "").strip() or None)

    def review_unit(self, assignment_id: str) -> str:
        return submission_of(assignment_id)

    def worker_key(self, participant_id: str) -> tuple[str, str]:
        """(source, external id) of a participant's worker row: they answer in session pages."""
        return "local", participant_worker_id(participant_id)

    def remote_worker(self, external_id: str) -> str:
        return external_id.removeprefix(PARTICIPANT_PREFIX)

    # ------------------------------------------------------------------ calls

    def _call(self, method: str, path: str, what: str, json: Any = None, repeatable: bool = True) -> Any:
        """One API call; only ``repeatable`` ones are sent again after a lost answer or a 5xx."""
        import httpx

        for attempt in range(self.retries + 1):
            last = attempt >= self.retries
            try:
                response = self.client.request(method, path, json=json)
            except httpx.TransportError as exc:
                if not repeatable:
                    raise OutcomeUnknown(f"Prolific {what}: the connection broke before Prolific answered ({type(exc).__name__}); it may have been done") from None
                if not last:
                    self.sleep(self.backoff * 2**attempt)
                    continue
                raise PlatformError(f"Prolific {what}: cannot reach {self.base_url}: {exc}") from None
            status = response.status_code
            if status >= 500 and not repeatable:
                # A server error may come after the work was done (or from a proxy after it).
                raise OutcomeUnknown(f"Prolific {what}: HTTP {status} from Prolific or a proxy in front of it; it may have been done")
            if (status == THROTTLED or status in SERVER_ERRORS) and not last:
                wait = response.headers.get("Retry-After")
                self.sleep(float(wait) if wait and wait.replace(".", "", 1).isdigit() else self.backoff * 2**attempt)
                continue
            if status in (401, 403):
                raise PlatformError(f"Prolific refused the API token ({status}) for {what}; check {TOKEN_VARIABLE}")
            if status >= 400:
                raise PlatformError(f"Prolific {what}: HTTP {status}: {_detail(response)}")
            return response.json() if response.content else {}
        raise AssertionError("unreachable")

    def _paged(self, path: str, what: str) -> Iterator[dict]:
        while path:
            out = self._call("GET", path, what)
            yield from out.get("results", [])
            nxt = ((out.get("_links") or {}).get("next") or {}).get("href")
            path = nxt[len(self.base_url):] if nxt and nxt.startswith(self.base_url) else nxt

    # ------------------------------------------------------------------ account

    def check_access(self) -> None:
        self._call("GET", "/api/v1/users/me/", "checking the API token")

    def workspace(self) -> str:
        if self.workspace_id:
            return self.workspace_id
        spaces = list(self._paged("/api/v1/workspaces/", "listing workspaces"))
        if len(spaces) != 1:
            names = ", ".join(f"{w.get('id')} ({w.get('title', '')})" for w in spaces) or "none"
            raise BarlowError(
                f"the Prolific token sees {len(spaces)} workspaces ({names}); name the one that pays for this study "
                f"in study.yaml (crowd.prolific.workspace) or {WORKSPACE_VARIABLE}"
            )
        self.workspace_id = spaces[0]["id"]
        return self.workspace_id

    def _balance_info(self) -> dict:
        if self._balance is None:
            ws = self.workspace()
            self._balance = self._call("GET", f"/api/v1/workspaces/{ws}/balance/", f"the balance of workspace {ws}")
        return self._balance

    def currency(self) -> str:
        code = self._balance_info().get("currency_code")
        if not code:
            raise PlatformError(f"Prolific did not say the currency of workspace {self.workspace()}")
        return code

    def balance(self) -> Decimal | None:
        available = self._balance_info().get("available_balance")
        return None if available is None else money.from_cents(available)

    # ------------------------------------------------------------------ studies

    def find_study(self, internal_name: str) -> dict | None:
        for study in self._paged("/api/v1/studies/", "listing studies"):
            if study.get("internal_name") == internal_name:
                return study
        return None

    def get_study(self, study_id: str) -> dict:
        return self._call("GET", f"/api/v1/studies/{study_id}/", f"study {study_id}")

    def create_study(self, *, name: str, internal_name: str, description: str, url: str, completion_code: str, places: int, reward_cents: int, minutes: int) -> dict:
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
            "filters": [],
        }
        return self._call("POST", "/api/v1/studies/", f"creating study {internal_name}", json=body, repeatable=False)

    def publish_study(self, study_id: str) -> None:
        self._call("POST", f"/api/v1/studies/{study_id}/transition/", f"publishing study {study_id}", json={"action": "PUBLISH"}, repeatable=False)

    def status(self, remote_ids: list[str]) -> dict[str, str]:
        return {sid: self.get_study(sid)["status"] for sid in remote_ids}

    def collect(self, remote_ids: list[str]) -> Iterator[RemoteAssignment]:
        """One record per submission (answers are on the study server, not on Prolific)."""
        for sid in remote_ids:
            for sub in self._paged(f"/api/v1/studies/{sid}/submissions/", f"submissions of study {sid}"):
                state = STATES.get(sub.get("status", ""))
                if state is None:
                    continue  # still ACTIVE (or a state with nothing to collect yet)
                yield RemoteAssignment(assignment_id=sub["id"], worker_id=sub["participant_id"], hit_id=sid, status=state, seconds=sub.get("time_taken"))

    def expire(self, remote_ids: list[str]) -> None:
        for sid in remote_ids:
            self._call("POST", f"/api/v1/studies/{sid}/transition/", f"stopping study {sid}", json={"action": "STOP"}, repeatable=False)

    # ------------------------------------------------------------------ review (idempotent transitions)

    def check_rejection(self, message: str, category: str | None) -> None:
        if category not in REJECTION_CATEGORIES:
            raise BarlowError(f"a Prolific rejection needs a category (--category): one of {', '.join(REJECTION_CATEGORIES)}")
        if len(message.strip()) < MIN_REJECTION_MESSAGE:
            raise BarlowError(
                f"Prolific needs a rejection message of at least {MIN_REJECTION_MESSAGE} characters (the participant reads it); "
                f"this one has {len(message.strip())}: say what was wrong and what the instructions asked for"
            )

    def approve(self, unit: str, feedback: str = "") -> None:
        self._call("POST", f"/api/v1/submissions/{unit}/transition/", f"approving submission {unit}", json={"action": "APPROVE"})

    def reject(self, unit: str, message: str, category: str | None) -> None:
        self.check_rejection(message, category)
        body = {"action": "REJECT", "message": message.strip(), "rejection_category": category}
        self._call("POST", f"/api/v1/submissions/{unit}/transition/", f"rejecting submission {unit}", json=body)

    # ------------------------------------------------------------------ money (never repeated)

    def prepare_bonus(self, worker_id: str, amount: Decimal, study_id: str | None) -> str | None:
        """Set up a bulk bonus payment for one participant; pays nothing until ``pay_bonus``."""
        if not study_id:
            raise PlatformError("a Prolific bonus needs the study id; publish the study first")
        body = {"study_id": study_id, "csv_bonuses": f"{worker_id},{amount:.2f}\n"}
        return self._call("POST", "/api/v1/submissions/bonus-payments/", f"setting up a bonus for {worker_id}", json=body, repeatable=False)["id"]

    def pay_bonus(self, worker_id: str, assignment_id: str, amount: Decimal, reason: str, token: str, remote_id: str | None) -> None:
        self._call("POST", f"/api/v1/bulk-bonus-payments/{remote_id}/pay/", f"paying bonus {remote_id} to {worker_id}", repeatable=False)

    def payment_check(self, worker_id: str, remote_id: str | None) -> str:
        return (f"Prolific pays bonuses within minutes of the call, so wait {self.payment_settle_seconds // 60} minutes; then open the study "
                f"on app.prolific.com and look at {worker_id}'s bonus payments, or ask Prolific support whether bulk bonus payment {remote_id} was paid")

    def tell_worker(self, worker_id: str, study_id: str | None, message: str) -> None:
        body = {"recipient_id": worker_id, "body": message, "study_id": study_id}
        self._call("POST", "/api/v1/messages/", f"sending a message to {worker_id}", json=body, repeatable=False)


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
