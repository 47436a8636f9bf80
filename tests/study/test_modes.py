import pytest

from study.modes import ASSIGNMENT, LOCAL, PREVIEW, ModeError, external_submit_url, resolve_mode


def test_modes_from_query_parameters():
    assert resolve_mode({}).kind == LOCAL
    preview = resolve_mode({"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "H"})
    assert preview.kind == PREVIEW and preview.read_only
    mode = resolve_mode({"assignmentId": "A", "hitId": "H", "workerId": "W", "turkSubmitTo": "https://www.mturk.com"})
    assert mode.kind == ASSIGNMENT and not mode.read_only
    assert mode.external_submit_url == "https://www.mturk.com/mturk/externalSubmit"


@pytest.mark.parametrize("base", ["https://workersandbox.mturk.com", "https://workersandbox.mturk.com/", "https://workersandbox.mturk.com//"])
def test_submit_url_has_one_slash(base):
    assert external_submit_url(base) == "https://workersandbox.mturk.com/mturk/externalSubmit"


@pytest.mark.parametrize(
    "params, message",
    [
        ({"assignmentId": "A", "turkSubmitTo": "https://x"}, "workerId"),
        ({"assignmentId": "A", "workerId": "W", "turkSubmitTo": "http://[::1"}, "not a valid URL"),
        ({"assignmentId": "A", "workerId": "W", "turkSubmitTo": "https://evil.example"}, "must be Mechanical Turk"),
        ({"assignmentId": "A", "workerId": "W", "turkSubmitTo": "http://www.mturk.com"}, "must be Mechanical Turk"),
        ({"assignmentId": "A", "workerId": "W", "turkSubmitTo": "https://www.mturk.com.evil.example"}, "must be Mechanical Turk"),
        ({"assignmentId": "A", "workerId": "W", "turkSubmitTo": "https://user@www.mturk.com"}, "http"),
        ({"assignmentId": "A", "workerId": "W", "turkSubmitTo": "https://www.mturk.com/elsewhere"}, "without a path"),
        ({"assignmentId": "A", "workerId": "W", "turkSubmitTo": "ftp://x"}, "http"),
        ({"assignmentId": "A" * 200, "workerId": "W", "turkSubmitTo": "https://x"}, "too long"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(ModeError, match=message):
        resolve_mode(params)
