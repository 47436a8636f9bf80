"""Fixtures: a tiny FeatureModel and dataset that follow the models/datasets contracts."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn


class Output(NamedTuple):
    logits: torch.Tensor
    features: torch.Tensor
    feature_map: torch.Tensor


class TinyFeatureModel(nn.Module):
    """conv -> ReLU -> conv -> ReLU (feature map) -> spatial mean (features) -> linear."""

    def __init__(self, in_channels: int = 1, num_features: int = 8, num_classes: int = 3, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(in_channels, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, num_features, 3, stride=2, padding=1)
        self.head = nn.Linear(num_features, num_classes)
        # A positive bias keeps every feature active on random images, so attacks have a gradient.
        nn.init.constant_(self.conv2.bias, 0.05)
        self.num_features = num_features
        self.num_classes = num_classes
        self.input_shape = (in_channels, 28, 28)

    def forward(self, x: torch.Tensor) -> Output:
        fmap = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        features = fmap.mean(dim=(2, 3))
        return Output(self.head(features), features, fmap)


class TinyDataset(torch.utils.data.Dataset):
    def __init__(self, n: int = 40, seed: int = 0, classes=("shirt", "bag", "boot")):
        rng = np.random.default_rng(seed)
        self.images = torch.as_tensor(rng.random((n, 1, 28, 28), dtype=np.float32))
        self.classes = list(classes)
        self.labels = rng.integers(0, len(classes), n)
        self.filenames = [f"img_{i:04d}.png" for i in range(n)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], int(self.labels[i])


def features_of(model: nn.Module, dataset: TinyDataset) -> np.ndarray:
    with torch.no_grad():
        return model(dataset.images).features.numpy().astype(np.float32)


@pytest.fixture(scope="session")
def tiny_model() -> TinyFeatureModel:
    return TinyFeatureModel().eval()


@pytest.fixture(scope="session")
def tiny_data() -> TinyDataset:
    return TinyDataset()
