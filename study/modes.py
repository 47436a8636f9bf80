"""The three ways a HIT page is opened: local session, crowd preview, crowd assignment.

Crowd platforms that embed an external page (Mechanical Turk's ExternalQuestion) pass
``assignmentId``, ``hitId``, ``workerId`` and ``turkSubmitTo`` in the URL; while a worker
only previews, ``assignmentId`` is ``ASSIGNMENT_ID_NOT_AVAILABLE``. A platform adapter
(a later issue) publishes HITs whose external URL is ``/hit/<hit id>``; this module is
what the page needs from such a platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
LOCAL, PREVIEW, ASSIGNMENT = "local", "preview", "assignment"
_MAX_PARAM = 128


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
        return external_submit_url(self.submit_to) if self.submit_to else ""


def external_submit_url(turk_submit_to: str) -> str:
    """``{turkSubmitTo}/mturk/externalSubmit`` with exactly one slash between the parts."""
    parts = urlsplit(turk_submit_to)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModeError(f"turkSubmitTo must be an http(s) URL, got {turk_submit_to[:80]!r}")
    return turk_submit_to.rstrip("/") + "/mturk/externalSubmit"


def resolve_mode(params: Mapping[str, str]) -> PageMode:
    """Work out the page mode from the query string (or the submitted form)."""
    assignment_id = (params.get("assignmentId") or "").strip()
    if not assignment_id:
        return PageMode(LOCAL)
    values = {k: (params.get(k) or "").strip() for k in ("workerId", "hitId", "turkSubmitTo")}
    for name, value in [("assignmentId", assignment_id), *values.items()]:
        if len(value) > (_MAX_PARAM if name != "turkSubmitTo" else 2048):
            raise ModeError(f"{name} is too long")
    if assignment_id == PREVIEW_ASSIGNMENT_ID:
        return PageMode(PREVIEW, assignment_id, platform_hit_id=values["hitId"])
    missing = [k for k in ("workerId", "turkSubmitTo") if not values[k]]
    if missing:
        raise ModeError(f"a crowd assignment needs {' and '.join(missing)} in the URL besides assignmentId")
    external_submit_url(values["turkSubmitTo"])
    return PageMode(ASSIGNMENT, assignment_id, values["workerId"], values["hitId"], values["turkSubmitTo"])
