import json
import shutil

import numpy as np
import pandas as pd

from analysis_core.artifacts import AnalysisFolder, write_failure_scores
from analysis_core.failure_tree import assign_leaves
from analysis_core.report import build_report
from analysis_core.visualization.config import VisualizationConfig
from analysis_core.visualization.pipeline import visualize_analysis


def _leaf_failures(folder: AnalysisFolder, group) -> dict[int, np.ndarray]:
    table = folder.extraction().load(check_finite=False)
    rows = table.group_rows(group.grouping, group.class_name)
    leaf_of_row = assign_leaves(group, np.asarray(table.features[rows]))
    fails = table.failure[rows]
    return {leaf: rows[(leaf_of_row == leaf) & fails] for leaf in group.leaves}


def _caption(html: str, leaf: int) -> str:
    card = html.split(f'id="leaf-{leaf}"')[1].split('class="card leaf"')[0]
    return card.split('class="muted samples-caption"')[1].split(">", 1)[1].split("</p>")[0]


def test_grid_shows_top_scored_failures_when_scored_and_random_otherwise(fmnist_run, tmp_path):
    analysis = tmp_path / "analysis"
    shutil.copytree(fmnist_run["analysis"], analysis, ignore=shutil.ignore_patterns("visualizations", "report"))
    folder = AnalysisFolder(analysis)
    group = max(folder.trees.groups, key=lambda g: max(n.n_fail or 0 for n in g.nodes if n.is_leaf))
    fails = _leaf_failures(folder, group)
    scored_leaf = max(fails, key=lambda leaf: len(fails[leaf]))
    assert len(fails[scored_leaf]) > 24
    # Scores that a random draw (sorted by row) would not reproduce: the highest go to the last rows.
    members = fails[scored_leaf]
    score = 3.0 + np.linspace(0, 1, len(members))
    write_failure_scores(pd.DataFrame({
        "row": members, "grouping": group.grouping, "class": group.class_name, "leaf": scored_leaf, "rank": 1,
        "in_leaf": True, "failure": True, "margin": 0.5, "typicality": score - 3.0, "score": score}), analysis)
    config = VisualizationConfig(iterations=0, k=2)

    index = visualize_analysis(analysis, feature_ids=[3], config=config, progress=False)
    key = f"{group.grouping}/{group.class_name}/{scored_leaf}"
    assert index["leaves"][key]["selection"] == "typical"
    assert index["leaves"][key]["rows"] == [int(r) for r in members[::-1][:12]]  # most typical first
    others = {k: e for k, e in index["leaves"].items() if k != key}
    assert others and all(e["selection"] == "random" for e in others.values())
    for e in others.values():
        assert set(e["rows"]) <= set(int(r) for r in _leaf_failures(folder, next(
            g for g in folder.trees.groups if (g.grouping, g.class_name) == (e["grouping"], e["class"])))[e["leaf"]])

    _, data = build_report(analysis, tmp_path / "report", progress=False)
    view = next(g for g in data.groups if (g["grouping"], g["class"]) == (group.grouping, group.class_name))
    html = (tmp_path / "report" / view["href"]).read_text()
    assert _caption(html, scored_leaf).startswith(f"The 12 failures most typical of this failure mode, of the {len(members)} in this leaf")
    random_leaf = next(leaf for leaf in group.leaves if f"{group.grouping}/{group.class_name}/{leaf}" in others)
    assert "randomly chosen failures" in _caption(html, random_leaf)

    # Without scores the same leaf goes back to a random draw (the earlier grid is not reused).
    (analysis / "failure_scores.csv").unlink()
    again = visualize_analysis(analysis, feature_ids=[3], config=config, progress=False)
    assert again["leaves"][key]["selection"] == "random"
    assert again["leaves"][key]["rows"] != index["leaves"][key]["rows"]
    build_report(analysis, tmp_path / "report2", progress=False)
    assert "randomly chosen failures" in _caption((tmp_path / "report2" / view["href"]).read_text(), scored_leaf)


def test_index_written_before_leaf_selection_reads_as_random(fmnist_run, tmp_path):
    analysis = tmp_path / "analysis"
    shutil.copytree(fmnist_run["analysis"], analysis, ignore=shutil.ignore_patterns("visualizations", "report"))
    visualize_analysis(analysis, feature_ids=[3], config=VisualizationConfig(iterations=0, k=2), progress=False)
    path = analysis / "visualizations" / "index.json"
    old = json.loads(path.read_text())
    for entry in old["leaves"].values():
        del entry["selection"]
    path.write_text(json.dumps(old))
    _, data = build_report(analysis, tmp_path / "report", progress=False)
    shown = [leaf for g in data.groups for leaf in g["leaves"] if leaf["samples"]]
    assert shown and not any(leaf["samples_typical"] for leaf in shown)
    view = next(g for g in data.groups if any(leaf["samples"] for leaf in g["leaves"]))
    leaf = next(leaf for leaf in view["leaves"] if leaf["samples"])
    assert "randomly chosen failures" in _caption((tmp_path / "report" / view["href"]).read_text(), leaf["id"])
