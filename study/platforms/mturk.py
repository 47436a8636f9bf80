"""Mechanical Turk through the boto3 ``mturk`` client (API 2017-01-17).

Closed: AWS's MTurk API documentation says Amazon Mechanical Turk permanently closed
on 2026-09-30 (new requesters were refused from 2026-07-30). The adapter stays for
endpoints that speak the same API and for reading old batches; Prolific and local
sessions are the live ways to run a study.

Credentials come only from the standard AWS chain (environment, profile, SSO, instance
role); nothing is written to the study folder. The endpoint follows boto3's configuration:
an ``AWS_ENDPOINT_URL_MTURK`` or a ``[services]`` entry in the AWS config file wins;
otherwise ``sandbox`` picks MTurk's sandbox or production endpoint.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

from analysis_core.artifacts.errors import BarlowError
from study.platforms.base import HitListing, HitToPublish, PlatformError, Recorder, RemoteAssignment
from study.platforms.money import MTURK_CURRENCY
from study.platforms.questions import parse_answers

REGION = "us-east-1"
ENDPOINTS = {
    True: "https://mturk-requester-sandbox.us-east-1.amazonaws.com",
    False: "https://mturk-requester.us-east-1.amazonaws.com",
}
# Error codes after which MTurk (or AWS in front of it) says: wait and call again.
RETRYABLE = {
    "ServiceFault",
    "ServiceUnavailable",
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "AWS.ServiceUnavailable",
    "AWS.MechanicalTurk.RateExceeded",
}
CREDENTIAL_ERRORS = {"UnrecognizedClientException", "InvalidSignatureException", "InvalidClientTokenId", "AccessDeniedException", "ExpiredTokenException", "SignatureDoesNotMatch"}
_HIT_ID = re.compile(r"\b([A-Z0-9]{20,40})\b")
_ANNOTATION = "barlow:{study}:{key}"
PAGE = 100
CLOSED = (
    "Amazon Mechanical Turk permanently closed on 2026-09-30 (AWS's MTurk API documentation); this adapter "
    "still talks to endpoints that speak the same API (AWS_ENDPOINT_URL_MTURK) and reads old batches. "
    "Run new studies on Prolific (--platform prolific) or in local sessions ('barlow study serve')."
)
MAX_FEEDBACK = 1024


def _utc(value: Any) -> datetime | None:
    return value.astimezone(timezone.utc) if isinstance(value, datetime) else None


def make_client(sandbox: bool, session: Any = None, endpoint_url: str | None = None):
    """A boto3 ``mturk`` client for us-east-1 that honours the user's endpoint configuration."""
    import boto3
    from botocore.config import Config

    session = session or boto3.Session()
    # Our own retry loop (below) names the HIT in its messages; botocore's would hide the cause.
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60)
    client = session.client("mturk", region_name=REGION, endpoint_url=endpoint_url, config=config)
    if endpoint_url is None and sandbox and client.meta.endpoint_url.rstrip("/") == ENDPOINTS[False]:
        # No endpoint configured by the user: boto3 chose production; the sandbox was asked for.
        client = session.client("mturk", region_name=REGION, endpoint_url=ENDPOINTS[True], config=config)
    return client


