"""The reproduction's images and models: loading, subsets, and what is missing before a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis_core.artifacts.errors import BarlowError
from analysis_core.reproduction.config import DataConfig, ModelEntry, ReproductionConfig


def subset_rows(n: int, subset: int | None) -> np.ndarray | None:
    """Evenly spaced rows (every class keeps its share in a shuffled or class-sorted set)."""
    if subset is None or subset >= n:
        return None
    return np.unique(np.linspace(0, n - 1, subset).round().astype(np.int64))


def load_data(data: DataConfig):
    """The config's data set, cut to ``data.subset`` images when set."""
    from analysis_core.datasets import ImageTransform, load_dataset
    from analysis_core.datasets.base import ImageDataset

    dataset = load_dataset(data.dataset, ImageTransform(**data.transform) if data.transform else None)
    rows = subset_rows(len(dataset), data.subset)
    if rows is None:
        return dataset
    fast = getattr(dataset, "images_uint8", None)
    decode = dataset.decode_image
    subset = ImageDataset(
        spec=dataset.spec,
        classes=dataset.classes,
        filenames=[dataset.filenames[i] for i in rows],
        labels=dataset.labels[rows],
        load_image=lambda i: dataset[int(rows[i])][0],
        decode_image=(lambda i: decode(int(rows[i]))) if decode is not None else None,
        predictions=None if dataset.predictions is None else dataset.predictions[rows],
        root=dataset.root,
    )
    subset.transform = dataset.transform
    subset.subset = {"n": int(len(rows)), "of": int(len(dataset)), "rule": "evenly spaced rows"}
    if fast is not None:
        subset.images_uint8 = fast[rows]
    return subset


def load_entry(entry: ModelEntry, device: str = "cpu"):
    from analysis_core.models import load_model

    return load_model(entry.spec, device=device, trust_checkpoint=entry.trust_checkpoint)


def _model_path(spec: str) -> Path | None:
    """The file a model spec reads, when it reads one."""
    from analysis_core.models.loading import SHIPPED

    if spec in SHIPPED or spec.startswith("entrypoint:"):
        return None
    if spec.startswith("madry-"):
        return Path(spec.partition(":")[2])
    if spec.startswith("torchvision:"):
        weights = spec[len("torchvision:"):].partition(":")[2]
        return Path(weights) if weights else None
    return Path(spec)


def _dataset_path(spec: str) -> Path | None:
    kind, _, rest = spec.partition(":")
    if kind == "imagenet":
        head, sep, tail = rest.rpartition(":")
        root, split = (head, tail) if sep and tail in ("train", "val") else (rest, "val")
        return Path(root) / split
    if kind in ("imagefolder", "barlow-csv"):
        return Path(rest)
    return None


def missing_files(config: ReproductionConfig) -> list[str]:
    """One line per input that is not on disk, saying where to get it."""
    problems = []
    data_path = _dataset_path(config.data.dataset)
    if data_path is not None and not data_path.exists():
        problems.append(f"data set folder {data_path} (data.dataset = {config.data.dataset})"
                        + (f": {config.data.get}" if config.data.get else ""))
    seen = set()
    for where, entry in [("features_model", config.features_model)] + [
        (f"inspected model '{m.name}'", m) for m in config.inspected_models
    ]:
        path = _model_path(entry.spec)
        if path is None or path in seen:
            continue
        seen.add(path)
        if not path.is_file():
            problems.append(f"checkpoint {path} ({where}, spec {entry.spec})" + (f": {entry.get}" if entry.get else ""))
    return problems


def check_inputs(config: ReproductionConfig) -> None:
    problems = missing_files(config)
    if problems:
        lines = "\n  ".join(problems)
        raise BarlowError(f"config {config.source or config.name} needs file(s) that are not here:\n  {lines}")
