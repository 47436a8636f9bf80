"""A small JSON API for admins: status counts, progress, answers and review marks.

Admin endpoints take the token as ``Authorization: Bearer TOKEN`` (or the dashboard's
session); writes accept only the header, so a browser session cannot be tricked into them.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, jsonify, request

from study.dashboard import progress_rows, status_counts
from study.export import jsonl_records
from study.web.admin import is_admin, review_assignment
from study.web.context import study_context
from study.web.security import bearer_token, token_matches

bp = Blueprint("api", __name__, url_prefix="/api")


def _require_admin(header_only: bool = False) -> None:
    ctx = study_context()
    if not ctx.admin_token:
        abort(403, description="the admin API is off: start the server with --admin-token TOKEN")
    ok = token_matches(bearer_token(), ctx.admin_token) if header_only else is_admin()
    if not ok:
        abort(401, description="admin token required in the Authorization: Bearer header")


def _progress():
    ctx = study_context()
    return progress_rows(ctx.db, ctx.timeout, ctx.clock())


@bp.get("/status")
def status():
    """Counts only, from aggregate queries: cheap enough for a poller every few seconds."""
    _require_admin()
    ctx = study_context()
    counts = status_counts(ctx.db, ctx.timeout, ctx.clock())
    return jsonify({"study": ctx.spec.name, "title": ctx.spec.settings.title, **counts.to_dict()})


@bp.get("/hits")
def hits():
    _require_admin()
    hits, _ = _progress()
    return jsonify([h.to_dict() for h in hits])


@bp.get("/workers")
def workers():
    _require_admin()
    _, workers = _progress()
    return jsonify([w.to_dict() for w in workers])


@bp.get("/answers")
def answers():
    _require_admin()
    ctx = study_context()
    return jsonify([json.loads(line) for line in jsonl_records(ctx.db, ctx.spec)])


@bp.post("/assignments/<public_id>/review")
def review(public_id: str):
    _require_admin(header_only=True)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description='send JSON like {"decision": "approve", "note": "..."}')
    review = review_assignment(public_id, str(body.get("decision", "")), str(body.get("note", "")))
    return jsonify({"assignment": public_id, "review": review})
