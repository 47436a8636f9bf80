"""Prolific participants: arrive with their ids, answer their share of HITs, return with the code.

A participant is a crowd worker whose assignment ids are ``<SESSION_ID>/<HIT key>``: the
HIT page runs in its crowd mode, and its hand-back form posts to ``/prolific/return``
instead of MTurk, which sends the participant to the next HIT or back to Prolific.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from study.models import SUBMITTED, Assignment, Hit, Study
from study.platforms.prolific import COMPLETE_URL
from study.platforms.settings import crowd_settings
from study.web.context import study_context

bp = Blueprint("prolific", __name__, url_prefix="/prolific")
SESSION_KEY = "prolific"
SOURCE = "prolific"
_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")


@bp.get("")
def entry():
    ids = {k: (request.args.get(k) or "").strip() for k in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")}
    bad = [k for k, v in ids.items() if not _ID.match(v)]
    if bad:
        abort(400, description=f"open this study from Prolific: {', '.join(bad)} missing or malformed in the link")
    ctx = study_context()
    with ctx.db.sessions() as db_session:
        remote = db_session.get(Study, ctx.db.study_id).platform_study_id
    if remote and ids["STUDY_ID"] != remote:
        abort(400, description="this link belongs to another Prolific study; open the study again from Prolific")
    session[SESSION_KEY] = {"pid": ids["PROLIFIC_PID"], "study": ids["STUDY_ID"], "session": ids["SESSION_ID"]}
    return redirect(url_for("prolific.next_hit"))


def _participant() -> dict:
    who = session.get(SESSION_KEY)
    if not who:
        abort(403, description="your Prolific session has ended; open the study again from Prolific")
    return who


@bp.get("/next")
def next_hit():
    ctx = study_context()
    who = _participant()
    quota = crowd_settings(ctx.spec.crowd).prolific.hits_per_participant
    with ctx.db.sessions.begin() as db_session:
        worker = ctx.allocator.worker(db_session, who["pid"], source=SOURCE)
        answered = db_session.scalar(
            select(func.count(Assignment.id)).join(Hit).where(Hit.study_id == ctx.db.study_id, Assignment.worker_id == worker.id, Assignment.status == SUBMITTED)
        ) or 0
        assignment = None if answered >= quota else ctx.allocator.next_assignment(db_session, worker)
        if assignment is not None:
            assignment.platform_assignment_id = f"{who['session']}/{assignment.hit.key}"
            key = assignment.hit.key
    if assignment is None:
        code = crowd_settings(ctx.spec.crowd).prolific.completion_code
        if answered and code:
            return redirect(COMPLETE_URL.format(code=code))
        return render_template(
            "study/error.html", code=200, title="No HIT left",
            message="Every HIT of this study has all its answers. Please return the study on Prolific; thank you for your time.",
        ), 200
    params = {"assignmentId": f"{who['session']}/{key}", "hitId": key, "workerId": who["pid"], "turkSubmitTo": url_for("prolific.back", _external=True)}
    return redirect(url_for("worker.hit_page", hit_key=key) + "?" + urlencode(params))


@bp.get("/return")
def back():
    return redirect(url_for("prolific.next_hit"))


@bp.post("/return/mturk/externalSubmit")
def submitted():
    """Where the HIT page hands the finished assignment back (MTurk's externalSubmit, for Prolific)."""
    ctx = study_context()
    who = _participant()
    assignment_id = request.form.get("assignmentId", "")
    if not assignment_id.startswith(who["session"] + "/"):
        abort(400, description="this answer belongs to another Prolific session")
    with ctx.db.sessions.begin() as db_session:
        row = db_session.scalar(select(Assignment).where(Assignment.platform_assignment_id == assignment_id))
        if row is not None and row.status == SUBMITTED:
            row.mode = SOURCE
    return redirect(url_for("prolific.next_hit"))
