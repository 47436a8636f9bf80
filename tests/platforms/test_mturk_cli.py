"""The MTurk commands through the real boto3 client against the fake endpoint (no browser)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from barlow.cli import main
from study.db import open_study_database
from study.models import SUBMITTED, Assignment, Bonus, Hit, Study

URL = "https://study.example.org/"
PUBLISH = ["--platform", "mturk", "--sandbox", "--url", URL]


def db_state(study):
    db = open_study_database(study, create=False)
    try:
        with db.sessions() as s:
            hits = {h.key: h.platform_hit_id for h in s.scalars(select(Hit).where(Hit.study_id == db.study_id))}
            rows = s.scalars(select(Assignment).order_by(Assignment.id)).all()
            assignments = [
                {
                    "aid": a.platform_assignment_id, "hit": a.hit.key, "worker": a.worker.external_id, "status": a.status,
                    "passed": a.attention_passed, "review": a.review, "platform_review": a.platform_review,
                    "bonus_cents": a.bonus_cents, "seconds": a.work_time_seconds,
                    "answers": {x.question_id: x.value for x in a.answers},
                }
                for a in rows
            ]
            bonuses = [(b.worker.external_id, b.amount_cents, b.kind, b.paid_at is not None) for b in s.scalars(select(Bonus))]
            study_row = s.get(Study, db.study_id)
            return hits, assignments, bonuses, study_row
    finally:
        db.dispose()


def publish(study, *extra):
    return main(["study", "publish", str(study), *PUBLISH, *extra])


def set_crowd(study: Path, crowd: dict) -> None:
    path = study / "study.yaml"
    data = yaml.safe_load(path.read_text())
    data["crowd"] = crowd
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_publish_external_sandbox_creates_each_hit_once(pstudy, aws_env, capsys):
    set_crowd(pstudy, {"mturk": {"approval_rate": 95, "min_approved": 500, "locales": ["US", "GB"], "masters": True}})
    assert publish(pstudy) == 0
    out = capsys.readouterr().out
    hits, _, _, study = db_state(pstudy)
    assert len(hits) == 13 and all(hits.values()) and len(set(hits.values())) == 13 == len(aws_env.hits)
    assert study.platform == "mturk" and study.platform_sandbox is True and study.platform_study_id in aws_env.hit_types
    remote = aws_env.hits[hits["h0001"]]
    assert "<ExternalURL>https://study.example.org/hit/h0001</ExternalURL>" in remote.question
    assert remote.max_assignments == 2 and remote.type["Reward"] == "0.50"
    quals = {q["QualificationTypeId"]: q for q in remote.type["QualificationRequirements"]}
    assert quals["000000000000000000L0"]["IntegerValues"] == [95]
    assert quals["00000000000000000040"]["IntegerValues"] == [500]
    assert quals["00000000000000000071"]["LocaleValues"] == [{"Country": "US"}, {"Country": "GB"}]
    assert "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6" in quals  # the sandbox Masters id, not production's
    assert "published 13 HITs on MTurk sandbox" in out
    assert "13 HITs x 2 assignments x USD 0.50 = USD 13.00" in out and "sandbox" in out
    assert publish(pstudy) == 0
    assert len(aws_env.hits) == 13 and "nothing to publish" in capsys.readouterr().out


def test_external_url_must_be_https(pstudy, aws_env, capsys):
    assert main(["study", "publish", str(pstudy), "--platform", "mturk", "--sandbox", "--url", "http://study.example.org/"]) == 2
    err = capsys.readouterr().err
    assert "must start with https://" in err and "--question html" in err
    assert not aws_env.hits


def test_production_needs_yes_and_stays_under_max_cost(pstudy, aws_env, capsys):
    base = ["study", "publish", str(pstudy), "--platform", "mturk", "--url", URL]
    assert main(base) == 2
    captured = capsys.readouterr()
    assert "--yes" in captured.err and "USD 15.60" in captured.err
    assert "platform fee 20% = USD 2.60" in captured.out and "account balance USD 10000.00" in captured.out
    assert main([*base, "--yes", "--max-cost", "15"]) == 2
    assert "above --max-cost USD 15" in capsys.readouterr().err
    assert not aws_env.hits and "CreateHITWithHITType" not in aws_env.calls
    aws_env.balance = Decimal("10.00")
    assert main([*base, "--yes"]) == 2
    assert "holds USD 10.00" in capsys.readouterr().err and not aws_env.hits
    aws_env.balance = Decimal("100.00")
    assert main([*base, "--yes", "--max-cost", "20"]) == 0
    assert len(aws_env.hits) == 13


def test_fee_is_40_percent_from_ten_assignments(pstudy, aws_env, capsys):
    path = pstudy / "study.yaml"
    path.write_text(path.read_text().replace("assignments_per_hit: 2", "assignments_per_hit: 10"))
    assert main(["study", "publish", str(pstudy), "--platform", "mturk", "--url", URL]) == 2
    out = capsys.readouterr().out
    assert "13 HITs x 10 assignments x USD 0.50 = USD 65.00" in out and "platform fee 40% = USD 26.00" in out and "total USD 91.00" in out


def test_wrong_credentials_give_one_clear_line(pstudy, aws_env, monkeypatch, capsys):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    assert publish(pstudy) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rejected the AWS credentials (InvalidSignatureException" in err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWN")
    assert publish(pstudy) == 2
    assert "UnrecognizedClientException" in capsys.readouterr().err
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert publish(pstudy) == 2
    assert "no AWS credentials found" in capsys.readouterr().err
    assert not aws_env.hits


def test_throttling_is_retried_with_backoff(aws_env):
    from study.platforms.mturk import MTurk

    sleeps: list[float] = []
    mturk = MTurk(sandbox=True, sleep=sleeps.append)
    aws_env.throttle(3)
    assert mturk.balance() == Decimal("10000.00")
    assert sleeps == [0.5, 1.0, 2.0] and aws_env.calls.count("GetAccountBalance") == 4
    aws_env.throttle(100)
    with pytest.raises(Exception) as info:
        MTurk(sandbox=True, sleep=lambda s: None, retries=2).status(["HITX"])
    assert "MTurk get_hit for HIT HITX: ThrottlingException: Rate exceeded" in str(info.value)


def test_mturk_errors_name_the_hit(aws_env):
    from study.platforms.base import PlatformError
    from study.platforms.mturk import MTurk

    with pytest.raises(PlatformError, match=r"^MTurk get_hit for HIT NOSUCHHIT: RequestError AWS.MechanicalTurk.HitDoesNotExist: Hit NOSUCHHIT does not exist"):
        MTurk(sandbox=True).status(["NOSUCHHIT"])


def test_sandbox_endpoint_unless_the_user_configured_one(monkeypatch, tmp_path):
    from study.platforms.mturk import ENDPOINTS, make_client

    for name in ("AWS_ENDPOINT_URL_MTURK", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    assert make_client(True).meta.endpoint_url == ENDPOINTS[True]
    assert make_client(False).meta.endpoint_url == ENDPOINTS[False]
    assert make_client(True).meta.region_name == "us-east-1"
    (tmp_path / "config").write_text("[default]\nservices = local\n\n[services local]\nmturk =\n  endpoint_url = https://mturk.internal.example:8443\n")
    assert make_client(True).meta.endpoint_url == "https://mturk.internal.example:8443"
    monkeypatch.setenv("AWS_ENDPOINT_URL_MTURK", "https://other.example")
    assert make_client(False).meta.endpoint_url == "https://other.example"


def test_publish_killed_midway_then_rerun_creates_no_duplicates(pstudy, aws_env):
    aws_env.pause_after_creates = 5
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "barlow.cli", "study", "publish", str(pstudy), *PUBLISH], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert aws_env.paused.wait(60), "the publisher never reached the 5th HIT"
        proc.kill()  # mid-publish: the 5th HIT exists on MTurk, its id never reached the database
        proc.wait(10)
    finally:
        aws_env.release.set()
    hits, _, _, _ = db_state(pstudy)
    recorded = [v for v in hits.values() if v]
    assert len(recorded) == 4 and len(aws_env.hits) == 5
    assert publish(pstudy) == 0
    hits, _, _, _ = db_state(pstudy)
    assert len(aws_env.hits) == 13 and sorted(hits.values()) == sorted(aws_env.hits)
    annotations = [h.annotation for h in aws_env.hits.values()]
    assert len(set(annotations)) == 13


def test_a_repeated_request_token_records_the_existing_hit(pstudy, aws_env):
    """After MTurk's token memory (not the annotation scan) names the HIT, it is recorded, not recreated."""
    from study.platforms.base import HitToPublish
    from study.platforms.mturk import MTurk
    from study.platforms.service import listing, open_platform_study

    with open_platform_study(pstudy) as ps:
        mturk = MTurk(sandbox=True)
        q = '<ExternalQuestion xmlns="x"><ExternalURL>https://a.example/hit/h1</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>'
        seen: list[tuple[str, str]] = []
        hit = HitToPublish("h1", q, "barlow-token-h1", "barlow:x:h1")
        mturk.publish(listing(ps.spec), [hit], lambda k, v: seen.append((k, v)))
        mturk.publish(listing(ps.spec), [hit], lambda k, v: seen.append((k, v)))
    assert len(aws_env.hits) == 1 and seen[0] == seen[1] == ("h1", next(iter(aws_env.hits)))


