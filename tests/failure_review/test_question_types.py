"""The multi-select and survey question types: YAML, validation of answers, feature studies too."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from analysis_core.artifacts.errors import BarlowError
from study.study_file import (
    dump_study_file,
    load_study_file,
    parse_study_text,
    validate_answers,
)

YAML = """
name: s
questions:
  - id: description
    type: text
    prompt: Describe it
  - id: actions
    type: multi
    prompt: What would you do?
    options: [collect, augment, relabel]
    option_labels: {collect: Collect data, other: "Other:"}
    other: true
    max_choices: 2
  - id: survey
    type: survey
    prompt: Agree?
    scale_labels: {1: Strongly disagree, 5: Strongly agree}
    statements:
      - {id: useful, text: It was useful.}
      - {id: easy, text: It was easy.}
"""


def spec(tmp_path, text=YAML):
    return parse_study_text(text, tmp_path / "study.yaml")


def test_multi_and_survey_round_trip_through_yaml(tmp_path):
    s = spec(tmp_path)
    multi, survey = s.question("actions"), s.question("survey")
    assert multi.all_options() == ["collect", "augment", "relabel", "other"]
    assert [f for _, f in s.answer_fields()] == ["description", "actions", "actions_other", "survey_useful", "survey_easy"]
    assert [q.id for q in s.hit_questions()] == ["description", "actions"]
    assert [q.id for q in s.survey_questions()] == ["survey"]
    (tmp_path / "study.yaml").write_text(dump_study_file(s))
    again = load_study_file(tmp_path)
    assert again.question("actions") == multi and again.question("survey") == survey


def test_multi_answers_keep_every_tick_in_option_order(tmp_path):
    questions = spec(tmp_path).hit_questions()
    form = MultiDict([("description", "a long enough text"), ("actions", "relabel"), ("actions", "collect")])
    answers, errors = validate_answers(questions, form)
    assert errors == {} and answers["actions"] == "collect|relabel" and answers["actions_other"] == ""


@pytest.mark.parametrize(
    "ticks, other, message",
    [
        ([], "", "tick at least one"),
        (["collect", "augment", "relabel"], "", "at most 2"),
        (["collect", "other"], "", "please say what"),
        (["bogus"], "", "not offered"),
    ],
)
def test_multi_answers_that_break_the_rules_are_refused(tmp_path, ticks, other, message):
    questions = spec(tmp_path).hit_questions()
    form = MultiDict([("description", "a long enough text"), ("actions_other", other)] + [("actions", t) for t in ticks])
    answers, errors = validate_answers(questions, form)
    assert answers == {} and message in errors["actions"]


def test_other_text_is_stored_when_other_is_ticked(tmp_path):
    questions = spec(tmp_path).hit_questions()
    form = MultiDict([("description", "a long enough text"), ("actions", "other"), ("actions_other", "  ask a domain expert ")])
    answers, errors = validate_answers(questions, form)
    assert answers["actions"] == "other" and answers["actions_other"] == "ask a domain expert"


def test_survey_needs_every_statement_on_the_scale(tmp_path):
    survey = spec(tmp_path).survey_questions()
    answers, errors = validate_answers(survey, {"survey_useful": "5"})
    assert "It was easy." in errors["survey"]
    answers, errors = validate_answers(survey, {"survey_useful": "5", "survey_easy": "9"})
    assert "from 1 to 5" in errors["survey"]
    answers, errors = validate_answers(survey, {"survey_useful": "5", "survey_easy": "2"})
    assert answers == {"survey_useful": "5", "survey_easy": "2"}


@pytest.mark.parametrize(
    "bad, message",
    [
        (YAML.replace("[collect, augment, relabel]", "[collect, a|b]"), "joins ticked options"),
        (YAML.replace("[collect, augment, relabel]", "[collect, other]"), "do not list it"),
        (YAML.replace("max_choices: 2", "max_choices: 2\n    min_choices: 3"), "min_choices <= max_choices"),
        (YAML.replace("      - {id: easy, text: It was easy.}", "      - {id: useful, text: Again.}"), "duplicate statement id"),
        (YAML.replace("  - id: description", "  - id: actions_other\n    type: text\n    prompt: x\n  - id: description"), "another question uses"),
        (YAML + "attention_checks:\n  - {id: c1, instruction: pick, expected: {survey: '1'}}\n", "once per worker"),
    ],
)
def test_invalid_study_files_name_the_problem(tmp_path, bad, message):
    with pytest.raises(BarlowError, match=message):
        spec(tmp_path, bad)


def test_feature_description_study_can_use_both_types(review_analysis, tmp_path):
    """The new types work in the original study kind: served, validated and exported."""
    import re

    from study.app import create_app
    from study.create import CreateOptions, create_study
    from study.db import open_study_database
    from study.export import batch_results

    questions = spec(tmp_path).questions
    out = tmp_path / "features"
    items = tmp_path / "items.csv"
    items.write_text("grouping,class,feature\nlabel,Shirt,10\nlabel,Shirt,20\n")
    created, _ = create_study(review_analysis, out, CreateOptions(items_csv=items, assignments_per_hit=1, questions=questions))
    open_study_database(out, spec=created).dispose()
    client = create_app(out, secret_key="k", testing=True).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    client.post("/start", data={"worker_id": "w1", "csrf_token": token})
    hit = client.get("/next").location
    page = client.get(hit).text
    assert 'type="checkbox"' in page and 'name="actions_other"' in page and "survey_useful" not in page
    r = client.post(hit + "/submit", data=MultiDict([("csrf_token", token), ("description", "stripes on cloth"), ("actions", "collect"), ("actions", "augment")]))
    assert r.status_code == 302
    frame = batch_results(out)
    assert frame.loc[0, "Answer.actions"] == "collect|augment"
    assert "Answer.survey_useful" in frame.columns
