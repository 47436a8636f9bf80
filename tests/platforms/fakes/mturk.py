"""A local Mechanical Turk requester endpoint for tests: AWS JSON 1.1, checked against botocore's model.

Every request must carry ``X-Amz-Target: MTurkRequesterServiceV20170117.<Operation>``, a
SigV4 ``Authorization`` header from a known access key with a valid signature, and a JSON
body that fits the operation's input shape in botocore's own MTurk service model (required
members, unknown members, types, lengths, enums). Every answer is checked against the
output shape before it is sent, so the fake cannot drift from what boto3 parses. Errors
are HTTP 400 with ``__type`` (``RequestError``, ``ServiceFault``, ``ThrottlingException``).

The same WSGI app plays the worker side: ``/mturk/externalSubmit`` takes a submitted form
(as MTurk does, every field but ``assignmentId`` becomes a ``FreeText`` answer), and
``/mturk/htmlquestion/<HITId>`` shows an HTMLQuestion's page the way MTurk frames it.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import parse_qsl

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from study.platforms.questions import answers_xml

TARGET_PREFIX = "MTurkRequesterServiceV20170117."
_MODEL = botocore.session.get_session().get_service_model("mturk")
_ALNUM = string.ascii_uppercase + string.digits


def _id(n: int = 30) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


class FakeError(Exception):
    def __init__(self, type_: str, message: str, turk_code: str = "", status: int = 400):
        super().__init__(message)
        self.type = type_
        self.message = message
        self.turk_code = turk_code
        self.status = status


def _request_error(message: str, turk_code: str = "") -> FakeError:
    return FakeError("RequestError", message, turk_code)


# ----------------------------------------------------------------------------- model checks


def validate(shape, value, path: str = "") -> list[str]:
    """Problems of a JSON value against a botocore shape (the wire form: timestamps are numbers)."""
    where = path or shape.name
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        problems = [f"{where}: missing required member {m}" for m in shape.required_members if m not in value]
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{where}: unknown member {key}")
            else:
                problems += validate(shape.members[key], item, f"{where}.{key}")
        return problems
    if t == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        problems = []
        if "min" in shape.metadata and len(value) < shape.metadata["min"]:
            problems.append(f"{where}: fewer than {shape.metadata['min']} items")
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            problems.append(f"{where}: more than {shape.metadata['max']} items")
        for i, item in enumerate(value):
            problems += validate(shape.member, item, f"{where}[{i}]")
        return problems
    if t == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {type(value).__name__}"]
        problems = []
        if "min" in shape.metadata and len(value) < shape.metadata["min"]:
            problems.append(f"{where}: shorter than {shape.metadata['min']}")
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            problems.append(f"{where}: longer than {shape.metadata['max']}")
        if shape.enum and value not in shape.enum:
            problems.append(f"{where}: {value!r} is not one of {shape.enum}")
        if "pattern" in shape.metadata and not re.fullmatch(shape.metadata["pattern"], value):
            problems.append(f"{where}: {value!r} does not match {shape.metadata['pattern']}")
        return problems
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{where}: expected an integer, got {type(value).__name__}"]
        if "min" in shape.metadata and value < shape.metadata["min"]:
            return [f"{where}: below {shape.metadata['min']}"]
        return []
    if t in ("double", "float"):
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{where}: expected a number"]
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected true or false"]
    if t == "timestamp":
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{where}: expected epoch seconds"]
    return [f"{where}: shape type {t} not checked by the fake"]


# ----------------------------------------------------------------------------- state


@dataclass
class FakeHit:
    hit_id: str
    hit_type_id: str
    question: str
    max_assignments: int
    lifetime: int
    annotation: str
    created: float
    expiration: float
    type: dict
    status: str = "Assignable"


@dataclass
class FakeAssignment:
    assignment_id: str
    hit_id: str
    worker_id: str
    accept_time: float
    status: str = "Accepted"
    submit_time: float | None = None
    answer: str = ""
    feedback: str = ""
    approval_time: float | None = None
    rejection_time: float | None = None


@dataclass
class FakeMTurk:
    """The requester API and the worker side of one MTurk environment, held in memory."""

    credentials: dict[str, str] = field(default_factory=lambda: {"AKIDFAKEMTURK": "fake-secret"})
    balance: Decimal = Decimal("10000.00")
    hits: dict[str, FakeHit] = field(default_factory=dict)
    hit_types: dict[str, dict] = field(default_factory=dict)
    assignments: dict[str, FakeAssignment] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    bonus_tokens: set[str] = field(default_factory=set)
    bonuses: list[dict] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    submits: list[dict] = field(default_factory=list)
    throttle_left: int = 0
    throttle_ops: set[str] | None = None
    # Pause the n-th CreateHIT* after storing the HIT (to kill a publisher mid-way).
    pause_after_creates: int | None = None
    paused: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    created: int = 0

    # ---- test helpers (the worker's side, without a browser)

    def throttle(self, n: int, operations: set[str] | None = None) -> None:
        self.throttle_left, self.throttle_ops = n, operations

    def accept(self, hit_id: str, worker_id: str) -> str:
        with self.lock:
            hit = self.hits[hit_id]
            if hit.status != "Assignable" or time.time() > hit.expiration:
                raise ValueError(f"HIT {hit_id} is not open for work ({hit.status})")
            if any(a.hit_id == hit_id and a.worker_id == worker_id for a in self.assignments.values()):
                raise ValueError(f"worker {worker_id} already took HIT {hit_id}")
            if self._taken(hit_id) >= hit.max_assignments:
                raise ValueError(f"HIT {hit_id} has no assignment left")
            aid = _id()
            self.assignments[aid] = FakeAssignment(aid, hit_id, worker_id, time.time())
            if self._taken(hit_id) >= hit.max_assignments:
                hit.status = "Unassignable"
            return aid

    def submit(self, assignment_id: str, fields: dict[str, str]) -> None:
        with self.lock:
            a = self.assignments.get(assignment_id)
            if a is None or a.status != "Accepted":
                raise _request_error(f"assignment {assignment_id} is not accepted by a worker", "AWS.MechanicalTurk.AssignmentNotAccepted")
            a.status, a.submit_time = "Submitted", time.time()
            a.answer = answers_xml({k: v for k, v in fields.items() if k != "assignmentId"})
            hit = self.hits[a.hit_id]
            if self._taken(a.hit_id) >= hit.max_assignments and all(x.status != "Accepted" for x in self._of(a.hit_id)):
                hit.status = "Reviewable"

    def _of(self, hit_id: str) -> list[FakeAssignment]:
        return [a for a in self.assignments.values() if a.hit_id == hit_id]

    def _taken(self, hit_id: str) -> int:
        return len(self._of(hit_id))

    # ---- the requester API

    def _hit_out(self, h: FakeHit) -> dict:
        t = h.type
        of = self._of(h.hit_id)
        out = {
            "HITId": h.hit_id,
            "HITTypeId": h.hit_type_id,
            "HITGroupId": h.hit_type_id,
            "CreationTime": h.created,
            "Title": t["Title"],
            "Description": t["Description"],
            "Question": h.question,
            "Keywords": t.get("Keywords", ""),
            "HITStatus": h.status,
            "MaxAssignments": h.max_assignments,
            "Reward": t["Reward"],
            "AutoApprovalDelayInSeconds": t.get("AutoApprovalDelayInSeconds", 2592000),
            "Expiration": h.expiration,
            "AssignmentDurationInSeconds": t["AssignmentDurationInSeconds"],
            "RequesterAnnotation": h.annotation,
            "QualificationRequirements": t.get("QualificationRequirements", []),
            "HITReviewStatus": "NotReviewed",
            "NumberOfAssignmentsPending": sum(a.status == "Accepted" for a in of),
            "NumberOfAssignmentsAvailable": max(0, h.max_assignments - len(of)),
            "NumberOfAssignmentsCompleted": sum(a.status in ("Approved", "Rejected") for a in of),
        }
        return {k: v for k, v in out.items() if v != ""}

    @staticmethod
    def _fee(reward: Decimal, assignments: int) -> Decimal:
        rate = Decimal("0.40") if assignments >= 10 else Decimal("0.20")
        return max(Decimal("0.01"), (reward * rate).quantize(Decimal("0.01")))

    def op_GetAccountBalance(self, p):
        return {"AvailableBalance": f"{self.balance:.2f}"}

    def op_CreateHITType(self, p):
        key = json.dumps(p, sort_keys=True)
        for tid, t in self.hit_types.items():
            if json.dumps(t, sort_keys=True) == key:
                return {"HITTypeId": tid}  # MTurk answers the same id for the same properties
        self._check_reward(p["Reward"])
        tid = _id()
        self.hit_types[tid] = dict(p)
        return {"HITTypeId": tid}

    def _check_reward(self, reward: str) -> Decimal:
        if not re.fullmatch(r"\d+\.\d{2}", reward):
            raise _request_error(f"Reward {reward!r} is not a valid amount (like 0.50)", "AWS.ParameterOutOfRange")
        return Decimal(reward)

    def _create(self, type_id: str, p: dict) -> dict:
        t = self.hit_types[type_id]
        question = p.get("Question", "")
        if len(question.encode()) > 65535:
            raise _request_error("Question is longer than 65535 bytes", "AWS.ParameterOutOfRange")
        if "ExternalQuestion" in question:
            url = re.search(r"<ExternalURL>(.*?)</ExternalURL>", question, re.S)
            if not url or not url.group(1).strip().startswith("https://"):
                raise _request_error("The ExternalURL must use HTTPS", "AWS.MechanicalTurk.XMLParseError")
        elif "HTMLQuestion" not in question:
            raise _request_error("Question is neither an ExternalQuestion nor an HTMLQuestion", "AWS.MechanicalTurk.XMLParseError")
        token = p.get("UniqueRequestToken")
        if token and token in self.tokens:
            raise _request_error(
                f"The HIT with ID {self.tokens[token]} already exists for this UniqueRequestToken.",
                "AWS.MechanicalTurk.HitAlreadyExists",
            )
        n = p.get("MaxAssignments", 1)
        reward = Decimal(t["Reward"])
        cost = (reward + self._fee(reward, n)) * n
        if cost > self.balance:
            raise _request_error(f"Insufficient funds: the HIT needs ${cost:.2f}, the balance is ${self.balance:.2f}", "AWS.MechanicalTurk.InsufficientFunds")
        now = time.time()
        hit = FakeHit(_id(), type_id, question, n, p["LifetimeInSeconds"], p.get("RequesterAnnotation", ""), now, now + p["LifetimeInSeconds"], t)
        self.hits[hit.hit_id] = hit
        if token:
            self.tokens[token] = hit.hit_id
        self.created += 1
        return {"HIT": self._hit_out(hit)}

    def op_CreateHIT(self, p):
        type_params = {k: p[k] for k in ("AutoApprovalDelayInSeconds", "AssignmentDurationInSeconds", "Reward", "Title", "Keywords", "Description", "QualificationRequirements") if k in p}
        type_id = self.op_CreateHITType(type_params)["HITTypeId"]
        return self._create(type_id, p)

    def op_CreateHITWithHITType(self, p):
        if p["HITTypeId"] not in self.hit_types:
            raise _request_error(f"HIT type {p['HITTypeId']} does not exist", "AWS.MechanicalTurk.HITTypeDoesNotExist")
        return self._create(p["HITTypeId"], p)

    def _hit(self, hit_id: str) -> FakeHit:
        if hit_id not in self.hits:
            raise _request_error(f"Hit {hit_id} does not exist.", "AWS.MechanicalTurk.HitDoesNotExist")
        return self.hits[hit_id]

    def op_GetHIT(self, p):
        return {"HIT": self._hit_out(self._hit(p["HITId"]))}

    @staticmethod
    def _page(items: list, p: dict) -> tuple[list, dict]:
        start = int(p.get("NextToken") or 0)
        size = p.get("MaxResults", 10)
        page = items[start : start + size]
        extra = {"NextToken": str(start + size)} if start + size < len(items) else {}
        return page, extra

    def op_ListHITs(self, p):
        page, extra = self._page(list(self.hits.values()), p)
        return {"NumResults": len(page), "HITs": [self._hit_out(h) for h in page], **extra}

    def op_ListAssignmentsForHIT(self, p):
        self._hit(p["HITId"])
        statuses = p.get("AssignmentStatuses") or ["Submitted", "Approved", "Rejected"]
        rows = [a for a in self._of(p["HITId"]) if a.status in statuses]
        page, extra = self._page(rows, p)
        out = []
        for a in page:
            item = {"AssignmentId": a.assignment_id, "WorkerId": a.worker_id, "HITId": a.hit_id, "AssignmentStatus": a.status, "AcceptTime": a.accept_time, "SubmitTime": a.submit_time, "Answer": a.answer, "AutoApprovalTime": (a.submit_time or 0) + 259200}
            if a.approval_time:
                item["ApprovalTime"] = a.approval_time
            if a.rejection_time:
                item["RejectionTime"] = a.rejection_time
            if a.feedback:
                item["RequesterFeedback"] = a.feedback
            out.append(item)
        return {"NumResults": len(out), "Assignments": out, **extra}

    def _assignment(self, aid: str) -> FakeAssignment:
        if aid not in self.assignments:
            raise _request_error(f"Assignment {aid} does not exist.", "AWS.MechanicalTurk.AssignmentDoesNotExist")
        return self.assignments[aid]

    def op_GetAssignment(self, p):
        a = self._assignment(p["AssignmentId"])
        if a.status == "Accepted":
            # The model's AssignmentStatus has no "Accepted": MTurk shows work only once submitted.
            raise _request_error(f"Assignment {a.assignment_id} has not been submitted yet.", "AWS.MechanicalTurk.AssignmentDoesNotExist")
        item = {"AssignmentId": a.assignment_id, "WorkerId": a.worker_id, "HITId": a.hit_id, "AssignmentStatus": a.status, "AcceptTime": a.accept_time}
        if a.submit_time:
            item.update(SubmitTime=a.submit_time, Answer=a.answer)
        return {"Assignment": item, "HIT": self._hit_out(self.hits[a.hit_id])}

    def op_ApproveAssignment(self, p):
        a = self._assignment(p["AssignmentId"])
        if a.status == "Approved":
            raise _request_error(f"This operation can be called with a status of: Submitted (assignment {a.assignment_id} is Approved)", "AWS.MechanicalTurk.InvalidAssignmentState")
        if a.status == "Rejected" and not p.get("OverrideRejection"):
            raise _request_error(f"Assignment {a.assignment_id} was rejected", "AWS.MechanicalTurk.InvalidAssignmentState")
        if a.status not in ("Submitted", "Rejected"):
            raise _request_error(f"Assignment {a.assignment_id} is {a.status}, not Submitted", "AWS.MechanicalTurk.InvalidAssignmentState")
        hit = self.hits[a.hit_id]
        reward = Decimal(hit.type["Reward"])
        self.balance -= reward + self._fee(reward, hit.max_assignments)
        a.status, a.approval_time, a.feedback = "Approved", time.time(), p.get("RequesterFeedback", "")
        return {}

    def op_RejectAssignment(self, p):
        a = self._assignment(p["AssignmentId"])
        if a.status != "Submitted":
            raise _request_error(f"Assignment {a.assignment_id} is {a.status}, not Submitted", "AWS.MechanicalTurk.InvalidAssignmentState")
        a.status, a.rejection_time, a.feedback = "Rejected", time.time(), p["RequesterFeedback"]
        return {}

    def op_SendBonus(self, p):
        a = self._assignment(p["AssignmentId"])
        if a.worker_id != p["WorkerId"]:
            raise _request_error(f"Assignment {a.assignment_id} was not done by worker {p['WorkerId']}", "AWS.MechanicalTurk.InvalidParameterValue")
        token = p.get("UniqueRequestToken")
        if token and token in self.bonus_tokens:
            return {}  # the same token again: already paid, not paid twice
        amount = self._check_reward(p["BonusAmount"])
        cost = amount + max(Decimal("0.01"), (amount * Decimal("0.20")).quantize(Decimal("0.01")))
        if cost > self.balance:
            raise _request_error("Insufficient funds for the bonus", "AWS.MechanicalTurk.InsufficientFunds")
        self.balance -= cost
        if token:
            self.bonus_tokens.add(token)
        self.bonuses.append({"worker": p["WorkerId"], "assignment": a.assignment_id, "amount": amount, "reason": p["Reason"], "token": token})
        return {}

    def op_UpdateExpirationForHIT(self, p):
        hit = self._hit(p["HITId"])
        hit.expiration = p["ExpireAt"]
        if hit.expiration <= time.time():
            hit.status = "Reviewable" if hit.status != "Assignable" or self._of(hit.hit_id) else "Reviewable"
        return {}

    def op_DeleteHIT(self, p):
        hit = self._hit(p["HITId"])
        if hit.status != "Reviewable" or any(a.status in ("Accepted", "Submitted") for a in self._of(hit.hit_id)):
            raise _request_error(f"HIT {hit.hit_id} is not Reviewable with every assignment decided", "AWS.MechanicalTurk.InvalidHITState")
        hit.status = "Disposed"
        return {}

    # ---- the wire

    def _check_signature(self, environ, body: bytes, headers: dict) -> None:
        auth = headers.get("authorization", "")
        m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)", auth)
        if not m:
            raise FakeError("MissingAuthenticationTokenException", "Missing Authentication Token")
        akid, _, region, service, signed, signature = m.groups()
        if akid not in self.credentials:
            raise FakeError("UnrecognizedClientException", "The security token included in the request is invalid.")
        if region != "us-east-1" or service != "mturk-requester":
            raise FakeError("InvalidSignatureException", f"Credential should be scoped to region us-east-1 and service mturk-requester, not {region}/{service}")
        names = signed.split(";")
        request = AWSRequest(method="POST", url=f"http://{headers['host']}{environ.get('PATH_INFO') or '/'}", data=body, headers={n: headers[n] for n in names if n in headers})
        request.context["timestamp"] = headers.get("x-amz-date", "")
        signer = SigV4Auth(Credentials(akid, self.credentials[akid]), service, region)
        # Sign exactly the headers the client signed (proxies and servers add others).
        signer.headers_to_sign = lambda req: _headers(req, names)  # type: ignore[method-assign]
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if expected != signature:
            raise FakeError("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")

    def api(self, environ, body: bytes) -> tuple[int, dict]:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        try:
            target = headers.get("x-amz-target", "")
            if not target.startswith(TARGET_PREFIX):
                raise FakeError("UnknownOperationException", f"X-Amz-Target {target!r} is not an MTurk operation")
            op = target[len(TARGET_PREFIX):]
            if op not in _MODEL.operation_names:
                raise FakeError("UnknownOperationException", f"unknown operation {op}")
            if headers["content-type"] != "application/x-amz-json-1.1":
                raise FakeError("SerializationException", f"content type {headers['content-type']!r} is not application/x-amz-json-1.1")
            self._check_signature(environ, body, headers)
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                raise FakeError("SerializationException", "the body is not JSON") from None
            model = _MODEL.operation_model(op)
            problems = validate(model.input_shape, params) if model.input_shape else ([] if not params else ["no input expected"])
            if problems:
                raise FakeError("ValidationException", f"{op}: " + "; ".join(problems[:5]))
            with self.lock:
                self.calls.append(op)
                if self.throttle_left and (self.throttle_ops is None or op in self.throttle_ops):
                    self.throttle_left -= 1
                    raise FakeError("ThrottlingException", "Rate exceeded")
                handler = getattr(self, f"op_{op}", None)
                if handler is None:
                    raise FakeError("ServiceFault", f"the fake does not implement {op}")
                out = handler(params)
                pause = op.startswith("CreateHIT") and op != "CreateHITType" and self.pause_after_creates == self.created
            if pause:
                self.paused.set()
                self.release.wait(30)
            problems = validate(model.output_shape, out) if model.output_shape else []
            if problems:
                return 500, {"__type": "ServiceFault", "Message": "fake produced an invalid answer: " + "; ".join(problems[:5])}
            return 200, out
        except FakeError as exc:
            body_out = {"__type": exc.type, "Message": exc.message}
            if exc.turk_code:
                body_out["TurkErrorCode"] = exc.turk_code
            return exc.status, body_out

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        method = environ["REQUEST_METHOD"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if method == "POST" and path == "/":
            status, out = self.api(environ, body)
            data = json.dumps(out).encode()
            start_response(f"{status} {'OK' if status == 200 else 'Bad Request'}", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data))), ("x-amzn-RequestId", _id(36))])
            return [data]
        if method == "POST" and path.rstrip("/") == "/mturk/externalSubmit":
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            self.submits.append(fields)
            try:
                self.submit(fields.get("assignmentId", ""), fields)
                page = b"<!doctype html><title>MTurk</title><p id=submitted>HIT submitted</p>"
                code = "200 OK"
            except FakeError as exc:
                page = f"<!doctype html><title>MTurk</title><p id=refused>{exc.message}</p>".encode()
                code = "400 Bad Request"
            start_response(code, [("Content-Type", "text/html; charset=utf-8")])
            return [page]
        m = re.fullmatch(r"/mturk/htmlquestion/([A-Z0-9]+)", path)
        if method == "GET" and m and m.group(1) in self.hits:
            content = re.search(r"<HTMLContent><!\[CDATA\[(.*)\]\]></HTMLContent>", self.hits[m.group(1)].question, re.S)
            html = content.group(1).replace("]]]]><![CDATA[>", "]]>") if content else ""
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [html.encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]


def _headers(request, names):
    from botocore.awsrequest import HTTPHeaders

    out = HTTPHeaders()
    for name in names:
        value = request.headers.get(name)
        if value is not None:
            out[name] = value.strip() if isinstance(value, str) else value
    return out


class Running:
    """A WSGI app served on 127.0.0.1 in a thread; ``url`` is its address."""

    def __init__(self, app, ssl: tuple | None = None):
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        context = None
        if ssl is not None:
            import ssl as ssl_module

            context = ssl_module.SSLContext(ssl_module.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(ssl[0]), str(ssl[1]))
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet, ssl_context=context)
        self.url = f"{'https' if ssl else 'http'}://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.thread.join(5)


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)
