"""The report shows the honest (cross-fitted) numbers beside the paper's in-sample ones."""

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from analysis_core.failure_analysis import AnalysisConfig, run_analysis
from analysis_core.failure_analysis_outputs import write_analysis
from analysis_core.report import build_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from conftest import planted_benchmark  # noqa: E402


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_group_page_has_honest_and_in_sample_numbers_and_honest_sentences(tmp_path):
    X, labels, predictions, _ = planted_benchmark(n_classes=2, per_class=300, n_features=20)
    result = run_analysis(X, labels, predictions, AnalysisConfig(grouping="label", depth=2, permutations=19),
                          progress=False)
    analysis = write_analysis(result, tmp_path / "analysis")
    _, data = build_report(analysis, tmp_path / "report", progress=False)
    table = pd.read_csv(analysis / "failure_modes.csv")
    for g in data.groups:
        html = (tmp_path / "report" / g["href"]).read_text()
        text = _text(html)
        rows = table[table["class"] == g["class"]].sort_values("rank")
        assert "Honest numbers come from images the tree did not see" in text
        assert f'id="stat-honest-gain">{rows.iloc[0]["honest_aler_minus_ber"]:.4f}<' in html
        assert "Permutation test of ALER − BER" in text
        # Leaves are listed in honest rank order, each with both sets of numbers.
        order = [int(m) for m in re.findall(r'class="card leaf" id="leaf-(\d+)"', html)]
        assert order == list(rows["leaf"])
        for _, row in rows.iterrows():
            card = _text(html.split(f'id="leaf-{row["leaf"]}"')[1].split('class="card leaf"')[0])
            assert f"honest: size {int(row['honest_n_leaf'])}" in card
            assert f"in-sample (paper): size {int(row['n_leaf'])}" in card
            assert ("valid failure mode" in card) == bool(row["valid"])
            if row["honest_n_leaf"] > 0:
                # The sentence states the honest error rate, not the in-sample one.
                assert f"increases to {row['honest_er']:.4f}" in card or f"to {row['honest_er']:.4f}" in card
        top = data.groups[data.groups.index(g)]["top_leaf"]
        assert top["id"] == int(rows.iloc[0]["leaf"])
    assert np.isfinite(table["honest_er"]).any()
