"""Prolific end to end: the real httpx client against the spec-checking fake, participants on the real study app."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from barlow.cli import main
from study.app import create_app
from study.db import open_study_database
from study.models import Assignment, Bonus
from study.review import set_review
from tests.platforms.fakes.mturk import Running
from tests.platforms.fakes.prolific import FakeProlific
from tests.platforms.test_mturk_cli import set_crowd

CODE = "C0DE1234"
URL = "https://study.example.org/"
REPO = Path(__file__).resolve().parents[2]
REASON = ("Your descriptions repeat one sentence for every set of images and do not describe what the images show, "
          "which the instructions asked for.")


def serve(monkeypatch, pstudy, fake: FakeProlific, **crowd):
    server = Running(fake)
    fake.url = server.url
    monkeypatch.setenv("PROLIFIC_TOKEN", fake.token)
    monkeypatch.setenv("PROLIFIC_API_URL", server.url)
    monkeypatch.delenv("PROLIFIC_WORKSPACE_ID", raising=False)
    settings = {"places": 4, "hits_per_participant": 3, "completion_code": CODE, "estimated_minutes": 10, **crowd}
    set_crowd(pstudy, {"target_hourly_wage": 12, "prolific": settings})
    return server


@pytest.fixture
def prolific(monkeypatch, pstudy):
    fake = FakeProlific(currency="GBP")
    server = serve(monkeypatch, pstudy, fake)
    yield fake
    fake.release.set()
    server.close()
    assert fake.problems == []  # every request fitted the published API reference


def publish(pstudy, *extra) -> int:
    return main(["study", "publish", str(pstudy), "--platform", "prolific", "--url", URL, *extra])


def participant(client, fake, study_id, pid, answers_for):
    """One participant: arrive from Prolific, answer HITs in the session pages, leave with the code."""
    session_id = fake.start(study_id, pid)
    response = client.get(f"/prolific?PROLIFIC_PID={pid}&STUDY_ID={study_id}&SESSION_ID={session_id}")
    answered = []
    for _ in range(200):
        if response.status_code == 200:
            page = response.get_data(as_text=True)
            form = re.search(r'action="/hit/([^"/]+)/submit"', page)
            if form is None:
                # The thank-you page between two HITs: go on to the next one.
                response = client.get("/next")
                continue
            key = form.group(1)
            token = html.unescape(re.search(r'name="csrf_token" value="([^"]+)"', page).group(1))
            response = client.post(f"/hit/{key}/submit", data={"csrf_token": token, **answers_for(key, text=f"{pid} sees stripes on {key}")})
            assert response.status_code == 302, response.get_data(as_text=True)[-600:]
            answered.append(key)
            continue
        assert response.status_code == 302, response.get_data(as_text=True)[-600:]
        location = response.headers["Location"]
        if location.startswith("https://app.prolific.com/"):
            assert parse_qs(urlsplit(location).query)["cc"] == [CODE]
            fake.complete(study_id, pid, CODE, seconds=900)
            return answered
        response = client.get(location)
    raise AssertionError("the participant never got back to Prolific")


def run_study(pstudy, fake, answers_for, pids=("PARTICIPANT1", "PARTICIPANT2", "PARTICIPANT3")) -> tuple[str, dict]:
    """Publish, let participants work through /prolific, collect; returns (study id, pid -> submission id)."""
    assert publish(pstudy, "--yes") == 0
    (study_id,) = fake.studies
    app = create_app(pstudy, secret_key="prolific-test")
    for pid in pids:
        with app.test_client() as client:
            assert len(participant(client, fake, study_id, pid, answers_for)) == 3
    assert main(["study", "collect", str(pstudy)]) == 0
    return study_id, {s["participant_id"]: s["id"] for s in fake.submissions.values()}


def rows_of(pstudy, pid: str) -> list[Assignment]:
    db = open_study_database(pstudy, create=False)
    with db.sessions() as s:
        rows = [r for r in s.scalars(select(Assignment)).all() if r.worker.external_id == f"prolific:{pid}"]
        s.expunge_all()
    db.dispose()
    return rows


def test_a_prolific_study_end_to_end_in_gbp(pstudy, prolific, answers_for, capsys):
    assert publish(pstudy) == 2
    assert "--yes" in capsys.readouterr().err and not prolific.studies
    # Prolific refuses the first PUBLISH (e.g. funds not yet cleared): the draft stays a draft.
    prolific.fault("POST", "/transition/$", "refuse", detail="You do not have enough funds in your workspace to publish this study.")
    assert publish(pstudy, "--yes") == 2
    assert "enough funds" in capsys.readouterr().err
    (study_id, study), = prolific.studies.items()
    assert study["status"] == "UNPUBLISHED" and study["filters"] == [] and study["reward"] == 150
    # The rerun publishes that draft (no second one) after the cost check, in the workspace's pounds.
    assert publish(pstudy, "--yes") == 0
    out = capsys.readouterr().out
    assert "1 HITs x 4 assignments x GBP 1.50 = GBP 6.00" in out and "platform fee 33% = GBP 2.00" in out and "account balance GBP 10000.00" in out
    assert len(prolific.studies) == 1 and study["status"] == "ACTIVE" and prolific.count("create-study") == 1
    assert publish(pstudy, "--yes") == 0 and "already published" in capsys.readouterr().out and prolific.count("transition-study") == 2

    app = create_app(pstudy, secret_key="prolific-test")
    for pid in ("PARTICIPANT1", "PARTICIPANT2", "PARTICIPANT3"):
        with app.test_client() as client:
            assert len(participant(client, prolific, study_id, pid, answers_for)) == 3
    capsys.readouterr()
    prolific.throttle_next = 2  # a read may be sent again: 429 twice, then through
    assert main(["study", "collect", str(pstudy)]) == 0  # two pages of two submissions
    assert "0 new, 9 updated, 0 already stored" in capsys.readouterr().out and prolific.count("get-submissions") == 4
    subs = {s["participant_id"]: s["id"] for s in prolific.submissions.values()}
    assert all(r.platform_assignment_id.startswith(subs["PARTICIPANT2"] + "/") for r in rows_of(pstudy, "PARTICIPANT2"))

    # One HIT of participant 3 is rejected in the dashboard with a short note: the whole
    # submission is held (no approve), listed, and the run goes on with the others.
    db = open_study_database(pstudy, create=False)
    from datetime import datetime, timezone

    set_review(db, rows_of(pstudy, "PARTICIPANT3")[0].public_id, "reject", "Copied text.", datetime.now(timezone.utc))
    db.dispose()
    assert main(["study", "review", str(pstudy), "--approve-all-passing", "--category", "LOW_EFFORT"]) == 0
    out = capsys.readouterr().out
    assert "approved 2, rejected 0" in out and "rejection not sent" in out and "at least 100 characters" in out
    assert [prolific.submissions[subs[p]]["status"] for p in ("PARTICIPANT1", "PARTICIPANT2", "PARTICIPANT3")] == ["APPROVED", "APPROVED", "AWAITING REVIEW"]
    # A reason of the help's length, or no category, is refused before any call.
    transitions = prolific.count("transition-submission")
    assert main(["study", "review", str(pstudy), "--reject", subs["PARTICIPANT3"], "--reason", "The description does not describe the images.", "--category", "LOW_EFFORT"]) == 2
    assert "at least 100 characters" in capsys.readouterr().err
    assert main(["study", "review", str(pstudy), "--reject", subs["PARTICIPANT3"], "--reason", REASON]) == 2
    assert "--category" in capsys.readouterr().err and prolific.count("transition-submission") == transitions
    # Prolific's own submission id: the whole submission (all three HITs) is rejected once.
    assert main(["study", "review", str(pstudy), "--reject", subs["PARTICIPANT3"], "--reason", REASON, "--category", "FAILED_INSTRUCTIONS"]) == 0
    assert f"rejected {subs['PARTICIPANT3']} on prolific (3 HITs)" in capsys.readouterr().out
    assert prolific.submissions[subs["PARTICIPANT3"]]["rejection"] == (REASON, "FAILED_INSTRUCTIONS")
    assert {(r.platform_review, r.review) for r in rows_of(pstudy, "PARTICIPANT3")} == {("rejected", "rejected")}
    # Reruns never approve after the rejection (nor send anything again).
    transitions = prolific.count("transition-submission")
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    assert "approved 0, rejected 0" in capsys.readouterr().out and prolific.count("transition-submission") == transitions
    assert main(["study", "review", str(pstudy), "--reject", subs["PARTICIPANT1"], "--reason", REASON, "--category", "LOW_EFFORT"]) == 2
    assert "already approved" in capsys.readouterr().err

    assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Clear descriptions"]) == 0
    assert "paid GBP 0.50 to PARTICIPANT1" in capsys.readouterr().out
    assert prolific.paid == {("PARTICIPANT1", "GBP"): Decimal("0.50")}
    assert prolific.messages[-1] == {"recipient_id": "PARTICIPANT1", "body": "Clear descriptions", "study_id": study_id}
    assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Clear descriptions"]) == 2
    assert "already paid a GBP 0.50 bonus" in capsys.readouterr().err and len(prolific.bonuses) == 1

    # Prolific's 15 min per submission at GBP 1.50 is GBP 6/h; GBP 12/h owes GBP 3.00: GBP 1.50 more each.
    assert main(["study", "bonus", str(pstudy), "--top-up-to-wage"]) == 0
    assert "2 workers topped up to GBP 12.00/hour" in capsys.readouterr().out
    assert prolific.paid == {("PARTICIPANT1", "GBP"): Decimal("2.00"), ("PARTICIPANT2", "GBP"): Decimal("1.50")}
    assert set(prolific.payments.values()) == {1} and len(prolific.payments) == 3

    assert main(["study", "status", str(pstudy), "--balance"]) == 0
    out = capsys.readouterr().out
    # 2 approved submissions x (GBP 1.50 + GBP 0.50 fee) + GBP 3.50 bonuses + 33% (GBP 1.17) = GBP 8.67
    assert "bonuses paid:    GBP 3.50" in out and "cost so far:     GBP 8.67" in out and "balance:         GBP " in out and "$" not in out
    admin = create_app(pstudy, admin_token="tok", secret_key="dash").test_client()
    page = html.unescape(admin.get("/admin", headers={"Authorization": "Bearer tok"}).get_data(as_text=True))
    section = page[page.index('id="platform"'):page.index("</section>", page.index('id="platform"'))]
    assert "GBP 8.67" in section and "GBP 3.50 bonuses" in section and "$" not in section
    assert main(["study", "expire", str(pstudy)]) == 0
    assert prolific.studies[study_id]["status"] == "AWAITING REVIEW"


def test_usd_accounts_pay_dollars_and_the_minimum_wage_is_checked_first(monkeypatch, pstudy, answers_for, capsys):
    fake = FakeProlific(currency="USD")
    server = serve(monkeypatch, pstudy, fake, estimated_minutes=60)
    try:
        # USD 1.50 per participant for an estimated 60 min is under Prolific's USD 8.00/h: refused before any call.
        assert publish(pstudy, "--yes") == 2
        err = capsys.readouterr().err
        assert "at least USD 8.00 per hour" in err and "USD 1.50/hour" in err and not fake.studies and fake.count("create-study") == 0
        set_crowd(pstudy, {"target_hourly_wage": 12, "prolific": {"places": 4, "hits_per_participant": 3, "completion_code": CODE, "estimated_minutes": 10}})
        run_study(pstudy, fake, answers_for, pids=("PARTICIPANT1",))
        assert "USD 6.00" in capsys.readouterr().out
        assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
        assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "1.25", "--reason", "Thank you"]) == 0
        assert "paid USD 1.25 to PARTICIPANT1" in capsys.readouterr().out and fake.paid == {("PARTICIPANT1", "USD"): Decimal("1.25")}
        (bonus,) = fake.bonuses.values()
        assert bonus["amount"] == 125 and bonus["lines"] == [("PARTICIPANT1", Decimal("1.25"))]
        # The workspace's available balance is read before paying: too little, and nothing is set up.
        next(iter(fake.workspaces.values()))["balance"] = 900  # USD 9.00, of which USD 8.00 is held by the study
        assert main(["study", "bonus", str(pstudy), "--top-up-to-wage"]) == 2
        assert "account holds USD 1.00; add funds first" in capsys.readouterr().err and len(fake.bonuses) == 1
        assert fake.problems == []
    finally:
        server.close()


def sent_minutes_ago(pstudy, minutes: int) -> None:
    """Move every payment's pay-sent mark back (the user comes back to it later)."""
    from datetime import timedelta

    db = open_study_database(pstudy, create=False)
    with db.sessions.begin() as s:
        for b in s.scalars(select(Bonus).where(Bonus.pay_sent_at.is_not(None))):
            b.pay_sent_at -= timedelta(minutes=minutes)
    db.dispose()


