"""torchvision ResNet-family models wrapped as FeatureModels (map = layer4, features = avgpool input)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from analysis_core.artifacts.errors import BarlowError
from analysis_core.models.base import FeatureModel

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESNET_ARCHS = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
)


def imagenet_class_names() -> list[str]:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def build_resnet(arch: str, num_classes: int = 1000) -> nn.Module:
    import torchvision

    if arch not in RESNET_ARCHS:
        raise BarlowError(
            f"unsupported torchvision architecture {arch!r}: Barlow needs a ResNet-family model "
            f"({', '.join(RESNET_ARCHS)}); wrap other models with 'entrypoint:module:function'"
        )
    return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)


class ResNetFeatureModel(FeatureModel):
    """A torchvision ResNet: the feature map is layer4's output, the features its spatial mean."""

    def __init__(
        self,
        net: nn.Module,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        classes: Sequence[str] | None = None,
        image_size: int = 224,
    ) -> None:
        num_classes = net.fc.out_features
        if classes is None and num_classes == 1000:
            classes = imagenet_class_names()
        super().__init__(
            num_features=net.fc.in_features,
            num_classes=num_classes,
            input_shape=(3, image_size, image_size),
            mean=mean,
            std=std,
            classes=classes,
        )
        self.net = net

    def spatial_map(self, z: torch.Tensor) -> torch.Tensor:
        n = self.net
        z = n.maxpool(n.relu(n.bn1(n.conv1(z))))
        return n.layer4(n.layer3(n.layer2(n.layer1(z))))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.net.fc(features)


def _shape_problems(target: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> list[str]:
    return [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in target.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]


def guess_resnet_arch(state: dict[str, torch.Tensor]) -> str | None:
    """Name the ResNet variant a state_dict came from, for a helpful mismatch message."""
    if "fc.weight" not in state or "conv1.weight" not in state:
        return None
    blocks = [sum(1 for k in state if k.startswith(f"layer{i}.") and k.endswith(".conv1.weight")) for i in range(1, 5)]
    bottleneck = any(k.endswith("conv3.weight") for k in state)
    width = state["layer1.0.conv1.weight"].shape[0] if "layer1.0.conv1.weight" in state else None
    table = {
        (False, (2, 2, 2, 2)): "resnet18",
        (False, (3, 4, 6, 3)): "resnet34",
        (True, (3, 4, 6, 3)): "resnet50",
        (True, (3, 4, 23, 3)): "resnet101",
        (True, (3, 8, 36, 3)): "resnet152",
    }
    name = table.get((bottleneck, tuple(blocks)))
    if name in ("resnet50", "resnet101") and width == 128:
        name = "wide_" + name + "_2"
    return name


def load_resnet_state(
    arch: str, state: dict[str, torch.Tensor], source: str, num_classes: int | None = None
) -> tuple[nn.Module, dict]:
    """Strict-load ``state`` into torchvision ``arch``; a clear error lists what does not fit."""
    if num_classes is None:
        num_classes = int(state["fc.weight"].shape[0]) if "fc.weight" in state else 1000
    net = build_resnet(arch, num_classes)
    target = net.state_dict()
    missing = sorted(set(target) - set(state))
    unexpected = sorted(set(state) - set(target))
    shapes = _shape_problems(target, state)
    if missing or unexpected or shapes:
        guess = guess_resnet_arch(state)
        hint = f"; the checkpoint looks like {guess}" if guess and guess != arch else ""
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (e.g. {shapes[0]})")
        raise BarlowError(f"{source} does not fit torchvision {arch}: {'; '.join(parts)}{hint}")
    net.load_state_dict(state, strict=True)
    return net, {"missing_keys": missing, "unexpected_keys": unexpected, "num_classes": num_classes}
