"""A local Prolific API for tests, checked against the published reference (``prolific_api``).

Every request must carry ``Authorization: Token ...`` and match a documented operation
(method and path), and its JSON body must fit that operation's schema; anything else is
answered 400/404 *and* kept in ``problems``, so a test can assert the client never sent
one. State follows the reference: studies are drafts until PUBLISH (which needs the
workspace's funds), submissions are paginated with ``_links.next.href``, a submission is
decided once (APPROVE repeated is ignored, as documented), a REJECT needs a message of at
least 100 characters and a category, and a bulk bonus payment is paid again on every
pay call, as the reference warns. ``payments`` counts pay calls per bulk id and
``paid`` the money each participant received.

Faults (``fault(...)``) hit the next matching call: ``drop`` (the call is handled, then the
connection is closed without an answer), ``502`` (handled, then a 502 as from a proxy),
``hang`` (handled, then held until ``release`` is set or the client dies; ``reached`` is
set when it is handled), ``refuse`` (not handled; answered with the given 4xx); with
``before=True`` a ``drop`` or ``502`` comes instead of handling the call.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from tests.platforms.fakes import prolific_api as api

FEE = Decimal("0.3333")


def _oid() -> str:
    return secrets.token_hex(12)


class ApiError(Exception):
    def __init__(self, status: int, detail):
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


@dataclass
class Fault:
    method: str
    path: str  # a regular expression over the path
    kind: str  # drop, 502, hang, refuse
    status: int = 400
    detail: str = ""
    before: bool = False  # drop / 502 without handling the call


@dataclass
class FakeProlific:
    token: str = "prolific-test-token"
    currency: str = "GBP"
    balance_cents: int = 1_000_000
    workspaces: dict[str, dict] = field(default_factory=dict)
    studies: dict[str, dict] = field(default_factory=dict)
    submissions: dict[str, dict] = field(default_factory=dict)
    bonuses: dict[str, dict] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)
    payments: Counter = field(default_factory=Counter)
    paid: dict = field(default_factory=lambda: defaultdict(Decimal))
    calls: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    page_size: int = 2
    throttle_next: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    url: str = ""

    def __post_init__(self):
        if not self.workspaces:
            wid = _oid()
            self.workspaces[wid] = {"id": wid, "title": "Lab", "currency_code": self.currency, "balance": self.balance_cents}

    def fault(self, method: str, path: str, kind: str, **kw) -> None:
        self.faults.append(Fault(method, path, kind, **kw))

    def count(self, operation: str) -> int:
        return sum(c == operation for c in self.calls)

    # ---- the participant's side

    def start(self, study_id: str, pid: str) -> str:
        """A participant takes a place; returns the SESSION_ID Prolific puts in the study URL."""
        with self.lock:
            study = self.studies[study_id]
            if study["status"] != "ACTIVE":
                raise ValueError(f"study {study_id} is {study['status']}")
            session_id = _oid()
            self.submissions[session_id] = {
                "id": session_id, "study_id": study_id, "participant_id": pid, "status": "ACTIVE",
                "started_at": "2026-11-29T10:00:00Z", "completed_at": None, "time_taken": None, "reward": study["reward"], "study_code": None,
            }
            return session_id

    def complete(self, study_id: str, pid: str, code: str, seconds: int) -> None:
        """The participant arrived at the completion URL with ``code``."""
        with self.lock:
            sub = next(s for s in self.submissions.values() if s["study_id"] == study_id and s["participant_id"] == pid)
            expected = self.studies[study_id]["completion_codes"][0]["code"]
            sub.update(status="AWAITING REVIEW" if code == expected else "RETURNED", study_code=code, time_taken=seconds, completed_at="2026-11-29T10:30:00Z")

    # ---- the API

    def _study(self, sid: str) -> dict:
        if sid not in self.studies:
            raise ApiError(404, "Not found.")
        return self.studies[sid]

    def _workspace(self, wid: str) -> dict:
        if wid not in self.workspaces:
            raise ApiError(404, "Not found.")
        return self.workspaces[wid]

    def _page(self, path: str, rows: list[dict], query: dict) -> dict:
        page = int(query.get("page", ["1"])[0])
        chunk = rows[(page - 1) * self.page_size : page * self.page_size]
        nxt = f"{self.url}{path}?page={page + 1}" if page * self.page_size < len(rows) else None
        return {"results": chunk, "_links": {"next": {"href": nxt}, "previous": {"href": None}}, "meta": {"count": len(rows)}}

    def balance(self, wid: str) -> dict:
        ws = self._workspace(wid)
        assigned = sum(s["reward"] * s["total_available_places"] for s in self.studies.values() if s["status"] != "UNPUBLISHED")
        assigned += round(assigned * FEE)
        available = ws["balance"] - assigned
        return {
            "currency_code": ws["currency_code"], "total_balance": ws["balance"], "balance_breakdown": {"rewards": ws["balance"], "fees": 0, "vat": 0},
            "available_balance": available, "available_balance_breakdown": {"rewards": available, "fees": 0, "vat": 0},
        }

    def create_study(self, body: dict) -> tuple[int, dict]:
        url = body["external_study_url"]
        if body["prolific_id_option"] == "url_parameters" and "{{%PROLIFIC_PID%}}" not in url:
            raise ApiError(400, {"external_study_url": ["The URL must carry {{%PROLIFIC_PID%}} when prolific_id_option is url_parameters."]})
        ws = next(iter(self.workspaces.values()))
        sid = _oid()
        self.studies[sid] = {**body, "id": sid, "status": "UNPUBLISHED", "currency_code": ws["currency_code"], "workspace": ws["id"]}
        return 201, self.studies[sid]

    def transition_study(self, sid: str, body: dict) -> tuple[int, dict]:
        study = self._study(sid)
        action = body["action"]
        if action == "PUBLISH" and study["status"] == "UNPUBLISHED":
            cost = study["reward"] * study["total_available_places"]
            if self.balance(study["workspace"])["available_balance"] < cost + round(cost * FEE):
                raise ApiError(400, "You do not have enough funds in your workspace to publish this study.")
            study["status"] = "ACTIVE"
        elif action == "STOP" and study["status"] in ("ACTIVE", "PAUSED"):
            study["status"] = "AWAITING REVIEW"
        else:
            raise ApiError(400, f"Cannot {action} a study that is {study['status']}.")
        return 200, study

    def list_submissions(self, sid: str, path: str, query: dict) -> tuple[int, dict]:
        self._study(sid)
        rows = [{k: v for k, v in s.items() if k != "study_id"} for s in self.submissions.values() if s["study_id"] == sid]
        return 200, self._page(path, rows, query)

    def transition_submission(self, sub_id: str, body: dict) -> tuple[int, dict]:
        sub = self.submissions.get(sub_id)
        if sub is None:
            raise ApiError(404, "Not found.")
        action = body["action"]
        target = {"APPROVE": "APPROVED", "REJECT": "REJECTED"}.get(action)
        if target is None:
            raise ApiError(400, {"action": [f"{action} is not used by this fake."]})
        if sub["status"] == target:
            return 200, {"id": sub_id, "status": sub["status"]}  # documented as idempotent
        if sub["status"] != "AWAITING REVIEW":
            raise ApiError(400, f"Submission {sub_id} is {sub['status']}; a status once changed cannot be restored.")
        if action == "REJECT":
            message, category = body.get("message", ""), body.get("rejection_category")
            if len(message) < api.MIN_REJECTION_MESSAGE or not category:
                self.problems.append(f"REJECT {sub_id}: message of {len(message)} characters, category {category!r}")
                raise ApiError(400, {"message": [f"Give a message of at least {api.MIN_REJECTION_MESSAGE} characters and a rejection_category."]})
            sub["rejection"] = (message, category)
        sub["status"] = target
        return 200, {"id": sub_id, "status": sub["status"]}

    def setup_bonus(self, body: dict) -> tuple[int, dict]:
        sid = body["study_id"]
        study = self._study(sid)
        lines, total = [], 0
        for line in body["csv_bonuses"].strip().splitlines():
            m = re.fullmatch(r"([A-Za-z0-9]+),(\d+(?:\.\d{1,2})?)", line.strip())
            if not m:
                raise ApiError(400, {"csv_bonuses": [f"Invalid line {line!r}: use participant_id,amount"]})
            who = m.group(1)
            took_part = [s for s in self.submissions.values() if s["study_id"] == sid and who in (s["participant_id"], s["id"])]
            if not took_part:
                raise ApiError(400, {"csv_bonuses": [f"{who} has not taken part in this study."]})
            amount = Decimal(m.group(2))
            lines.append((took_part[0]["participant_id"], amount))
            total += int(amount * 100)
        bid = _oid()
        fees = float(round(total * FEE, 2))
        self.bonuses[bid] = {"id": bid, "study": sid, "amount": total, "fees": fees, "vat": 0, "total_amount": total + fees, "lines": lines, "currency": study["currency_code"]}
        return 201, {k: v for k, v in self.bonuses[bid].items() if k not in ("lines", "currency")}

    def pay_bonus(self, bid: str) -> tuple[int, object]:
        bonus = self.bonuses.get(bid)
        if bonus is None:
            raise ApiError(404, "Not found.")
        # "Not idempotent": every call pays the participants again.
        self.payments[bid] += 1
        for pid, amount in bonus["lines"]:
            self.paid[(pid, bonus["currency"])] += amount
        return 202, f"Bulk bonus payment with ID {bid} is being processed asynchronously. Payments will be completed shortly."

    def send_message(self, body: dict) -> tuple[int, dict]:
        self._study(body["study_id"])
        self.messages.append(body)
        return 204, {}

    def handle(self, op: api.Operation, args: tuple, path: str, body, query: dict):
        n = op.name
        if n == "get-user":
            return 200, {"id": "researcher1", "email": "r@example.org"}
        if n == "get-workspaces":
            return 200, self._page(path, [{"id": w["id"], "title": w["title"]} for w in self.workspaces.values()], query)
        if n == "get-workspace-balance":
            return 200, self.balance(args[0])
        if n == "get-studies":
            return 200, self._page(path, list(self.studies.values()), query)
        if n == "create-study":
            return self.create_study(body)
        if n == "get-study":
            return 200, self._study(args[0])
        if n == "transition-study":
            return self.transition_study(args[0], body)
        if n == "get-submissions":
            return self.list_submissions(args[0], path, query)
        if n == "create-bonus-payments":
            return self.setup_bonus(body)
        if n == "transition-submission":
            return self.transition_submission(args[0], body)
        if n == "pay-bonus-payments":
            return self.pay_bonus(args[0])
        return self.send_message(body)

    def _fault_for(self, method: str, path: str) -> Fault | None:
        for f in self.faults:
            if f.method == method and re.search(f.path, path):
                self.faults.remove(f)
                return f
        return None

    def __call__(self, environ, start_response):
        request = Request(environ)
        fault = None
        try:
            if request.headers.get("Authorization") != f"Token {self.token}":
                raise ApiError(401, "Invalid token.")
            found = api.match(request.method, request.path)
            if found is None:
                self.problems.append(f"{request.method} {request.path}: no such operation in the API reference")
                raise ApiError(404, "Not found.")
            op, args = found
            body = None
            if request.data:
                if request.mimetype != "application/json":
                    raise ApiError(415, "Send JSON.")
                body = json.loads(request.data)
            problems = api.validate(op.body, body)
            if problems:
                self.problems += [f"{op.name}: {p}" for p in problems]
                raise ApiError(400, problems)
            with self.lock:
                self.calls.append(op.name)
                if self.throttle_next:
                    self.throttle_next -= 1
                    raise ApiError(429, "Request was throttled.")
                fault = self._fault_for(request.method, request.path)
                if fault and fault.kind == "refuse":
                    raise ApiError(fault.status, fault.detail or "Refused.")
                if fault and fault.before:
                    status, out = 0, None
                else:
                    status, out = self.handle(op, args, request.path, body, parse_qs(request.query_string.decode()))
            response = Response(json.dumps(out), status=status or 500, mimetype="application/json")
        except ApiError as exc:
            response = Response(json.dumps({"error": {"status": exc.status, "detail": exc.detail}}), status=exc.status, mimetype="application/json")
            if exc.status == 429:
                response.headers["Retry-After"] = "0"
        if fault and fault.kind == "hang":
            self.reached.set()
            self.release.wait(60)
        if fault and fault.kind in ("drop", "hang"):
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        if fault and fault.kind == "502":
            response = Response("<html>502 Bad Gateway</html>", status=502, mimetype="text/html")
        return response(environ, start_response)