def unknown_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("NOT PAID AGAIN"))


@pytest.mark.parametrize("fault", ["drop", "502"])
def test_a_pay_answer_lost_after_payment_is_never_paid_again(pstudy, prolific, answers_for, capsys, fault):
    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1", "PARTICIPANT2"))
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    prolific.fault("POST", "/pay/$", fault)  # paid, then the answer is lost
    cmd = ["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Clear descriptions"]
    capsys.readouterr()
    assert main(cmd) == 1
    (bid,) = prolific.bonuses
    line = unknown_line(capsys.readouterr().out)
    assert bid in line and f"--confirm-unpaid {bid}" in line and "GBP 0.50" in line
    for _ in range(2):  # the same command again, and the next run of anything
        assert main(cmd) == 1
        assert bid in unknown_line(capsys.readouterr().out)
    assert prolific.payments == {bid: 1} and prolific.paid == {("PARTICIPANT1", "GBP"): Decimal("0.50")}
    # It blocks nobody else's bonus.
    assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT2", "--amount", "0.75", "--reason", "Careful work"]) == 1
    assert "paid GBP 0.75 to PARTICIPANT2" in capsys.readouterr().out and prolific.paid[("PARTICIPANT2", "GBP")] == Decimal("0.75")
    assert main(["study", "status", str(pstudy)]) == 0
    assert f"UNKNOWN: GBP 0.50 to PARTICIPANT1 (payment {bid})" in capsys.readouterr().out
    # A top-up counts the unknown payment as paid, and pays nobody twice.
    assert main(["study", "bonus", str(pstudy), "--top-up-to-wage"]) == 1
    assert prolific.payments[bid] == 1
    assert main(["study", "bonus", str(pstudy), "--confirm-unpaid", "ffff"]) == 2
    assert "no payment with that id is waiting" in capsys.readouterr().err


