"""The admin dashboard: progress per HIT and per worker, answers, exports, review marks.

Authentication: the token set at serve time, sent once as ``?token=`` (then kept in the
session cookie and dropped from the URL) or on every request as ``Authorization: Bearer``
or ``X-Admin-Token``.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from sqlalchemy import select

from study.export import FORMATS, export_text
from study.models import APPROVED, REJECTED, SUBMITTED, Assignment, Hit
from study.platforms.summary import platform_summary
from study.progress import hit_progress, recent_answers, summary, worker_progress
from study.web.context import study_context
from study.web.security import bearer_token, check_csrf, csrf_token, token_matches

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN_KEY = "admin"
_DOWNLOAD_NAMES = {"mturk-csv": "batch_results.csv", "jsonl": "answers.jsonl", "long": "answers_long.csv"}
_MIME = {"mturk-csv": "text/csv", "jsonl": "application/x-ndjson", "long": "text/csv"}


def is_admin() -> bool:
    ctx = study_context()
    if not ctx.admin_token:
        return False
    return token_matches(bearer_token(), ctx.admin_token) or session.get(ADMIN_KEY) is True


@bp.before_request
def require_admin():
    ctx = study_context()
    if not ctx.admin_token:
        abort(403, description="the admin dashboard is off: start the server with --admin-token TOKEN")
    token = request.args.get("token")
    if token is not None:
        if not token_matches(token, ctx.admin_token):
            abort(401, description="wrong admin token")
        session[ADMIN_KEY] = True
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
    now = ctx.clock()
    with ctx.db.sessions() as db_session:
        hits = hit_progress(db_session, ctx.db.study_id, ctx.timeout, now)
        workers = worker_progress(db_session, ctx.db.study_id, ctx.timeout, now)
        limit = request.args.get("limit", "200")
        answers = recent_answers(db_session, ctx.db.study_id, limit=int(limit) if limit.isdigit() else 200)
        rows = [
            {
                "id": a.public_id,
                "hit": a.hit.key,
                "grouping": a.hit.grouping,
                "class": a.hit.class_name,
                "feature": a.hit.feature,
                "is_check": a.hit.is_attention_check,
                "worker": a.worker.external_id,
                "submitted": a.submitted_at.strftime("%Y-%m-%d %H:%M"),
                "seconds": a.work_time_seconds,
                "passed": a.attention_passed,
                "review": a.review,
                "remote": a.platform_assignment_id if a.mode != "local" else None,
                "platform_status": a.platform_status,
                "answers": {ans.question_id: ans.value for ans in a.answers},
            }
            for a in answers
        ]
        crowd = platform_summary(db_session, ctx.db.study_id, ctx.spec)
        remote_hits = dict(db_session.execute(select(Hit.key, Hit.platform_hit_id).where(Hit.study_id == ctx.db.study_id, Hit.platform_hit_id.is_not(None))).all())
    return render_template(
        "study/admin.html",
        spec=ctx.spec,
        summary=summary(hits, workers),
        hits=hits,
        workers=workers,
        answers=rows,
        crowd=crowd,
        remote_hits=remote_hits,
        formats=FORMATS,
        csrf_token=csrf_token(),
        flash_message=request.args.get("msg", ""),
    )


@bp.get("/export/<fmt>")
def export(fmt: str):
    ctx = study_context()
    if fmt not in FORMATS:
        abort(404, description=f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    text, _ = export_text(ctx.study_dir, fmt, database_url=ctx.db.url)
    return Response(
        text,
        mimetype=_MIME[fmt],
        headers={"Content-Disposition": f'attachment; filename="{ctx.spec.name}-{_DOWNLOAD_NAMES[fmt]}"'},
    )


def set_review(public_id: str, decision: str, note: str = "") -> Assignment:
    """Mark a submitted assignment approved or rejected (a platform adapter pays on these)."""
    ctx = study_context()
    if decision not in ("approve", "reject", "clear"):
        abort(400, description="decision must be approve, reject or clear")
    if len(note) > 1000:
        abort(400, description="the review note is longer than 1000 characters")
    with ctx.db.sessions.begin() as db_session:
        assignment = db_session.scalar(
            select(Assignment).join(Hit).where(Hit.study_id == ctx.db.study_id, Assignment.public_id == public_id)
        )
        if assignment is None:
            abort(404, description=f"no assignment {public_id[:40]!r} in this study")
        if assignment.status != SUBMITTED:
            abort(409, description="only submitted assignments can be reviewed")
        assignment.review = {"approve": APPROVED, "reject": REJECTED, "clear": None}[decision]
        assignment.review_note = note
        assignment.reviewed_at = ctx.clock() if decision != "clear" else None
        return assignment


@bp.post("/assignments/<public_id>/review")
def review(public_id: str):
    check_csrf()
    set_review(public_id, request.form.get("decision", ""), request.form.get("note", "").strip())
    return redirect(url_for("admin.dashboard", _anchor="answers"))


@bp.post("/logout")
def logout():
    check_csrf()
    session.pop(ADMIN_KEY, None)
    return redirect(url_for("worker.entry"))
