"""barlow experiments: informative features beat shuffled ones, summaries match per-class rows."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis_core.artifacts.errors import BarlowError
from analysis_core.experiments import parse_run
from barlow.cli import main


@pytest.fixture
def two_runs(tmp_path, planted, write_files):
    """'robust': features carrying the planted failure modes; 'shuffled': the same rows permuted."""
    X, labels, predictions, _ = planted(n_classes=3, per_class=250, n_features=32)
    robust = tmp_path / "robust"
    write_files(robust, X, labels, predictions)
    shuffled = tmp_path / "shuffled"
    write_files(shuffled, np.random.default_rng(1).permutation(X, axis=0), labels, predictions)
    return robust, shuffled


def test_experiments_end_to_end(two_runs, tmp_path, capsys):
    robust, shuffled = two_runs
    out = tmp_path / "exp"
    status = main(["experiments", "--run", f"robust={robust}", "--run", f"shuffled={shuffled}",
                   "--depths", "1", "3", "--out", str(out), "--quiet"])
    assert status == 0
    assert "mean ALER-BER" in capsys.readouterr().out
    summary = pd.read_csv(out / "experiments.csv")
    per_class = pd.read_csv(out / "experiments_per_class.csv")
    assert len(summary) == 2 * 2 * 2  # models x groupings x depths
    assert set(summary["depth"]) == {1, 3}
    assert (out / "experiments.png").stat().st_size > 10_000
    document = json.loads((out / "experiments.json").read_text())
    assert [run["name"] for run in document["runs"]] == ["robust", "shuffled"]
    assert len(document["summary"]) == 8

    def cell(model, grouping, depth, column):
        row = summary[(summary["model"] == model) & (summary["grouping"] == grouping) & (summary["depth"] == depth)]
        return float(row[column].iloc[0])

    # Features that carry the failure mode explain failures better than shuffled ones.
    assert cell("robust", "label", 1, "mean_aler_minus_ber") > cell("shuffled", "label", 1, "mean_aler_minus_ber") + 0.05
    assert cell("robust", "label", 1, "fraction_top_leaf_valid") == 1.0
    # Deeper trees never explain less on the data they were fitted to.
    assert cell("robust", "label", 3, "mean_aler_minus_ber") >= cell("robust", "label", 1, "mean_aler_minus_ber")
    # Summary rows are the mean / fraction of the per-class rows.
    for row in summary.itertuples():
        part = per_class[(per_class["model"] == row.model) & (per_class["grouping"] == row.grouping)
                         & (per_class["depth"] == row.depth)]
        assert row.n_classes == len(part)
        assert row.mean_aler_minus_ber == pytest.approx(part["aler_minus_ber"].mean())
        assert row.fraction_top_leaf_valid == pytest.approx(part["top_leaf_valid"].mean())


def test_top_leaf_validity_is_strict(two_runs, tmp_path):
    robust, _ = two_runs
    out = tmp_path / "exp"
    assert main(["experiments", "--run", f"r={robust}", "--depths", "2", "--out", str(out), "--quiet"]) == 0
    per_class = pd.read_csv(out / "experiments_per_class.csv")
    expected = (per_class["top_leaf_er"] > per_class["ber"] + 0.1) & (per_class["top_leaf_ec"] > 0.2)
    assert (per_class["top_leaf_valid"] == expected).all()


def test_run_given_as_features_file_uses_metadata_beside_it(two_runs):
    robust, _ = two_runs
    spec = parse_run(f"r={robust / 'features.npy'}")
    assert spec.metadata == robust / "metadata.csv"


@pytest.mark.parametrize("text, message", [
    ("robust", "must look like NAME=DIR"),
    ("robust=/nonexistent/folder", "neither a folder nor a features file"),
])
def test_bad_run_specs(text, message):
    with pytest.raises(BarlowError, match=message):
        parse_run(text)


def test_duplicate_run_names_fail_and_write_nothing(two_runs, tmp_path, capsys):
    robust, shuffled = two_runs
    out = tmp_path / "exp"
    status = main(["experiments", "--run", f"a={robust}", "--run", f"a={shuffled}", "--out", str(out), "--quiet"])
    assert status == 2 and "run name(s) used twice: a" in capsys.readouterr().err
    assert not out.exists()


def test_depth_outside_range_in_experiments(two_runs, tmp_path, capsys):
    robust, _ = two_runs
    status = main(["experiments", "--run", f"a={robust}", "--depths", "1", "5", "--out", str(tmp_path / "e"), "--quiet"])
    assert status == 2 and "got 5" in capsys.readouterr().err