def _work(fake, hits, answers_for, workers, minutes=None, fail_check_for=()):
    """Each worker accepts and submits every HIT, as MTurk's worker side would record it."""
    out = {}
    for w in workers:
        for key, hit_id in hits.items():
            aid = fake.accept(hit_id, w)
            fake.submit(aid, {"assignmentId": aid, **answers_for(key, fail_check=w in fail_check_for)})
            if minutes:
                a = fake.assignments[aid]
                a.accept_time = a.submit_time - 60 * minutes
            out[(w, key)] = aid
    return out


def test_collect_review_bonus_expire_status(pstudy, aws_env, answers_for, capsys):
    assert publish(pstudy) == 0
    hits, _, _, _ = db_state(pstudy)
    _work(aws_env, hits, answers_for, ["AWORKERONE", "AWORKERTWO"], minutes=10, fail_check_for=("AWORKERTWO",))
    capsys.readouterr()
    assert main(["study", "collect", str(pstudy)]) == 0
    assert "26 new, 0 updated, 0 already stored" in capsys.readouterr().out
    _, rows, _, _ = db_state(pstudy)
    assert len(rows) == 26 and all(r["status"] == SUBMITTED and r["answers"]["description"] == "the collar of a shirt" for r in rows)
    assert {r["answers"]["ease"] for r in rows if r["passed"] is None} == {"4"}
    checks = [r for r in rows if r["passed"] is not None]
    assert sorted((r["worker"], r["passed"]) for r in checks) == [("AWORKERONE", True), ("AWORKERTWO", False)]
    assert all(abs(r["seconds"] - 600) < 2 for r in rows)
    # Collecting again stores nothing twice.
    assert main(["study", "collect", str(pstudy)]) == 0
    assert "0 new, 0 updated, 26 already stored" in capsys.readouterr().out

    assert main(["study", "status", str(pstudy), "--balance"]) == 0
    out = capsys.readouterr().out
    assert "mturk sandbox" in out and "HITs published:  13 of 13" in out and "pending review:  26 (1 failed an attention check)" in out
    assert "median 10.0 min -> USD 3.00/hour at USD 0.50 per HIT (target USD 12.00/hour)" in out and "WARNING" in out
    assert "balance:         USD 10000.00" in out

    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    out = capsys.readouterr().out
    assert "approved 25" in out and "failed its attention check" in out and "AWORKERTWO" in out
    remote = {a.assignment_id: a.status for a in aws_env.assignments.values()}
    assert sorted(remote.values()).count("Approved") == 25 and sorted(remote.values()).count("Submitted") == 1
    failed = next(a for a in aws_env.assignments.values() if a.status == "Submitted")
    assert main(["study", "review", str(pstudy), "--reject", failed.assignment_id, "--reason", "The attention check asked for another answer."]) == 0
    assert aws_env.assignments[failed.assignment_id].status == "Rejected"
    assert aws_env.assignments[failed.assignment_id].feedback == "The attention check asked for another answer."
    assert main(["study", "review", str(pstudy), "--reject", failed.assignment_id, "--reason", "again"]) == 2
    assert "already rejected" in capsys.readouterr().err
    # 25 approved x ($0.50 + $0.10 fee) = $15.00
    assert aws_env.balance == Decimal("9985.00")

    assert main(["study", "bonus", str(pstudy), "--worker", "AWORKERONE", "--amount", "0.25", "--reason", "Thoughtful descriptions"]) == 0
    assert aws_env.bonuses[-1]["amount"] == Decimal("0.25") and aws_env.bonuses[-1]["worker"] == "AWORKERONE"
    assert main(["study", "bonus", str(pstudy), "--worker", "AWORKERONE", "--amount", "0.25", "--reason", "Thoughtful descriptions"]) == 2
    assert "already paid" in capsys.readouterr().err and len(aws_env.bonuses) == 1

    # 13 approved HITs x 10 min at $0.50 = $6.50 for 130 min; $12/h owes $26.00 -> $19.50 (worker one);
    # worker two: 12 approved HITs, 120 min, $6.00 paid -> $18.00.
    assert main(["study", "bonus", str(pstudy), "--top-up-to-wage"]) == 0
    paid = {b["worker"]: b["amount"] for b in aws_env.bonuses[1:]}
    assert paid == {"AWORKERONE": Decimal("19.50"), "AWORKERTWO": Decimal("18.00")}
    assert main(["study", "bonus", str(pstudy), "--top-up-to-wage"]) == 0
    assert len(aws_env.bonuses) == 3 and "0 workers topped up" in capsys.readouterr().out
    _, rows, bonuses, _ = db_state(pstudy)
    assert sum(r["bonus_cents"] for r in rows) == 25 + 1950 + 1800 and all(paid for *_, paid in bonuses)

    assert main(["study", "status", str(pstudy)]) == 0
    out = capsys.readouterr().out
    # rewards 25 x $0.60 = $15.00; bonuses $37.75 + 20% = $45.30
    assert "cost so far:     USD 60.30" in out and "pending review:  0" in out

    assert main(["study", "expire", str(pstudy)]) == 0
    assert "expired 13 HITs on mturk sandbox" in capsys.readouterr().out
    assert all(h.expiration < time.time() for h in aws_env.hits.values())


