"""visualizations/index.json, feature_descriptions.csv, study folder names."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from analysis_core.artifacts import (
    StudyFolder,
    VisualizationIndex,
    group_key,
    group_slugs,
    leaf_key,
    read_descriptions,
    read_trees,
    read_visualization_index,
    write_descriptions,
    write_visualization_index,
)
from analysis_core.artifacts.errors import BarlowError

ENTRY = {"A": "feature_3/A.png", "B": "feature_3/B.png", "C": "feature_3/C.png", "top_rows": [1]}
OWN = {"A": "groups/label-Shirt/feature_3/A.png", "B": "x", "C": "y", "group_rows": 10}


def test_keys_and_slugs_agree_for_all_group_spellings(analysis_dir):
    doc = read_trees(analysis_dir)
    records = [g.to_dict() for g in doc.groups]
    assert group_slugs(doc.groups) == group_slugs(records)
    assert [group_key(g) for g in doc.groups] == [group_key(r) for r in records]
    assert group_key(("label", " Shirt ")) == "label/Shirt"
    assert leaf_key(("prediction", "NA"), 4) == "prediction/NA/4"
    assert group_slugs([("label", "a b"), ("label", "a/b"), ("label", "")]) == ["label-a-b", "label-a-b-2", "label-class"]


def test_group_pictures_win_over_dataset_pictures(tmp_path):
    index = VisualizationIndex(features={"3": ENTRY}, group_features={"label/Shirt": {"3": OWN}}, trees_sha1="abc")
    assert index.feature_entry("label", "Shirt", 3) == (OWN, "group")
    assert index.feature_entry("label", " Shirt", 3) == (OWN, "group")
    assert index.feature_entry("label", "Coat", 3) == (ENTRY, "dataset")
    assert index.feature_entry("label", "Coat", 4) == (None, None)
    write_visualization_index(index, tmp_path)
    again = read_visualization_index(tmp_path)
    assert again.to_dict() == index.to_dict() and again.path == tmp_path / "index.json"


def test_leaf_samples_dropped_for_other_trees(tmp_path):
    record = {"version": 1, "features": {"3": ENTRY}, "leaves": {"label/Shirt/2": {"samples": "leaves/x.png"}}, "trees_sha1": "old", "heatmap_normalization": "per feature"}
    (tmp_path / "index.json").write_text(json.dumps(record))
    index = read_visualization_index(tmp_path)
    assert index.extra == {"heatmap_normalization": "per feature"}
    assert index.leaf_samples(("label", "Shirt"), 2) == {"samples": "leaves/x.png"}
    assert index.for_trees("old") is index
    assert index.for_trees("new").leaves == {} and index.for_trees("new").features == {"3": ENTRY}


def test_missing_and_broken_index(tmp_path):
    assert read_visualization_index(tmp_path).features == {}
    with pytest.raises(BarlowError, match="run 'barlow visualize' first"):
        read_visualization_index(tmp_path, missing_ok=False)
    (tmp_path / "index.json").write_text('{"features": []}')
    with pytest.raises(BarlowError, match="expected a 'features' mapping"):
        read_visualization_index(tmp_path)


def test_descriptions_round_trip_and_errors(tmp_path):
    frame = pd.DataFrame({"feature": [3, 4], "description": ["stripes", " "], "n_descriptions": [5, 1], "agreement": [0.8, None]})
    write_descriptions(frame, tmp_path)
    desc = read_descriptions(tmp_path)
    assert list(desc) == [3]  # a blank description is not a description
    assert desc[3].description == "stripes" and desc[3].n_descriptions == 5 and desc[3].agreement == pytest.approx(0.8)
    assert desc[3]["description"] == desc[3].get("description") == "stripes"
    pd.DataFrame({"feature": ["x"], "description": ["y"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(BarlowError, match="row 2: feature 'x' is not an integer id"):
        read_descriptions(tmp_path / "bad.csv")
    pd.DataFrame({"id": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(BarlowError, match="lacks the column 'feature'"):
        read_descriptions(tmp_path / "bad.csv")


def test_study_folder_layout(tmp_path):
    folder = StudyFolder(tmp_path)
    assert not folder.holds_study
    folder.study_file.write_text("name: x\n")
    assert folder.holds_study and folder.database.name == "study.sqlite" and folder.hits_file.name == "hits.csv"
    assert StudyFolder.image_path("groups/label-a/feature_3/A.PNG", 3, "A") == "images/groups/label-a/feature_3/A.png"
    assert StudyFolder.image_path("../../etc/A.png", 3, "B") == "images/feature_3/B.png"


def test_artifacts_import_without_torch():
    code = "import sys, analysis_core.artifacts; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
