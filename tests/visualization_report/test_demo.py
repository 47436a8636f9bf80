import json

import torch

from analysis_core.demo import DemoConfig, run_demo
from analysis_core.models import SmallCNN, save_checkpoint
from analysis_core.visualization import VisualizationConfig


def test_demo_pipeline_runs_then_reuses_its_steps(tmp_path):
    """The demo's four steps on the real Fashion-MNIST test split with small untrained models
    (the shipped ones take minutes); a rerun reuses every step, a changed setting redoes
    only the steps after it."""
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        path = tmp_path / f"model{seed}.pt"
        save_checkpoint(SmallCNN(width=4), path)
        models.append(str(path))
    logs: list[str] = []
    config = DemoConfig(out=tmp_path / "demo", features_model=models[0], inspect_model=models[1], top_mi=1,
                        visualization=VisualizationConfig(iterations=2, leaves="valid"))
    index, summary, outcomes = run_demo(config, log=logs.append)
    assert index.is_file() and (tmp_path / "demo" / "report" / "groups").is_dir()
    assert [o.name for o in outcomes] == ["extract", "analyze", "visualize", "report"]
    assert not any(o.reused for o in outcomes)
    assert "groups analysed" in summary
    manifest = json.loads((tmp_path / "demo" / "extraction" / "manifest.json").read_text())
    assert manifest["n_images"] == 10000
    trees = json.loads((tmp_path / "demo" / "analysis" / "trees.json").read_text())
    assert {g["grouping"] for g in trees["groups"]} <= {"label", "prediction"}
    vis = json.loads((tmp_path / "demo" / "analysis" / "visualizations" / "index.json").read_text())
    split = {n["feature"] for g in trees["groups"] for n in g["nodes"] if not n["is_leaf"]}
    assert split <= {int(f) for f in vis["features"]}

    _, _, again = run_demo(config, log=logs.append)
    assert all(o.reused for o in again)

    config.depth = 1
    _, _, changed = run_demo(config, log=logs.append)
    assert [o.reused for o in changed] == [True, False, False, False]
