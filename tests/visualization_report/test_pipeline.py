import json

import numpy as np
from PIL import Image

from analysis_core.visualization.config import VisualizationConfig
from analysis_core.visualization.pipeline import visualize_analysis
from analysis_core.visualization.selection import split_features


def test_visualize_analysis_writes_strips_and_index(fmnist_run):
    analysis = fmnist_run["analysis"]
    trees = json.loads((analysis / "trees.json").read_text())
    wanted = split_features(trees["groups"])
    config = VisualizationConfig(iterations=10)
    index = visualize_analysis(analysis, config=config, progress=False)
    vis = analysis / "visualizations"
    on_disk = json.loads((vis / "index.json").read_text())
    assert on_disk == json.loads(json.dumps(index))
    assert on_disk["dataset"] == "fashion-mnist"
    assert sorted(int(f) for f in on_disk["features"]) == wanted
    X = fmnist_run["X"]
    for fid, entry in on_disk["features"].items():
        column = X[:, int(fid)]
        assert entry["top_values"] == sorted(entry["top_values"], reverse=True)
        np.testing.assert_allclose(entry["top_values"], np.sort(column)[::-1][:6], rtol=1e-6)
        assert all(a >= b for a, b in zip(entry["attack_after"], entry["attack_before"]))
        widths = set()
        for section in "ABC":
            img = Image.open(vis / entry[section])
            widths.add(img.size[0])
            assert img.size[0] >= 6 * 140 and img.size[1] >= 140  # 28x28 shown at 5x
        assert len(widths) == 1  # the three strips line up
    # Leaf samples: failures of that leaf only, from the group's rows.
    metadata = np.genfromtxt(fmnist_run["extraction"] / "metadata.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert on_disk["leaves"]
    for key, leaf in on_disk["leaves"].items():
        grouping, name = leaf["grouping"], leaf["class"]
        assert key == f"{grouping}/{name}/{leaf['leaf']}"
        column = "Labels" if grouping == "label" else "Predictions"
        for r in leaf["rows"]:
            assert metadata[column][r] == name
            assert metadata["Labels"][r] != metadata["Predictions"][r]
        assert (vis / leaf["samples"]).is_file()
    # Correct samples per group (shown beside a leaf's failures in failure-review studies).
    groups = {f"{g['grouping']}/{g['class']}" for g in trees["groups"]}
    assert set(on_disk["correct"]) == groups
    for key, entry in on_disk["correct"].items():
        column = "Labels" if entry["grouping"] == "label" else "Predictions"
        assert 0 < len(entry["rows"]) <= 12 and entry["n_correct"] >= len(entry["rows"])
        for r in entry["rows"]:
            assert metadata[column][r] == entry["class"]
            assert metadata["Labels"][r] == metadata["Predictions"][r]
        assert Image.open(vis / entry["samples"]).size[0] >= 140


def test_second_run_reuses_drawn_features(fmnist_run):
    analysis = fmnist_run["analysis"]
    config = VisualizationConfig(iterations=10)
    first = visualize_analysis(analysis, config=config, progress=False)
    some = next(iter(first["features"].values()))
    stamp = (analysis / "visualizations" / some["A"]).stat().st_mtime_ns
    again = visualize_analysis(analysis, config=config, progress=False)
    assert again["features"] == first["features"]
    assert (analysis / "visualizations" / some["A"]).stat().st_mtime_ns == stamp
