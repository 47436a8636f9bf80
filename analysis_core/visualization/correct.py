"""A grid of correctly classified images per group, to show beside a leaf's failures.

A reviewer judging a failure mode compares what the failures share with what the group's
correct images look like (the failure-review study, paper section 9); drawing them here,
with the leaf grids, keeps 'barlow study create' free of the data set and torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from analysis_core.visualization.render import display_scale, tile_sheet, to_rgb_uint8


def render_correct_samples(dataset, metadata, groups: list[dict], out_dir: Path, n_samples: int, columns: int, seed: int, progress: bool = True) -> dict[str, dict]:
    """Per group (index key ``grouping/class``), ``n_samples`` random correct images of it."""
    from analysis_core.visualization.pipeline import group_key, group_rows, group_slugs, load_images

    if n_samples <= 0 or not groups:
        return {}
    correct = metadata["Predictions"].astype(str).to_numpy() == metadata["Labels"].astype(str).to_numpy()
    rng = np.random.default_rng(seed + 1)  # not the leaf grids' draws
    entries: dict[str, dict] = {}
    for group, slug in tqdm(list(zip(groups, group_slugs(groups))), desc="correct samples", unit="group", disable=not progress, leave=False):
        rows = group_rows(metadata, group)
        right = rows[correct[rows]]
        if len(right) == 0:
            continue
        chosen = np.sort(rng.choice(right, size=min(n_samples, len(right)), replace=False))
        imgs = load_images(dataset, chosen).numpy()
        scale = display_scale(imgs.shape[2], imgs.shape[3])
        name = f"correct/{slug}.png"
        (out_dir / "correct").mkdir(parents=True, exist_ok=True)
        tile_sheet(to_rgb_uint8(imgs, scale), None, columns=min(columns, len(chosen))).save(out_dir / name)
        entries[group_key(group)] = {
            "grouping": group["grouping"],
            "class": group["class"],
            "samples": name,
            "rows": [int(r) for r in chosen],
            "n_correct": int(len(right)),
        }
    return entries
