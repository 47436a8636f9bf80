"""Prolific money paths under stress: two runs at once, amounts at the edges, currencies checked before paying."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

from barlow.cli import main
from tests.platforms.test_prolific import REPO, run_study, unknown_line


def barlow_process(*args: str) -> subprocess.Popen:
    """``barlow ARGS`` in a second process (a second terminal), on this checkout."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", "import sys; from barlow.cli import main; sys.exit(main(sys.argv[1:]))", *args],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_top_up_runs_at_once_pay_each_participant_once(pstudy, prolific, answers_for, database_url, capsys):
    from study.app import create_app
    from tests.platforms.test_prolific import URL, participant

    db = ["--database-url", database_url] if database_url else []
    assert main(["study", "publish", str(pstudy), "--platform", "prolific", "--url", URL, "--yes", *db]) == 0
    (study_id,) = prolific.studies
    app = create_app(pstudy, secret_key="race", database_url=database_url)
    for pid in ("PARTICIPANT1", "PARTICIPANT2"):
        with app.test_client() as client:
            participant(client, prolific, study_id, pid, answers_for)
    app.extensions["barlow_study"].db.dispose()
    assert main(["study", "collect", str(pstudy), *db]) == 0
    assert main(["study", "review", str(pstudy), "--approve-all-passing", *db]) == 0
    prolific.fault("POST", "/pay/$", "hang")  # the first run's first payment is held mid-call
    first = barlow_process("study", "bonus", str(pstudy), "--top-up-to-wage", *db)
    try:
        assert prolific.reached.wait(120), "the first run never reached the pay call"
        capsys.readouterr()
        # A second terminal runs the same top-up while the first is still paying.
        assert main(["study", "bonus", str(pstudy), "--top-up-to-wage", *db]) == 1
        assert "NOT PAID AGAIN" in capsys.readouterr().out  # the held payment is the first run's
    finally:
        prolific.release.set()
    out, _ = first.communicate(timeout=120)
    # 15 min at GBP 1.50 to reach GBP 12/hour: GBP 1.50 each, whichever run paid it.
    assert prolific.paid == {("PARTICIPANT1", "GBP"): Decimal("1.50"), ("PARTICIPANT2", "GBP"): Decimal("1.50")}, out
    assert set(prolific.payments.values()) == {1}


def test_bad_amounts_are_refused_before_any_call(pstudy, prolific, answers_for, capsys):
    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1",))
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    capsys.readouterr()
    calls = len(prolific.calls)
    for amount in ("0", "-0.50", "0.005", "NaN", "Infinity", "sNaN", "1,50", "£1"):
        assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", amount, "--reason", "Thanks"]) == 2, amount
        assert "--amount" in capsys.readouterr().err, amount
    assert prolific.calls[calls:].count("create-bonus-payments") == 0 and not prolific.paid


def test_a_throttled_pay_is_sent_again_and_pays_once(pstudy, prolific, answers_for, capsys):
    """Prolific answers 429 when payments contend for the workspace's wallet, before paying, and asks for a retry."""
    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1",))
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    prolific.fault("POST", "/pay/$", "refuse", status=429, detail="Request was throttled.")
    assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Thanks"]) == 0
    (bid,) = prolific.bonuses
    assert prolific.count("pay-bonus-payments") == 2 and prolific.payments == {bid: 1}
    assert prolific.paid == {("PARTICIPANT1", "GBP"): Decimal("0.50")}


def test_a_bonus_is_refused_when_the_paying_workspace_has_another_currency(pstudy, prolific, answers_for, monkeypatch, capsys):
    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1",))  # published from the GBP workspace
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    prolific.workspaces["usdspace"] = {"id": "usdspace", "title": "US lab", "currency_code": "USD", "balance": 100_000}
    monkeypatch.setenv("PROLIFIC_WORKSPACE_ID", "usdspace")
    capsys.readouterr()
    for cmd in (["--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Thanks"], ["--top-up-to-wage"]):
        assert main(["study", "bonus", str(pstudy), *cmd]) == 2
        err = capsys.readouterr().err
        assert "published in GBP" in err and "pays in USD" in err and "nothing was paid" in err
    assert not prolific.bonuses and not prolific.paid


