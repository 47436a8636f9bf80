"""What a run will cost, printed before it starts: measured on one batch, scaled to the data set."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from analysis_core.artifacts.errors import BarlowError
from analysis_core.reproduction.config import ReproductionConfig


@dataclass
class Estimate:
    n_images: int
    n_features: int
    seconds_per_image: float  # all models' forward passes, one worker
    extraction_seconds: float
    workers: int
    disk_bytes: int
    free_bytes: int

    def describe(self) -> str:
        return (f"estimate: {self.n_images:,} images x {self.n_features} features; extraction about "
                f"{_duration(self.extraction_seconds)} on {self.workers} worker(s) like this machine "
                f"({self.seconds_per_image * 1000:.2f} ms per image for all models, measured on one batch); "
                f"disk about {_size(self.disk_bytes)} at the peak (free: {_size(self.free_bytes)})")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def estimate(config: ReproductionConfig, out: Path) -> Estimate:
    import torch

    from analysis_core.reproduction.data import load_data, load_entry

    dataset = load_data(config.data)
    n = len(dataset)
    device = config.execution.device
    features_model = load_entry(config.features_model, device).eval()
    models = [features_model] + [load_entry(m, device).eval() for m in config.inspected_models if m.spec != config.features_model.spec]
    batch = min(n, config.data.batch_size, 64)
    images = torch.stack([dataset[i][0] for i in range(batch)]).to(device)
    with torch.inference_mode():
        for model in models:  # warm-up: first calls pay for allocation and kernel selection
            model(images)
        start = time.perf_counter()
        for model in models:
            model(images)
        per_image = (time.perf_counter() - start) / batch
    workers = config.execution.workers if config.execution.scheduler != "in-process" else 1
    k = features_model.num_features
    features = n * k * 4
    # Shards and the merged matrix exist together during the merge; metadata is ~120 B a row per model.
    disk = 2 * features + n * 120 * len(config.inspected_models) + 50 * 2**20
    out.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out).free
    return Estimate(n, k, per_image, n * per_image / workers, workers, disk, free)


def check_disk(est: Estimate) -> None:
    if est.disk_bytes > est.free_bytes:
        raise BarlowError(f"the run needs about {_size(est.disk_bytes)} of disk but only {_size(est.free_bytes)} is free "
                          "where --out points")
