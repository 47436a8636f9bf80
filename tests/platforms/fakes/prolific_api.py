"""The parts of Prolific's published API reference that Barlow uses, as request schemas for the fake.

Taken from the API reference pages at docs.prolific.com and their OpenAPI 3.1 fragments:
  users/get-user                      GET  /api/v1/users/me/
  workspaces/get-workspaces           GET  /api/v1/workspaces/
  workspaces/get-workspace-balance    GET  /api/v1/workspaces/{workspace_id}/balance/
                                           (currency_code; balances in the workspace's sub-currency)
  studies/get-studies                 GET  /api/v1/studies/
  studies/create-study                POST /api/v1/studies/  (the study object: reward in cents of the
                                           account currency, estimated_completion_time in minutes,
                                           completion_codes, filters listed as required)
  studies/get-study                   GET  /api/v1/studies/{id}/
  studies/publish-study               POST /api/v1/studies/{id}/transition/  (action PUBLISH / PAUSE / START / STOP)
  submissions/get-submissions         GET  /api/v1/studies/{id}/submissions/  (paginated, _links.next.href)
  submissions/transition-submission   POST /api/v1/submissions/{id}/transition/  (idempotent; REJECT needs a
                                           message of at least 100 characters and a rejection_category)
  bonuses/create-bonus-payments       POST /api/v1/submissions/bonus-payments/  (study_id, csv_bonuses of
                                           "<participant_id|submission_id>,<amount>" lines in the study currency)
  bonuses/pay-bonus-payments          POST /api/v1/bulk-bonus-payments/{id}/pay/  ("not idempotent": each call pays)
  messages/send-message               POST /api/v1/messages/  (recipient_id, body, study_id)
The rejection categories are the ones Prolific's own CLI (prolific-oss/cli, submission transition) lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REJECTION_CATEGORIES = [
    "TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK", "LOW_EFFORT",
    "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER",
]
SUBMISSION_ACTIONS = ["APPROVE", "REJECT", "COMPLETE", "RETURN", "SCREEN_OUT", "START", "UNREJECT", "UNRETURN"]
STUDY_ACTIONS = ["PUBLISH", "PAUSE", "START", "STOP"]
CODE_TYPES = ["COMPLETED", "FAILED_ATTENTION_CHECK", "FOLLOW_UP_STUDY", "GIVE_BONUS", "INCOMPATIBLE_DEVICE", "NO_CONSENT", "OTHER", "FIXED_SCREENOUT"]
CODE_ACTIONS = ["AUTOMATICALLY_APPROVE", "MANUALLY_REVIEW", "ADD_TO_PARTICIPANT_GROUP", "REMOVE_FROM_PARTICIPANT_GROUP", "REQUEST_RETURN", "DYNAMIC_PAYMENT"]
MIN_REJECTION_MESSAGE = 100

_STRING = {"type": "string", "minLength": 1}
_COUNT = {"type": "integer", "minimum": 1}

CREATE_STUDY = {
    "type": "object",
    "required": ["name", "description", "external_study_url", "prolific_id_option", "completion_codes", "total_available_places", "estimated_completion_time", "reward", "filters"],
    "additionalProperties": False,
    "properties": {
        "name": _STRING,
        "internal_name": {"type": "string"},
        "description": _STRING,
        "external_study_url": {"type": "string", "pattern": r"https://\S+"},
        "prolific_id_option": {"type": "string", "enum": ["question", "url_parameters", "not_required"]},
        "completion_codes": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["code", "code_type", "actions"], "additionalProperties": False,
                "properties": {
                    "code": _STRING,
                    "code_type": {"type": "string", "enum": CODE_TYPES},
                    "actions": {"type": "array", "items": {"type": "object", "required": ["action"], "properties": {"action": {"type": "string", "enum": CODE_ACTIONS}}}},
                },
            },
        },
        "total_available_places": _COUNT,
        "estimated_completion_time": _COUNT,
        "maximum_allowed_time": _COUNT,
        "reward": _COUNT,
        "device_compatibility": {"type": "array", "items": {"type": "string", "enum": ["desktop", "tablet", "mobile"]}},
        "peripheral_requirements": {"type": "array", "items": {"type": "string"}},
        "filters": {"type": "array", "items": {"type": "object"}},
        "project": {"type": "string"},
    },
}
STUDY_TRANSITION = {"type": "object", "required": ["action"], "additionalProperties": False, "properties": {"action": {"type": "string", "enum": STUDY_ACTIONS}}}
SUBMISSION_TRANSITION = {
    "type": "object", "required": ["action"], "additionalProperties": False,
    "properties": {
        "action": {"type": "string", "enum": SUBMISSION_ACTIONS},
        "message": {"type": "string"},
        "rejection_category": {"type": "string", "enum": REJECTION_CATEGORIES},
        "completion_code": {"type": "string"},
    },
}
BONUS_SETUP = {"type": "object", "required": ["study_id", "csv_bonuses"], "additionalProperties": False, "properties": {"study_id": _STRING, "csv_bonuses": _STRING}}
SEND_MESSAGE = {"type": "object", "required": ["recipient_id", "body", "study_id"], "additionalProperties": False, "properties": {"recipient_id": _STRING, "body": _STRING, "study_id": _STRING}}
NO_BODY = None  # the operation takes no request body (an empty JSON object is tolerated)


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str  # with {placeholders}
    body: dict | None

    @property
    def pattern(self) -> re.Pattern:
        return re.compile("^" + re.sub(r"\{[a-z_]+\}", r"([A-Za-z0-9-]+)", self.path) + "$")


OPERATIONS = [
    Operation("get-user", "GET", "/api/v1/users/me/", NO_BODY),
    Operation("get-workspaces", "GET", "/api/v1/workspaces/", NO_BODY),
    Operation("get-workspace-balance", "GET", "/api/v1/workspaces/{workspace_id}/balance/", NO_BODY),
    Operation("get-studies", "GET", "/api/v1/studies/", NO_BODY),
    Operation("create-study", "POST", "/api/v1/studies/", CREATE_STUDY),
    Operation("get-study", "GET", "/api/v1/studies/{id}/", NO_BODY),
    Operation("transition-study", "POST", "/api/v1/studies/{id}/transition/", STUDY_TRANSITION),
    Operation("get-submissions", "GET", "/api/v1/studies/{id}/submissions/", NO_BODY),
    Operation("create-bonus-payments", "POST", "/api/v1/submissions/bonus-payments/", BONUS_SETUP),
    Operation("transition-submission", "POST", "/api/v1/submissions/{id}/transition/", SUBMISSION_TRANSITION),
    Operation("pay-bonus-payments", "POST", "/api/v1/bulk-bonus-payments/{id}/pay/", NO_BODY),
    Operation("send-message", "POST", "/api/v1/messages/", SEND_MESSAGE),
]


def match(method: str, path: str) -> tuple[Operation, tuple[str, ...]] | None:
    """The documented operation for this method and path, with its path parameters."""
    for op in OPERATIONS:
        m = op.pattern.match(path)
        if m and op.method == method:
            return op, m.groups()
    return None


def validate(schema: dict | None, value, where: str = "body") -> list[str]:
    """Problems of a JSON value against one of the schemas above (a JSON Schema subset)."""
    if schema is None:
        return [] if value in (None, {}) else [f"{where}: this operation takes no request body"]
    t = schema.get("type")
    if t == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        problems = [f"{where}: missing required field {k}" for k in schema.get("required", []) if k not in value]
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                problems += validate(props[key], item, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}: unknown field {key}")
        return problems
    if t == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        problems = [f"{where}: fewer than {schema['minItems']} items"] if len(value) < schema.get("minItems", 0) else []
        for i, item in enumerate(value):
            problems += validate(schema.get("items", {}), item, f"{where}[{i}]")
        return problems
    if t == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string"]
        problems = []
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{where}: shorter than {schema['minLength']}")
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            problems.append(f"{where}: {value!r} does not match {schema['pattern']}")
        return problems
    if t == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{where}: expected an integer"]
        return [f"{where}: below {schema['minimum']}"] if value < schema.get("minimum", value) else []
    return []
