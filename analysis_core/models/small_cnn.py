"""A small CNN for 28 x 28 images whose penultimate layer pools a 7 x 7 map (CAMs work)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from analysis_core.models.base import FeatureModel

FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class SmallCNN(FeatureModel):
    """Four 3x3 conv layers (width/2, width, width, 2*width channels), two 2x2 max-pools.

    A 28 x 28 input gives a 7 x 7 map of ``2 * width`` channels; the features are its
    spatial means and a linear layer maps them to logits.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        width: int = 64,
        image_size: int = 28,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        if mean is None:
            mean = FASHION_MNIST_MEAN * in_channels if in_channels == 1 else (0.5,) * in_channels
        if std is None:
            std = FASHION_MNIST_STD * in_channels if in_channels == 1 else (0.5,) * in_channels
        super().__init__(
            num_features=2 * width,
            num_classes=num_classes,
            input_shape=(in_channels, image_size, image_size),
            mean=mean,
            std=std,
            classes=classes,
        )
        half = max(width // 2, 1)
        self.body = nn.Sequential(
            *_conv(in_channels, half),
            nn.MaxPool2d(2),
            *_conv(half, width),
            *_conv(width, width),
            nn.MaxPool2d(2),
            *_conv(width, 2 * width),
        )
        self.fc = nn.Linear(2 * width, num_classes)
        self.arch_kwargs = {
            "in_channels": in_channels,
            "num_classes": num_classes,
            "width": width,
            "image_size": image_size,
        }

    def spatial_map(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)
