"""Picture files for test fixtures: strips of distinct patterned tiles, like Barlow's section PNGs."""

from pathlib import Path

import numpy as np
from PIL import Image


def pattern_strip(path: Path, seed: int, k: int = 6, size: int = 56) -> None:
    """A strip of k tiles, each a distinct pattern, saved as a PNG at ``path``."""
    rng = np.random.default_rng(seed)
    tiles = []
    for _ in range(k):
        base = rng.integers(0, 255, size=3)
        yy, xx = np.mgrid[0:size, 0:size]
        pattern = ((np.sin(xx / rng.uniform(2, 6)) + np.cos(yy / rng.uniform(2, 6))) * 60).astype(int)
        tile = np.clip(base[None, None, :] + pattern[..., None], 0, 255).astype(np.uint8)
        tiles.append(np.pad(tile, ((2, 2), (2, 2), (0, 0)), constant_values=255))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=1)).save(path)
