"""Money, wages, study.yaml crowd settings and the question XML, without any platform."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from analysis_core.artifacts.errors import BarlowError
from study.platforms import money
from study.platforms.questions import (
    MAX_QUESTION_BYTES,
    check_study_url,
    external_question,
    hit_url,
    html_question,
    parse_answers,
)
from study.platforms.settings import MASTERS, crowd_settings


def test_mturk_fee_is_20_percent_and_40_from_ten_assignments_with_a_one_cent_floor():
    assert money.mturk_cost(100, 5, Decimal("0.50")).total == Decimal("300.00")
    assert money.mturk_cost(100, 10, Decimal("0.50")).total == Decimal("700.00")
    assert money.mturk_cost(10, 1, Decimal("0.02")).fees == Decimal("0.10")  # 20% of 2 cents rounds below the 1-cent minimum


def test_hourly_pay_and_top_up():
    assert money.hourly_pay(Decimal("0.50"), 150) == Decimal("12.00")
    assert money.hourly_pay(Decimal("0.50"), None) is None
    assert money.wage_top_up(Decimal("1.00"), 600, Decimal("12.00")) == Decimal("1.00")
    assert money.wage_top_up(Decimal("3.00"), 600, Decimal("12.00")) == Decimal("0.00")
    assert money.median_seconds([None, 0, 30, 10, 20]) == 20


def test_crowd_settings_read_and_explained():
    s = crowd_settings({"target_hourly_wage": 15, "mturk": {"approval_rate": 98, "locales": ["US"], "masters": True}})
    assert s.target_hourly_wage == Decimal("15")
    reqs = s.mturk.qualification_requirements(sandbox=False)
    assert [r["QualificationTypeId"] for r in reqs] == ["000000000000000000L0", "00000000000000000071", MASTERS["production"]]
    assert crowd_settings(None).target_hourly_wage == Decimal("12.00") and crowd_settings({}).mturk.qualification_requirements(True) == []
    for bad, message in [
        ({"mturk": {"approval_rate": 120}}, "crowd.mturk.approval_rate: expected a whole number from 0 to 100"),
        ({"mturk": {"locales": ["usa"]}}, "crowd.mturk.locales"),
        ({"mturk": {"masters": "yes"}}, "crowd.mturk.masters: expected true or false"),
        ({"prolific": {"completion_code": "C-1"}}, "crowd.prolific.completion_code"),
        ({"prolfic": {}}, "crowd.prolfic: unknown field"),
        ({"target_hourly_wage": "twelve"}, "crowd.target_hourly_wage"),
    ]:
        with pytest.raises(BarlowError, match=message.replace(".", r"\.")):
            crowd_settings(bad)


def test_study_yaml_keeps_the_crowd_section(tmp_path: Path):
    from study.study_file import (
        STUDY_FILE,
        default_spec,
        load_study_file,
        write_study_file,
    )

    spec = default_spec("s")
    spec.crowd = {"target_hourly_wage": 14.5, "prolific": {"places": 3}}
    write_study_file(spec, tmp_path)
    assert load_study_file(tmp_path).crowd == spec.crowd
    assert "crowd:" in (tmp_path / STUDY_FILE).read_text()


def test_external_question_needs_https_and_escapes_the_url():
    with pytest.raises(BarlowError, match="must start with https://"):
        check_study_url("http://example.org/")
    with pytest.raises(BarlowError, match="without \\?query"):
        check_study_url("https://example.org/?a=1")
    base = check_study_url("https://example.org/study")
    xml = external_question(hit_url(base, "h 1&2"))
    assert "<ExternalURL>https://example.org/study/hit/h%201%262</ExternalURL><FrameHeight>0</FrameHeight>" in xml


def test_html_question_size_limit_and_cdata():
    xml = html_question("<p>a]]>b</p>")
    assert "]]]]><![CDATA[>" in xml
    with pytest.raises(BarlowError, match="over MTurk's 65535"):
        html_question("x" * MAX_QUESTION_BYTES, hit_key="h9")


def test_question_form_answers_are_parsed():
    xml = (
        '<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd">'
        "<Answer><QuestionIdentifier>description</QuestionIdentifier><FreeText>caf&#233; &amp; stripes</FreeText></Answer>"
        "<Answer><QuestionIdentifier>ease</QuestionIdentifier><FreeText>4</FreeText></Answer></QuestionFormAnswers>"
    )
    assert parse_answers(xml) == {"description": "café & stripes", "ease": "4"}
    with pytest.raises(ValueError, match="not QuestionFormAnswers XML"):
        parse_answers("<Question")


def test_prolific_costs_name_the_workspace_currency():
    cost = money.prolific_cost(4, Decimal("1.50"), "GBP")
    assert cost.total == Decimal("8.00") and cost.lines()[-1] == "  total GBP 8.00 for 4 assignments"
    assert money.fmt(Decimal("0.5"), "USD") == "USD 0.50"


def test_prolific_rejections_are_checked_before_any_call():
    from study.platforms.prolific import Prolific

    platform = Prolific("token", base_url="http://127.0.0.1:9")  # nothing listens: a call would fail
    with pytest.raises(BarlowError, match="at least 100 characters"):
        platform.check_rejection("The description does not describe the images.", "LOW_EFFORT")
    with pytest.raises(BarlowError, match="--category"):
        platform.check_rejection("x" * 100, "SLOPPY")
    platform.check_rejection("x" * 100, "FAILED_INSTRUCTIONS")


def test_prolific_workspace_setting():
    assert crowd_settings({"prolific": {"workspace": "64a1f0c2e4b0"}}).prolific.workspace == "64a1f0c2e4b0"
    with pytest.raises(BarlowError, match="crowd.prolific.workspace"):
        crowd_settings({"prolific": {"workspace": "not an id"}})
