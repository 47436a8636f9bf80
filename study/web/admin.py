"""The admin dashboard: progress per HIT and per worker, answers, exports, review marks.

Authentication: the token set at serve time, sent once as ``?token=`` (then kept in the
session cookie and dropped from the URL) or on every request as ``Authorization: Bearer``
or ``X-Admin-Token``.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for

from study.dashboard import dashboard_view
from study.export import FORMATS, export_database
from study.review import ReviewError, set_review
from study.web.context import study_context
from study.web.guard import int_arg
from study.web.security import admin_fingerprint, bearer_token, check_csrf, csrf_token, token_matches

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN_KEY = "admin"
ADMIN_UNTIL_KEY = "admin_until"
ADMIN_SESSION_SECONDS = 12 * 3600
MAX_ANSWER_ROWS = 5000
_DOWNLOAD_NAMES = {"mturk-csv": "batch_results.csv", "jsonl": "answers.jsonl", "long": "answers_long.csv"}
_MIME = {"mturk-csv": "text/csv", "jsonl": "application/x-ndjson", "long": "text/csv"}


def is_admin() -> bool:
    ctx = study_context()
    if not ctx.admin_token:
        return False
    if token_matches(bearer_token(), ctx.admin_token):
        return True
    # The session holds a fingerprint of the token and an end time, so a copied cookie
    # stops working when the token changes or the session runs out.
    return session.get(ADMIN_KEY) == admin_fingerprint(ctx.admin_token) and float(session.get(ADMIN_UNTIL_KEY, 0)) > time.time()


@bp.before_request
def require_admin():
    ctx = study_context()
    if not ctx.admin_token:
        abort(403, description="the admin dashboard is off: start the server with --admin-token TOKEN")
    token = request.args.get("token")
    if token is not None:
        if not token_matches(token, ctx.admin_token):
            abort(401, description="wrong admin token")
        session[ADMIN_KEY] = admin_fingerprint(ctx.admin_token)
        session[ADMIN_UNTIL_KEY] = time.time() + ADMIN_SESSION_SECONDS
        # Drop the token from the address bar and history.
        args = {k: v for k, v in request.args.items() if k != "token"}
        return redirect(url_for(request.endpoint, **(request.view_args or {}), **args))
    if not is_admin():
        abort(401, description="admin token required: open /admin?token=YOUR_TOKEN (the token given to 'barlow study serve')")
    return None


@bp.get("")
@bp.get("/")
def dashboard():
    ctx = study_context()
    view = dashboard_view(ctx.db, ctx.spec, ctx.timeout, ctx.clock(), answer_limit=int_arg("limit", 200, 1, MAX_ANSWER_ROWS))
    return render_template(
        "study/admin.html",
        spec=ctx.spec,
        summary=view.summary,
        hits=view.hits,
        workers=view.workers,
        answers=view.answers,
        crowd=view.crowd,
        remote_hits=view.remote_hits,
        formats=FORMATS,
        csrf_token=csrf_token(),
        flash_message=request.args.get("msg", ""),
    )


@bp.get("/export/<fmt>")
def export(fmt: str):
    ctx = study_context()
    if fmt not in FORMATS:
        abort(404, description=f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    text, _ = export_database(ctx.db, ctx.spec, fmt)
    return Response(
        text,
        mimetype=_MIME[fmt],
        headers={"Content-Disposition": f'attachment; filename="{ctx.spec.name}-{_DOWNLOAD_NAMES[fmt]}"'},
    )


def review_assignment(public_id: str, decision: str, note: str) -> str | None:
    """The review service for both the dashboard and the API, errors as HTTP statuses."""
    ctx = study_context()
    try:
        return set_review(ctx.db, public_id, decision, note, ctx.clock())
    except ReviewError as exc:
        abort(exc.status, description=str(exc))


@bp.post("/assignments/<public_id>/review")
def review(public_id: str):
    check_csrf()
    review_assignment(public_id, request.form.get("decision", ""), request.form.get("note", "").strip())
    return redirect(url_for("admin.dashboard", _anchor="answers"))


@bp.post("/logout")
def logout():
    check_csrf()
    # Clear everything: an empty session makes Flask delete the cookie in the browser.
    session.clear()
    return redirect(url_for("worker.entry"))
