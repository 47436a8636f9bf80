import json
import shutil
from dataclasses import replace

from barlow.demo import run_demo


def test_demo_runs_every_step_on_fashion_mnist(demo_run):
    out = demo_run["config"].out
    assert demo_run["index"] == out / "report" / "index.html" and demo_run["index"].is_file()
    assert [o.name for o in demo_run["outcomes"]] == ["extract", "analyze", "visualize", "report"]
    assert not any(o.reused for o in demo_run["outcomes"])
    assert "groups analysed" in demo_run["summary"]
    manifest = json.loads((out / "extraction" / "manifest.json").read_text())
    assert manifest["n_images"] == 10000
    trees = json.loads((out / "analysis" / "trees.json").read_text())
    assert {g["grouping"] for g in trees["groups"]} <= {"label", "prediction"}
    assert all(g["depth"] <= 2 for g in trees["groups"])
    vis = json.loads((out / "analysis" / "visualizations" / "index.json").read_text())
    split = {n["feature"] for g in trees["groups"] for n in g["nodes"] if not n["is_leaf"]}
    top_mi = {g["selected_features"][0]["feature"] for g in trees["groups"]}
    assert split | top_mi == {int(f) for f in vis["features"]}


def test_rerun_reuses_steps_and_a_change_redoes_only_later_steps(demo_run, tmp_path):
    config = demo_run["config"]
    logs: list[str] = []
    _, _, again = run_demo(config, log=logs.append)
    assert all(o.reused for o in again)
    assert all("reused" in line for line in logs)
    config = replace(config, out=shutil.copytree(config.out, tmp_path / "demo"), depth=1)
    _, _, changed = run_demo(config, log=logs.append)
    assert [o.reused for o in changed] == [True, False, False, False]
    trees = json.loads((config.out / "analysis" / "trees.json").read_text())
    assert all(g["depth"] <= 1 for g in trees["groups"])
