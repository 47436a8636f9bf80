"""The files of an extraction: ``features.npy``, ``metadata.csv`` and ``manifest.json``.

Features come from a ``.npy`` file, memory-mapped so that an ImageNet-sized matrix
(1.3 M x 2048 float32, ~10 GB) is never read whole; it is checked for NaN/inf in row
blocks. Metadata is a CSV in the original Barlow layout (``Filenames,Predictions,Labels``)
whose ``Labels`` and ``Predictions`` hold class names or ids, kept as text with surrounding
spaces removed (see :func:`class_name`): every step then names a class the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.json_files import read_json

FEATURES_FILE = "features.npy"
METADATA_FILE = "metadata.csv"
MANIFEST_FILE = "manifest.json"
REQUIRED_COLUMNS = ("Labels", "Predictions")

# Rows checked per block when scanning a memory-mapped matrix for NaN/inf: ~64 MB at 2048 float32 columns.
_CHECK_BLOCK_BYTES = 64 * 2**20


def class_name(value: Any) -> str:
    """The one spelling of a class name used by every step: text without surrounding spaces.

    A CSV written by hand or by another tool often has ``"Shirt, T-shirt"`` style spacing;
    if one step stripped it and another did not, a group's rows would silently not match.
    """
    return str(value).strip()


@dataclass
class FeatureTable:
    """Features and the per-row labels/predictions of one analysis, already validated."""

    features: np.ndarray  # (n_rows, n_features), possibly a read-only np.memmap
    labels: np.ndarray  # (n_rows,) str
    predictions: np.ndarray  # (n_rows,) str
    filenames: np.ndarray | None = None
    features_path: Path | None = None
    metadata_path: Path | None = None
    metadata: Any = None  # the whole metadata DataFrame (text columns)

    @property
    def n_rows(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def failure(self) -> np.ndarray:
        return self.labels != self.predictions

    def group_rows(self, grouping: str, name: str) -> np.ndarray:
        """Row numbers of one group: rows labelled (``grouping='label'``) or predicted as ``name``."""
        values = self.labels if grouping == "label" else self.predictions
        return np.flatnonzero(values == class_name(name))


def load_features(path: str | os.PathLike, check_finite: bool = True) -> np.ndarray:
    """Open a 2-D numeric feature matrix: ``.npy`` memory-mapped, ``.csv`` (no header) read whole."""
    path = Path(path)
    if not path.is_file():
        raise BarlowError(f"features file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            features = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            # allow_pickle=False refuses object arrays: text or mixed data in the file.
            raise BarlowError(f"features file {path} is not a numeric .npy matrix ({exc})") from None
        except OSError as exc:
            raise BarlowError(f"cannot read features file {path}: {exc}") from None
    elif suffix == ".csv":
        features = _load_csv_features(path)
    else:
        raise BarlowError(f"features file {path} must be a .npy (or headerless .csv) matrix, not '{suffix}'")
    validate_features(features, name=str(path), check_finite=check_finite)
    return features


def _load_csv_features(path: Path) -> np.ndarray:
    import pandas as pd

    frame = pd.read_csv(path, header=None)
    for column in frame.columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise BarlowError(
                f"features file {path}: non-numeric value {frame[column].iloc[row]!r} at row {row}, column {column}"
            )
    return frame.to_numpy(dtype=np.float64)


def validate_features(features: np.ndarray, name: str = "features", check_finite: bool = True) -> None:
    """Raise BarlowError unless ``features`` is a non-empty 2-D real matrix (of finite values)."""
    if not np.issubdtype(features.dtype, np.number) or np.issubdtype(features.dtype, np.complexfloating):
        raise BarlowError(f"{name}: features must be numeric, found dtype {features.dtype}")
    if features.ndim != 2:
        raise BarlowError(f"{name}: features must be a 2-D matrix (rows x features), found shape {features.shape}")
    if features.shape[0] == 0 or features.shape[1] == 0:
        raise BarlowError(f"{name}: feature matrix is empty (shape {features.shape})")
    if check_finite and np.issubdtype(features.dtype, np.floating):
        row_bytes = max(1, features.shape[1] * features.dtype.itemsize)
        block = max(1, _CHECK_BLOCK_BYTES // row_bytes)
        for start in range(0, features.shape[0], block):
            chunk = np.asarray(features[start : start + block])
            finite = np.isfinite(chunk)
            if not finite.all():
                row, col = np.argwhere(~finite)[0]
                raise BarlowError(
                    f"{name}: feature value {chunk[row, col]} (NaN/inf) at row {start + row}, feature {col}"
                )


def load_metadata(path: str | os.PathLike, n_rows: int | None = None):
    """Read the metadata CSV as text; check columns, blank cells and (optionally) the row count.

    ``Labels`` and ``Predictions`` come back as :func:`class_name` spells them.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise BarlowError(f"metadata file not found: {path}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise BarlowError(f"metadata file {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BarlowError(f"metadata file {path} is not a readable CSV: {str(exc).splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise BarlowError(
            f"metadata file {path} lacks column(s) {', '.join(missing)} (found: {', '.join(frame.columns) or 'none'})"
        )
    if len(frame) == 0:
        raise BarlowError(f"metadata file {path} has no rows")
    for column in REQUIRED_COLUMNS:
        values = frame[column].map(class_name)
        blank = values == ""
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0])
            raise BarlowError(f"metadata file {path}: empty {column} value at row {row} (data row {row + 1})")
        frame[column] = values
    if n_rows is not None and len(frame) != n_rows:
        raise BarlowError(
            f"metadata file {path} has {len(frame)} rows but the feature matrix has {n_rows}; "
            "they must describe the same images in the same order"
        )
    return frame


