import json
import re
import shutil

import pandas as pd
import pytest

from analysis_core.report import build_report
from analysis_core.report.sentences import Condition, leaf_sentence
from analysis_core.report.server import create_app
from analysis_core.visualization.config import VisualizationConfig
from analysis_core.visualization.pipeline import visualize_analysis
from barlow.cli import main


@pytest.fixture(scope="module")
def report(fmnist_run, tmp_path_factory):
    visualize_analysis(fmnist_run["analysis"], top_mi=2, config=VisualizationConfig(iterations=10), progress=False)
    out = tmp_path_factory.mktemp("report")
    index, data = build_report(fmnist_run["analysis"], out, progress=False)
    return {"index": index, "data": data, "out": out, "analysis": fmnist_run["analysis"]}


def test_sentence_in_the_papers_words():
    text = leaf_sentence("label", "purse", 0.3085, [Condition(1456, 0.3641, True)], 0.4179, 0.6409)
    assert text == (
        "For images with label purse, BER = 0.3085. When feature[1456] \u2264 0.3641, the error rate increases "
        "to 0.4179 (+10.94 points) and 64.1% of all failures are in this node."
    )
    described = leaf_sentence("prediction", "dog", 0.2, [Condition(7, 1.5, False)], 0.3, 0.5, {7: "dog collar"})
    assert "\u201cdog collar\u201d is strong (feature[7] > 1.5000)" in described
    twice = leaf_sentence("label", "bag", 0.1, [Condition(78, 0.12, False), Condition(78, 0.2, False), Condition(3, 0.5, True)], 0.8, 0.4)
    assert "When feature[78] > 0.2000 and feature[3] \u2264 0.5000," in twice
    both = leaf_sentence("label", "bag", 0.1, [Condition(5, 0.9, True), Condition(5, 0.2, False)], 0.8, 0.4)
    assert "When 0.2000 < feature[5] \u2264 0.9000," in both
    html = leaf_sentence("label", "<b>x</b>", 0.1, [Condition(1, 0.5, True)], 0.2, 0.3, {1: "<script>"}, html=True)
    assert "<b>x</b>" not in html and "&lt;script&gt;" in html


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_group_pages_show_the_numbers_of_failure_modes_csv(report):
    table = pd.read_csv(report["analysis"] / "failure_modes.csv", keep_default_na=False)
    groups = report["data"].groups
    assert len(groups) == table.groupby(["grouping", "class"]).ngroups
    for g in groups:
        html = (report["out"] / g["href"]).read_text()
        rows = table[(table["grouping"] == g["grouping"]) & (table["class"] == g["class"])]
        first = rows.iloc[0]
        assert f'id="stat-n">{first["n"]}<' in html
        assert f'id="stat-n-fail">{first["n_fail"]}<' in html
        assert f'id="stat-ber">{first["ber"]:.4f}<' in html
        assert f'id="stat-aler">{first["aler"]:.4f}<' in html
        assert f'id="stat-gain">{first["aler_minus_ber"]:.4f}<' in html
        for _, row in rows.iterrows():
            node = re.search(rf'data-node="{row["leaf"]}" data-er="([\d.]+)" data-ec="([\d.]+)" data-n="(\d+)"', html)
            assert node, f"leaf {row['leaf']} of {g['class']} not drawn"
            assert node.groups() == (f"{row['er']:.4f}", f"{row['ec']:.4f}", str(row["n_leaf"]))
            card = html.split(f'id="leaf-{row["leaf"]}"')[1].split('class="card leaf"')[0]
            text = _text(card)
            assert f"size {row['n_leaf']}" in text and f"failures {row['n_fail_leaf']}" in text
            assert f"ER {row['er']:.4f}" in text and f"EC {row['ec']:.4f}" in text and f"IV {row['iv']:.4f}" in text
            assert ("valid failure mode" in text) == (str(row["valid"]) == "True")
        n_valid = int((rows["valid"].astype(str) == "True").sum())
        assert html.count('class="sentence valid"') == n_valid


def test_index_embeds_every_group_for_sorting(report):
    html = report["index"].read_text()
    blob = re.search(r'<script type="application/json" id="groups-data">(.*?)</script>', html, re.S).group(1)
    rows = json.loads(blob)
    table = pd.read_csv(report["analysis"] / "failure_modes.csv", keep_default_na=False)
    per_group = table.groupby(["grouping", "class"]).first()
    assert len(rows) == len(per_group)
    for r in rows:
        expected = per_group.loc[(r["grouping"], r["class"])]
        assert r["n_fail"] == expected["n_fail"] and r["ber"] == round(expected["ber"], 4)
        assert r["aler_minus_ber"] == round(expected["aler_minus_ber"], 4)
        assert (report["out"] / r["href"]).is_file()


