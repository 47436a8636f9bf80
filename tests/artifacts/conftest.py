"""A small real analysis folder for the file-contract tests (written by the real analysis code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def _benchmark(n_classes=3, per_class=120, n_features=12, seed=0):
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.normal(0.5, 1.0, (n_classes * per_class, n_features)), 0).astype(np.float32)
    labels = np.repeat(np.arange(n_classes), per_class)
    failure = np.zeros(len(labels), dtype=bool)
    for c in range(n_classes):
        rows = slice(c * per_class, (c + 1) * per_class)
        x = X[rows, c + 2]
        failure[rows] = rng.random(per_class) < np.where(x < np.quantile(x, 0.4), 0.6, 0.08)
    predictions = np.where(failure, (labels + 1) % n_classes, labels)
    return X, labels, predictions


@pytest.fixture
def analysis_dir(tmp_path) -> Path:
    """An extraction (features.npy, metadata.csv with spaced class names) and its analysis folder."""
    from analysis_core.failure_analysis import AnalysisConfig, analyze_files
    from analysis_core.failure_analysis_outputs import write_analysis

    X, labels, predictions = _benchmark()
    names = np.array([" T-shirt", "Trouser ", "NA"])
    ext = tmp_path / "extraction"
    ext.mkdir()
    np.save(ext / "features.npy", X)
    pd.DataFrame(
        {"Filenames": [f"img_{i}.png" for i in range(len(labels))], "Predictions": names[predictions], "Labels": names[labels]}
    ).to_csv(ext / "metadata.csv", index=False)
    result = analyze_files(ext / "features.npy", ext / "metadata.csv", AnalysisConfig(depth=2, top_k=5, holdout=0.25), progress=False)
    out = tmp_path / "analysis"
    write_analysis(result, out)
    return out
