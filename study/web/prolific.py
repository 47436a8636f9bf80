"""Prolific participants: arrive with their ids, answer their share of HITs, return with the code.

A participant works through the study's ordinary session pages (the same allocation,
timeouts and answer checks as local sessions) under the worker id ``prolific:<PID>``,
which no typed worker id can take (typed ids have no colon). Once they have answered
``crowd.prolific.hits_per_participant`` HITs, or no HIT is left for them, they are sent
to Prolific's completion URL with the study's completion code.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from study.platforms.prolific import COMPLETE_URL, participant_worker_id
from study.platforms.settings import crowd_settings
from study.web.context import study_context
from study.web.worker import WORKER_KEY

bp = Blueprint("prolific", __name__, url_prefix="/prolific")
SESSION_KEY = "prolific"
_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
# The session pages after which a participant may be done.
_CHECKPOINTS = {"worker.next_hit", "worker.thanks", "worker.entry"}


@bp.get("")
def entry():
    ids = {k: (request.args.get(k) or "").strip() for k in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")}
    bad = [k for k, v in ids.items() if not _ID.match(v)]
    if bad:
        abort(400, description=f"open this study from Prolific: {', '.join(bad)} missing or malformed in the link")
    remote = study_context().flow.platform_study_id()
    if remote and ids["STUDY_ID"] != remote:
        abort(400, description="this link belongs to another Prolific study; open the study again from Prolific")
    session[SESSION_KEY] = {"pid": ids["PROLIFIC_PID"], "study": ids["STUDY_ID"], "session": ids["SESSION_ID"]}
    session[WORKER_KEY] = participant_worker_id(ids["PROLIFIC_PID"])
    return redirect(url_for("worker.next_hit"))


def _participant() -> dict | None:
    who = session.get(SESSION_KEY)
    if who and session.get(WORKER_KEY) == participant_worker_id(who["pid"]):
        return who
    return None


def _complete():
    code = crowd_settings(study_context().spec.crowd).prolific.completion_code
    if not code:
        return render_template("study/error.html", code=200, title="Finished", message="Thank you! Please return to Prolific."), 200
    return redirect(COMPLETE_URL.format(code=code))


@bp.before_app_request
def send_finished_participants_back():
    """A participant who has answered their share goes back to Prolific instead of on."""
    if request.endpoint not in _CHECKPOINTS or _participant() is None:
        return None
    quota = crowd_settings(study_context().spec.crowd).prolific.hits_per_participant
    if study_context().flow.answered(session[WORKER_KEY]) >= quota:
        return _complete()
    return None


@bp.after_app_request
def send_back_when_no_hit_is_left(response):
    """The session pages end with a 'finished' page when no HIT is left; a participant goes back to Prolific."""
    if request.endpoint == "worker.next_hit" and response.status_code == 200 and _participant() is not None:
        if study_context().flow.answered(session[WORKER_KEY]) > 0:
            return _complete()
        return render_template(
            "study/error.html", code=200, title="No HIT left",
            message="Every HIT of this study has all its answers. Please return the study on Prolific; thank you for your time.",
        ), 200
    return response
