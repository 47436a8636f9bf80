"""Fixtures for the analysis tests: small synthetic benchmarks with planted failure modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def planted_benchmark(n_classes=4, per_class=300, n_features=48, seed=0, low_rate=0.55, high_rate=0.08):
    """Features (non-negative), labels, predictions, and the planted feature of each class.

    In class c, rows whose planted feature is in its lowest 40% fail with ``low_rate``, the
    others with ``high_rate``.
    """
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.normal(0.5, 1.0, (n_classes * per_class, n_features)), 0).astype(np.float32)
    labels = np.repeat(np.arange(n_classes), per_class)
    planted = (np.arange(n_classes) * 11 + 5) % n_features
    failure = np.zeros(len(labels), dtype=bool)
    for c in range(n_classes):
        rows = slice(c * per_class, (c + 1) * per_class)
        x = X[rows, planted[c]]
        rate = np.where(x < np.quantile(x, 0.4), low_rate, high_rate)
        failure[rows] = rng.random(per_class) < rate
    # A wrong prediction is another class; a one-class benchmark gets an extra class to confuse with.
    n_names = max(n_classes, 2)
    wrong = (labels + 1 + rng.integers(0, n_names - 1, len(labels))) % n_names
    predictions = np.where(failure, wrong, labels)
    names = np.array([f"class_{i}" for i in range(n_names)])
    return X, names[labels], names[predictions], planted


def write_benchmark(folder: Path, X, labels, predictions) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    features = folder / "features.npy"
    metadata = folder / "metadata.csv"
    np.save(features, X)
    pd.DataFrame(
        {"Filenames": [f"img_{i}.png" for i in range(len(labels))], "Predictions": predictions, "Labels": labels}
    ).to_csv(metadata, index=False)
    return features, metadata


import pytest  # noqa: E402


@pytest.fixture
def planted():
    """The planted_benchmark factory (a fixture, since test folders are not importable packages)."""
    return planted_benchmark


@pytest.fixture
def planted_files(tmp_path):
    """A written planted benchmark: (features.npy, metadata.csv, planted feature per class)."""
    X, labels, predictions, planted_ids = planted_benchmark()
    features, metadata = write_benchmark(tmp_path / "run", X, labels, predictions)
    return features, metadata, planted_ids


@pytest.fixture
def write_files():
    return write_benchmark


def shipped_fmnist_features(n_images: int = 2000):
    """Penultimate features of the shipped robust Fashion-MNIST model on the first test images,
    with that model's labels and predictions (class ids)."""
    from analysis_core.datasets import load_dataset
    from analysis_core.extraction import features_in_memory
    from analysis_core.models.loading import load_model

    return features_in_memory(load_dataset("fashion-mnist"), load_model("fmnist-robust"), n_images)


@pytest.fixture(scope="session")
def fmnist_features():
    """Real features: (X, labels, predictions) of the shipped fmnist-robust model on 2,000 test images."""
    return shipped_fmnist_features(2000)
