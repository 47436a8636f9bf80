"""features.npy / metadata.csv / manifest.json: one reader for every step."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis_core.artifacts import (
    Extraction,
    class_name,
    load_feature_table,
    load_metadata,
    read_manifest,
    write_manifest,
    write_metadata,
)
from analysis_core.artifacts.errors import BarlowError


def test_class_names_lose_surrounding_spaces_in_metadata(tmp_path):
    path = tmp_path / "metadata.csv"
    pd.DataFrame({"Filenames": ["a", "b"], "Labels": [" Shirt", "Coat "], "Predictions": ["Shirt ", " NA"]}).to_csv(path, index=False)
    meta = load_metadata(path)
    assert list(meta["Labels"]) == ["Shirt", "Coat"]
    assert list(meta["Predictions"]) == ["Shirt", "NA"]  # "NA" is a class name, not a missing value
    assert class_name(" Shirt ") == "Shirt" and class_name(7) == "7"


def test_feature_table_group_rows_match_spaced_names(tmp_path):
    np.save(tmp_path / "features.npy", np.arange(12, dtype=np.float32).reshape(4, 3))
    pd.DataFrame({"Labels": [" a", "a", "b ", "b"], "Predictions": ["a", "b", "b", "b"]}).to_csv(tmp_path / "metadata.csv", index=False)
    table = Extraction(tmp_path).load()
    assert table.n_rows == 4 and table.n_features == 3
    assert list(table.group_rows("label", "a")) == [0, 1]
    assert list(table.group_rows("label", " b ")) == [2, 3]
    assert list(table.group_rows("prediction", "b")) == [1, 2, 3]
    assert list(table.failure) == [False, True, False, False]


def test_row_count_mismatch_and_nan_are_named(tmp_path):
    X = np.ones((3, 2), dtype=np.float32)
    np.save(tmp_path / "features.npy", X)
    pd.DataFrame({"Labels": ["a", "b"], "Predictions": ["a", "b"]}).to_csv(tmp_path / "metadata.csv", index=False)
    with pytest.raises(BarlowError, match="has 2 rows but the feature matrix has 3"):
        load_feature_table(tmp_path / "features.npy", tmp_path / "metadata.csv")
    X[1, 1] = np.nan
    np.save(tmp_path / "features.npy", X)
    with pytest.raises(BarlowError, match=r"NaN/inf\) at row 1, feature 1"):
        load_feature_table(tmp_path / "features.npy", tmp_path / "metadata.csv")


def test_write_metadata_keeps_extra_columns_and_refuses_missing(tmp_path):
    frame = pd.DataFrame({"Filenames": ["x"], "Predictions": ["a"], "Labels": ["a"], "confidence": [0.9]})
    write_metadata(frame, tmp_path / "metadata.csv")
    assert list(pd.read_csv(tmp_path / "metadata.csv").columns) == ["Filenames", "Predictions", "Labels", "confidence"]
    with pytest.raises(BarlowError, match="lacks column"):
        write_metadata(frame.drop(columns="Labels"), tmp_path / "other.csv")
    assert not (tmp_path / "other.csv").exists()


def test_manifest_round_trip_and_absent(tmp_path):
    assert read_manifest(tmp_path) == {}
    write_manifest({"dataset": "fashion-mnist:test", "n_images": 3}, tmp_path)
    assert read_manifest(tmp_path / "manifest.json")["n_images"] == 3
    assert Extraction(tmp_path).manifest()["dataset"] == "fashion-mnist:test"
    (tmp_path / "manifest.json").write_text("[1, 2")
    with pytest.raises(BarlowError, match="manifest.json is not valid JSON"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps([1]))
    with pytest.raises(BarlowError, match="not a Barlow extraction manifest"):
        read_manifest(tmp_path)