def test_a_prolific_study_from_before_currencies_reads_its_workspace_currency(pstudy, prolific, answers_for, capsys):
    from study.db import open_study_database
    from study.models import Study

    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1",))
    db = open_study_database(pstudy, create=False)
    with db.sessions.begin() as s:
        s.get(Study, db.study_id).platform_currency = None  # as revision 0003 leaves an older Prolific study
    assert main(["study", "status", str(pstudy)]) == 0
    assert "USD" not in capsys.readouterr().out
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    with db.sessions() as s:
        assert s.get(Study, db.study_id).platform_currency == "GBP"
    db.dispose()
    assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Thanks"]) == 0
    assert "paid GBP 0.50 to PARTICIPANT1" in capsys.readouterr().out


def test_the_wage_top_up_counts_the_reward_prolific_paid_per_submission(pstudy, prolific, answers_for, capsys):
    from study.app import create_app
    from tests.platforms.test_mturk_cli import set_crowd
    from tests.platforms.test_prolific import CODE, participant, publish

    # 13 HITs x 2 answers, 10 HITs per participant: the third participant finds only 6 HITs
    # left and is sent back with the code, and Prolific pays them the whole reward (GBP 5.00).
    set_crowd(pstudy, {"target_hourly_wage": 40, "prolific": {"places": 3, "hits_per_participant": 10, "completion_code": CODE, "estimated_minutes": 15}})
    assert publish(pstudy, "--yes") == 0
    (study_id,) = prolific.studies
    app = create_app(pstudy, secret_key="prolific-test")
    answered = {}
    for pid in ("PARTICIPANT1", "PARTICIPANT2", "PARTICIPANT3"):
        with app.test_client() as client:
            answered[pid] = len(participant(client, prolific, study_id, pid, answers_for))
    assert answered == {"PARTICIPANT1": 10, "PARTICIPANT2": 10, "PARTICIPANT3": 6}
    assert main(["study", "collect", str(pstudy)]) == 0
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    # 15 min at GBP 40/hour is GBP 10.00; each was paid GBP 5.00: GBP 5.00 more each.
    assert main(["study", "bonus", str(pstudy), "--top-up-to-wage"]) == 0
    assert prolific.paid == {(pid, "GBP"): Decimal("5.00") for pid in answered}


def test_the_minimum_hourly_rate_is_checked_unrounded():
    import pytest

    from analysis_core.artifacts.errors import BarlowError
    from study.platforms.publishing import _check_minimum_pay

    with pytest.raises(BarlowError, match=r"at least GBP 6.00 per hour: GBP 11.99 for 120 min is GBP 5.99/hour"):
        _check_minimum_pay(Decimal("11.99"), 120, "GBP")  # GBP 5.995/hour
    _check_minimum_pay(Decimal("12.00"), 120, "GBP")
    with pytest.raises(BarlowError, match="at least USD 8.00"):
        _check_minimum_pay(Decimal("12.00"), 120, "USD")


def test_a_refused_second_pay_after_confirm_unpaid_stays_unknown(pstudy, prolific, answers_for, capsys):
    """The first call may have paid (the user's check can be wrong): a refusal of the second is no proof of 'not paid'."""
    from tests.platforms.test_prolific import sent_minutes_ago

    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1",))
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    prolific.fault("POST", "/pay/$", "drop")  # paid, the answer lost
    assert main(["study", "bonus", str(pstudy), "--top-up-to-wage"]) == 1
    (bid,) = prolific.bonuses
    sent_minutes_ago(pstudy, 20)
    prolific.fault("POST", "/pay/$", "refuse", status=400, detail="This bulk bonus payment has already been paid.")
    capsys.readouterr()
    assert main(["study", "bonus", str(pstudy), "--confirm-unpaid", bid]) == 1
    out = capsys.readouterr()
    assert "refused paying it again" in unknown_line(out.out) and "already been paid" in unknown_line(out.out) and bid in unknown_line(out.out)
    # Still of unknown outcome, so still counted: the top-up pays nobody a second time.
    assert main(["study", "bonus", str(pstudy), "--top-up-to-wage"]) == 1
    assert len(prolific.bonuses) == 1 and prolific.payments == {bid: 1}
    assert prolific.paid == {("PARTICIPANT1", "GBP"): Decimal("1.50")}