def test_a_bonus_interrupted_after_payment_is_not_paid_twice(pstudy, aws_env, answers_for, capsys):
    assert publish(pstudy) == 0
    hits, _, _, _ = db_state(pstudy)
    _work(aws_env, {"h0001": hits["h0001"]}, answers_for, ["AWORKERONE"])
    assert main(["study", "collect", str(pstudy)]) == 0
    aws_env.throttle(100, {"SendBonus"})
    assert main(["study", "bonus", str(pstudy), "--worker", "AWORKERONE", "--amount", "1.00", "--reason", "Great work"]) == 2
    assert "ThrottlingException" in capsys.readouterr().err and not aws_env.bonuses
    _, _, bonuses, _ = db_state(pstudy)
    assert bonuses == [("AWORKERONE", 100, "manual", False)]
    aws_env.throttle(0)
    # Pretend MTurk paid the first try but its answer was lost: the token keeps it single.
    aws_env.bonus_tokens.add(db_token(pstudy))
    aws_env.bonuses.append({"worker": "AWORKERONE", "amount": Decimal("1.00"), "token": db_token(pstudy)})
    assert main(["study", "bonus", str(pstudy), "--worker", "AWORKERONE", "--amount", "1.00", "--reason", "Great work"]) == 0
    assert "finished 1 bonus" in capsys.readouterr().out
    assert len(aws_env.bonuses) == 1
    _, _, bonuses, _ = db_state(pstudy)
    assert bonuses == [("AWORKERONE", 100, "manual", True)]


