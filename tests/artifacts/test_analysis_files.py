"""trees.json, failure_modes.csv, skipped.csv: typed, round-tripping, tolerant of new fields."""

import json

import pandas as pd
import pytest

from analysis_core.artifacts import (
    AnalysisFolder,
    TreeNode,
    read_failure_modes,
    read_skipped,
    read_trees,
    write_analysis_files,
    write_trees,
)
from analysis_core.artifacts.errors import BarlowError


def test_trees_round_trip_is_lossless(analysis_dir, tmp_path):
    raw = json.loads((analysis_dir / "trees.json").read_text())
    doc = read_trees(analysis_dir)
    assert doc.to_dict() == raw
    assert len(doc.sha1) == 40 and doc.path == analysis_dir / "trees.json"
    write_trees(doc, tmp_path / "copy")
    assert json.loads((tmp_path / "copy" / "trees.json").read_text()) == raw


def test_typed_groups_and_nodes(analysis_dir):
    doc = read_trees(analysis_dir)
    assert {g.class_name for g in doc.groups} == {"T-shirt", "Trouser", "NA"}
    group = doc.group("label", " T-shirt ")
    assert group.key == "label/T-shirt"
    root = group.root
    assert root.parent is None and not root.is_leaf and isinstance(root.feature, int)
    assert group.split_features()[0] == root.feature
    leaves = group.leaf_nodes()
    assert [leaf.id for leaf in leaves] == group.leaves and all(isinstance(leaf, TreeNode) and leaf.is_leaf for leaf in leaves)
    assert sum(leaf.n for leaf in leaves) == group.n
    assert sum(leaf.n_fail for leaf in leaves) == group.n_fail
    assert group.top_mi_features(2) == [s.feature for s in sorted(group.selected_features, key=lambda s: -s.mi)[:2]]
    assert group.holdout is not None and group.holdout["n"] > 0
    assert set(doc.split_features()) >= set(group.split_features())


def test_unknown_fields_are_carried_through(analysis_dir, tmp_path):
    raw = json.loads((analysis_dir / "trees.json").read_text())
    raw["cross_fit"] = {"folds": 5}
    raw["groups"][0]["honest_aler"] = 0.25
    raw["groups"][0]["nodes"][0]["honest_er"] = 0.5
    raw["groups"][0]["selected_features"][0]["mi_null_p"] = 0.01
    (analysis_dir / "trees.json").write_text(json.dumps(raw))
    doc = read_trees(analysis_dir)
    assert doc.extra == {"cross_fit": {"folds": 5}}
    assert doc.groups[0].extra["honest_aler"] == 0.25
    assert doc.groups[0].nodes[0].extra["honest_er"] == 0.5
    write_trees(doc, tmp_path)
    assert json.loads((tmp_path / "trees.json").read_text()) == raw


def test_nan_written_as_null(tmp_path):
    doc = read_trees_from({"groups": [{"grouping": "label", "class": "a", "ber": float("nan"), "nodes": [{"id": 0, "er": float("nan")}]}]}, tmp_path)
    assert doc.groups[0].ber is None and doc.groups[0].nodes[0].er is None


def read_trees_from(record, tmp_path):
    write_trees(record, tmp_path)
    assert "NaN" not in (tmp_path / "trees.json").read_text()
    return read_trees(tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not valid JSON"),
        ('{"groups": 3}', "no 'groups' list"),
        ('{"groups": [{"grouping": "label"}]}', "malformed"),
        ('{"groups": [{"grouping": "label", "class": "a", "nodes": [{"parent": null}]}]}', "malformed"),
    ],
)
def test_broken_trees_named(tmp_path, content, message):
    (tmp_path / "trees.json").write_text(content)
    with pytest.raises(BarlowError, match=message):
        read_trees(tmp_path)
    with pytest.raises(BarlowError, match="not found"):
        read_trees(tmp_path / "elsewhere")


def test_failure_modes_text_classes_and_extra_columns(analysis_dir, tmp_path):
    table = read_failure_modes(analysis_dir)
    assert set(table["class"]) <= {"T-shirt", "Trouser", "NA"} and "NA" in set(table["class"])
    assert table["valid"].dtype == bool and "holdout_er" in table.columns
    table["honest_er"] = 0.5
    doc = read_trees(analysis_dir)
    write_analysis_files(tmp_path / "copy", doc, table, read_skipped(analysis_dir))
    again = read_failure_modes(tmp_path / "copy")
    assert list(again.columns) == list(table.columns) and (again["honest_er"] == 0.5).all()
    assert (tmp_path / "copy" / "skipped.csv").is_file()
    with pytest.raises(BarlowError, match="lacks column"):
        write_analysis_files(tmp_path / "bad", doc, table.drop(columns="iv"), [])
    assert not (tmp_path / "bad" / "trees.json").exists()  # all or nothing


def test_failure_modes_missing_column_named(tmp_path):
    pd.DataFrame({"grouping": ["label"], "class": ["a"]}).to_csv(tmp_path / "failure_modes.csv", index=False)
    with pytest.raises(BarlowError, match=r"lacks column\(s\) n, n_fail"):
        read_failure_modes(tmp_path)


def test_skipped_records(tmp_path):
    assert read_skipped(tmp_path) == []
    write_analysis_files(tmp_path, {"groups": []}, pd.DataFrame(columns=["grouping", "class", "n", "n_fail", "ber", "aler", "aler_minus_ber", "leaf", "n_leaf", "n_fail_leaf", "er", "ec", "iv", "valid"]),
                         [("label", " null", 4, 0, "no failures")])
    assert read_skipped(tmp_path) == [{"grouping": "label", "class": "null", "n": 4, "n_fail": 0, "reason": "no failures"}]


def test_analysis_folder_finds_its_extraction(analysis_dir, tmp_path):
    folder = AnalysisFolder(analysis_dir)
    extraction = folder.extraction()
    assert extraction.features_path.name == "features.npy" and extraction.metadata_path.is_file()
    moved = tmp_path / "moved"
    extraction.features_path.parent.rename(moved)
    with pytest.raises(BarlowError, match="not found; pass --features PATH"):
        AnalysisFolder(analysis_dir).extraction()
    again = AnalysisFolder(analysis_dir).extraction(features=moved / "features.npy", metadata=moved / "metadata.csv")
    assert again.load().n_rows == 360