def test_a_run_killed_while_setting_up_a_bonus_pays_it_once(pstudy, prolific, answers_for, capsys):
    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1",))
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    prolific.fault("POST", "/bonus-payments/$", "hang")  # set up on Prolific, the id never reaches Barlow
    cmd = ["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Clear descriptions"]
    run = barlow_process(*cmd)
    try:
        assert prolific.reached.wait(120), "the run never reached the set-up call"
        run.kill()
        run.wait(30)
    finally:
        prolific.release.set()
    (orphan,) = prolific.bonuses
    capsys.readouterr()
    assert main(cmd) == 0  # recorded, never sent: set up afresh and paid
    assert "finished 1 bonus" in capsys.readouterr().out
    (paid,) = set(prolific.bonuses) - {orphan}
    assert prolific.payments == {paid: 1} and prolific.paid == {("PARTICIPANT1", "GBP"): Decimal("0.50")}
    assert main(cmd) == 2  # and it is not paid again


def test_two_publish_runs_at_once_create_one_study(pstudy, prolific, capsys):
    from tests.platforms.test_prolific import URL, publish

    # The first run has found no draft and is held reading the balance, before it creates one.
    prolific.fault("GET", "/balance/$", "hang")
    first = barlow_process("study", "publish", str(pstudy), "--platform", "prolific", "--url", URL, "--yes")
    try:
        assert prolific.reached.wait(120), "the first run never read the balance"
        assert publish(pstudy, "--yes") == 0  # a second terminal creates and publishes the study meanwhile
    finally:
        prolific.release.set()
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 2 and "another 'barlow study publish'" in out, out
    assert len(prolific.studies) == 1 and prolific.count("create-study") == 1
    assert [s["status"] for s in prolific.studies.values()] == ["ACTIVE"]
    assert publish(pstudy, "--yes") == 0 and "already published" in capsys.readouterr().out


def test_the_same_bonus_from_two_terminals_is_paid_once(pstudy, prolific, answers_for, capsys):
    run_study(pstudy, prolific, answers_for, pids=("PARTICIPANT1", "PARTICIPANT2"))
    assert main(["study", "review", str(pstudy), "--approve-all-passing"]) == 0
    # An earlier bonus to participant 2 is left to finish (its set-up's answer was a 502).
    prolific.fault("POST", "/bonus-payments/$", "502")
    assert main(["study", "bonus", str(pstudy), "--worker", "PARTICIPANT2", "--amount", "0.75", "--reason", "Careful work"]) == 2
    cmd = ["study", "bonus", str(pstudy), "--worker", "PARTICIPANT1", "--amount", "0.50", "--reason", "Clear descriptions"]
    # The first terminal checks that participant 1 has no such bonus, then is held finishing participant 2's.
    prolific.fault("POST", "/pay/$", "hang")
    first = barlow_process(*cmd)
    try:
        assert prolific.reached.wait(120), "the first run never reached the pay call"
        assert main(cmd) == 1  # the second terminal pays participant 1 (and lists the held payment)
    finally:
        prolific.release.set()
    out, _ = first.communicate(timeout=120)
    assert "another barlow run" in out, out
    assert prolific.paid[("PARTICIPANT1", "GBP")] == Decimal("0.50") and set(prolific.payments.values()) == {1}
