"""Any PyTorch model given as a Python entry point ``module:function``.

The function returns ``(model, feature_layer, map_layer)``: the model maps normalized or raw
images to logits, ``map_layer`` names the module whose output is the spatial map and
``feature_layer`` the module whose output is its global average pool (e.g. ``"avgpool"``
and ``"layer4"`` for a torchvision ResNet). The function may also return a fourth item,
a dict with any of ``mean`` and ``std`` (per channel, applied inside Barlow before the model;
default 0 and 1, i.e. the model normalizes itself), ``input_shape`` ((C, H, W); default
(3, 224, 224)) and ``classes`` (names in logit order).

The module is imported with the current folder first on the import path, as ``python -m``
does, so ``entrypoint:mymodel:build`` finds ``./mymodel.py``.
"""

from __future__ import annotations

import importlib
import os
import sys

import torch
from torch import nn

from analysis_core.artifacts.errors import BarlowError
from analysis_core.models.base import FeatureModel, ModelOutput


class HookedFeatureModel(FeatureModel):
    """Wraps an arbitrary module; forward hooks capture the map and the pooled features."""

    def __init__(self, net: nn.Module, feature_layer: str, map_layer: str, info: dict) -> None:
        modules = dict(net.named_modules())
        for name in (feature_layer, map_layer):
            if name not in modules:
                raise BarlowError(f"entry point model has no layer named {name!r}")
        input_shape = tuple(info.get("input_shape", (3, 224, 224)))
        channels = input_shape[0]
        # Without a probe we do not know the sizes; one forward pass on a blank image tells us.
        super().__init__(
            num_features=1,
            num_classes=1,
            input_shape=input_shape,
            mean=info.get("mean", (0.0,) * channels),
            std=info.get("std", (1.0,) * channels),
            classes=info.get("classes"),
        )
        self.net = net
        self._feature_module = modules[feature_layer]
        self._map_module = modules[map_layer]
        self.layers = (feature_layer, map_layer)
        was_training = net.training
        net.eval()
        with torch.no_grad():
            out = self(torch.zeros(1, *input_shape))
        net.train(was_training)
        self.num_features = out.features.shape[1]
        self.num_classes = out.logits.shape[1]

    def forward(self, x: torch.Tensor) -> ModelOutput:
        captured: dict[str, torch.Tensor] = {}
        hooks = [
            self._map_module.register_forward_hook(lambda m, i, o: captured.__setitem__("map", o)),
            self._feature_module.register_forward_hook(lambda m, i, o: captured.__setitem__("feat", o)),
        ]
        try:
            logits = self.net(self.normalize(x))
        finally:
            for hook in hooks:
                hook.remove()
        feature_map = captured["map"]
        if feature_map.dim() != 4:
            raise BarlowError(f"layer {self.layers[1]!r} gives a {feature_map.dim()}-d output, not a B x K x h x w map")
        features = captured["feat"].flatten(1)
        pooled = feature_map.mean(dim=(2, 3))
        if features.shape != pooled.shape or not torch.allclose(features, pooled, rtol=1e-4, atol=1e-5):
            raise BarlowError(
                f"layer {self.layers[0]!r} is not the global average pool of {self.layers[1]!r}; "
                "Barlow needs features equal to the spatial mean of the map (for CAM heatmaps)"
            )
        return ModelOutput(logits, pooled, feature_map)


def load_entrypoint(target: str) -> HookedFeatureModel:
    module_name, _, func_name = target.partition(":")
    if not module_name or not func_name:
        raise BarlowError(f"entry point must be 'entrypoint:module:function', got 'entrypoint:{target}'")
    # As 'python -m' does: a module in the current folder is importable.
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BarlowError(f"cannot import entry point module {module_name!r}: {exc}") from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise BarlowError(f"module {module_name!r} has no function {func_name!r}")
    result = func()
    if not isinstance(result, tuple) or len(result) not in (3, 4):
        raise BarlowError(
            f"{target} must return (model, feature_layer, map_layer) or (model, feature_layer, map_layer, info) "
            "with info a dict of optional mean, std, input_shape and classes"
        )
    net, feature_layer, map_layer = result[:3]
    info = dict(result[3]) if len(result) == 4 else {}
    model = HookedFeatureModel(net, feature_layer, map_layer, info)
    model.eval()
    model.source = {"kind": "entrypoint", "target": target, "feature_layer": feature_layer, "map_layer": map_layer}
    return model
