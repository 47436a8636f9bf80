"""Barlow's own checkpoint format: a state_dict plus plain metadata (``weights_only`` safe)."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from analysis_core.models.small_cnn import SmallCNN

FORMAT = "barlow-checkpoint"
ARCHS = {"smallcnn": SmallCNN}


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(model: SmallCNN, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> None:
    """Write ``model`` so that :func:`load_checkpoint` (and ``torch.load(weights_only=True)``) reads it."""
    payload = {
        "format": FORMAT,
        "version": 1,
        "arch": "smallcnn",
        "arch_kwargs": dict(model.arch_kwargs),
        "mean": [float(v) for v in model.mean.flatten()],
        "std": [float(v) for v in model.std.flatten()],
        "classes": list(model.classes) if model.classes is not None else None,
        # Weights stored in half precision would lose accuracy; float32 keeps them < 5 MB here.
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "extra": extra or {},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def torch_load(path: str | os.PathLike, trust_checkpoint: bool = False) -> Any:
    """``torch.load`` on CPU with ``weights_only`` unless the user trusts the file."""
    path = Path(path)
    if not path.is_file():
        raise BarlowError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_checkpoint)
    except pickle.UnpicklingError as exc:
        with open(path, "rb") as fh:
            magic = fh.read(4)
        # A zip (current torch.save) or pickle-protocol (legacy, dill) file that weights_only
        # refuses holds Python objects; anything else is simply not a PyTorch file.
        if not (magic.startswith(b"PK") or magic[:1] == b"\x80"):
            raise BarlowError(f"cannot read checkpoint {path}: not a PyTorch checkpoint file") from exc
        if trust_checkpoint:
            raise BarlowError(f"cannot unpickle checkpoint {path}: {exc}".splitlines()[0]) from exc
        raise BarlowError(
            f"checkpoint {path} contains pickled Python objects that weights_only loading refuses "
            "(old dill/pickle checkpoints do); if you trust its source, rerun with --trust-checkpoint"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BarlowError(f"cannot read checkpoint {path}: {first}") from exc
    except ModuleNotFoundError as exc:
        raise BarlowError(
            f"checkpoint {path} needs Python module '{exc.name}' to unpickle; install it or re-save the weights as a plain state_dict"
        ) from exc


def is_barlow_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def model_from_checkpoint(obj: dict, path: str | os.PathLike) -> SmallCNN:
    arch = obj.get("arch")
    if arch not in ARCHS:
        raise BarlowError(f"checkpoint {path} has unknown arch {arch!r}; known: {', '.join(ARCHS)}")
    kwargs = dict(obj.get("arch_kwargs") or {})
    model = ARCHS[arch](**kwargs, mean=obj["mean"], std=obj["std"], classes=obj.get("classes"))
    result = model.load_state_dict(obj["state_dict"], strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise BarlowError(
            f"checkpoint {path} does not match {arch}{kwargs}: "
            f"missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}"
        )
    model.eval()
    return model


def load_checkpoint(path: str | os.PathLike, trust_checkpoint: bool = False) -> SmallCNN:
    obj = torch_load(path, trust_checkpoint)
    if not is_barlow_checkpoint(obj):
        raise BarlowError(f"{path} is not a Barlow checkpoint (no 'format': '{FORMAT}')")
    try:
        return model_from_checkpoint(obj, path)
    except RuntimeError as exc:  # shape mismatch inside load_state_dict
        raise BarlowError(f"checkpoint {path} does not fit its declared architecture: {str(exc).splitlines()[0]}") from exc
