"""barlow visualize --scope group: each group's own top-k images, and the report and study using them."""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from analysis_core.report import build_report
from analysis_core.visualization.config import VisualizationConfig
from analysis_core.visualization.pipeline import visualize_analysis
from analysis_core.visualization.selection import split_features, top_mi_features
from barlow.cli import main


@pytest.fixture(scope="module")
def group_run(fmnist_run, tmp_path_factory):
    """A copy of the hand-made analysis visualized with --scope group --top-mi 1."""
    analysis = tmp_path_factory.mktemp("group_scope") / "analysis"
    shutil.copytree(fmnist_run["analysis"], analysis, ignore=shutil.ignore_patterns("visualizations", "report"))
    config = VisualizationConfig(iterations=3, scope="group")
    index = visualize_analysis(analysis, top_mi=1, config=config, progress=False)
    metadata = pd.read_csv(fmnist_run["extraction"] / "metadata.csv", dtype=str, keep_default_na=False)
    trees = json.loads((analysis / "trees.json").read_text())
    return {"analysis": analysis, "index": index, "config": config, "metadata": metadata, "trees": trees, "X": fmnist_run["X"]}


def _group_rows(metadata: pd.DataFrame, group: dict) -> np.ndarray:
    column = "Labels" if group["grouping"] == "label" else "Predictions"
    return np.flatnonzero(metadata[column].to_numpy() == group["class"])


def test_group_entries_are_the_top_k_of_the_group_rows(group_run):
    index, X, vis = group_run["index"], group_run["X"], group_run["analysis"] / "visualizations"
    assert index["params"]["scope"] == "group"
    assert json.loads((vis / "index.json").read_text()) == json.loads(json.dumps(index))
    groups = group_run["trees"]["groups"]
    assert list(index["group_features"]) == [f"{g['grouping']}/{g['class']}" for g in groups]
    differs_from_dataset = 0
    for group in groups:
        entries = index["group_features"][f"{group['grouping']}/{group['class']}"]
        wanted = set(split_features([group])) | set(top_mi_features([group], 1))
        assert {int(f) for f in entries} == wanted
        rows = _group_rows(group_run["metadata"], group)
        for fid, entry in entries.items():
            column = X[rows, int(fid)].astype(np.float64)
            expected = rows[np.argsort(-column, kind="stable")[:6]]
            assert set(entry["top_rows"]) <= set(rows.tolist())  # every image is one of the group's
            assert entry["top_rows"] == expected.tolist()
            np.testing.assert_allclose(entry["top_values"], np.sort(column)[::-1][:6], rtol=1e-6)
            assert entry["group_rows"] == len(rows)
            assert all(a >= b for a, b in zip(entry["attack_after"], entry["attack_before"]))
            assert all((vis / entry[s]).is_file() and entry[s].startswith("groups/") for s in "ABC")
            differs_from_dataset += entry["top_rows"] != index["features"][fid]["top_rows"]
    # The data-set pictures are drawn too (the fallback), and the scopes really differ.
    assert {int(f) for f in index["features"]} == set(split_features(groups)) | set(top_mi_features(groups, 1))
    assert differs_from_dataset > 0


def test_rerun_reuses_group_entries_and_dataset_scope_drops_them(group_run, tmp_path):
    analysis = tmp_path / "analysis"
    shutil.copytree(group_run["analysis"], analysis)
    first = group_run["index"]
    key, entries = next(iter(first["group_features"].items()))
    strip = analysis / "visualizations" / next(iter(entries.values()))["A"]
    stamp = strip.stat().st_mtime_ns
    again = visualize_analysis(analysis, top_mi=1, config=group_run["config"], progress=False)
    assert again["group_features"] == first["group_features"] and strip.stat().st_mtime_ns == stamp
    # Back to the default: data-set pictures are reused and the index has its old shape.
    plain = visualize_analysis(analysis, top_mi=1, config=VisualizationConfig(iterations=3), progress=False)
    assert "group_features" not in plain and "scope" not in plain["params"]
    assert plain["features"] == first["features"]


def _feature_card(html: str, fid: int) -> str:
    return html.split(f'id="feature-{fid}"')[1].split('class="card feature"')[0]


def test_report_group_page_shows_the_group_pictures(group_run, tmp_path):
    _, data = build_report(group_run["analysis"], tmp_path / "report", progress=False)
    index = group_run["index"]
    shown = 0
    for view in data.groups:
        html = (tmp_path / "report" / view["href"]).read_text()
        entries = index["group_features"][f"{view['grouping']}/{view['class']}"]
        for f in view["split_features"]:
            entry = entries[str(f["id"])]
            card = _feature_card(html, f["id"])
            assert f'src="../visualizations/{entry["A"]}"' in card
            assert (tmp_path / "report" / "visualizations" / entry["A"]).is_file()
            which = "labelled" if view["grouping"] == "label" else "predicted as"
            assert f"top 6 of the {entry['group_rows']:,} images {which} {view['class']}" in card
            shown += 1
    assert shown > 0


def test_report_falls_back_to_the_dataset_pictures(group_run, tmp_path):
    analysis = tmp_path / "analysis"
    shutil.copytree(group_run["analysis"], analysis)
    index_path = analysis / "visualizations" / "index.json"
    index = json.loads(index_path.read_text())
    key = next(iter(index["group_features"]))
    del index["group_features"][key]
    index_path.write_text(json.dumps(index))
    _, data = build_report(analysis, tmp_path / "report", progress=False)
    view = next(g for g in data.groups if f"{g['grouping']}/{g['class']}" == key)
    html = (tmp_path / "report" / view["href"]).read_text()
    f = view["split_features"][0]
    card = _feature_card(html, f["id"])
    assert f'src="../visualizations/{index["features"][str(f["id"])]["A"]}"' in card
    assert "top 6 of the data set" in re.sub(r"\s+", " ", card)


def test_study_create_uses_the_group_pictures(group_run, tmp_path):
    from study.create import CreateOptions, create_study

    index, vis = group_run["index"], group_run["analysis"] / "visualizations"
    key, entries = next(iter(index["group_features"].items()))
    grouping, name = key.split("/", 1)
    fid = next(iter(entries))
    # A feature drawn for the data set but not for this group falls back to its data-set strips.
    other = next(f for f in index["features"] if f not in entries)
    items = tmp_path / "items.csv"
    pd.DataFrame({"grouping": [grouping, grouping], "class": [name, name], "feature": [fid, other]}).to_csv(items, index=False)
    _, hits = create_study(group_run["analysis"], tmp_path / "study", CreateOptions(items_csv=items))
    by_feature = {str(h.feature): h for h in hits}
    for s in "ABC":
        assert (tmp_path / "study" / by_feature[fid].images[s]).read_bytes() == (vis / entries[fid][s]).read_bytes()
        assert (tmp_path / "study" / by_feature[other].images[s]).read_bytes() == (vis / index["features"][other][s]).read_bytes()
    assert by_feature[fid].images["A"] != by_feature[other].images["A"]


def test_unknown_scope_is_rejected(group_run, capsys):
    with pytest.raises(SystemExit) as info:
        main(["visualize", "--analysis", str(group_run["analysis"]), "--scope", "classes"])
    assert info.value.code == 2
    assert "invalid choice: 'classes'" in capsys.readouterr().err
