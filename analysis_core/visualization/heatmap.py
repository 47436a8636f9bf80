"""Heatmaps: a feature's channel of the spatial map before global average pooling.

For a model whose feature vector is the spatial mean of its last feature map, channel k
of that map shows where in the image feature k is active (a class activation map).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


@torch.no_grad()
def channel_maps(model: torch.nn.Module, images: torch.Tensor, features: np.ndarray | list[int], batch_size: int = 128) -> np.ndarray:
    """``feature_map[i, features[i]]`` for each image i: an (n, h, w) float array.

    ``images`` is (n, C, H, W) in [0, 1]; ``features`` gives the channel to take for each
    image, so images of several features go through the model in the same batches.
    """
    features = torch.as_tensor(np.asarray(features, dtype=np.int64))
    if len(features) != len(images):
        raise ValueError("one feature id is needed per image")
    device = next(model.parameters()).device
    maps = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device)
        fmap = model(batch).feature_map
        ids = features[start : start + batch_size].to(fmap.device)
        maps.append(fmap[torch.arange(len(batch), device=fmap.device), ids].float().cpu())
    if not maps:
        return np.zeros((0, 1, 1), dtype=np.float32)
    return torch.cat(maps).numpy()


def shared_normalize(maps: np.ndarray) -> np.ndarray:
    """Scale all maps of one feature to [0, 1] with a single scale.

    The original Barlow code divided each map by its own maximum, which makes a weakly
    activated image look as hot as the top one. One scale shared by the k images keeps
    intensities comparable: a brighter region means a larger activation in any of them.
    The floor is 0 (or the minimum if a map goes negative) so that "no activation" stays
    dark rather than being stretched to the colour of the weakest response.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.size == 0:
        return maps
    low = min(0.0, float(maps.min()))
    high = float(maps.max())
    if high - low <= 0:
        return np.zeros_like(maps)
    return (maps - low) / (high - low)


def resize_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (n, h, w) maps to (n, *size); heat is smooth, so blur is honest."""
    tensor = torch.as_tensor(np.asarray(maps, dtype=np.float32))[:, None]
    resized = F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)
    return resized[:, 0].clamp(0.0, 1.0).numpy()
