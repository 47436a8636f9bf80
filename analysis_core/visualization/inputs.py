"""Read an analysis folder (trees.json) and the extraction it points to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis_core.errors import BarlowError
from analysis_core.json_files import parse_json, read_json


@dataclass
class AnalysisInputs:
    analysis_dir: Path
    trees: dict
    trees_sha1: str
    features_path: Path
    metadata_path: Path
    manifest: dict  # the extraction's manifest.json ({} when missing)

    @property
    def groups(self) -> list[dict]:
        return self.trees.get("groups", [])


def read_trees(analysis_dir: str | Path) -> tuple[dict, str]:
    path = Path(analysis_dir) / "trees.json"
    if not path.is_file():
        raise BarlowError(f"{path} not found: --analysis must be a folder written by 'barlow analyze'")
    raw = path.read_bytes()
    trees = parse_json(raw, path)
    if not isinstance(trees, dict) or not isinstance(trees.get("groups"), list):
        raise BarlowError(f"{path} has no 'groups' list; was it written by 'barlow analyze'?")
    return trees, hashlib.sha1(raw).hexdigest()


def read_analysis(analysis_dir: str | Path, features: str | Path | None = None, metadata: str | Path | None = None) -> AnalysisInputs:
    """Locate features.npy, metadata.csv and manifest.json for an analysis folder.

    trees.json records absolute paths of its inputs; ``features``/``metadata`` override
    them (e.g. after the extraction folder was moved).
    """
    analysis_dir = Path(analysis_dir)
    trees, sha1 = read_trees(analysis_dir)
    recorded = trees.get("inputs", {})
    features_path = Path(features or recorded.get("features", ""))
    if not str(features_path) or not features_path.is_file():
        raise BarlowError(
            f"features file {str(features_path) or '(none recorded)'} named by {analysis_dir / 'trees.json'} not found; "
            "pass --features-file PATH"
        )
    metadata_path = Path(metadata or recorded.get("metadata") or features_path.parent / "metadata.csv")
    if not metadata_path.is_file():
        raise BarlowError(f"metadata file {metadata_path} not found; pass --metadata PATH")
    manifest_path = features_path.parent / "manifest.json"
    manifest = read_json(manifest_path) if manifest_path.is_file() else {}
    return AnalysisInputs(analysis_dir, trees, sha1, features_path, metadata_path, manifest)


def load_features(path: Path) -> np.ndarray:
    """Memory-map features.npy: visualizations read a few columns and rows of it."""
    try:
        X = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise BarlowError(f"cannot read {path} as a NumPy array: {exc}") from None
    if X.ndim != 2:
        raise BarlowError(f"{path} must be a 2-D array (images x features), got shape {X.shape}")
    return X


def load_metadata(path: Path, n_rows: int):
    import pandas as pd

    meta = pd.read_csv(path, dtype={"Labels": str, "Predictions": str}, keep_default_na=False)
    missing = [c for c in ("Labels", "Predictions") if c not in meta.columns]
    if missing:
        raise BarlowError(f"{path} lacks column(s) {', '.join(missing)}")
    if len(meta) != n_rows:
        raise BarlowError(f"{path} has {len(meta)} rows but the features file has {n_rows}")
    return meta
