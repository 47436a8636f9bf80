"""MadryLab ``robustness`` checkpoints (imagenet_l2_3_0.pt, resnet50_l2_eps3.ckpt, ...) as plain torchvision models.

Layout: ``ckpt['model']`` (sometimes ``ckpt['state_dict']``) holds ``module.model.*`` (the
classifier), ``module.attacker.model.*`` (a duplicate), ``module.normalizer.new_mean/new_std``
and ``module.attacker.normalize.*``. Stripping ``module.model.`` strict-loads into
torchvision's ResNet.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from analysis_core.artifacts.errors import BarlowError
from analysis_core.models.checkpoint import file_sha256, torch_load
from analysis_core.models.resnet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ResNetFeatureModel,
    load_resnet_state,
)

CLASSIFIER_PREFIXES = ("module.model.", "module.attacker.model.", "model.", "module.")
NORMALIZER_KEYS = (
    ("module.normalizer.new_mean", "module.normalizer.new_std"),
    ("module.attacker.normalize.new_mean", "module.attacker.normalize.new_std"),
    ("normalizer.new_mean", "normalizer.new_std"),
)


def _state_dict_of(ckpt, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(ckpt, dict):
        for key in ("model", "state_dict"):
            if key in ckpt and isinstance(ckpt[key], dict):
                return ckpt[key]
        if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            return ckpt
    raise BarlowError(
        f"{path} is not a MadryLab checkpoint: expected a dict with 'model' or 'state_dict' holding tensors"
    )


def split_madry_state(state: dict[str, torch.Tensor], path: Path) -> tuple[dict, tuple, tuple, dict]:
    """Return (classifier state_dict, mean, std, report) from a robustness-library state_dict."""
    report: dict = {}
    for prefix in CLASSIFIER_PREFIXES:
        picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        # 'module.' also matches the normalizer/attacker keys; drop them from the classifier.
        picked = {k: v for k, v in picked.items() if not k.startswith(("normalizer.", "attacker.", "model.", "normalize."))}
        if picked:
            report["prefix"] = prefix
            break
    else:
        picked = {k: v for k, v in state.items() if not k.startswith(("normalizer.", "normalize."))}
        report["prefix"] = ""
    if not picked:
        raise BarlowError(f"{path}: no classifier weights found (looked for {', '.join(CLASSIFIER_PREFIXES)})")
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    report["normalizer"] = "default ImageNet mean/std (none in checkpoint)"
    for mean_key, std_key in NORMALIZER_KEYS:
        if mean_key in state and std_key in state:
            mean = tuple(float(v) for v in state[mean_key].flatten())
            std = tuple(float(v) for v in state[std_key].flatten())
            report["normalizer"] = mean_key.rsplit(".", 1)[0]
            break
    ignored = sorted(k for k in state if not k.startswith(report["prefix"]) or k[len(report["prefix"]):] not in picked)
    report["ignored_keys"] = len(ignored)
    return picked, mean, std, report


def load_madry(
    path: str | os.PathLike, arch: str = "resnet50", trust_checkpoint: bool = False
) -> ResNetFeatureModel:
    path = Path(path)
    ckpt = torch_load(path, trust_checkpoint)
    state = _state_dict_of(ckpt, path)
    classifier, mean, std, report = split_madry_state(state, path)
    net, load_report = load_resnet_state(arch, classifier, f"MadryLab checkpoint {path}")
    model = ResNetFeatureModel(net, mean=mean, std=std)
    model.eval()
    model.source = {
        "kind": "madry",
        "arch": arch,
        "checkpoint": str(path.resolve()),
        "sha256": file_sha256(path),
        "epoch": ckpt.get("epoch") if isinstance(ckpt, dict) and isinstance(ckpt.get("epoch"), (int, float)) else None,
        **report,
        **load_report,
    }
    return model