def load_feature_table(
    features_path: str | os.PathLike, metadata_path: str | os.PathLike, check_finite: bool = True
) -> FeatureTable:
    """Load and cross-check a feature matrix and its metadata table."""
    features = load_features(features_path, check_finite=check_finite)
    meta = load_metadata(metadata_path, n_rows=features.shape[0])
    filenames = meta["Filenames"].to_numpy(dtype=object) if "Filenames" in meta.columns else None
    return FeatureTable(
        features=features,
        labels=meta["Labels"].to_numpy(dtype=str),
        predictions=meta["Predictions"].to_numpy(dtype=str),
        filenames=filenames,
        features_path=Path(features_path).resolve(),
        metadata_path=Path(metadata_path).resolve(),
        metadata=meta,
    )


def write_metadata(frame, path: str | os.PathLike) -> Path:
    """Write a metadata table (``Filenames,Predictions,Labels`` and any further columns) atomically."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise BarlowError(f"metadata for {path} lacks column(s) {', '.join(missing)}")
    path = Path(path)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def read_manifest(path: str | os.PathLike) -> dict:
    """An extraction's manifest.json (a folder or the file itself).

    Parameters
    ----------
    path : path-like
        An extraction folder (``barlow extract --out``), or its ``manifest.json``.

    Returns
    -------
    dict
        Models, checkpoint hashes, data set, counts and versions; ``{}`` when there is no
        manifest (features made by another tool).

    Raises
    ------
    BarlowError
        The manifest is not valid JSON or not a JSON object.
    """
    path = Path(path)
    if path.suffix != ".json":
        path = path / MANIFEST_FILE
    if not path.is_file():
        return {}
    manifest = read_json(path)
    if not isinstance(manifest, dict):
        raise BarlowError(f"{path} is not a Barlow extraction manifest (expected a JSON object)")
    return manifest


def write_manifest(manifest: dict, path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix != ".json":
        path = path / MANIFEST_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass
class Extraction:
    """Where an extraction keeps its three files; the manifest read when present."""

    folder: Path
    features_path: Path = field(default=None)  # type: ignore[assignment]
    metadata_path: Path = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.features_path = Path(self.features_path) if self.features_path else self.folder / FEATURES_FILE
        self.metadata_path = Path(self.metadata_path) if self.metadata_path else self.folder / METADATA_FILE

    @property
    def manifest_path(self) -> Path:
        return self.features_path.parent / MANIFEST_FILE

    @property
    def is_complete(self) -> bool:
        """An extraction is complete once its manifest exists: it is renamed into place last."""
        return self.manifest_path.is_file() and self.features_path.is_file() and self.metadata_path.is_file()

    def manifest(self) -> dict:
        return read_manifest(self.manifest_path)

    def load(self, check_finite: bool = True) -> FeatureTable:
        return load_feature_table(self.features_path, self.metadata_path, check_finite=check_finite)
