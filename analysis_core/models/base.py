"""The uniform model interface: images in [0, 1] in, logits + features + spatial map out."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn


class ModelOutput(NamedTuple):
    """What every Barlow model returns for a batch.

    ``feature_map`` is the spatial map before global average pooling (B x K x h x w, after
    the last ReLU), so channel k is the class-activation map of feature k;
    ``features == feature_map.mean(dim=(2, 3))`` is the penultimate vector (B x K).
    """

    logits: torch.Tensor
    features: torch.Tensor
    feature_map: torch.Tensor


class FeatureModel(nn.Module):
    """Base class: normalization inside the model, a spatial map, average pool, a linear head.

    Subclasses implement :meth:`spatial_map` (normalized images -> B x K x h x w) and
    :meth:`classify` (B x K features -> logits). Inputs to :meth:`forward` are images in
    [0, 1]; the model normalizes them itself so that attacks and visualizations work in
    pixel space.
    """

    def __init__(
        self,
        *,
        num_features: int,
        num_classes: int,
        input_shape: tuple[int, int, int],
        mean: Sequence[float],
        std: Sequence[float],
        classes: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.num_classes = int(num_classes)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.classes = list(classes) if classes is not None else None
        channels = self.input_shape[0]
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"mean/std need {channels} values, got {len(mean)} and {len(std)}")
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))
        # Provenance shown in manifests and model cards (spec, checkpoint path, load report).
        self.source: dict = {}

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def spatial_map(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def classify(self, features: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> ModelOutput:
        feature_map = self.spatial_map(self.normalize(x))
        features = feature_map.mean(dim=(2, 3))
        return ModelOutput(self.classify(features), features, feature_map)
