"""Acceptance: two reviewers complete a failure-review session in headless Chromium (multi-select
and survey), the answers export in every format, the analysis draws Figures 10 and 11, and the
failure report shows the judgements and filters to spurious failure modes."""

from __future__ import annotations

import json
import shutil
import threading
from urllib.parse import urlsplit

import pandas as pd
import pytest
from werkzeug.serving import make_server

from barlow.cli import main
from study.app import create_app

pytestmark = pytest.mark.browser

# Per reviewer: the place they give the failure modes of label groups (prediction groups get
# "Part of the main object" from both), their action items and survey answers.
REVIEWERS = {
    "ana": {"place": "The background", "actions": ["Collect more or more diverse data", "Remove or balance the spurious correlation"], "survey": 5},
    "ben": {"place": "A separate object", "actions": ["Augment the training data"], "other": "ask the labelling team", "survey": 2},
}


@pytest.fixture
def server(review_study):
    app = create_app(review_study, secret_key="browser-review")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


def review_session(browser, server, name: str, plan: dict) -> list[str]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server + "/")
    page.fill("#worker_id", name)
    page.click("#start")
    done = []
    while True:
        # /next shows the HIT; after a submit with ?saved=<key>&again=0, which says the answer is saved.
        page.wait_for_url(lambda url: urlsplit(url).path in ("/next", "/survey"))
        if urlsplit(page.url).path == "/survey":
            break
        hit = page.get_attribute("#hit-form", "action").rsplit("/", 2)[1]
        # What the reviewer judges: the rule, ER against BER, the tree, failures beside correct images.
        assert page.is_visible("#review-context .sentence") and page.is_visible("#tree .tnode.reviewed")
        assert page.is_visible("#compare figure.fail img") and page.is_visible("#compare figure.ok img")
        assert page.evaluate("Array.from(document.querySelectorAll('#review-context img')).every(i => i.complete && i.naturalWidth > 0)")
        check = page.locator("#check-instruction")
        page.fill("#input-description", f"{name}: the garments are photographed on a patterned surface")
        if check.count():
            page.get_by_label("Can't tell", exact=True).first.check()  # what the check asks for
            page.click("label[for=input-confidence-1]" if "choose 1" in check.text_content() else "label[for=input-confidence-5]")
        else:
            by_label = page.text_content("#review-title").strip().startswith("label")
            page.get_by_label(plan["place"] if by_label else "Part of the main object", exact=True).check()
            page.click("label[for=input-confidence-4]")
        for action in plan["actions"]:
            page.get_by_label(action, exact=True).check()
        if plan.get("other"):
            page.get_by_label("Other:", exact=True).check()
            page.click("#submit")  # "Other" ticked with an empty box: the browser keeps the form
            assert urlsplit(page.url).path == "/next" and "left" in page.text_content("#client-errors")
            page.fill("#input-actions-other-text", plan["other"])
        page.click("#submit")
        page.wait_for_url(f"**?saved={hit}&again=0")  # on to the next HIT, or the survey
        assert "Your answer is saved" in page.text_content("#saved")
        done.append(hit)
    # End of the session: the survey, once.
    assert page.locator(".survey-row").count() == 6
    page.click("#submit-survey")  # nothing chosen: the browser asks for the answers first
    assert urlsplit(page.url).path == "/survey"
    for row in range(6):
        page.locator(".survey-row").nth(row).locator(f"input[value='{plan['survey']}']").check()
    page.click("#submit-survey")
    page.wait_for_selector("#finished")
    page.goto(server + "/survey")
    assert page.locator("#finished").count() == 1  # asked once: straight to the end page
    context.close()
    return done


def test_two_reviewers_then_export_analysis_and_report(browser, server, review_study, review_analysis, tmp_path):
    done = {name: review_session(browser, server, name, plan) for name, plan in REVIEWERS.items()}
    assert len(done["ana"]) == len(done["ben"]) == 7  # six failure modes and one attention check

    exports = {}
    for fmt, name in (("mturk-csv", "batch.csv"), ("jsonl", "answers.jsonl"), ("long", "long.csv")):
        exports[fmt] = tmp_path / name
        assert main(["study", "export", str(review_study), "--format", fmt, "--out", str(exports[fmt])]) == 0
    batch = pd.read_csv(exports["mturk-csv"], keep_default_na=False)
    ben = batch[(batch["WorkerId"] == "ben") & (batch["Input.is_attention_check"].astype(str) == "False")]
    assert set(ben["Answer.judgement"]) == {"separate_object", "main_object"} and set(ben["Answer.actions"]) == {"data_augmentation|other"}
    assert set(ben.loc[ben["Input.grouping"] == "label", "Answer.judgement"]) == {"separate_object"}
    assert set(ben["Answer.actions_other"]) == {"ask the labelling team"} and set(ben["Input.leaf"].astype(int)) == {4}
    assert (batch["Answer.survey_debug"] != "").sum() == 2
    lines = [json.loads(line) for line in exports["jsonl"].read_text().splitlines()]
    assert sum("survey_understand" in line["Answer"] for line in lines) == 2
    tidy = pd.read_csv(exports["long"])
    assert len(tidy[tidy["question_type"] == "survey"]) == 12

    analysis = tmp_path / "analysis"
    shutil.copytree(review_analysis, analysis)
    out = tmp_path / "results"
    assert main(["study", "analyze", "--study", str(review_study), "--out", str(out), "--bootstrap", "200", "--analysis", str(analysis)]) == 0
    summary = json.loads((out / "summary.json").read_text())["failure_review"]
    assert summary["failure_modes"] == 6 and summary["judged_spurious"] == 3  # the label groups' failure modes
    assert summary["by_grouping"]["label"]["share_judged_spurious"] == 1.0 and summary["by_grouping"]["prediction"]["judged_spurious"] == 0
    assert summary["action_items"]["other"]["n_reviews"] == 6
    assert summary["survey"]["I would use this workflow to debug my own models."]["mean"] == 3.5
    assert (out / "figure10_action_items.png").stat().st_size > 5000 and (out / "figure11_survey.png").stat().st_size > 5000

    report = tmp_path / "report"
    assert main(["report", "--analysis", str(analysis), "--out", str(report)]) == 0
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto((report / "groups" / "label-Shirt.html").as_uri())
    assert "judged spurious by 2 of 2 reviewers" in page.text_content(".sentence.valid")
    page.goto((report / "index.html").as_uri())
    assert page.text_content("#n-judged-spurious").strip() == "3 of 6"
    assert page.locator("#groups tbody tr").count() == 6
    page.check("#only-spurious")
    shown = page.locator("#groups tbody tr")
    assert shown.count() == 3 and all(shown.nth(i).locator("td").first.text_content() == "label" for i in range(3))
    page.goto((report / "groups" / "prediction-Shirt.html").as_uri())
    assert "judged spurious by 0 of 2 reviewers" in page.text_content(".sentence.valid")
    context.close()
