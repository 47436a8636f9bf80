import pytest

from analysis_core.artifacts.errors import BarlowError
from study.study_file import (
    STUDY_FILE,
    check_passed,
    default_spec,
    load_questions_file,
    load_study_file,
    validate_answers,
    write_study_file,
)

GOOD = {"description": "the collar of a shirt", "ease": "4", "confidence": "5", "useful_view": "B and C"}


def test_defaults_mirror_the_paper(tmp_path):
    spec = default_spec()
    assert [q.id for q in spec.questions] == ["description", "ease", "confidence", "useful_view"]
    assert [q.type for q in spec.questions] == ["text", "likert", "likert", "choice"]
    assert spec.question("useful_view").options == ["A", "B", "C", "B and C", "none"]
    assert (spec.question("ease").scale_min, spec.question("ease").scale_max) == (1, 5)
    assert spec.settings.assignments_per_hit == 5 and spec.settings.reward == "0.50"
    write_study_file(spec, tmp_path)
    again = load_study_file(tmp_path)
    assert again.to_dict() == spec.to_dict()


def test_users_reword_add_and_remove_questions_in_yaml(tmp_path):
    write_study_file(default_spec(), tmp_path)
    path = tmp_path / STUDY_FILE
    text = path.read_text()
    text = text.replace("How confident are you in your description?", "How sure are you?")
    text = text.replace(
        "- id: useful_view",
        "- id: colour\n  type: choice\n  prompt: Is colour involved?\n  options: [yes, no]\n- id: useful_view",
    )
    path.write_text(text)
    spec = load_study_file(tmp_path)
    assert spec.question("confidence").prompt == "How sure are you?"
    assert spec.question("colour").options == ["yes", "no"]


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("  scale_max: 5\n  scale_labels:\n    1: Very difficult", "  scale_max: 1\n  scale_labels:\n    1: Very difficult", "scale_max must be greater"),
        ("type: choice", "type: dropdown", "unknown question type 'dropdown'"),
        ("reward: '0.50'", "reward: 'fifty cents'", "reward"),
        ("- id: ease", "- id: description", "duplicate question id 'description'"),
        ("- id: ease", "- id: assignmentId", "reserved"),
        ("  min_length: 10", "  min_length: 10\n  colour: red", "unknown field"),
    ],
)
def test_bad_study_file_names_line_and_field(tmp_path, old, new, message):
    write_study_file(default_spec(), tmp_path)
    path = tmp_path / STUDY_FILE
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(BarlowError, match=message) as info:
        load_study_file(tmp_path)
    assert str(path) in str(info.value) and " line " in str(info.value)


def test_error_points_at_the_right_line(tmp_path):
    write_study_file(default_spec(), tmp_path)
    path = tmp_path / STUDY_FILE
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "type: likert" in line)
    lines[at] = lines[at].replace("likert", "slider")
    path.write_text("\n".join(lines))
    with pytest.raises(BarlowError, match=rf"line {at + 1}: questions\[1\]\.type"):
        load_study_file(tmp_path)


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(BarlowError, match="barlow study create"):
        load_study_file(tmp_path / "nowhere")
    (tmp_path / STUDY_FILE).write_text("name: x\nquestions: [\n")
    with pytest.raises(BarlowError, match="not valid YAML"):
        load_study_file(tmp_path)


def test_answers_are_checked_against_the_questions():
    qs = default_spec().questions
    answers, errors = validate_answers(qs, GOOD | {"csrf_token": "ignored"})
    assert errors == {} and answers == GOOD
    _, errors = validate_answers(qs, GOOD | {"ease": "6"})
    assert errors == {"ease": "ease must be from 1 to 5, got 6"}
    _, errors = validate_answers(qs, GOOD | {"ease": "three"})
    assert "whole number" in errors["ease"]
    _, errors = validate_answers(qs, GOOD | {"useful_view": "D"})
    assert "must be one of A, B, C, B and C, none" in errors["useful_view"]
    _, errors = validate_answers(qs, GOOD | {"description": "x" * 501})
    assert "too long (501 characters; at most 500)" in errors["description"]
    _, errors = validate_answers(qs, {k: v for k, v in GOOD.items() if k != "confidence"} | {"description": "   "})
    assert set(errors) == {"description", "confidence"}
    answers, _ = validate_answers(qs, GOOD | {"description": "  a line\r\nand another  "})
    assert answers["description"] == "a line\nand another"


def test_questions_file_replaces_defaults(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text("questions:\n  - id: what\n    type: text\n    prompt: What is it?\n    max_length: 50\n")
    qs = load_questions_file(path)
    assert [q.id for q in qs] == ["what"] and qs[0].max_length == 50
    path.write_text("questions:\n  - id: what\n    type: likert\n    prompt: P\n    scale_min: 3\n    scale_max: 2\n")
    with pytest.raises(BarlowError, match="q.yaml line 6: questions\\[0\\].scale_max"):
        load_questions_file(path)


def test_attention_check_expected_answers_validated(tmp_path):
    spec = default_spec()
    from study.study_file import AttentionCheck

    spec.attention_checks = [AttentionCheck("c1", "Choose none.", {"useful_view": "none", "ease": "1"})]
    assert check_passed(spec.attention_checks[0], GOOD | {"useful_view": "none", "ease": "1"})
    assert not check_passed(spec.attention_checks[0], GOOD)
    spec.attention_checks = [AttentionCheck("c1", "Choose 9.", {"ease": "9"})]
    with pytest.raises(BarlowError, match="attention check 'c1': expected answer must be from 1 to 5"):
        write_study_file(spec, tmp_path)
