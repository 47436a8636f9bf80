"""Reading batch-results CSVs: bad input gets a clear error, kept-but-excluded answers a counted warning."""

import pytest

from analysis_core.artifacts.errors import BarlowError
from study.analysis.loading import load_csv

ROLES = dict(
    item_columns=["Input.grouping", "Input.class", "Input.feature"],
    likert_columns=["Answer.ease", "Answer.confidence"],
    choice_columns=["Answer.useful_view"],
    text_columns=["Answer.description"],
)
EASE = 10  # column index of Answer.ease in the hand-made rows


def test_valid_file_loads_with_roles_and_paper_option_order(hand_csv):
    table = load_csv(hand_csv, **ROLES)
    assert len(table.answers) == 9 and table.checks.empty
    assert table.choice[0].options == ["A", "B", "C", "B and C", "none"]
    assert table.feature_column == "Input.feature" and table.description_column == "Answer.description"
    assert table.warnings == []


def test_missing_column_is_named(hand_csv):
    with pytest.raises(BarlowError, match=r"Answer\.clarity not found"):
        load_csv(hand_csv, **{**ROLES, "likert_columns": ["Answer.ease", "Answer.clarity"]})


def test_empty_and_header_only_files(tmp_path, make_csv):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(BarlowError, match="is empty"):
        load_csv(empty, **ROLES)
    with pytest.raises(BarlowError, match="no answer rows"):
        load_csv(make_csv([]), **ROLES)
    with pytest.raises(BarlowError, match="does not exist"):
        load_csv(tmp_path / "nope.csv", **ROLES)


def test_non_numeric_likert_names_line_and_value(hand_rows, make_csv):
    hand_rows[4][EASE] = "very easy"
    hand_rows[6][EASE] = "?"
    with pytest.raises(BarlowError, match=r"Answer\.ease has 2 non-numeric answers, first on line 6: 'very easy'"):
        load_csv(make_csv(hand_rows), **ROLES)


def test_likert_outside_the_scale(hand_rows, make_csv):
    hand_rows[0][EASE] = "7"
    with pytest.raises(BarlowError, match=r"outside the whole numbers 1-5, first on line 2: '7'"):
        load_csv(make_csv(hand_rows), **ROLES)
    # The same answer is fine on a 1-7 scale.
    assert load_csv(make_csv(hand_rows), **ROLES, likert_range=(1, 7)).answers["Answer.ease"].max() == 7


def test_unknown_choice_option(hand_rows, make_csv):
    hand_rows[2][-1] = "D"
    with pytest.raises(BarlowError, match=r"not one of \['A', 'B', 'C', 'B and C', 'none'\], first on line 4: 'D'"):
        load_csv(make_csv(hand_rows), **ROLES, choice_options={"Answer.useful_view": ["A", "B", "C", "B and C", "none"]})


def test_empty_item_key_is_an_error(hand_rows, make_csv):
    hand_rows[3][7] = ""
    with pytest.raises(BarlowError, match=r"1 row have an empty item column Input\.feature \(first on line 5\)"):
        load_csv(make_csv(hand_rows), **ROLES)


def test_kept_and_left_out_answers_are_counted_in_warnings(hand_rows, make_csv):
    hand_rows[0][3] = "Rejected"  # left out
    hand_rows[1][EASE] = ""  # empty Likert answer
    hand_rows.append(["H1", "a10", "W2SECRET", "Approved", "10", "label", "Bag", "11", "false", "again", "1", "1", "A"])
    table = load_csv(make_csv(hand_rows), **ROLES, min_raters=3)
    notes = " / ".join(table.warnings)
    assert "1 rejected assignment left out" in notes
    assert "1 repeated answer" in notes
    assert "Answer.ease: 1 of 8 answers are empty" in notes
    assert "1 of 3 items have fewer than 3 raters (1 item with 2 raters); they are kept" in notes
    assert len(table.answers) == 8


def test_mturk_one_column_per_option_layout_is_read_as_one_answer(make_csv):
    header = ["WorkerId", "Input.feature", "Answer.view.B", "Answer.view.C", "Answer.view.none", "Answer.ease"]
    rows = [["W1", "1", "true", "false", "false", "4"], ["W2", "1", "false", "false", "true", "2"], ["W3", "1", "false", "false", "false", "3"]]
    table = load_csv(make_csv(rows, header), item_columns=["Input.feature"], likert_columns=["Answer.ease"],
                     choice_columns=["Answer.view"], text_columns=[])
    assert table.answers["Answer.view"].tolist() == ["B", "none", ""]
    rows[0][3] = "true"  # B and C both ticked on a single-choice question
    with pytest.raises(BarlowError, match="1 row mark more than one option as true"):
        load_csv(make_csv(rows, header), item_columns=["Input.feature"], likert_columns=["Answer.ease"],
                 choice_columns=["Answer.view"], text_columns=[])


def test_attention_checks_are_split_off_with_expected_answers(hand_rows, make_csv):
    hand_rows.append(["C1", "c1", "W1SECRET", "Approved", "20", "label", "check", "-1", "true", "x", "1", "1", "none"])
    hand_rows.append(["C1", "c2", "W2SECRET", "Approved", "20", "label", "check", "-1", "TRUE", "x", "1", "1", "B"])
    table = load_csv(make_csv(hand_rows), **ROLES, expected={"Answer.useful_view": "none"})
    assert len(table.checks) == 2 and len(table.answers) == 9
    assert table.expected == {"Answer.useful_view": "Expected.useful_view"}


def test_other_choice_questions_keep_only_their_own_options(make_csv):
    header = ["WorkerId", "Input.feature", "Answer.pick"]
    rows = [["W1", "1", "B"], ["W2", "1", "A"], ["W3", "2", "10"], ["W4", "2", "9"]]
    table = load_csv(make_csv(rows, header), item_columns=["Input.feature"], likert_columns=[], choice_columns=["Answer.pick"], text_columns=[])
    assert table.choice[0].options == ["9", "10", "A", "B"]
