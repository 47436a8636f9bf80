"""study create --kind failure-review, the review HIT page, the once-per-worker survey and the export."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from werkzeug.datastructures import MultiDict

from analysis_core.artifacts.errors import BarlowError
from analysis_core.report.context import load_report_data
from barlow.cli import main
from study.app import create_app
from study.export import batch_results, long_table
from study.failure_review.create import ReviewOptions, create_review_study


def test_one_hit_per_valid_leaf_with_what_it_shows(review_analysis, review_study):
    hits = pd.read_csv(review_study / "hits.csv")
    review = json.loads((review_study / "review.json").read_text())
    assert review["unit"] == "leaf"
    real = hits[~hits["is_attention_check"]]
    assert len(real) == 6 and hits["is_attention_check"].sum() == 1  # one valid leaf (4) per group
    ctx = review["hits"]["h0001"]
    assert ctx["leaf"]["id"] == 4 and ctx["leaf"]["er"] == 0.5 and ctx["group"]["ber"] == 0.1
    assert ctx["leaf"]["rule"] == "feature[10] > 0.5000 and feature[20] > 0.2500"
    assert [f["id"] for f in ctx["features"]] == [10, 20] and real.iloc[0]["feature"] == 20  # judged: the last split
    assert ctx["failures"][0]["n_fail_in_leaf"] == 75 and ctx["correct"]["n_correct"] == 900
    for rel in [ctx["failures"][0]["samples"], ctx["correct"]["samples"], *ctx["features"][0]["vis"].values()]:
        assert (review_study / rel).is_file()
    # The tree is drawn with the path to the reviewed leaf marked.
    assert ctx["tree"]["on_path"] and [c["on_path"] for c in ctx["tree"]["children"]] == [False, True]
    spec = __import__("study.study_file", fromlist=["load_study_file"]).load_study_file(review_study)
    assert spec.kind == "failure-review" and spec.source["protocol"] == {"unit": "leaf", "max_depth": 2}
    check = spec.attention_checks[0]
    assert set(check.expected) == {"judgement", "confidence"}


def test_tree_unit_cuts_the_tree_at_max_depth(review_analysis, tmp_path):
    spec, hits = create_review_study(review_analysis, tmp_path / "t", ReviewOptions(unit="tree", max_depth=1), load_report_data)
    review = json.loads((tmp_path / "t" / "review.json").read_text())["hits"]
    ctx = review[hits[0].key]
    assert ctx["leaf"] is None and len(ctx["leaves"]) == 1
    assert [f["id"] for f in ctx["features"]] == [10]  # only the root's split is drawn at depth 1
    node2 = ctx["tree"]["children"][1]
    assert node2["cut"] and node2["children"] == []


def test_missing_pictures_are_named_with_the_command(tmp_path, review_analysis_factory):
    analysis = review_analysis_factory(tmp_path / "a", draw_correct=False)
    # Sample grids that were not drawn are reported and the HIT page says so.
    spec, hits = create_review_study(analysis, tmp_path / "s", ReviewOptions(), load_report_data)
    assert "correct images of label Shirt" in spec.source["pictures_not_drawn"]
    client = create_app(tmp_path / "s", secret_key="k", testing=True).test_client()
    page = client.get(f"/hit/{hits[0].key}?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=X").text
    assert 'id="no-correct"' in page and 'id="failures-4"' in page
    # A split feature without its A/B/C views is refused, naming the command that draws it.
    index = analysis / "visualizations" / "index.json"
    record = json.loads(index.read_text())
    del record["features"]["20"]
    index.write_text(json.dumps(record))
    with pytest.raises(BarlowError, match=r"A/B/C of feature 20.*barlow visualize --analysis"):
        create_review_study(analysis, tmp_path / "s2", ReviewOptions(), load_report_data)
    assert not (tmp_path / "s2" / "study.yaml").exists()


def test_cli_creates_a_review_study(review_analysis, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["study", "create", "--kind", "failure-review", "--analysis", str(review_analysis), "--out", str(out), "--assignments", "3"]) == 0
    assert "6 HITs + 0 attention checks, 3 assignments each" in capsys.readouterr().out
    assert main(["study", "create", "--kind", "failure-review", "--unit", "tree", "--analysis", str(review_analysis),
                 "--out", str(tmp_path / "t"), "--items", str(tmp_path / "x.csv")]) == 2
    assert "--items lists features" in capsys.readouterr().err


def _start(client, worker):
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    client.post("/start", data={"worker_id": worker, "csrf_token": token})
    return token


def _answers(token, judgement="background", actions=("data_collection",)):
    return MultiDict(
        [("csrf_token", token), ("description", "the shirts lie on a striped sofa"), ("judgement", judgement),
         ("confidence", "4")] + [("actions", a) for a in actions]
    )


def test_local_session_asks_the_survey_once_at_the_end(review_analysis, tmp_path):
    spec, hits = create_review_study(review_analysis, tmp_path / "s", ReviewOptions(assignments_per_hit=1), load_report_data)
    app = create_app(tmp_path / "s", secret_key="k", testing=True)
    client = app.test_client()
    token = _start(client, "rev-1")
    seen = []
    while True:
        r = client.get("/next")
        if r.location.endswith("/survey"):
            break
        page = client.get(r.location).text
        assert 'id="review-context"' in page and "this failure mode" in page and "survey_useful" not in page
        seen.append(r.location)
        bad = client.post(r.location + "/submit", data=_answers(token, actions=("other",)))
        assert bad.status_code == 400 and "please say what" in bad.text and 'value="other" checked' in bad.text
        assert client.post(r.location + "/submit", data=_answers(token)).status_code == 302
    assert len(seen) == len(hits)
    survey = client.get("/survey")
    assert survey.status_code == 200 and "The failure trees helped me understand" in survey.text
    partial = client.post("/survey", data={"csrf_token": token, "survey_understand": "5"})
    assert partial.status_code == 400 and "survey" in partial.text
    fields = {f"survey_{s.id}": str(i % 5 + 1) for i, s in enumerate(spec.question("survey").statements)}
    r = client.post("/survey", data={"csrf_token": token, **fields})
    assert r.status_code == 302
    finished = client.get("/next")
    assert finished.status_code == 200 and 'id="finished"' in finished.text
    assert client.get("/survey").status_code == 302  # asked once
    frame = batch_results(tmp_path / "s")
    assert (frame["Answer.survey_understand"].notna()).sum() == 1  # stored with the last HIT only
    assert frame["Answer.actions"].eq("data_collection").all() and frame["Input.leaf"].eq(4).all()
    assert set(frame["Input.rule"].str.startswith("feature[")) == {True}
    tidy = long_table(tmp_path / "s")
    assert set(tidy.loc[tidy["question_type"] == "survey", "question"]) == set(fields)


def test_crowd_worker_meets_the_survey_in_their_first_hit_only(review_study):
    app = create_app(review_study, secret_key="k", testing=True)
    client = app.test_client()
    keys = [h for h in pd.read_csv(review_study / "hits.csv")["hit"] if h.startswith("h")]

    def crowd(key, assignment):
        return f"/hit/{key}?assignmentId={assignment}&hitId=H&workerId=W1&turkSubmitTo=https://workersandbox.mturk.com"

    first = client.get(crowd(keys[0], "A1")).text
    assert "survey_understand" in first
    form_token = re.search(r'name="form_token" value="([^"]+)"', first).group(1)
    data = MultiDict([("assignmentId", "A1"), ("hitId", "H"), ("workerId", "W1"), ("turkSubmitTo", "https://workersandbox.mturk.com"),
                      ("form_token", form_token), ("description", "dark background behind"), ("judgement", "background"),
                      ("confidence", "3"), ("actions", "relabel")])
    missing = client.post(f"/hit/{keys[0]}/submit", data=data)
    assert missing.status_code == 400 and "survey" in missing.text
    for st in ("understand", "important", "features", "actions", "debug", "explainable"):
        data.add(f"survey_{st}", "4")
    assert client.post(f"/hit/{keys[0]}/submit", data=data).status_code == 200
    second = client.get(crowd(keys[1], "A2")).text
    assert "survey_understand" not in second and 'id="review-context"' in second


def test_publishing_a_review_study_as_html_question_is_refused_with_the_way_out(review_study, capsys):
    from barlow.cli import main

    code = main(["study", "publish", str(review_study), "--platform", "mturk", "--sandbox",
                 "--question", "html", "--image-bucket", "s3://bucket/prefix"])
    assert code == 2
    err = capsys.readouterr().err
    assert "failure-review study" in err and "--question external" in err


def test_the_hit_states_the_cross_fitted_rates_when_the_analysis_has_them(tmp_path, review_analysis_factory):
    analysis = review_analysis_factory(tmp_path / "a")
    table = pd.read_csv(analysis / "failure_modes.csv")
    # Cross-fitted estimates are lower than the in-sample ones, as they usually are.
    table["honest_n_leaf"], table["honest_n_fail_leaf"] = table["n_leaf"], table["n_fail_leaf"]
    table["honest_er"], table["honest_ec"], table["honest_iv"] = 0.3125, 0.1875, 0.3125 * 0.1875
    table.to_csv(analysis / "failure_modes.csv", index=False)
    spec, hits = create_review_study(analysis, tmp_path / "s", ReviewOptions(), load_report_data)
    client = create_app(tmp_path / "s", secret_key="k", testing=True).test_client()
    page = client.get(f"/hit/{hits[0].key}?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=X").text
    assert re.search(r'id="rate-er">31\.2%<', page) and re.search(r'id="rate-ec">18\.8%<', page)
    assert 'id="rates-note"' in page
