"""The pages a Prolific participant sees when they stop midway or find no HIT left."""

from __future__ import annotations

import html
import re

from study.app import create_app
from tests.platforms.test_prolific import publish


def _token(page: str) -> str:
    return html.unescape(re.search(r'name="csrf_token" value="([^"]+)"', page).group(1))


def test_stop_for_now_keeps_a_participant_on_their_prolific_place(pstudy, prolific, answers_for):
    assert publish(pstudy, "--yes") == 0
    (study_id,) = prolific.studies
    client = create_app(pstudy, secret_key="pages").test_client()
    session_id = prolific.start(study_id, "PARTICIPANT1")
    hit = client.get(f"/prolific?PROLIFIC_PID=PARTICIPANT1&STUDY_ID={study_id}&SESSION_ID={session_id}", follow_redirects=True)
    key = re.search(r'action="/hit/([^/"]+)/submit"', hit.get_data(as_text=True)).group(1)
    thanks = client.post(f"/hit/{key}/submit", data={"csrf_token": _token(hit.get_data(as_text=True)), **answers_for(key)}, follow_redirects=True)
    page = thanks.get_data(as_text=True)
    assert "Stop for now" in page
    stopped = client.post("/leave", data={"csrf_token": _token(page)})
    text = html.unescape(stopped.get_data(as_text=True))
    # Not the local sign-in page (which would take any worker id and no completion code).
    assert stopped.status_code == 200 and 'id="worker_id"' not in text
    assert "answered 1 of 3 HITs" in text and "open this study again from your Prolific dashboard" in text and "Error" not in text
    # Coming back, they go on with their next HIT under the same Prolific id.
    again = client.get(f"/prolific?PROLIFIC_PID=PARTICIPANT1&STUDY_ID={study_id}&SESSION_ID={session_id}", follow_redirects=True)
    assert re.search(r'action="/hit/([^/"]+)/submit"', again.get_data(as_text=True)).group(1) != key
    assert client.post("/leave", data={"csrf_token": "forged"}).status_code in (400, 403)


def test_a_participant_who_finds_no_hit_left_is_not_shown_an_error(pstudy, prolific, monkeypatch):
    from study.allocation import Allocator

    assert publish(pstudy, "--yes") == 0
    (study_id,) = prolific.studies
    monkeypatch.setattr(Allocator, "next_assignment", lambda self, db_session, worker: None)  # every HIT has its answers
    client = create_app(pstudy, secret_key="pages").test_client()
    session_id = prolific.start(study_id, "PARTICIPANT9")
    page = client.get(f"/prolific?PROLIFIC_PID=PARTICIPANT9&STUDY_ID={study_id}&SESSION_ID={session_id}", follow_redirects=True)
    text = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 200 and "No HIT left" in text and "return the study on Prolific" in text
    assert "Error 200" not in text and 'role="alert"' not in text
