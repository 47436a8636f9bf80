"""``load_model(spec)``: one string names every kind of model Barlow can use."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.options import MODEL_SPEC_HELP
from analysis_core.feature_provenance import RANDOM_WEIGHTS
from analysis_core.models.base import FeatureModel

SHIPPED = ("fmnist-robust", "fmnist-standard")
# The spellings the command line's model help shows, declared there once.
SPEC_HELP = MODEL_SPEC_HELP


def shipped_model_path(name: str) -> Path:
    from analysis_core.artifacts.resources import data_dir

    path = data_dir() / "models" / f"{name}.pt"
    if not path.is_file():
        raise BarlowError(f"shipped model {name} not found at {path}; train it with 'barlow train' (see data/models/README.md)")
    return path


def _load_path(path: Path, trust_checkpoint: bool) -> FeatureModel:
    from analysis_core.models.checkpoint import (
        file_sha256,
        is_barlow_checkpoint,
        model_from_checkpoint,
        torch_load,
    )
    from analysis_core.models.madry import load_madry

    obj = torch_load(path, trust_checkpoint)
    if is_barlow_checkpoint(obj):
        try:
            model = model_from_checkpoint(obj, path)
        except RuntimeError as exc:
            raise BarlowError(f"checkpoint {path} does not fit its architecture: {str(exc).splitlines()[0]}") from exc
        model.source = {"kind": "barlow", "checkpoint": str(path.resolve()), "sha256": file_sha256(path),
                        "training": obj.get("extra", {})}
        return model
    # Anything else is read as a robustness-library (or plain ResNet-50) checkpoint.
    return load_madry(path, "resnet50", trust_checkpoint)


def load_model(spec: str, device: str | torch.device = "cpu", trust_checkpoint: bool = False) -> FeatureModel:
    """Build the model ``spec`` names, in eval mode, on ``device``.

    Specs: ``fmnist-robust`` / ``fmnist-standard`` (shipped), a checkpoint path,
    ``madry-ARCH:PATH``, ``torchvision:ARCH[:WEIGHTS_PATH]``, ``entrypoint:module:function``.
    """
    from analysis_core.models.checkpoint import file_sha256, torch_load
    from analysis_core.models.entrypoint import load_entrypoint
    from analysis_core.models.madry import load_madry
    from analysis_core.models.resnet import (
        ResNetFeatureModel,
        build_resnet,
        load_resnet_state,
    )

    spec = str(spec).strip()
    if spec in SHIPPED:
        model = _load_path(shipped_model_path(spec), trust_checkpoint)
    elif spec.startswith("madry-"):
        arch, sep, path = spec[len("madry-"):].partition(":")
        if not sep or not path:
            raise BarlowError(f"model spec {spec!r} needs a checkpoint path: madry-ARCH:PATH")
        model = load_madry(Path(path), arch, trust_checkpoint)
    elif spec.startswith("torchvision:"):
        arch, _, weights = spec[len("torchvision:"):].partition(":")
        if weights:
            wpath = Path(weights)
            state = torch_load(wpath, trust_checkpoint)
            if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
                state = state["state_dict"]
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise BarlowError(f"{wpath} is not a state_dict of tensors for torchvision {arch}")
            state = {k.removeprefix("module."): v for k, v in state.items()}
            net, report = load_resnet_state(arch, state, f"weights file {wpath}")
            source = {"checkpoint": str(wpath.resolve()), "sha256": file_sha256(wpath), **report}
        else:
            # No download here: an untrained network is only useful for tests and plumbing.
            net, source = build_resnet(arch), {"checkpoint": None, "warning": RANDOM_WEIGHTS}
            print(
                f"WARNING: torchvision:{arch} has no weights file, so it runs with RANDOM weights: its features "
                f"are not robust and its failure modes mean nothing. Give torchvision:{arch}:WEIGHTS_PATH "
                "(e.g. a robust checkpoint's state_dict) for a real analysis.",
                file=sys.stderr,
            )
        model = ResNetFeatureModel(net)
        model.source = {"kind": "torchvision", "arch": arch, **source}
    elif spec.startswith("entrypoint:"):
        model = load_entrypoint(spec[len("entrypoint:"):])
    elif Path(spec).is_file():
        model = _load_path(Path(spec), trust_checkpoint)
    else:
        raise BarlowError(f"unknown model spec {spec!r} (no such file either); use {SPEC_HELP}")
    model.source["spec"] = spec
    model.eval()
    return model.to(device)
