"""Prolific end to end: the real httpx client against the fake API, participants on the real study app."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from barlow.cli import main
from study.app import create_app
from study.db import open_study_database
from study.models import Assignment
from tests.platforms.fakes.mturk import Running
from tests.platforms.fakes.prolific import FakeProlific
from tests.platforms.test_mturk_cli import set_crowd

CODE = "C0DE1234"


@pytest.fixture
def prolific(monkeypatch, pstudy):
    fake = FakeProlific()
    server = Running(fake)
    fake.url = server.url
    monkeypatch.setenv("PROLIFIC_TOKEN", fake.token)
    monkeypatch.setenv("PROLIFIC_API_URL", server.url)
    set_crowd(pstudy, {"target_hourly_wage": 12, "prolific": {"places": 4, "hits_per_participant": 3, "completion_code": CODE, "estimated_minutes": 10}})
    yield fake
    server.close()


def participant(client, fake, study_id, pid, answers_for):
    """One participant: arrive from Prolific, answer HITs in the session pages, leave with the code."""
    session_id = fake.start(study_id, pid)
    response = client.get(f"/prolific?PROLIFIC_PID={pid}&STUDY_ID={study_id}&SESSION_ID={session_id}")
    answered = []
    for _ in range(30):
        if response.status_code == 200:
            # The thank-you page between two HITs: go on to the next one.
            response = client.get("/next")
            continue
        assert response.status_code == 302, response.get_data(as_text=True)[-600:]
        location = response.headers["Location"]
        if location.startswith("https://app.prolific.com/"):
            assert parse_qs(urlsplit(location).query)["cc"] == [CODE]
            fake.complete(study_id, pid, CODE, seconds=900)
            return answered
        if "/hit/" in urlsplit(location).path:
            key = urlsplit(location).path.rsplit("/", 1)[-1]
            page = client.get(location)
            assert page.status_code == 200, page.get_data(as_text=True)[-800:]
            token = html.unescape(re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1))
            response = client.post(f"/hit/{key}/submit", data={"csrf_token": token, **answers_for(key, text=f"{pid} sees stripes on {key}")})
            assert response.status_code == 302, response.get_data(as_text=True)[-600:]
            answered.append(key)
            continue
        response = client.get(location)
    raise AssertionError("the participant never got back to Prolific")


def test_prolific_publish_participants_collect_approve_bonus_expire(pstudy, prolific, answers_for, capsys):
    base = ["study", "publish", str(pstudy), "--platform", "prolific", "--url", "https://study.example.org/"]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "--yes" in err and not prolific.studies
    assert main([*base, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "1 HITs x 4 assignments x $1.50 = $6.00" in out and "platform fee 33%" in out
    (study_id, study), = prolific.studies.items()
    assert study["status"] == "ACTIVE" and study["reward"] == 150 and study["total_available_places"] == 4
    assert study["external_study_url"] == "https://study.example.org/prolific?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    assert main([*base, "--yes"]) == 0 and len(prolific.studies) == 1

    app = create_app(pstudy, secret_key="prolific-test")
    seen = {}
    for pid in ("PARTICIPANT1", "PARTICIPANT2"):
        with app.test_client() as client:
            seen[pid] = participant(client, prolific, study_id, pid, answers_for)
    assert all(len(v) == 3 for v in seen.values()) and not set(seen["PARTICIPANT1"]) & set(seen["PARTICIPANT2"])
    # A link from another study is refused.
    with app.test_client() as client:
        assert client.get("/prolific?PROLIFIC_PID=X1&STUDY_ID=ffffffffffffffffffffffff&SESSION_ID=abc").status_code == 400

    capsys.readouterr()
    assert main(["study", "collect", str(pstudy)]) == 0
    assert "0 new, 6 updated, 0 already stored" in capsys.readouterr().out
    subs = {s["participant_id"]: s["id"] for s in prolific.submissions.values()}
    db = open_study_database(pstudy, create=False)
    with db.sessions() as s:
        rows = s.scalars(select(Assignment)).all()
        ids = {(r.worker.external_id, r.hit.key): (r.platform_assignment_id, r.mode, r.platform_status) for r in rows}
        answers = {r.hit.key: {a.question_id: a.value for a in r.answers} for r in rows}
    db.dispose()
    for (pid, key), (aid, mode, status) in ids.items():
        assert pid.startswith("prolific:") and aid == f"{subs[pid.removeprefix('prolific:')]}/{key}" and mode == "prolific" and status == "Submitted"
    assert answers[seen["PARTICIPANT2"][0]]["description"] == f"PARTICIPANT2 sees stripes on {seen['PARTICIPANT2'][0]}"

    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    assert "approved 6" in capsys.readouterr().out
    assert {s["status"] for s in prolific.submissions.values()} == {"APPROVED"}
    assert sum(c.startswith("POST /api/v1/submissions/") and c.endswith("/transition/") for c in prolific.calls) == 2

    prolific.fail_next = 2  # throttled twice, then through
    assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Clear descriptions"]) == 0
    (bonus,) = prolific.bonuses.values()
    assert bonus["paid"] and bonus["csv"] == "PARTICIPANT1,0.50\n" and bonus["amount"] == 50
    assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Clear descriptions"]) == 2
    assert len(prolific.bonuses) == 1

    assert main(["study", "status", str(pstudy)]) == 0
    out = capsys.readouterr().out
    assert "prolific (remote study " in out and "pending review:  0" in out

    assert main(["study", "expire", str(pstudy)]) == 0
    assert prolific.studies[study_id]["status"] == "AWAITING REVIEW"


def test_prolific_wrong_token_and_missing_code(pstudy, prolific, monkeypatch, capsys):
    monkeypatch.setenv("PROLIFIC_TOKEN", "wrong")
    assert main(["study", "publish", str(pstudy), "--platform", "prolific", "--url", "https://study.example.org/", "--yes"]) == 2
    assert "Prolific refused the API token (401)" in capsys.readouterr().err
    monkeypatch.delenv("PROLIFIC_TOKEN")
    assert main(["study", "publish", str(pstudy), "--platform", "prolific", "--url", "https://study.example.org/", "--yes"]) == 2
    assert "set PROLIFIC_TOKEN" in capsys.readouterr().err
    set_crowd(pstudy, {"prolific": {"places": 2}})
    monkeypatch.setenv("PROLIFIC_TOKEN", prolific.token)
    assert main(["study", "publish", str(pstudy), "--platform", "prolific", "--url", "https://study.example.org/", "--yes"]) == 2
    assert "completion_code" in capsys.readouterr().err and not prolific.studies
