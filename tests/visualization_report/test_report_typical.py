import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from analysis_core.artifacts import read_failure_scores
from analysis_core.failure_analysis import AnalysisConfig, analyze_files
from analysis_core.failure_analysis_outputs import write_analysis
from analysis_core.report import build_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from conftest import planted_benchmark  # noqa: E402


def test_leaf_card_lists_the_images_most_typical_of_its_failure_mode(tmp_path):
    X, labels, predictions, _ = planted_benchmark(n_classes=2, per_class=300, n_features=20)
    np.save(tmp_path / "features.npy", X)
    pd.DataFrame({"Filenames": [f"img_{i:04d}.png" for i in range(len(labels))], "Labels": labels,
                  "Predictions": predictions}).to_csv(tmp_path / "metadata.csv", index=False)
    config = AnalysisConfig(grouping="label", depth=1, permutations=0)
    analysis = write_analysis(analyze_files(tmp_path / "features.npy", tmp_path / "metadata.csv", config, progress=False),
                              tmp_path / "analysis")
    _, data = build_report(analysis, tmp_path / "report", progress=False)
    scores = read_failure_scores(analysis)
    for g in data.groups:
        top = g["top_leaf"]
        html = (tmp_path / "report" / g["href"]).read_text()
        card = html.split(f'id="leaf-{top["id"]}"')[1].split('class="card leaf"')[0]
        assert "Images most typical of this failure mode" in card
        mine = scores[(scores["class"] == g["class"]) & (scores["leaf"] == top["id"]) & scores["in_leaf"]]
        expected = mine.sort_values(["score", "row"], ascending=[False, True]).head(8)
        shown = re.findall(r"<code>(img_\d+\.png)</code>", card)
        assert shown == [f"img_{r:04d}.png" for r in expected["row"]]
        assert expected["failure"].iloc[0]  # the leaf is about failures: they come first
