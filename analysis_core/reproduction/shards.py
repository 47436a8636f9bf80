"""Extraction in shards: one task per slice of the data set, merged into ``barlow extract``'s files.

One pass over the images serves every model: the features model gives the feature rows and
each inspected model its predictions. A shard's result lands in ``.shards/<key>/NNNNN.npz``
by one atomic rename, so a worker killed half-way leaves nothing behind and the shard is
simply computed again; the merge places shard ``i`` at rows ``[i * size, (i + 1) * size)``,
so a shard that ran twice can never add rows. Shards cut the data at the same batch
boundaries as ``barlow extract`` with the same batch size, so the merged ``features.npy``
is the one a single-machine run writes.

The merge writes, per inspected model, a folder with ``features.npy`` (hard links to one
file where the file system allows), ``metadata.csv`` and ``manifest.json`` in the format of
``barlow extract``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from analysis_core.reproduction.config import ReproductionConfig

SHARDS = ".shards"


@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to compute one shard (plain data, cheap to send)."""

    config: ReproductionConfig
    index: int
    start: int
    stop: int
    folder: str  # where NNNNN.npz goes


def shard_key(config: ReproductionConfig, n_images: int) -> str:
    """Changes whenever a shard's content would: data, models, batch and shard size."""
    from analysis_core.fingerprints import model_fingerprint

    parts = {
        "dataset": config.data.dataset, "subset": config.data.subset, "transform": config.data.transform, "n": n_images,
        "batch": config.data.batch_size, "shard": config.execution.shard_size,
        "features": [config.features_model.spec, model_fingerprint(config.features_model.spec)],
        "inspected": [[m.name, m.spec, model_fingerprint(m.spec)] for m in config.inspected_models],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def plan_shards(config: ReproductionConfig, n_images: int, root: Path) -> list[ShardTask]:
    folder = root / SHARDS / shard_key(config, n_images)
    size = config.execution.shard_size
    return [ShardTask(config, i, start, min(start + size, n_images), str(folder))
            for i, start in enumerate(range(0, n_images, size))]


def shard_path(task: ShardTask) -> Path:
    return Path(task.folder) / f"{task.index:05d}.npz"


def compute_shard(task: ShardTask, after_batch: Callable[[ShardTask, int], None] | None = None) -> str:
    """Compute one shard (unless its file exists) and return the file's path.

    ``after_batch(task, rows_done)`` is called after each batch: progress reports, and the
    tests' way of killing a worker in the middle of a shard.
    """
    import torch

    from analysis_core.extraction import _batches, map_classes
    from analysis_core.reproduction.data import load_data, load_entry

    path = shard_path(task)
    if path.is_file():
        return str(path)
    config = task.config
    device = config.execution.device
    dataset = load_data(config.data)
    if task.stop > len(dataset):
        raise BarlowError(f"shard {task.index} ends at row {task.stop} but the data set has {len(dataset)} images")
    features_model = load_entry(config.features_model, device).eval()
    inspected = []
    for entry in config.inspected_models:
        model = features_model if entry.spec == config.features_model.spec else load_entry(entry, device).eval()
        inspected.append((entry, model, map_classes(dataset, model, entry.spec)))
    chunk = config.data.batch_size
    first, last = task.start // chunk, (task.stop + chunk - 1) // chunk
    n = task.stop - task.start
    features = np.empty((n, features_model.num_features), dtype=np.float32)
    predictions = {entry.name: np.empty(n, dtype=np.int64) for entry, _, _ in inspected}
    confidence = {entry.name: np.empty(n, dtype=np.float32) for entry, _, _ in inspected}
    done = 0
    with torch.inference_mode():
        for c, images in _batches(dataset, list(range(first, last)), chunk, 0, pin=False):
            lo, hi = c * chunk - task.start, min((c + 1) * chunk, task.stop) - task.start
            x = images.to(device)
            output = features_model(x)
            features[lo:hi] = output.features.float().cpu().numpy()
            for entry, model, mapping in inspected:
                logits = output.logits if model is features_model else model(x).logits
                conf, arg = torch.softmax(logits.float(), dim=1).max(dim=1)
                predictions[entry.name][lo:hi] = mapping.output_to_id[arg.cpu().numpy()]
                confidence[entry.name][lo:hi] = conf.cpu().numpy()
            done += hi - lo
            if after_batch is not None:
                after_batch(task, done)
    arrays = {"features": features, "rows": np.array([task.start, task.stop])}
    for name in predictions:
        arrays[f"prediction:{name}"] = predictions[name]
        arrays[f"confidence:{name}"] = confidence[name]
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    return str(path)


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def merge_shards(config: ReproductionConfig, tasks: list[ShardTask], out_dir: Path, seconds: float) -> dict[str, Path]:
    """Write ``out_dir/<inspected name>/{features.npy, metadata.csv, manifest.json}`` from the shards."""
    from numpy.lib.format import open_memmap

    from analysis_core.artifacts import (
        FEATURES_FILE,
        MANIFEST_FILE,
        METADATA_FILE,
        write_manifest,
        write_metadata,
    )
    from analysis_core.extraction import _manifest, _metadata_frame, map_classes
    from analysis_core.reproduction.data import load_data, load_entry

    dataset = load_data(config.data)
    n = len(dataset)
    if not tasks or tasks[-1].stop != n:
        raise BarlowError(f"the shards cover {tasks[-1].stop if tasks else 0} rows but the data set has {n}")
    first = np.load(shard_path(tasks[0]))
    k = first["features"].shape[1]
    staging = out_dir / ".merge-partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    features = open_memmap(staging / FEATURES_FILE, mode="w+", dtype=np.float32, shape=(n, k))
    predictions = {m.name: np.empty(n, dtype=np.int64) for m in config.inspected_models}
    confidence = {m.name: np.empty(n, dtype=np.float32) for m in config.inspected_models}
    for task in tasks:
        with np.load(shard_path(task)) as shard:
            if list(shard["rows"]) != [task.start, task.stop] or shard["features"].shape != (task.stop - task.start, k):
                raise BarlowError(f"shard file {shard_path(task)} does not hold rows {task.start}-{task.stop}; delete it and rerun")
            features[task.start:task.stop] = shard["features"]
            for name in predictions:
                predictions[name][task.start:task.stop] = shard[f"prediction:{name}"]
                confidence[name][task.start:task.stop] = shard[f"confidence:{name}"]
    features.flush()
    del features

    features_model = load_entry(config.features_model)
    outputs = {}
    for entry in config.inspected_models:
        model = features_model if entry.spec == config.features_model.spec else load_entry(entry)
        mapping = map_classes(dataset, model, entry.spec)
        folder = out_dir / entry.name
        folder.mkdir(parents=True, exist_ok=True)
        # As barlow extract publishes: manifest.json last, so only a complete folder has one.
        (folder / MANIFEST_FILE).unlink(missing_ok=True)
        write_metadata(_metadata_frame(dataset, mapping, predictions[entry.name], confidence[entry.name]), folder / METADATA_FILE)
        _link_or_copy(staging / FEATURES_FILE, folder / FEATURES_FILE)
        manifest = _manifest(dataset, features_model, model, features_spec=config.features_model.spec, inspect_spec=entry.spec,
                             mapping=mapping, predictions=predictions[entry.name], chunk=config.data.batch_size,
                             device=config.execution.device, resumed_chunks=0, elapsed=seconds, computed=n)
        manifest.update({
            "inspected_name": entry.name,
            "subset": getattr(dataset, "subset", None),
            "shards": {"n": len(tasks), "size": config.execution.shard_size, "key": Path(tasks[0].folder).name},
        })
        write_manifest(manifest, folder / MANIFEST_FILE)
        outputs[entry.name] = folder
    shutil.rmtree(staging, ignore_errors=True)
    return outputs


def extract_sharded(config: ReproductionConfig, out_dir: Path, executor, log=print,
                    after_batch: Callable[[ShardTask, int], None] | None = None) -> dict[str, Path]:
    """Plan, compute (through ``executor``) and merge the shards; finished shards are reused."""
    import functools

    from analysis_core.reproduction.data import load_data

    n = len(load_data(config.data))
    tasks = plan_shards(config, n, out_dir)
    todo = [t for t in tasks if not shard_path(t).is_file()]
    log(f"[extract] {n} images in {len(tasks)} shard(s) of {config.execution.shard_size}; "
        f"{len(tasks) - len(todo)} already done, {len(todo)} to compute on {executor.describe()}")
    start = time.perf_counter()
    executor.map(functools.partial(compute_shard, after_batch=after_batch) if after_batch else compute_shard, todo)
    outputs = merge_shards(config, tasks, out_dir, time.perf_counter() - start)
    # The shards of this key are merged; older keys are stale leftovers of changed settings.
    shutil.rmtree(out_dir / SHARDS, ignore_errors=True)
    return outputs
