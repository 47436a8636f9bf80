"""items.csv, review.json and failure_judgements.csv: one writer and one reader each, round-tripping,
and bad files named with their line and column."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.judgements import FailureJudgement, read_judgements, write_judgements
from analysis_core.artifacts.review_file import ReviewDocument, read_review, write_review
from analysis_core.artifacts.study_items import ITEM_COLUMNS, StudyItem, read_items, write_items
from analysis_core.artifacts.trees import TreesDocument, read_trees, write_trees
from analysis_core.failure_tree import FailureTree

FEATURE_ITEMS = [
    StudyItem("label", "Shirt", 3, tier="top", ber=0.25, mi=0.031),
    StudyItem("prediction", "NA", 7, tier="bottom", ber=0.0125, mi=0.002),  # "NA" is a class, not a missing value
]
REVIEW_ITEMS = [
    StudyItem("label", "Shirt", 3, ber=0.25, leaf=4, rule="feature[3] > 0.5 and feature[9] <= 0.1", er=0.6, ec=0.4),
    StudyItem("label", "Shirt", 3, ber=0.25, leaf=5, rule="feature[3] > 0.5 and feature[9] > 0.1", er=0.5, ec=0.2),
    StudyItem("prediction", "1", 8, ber=0.1),  # a whole tree reviewed: no leaf
]


@pytest.mark.parametrize("items", [FEATURE_ITEMS, REVIEW_ITEMS], ids=["feature-study", "failure-review"])
def test_items_of_both_study_kinds_share_one_layout_and_round_trip(items, tmp_path):
    path = write_items(items, tmp_path)
    assert path == tmp_path / "items.csv"
    assert path.read_text().splitlines()[0] == ",".join(ITEM_COLUMNS)
    assert read_items(path) == items


def test_a_hand_written_item_list_needs_only_three_columns(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("\ufeffgrouping,class,feature\nlabel, Shirt ,3\n")
    assert read_items(path, unique=True) == [StudyItem("label", "Shirt", 3)]


@pytest.mark.parametrize(
    "text, message",
    [
        ("grouping,class\nlabel,Shirt\n", r"lacks column\(s\) feature"),
        ("grouping,class,feature\nlabel,Shirt,three\n", "line 2, column feature: 'three' is not a whole number"),
        ("grouping,class,feature\nlabel,Shirt,-1\n", "line 2, column feature: -1 is below 0"),
        ("grouping,class,feature\nlabel,,1\n", "line 2, column class: the class is empty"),
        ("grouping,class,feature\nlabel,Shirt,1\nclass,Coat,2\n", "line 3, column grouping: 'class' must be 'label' or 'prediction'"),
        ("grouping,class,feature,mi\nlabel,Shirt,1,high\n", "line 2, column mi: 'high' is not a number"),
        ("grouping,class,feature\nlabel,Shirt,1\nlabel,Shirt,1\n", r"line 3: \(label, Shirt, 1\) is listed twice"),
        ("grouping,class,feature\n", "no items"),
    ],
)
def test_a_malformed_items_file_is_named_with_line_and_column(tmp_path, text, message):
    path = tmp_path / "items.csv"
    path.write_text(text)
    with pytest.raises(BarlowError, match=message) as caught:
        read_items(path, unique=True)
    assert str(path) in str(caught.value)


def test_review_file_round_trips_and_refuses_what_it_cannot_read(tmp_path):
    doc = ReviewDocument(unit="leaf", hits={"h0001": {"unit": "leaf", "leaf": {"id": 4, "rule": "feature[3] > 0.5"}, "group": {"ber": 0.25}}})
    write_review(doc, tmp_path)
    assert read_review(tmp_path) == doc
    path = tmp_path / "review.json"
    path.write_text(json.dumps({"version": 2, "hits": {}}))
    with pytest.raises(BarlowError, match="unsupported version 2"):
        read_review(tmp_path)
    path.write_text(json.dumps({"version": 1, "hits": {"h0001": []}}))
    with pytest.raises(BarlowError, match="context of HIT h0001 is not a mapping"):
        read_review(path)
    path.write_text("{")
    with pytest.raises(BarlowError, match="review.json is not valid JSON"):
        read_review(path)
    with pytest.raises(BarlowError, match="not found.*--kind failure-review"):
        read_review(tmp_path / "elsewhere")


def _judgement_table():
    # The study analysis's table: more columns than the report reads, in its own order.
    return pd.DataFrame({
        "item": ["a", "b", "c"], "grouping": ["label", "label", "prediction"], "class": ["Shirt", "NA", "Coat"],
        "leaf": [4, 2, 1], "rule": ["r", "s", "t"], "n_reviewers": [5, 4, 1], "n_core": [1, 2, 1], "n_spurious": [4, 2, 0],
        "verdict": ["spurious", "tie", "core"], "judged_spurious": [True, False, False], "agreement": [0.6, 0.3, 1.0],
    })


def test_judgements_round_trip_keeping_every_column(tmp_path):
    table = _judgement_table()
    path = write_judgements(table, tmp_path)
    assert list(pd.read_csv(path).columns) == list(table.columns)
    judged = read_judgements(path)
    assert judged[("label", "Shirt", 4)] == FailureJudgement("label", "Shirt", 4, 5, 4, "spurious", True)
    assert judged[("label", "NA", 2)].text == "judged spurious by 2 of 4 reviewers"
    assert judged[("prediction", "Coat", 1)].text == "judged spurious by 0 of 1 reviewer"


def test_judgements_without_group_columns_keep_the_layout_and_match_nothing(tmp_path):
    table = _judgement_table().drop(columns=["grouping", "class", "leaf"])
    path = write_judgements(table, tmp_path)
    assert list(pd.read_csv(path).columns)[:3] == ["grouping", "class", "leaf"]
    assert read_judgements(path) == {}  # no leaf: nothing a report can attach it to


@pytest.mark.parametrize(
    "column, value, message",
    [("n_spurious", "many", "column n_spurious: 'many' is not a whole number"),
     ("leaf", "1.5", "column leaf: '1.5' is not a whole number"),
     ("judged_spurious", "perhaps", "column judged_spurious: 'perhaps' is not true or false")],
)
def test_a_malformed_judgements_file_is_named_with_line_and_column(tmp_path, column, value, message):
    table = _judgement_table().astype(str)
    table.loc[1, column] = value
    path = tmp_path / "failure_judgements.csv"
    table.to_csv(path, index=False)
    with pytest.raises(BarlowError, match=f"line 3, {message}") as caught:
        read_judgements(path)
    assert str(path) in str(caught.value)
    table.drop(columns=["n_reviewers"]).to_csv(path, index=False)
    with pytest.raises(BarlowError, match="lacks column.*n_reviewers"):
        read_judgements(path)


def test_trees_json_is_written_from_typed_groups(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    tree = FailureTree(depth=2, top_k=4).fit(X, X[:, 2] > 0.7)
    group = tree.to_group("label", "Shirt")
    write_trees(TreesDocument(groups=[group], n_rows=300, n_features=8), tmp_path)
    back = read_trees(tmp_path).groups[0]
    assert back == group
    assert back.to_dict() == tree.to_dict("label", "Shirt")
    assert [n.id for n in back.leaf_nodes()] == tree.leaves_
