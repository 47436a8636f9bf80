"""Write the A/B/C strips of features and the failure samples of leaves, plus index.json."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from analysis_core.atomic import staged_dir
from analysis_core.errors import BarlowError
from analysis_core.json_files import read_json_or_empty
from analysis_core.visualization.attack import AttackParams, default_attack_params, feature_attack
from analysis_core.visualization.heatmap import channel_maps, resize_maps, shared_normalize
from analysis_core.visualization.render import display_scale, overlay_heat, tile_sheet, to_rgb_uint8
from analysis_core.visualization.topk import top_k_rows

INDEX_VERSION = 1


@dataclass
class VisualizationConfig:
    k: int = 6
    eps: float | None = None  # None: default_attack_params for the input size
    step_size: float | None = None
    iterations: int | None = None
    batch_size: int = 128
    cmap: str = "turbo"
    alpha: float = 0.75
    leaf_samples: int = 12
    leaf_columns: int = 6
    leaves: str = "all"  # all | valid | none
    seed: int = 0

    def attack_params(self, input_shape: tuple[int, int, int]) -> AttackParams:
        default = default_attack_params(input_shape)
        return AttackParams(
            eps=default.eps if self.eps is None else float(self.eps),
            step_size=default.step_size if self.step_size is None else float(self.step_size),
            iterations=default.iterations if self.iterations is None else int(self.iterations),
        )


def top_k_for_features(X: np.ndarray, feature_ids: list[int], k: int, chunk_rows: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows of every feature in one pass over the rows of a (memory-mapped) matrix.

    Reading row chunks once is much faster than one strided column read per feature
    when features.npy holds millions of rows.
    """
    ids = np.asarray(feature_ids, dtype=np.int64)
    k = min(k, X.shape[0])
    best_rows = np.zeros((len(ids), 0), dtype=np.int64)
    best_vals = np.zeros((len(ids), 0), dtype=np.float64)
    for start in range(0, X.shape[0], chunk_rows):
        block = np.asarray(X[start : start + chunk_rows][:, ids], dtype=np.float64).T  # (features, rows)
        rows = np.arange(start, start + block.shape[1])
        cand_rows = np.concatenate([best_rows, np.broadcast_to(rows, block.shape)], axis=1)
        cand_vals = np.concatenate([best_vals, block], axis=1)
        keep_rows = np.empty((len(ids), min(k, cand_rows.shape[1])), dtype=np.int64)
        keep_vals = np.empty(keep_rows.shape, dtype=np.float64)
        for i in range(len(ids)):
            # top_k_rows breaks ties by position, and candidates are in row order.
            order = top_k_rows(cand_vals[i], k)
            keep_rows[i] = cand_rows[i][order]
            keep_vals[i] = cand_vals[i][order]
        best_rows, best_vals = keep_rows, keep_vals
    return best_rows, best_vals


def load_images(dataset, rows: np.ndarray, progress: bool = False) -> torch.Tensor:
    """Stack dataset items (image tensors in [0, 1]) for the given rows."""
    images = [dataset[int(r)][0] for r in tqdm(rows, desc="loading images", unit="img", disable=not progress, leave=False)]
    if not images:
        return torch.zeros((0,))
    return torch.stack([torch.as_tensor(img, dtype=torch.float32) for img in images])


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def render_features(
    model: torch.nn.Module,
    dataset,
    X: np.ndarray,
    feature_ids: list[int],
    out_dir: Path,
    config: VisualizationConfig,
    progress: bool = True,
) -> dict[str, dict]:
    """Write feature_<id>/{A,B,C}.png for each feature; return their index entries."""
    if not feature_ids:
        return {}
    n_features = X.shape[1]
    bad = [f for f in feature_ids if not 0 <= f < n_features]
    if bad:
        raise BarlowError(f"feature id {bad[0]} is outside 0..{n_features - 1} (features file has {n_features} columns)")
    top_rows, top_vals = top_k_for_features(X, feature_ids, config.k)
    k = top_rows.shape[1]
    unique_rows, inverse = np.unique(top_rows.ravel(), return_inverse=True)
    pool = load_images(dataset, unique_rows, progress=progress)
    images = pool[inverse]  # (n_features * k, C, H, W), feature-major
    per_image_feature = np.repeat(np.asarray(feature_ids, dtype=np.int64), k)
    input_shape = tuple(images.shape[1:])
    params = config.attack_params(input_shape)

    maps = channel_maps(model, images, per_image_feature, batch_size=config.batch_size)
    attack = feature_attack(model, images, per_image_feature, params, batch_size=config.batch_size, progress=progress)

    scale = display_scale(input_shape[1], input_shape[2])
    size = (input_shape[1] * scale, input_shape[2] * scale)
    shown = to_rgb_uint8(images.numpy(), scale)
    attacked = to_rgb_uint8(attack.images.numpy(), scale)
    entries: dict[str, dict] = {}
    for i, feature in enumerate(tqdm(feature_ids, desc="drawing features", unit="feature", disable=not progress, leave=False)):
        part = slice(i * k, (i + 1) * k)
        folder = out_dir / f"feature_{feature}"
        folder.mkdir(parents=True, exist_ok=True)
        heat = resize_maps(shared_normalize(maps[part]), size)
        values = top_vals[i]
        tile_sheet(shown[part], [_fmt(v) for v in values]).save(folder / "A.png")
        tile_sheet(overlay_heat(shown[part], heat, cmap=config.cmap, alpha=config.alpha)).save(folder / "B.png")
        captions = [f"{_fmt(b)} \u2192 {_fmt(a)}" for b, a in zip(attack.before[part], attack.after[part])]
        tile_sheet(attacked[part], captions).save(folder / "C.png")
        entries[str(feature)] = {
            "A": f"feature_{feature}/A.png",
            "B": f"feature_{feature}/B.png",
            "C": f"feature_{feature}/C.png",
            "top_rows": [int(r) for r in top_rows[i]],
            "top_values": [float(v) for v in values],
            "attack_before": [float(v) for v in attack.before[part]],
            "attack_after": [float(v) for v in attack.after[part]],
            "heatmap_max": float(maps[part].max()) if k else 0.0,
        }
    return entries