def db_token(study):
    db = open_study_database(study, create=False)
    try:
        with db.sessions() as s:
            return s.scalar(select(Bonus.token))
    finally:
        db.dispose()


def test_collect_pages_through_assignments(pstudy, aws_env, answers_for):
    from study.platforms.mturk import MTurk

    assert publish(pstudy) == 0
    hits, _, _, _ = db_state(pstudy)
    _work(aws_env, {"h0002": hits["h0002"]}, answers_for, ["AWORKERONE", "AWORKERTWO"])
    mturk = MTurk(sandbox=True)
    mturk.page_size = 1
    got = list(mturk.collect([hits["h0002"]]))
    assert sorted(a.worker_id for a in got) == ["AWORKERONE", "AWORKERTWO"]
    assert aws_env.calls.count("ListAssignmentsForHIT") == 2
    assert got[0].answers["useful_view"] == "B and C"


def test_invalid_answers_are_kept_for_review_not_approved(pstudy, aws_env, answers_for, capsys):
    assert publish(pstudy) == 0
    hits, _, _, _ = db_state(pstudy)
    aid = aws_env.accept(hits["h0003"], "AWORKERONE")
    aws_env.submit(aid, {"assignmentId": aid, **answers_for("h0003"), "ease": "9"})
    assert main(["study", "collect", str(pstudy)]) == 0
    out = capsys.readouterr().out
    assert "needs review" in out and "ease must be from 1 to 5, got 9" in out
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    assert "approved 0" in capsys.readouterr().out and aws_env.assignments[aid].status == "Submitted"