def test_report_is_self_contained(report):
    for page in [report["index"], *report["out"].glob("groups/*.html")]:
        html = page.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', html), f"{page.name} loads something from the network"
        for src in re.findall(r'src="([^"]+)"', html):
            assert (page.parent / src).resolve().is_file(), f"{page.name}: missing picture {src}"


def test_descriptions_replace_bare_indices(report, tmp_path):
    data = report["data"]
    group = next(g for g in data.groups if g["n_valid"])
    leaf = next(leaf for leaf in group["leaves"] if leaf["valid"])
    feature = int(re.search(r"feature\[(\d+)\]", leaf["rule"]).group(1))
    csv = tmp_path / "desc.csv"
    pd.DataFrame({"feature": [feature], "description": ["pointy <toe>"], "n_descriptions": [5], "agreement": [0.4]}).to_csv(csv, index=False)
    index, data2 = build_report(report["analysis"], tmp_path / "r", descriptions=csv, progress=False)
    html = (tmp_path / "r" / group["href"]).read_text()
    assert "\u201c<em>pointy &lt;toe&gt;</em>\u201d is" in html
    assert "pointy <toe>" not in html


def test_bad_input_gives_one_clear_error(tmp_path, capsys):
    (tmp_path / "trees.json").write_text("{not json")
    assert main(["report", "--analysis", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("barlow: error:") and "trees.json is not valid JSON" in err
    assert not (tmp_path / "report").exists()


def test_flask_app_serves_the_report(report):
    client = create_app(report["out"]).test_client()
    page = client.get("/")
    assert page.status_code == 200 and b"Failure report" in page.data
    group = report["data"].groups[0]
    assert client.get("/" + group["href"]).status_code == 200
    assert client.get("/../trees.json").status_code == 404


def test_visualize_and_report_commands(fmnist_run, tmp_path, capsys):
    analysis = tmp_path / "analysis"
    shutil.copytree(fmnist_run["analysis"], analysis, ignore=shutil.ignore_patterns("visualizations", "report"))
    assert main(["visualize", "--analysis", str(analysis), "--feature-ids", "1,2", "--iterations", "5", "--leaves", "none"]) == 0
    index = json.loads((analysis / "visualizations" / "index.json").read_text())
    assert set(index["features"]) == {"1", "2"}
    assert main(["report", "--analysis", str(analysis), "--out", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "valid failure modes" in out and str((tmp_path / "rep" / "index.html").resolve()) in out
    assert main(["visualize", "--analysis", str(analysis), "--feature-ids", "99999"]) == 2
    assert "outside" in capsys.readouterr().err


def test_report_of_a_real_analysis_with_holdout(fmnist_run, tmp_path):
    """The report reads what 'barlow analyze' writes, held-out columns included."""
    from analysis_core.failure_analysis import AnalysisConfig, analyze_files
    from analysis_core.failure_analysis_outputs import write_analysis

    ext = fmnist_run["extraction"]
    result = analyze_files(ext / "features.npy", ext / "metadata.csv", AnalysisConfig(depth=2, holdout=0.3), progress=False)
    analysis = write_analysis(result, tmp_path / "analysis")
    _, data = build_report(analysis, tmp_path / "report", progress=False)
    table = pd.read_csv(analysis / "failure_modes.csv", keep_default_na=False)
    assert data.has_holdout and len(data.groups) == table.groupby(["grouping", "class"]).ngroups
    for g in data.groups:
        html = (tmp_path / "report" / g["href"]).read_text()
        text = _text(html)
        for _, row in table[(table["grouping"] == g["grouping"]) & (table["class"] == g["class"])].iterrows():
            if row["holdout_er"] != "":
                assert f"held-out: size {int(row['holdout_n_leaf'])}" in text
                assert f"ER {float(row['holdout_er']):.4f}" in text


def test_leaf_samples_of_older_trees_are_not_shown(report, tmp_path):
    analysis = tmp_path / "analysis"
    shutil.copytree(report["analysis"], analysis, ignore=shutil.ignore_patterns("report"))
    trees = json.loads((analysis / "trees.json").read_text())
    trees["params"]["note"] = "rerun"
    (analysis / "trees.json").write_text(json.dumps(trees))
    _, data = build_report(analysis, tmp_path / "r", progress=False)
    assert not any(leaf["samples"] for g in data.groups for leaf in g["leaves"])
    assert any(f["vis"] for g in data.groups for f in g["split_features"])
    assert report["data"].groups and any(leaf["samples"] for g in report["data"].groups for leaf in g["leaves"])