def group_rows(metadata, group: dict) -> np.ndarray:
    column = "Labels" if group["grouping"] == "label" else "Predictions"
    return np.flatnonzero(metadata[column].astype(str).to_numpy() == str(group["class"]))


def slugify(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")
    return slug[:60] or "class"


def group_slugs(groups: list[dict]) -> list[str]:
    """A distinct file-name-safe name per group, stable for a given trees.json."""
    used: set[str] = set()
    slugs = []
    for group in groups:
        base = f"{group['grouping']}-{slugify(group['class'])}"
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        slugs.append(slug)
    return slugs


def leaf_key(group: dict, leaf_id: int) -> str:
    return f"{group['grouping']}/{group['class']}/{int(leaf_id)}"


def render_leaf_samples(dataset, X: np.ndarray, metadata, groups: list[dict], out_dir: Path, config: VisualizationConfig, progress: bool = True) -> dict[str, dict]:
    """A grid of randomly chosen failures from each leaf (bottom rows of the paper's Figures 6-7)."""
    if config.leaves == "none" or not groups:
        return {}
    from analysis_core.failure_tree import assign_leaves

    failed = metadata["Predictions"].astype(str).to_numpy() != metadata["Labels"].astype(str).to_numpy()
    rng = np.random.default_rng(config.seed)
    entries: dict[str, dict] = {}
    for group, slug in tqdm(list(zip(groups, group_slugs(groups))), desc="leaf samples", unit="group", disable=not progress, leave=False):
        nodes = {int(n["id"]): n for n in group.get("nodes", [])}
        wanted = [int(leaf) for leaf in group.get("leaves", []) if config.leaves == "all" or nodes.get(int(leaf), {}).get("valid")]
        if not wanted:
            continue
        rows = group_rows(metadata, group)
        if len(rows) == 0:
            continue
        leaf_of_row = assign_leaves(group, np.asarray(X[rows]))
        for leaf in wanted:
            fails = rows[(leaf_of_row == leaf) & failed[rows]]
            if len(fails) == 0:
                continue
            chosen = np.sort(rng.choice(fails, size=min(config.leaf_samples, len(fails)), replace=False))
            imgs = load_images(dataset, chosen).numpy()
            scale = display_scale(imgs.shape[2], imgs.shape[3])
            captions = [f"pred: {metadata['Predictions'].iloc[r]}" if group["grouping"] == "label" else f"label: {metadata['Labels'].iloc[r]}" for r in chosen]
            name = f"leaves/{slug}-leaf{leaf}.png"
            (out_dir / "leaves").mkdir(parents=True, exist_ok=True)
            tile_sheet(to_rgb_uint8(imgs, scale), captions, columns=min(config.leaf_columns, len(chosen))).save(out_dir / name)
            entries[leaf_key(group, leaf)] = {
                "grouping": group["grouping"],
                "class": group["class"],
                "leaf": leaf,
                "rule": nodes.get(leaf, {}).get("rule", ""),
                "samples": name,
                "rows": [int(r) for r in chosen],
                "n_fail_in_leaf": int(len(fails)),
            }
    return entries


def _reusable(old: dict, features_model: str, dataset_spec: str, params: dict) -> bool:
    return old.get("version") == INDEX_VERSION and old.get("features_model") == features_model and old.get("dataset") == dataset_spec and old.get("params") == params


def write_visualizations(
    model: torch.nn.Module,
    dataset,
    X: np.ndarray,
    feature_ids: list[int],
    out_dir: str | Path,
    *,
    features_model: str,
    dataset_spec: str,
    config: VisualizationConfig | None = None,
    metadata=None,
    groups: list[dict] | None = None,
    trees_sha1: str | None = None,
    progress: bool = True,
) -> dict:
    """Render features and leaves into ``out_dir`` and write ``out_dir/index.json``.

    Features already drawn with the same model, data and parameters (per an existing
    index.json) are kept and not redrawn, so asking for more features later only pays
    for the new ones. Nothing in ``out_dir`` changes if rendering fails.
    """
    config = config or VisualizationConfig()
    out_dir = Path(out_dir)
    input_shape = tuple(int(s) for s in dataset[0][0].shape)
    params = asdict(config)
    params.update(asdict(config.attack_params(input_shape)))
    old = read_json_or_empty(out_dir / "index.json")
    reuse = _reusable(old, features_model, dataset_spec, params)
    old_features = old.get("features", {}) if reuse else {}
    kept = {f: e for f, e in old_features.items() if all((out_dir / e[s]).is_file() for s in "ABC")}
    todo = [int(f) for f in feature_ids if str(int(f)) not in kept]
    reuse_leaves = reuse and old.get("trees_sha1") == trees_sha1 and trees_sha1 is not None
    with staged_dir(out_dir) as stage:
        features = dict(kept)
        features.update(render_features(model, dataset, X, todo, stage, config, progress=progress))
        if reuse_leaves and all((out_dir / e["samples"]).is_file() for e in old.get("leaves", {}).values()):
            leaves = old.get("leaves", {})
        elif metadata is not None and groups:
            leaves = render_leaf_samples(dataset, X, metadata, groups, stage, config, progress=progress)
        else:
            leaves = {}
        index = {
            "version": INDEX_VERSION,
            "features_model": features_model,
            "dataset": dataset_spec,
            "params": params,
            "trees_sha1": trees_sha1,
            "heatmap_normalization": "one scale per feature, shared by its k images: map / max over the k maps (floor 0)",
            "features": {str(f): features[str(f)] for f in sorted(features, key=int)},
            "leaves": leaves,
        }
        (stage / "index.json").write_text(json.dumps(index, indent=1))
    return index


def visualize_analysis(
    analysis_dir: str | Path,
    feature_ids: list[int] | None = None,
    *,
    top_mi: int = 0,
    features_model: str | None = None,
    dataset_spec: str | None = None,
    features_file: str | Path | None = None,
    metadata_file: str | Path | None = None,
    config: VisualizationConfig | None = None,
    device: str = "cpu",
    trust_checkpoint: bool = False,
    progress: bool = True,
) -> dict:
    """Visualize features of an analysis into ``<analysis_dir>/visualizations/``.

    ``feature_ids`` None means every feature that splits a tree node, plus the ``top_mi``
    highest-MI features of each group. The models and data come from the extraction's
    manifest.json unless given.
    """
    from analysis_core.datasets import load_dataset
    from analysis_core.models import load_model
    from analysis_core.visualization.inputs import load_features, load_metadata, read_analysis
    from analysis_core.visualization.selection import split_features, top_mi_features

    inputs = read_analysis(analysis_dir, features_file, metadata_file)
    features_model = features_model or inputs.manifest.get("features_model")
    dataset_spec = dataset_spec or inputs.manifest.get("dataset")
    if not features_model:
        raise BarlowError(f"no features model recorded in {inputs.features_path.parent / 'manifest.json'}; pass --features-model SPEC")
    if not dataset_spec:
        raise BarlowError(f"no dataset recorded in {inputs.features_path.parent / 'manifest.json'}; pass --dataset SPEC")
    X = load_features(inputs.features_path)
    metadata = load_metadata(inputs.metadata_path, X.shape[0])
    if feature_ids is None:
        feature_ids = sorted(set(split_features(inputs.groups)) | set(top_mi_features(inputs.groups, top_mi)))
    dataset = load_dataset(dataset_spec)
    if len(dataset) != X.shape[0]:
        raise BarlowError(f"dataset {dataset_spec} has {len(dataset)} images but {inputs.features_path} has {X.shape[0]} rows")
    model = load_model(features_model, device=device, trust_checkpoint=trust_checkpoint)
    model.eval()
    if getattr(model, "num_features", X.shape[1]) != X.shape[1]:
        raise BarlowError(f"model {features_model} has {model.num_features} features but {inputs.features_path} has {X.shape[1]} columns")
    return write_visualizations(
        model,
        dataset,
        X,
        feature_ids,
        Path(analysis_dir) / "visualizations",
        features_model=features_model,
        dataset_spec=dataset_spec,
        config=config,
        metadata=metadata,
        groups=inputs.groups,
        trees_sha1=inputs.trees_sha1,
        progress=progress,
    )
