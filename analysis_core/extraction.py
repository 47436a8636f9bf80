"""Feature extraction to disk: chunked, memory-mapped, resumable, never half-written.

A run keeps its state in ``OUT/.extract-partial/``: memory-mapped ``.npy`` files for the
features, predictions and confidences, and ``progress.json`` listing the finished chunks
(updated atomically after each chunk is flushed). A rerun with the same inputs resumes
after the last finished chunk; chunk boundaries never change, so a resumed run writes the
same bytes as an uninterrupted one. ``features.npy``, ``metadata.csv`` and finally
``manifest.json`` appear in ``OUT`` by atomic renames only when every chunk is done.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.extraction import (
    FEATURES_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    write_manifest,
    write_metadata,
)
from analysis_core.datasets.base import ImageDataset
from analysis_core.feature_provenance import RANDOM_WEIGHTS
from analysis_core.models.base import FeatureModel

PARTIAL = ".extract-partial"


@dataclass
class ClassMapping:
    """How the inspected model's outputs and the data set's labels share one id space."""

    classes: list[str]
    label_ids: np.ndarray
    output_to_id: np.ndarray | None  # model output index -> class id (None: no model)


def map_classes(dataset: ImageDataset, model: FeatureModel | None, model_spec: str | None) -> ClassMapping:
    labels = dataset.labels
    if model is None:
        return ClassMapping(list(dataset.classes), labels, None)
    n_out = model.num_classes
    if model.classes is not None and list(model.classes) != list(dataset.classes) and set(dataset.classes) <= set(model.classes):
        # e.g. an ImageNet subset folder against a 1000-class model: use the model's ids.
        position = {name: i for i, name in enumerate(model.classes)}
        return ClassMapping(list(model.classes), np.array([position[dataset.classes[l]] for l in labels]),
                            np.arange(n_out))
    if n_out == len(dataset.classes):
        # Same number of outputs: the data set's class order is the model's output order.
        return ClassMapping(list(dataset.classes), labels, np.arange(n_out))
    raise BarlowError(
        f"model {model_spec} has {n_out} outputs but the data set has {len(dataset.classes)} classes "
        f"whose names are not among the model's; give a matching --inspect-model or a Barlow CSV with predictions"
    )


def _fingerprint(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _batches(dataset: ImageDataset, indices: list[int], chunk: int, workers: int, pin: bool):
    """Yield (chunk index, images) for the chunks starting at ``indices``, in order."""
    fast = getattr(dataset, "images_uint8", None)
    n = len(dataset)
    if fast is not None:
        for c in indices:
            yield c, fast[c * chunk: min((c + 1) * chunk, n)].float().div_(255.0)
        return
    from torch.utils.data import DataLoader, Dataset

    class Chunks(Dataset):
        def __len__(self) -> int:
            return len(indices)

        def __getitem__(self, k: int):
            c = indices[k]
            rows = range(c * chunk, min((c + 1) * chunk, n))
            if dataset.decode_image is not None:
                return c, torch.from_numpy(np.stack([dataset.decode_image(i) for i in rows]))
            return c, torch.stack([dataset[i][0] for i in rows])

    loader = DataLoader(Chunks(), batch_size=None, num_workers=workers, pin_memory=pin,
                        prefetch_factor=4 if workers > 0 else None, persistent_workers=False)
    for c, images in loader:
        # Decoded files travel as uint8 N x H x W x C (a quarter of the bytes between
        # processes) and become floats here in one vectorized step.
        yield c, images.permute(0, 3, 1, 2).contiguous().float().div_(255.0) if images.dtype == torch.uint8 else images


@dataclass
class _Partial:
    """The state of a run in OUT/.extract-partial/: memory-mapped outputs and finished chunks."""

    folder: Path
    fingerprint: str
    features: np.ndarray
    predictions: np.ndarray
    confidence: np.ndarray
    done: set[int]

    def mark_done(self, chunk: int) -> None:
        for array in (self.features, self.predictions, self.confidence):
            array.flush()
        self.done.add(chunk)
        with atomic_path(self.folder / "progress.json") as tmp:
            tmp.write_text(json.dumps({"fingerprint": self.fingerprint, "done_chunks": sorted(self.done)}))


def _run_fingerprint(dataset: ImageDataset, features_model: FeatureModel, features_spec: str,
                     inspect_model: FeatureModel | None, inspect_spec: str | None, chunk: int) -> str:
    """What must match for a rerun to resume: data, models and chunking."""
    return _fingerprint({
        "dataset": dataset.spec, "n": len(dataset),
        "filenames": hashlib.sha256("\n".join(dataset.filenames).encode()).hexdigest(),
        "features": features_model.source.get("sha256") or features_spec, "features_spec": features_spec,
        "inspect": (inspect_model.source.get("sha256") or inspect_spec) if inspect_model is not None else None,
        "chunk": chunk, "k": features_model.num_features,
    })


def _open_partial(out: Path, fingerprint: str, n: int, k: int, restart: bool) -> _Partial:
    """Resume the partial run in ``out`` when it has the same fingerprint, else start afresh."""
    from numpy.lib.format import open_memmap

    partial = out / PARTIAL
    state_path = partial / "progress.json"
    done: set[int] = set()
    if partial.exists() and not restart:
        try:
            state = json.loads(state_path.read_text())
            if state.get("fingerprint") == fingerprint:
                done = set(state["done_chunks"])
        except (OSError, ValueError, KeyError):
            done = set()
    if not done and partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    mode = "r+" if done else "w+"
    state = _Partial(
        partial, fingerprint,
        open_memmap(partial / FEATURES_FILE, mode=mode, dtype=np.float32, shape=(n, k)),
        open_memmap(partial / "predictions.npy", mode=mode, dtype=np.int64, shape=(n,)),
        open_memmap(partial / "confidence.npy", mode=mode, dtype=np.float32, shape=(n,)),
        done,
    )
    if not done:
        state_path.write_text(json.dumps({"fingerprint": fingerprint, "done_chunks": []}))
    return state


def _compute_chunks(state: _Partial, dataset: ImageDataset, features_model: FeatureModel, inspect_model: FeatureModel | None,
                    mapping: ClassMapping, todo: list[int], chunk: int, workers: int, device: str, bar) -> None:
    """Run the models over the ``todo`` chunks, saving each chunk's rows and marking it done."""
    n = len(dataset)
    same_model = inspect_model is features_model
    with torch.inference_mode():
        for c, images in _batches(dataset, todo, chunk, workers, pin=str(device).startswith("cuda")):
            lo, hi = c * chunk, min((c + 1) * chunk, n)
            x = images.to(device, non_blocking=True)
            output = features_model(x)
            state.features[lo:hi] = output.features.float().cpu().numpy()
            if inspect_model is not None:
                logits = output.logits if same_model else inspect_model(x).logits
                probs = torch.softmax(logits.float(), dim=1)
                conf, arg = probs.max(dim=1)
                state.predictions[lo:hi] = mapping.output_to_id[arg.cpu().numpy()]
                state.confidence[lo:hi] = conf.cpu().numpy()
            else:
                state.predictions[lo:hi] = dataset.predictions[lo:hi]
                state.confidence[lo:hi] = np.nan
            state.mark_done(c)
            bar.update(hi - lo)


