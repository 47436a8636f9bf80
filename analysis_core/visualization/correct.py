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


def render_correct_samples(dataset, table, groups: list, out_dir: Path, n_samples: int, columns: int, seed: int, progress: bool = True) -> dict[str, dict]:
    """Per group (index key ``grouping/class``), ``n_samples`` random correct images of it.

    ``table`` is the analysis's FeatureTable and ``groups`` its GroupTrees.
    """
    from analysis_core.artifacts import group_key, group_slugs
    from analysis_core.datasets.base import load_images

    if n_samples <= 0 or not groups:
        return {}
    correct = ~table.failure
    rng = np.random.default_rng(seed + 1)  # not the leaf grids' draws
    entries: dict[str, dict] = {}
    for group, slug in tqdm(list(zip(groups, group_slugs(groups))), desc="correct samples", unit="group", disable=not progress, leave=False):
        rows = table.group_rows(group.grouping, group.class_name)
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
            "grouping": group.grouping,
            "class": group.class_name,
            "samples": name,
            "rows": [int(r) for r in chosen],
            "n_correct": int(len(right)),
        }
    return entries
