"""A class name written with surrounding spaces is one class everywhere.

Before, 'barlow analyze' stripped ' Shirt' to 'Shirt' but 'barlow visualize' matched the
unstripped metadata against it, so that group's leaf samples and group pictures were
skipped without a word.
"""

import json

import numpy as np
import pandas as pd
import torch
from PIL import Image

from analysis_core.artifacts import load_metadata, read_trees, read_visualization_index
from barlow.cli import main

NAMES = [" Shirt", "Bag ", " Ankle boot "]


def _user_data(root, n_per_class=30, seed=0):
    """Images and a hand-written metadata.csv whose class names carry spaces; every third prediction wrong."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(n_per_class * len(NAMES)):
        label = i % len(NAMES)
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(root / "images" / f"img{i:03d}.png")
        wrong = (i // len(NAMES)) % 3 == 0
        rows.append({"Filenames": f"img{i:03d}.png", "Predictions": NAMES[(label + wrong) % len(NAMES)], "Labels": NAMES[label]})
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)


def test_spaced_class_names_get_their_pictures(tmp_path, capsys):
    from analysis_core.models import SmallCNN, save_checkpoint

    torch.manual_seed(0)
    checkpoint = tmp_path / "model.pt"
    save_checkpoint(SmallCNN(width=4), checkpoint)
    data = tmp_path / "data"
    _user_data(data)
    ext, ana = tmp_path / "extraction", tmp_path / "analysis"
    assert main(["extract", "--dataset", f"barlow-csv:{data}", "--features-model", str(checkpoint), "--out", str(ext), "--quiet"]) == 0
    # The user's own metadata.csv (spaced names) next to the extracted features.
    assert main(["analyze", "--features", str(ext / "features.npy"), "--metadata", str(data / "metadata.csv"),
                 "--out", str(ana), "--grouping", "both", "--quiet"]) == 0
    trees = read_trees(ana)
    assert {g.class_name for g in trees.groups} == {"Shirt", "Bag", "Ankle boot"}
    assert main(["visualize", "--analysis", str(ana), "--scope", "group", "--top-mi", "1", "--iterations", "2",
                 "--dataset", f"barlow-csv:{data}"]) == 0
    index = read_visualization_index(ana / "visualizations")
    meta = load_metadata(data / "metadata.csv")
    for group in trees.groups:
        assert index.group_features.get(group.key), f"{group.key}: no group pictures"
        drawn = [index.leaf_samples(group, leaf.id) for leaf in group.leaf_nodes() if leaf.n_fail]
        assert drawn and all(drawn), f"{group.key}: leaf samples missing"
        column = "Labels" if group.grouping == "label" else "Predictions"
        for entry in drawn:
            assert all(meta[column][r] == group.class_name and meta["Labels"][r] != meta["Predictions"][r] for r in entry["rows"])
    capsys.readouterr()
    assert main(["report", "--analysis", str(ana), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "groups" / "label-Shirt.html").read_text()
    assert "visualizations/leaves/label-Shirt-leaf" in page and "visualizations/groups/label-Shirt/feature_" in page
    assert json.loads((ana / "trees.json").read_text())["groups"][0]["class"] in {"Shirt", "Bag", "Ankle boot"}