def _metadata_frame(dataset: ImageDataset, mapping: ClassMapping, predictions: np.ndarray, confidence: np.ndarray):
    import pandas as pd

    classes = mapping.classes
    return pd.DataFrame({
        "Filenames": dataset.filenames,
        "Predictions": [classes[i] for i in predictions],
        "Labels": [classes[i] for i in mapping.label_ids],
        "label_id": mapping.label_ids,
        "prediction_id": predictions,
        "confidence": confidence,
    })


def _manifest(dataset: ImageDataset, features_model: FeatureModel, inspect_model: FeatureModel | None, *, features_spec: str,
              inspect_spec: str | None, mapping: ClassMapping, predictions: np.ndarray, chunk: int, device: str,
              resumed_chunks: int, elapsed: float, computed: int) -> dict:
    label_ids = mapping.label_ids
    manifest = {
        "version": 1,
        "dataset": dataset.spec,
        "dataset_root": dataset.root,
        # How image files were decoded; reload the same inputs with
        # load_dataset(spec, ImageTransform(**transform)) (null: fixed-size arrays).
        "transform": _transform_info(dataset),
        "features_model": features_spec,
        "inspect_model": inspect_spec,
        "predictions_source": "inspect_model" if inspect_model is not None else "dataset metadata.csv",
        "classes": mapping.classes,
        "n_images": len(dataset),
        "n_features": features_model.num_features,
        "n_failures": int((predictions != label_ids).sum()),
        "accuracy": float((predictions == label_ids).mean()),
        "feature_map_shape": None,
        "checkpoints": {
            "features_model": _checkpoint_info(features_model),
            "inspect_model": _checkpoint_info(inspect_model) if inspect_model is not None else None,
        },
        # Read by 'barlow analyze' and 'barlow report', which then refuse to call these features robust.
        "features_random_weights": features_model.source.get("warning") == RANDOM_WEIGHTS,
        "batch_size": chunk,
        "device": str(device),
        "resumed_chunks": resumed_chunks,
        "wall_time_s": round(elapsed, 2),
        "images_per_second": round(computed / elapsed, 1) if elapsed > 0 and computed else None,
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    with torch.inference_mode():
        probe = features_model(dataset[0][0].unsqueeze(0).to(device)).feature_map
    manifest["feature_map_shape"] = list(probe.shape[1:])
    return manifest


def _publish(out: Path, metadata, manifest: dict) -> None:
    """Move the finished run into ``out``; manifest.json last, so that it marks a complete extraction."""
    # An older complete result is replaced file by file; its manifest goes first so that a
    # kill between the renames leaves no manifest, i.e. nothing that looks complete.
    (out / MANIFEST_FILE).unlink(missing_ok=True)
    write_metadata(metadata, out / METADATA_FILE)
    os.replace(out / PARTIAL / FEATURES_FILE, out / FEATURES_FILE)
    write_manifest(manifest, out / MANIFEST_FILE)
    shutil.rmtree(out / PARTIAL, ignore_errors=True)


def extract(
    dataset: ImageDataset,
    features_model: FeatureModel,
    out_dir: str | os.PathLike,
    *,
    inspect_model: FeatureModel | None = None,
    features_spec: str,
    inspect_spec: str | None = None,
    batch_size: int = 256,
    workers: int = 0,
    device: str = "cpu",
    restart: bool = False,
    progress: bool = True,
) -> dict:
    """Extract features (and predictions) of every image of ``dataset`` into ``out_dir``.

    Predictions come from ``inspect_model`` (which may be ``features_model`` itself: one
    forward pass then serves both), else from ``dataset.predictions`` (Barlow CSV).
    Returns the manifest.
    """
    from tqdm import tqdm

    if inspect_model is None and dataset.predictions is None:
        raise BarlowError("no predictions: give --inspect-model, or a barlow-csv data set whose metadata.csv has Predictions")
    n = len(dataset)
    if n == 0:
        raise BarlowError(f"data set {dataset.spec} has no images")
    mapping = map_classes(dataset, inspect_model, inspect_spec)
    out = Path(out_dir)
    chunk = int(batch_size)
    n_chunks = (n + chunk - 1) // chunk
    fingerprint = _run_fingerprint(dataset, features_model, features_spec, inspect_model, inspect_spec, chunk)
    state = _open_partial(out, fingerprint, n, features_model.num_features, restart)
    features_model.to(device).eval()
    if inspect_model is not None and inspect_model is not features_model:
        inspect_model.to(device).eval()
    todo = [c for c in range(n_chunks) if c not in state.done]
    rows_done = sum(min((c + 1) * chunk, n) - c * chunk for c in state.done)
    start = time.perf_counter()
    bar = tqdm(total=n, initial=rows_done, unit="img", unit_scale=True, desc="extract", disable=not progress,
               file=sys.stderr, smoothing=0.1)
    _compute_chunks(state, dataset, features_model, inspect_model, mapping, todo, chunk, workers, device, bar)
    bar.close()
    elapsed = time.perf_counter() - start
    if len(state.done) != n_chunks:  # pragma: no cover - the loop covers every chunk
        raise BarlowError("extraction stopped before every chunk was done; rerun to resume")
    predictions, confidence = np.array(state.predictions), np.array(state.confidence)
    del state  # close the memory maps before renaming
    manifest = _manifest(dataset, features_model, inspect_model, features_spec=features_spec, inspect_spec=inspect_spec,
                         mapping=mapping, predictions=predictions, chunk=chunk, device=device,
                         resumed_chunks=n_chunks - len(todo), elapsed=elapsed, computed=n - rows_done)
    _publish(out, _metadata_frame(dataset, mapping, predictions, confidence), manifest)
    return manifest


def _transform_info(dataset: ImageDataset) -> dict | None:
    from dataclasses import asdict

    transform = getattr(dataset, "transform", None)
    return asdict(transform) if transform is not None else None


def _checkpoint_info(model: FeatureModel) -> dict:
    keep = ("kind", "spec", "arch", "checkpoint", "sha256", "normalizer", "prefix", "warning")
    return {key: model.source[key] for key in keep if key in model.source}


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from analysis_core import __version__

    try:
        # Importing torchvision just for its version would cost seconds.
        torchvision_version = version("torchvision")
    except PackageNotFoundError:
        torchvision_version = None
    return {"barlow": __version__, "torch": torch.__version__, "torchvision": torchvision_version,
            "numpy": np.__version__, "python": platform.python_version()}


def features_in_memory(dataset: ImageDataset, model: FeatureModel, n_images: int | None = None,
                       batch_size: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and predicted class ids of the first ``n_images`` images, in memory.

    For benchmarks and calibration runs on a few thousand images; ``extract`` streams a whole
    data set to disk, resumably, and is what the pipeline uses.
    """
    n = len(dataset) if n_images is None else min(n_images, len(dataset))
    subset = torch.utils.data.Subset(dataset, range(n))
    features, predictions = [], []
    with torch.no_grad():
        for x, _ in torch.utils.data.DataLoader(subset, batch_size=batch_size):
            out = model(x)
            features.append(out.features.numpy().astype(np.float32))
            predictions.append(out.logits.argmax(1).numpy())
    return np.concatenate(features), np.asarray(dataset.labels)[:n], np.concatenate(predictions)
