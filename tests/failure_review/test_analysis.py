"""barlow study analyze on failure reviews: from a study folder and from a crowd CSV with column roles."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from werkzeug.datastructures import MultiDict

from analysis_core.report.context import load_report_data
from barlow.cli import main
from study.app import create_app
from study.failure_review.create import ReviewOptions, create_review_study

# Reviewer i's place for failure mode h (h0001..h0006): the first two modes are background
# (or a separate object) for four of five, the third is split 2:2:1, the rest are the main object.
PLACES = {
    1: ["background", "background", "background", "background", "main_object"],
    2: ["separate_object", "background", "separate_object", "background", "cant_tell"],
    3: ["main_object", "background", "main_object", "background", "cant_tell"],
}


def place(hit_no: int, reviewer: int) -> str:
    return PLACES.get(hit_no, ["main_object"] * 5)[reviewer]


def run_reviewers(study, n_reviewers=5):
    app = create_app(study, secret_key="k", testing=True)
    for r in range(n_reviewers):
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
        client.post("/start", data={"worker_id": f"rev-{r}", "csrf_token": token})
        while True:
            nxt = client.get("/next")
            if nxt.status_code == 200 or nxt.location.endswith("/survey"):
                break
            key = nxt.location.rsplit("/", 1)[1]
            page = client.get(nxt.location).text
            instruction = re.search(r'id="check-instruction">([^<]+)<', page)
            if instruction:  # an attention check (asking for "Can't tell"): every reviewer but the last reads it
                assert "Can\u2019t tell" in instruction.group(1) or "Can't tell" in instruction.group(1) or "Can&#39;t tell" in instruction.group(1)
                judgement = "cant_tell" if r < n_reviewers - 1 else "main_object"
                confidence = re.search(r"choose (\d) for", instruction.group(1)).group(1)
            else:
                judgement, confidence = place(int(key[1:]), r), str(3 + r % 3)
            actions = ["data_collection"] + (["remove_correlation"] if judgement in ("background", "separate_object") else []) + (["other"] if r == 0 else [])
            form = MultiDict([("csrf_token", token), ("description", f"reviewer {r} sees a pattern"), ("judgement", judgement),
                              ("confidence", confidence), ("actions_other", "ask the data team" if r == 0 else "")] + [("actions", a) for a in actions])
            assert client.post(nxt.location + "/submit", data=form).status_code == 302
        survey = {f"survey_{s}": str(v) for s, v in zip(["understand", "important", "features", "actions", "debug", "explainable"], [5, 4, 2 + r % 2, 4, 3, 1 + r])}
        assert client.post("/survey", data={"csrf_token": token, **survey}).status_code == 302


@pytest.fixture
def answered_study(review_analysis, tmp_path):
    from study.db import open_study_database

    spec, _ = create_review_study(review_analysis, tmp_path / "review", ReviewOptions(assignments_per_hit=5, attention_checks=1), load_report_data)
    open_study_database(tmp_path / "review", spec=spec).dispose()
    run_reviewers(tmp_path / "review")
    return tmp_path / "review"


def test_analysis_of_a_review_study(answered_study, review_analysis, tmp_path, capsys):
    out = tmp_path / "results"
    analysis_copy = tmp_path / "analysis"
    import shutil

    shutil.copytree(review_analysis, analysis_copy)
    assert main(["study", "analyze", "--study", str(answered_study), "--out", str(out), "--bootstrap", "200",
                 "--analysis", str(analysis_copy)]) == 0
    printed = capsys.readouterr().out
    assert "2 of 6 failure modes judged spurious" in printed
    summary = json.loads((out / "summary.json").read_text())
    r = summary["failure_review"]
    assert r["failure_modes"] == 6 and r["reviews"] == 30 and r["judged_spurious"] == 2
    assert r["verdicts"] == {"core": 3, "spurious": 2, "cant_tell": 0, "tie": 1}  # h0003: 2 core, 2 spurious, 1 can't tell
    assert r["where"] == {"main object": 18, "separate object": 2, "background": 8, "can't tell": 2}
    assert r["fleiss_kappa_verdict_items"] == 6 and r["fleiss_kappa_raters"] == 5
    assert 0 < r["fleiss_kappa_verdict"] < 1
    assert r["by_grouping"]["label"] == {"failure_modes": 3, "judged_spurious": 2, "share_judged_spurious": pytest.approx(2 / 3)}
    assert r["action_items"]["data_collection"]["n_reviews"] == 30
    assert r["action_items"]["remove_correlation"]["n_reviews"] == 10  # every separate-object or background answer
    assert r["other_actions"] == ["ask the data team"] * 6
    assert r["survey"]["The failure trees helped me understand where the model fails."]["n"] == 5
    assert r["survey"]["Such an analysis should be done before deploying a model."]["mean"] == pytest.approx(3.0)
    # The check asks for "Can't tell" and a stated confidence: the last reviewer ignores it.
    assert summary["attention_checks"]["n_passed"] == 4 and summary["attention_checks"]["n_answers"] == 5

    judgements = pd.read_csv(out / "failure_judgements.csv")
    first = judgements[(judgements["class"] == "Shirt") & (judgements["grouping"] == "label")].iloc[0]
    assert (first["leaf"], first["n_spurious"], first["n_reviewers"], first["verdict"]) == (4, 4, 5, "spurious")
    assert (analysis_copy / "failure_judgements.csv").read_text() == (out / "failure_judgements.csv").read_text()
    for figure in ("figure10_action_items.png", "figure11_survey.png"):
        assert Image.open(out / figure).size[0] > 600
    html = (out / "summary.html").read_text()
    assert "judged spurious by 4 of 5" in html and "figure11_survey.png" in html
    assert not (out / "feature_descriptions.csv").exists()  # review answers describe failures, not features


def test_analysis_from_a_crowd_csv_with_column_roles(tmp_path):
    """A crowd batch where each place is its own true/false column (MTurk checkbox export)."""
    rng = np.random.default_rng(0)
    rows = []
    for item in range(8):
        spurious = item < 3
        for worker in range(5):
            where = ("background" if worker % 2 else "separate object") if spurious and worker < 4 else ("main object" if worker < 4 else "can't tell")
            row = {"HITId": f"H{item}", "WorkerId": f"W{worker}", "AssignmentStatus": "Approved", "WorkTimeInSeconds": str(60 + worker),
                   "Input.grouping": "label", "Input.class": ["cat", "dog"][item % 2], "Input.leaf": str(item + 3),
                   "Answer.confidence": str(rng.integers(2, 6)), "Answer.reason": f"because of reason {worker}",
                   "Answer.actions.collect": str(worker != 2).lower(), "Answer.actions.augment": str(spurious).lower()}
            for place in ("main object", "separate object", "background", "can't tell"):
                row[f"Answer.where.{place}"] = "true" if place == where else "false"
            row["Answer.satisfied"] = str(1 + worker) if item == 0 else ""
            rows.append(row)
    batch = tmp_path / "Batch_1_batch_results.csv"
    pd.DataFrame(rows).to_csv(batch, index=False)
    out = tmp_path / "out"
    assert main(["study", "analyze", "--csv", str(batch), "--kind", "failure-review", "--item", "Input.grouping,Input.class,Input.leaf",
                 "--judgement", "Answer.where", "--confidence", "Answer.confidence", "--reasons", "Answer.reason",
                 "--actions", "Answer.actions", "--survey", "Answer.satisfied", "--out", str(out), "--bootstrap", "100"]) == 0
    r = json.loads((out / "summary.json").read_text())["failure_review"]
    assert r["failure_modes"] == 8 and r["judged_spurious"] == 3
    assert r["by_grouping"]["label"]["judged_spurious"] == 3
    assert r["action_items"]["collect"]["n_reviews"] == 32 and r["action_items"]["augment"]["n_reviews"] == 15
    assert r["survey"]["satisfied"]["n"] == 5 and r["survey"]["satisfied"]["mean"] == 3.0
    by_class = pd.read_csv(out / "spurious_by_class.csv")
    assert set(by_class["class"]) == {"cat", "dog"} and by_class["judged_spurious"].sum() == 3
    assert (out / "figure10_action_items.png").is_file() and (out / "figure11_survey.png").is_file()


def test_unknown_judgement_answers_are_named(tmp_path, capsys):
    batch = tmp_path / "b.csv"
    pd.DataFrame({"Input.leaf": ["1", "1"], "WorkerId": ["a", "b"], "Answer.where": ["background", "sky"]}).to_csv(batch, index=False)
    assert main(["study", "analyze", "--csv", str(batch), "--kind", "failure-review", "--item", "Input.leaf",
                 "--judgement", "Answer.where", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "'sky'" in err and "--judgement-values" in err
    assert main(["study", "analyze", "--csv", str(batch), "--kind", "failure-review", "--item", "Input.leaf",
                 "--judgement", "Answer.where", "--judgement-values", "background=sky", "--out", str(tmp_path / "o"),
                 "--bootstrap", "100"]) == 0


def test_a_review_study_without_its_judgement_question_is_named(answered_study, tmp_path, capsys):
    text = (answered_study / "study.yaml").read_text()
    (answered_study / "study.yaml").write_text(text.replace("judgement", "verdict"))  # question and its attention check
    assert main(["study", "analyze", "--study", str(answered_study), "--out", str(tmp_path / "o")]) == 2
    assert "needs its choice question 'judgement'" in capsys.readouterr().err