def test_a_pay_that_never_reached_prolific_is_paid_once_after_confirm_unpaid(pstudy, prolific, answers_for, capsys):
    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1",))
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    prolific.fault("POST", "/pay/$", "drop", before=True)
    assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Clear descriptions"]) == 1
    (bid,) = prolific.bonuses
    assert not prolific.payments
    capsys.readouterr()
    # Prolific pays asynchronously: a check right after the lost answer can miss the payment.
    assert main(["study", "bonus", str(pstudy), "--confirm-unpaid", bid]) == 2
    assert "may still be making it" in capsys.readouterr().err and not prolific.payments
    sent_minutes_ago(pstudy, 20)  # the user looked again later, and it was not paid
    assert main(["study", "bonus", str(pstudy), "--confirm-unpaid", bid]) == 0
    assert "finished 1 bonus" in capsys.readouterr().out
    assert prolific.payments == {bid: 1} and prolific.paid == {("PARTICIPANT1", "GBP"): Decimal("0.50")}
    assert main(["study", "bonus", str(pstudy), "--confirm-unpaid", bid]) == 2  # paid now: nothing waits


def test_a_bonus_run_killed_mid_pay_is_never_paid_twice(pstudy, prolific, answers_for, capsys):
    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1",))
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    prolific.fault("POST", "/pay/$", "hang")
    cmd = ["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Clear descriptions"]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from barlow.cli import main; sys.exit(main(sys.argv[1:]))", *cmd], env=env, cwd=REPO)
    try:
        assert prolific.reached.wait(120), "the bonus run never reached the pay call"
        proc.kill()  # SIGKILL while Prolific has paid and not yet answered
        proc.wait(30)
    finally:
        prolific.release.set()
    (bid,) = prolific.bonuses
    assert prolific.payments == {bid: 1}
    capsys.readouterr()
    assert main(cmd) == 1
    line = unknown_line(capsys.readouterr().out)
    assert bid in line and f"--confirm-unpaid {bid}" in line
    assert prolific.payments == {bid: 1} and prolific.paid == {("PARTICIPANT1", "GBP"): Decimal("0.50")}
    db = open_study_database(pstudy, create=False)
    with db.sessions() as s:
        (b,) = s.scalars(select(Bonus)).all()
        assert b.remote_id == bid and b.pay_sent_at is not None and b.paid_at is None
    db.dispose()


