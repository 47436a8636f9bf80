import numpy as np
import pandas as pd
import pytest

from analysis_core.artifacts import AnalysisFolder, read_failure_scores, write_failure_scores
from analysis_core.artifacts.trees import read_trees
from analysis_core.artifacts.errors import BarlowError
from analysis_core.failure_tree import assign_leaves


def test_analyze_writes_failure_scores_that_agree_with_the_trees(analysis_dir):
    folder = AnalysisFolder(analysis_dir)
    scores = folder.failure_scores()
    modes = folder.failure_modes()
    assert scores["in_leaf"].dtype == bool and scores["failure"].dtype == bool
    assert set(scores["class"]) <= set(modes["class"])
    # Every group's top-ranked failure mode is scored, for every image of its group.
    extraction = folder.extraction()
    X = np.load(extraction.features_path)
    meta = pd.read_csv(extraction.metadata_path, dtype=str, keep_default_na=False)
    for group in read_trees(analysis_dir).to_dict()["groups"]:
        top = modes[(modes["grouping"] == group["grouping"]) & (modes["class"] == group["class"]) & (modes["rank"] == 1)]
        leaf = int(top["leaf"].iloc[0])
        rows = scores[(scores["grouping"] == group["grouping"]) & (scores["class"] == group["class"]) & (scores["leaf"] == leaf)]
        column = "Labels" if group["grouping"] == "label" else "Predictions"
        members = np.flatnonzero(meta[column].str.strip() == group["class"].strip())
        assert sorted(rows["row"]) == sorted(members)
        leaf_of_row = assign_leaves(group, X[rows["row"].to_numpy()])
        assert np.array_equal(rows["in_leaf"].to_numpy(), leaf_of_row == leaf)
        assert (rows["margin"][rows["in_leaf"]] >= 0).all() and (rows["margin"][~rows["in_leaf"]] <= 0).all()


def test_failure_scores_round_trip(analysis_dir, tmp_path):
    scores = read_failure_scores(analysis_dir)
    path = write_failure_scores(scores, tmp_path / "copy")
    again = read_failure_scores(path)
    numbers = ["margin", "typicality", "score"]
    pd.testing.assert_frame_equal(again.drop(columns=numbers), scores.drop(columns=numbers))
    np.testing.assert_allclose(again[numbers], scores[numbers], rtol=1e-5, atol=1e-6)


def _frame():
    return pd.DataFrame({"row": [0, 1], "grouping": "label", "class": "NA", "leaf": 1, "rank": 1,
                         "in_leaf": [True, False], "failure": [True, False], "margin": [0.5, -0.2],
                         "typicality": [0.9, 0.1], "score": [3.9, 0.1]})


def test_writer_refuses_a_table_a_reader_could_not_use(tmp_path):
    with pytest.raises(BarlowError, match="lacks column.*margin"):
        write_failure_scores(_frame().drop(columns=["margin"]), tmp_path / "failure_scores.csv")
    duplicated = pd.concat([_frame(), _frame().head(1)])
    with pytest.raises(BarlowError, match="image row 0 appears twice for label group 'NA' leaf 1"):
        write_failure_scores(duplicated, tmp_path / "failure_scores.csv")
    assert not (tmp_path / "failure_scores.csv").exists()


@pytest.mark.parametrize(
    "column, value, message",
    [("margin", "deep", "column margin holds 'deep', not a number"),
     ("in_leaf", "maybe", "column in_leaf holds 'maybe', not true/false"),
     ("row", "-1", "column row must hold non-negative whole numbers")],
)
def test_reader_names_the_damaged_column(tmp_path, column, value, message):
    path = write_failure_scores(_frame(), tmp_path / "failure_scores.csv")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[0, column] = value
    table.to_csv(path, index=False)
    with pytest.raises(BarlowError, match=message):
        read_failure_scores(path)


def test_reader_keeps_class_names_that_look_missing(tmp_path):
    path = write_failure_scores(_frame(), tmp_path / "failure_scores.csv")
    assert list(read_failure_scores(path)["class"]) == ["NA", "NA"]


def test_missing_file_says_which_command_writes_it(tmp_path):
    with pytest.raises(BarlowError, match="written by 'barlow analyze'"):
        read_failure_scores(tmp_path)
    assert AnalysisFolder(tmp_path).failure_scores() is None
