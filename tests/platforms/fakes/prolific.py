"""A local Prolific API for tests: the documented endpoints the adapter uses, held in memory.

Token authentication (``Authorization: Token ...``), JSON bodies checked field by field
(400 with Prolific's ``{"error": {"detail": ...}}`` shape), paginated submissions with
``_links.next.href``, submission transitions that only apply to submissions awaiting
review, and bulk bonus payments that are set up once and paid once.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response


def _oid() -> str:
    return secrets.token_hex(12)


class ApiError(Exception):
    def __init__(self, status: int, detail):
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


@dataclass
class FakeProlific:
    token: str = "prolific-test-token"
    studies: dict[str, dict] = field(default_factory=dict)
    submissions: dict[str, dict] = field(default_factory=dict)
    bonuses: dict[str, dict] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    page_size: int = 2
    fail_next: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    url: str = ""

    # ---- the participant's side

    def start(self, study_id: str, pid: str) -> str:
        """A participant takes a place; returns the SESSION_ID Prolific puts in the study URL."""
        with self.lock:
            study = self.studies[study_id]
            if study["status"] != "ACTIVE":
                raise ValueError(f"study {study_id} is {study['status']}")
            session_id = _oid()
            sub_id = _oid()
            self.submissions[sub_id] = {"id": sub_id, "study_id": study_id, "participant_id": pid, "session_id": session_id, "status": "ACTIVE", "started_at": "2026-11-29T10:00:00Z", "completed_at": None, "time_taken": None, "study_code": None}
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

    def create_study(self, body: dict) -> tuple[int, dict]:
        problems = {}
        for name, kind in [("name", str), ("internal_name", str), ("description", str), ("external_study_url", str), ("prolific_id_option", str), ("completion_codes", list), ("total_available_places", int), ("estimated_completion_time", int), ("reward", int)]:
            value = body.get(name)
            if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 1) or (kind is str and not value.strip()):
                problems[name] = [f"A valid {kind.__name__} is required."]
        url = body.get("external_study_url", "")
        if isinstance(url, str) and not url.startswith("https://"):
            problems["external_study_url"] = ["Enter a valid HTTPS URL."]
        if body.get("prolific_id_option") == "url_parameters" and "{{%PROLIFIC_PID%}}" not in str(url):
            problems["external_study_url"] = ["The URL must carry {{%PROLIFIC_PID%}} when prolific_id_option is url_parameters."]
        for code in body.get("completion_codes") or []:
            if not isinstance(code, dict) or not code.get("code") or code.get("code_type") not in ("COMPLETED", "FAILED_ATTENTION_CHECK", "OTHER"):
                problems["completion_codes"] = ["Each completion code needs a code and a code_type."]
        if problems:
            raise ApiError(400, problems)
        sid = _oid()
        study = {**body, "id": sid, "status": "UNPUBLISHED"}
        self.studies[sid] = study
        return 201, study

    def transition_study(self, sid: str, body: dict) -> tuple[int, dict]:
        study = self._study(sid)
        action = body.get("action")
        if action == "PUBLISH" and study["status"] == "UNPUBLISHED":
            study["status"] = "ACTIVE"
        elif action == "STOP" and study["status"] in ("ACTIVE", "PAUSED"):
            study["status"] = "AWAITING REVIEW"
        else:
            raise ApiError(400, f"Cannot {action} a study that is {study['status']}.")
        return 200, study

    def list_submissions(self, sid: str, query: dict) -> tuple[int, dict]:
        self._study(sid)
        rows = [s for s in self.submissions.values() if s["study_id"] == sid]
        page = int(query.get("page", ["1"])[0])
        chunk = rows[(page - 1) * self.page_size : page * self.page_size]
        nxt = f"{self.url}/api/v1/studies/{sid}/submissions/?page={page + 1}" if page * self.page_size < len(rows) else None
        out = [{k: v for k, v in s.items() if k not in ("study_id", "session_id")} for s in chunk]
        return 200, {"results": out, "_links": {"next": {"href": nxt}, "previous": {"href": None}}, "meta": {"count": len(rows)}}

    def transition_submission(self, sub_id: str, body: dict) -> tuple[int, dict]:
        sub = self.submissions.get(sub_id)
        if sub is None:
            raise ApiError(404, "Not found.")
        if sub["status"] != "AWAITING REVIEW":
            raise ApiError(400, f"Submission {sub_id} is {sub['status']}; only submissions awaiting review can be approved or rejected.")
        if body.get("action") == "APPROVE":
            sub["status"] = "APPROVED"
        elif body.get("action") == "REJECT":
            if not body.get("message") or len(body["message"]) < 10 or not body.get("rejection_category"):
                raise ApiError(400, {"message": ["Give the participant a reason of at least 10 characters and a rejection_category."]})
            sub["status"] = "REJECTED"
        else:
            raise ApiError(400, {"action": ["Unknown action."]})
        return 200, {"id": sub_id, "status": sub["status"]}

    def setup_bonus(self, body: dict) -> tuple[int, dict]:
        sid = body.get("study_id")
        self._study(sid)
        total = 0
        for line in (body.get("csv_bonuses") or "").strip().splitlines():
            m = re.fullmatch(r"([A-Za-z0-9]+),(\d+\.\d{2})", line.strip())
            if not m:
                raise ApiError(400, {"csv_bonuses": [f"Invalid line {line!r}: use participant_id,amount"]})
            if not any(s["participant_id"] == m.group(1) and s["study_id"] == sid for s in self.submissions.values()):
                raise ApiError(400, {"csv_bonuses": [f"Participant {m.group(1)} has no submission in this study."]})
            total += round(float(m.group(2)) * 100)
        bid = _oid()
        self.bonuses[bid] = {"id": bid, "study": sid, "amount": total, "fees": round(total * 0.3333), "total_amount": total + round(total * 0.3333), "csv": body["csv_bonuses"], "paid": False}
        return 201, {k: v for k, v in self.bonuses[bid].items() if k not in ("csv", "paid")}

    def pay_bonus(self, bid: str) -> tuple[int, dict]:
        bonus = self.bonuses.get(bid)
        if bonus is None:
            raise ApiError(404, "Not found.")
        if bonus["paid"]:
            raise ApiError(400, "This bonus has already been paid.")
        bonus["paid"] = True
        return 202, {}

    def route(self, method: str, path: str, body: dict, query: dict) -> tuple[int, dict]:
        routes = [
            ("GET", r"/api/v1/users/me/", lambda m: (200, {"id": "researcher1", "email": "r@example.org"})),
            ("POST", r"/api/v1/studies/", lambda m: self.create_study(body)),
            ("GET", r"/api/v1/studies/", lambda m: (200, {"results": list(self.studies.values()), "_links": {"next": {"href": None}}})),
            ("GET", r"/api/v1/studies/(\w+)/", lambda m: (200, self._study(m.group(1)))),
            ("POST", r"/api/v1/studies/(\w+)/transition/", lambda m: self.transition_study(m.group(1), body)),
            ("GET", r"/api/v1/studies/(\w+)/submissions/", lambda m: self.list_submissions(m.group(1), query)),
            ("POST", r"/api/v1/submissions/bulk-bonus-payments/", lambda m: self.setup_bonus(body)),
            ("POST", r"/api/v1/submissions/(\w+)/transition/", lambda m: self.transition_submission(m.group(1), body)),
            ("POST", r"/api/v1/bulk-bonus-payments/(\w+)/pay/", lambda m: self.pay_bonus(m.group(1))),
        ]
        for verb, pattern, handler in routes:
            m = re.fullmatch(pattern, path)
            if m and verb == method:
                return handler(m)
        raise ApiError(404, "Not found.")

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            if request.headers.get("Authorization") != f"Token {self.token}":
                raise ApiError(401, "Invalid token.")
            body = {}
            if request.method == "POST" and request.data:
                if request.mimetype != "application/json":
                    raise ApiError(415, "Send JSON.")
                body = json.loads(request.data)
            with self.lock:
                self.calls.append(f"{request.method} {request.path}")
                if self.fail_next:
                    self.fail_next -= 1
                    raise ApiError(429, "Request was throttled.")
                status, out = self.route(request.method, request.path, body, parse_qs(request.query_string.decode()))
            response = Response(json.dumps(out), status=status, mimetype="application/json")
        except ApiError as exc:
            response = Response(json.dumps({"error": {"status": exc.status, "detail": exc.detail}}), status=exc.status, mimetype="application/json")
            if exc.status == 429:
                response.headers["Retry-After"] = "0"
        return response(environ, start_response)
