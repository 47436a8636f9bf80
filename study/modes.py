"""The three ways a HIT page is opened: local session, crowd preview, crowd assignment.

Crowd platforms that embed an external page (Mechanical Turk's ExternalQuestion) pass
``assignmentId``, ``hitId``, ``workerId`` and ``turkSubmitTo`` in the URL; while a worker
only previews, ``assignmentId`` is ``ASSIGNMENT_ID_NOT_AVAILABLE``. A platform adapter
publishes HITs whose external URL is ``/hit/<hit id>``; this module is what the page needs
from such a platform.

``turkSubmitTo`` decides where the hand-off page posts a worker's answers, so only
Mechanical Turk's own origins (production and sandbox) are accepted, plus origins the
server is explicitly told about (a local fake of the platform in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping
from urllib.parse import urlsplit

PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
LOCAL, PREVIEW, ASSIGNMENT = "local", "preview", "assignment"
MTURK_ORIGINS = ("https://www.mturk.com", "https://workersandbox.mturk.com")
_MAX_PARAM = 128
_MAX_URL = 2048


class ModeError(ValueError):
    """The crowd-platform parameters are incomplete or malformed."""


@dataclass(frozen=True)
class PageMode:
    kind: str
    assignment_id: str = ""
    worker_id: str = ""
    platform_hit_id: str = ""
    submit_to: str = ""

    @property
    def read_only(self) -> bool:
        return self.kind == PREVIEW

    @property
    def external_submit_url(self) -> str:
        return self.submit_to.rstrip("/") + "/mturk/externalSubmit" if self.submit_to else ""


def submit_origin(turk_submit_to: str, allowed: Iterable[str] = MTURK_ORIGINS) -> str:
    """The origin ``turkSubmitTo`` names, if it is one the answers may be posted to."""
    try:
        parts = urlsplit(turk_submit_to)
        port = parts.port
    except ValueError:
        raise ModeError(f"turkSubmitTo is not a valid URL: {turk_submit_to[:80]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ModeError(f"turkSubmitTo must be an http(s) URL, got {turk_submit_to[:80]!r}")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ModeError("turkSubmitTo must be the platform's address alone, without a path")
    origin = f"{parts.scheme}://{parts.hostname.lower()}" + (f":{port}" if port else "")
    if origin not in {o.rstrip("/").lower() for o in allowed}:
        raise ModeError(f"turkSubmitTo must be Mechanical Turk ({' or '.join(MTURK_ORIGINS)}), got {origin[:80]!r}")
    return origin


def external_submit_url(turk_submit_to: str, allowed: Iterable[str] = MTURK_ORIGINS) -> str:
    """``{turkSubmitTo}/mturk/externalSubmit`` for an accepted platform origin."""
    return submit_origin(turk_submit_to, allowed) + "/mturk/externalSubmit"


def resolve_mode(params: Mapping[str, str], allowed_origins: Iterable[str] = MTURK_ORIGINS) -> PageMode:
    """Work out the page mode from the query string (or the submitted form)."""
    assignment_id = (params.get("assignmentId") or "").strip()
    if not assignment_id:
        return PageMode(LOCAL)
    values = {k: (params.get(k) or "").strip() for k in ("workerId", "hitId", "turkSubmitTo")}
    for name, value in [("assignmentId", assignment_id), *values.items()]:
        if len(value) > (_MAX_PARAM if name != "turkSubmitTo" else _MAX_URL):
            raise ModeError(f"{name} is too long")
    if assignment_id == PREVIEW_ASSIGNMENT_ID:
        return PageMode(PREVIEW, assignment_id, platform_hit_id=values["hitId"])
    missing = [k for k in ("workerId", "turkSubmitTo") if not values[k]]
    if missing:
        raise ModeError(f"a crowd assignment needs {' and '.join(missing)} in the URL besides assignmentId")
    origin = submit_origin(values["turkSubmitTo"], allowed_origins)
    return PageMode(ASSIGNMENT, assignment_id, values["workerId"], values["hitId"], origin)
