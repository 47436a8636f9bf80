"""`barlow analyze` end to end, and every bad input: one-line error, exit 2, nothing written."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis_core.artifacts import load_features
from analysis_core.failure_tree import assign_leaves
from barlow.cli import main


def analyze(features, metadata, out, *extra):
    return main(["analyze", "--features", str(features), "--metadata", str(metadata), "--out", str(out),
                 "--quiet", *extra])


def test_end_to_end_outputs_follow_the_contract(planted_files, tmp_path, capsys):
    features, metadata, planted_ids = planted_files
    out = tmp_path / "analysis"
    assert analyze(features, metadata, out, "--depth", "2", "--holdout", "0.25") == 0
    stdout = capsys.readouterr().out
    assert "label grouping: 4 classes analysed" in stdout and "mean ALER-BER" in stdout

    table = pd.read_csv(out / "failure_modes.csv")
    assert {"holdout_er", "holdout_ec", "honest_er", "honest_q_value", "group_q_value", "rule"} <= set(table.columns)
    trees = json.loads((out / "trees.json").read_text())
    assert trees["version"] == 1 and trees["params"]["depth"] == 2 and trees["params"]["holdout"] == 0.25
    assert trees["inputs"] == {"features": str(features.resolve()), "metadata": str(metadata.resolve())}
    meta = pd.read_csv(metadata)
    assert trees["total_failures"] == int((meta["Labels"] != meta["Predictions"]).sum())
    assert len(trees["groups"]) == 8
    assert pd.read_csv(out / "skipped.csv").empty

    # Another program can find a leaf's rows from trees.json + features.npy + metadata.csv alone.
    X = np.load(features)
    for group in trees["groups"]:
        rows = np.flatnonzero(meta["Labels" if group["grouping"] == "label" else "Predictions"] == group["class"])
        leaf_of_row = assign_leaves(group, X[rows])
        failure = (meta["Labels"] != meta["Predictions"]).to_numpy()[rows]
        fit_n = {node["id"]: node["n"] for node in group["nodes"] if node["is_leaf"]}
        held_n = {leaf["leaf"]: leaf["n"] for leaf in group["holdout"]["leaves"]}
        for leaf in group["leaves"]:
            assert (leaf_of_row == leaf).sum() == fit_n[leaf] + held_n[leaf]
        assert failure.sum() == group["n_fail"] + group["holdout"]["n_fail"]
    label_roots = [g["nodes"][0]["feature"] for g in trees["groups"] if g["grouping"] == "label"]
    assert label_roots == list(planted_ids)


def test_knn_estimator_runs_from_the_cli(planted_files, tmp_path):
    features, metadata, planted_ids = planted_files
    out = tmp_path / "knn"
    assert analyze(features, metadata, out, "--mi", "knn", "--grouping", "label") == 0
    trees = json.loads((out / "trees.json").read_text())
    assert [g["nodes"][0]["feature"] for g in trees["groups"]] == list(planted_ids)


def test_features_npy_is_memory_mapped(planted_files):
    assert isinstance(load_features(planted_files[0]), np.memmap)


def _bad_inputs(tmp_path, planted):
    X, labels, predictions, _ = planted(n_classes=2, per_class=40, n_features=6)
    meta = pd.DataFrame({"Filenames": [f"f{i}" for i in range(len(labels))], "Predictions": predictions,
                         "Labels": labels})
    return X, meta


CASES = {
    "row count": "has 79 rows but the feature matrix has 80",
    "missing column": "lacks column(s) Predictions",
    "nan": "NaN/inf) at row 7, feature 2",
    "inf": "NaN/inf) at row 3, feature 0",
    "text npy": "features must be numeric",
    "text csv": "non-numeric value 'tall' at row 5, column 1",
    "one-d": "must be a 2-D matrix",
    "empty metadata": "has no rows",
    "blank label": "empty Labels value at row 4",
    "missing file": "features file not found",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_cleanly_and_writes_nothing(case, tmp_path, planted, capsys):
    X, meta = _bad_inputs(tmp_path, planted)
    features, metadata = tmp_path / "features.npy", tmp_path / "metadata.csv"
    if case == "row count":
        meta = meta.iloc[:-1]
    elif case == "missing column":
        meta = meta.drop(columns=["Predictions"])
    elif case == "nan":
        X[7, 2] = np.nan
    elif case == "inf":
        X[3, 0] = np.inf
    elif case == "text npy":
        X = X.astype(str)
    elif case == "text csv":
        features = tmp_path / "features.csv"
        frame = pd.DataFrame(X).astype(object)
        frame.iloc[5, 1] = "tall"
        frame.to_csv(features, header=False, index=False)
    elif case == "one-d":
        X = X[:, 0]
    elif case == "empty metadata":
        meta = meta.iloc[:0]
    elif case == "blank label":
        meta.loc[4, "Labels"] = " "
    if features.suffix == ".npy" and case != "missing file":
        np.save(features, X)
    meta.to_csv(metadata, index=False)

    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    status = analyze(features, metadata, out)
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("barlow: error: ") and err.count("\n") == 1
    assert CASES[case] in err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("depth", ["0", "4"])
def test_depth_outside_range_is_refused(planted_files, tmp_path, capsys, depth):
    features, metadata, _ = planted_files
    status = analyze(features, metadata, tmp_path / "out", "--depth", depth)
    err = capsys.readouterr().err
    assert status == 2 and f"--depth must be an integer from 1 to 3, got {depth}" in err
    assert not (tmp_path / "out").exists()


def test_a_failure_while_writing_leaves_the_folder_as_it_was(planted_files, tmp_path, monkeypatch, capsys):
    features, metadata, _ = planted_files
    out = tmp_path / "out"
    assert analyze(features, metadata, out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import analysis_core.failure_analysis_outputs as outputs

    def broken(result):
        raise OSError("disk full")

    monkeypatch.setattr(outputs, "trees_document", broken)
    with pytest.raises(OSError, match="disk full"):
        analyze(features, metadata, out, "--depth", "3")
    # failure_modes.csv of the new run was already staged but must not replace the old one.
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_all_cores_option_runs(planted_files, tmp_path):
    features, metadata, _ = planted_files
    assert analyze(features, metadata, tmp_path / "out", "--jobs", "-1", "--grouping", "label") == 0
    assert len(json.loads((tmp_path / "out" / "trees.json").read_text())["groups"]) == 4


def test_summary_names_the_largest_valid_failure_mode(planted_files, tmp_path, capsys):
    features, metadata, _ = planted_files
    assert analyze(features, metadata, tmp_path / "out", "--grouping", "label") == 0
    stdout = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "out" / "failure_modes.csv")
    best = table[table["valid"]].sort_values(["honest_n_fail_leaf", "honest_iv"], ascending=False).iloc[0]
    assert f"largest valid failure mode: label '{best['class']}': {best['rule']} -> honest ER" in stdout
    assert "4 classes analysed, 0 skipped; 100.0% have a valid leaf" in stdout
    # Four planted failure modes: every group's permutation test is significant.
    assert "100.0% with a failure mode at q <= 0.05" in stdout
    assert "mean ALER-BER honest +" in stdout and "(in-sample, as in the paper, +" in stdout


def test_without_cross_fitting_the_summary_says_in_sample(planted_files, tmp_path, capsys):
    features, metadata, _ = planted_files
    assert analyze(features, metadata, tmp_path / "out", "--grouping", "label", "--folds", "0",
                   "--permutations", "0") == 0
    stdout = capsys.readouterr().out
    assert "in-sample estimates only" in stdout and "largest valid failure mode (in-sample)" in stdout
    table = pd.read_csv(tmp_path / "out" / "failure_modes.csv")
    assert table["honest_er"].isna().all() and (table["valid"] == table["valid_in_sample"]).all()


def test_trees_json_leaves_carry_the_tables_validity(planted_files, tmp_path):
    features, metadata, _ = planted_files
    out = tmp_path / "out"
    assert analyze(features, metadata, out, "--depth", "2", "--grouping", "label", "--permutations", "0") == 0
    trees = json.loads((out / "trees.json").read_text())
    table = pd.read_csv(out / "failure_modes.csv")
    for group in trees["groups"]:
        rows = table[table["class"] == group["class"]].set_index("leaf")
        for node in group["nodes"]:
            if node["is_leaf"]:
                assert node["valid"] == bool(rows.loc[node["id"], "valid"])
                assert node["valid_in_sample"] == bool(rows.loc[node["id"], "valid_in_sample"])
        assert group["honest"]["method"] == "cross-fitting" and group["honest"]["folds"] == 5
        assert "permutation" not in group