def test_dashboard_shows_platform_remote_ids_cost_and_pending(pstudy, aws_env, answers_for):
    import html as html_module

    from study.app import create_app

    assert publish(pstudy) == 0
    hits, _, _, _ = db_state(pstudy)
    done = _work(aws_env, {"h0001": hits["h0001"], "h0002": hits["h0002"]}, answers_for, ["AWORKERONE"], minutes=10)
    assert main(["study", "collect", str(pstudy)]) == 0
    assert main(["study", "review", str(pstudy), "--reject", done[("AWORKERONE", "h0002")], "--reason", "Off-topic description."]) == 0
    client = create_app(pstudy, admin_token="tok", secret_key="dash").test_client()
    page = html_module.unescape(client.get("/admin", headers={"Authorization": "Bearer tok"}).get_data(as_text=True))
    assert "Crowd platform: mturk" in page and "sandbox" in page
    assert hits["h0001"] in page and done[("AWORKERONE", "h0001")] in page
    section = page.split('id="platform"')[1].split("</section>")[0]
    assert '<div class="value">13 / 13</div>' in section
    assert '<div class="value">1</div><div class="label">pending review' in section
    assert "USD 0.00" in section  # nothing approved yet
    assert "USD 3.00/h" in section and "target USD 12.00/h" in section and "wage-warning" in page


def test_verifier_for_closed_crowd_mode(pstudy, aws_env, answers_for):
    from types import SimpleNamespace

    from study.platforms.mturk import assignment_verifier

    assert publish(pstudy) == 0
    hits, _, _, _ = db_state(pstudy)
    aid = aws_env.accept(hits["h0001"], "AWORKERONE")
    verifier = assignment_verifier({"sandbox": True})
    ref = SimpleNamespace(key="h0001", platform_hit_id=hits["h0001"])
    assert verifier.verify_assignment(ref, aid, "AWORKERONE") is False  # accepted, not submitted: MTurk does not show it yet
    aws_env.submit(aid, {"assignmentId": aid, **answers_for("h0001")})
    assert verifier.sandbox is True and assignment_verifier(None).sandbox is False
    assert verifier.verify_assignment(ref, aid, "AWORKERONE") is True
    assert verifier.verify_assignment(ref, aid, "AWORKERTWO") is False  # another worker's id in the URL
    assert verifier.verify_assignment(SimpleNamespace(key="h0002", platform_hit_id=hits["h0002"]), aid, "AWORKERONE") is False
    assert verifier.verify_assignment(ref, "NOSUCHASSIGNMENT", "AWORKERONE") is False


def test_collect_lets_mturk_decide_whose_unconfirmed_answer_counts(pstudy, aws_env, answers_for, capsys):
    """Answers stored unconfirmed under someone else's ids are replaced by what MTurk lists."""
    import re

    from study.app import create_app
    from study.platforms.connect import study_verifier

    assert publish(pstudy) == 0
    hits, _, _, _ = db_state(pstudy)
    client = create_app(pstudy, admin_token="tok", secret_key="closed", verifier=study_verifier(pstudy)).test_client()

    def server_submit(key, aid, worker, text):
        params = {"assignmentId": aid, "hitId": hits[key], "workerId": worker, "turkSubmitTo": "https://workersandbox.mturk.com"}
        page = client.get(f"/hit/{key}", query_string=params)
        if page.status_code != 200:
            return page.status_code
        token = re.search(r'name="form_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        return client.post(f"/hit/{key}/submit", data=answers_for(key, text=text) | params | {"form_token": token}).status_code

    # An attacker who learnt worker one's assignment id answers under it first, as himself.
    aid1 = aws_env.accept(hits["h0001"], "AWORKERONE")
    assert server_submit("h0001", aid1, "AFORGER", "forged under a stolen id") == 200
    assert server_submit("h0001", aid1, "AWORKERONE", "the collar of a shirt") == 409  # refused: id taken on our side
    aws_env.submit(aid1, {"assignmentId": aid1, **answers_for("h0001", text="the collar of a shirt")})
    # An attacker answers as worker two with a made-up assignment id; worker two's real work reaches MTurk.
    assert server_submit("h0002", "MADEUPASSIGNMENT0000000000001", "AWORKERTWO", "forged as worker two") == 200
    aid2 = aws_env.accept(hits["h0002"], "AWORKERTWO")
    aws_env.submit(aid2, {"assignmentId": aid2, **answers_for("h0002", text="a rounded toe cap")})

    capsys.readouterr()
    assert main(["study", "collect", str(pstudy)]) == 0
    out = capsys.readouterr().out
    assert "2 new, 0 updated" in out and out.count("  replaced: ") == 2
    _, rows, _, _ = db_state(pstudy)
    assert sorted((r["hit"], r["aid"], r["worker"], r["answers"]["description"]) for r in rows) == [
        ("h0001", aid1, "AWORKERONE", "the collar of a shirt"),
        ("h0002", aid2, "AWORKERTWO", "a rounded toe cap"),
    ]
    # Nothing forged is left to export, approve or pay.
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    assert "approved 2" in capsys.readouterr().out
