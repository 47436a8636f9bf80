"""Fixtures: a tiny FeatureModel and dataset that follow the models/datasets contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn


class Output(NamedTuple):
    logits: torch.Tensor
    features: torch.Tensor
    feature_map: torch.Tensor


class TinyFeatureModel(nn.Module):
    """conv -> ReLU -> conv -> ReLU (feature map) -> spatial mean (features) -> linear."""

    def __init__(self, in_channels: int = 1, num_features: int = 8, num_classes: int = 3, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(in_channels, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, num_features, 3, stride=2, padding=1)
        self.head = nn.Linear(num_features, num_classes)
        # A positive bias keeps every feature active on random images, so attacks have a gradient.
        nn.init.constant_(self.conv2.bias, 0.05)
        self.num_features = num_features
        self.num_classes = num_classes
        self.input_shape = (in_channels, 28, 28)

    def forward(self, x: torch.Tensor) -> Output:
        fmap = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        features = fmap.mean(dim=(2, 3))
        return Output(self.head(features), features, fmap)


class TinyDataset(torch.utils.data.Dataset):
    def __init__(self, n: int = 40, seed: int = 0, classes=("shirt", "bag", "boot")):
        rng = np.random.default_rng(seed)
        self.images = torch.as_tensor(rng.random((n, 1, 28, 28), dtype=np.float32))
        self.classes = list(classes)
        self.labels = rng.integers(0, len(classes), n)
        self.filenames = [f"img_{i:04d}.png" for i in range(n)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], int(self.labels[i])


def features_of(model: nn.Module, dataset: TinyDataset) -> np.ndarray:
    with torch.no_grad():
        return model(dataset.images).features.numpy().astype(np.float32)


@pytest.fixture(scope="session")
def tiny_model() -> TinyFeatureModel:
    return TinyFeatureModel().eval()


@pytest.fixture(scope="session")
def tiny_data() -> TinyDataset:
    return TinyDataset()


# ---------------------------------------------------------------------------
# A hand-made analysis folder that follows the analysis-output contract (trees.json,
# failure_modes.csv, skipped.csv) over a real extraction-shaped folder, built without
# 'barlow analyze' so that the report is tested on its own.

def _rule(conditions: list[tuple[int, float, bool]]) -> str:
    return " and ".join(f"feature[{f}] {'<=' if below else '>'} {t:.4f}" for f, t, below in conditions)


def build_tree(X: np.ndarray, fail: np.ndarray, features: list[int], depth: int) -> list[dict]:
    """Split on features[d] at the median at depth d; nodes numbered in pre-order like sklearn."""
    nodes: list[dict] = []
    total_fail = max(int(fail.sum()), 1)

    def grow(rows: np.ndarray, d: int, parent, conditions) -> int:
        node_id = len(nodes)
        n, n_fail = len(rows), int(fail[rows].sum())
        node = {"id": node_id, "parent": parent, "depth": d, "is_leaf": True, "feature": None, "threshold": None,
                "left": None, "right": None, "rule": _rule(conditions), "n": n, "n_fail": n_fail,
                "er": n_fail / n, "ec": n_fail / total_fail, "iv": (n_fail / n) * (n_fail / total_fail), "valid": False}
        nodes.append(node)
        if d < depth and n >= 8:
            f = features[d]
            column = X[rows, f].astype(np.float32).astype(np.float64)
            threshold = float(np.float32(np.median(column)))
            left, right = rows[column <= threshold], rows[column > threshold]
            if len(left) and len(right):
                node.update(is_leaf=False, feature=f, threshold=threshold)
                node["left"] = grow(left, d + 1, node_id, conditions + [(f, threshold, True)])
                node["right"] = grow(right, d + 1, node_id, conditions + [(f, threshold, False)])
        return node_id

    grow(np.arange(len(fail)), 0, None, [])
    return nodes


def write_hand_analysis(out: Path, X: np.ndarray, labels: np.ndarray, preds: np.ndarray, features_path: Path,
                        metadata_path: Path, depth: int = 2, delta: float = 0.1, tau: float = 0.2,
                        min_rows: int = 30) -> Path:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    failed = labels != preds
    groups, rows_out, skipped = [], [], []
    for grouping, key in (("label", labels), ("prediction", preds)):
        for name in sorted(set(key)):
            rows = np.flatnonzero(key == name)
            fail = failed[rows]
            if len(rows) < min_rows or fail.sum() < 2:
                skipped.append({"grouping": grouping, "class": name, "n": len(rows), "n_fail": int(fail.sum()), "reason": "too few failures"})
                continue
            Xg = X[rows].astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):  # constant (dead) features
                corr = np.nan_to_num(np.abs([np.corrcoef(Xg[:, j], fail)[0, 1] for j in range(X.shape[1])]))
            ranked = [int(j) for j in np.argsort(-corr, kind="stable")[:5]]
            nodes = build_tree(Xg, fail, ranked, depth)
            ber = fail.mean()
            leaves = [n for n in nodes if n["is_leaf"]]
            aler = sum(n["er"] * n["ec"] for n in leaves)
            for n in leaves:
                n["valid"] = bool(n["er"] > ber + delta and n["ec"] > tau)
            group = {"grouping": grouping, "class": name, "n": len(rows), "n_fail": int(fail.sum()), "ber": ber,
                     "aler": aler, "aler_minus_ber": aler - ber, "depth": depth,
                     "selected_features": [{"feature": j, "mi": float(corr[j])} for j in ranked],
                     "nodes": nodes, "leaves": [n["id"] for n in leaves]}
            groups.append(group)
            for n in leaves:
                rows_out.append({"grouping": grouping, "class": name, "depth": depth, "n": len(rows), "n_fail": int(fail.sum()),
                                 "ber": ber, "aler": aler, "aler_minus_ber": aler - ber, "leaf": n["id"], "rule": n["rule"],
                                 "n_leaf": n["n"], "n_fail_leaf": n["n_fail"], "er": n["er"], "ec": n["ec"], "iv": n["iv"],
                                 "valid": n["valid"], "er_ci_low": max(0.0, n["er"] - 0.05), "er_ci_high": min(1.0, n["er"] + 0.05),
                                 "p_value": 0.01, "q_value": 0.02})
    trees = {"version": 1, "params": {"depth": depth, "delta": delta, "tau": tau, "grouping": "both"},
             "inputs": {"features": str(features_path.resolve()), "metadata": str(metadata_path.resolve())},
             "total_failures": int(failed.sum()), "groups": groups}
    (out / "trees.json").write_text(json.dumps(trees, indent=1))
    pd.DataFrame(rows_out).to_csv(out / "failure_modes.csv", index=False)
    pd.DataFrame(skipped, columns=["grouping", "class", "n", "n_fail", "reason"]).to_csv(out / "skipped.csv", index=False)
    return out


@pytest.fixture(scope="session")
def fmnist_run(tmp_path_factory):
    """Fashion-MNIST test split, an untrained small features model saved as a checkpoint,
    synthetic predictions whose errors depend on two features, and a depth-2 analysis."""
    import pandas as pd

    from analysis_core.datasets import load_dataset
    from analysis_core.models import SmallCNN, save_checkpoint

    root = tmp_path_factory.mktemp("fmnist_run")
    dataset = load_dataset("fashion-mnist")
    torch.manual_seed(0)
    model = SmallCNN(width=8, classes=list(dataset.classes)).eval()
    ckpt = root / "features-model.pt"
    save_checkpoint(model, ckpt)
    loader = torch.utils.data.DataLoader(dataset, batch_size=1000)
    with torch.no_grad():
        X = torch.cat([model(x).features for x, _ in loader]).numpy().astype(np.float32)
    rng = np.random.default_rng(0)
    labels = np.asarray(dataset.labels)
    z = (X[:, 3] - X[:, 3].mean()) / (X[:, 3].std() + 1e-9)
    p_fail = 1 / (1 + np.exp(-(1.8 * z - 1.6)))
    wrong = rng.random(len(labels)) < p_fail
    preds = np.where(wrong, (labels + rng.integers(1, 10, len(labels))) % 10, labels)
    names = np.asarray(dataset.classes)
    extraction = root / "extraction"
    extraction.mkdir()
    np.save(extraction / "features.npy", X)
    pd.DataFrame({"Filenames": dataset.filenames, "Predictions": names[preds], "Labels": names[labels],
                  "label_id": labels, "prediction_id": preds, "confidence": 0.9}).to_csv(extraction / "metadata.csv", index=False)
    (extraction / "manifest.json").write_text(json.dumps({
        "dataset": "fashion-mnist", "features_model": str(ckpt), "inspect_model": "synthetic", "classes": list(dataset.classes),
        "n_images": int(len(X)), "n_features": int(X.shape[1])}))
    analysis = write_hand_analysis(root / "analysis", X, names[labels], names[preds], extraction / "features.npy", extraction / "metadata.csv")
    return {"root": root, "analysis": analysis, "extraction": extraction, "X": X, "model": model, "dataset": dataset, "checkpoint": ckpt}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """'barlow demo' through its Python API on the real Fashion-MNIST test split, with two
    small untrained models standing in for the shipped ones (which take minutes)."""
    from analysis_core.models import SmallCNN, save_checkpoint
    from analysis_core.visualization.config import VisualizationConfig
    from barlow.demo import DemoConfig, run_demo

    root = tmp_path_factory.mktemp("demo_run")
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        path = root / f"model{seed}.pt"
        save_checkpoint(SmallCNN(width=4), path)
        models.append(str(path))
    logs: list[str] = []
    config = DemoConfig(out=root / "demo", features_model=models[0], inspect_model=models[1], top_mi=1,
                        visualization=VisualizationConfig(iterations=2))
    index, summary, outcomes = run_demo(config, log=logs.append)
    return {"config": config, "index": index, "summary": summary, "outcomes": outcomes, "logs": logs}