class MTurk:
    """The MTurk side of publish, status, collect, approve, reject, bonus, expire."""

    name = "mturk"
    per_hit = True
    answers_on_server = False
    idempotent_payments = True  # SendBonus with the same UniqueRequestToken pays once
    payment_settle_seconds = 0
    bonus_needs_assignment = True
    rejection_categories: tuple[str, ...] = ()
    # GetAssignment knows an ExternalQuestion assignment only after the hand-off page has
    # posted it to MTurk, which happens after our server stored the answer: closed crowd
    # mode stores what it cannot confirm yet as unconfirmed and collect confirms it.
    confirms_at_collect = True

    def __init__(self, sandbox: bool, client: Any = None, retries: int = 6, sleep: Callable[[float], None] = time.sleep, backoff: float = 0.5):
        self.sandbox = sandbox
        self.client = client if client is not None else make_client(sandbox)
        self.retries = retries
        self.sleep = sleep
        self.backoff = backoff
        self.retried = 0
        self.page_size = PAGE

    def worker_key(self, worker_id: str) -> tuple[str, str]:
        """(source, external id) of an MTurk worker's row."""
        return "mturk", worker_id

    def remote_worker(self, external_id: str) -> str:
        return external_id

    def review_unit(self, assignment_id: str) -> str:
        return assignment_id

    def check_access(self) -> None:
        self.balance()

    def currency(self) -> str:
        return MTURK_CURRENCY

    @property
    def endpoint(self) -> str:
        return self.client.meta.endpoint_url

    # ------------------------------------------------------------------ calls

    def _call(self, operation: str, what: str, **params: Any) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

        method = getattr(self.client, operation)
        for attempt in range(self.retries + 1):
            try:
                return method(**params)
            except NoCredentialsError:
                raise PlatformError(
                    "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) as for any "
                    "boto3 program; Barlow never stores them"
                ) from None
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code = error.get("Code", "Unknown")
                turk_code = exc.response.get("TurkErrorCode") or error.get("TurkErrorCode") or ""
                message = (error.get("Message") or "").strip()
                if (code in RETRYABLE or turk_code in RETRYABLE) and attempt < self.retries:
                    self.retried += 1
                    self.sleep(self.backoff * (2**attempt))
                    continue
                if code in CREDENTIAL_ERRORS:
                    raise PlatformError(
                        f"MTurk at {self.endpoint} rejected the AWS credentials ({code}: {message}); check AWS_PROFILE / "
                        "AWS_ACCESS_KEY_ID and that the account is linked to an MTurk requester account"
                    ) from None
                exc_out = PlatformError(f"MTurk {operation} {what}: {code}{' ' + turk_code if turk_code else ''}: {message}")
                exc_out.code = code  # type: ignore[attr-defined]
                exc_out.turk_code = turk_code  # type: ignore[attr-defined]
                exc_out.message = message  # type: ignore[attr-defined]
                raise exc_out from None
            except EndpointConnectionError:
                if attempt < self.retries:
                    self.retried += 1
                    self.sleep(self.backoff * (2**attempt))
                    continue
                raise PlatformError(f"MTurk {operation} {what}: cannot reach {self.endpoint}") from None
            except BotoCoreError as exc:
                raise PlatformError(f"MTurk {operation} {what}: {exc}") from None
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ money

    def balance(self) -> Decimal | None:
        out = self._call("get_account_balance", "(account balance)")
        return Decimal(out["AvailableBalance"])

    # ------------------------------------------------------------------ publish

    def hit_type(self, listing: HitListing, qualifications: list[dict]) -> str:
        params: dict[str, Any] = dict(
            Title=listing.title,
            Description=listing.description,
            Keywords=", ".join(listing.keywords),
            Reward=f"{listing.reward:.2f}",
            AssignmentDurationInSeconds=listing.assignment_seconds,
            AutoApprovalDelayInSeconds=listing.auto_approval_seconds,
        )
        if qualifications:
            params["QualificationRequirements"] = qualifications
        return self._call("create_hit_type", "(HIT type)", **params)["HITTypeId"]

    def publish(self, listing: HitListing, hits: list[HitToPublish], record: Recorder, qualifications: list[dict] | None = None) -> str:
        """Create each HIT once: ``record(key, hit_id)`` is called (and must persist) per HIT.

        A HIT created before a crash but never recorded comes back as MTurk's
        ``HitAlreadyExists`` answer to the same UniqueRequestToken, naming the HIT.
        """
        type_id = self.hit_type(listing, qualifications or [])
        for hit in hits:
            try:
                out = self._call(
                    "create_hit_with_hit_type",
                    f"for HIT {hit.key}",
                    HITTypeId=type_id,
                    MaxAssignments=listing.assignments_per_hit,
                    LifetimeInSeconds=listing.lifetime_seconds,
                    Question=hit.question,
                    RequesterAnnotation=hit.annotation,
                    UniqueRequestToken=hit.token,
                )
                hit_id = out["HIT"]["HITId"]
            except PlatformError as exc:
                if "HitAlreadyExists" not in getattr(exc, "turk_code", "") + getattr(exc, "message", ""):
                    raise
                match = _HIT_ID.search(getattr(exc, "message", ""))
                hit_id = match.group(1) if match else self.find_by_annotation(hit.annotation)
                if not hit_id:
                    raise PlatformError(f"MTurk says HIT {hit.key} already exists but names no HIT id: {exc}") from None
            record(hit.key, hit_id)
        return type_id

    def find_by_annotation(self, annotation: str) -> str | None:
        return self.published_annotations().get(annotation)

    def published_annotations(self) -> dict[str, str]:
        """RequesterAnnotation -> HITId for every HIT the account holds (to reconcile a lost record)."""
        found: dict[str, str] = {}
        token = None
        while True:
            params: dict[str, Any] = {"MaxResults": self.page_size}
            if token:
                params["NextToken"] = token
            out = self._call("list_hits", "(reconciling published HITs)", **params)
            for h in out.get("HITs", []):
                if h.get("RequesterAnnotation"):
                    found[h["RequesterAnnotation"]] = h["HITId"]
            token = out.get("NextToken")
            if not token or not out.get("HITs"):
                return found

    # ------------------------------------------------------------------ status and collect

    def status(self, remote_ids: list[str]) -> dict[str, str]:
        return {hid: self._call("get_hit", f"for HIT {hid}", HITId=hid)["HIT"]["HITStatus"] for hid in remote_ids}

    def collect(self, remote_ids: list[str]) -> Iterator[RemoteAssignment]:
        for hid in remote_ids:
            token = None
            while True:
                params: dict[str, Any] = {"HITId": hid, "MaxResults": self.page_size, "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]}
                if token:
                    params["NextToken"] = token
                out = self._call("list_assignments_for_hit", f"for HIT {hid}", **params)
                for a in out.get("Assignments", []):
                    accept, submit = _utc(a.get("AcceptTime")), _utc(a.get("SubmitTime"))
                    try:
                        answers = parse_answers(a.get("Answer", ""))
                    except ValueError as exc:
                        raise PlatformError(f"MTurk assignment {a['AssignmentId']} of HIT {hid}: {exc}") from None
                    yield RemoteAssignment(
                        assignment_id=a["AssignmentId"],
                        worker_id=a["WorkerId"],
                        hit_id=hid,
                        status=a["AssignmentStatus"],
                        accept_time=accept,
                        submit_time=submit,
                        answers=answers,
                        seconds=(submit - accept).total_seconds() if accept and submit else None,
                    )
                token = out.get("NextToken")
                if not token or not out.get("Assignments"):
                    break

    # ------------------------------------------------------------------ review and pay

    def check_rejection(self, message: str, category: str | None) -> None:
        if not message.strip():
            raise BarlowError("a rejection needs a reason: the worker sees it (--reason TEXT)")
        if len(message) > MAX_FEEDBACK:
            raise BarlowError(f"MTurk takes a rejection reason of at most {MAX_FEEDBACK} characters; this one has {len(message)}")
        if category:
            raise BarlowError("MTurk rejections have no category; leave --category out")

    def approve(self, unit: str, feedback: str = "") -> None:
        params = {"AssignmentId": unit}
        if feedback:
            params["RequesterFeedback"] = feedback[:MAX_FEEDBACK]
        self._call("approve_assignment", f"for assignment {unit}", **params)

    def reject(self, unit: str, message: str, category: str | None = None) -> None:
        self._call("reject_assignment", f"for assignment {unit}", AssignmentId=unit, RequesterFeedback=message)

    def prepare_bonus(self, worker_id: str, amount: Decimal, study_id: str | None) -> str | None:
        return None  # SendBonus is one call

    def pay_bonus(self, worker_id: str, assignment_id: str, amount: Decimal, reason: str, token: str, remote_id: str | None) -> None:
        self._call(
            "send_bonus",
            f"to worker {worker_id}",
            WorkerId=worker_id,
            AssignmentId=assignment_id,
            BonusAmount=f"{amount:.2f}",
            Reason=reason,
            UniqueRequestToken=token,
        )

    def payment_check(self, worker_id: str, remote_id: str | None) -> str:
        return f"MTurk's ListBonusPayments for the assignment of {worker_id} shows it"

    def tell_worker(self, worker_id: str, study_id: str | None, message: str) -> None:
        return None  # SendBonus carries the reason

    # ------------------------------------------------------------------ closed crowd mode

    def verify_assignment(self, hit: Any, assignment_id: str, worker_id: str) -> bool:
        """True when MTurk issued ``assignment_id`` for ``hit`` to ``worker_id`` (GetAssignment).

        Used by the study server in closed crowd mode (``study.verification``); an MTurk that
        cannot be asked right now raises ``VerificationUnavailable``.
        MTurk's GetAssignment only shows submitted work (its AssignmentStatus has no
        "Accepted"), so for an ExternalQuestion HIT this is False when the worker's answer
        reaches our server; ``confirms_at_collect`` lets the server keep that answer as
        unconfirmed until ``collect`` finds it in ListAssignmentsForHIT.
        """
        quick = MTurk(self.sandbox, client=self.client, retries=1, sleep=self.sleep, backoff=0.2)
        try:
            out = quick._call("get_assignment", f"for assignment {assignment_id}", AssignmentId=assignment_id)
        except PlatformError as exc:
            if getattr(exc, "code", "") == "RequestError":
                return False  # MTurk does not know this assignment
            try:
                from study.verification import VerificationUnavailable
            except ImportError:  # a study server without closed crowd mode
                raise exc from None
            raise VerificationUnavailable(str(exc)) from None
        a = out["Assignment"]
        expected_hit = getattr(hit, "platform_hit_id", None)
        return a["WorkerId"] == worker_id and (expected_hit is None or a["HITId"] == expected_hit)

    def expire(self, remote_ids: list[str]) -> None:
        # MTurk expires a HIT at once when given a time in the past.
        past = datetime(2015, 1, 1, tzinfo=timezone.utc)
        for hid in remote_ids:
            self._call("update_expiration_for_hit", f"for HIT {hid}", HITId=hid, ExpireAt=past)


def assignment_verifier(settings: Any = None) -> MTurk:
    """The closed-crowd-mode verifier (see ``study.platforms.connect.load_verifier``).

    ``settings`` says which MTurk: anything with a ``sandbox`` attribute or key (the
    study's database row does); without one, production.
    """
    sandbox = settings.get("sandbox") if isinstance(settings, dict) else getattr(settings, "sandbox", None)
    if sandbox is None:
        sandbox = getattr(settings, "platform_sandbox", False)
    return MTurk(sandbox=bool(sandbox))
