"""Prolific participants: arrive with their ids, answer their share of HITs, return with the code.

A participant works through the study's ordinary session pages (the same allocation,
timeouts and answer checks as local sessions) under the worker id ``prolific:<PID>``,
which no typed worker id can take (typed ids have no colon). Once they have answered
``crowd.prolific.hits_per_participant`` HITs, or no HIT is left for them, they are sent
to Prolific's completion URL with the study's completion code.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, make_response, redirect, render_template, request, session, url_for

from study.platforms.prolific import COMPLETE_URL, participant_worker_id
from study.platforms.settings import crowd_settings
from study.web.context import study_context
from study.web.security import check_csrf
from study.web.worker import WORKER_KEY, shows_finished_page

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


def _message(title: str, *lines: str):
    # Not the error page: nothing went wrong, and its "start page" link leads to the local sign-in.
    # A response, not a (body, status) pair: after_app_request handlers return it as it is.
    return make_response(render_template("study/prolific_message.html", spec=study_context().spec, title=title, lines=lines))


def _complete():
    code = crowd_settings(study_context().spec.crowd).prolific.completion_code
    if not code:
        return _message("Finished", "Thank you! Please return to Prolific.")
    return redirect(COMPLETE_URL.format(code=code))


@bp.before_app_request
def stopping_participants_keep_their_place():
    """'Stop for now' would lead a Prolific participant to the local sign-in page, without their code."""
    if request.endpoint != "worker.leave" or request.method != "POST" or _participant() is None:
        return None
    check_csrf()
    quota = crowd_settings(study_context().spec.crowd).prolific.hits_per_participant
    answered = study_context().flow.answered(session[WORKER_KEY])
    return _message(
        "Your answers are saved",
        f"You have answered {answered} of {quota} HITs; every answer is kept.",
        "To go on later, open this study again from your Prolific dashboard: you continue where you stopped, "
        "and Prolific's completion code comes after your last HIT.",
        "If you do not want to go on, please return the study on Prolific.",
    )


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
    if request.endpoint == "worker.next_hit" and shows_finished_page() and _participant() is not None:
        if study_context().flow.answered(session[WORKER_KEY]) > 0:
            return _complete()
        return _message("No HIT left", "Every HIT of this study has all its answers.", "Please return the study on Prolific; thank you for your time.")
    return response
