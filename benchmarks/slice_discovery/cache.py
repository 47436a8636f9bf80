"""Inspected models and robust features, computed once and kept in a cache folder.

The inspected model of a task is a small MLP (784 - 256 - 3, Adam, MLP_EPOCHS epochs on the
task's 12,000 training images: seconds on 2 cores); the cache keeps its weights and its
predicted probabilities on the test split. The robust features are those of the shipped
``fmnist-robust`` model on the test split, once clean and once per artefact; a task's images
take each row from the clean or the artefact version.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .tasks import ARTEFACTS, SUPERCLASSES, TaskSpec, add_artefact, training_set

MLP_EPOCHS = 4
MLP_HIDDEN = 256
CACHE_VERSION = 1


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps([CACHE_VERSION, *parts], default=str).encode()).hexdigest()[:12]


def _save_npz(path: Path, **arrays) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def train_mlp(images: np.ndarray, labels: np.ndarray, seed: int):
    """A 784-256-3 MLP trained with Adam (lr 1e-3, batch 128) on uint8 images."""
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(28 * 28, MLP_HIDDEN), torch.nn.ReLU(), torch.nn.Linear(MLP_HIDDEN, len(SUPERCLASSES))
    )
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div(255)
    y = torch.from_numpy(labels.astype(np.int64))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(MLP_EPOCHS):
        for batch in torch.randperm(len(y), generator=gen).split(128):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model.eval()


def predict_probs(model, images: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(images)).float().div(255)
        return torch.softmax(model(x), dim=1).numpy().astype(np.float64)


class Cache:
    """Files under ``root``: models/<task>-<key>.pt + .npz (test probabilities), features/<artefact>.npy."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "models").mkdir(parents=True, exist_ok=True)
        (self.root / "features").mkdir(parents=True, exist_ok=True)

    def test_probs(self, spec: TaskSpec, train_images, train_subclass, test_images: np.ndarray, artefact_rows: np.ndarray) -> np.ndarray:
        """The inspected model's probabilities on the task's test images (trained on first use)."""
        import torch

        key = _key(spec.family, spec.target, spec.artefact, spec.seed, MLP_EPOCHS, MLP_HIDDEN)
        path = self.root / "models" / f"{spec.name}-{key}.npz"
        if path.is_file():
            return np.load(path)["probs"]
        x, y = training_set(spec, train_images, train_subclass)
        model = train_mlp(x, y, seed=spec.seed)
        images = test_images.copy()
        if artefact_rows.any():
            images[artefact_rows] = add_artefact(images[artefact_rows], spec.artefact)
        probs = predict_probs(model, images)
        torch.save(model.state_dict(), path.with_suffix(".pt"))
        _save_npz(path, probs=probs)
        return probs

    def features(self, test_images: np.ndarray, artefact: str = "") -> np.ndarray:
        """Robust features (fmnist-robust) of every test image, clean or with the artefact."""
        if artefact and artefact not in ARTEFACTS:
            raise ValueError(f"unknown artefact {artefact!r}")
        path = self.root / "features" / f"{artefact or 'clean'}-{_key(len(test_images))}.npy"
        if path.is_file():
            return np.load(path)
        import torch

        from analysis_core.models.loading import load_model

        model = load_model("fmnist-robust").eval()
        images = add_artefact(test_images, artefact) if artefact else test_images
        out = []
        with torch.no_grad():
            for start in range(0, len(images), 1000):
                x = torch.from_numpy(np.ascontiguousarray(images[start : start + 1000])).float().div(255).unsqueeze(1)
                out.append(model(x).features.numpy().astype(np.float32))
        features = np.concatenate(out)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, features)
        tmp.replace(path)
        return features