@pytest.mark.parametrize("fault", ["drop", "502"])
def test_lost_answers_while_publishing_never_make_a_second_study(pstudy, prolific, capsys, fault):
    prolific.fault("POST", "/studies/$", fault)  # the draft is created, the answer lost
    assert publish(pstudy, "--yes") == 2
    assert "looks for a draft named barlow:" in capsys.readouterr().err
    assert len(prolific.studies) == 1 and prolific.count("create-study") == 1
    prolific.fault("POST", "/transition/$", fault)  # published, the answer lost
    assert publish(pstudy, "--yes") == 2
    assert "asks Prolific whether study" in capsys.readouterr().err
    assert publish(pstudy, "--yes") == 0
    assert "already published" in capsys.readouterr().out
    assert len(prolific.studies) == 1 and prolific.count("create-study") == 1 and prolific.count("transition-study") == 1
    assert next(iter(prolific.studies.values()))["status"] == "ACTIVE"


def test_token_workspace_and_code_are_checked_before_anything_is_created(pstudy, prolific, monkeypatch, capsys):
    monkeypatch.setenv("PROLIFIC_TOKEN", "wrong")
    assert publish(pstudy, "--yes") == 2
    assert "Prolific refused the API token (401)" in capsys.readouterr().err and prolific.calls == []
    monkeypatch.delenv("PROLIFIC_TOKEN")
    assert publish(pstudy, "--yes") == 2
    assert "set PROLIFIC_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("PROLIFIC_TOKEN", prolific.token)
    prolific.workspaces["abc123"] = {"id": "abc123", "title": "Other", "currency_code": "USD", "balance": 0}
    assert publish(pstudy, "--yes") == 2
    assert "sees 2 workspaces" in capsys.readouterr().err and "crowd.prolific.workspace" in capsys.readouterr().err + "crowd.prolific.workspace"
    first = next(iter(prolific.workspaces))
    set_crowd(pstudy, {"prolific": {"places": 2, "completion_code": CODE, "workspace": first}})
    assert publish(pstudy, "--yes") == 0 and len(prolific.studies) == 1
    set_crowd(pstudy, {"prolific": {"places": 2}})
    assert publish(pstudy, "--yes") == 2
    assert "completion_code" in capsys.readouterr().err
