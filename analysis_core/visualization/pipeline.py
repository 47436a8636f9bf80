"""Write the A/B/C strips of features and the failure samples of leaves, plus index.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from analysis_core.artifacts import (
    INDEX_FILE,
    FeatureTable,
    GroupTree,
    VisualizationIndex,
    group_slugs,
    leaf_key,
    read_visualization_index,
    write_visualization_index,
)
from analysis_core.artifacts.atomic import staged_dir
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.visualization_index import (
    INDEX_VERSION,
    LEAF_RANDOM,
    LEAF_TYPICAL,
    leaf_selection,
)
from analysis_core.datasets.base import load_images
from analysis_core.visualization.attack import feature_attack
from analysis_core.visualization.config import SCOPES, VisualizationConfig
from analysis_core.visualization.heatmap import (
    channel_maps,
    resize_maps,
    shared_normalize,
)
from analysis_core.visualization.render import (
    display_scale,
    overlay_heat,
    tile_sheet,
    to_rgb_uint8,
)
from analysis_core.visualization.topk import top_k_rows


def top_k_for_features(
    X: np.ndarray, feature_ids: list[int], k: int, chunk_rows: int = 65536, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows of every feature in one pass over the rows of a (memory-mapped) matrix.

    Reading row chunks once is much faster than one strided column read per feature
    when features.npy holds millions of rows. ``rows`` (sorted row numbers, e.g. one
    group's) restricts the search to them; the result keeps the numbering of ``X``.
    """
    ids = np.asarray(feature_ids, dtype=np.int64)
    n_rows = X.shape[0] if rows is None else len(rows)
    k = min(k, n_rows)
    best_rows = np.zeros((len(ids), 0), dtype=np.int64)
    best_vals = np.zeros((len(ids), 0), dtype=np.float64)
    for start in range(0, n_rows, chunk_rows):
        if rows is None:
            chunk = np.arange(start, min(start + chunk_rows, n_rows))
            block = X[start : start + chunk_rows]  # a slice reads a memmap sequentially
        else:
            chunk = np.asarray(rows[start : start + chunk_rows], dtype=np.int64)
            block = X[chunk]
        block = np.asarray(block[:, ids], dtype=np.float64).T  # (features, rows)
        cand_rows = np.concatenate([best_rows, np.broadcast_to(chunk, block.shape)], axis=1)
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


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


@dataclass
class Strip:
    """One feature's A/B/C pictures to draw: its top rows and values, written to ``folder``."""

    folder: str
    feature: int
    rows: np.ndarray
    values: np.ndarray
    group_rows: int | None = None  # rows of the group the top-k came from (group scope)


def check_feature_ids(feature_ids: list[int], n_features: int) -> None:
    bad = [f for f in feature_ids if not 0 <= f < n_features]
    if bad:
        raise BarlowError(f"feature id {bad[0]} is outside 0..{n_features - 1} (features file has {n_features} columns)")


def dataset_strips(X: np.ndarray, feature_ids: list[int], k: int) -> list[Strip]:
    """Strips of the top-k images of the whole data set, in feature_<id>/."""
    if not feature_ids:
        return []
    top_rows, top_vals = top_k_for_features(X, feature_ids, k)
    return [Strip(f"feature_{f}", int(f), top_rows[i], top_vals[i]) for i, f in enumerate(feature_ids)]


def group_strips(table: FeatureTable, groups: list[GroupTree], feature_ids: list[list[int]], k: int) -> dict[str, list[Strip]]:
    """Per group key, strips of the top-k images among that group's rows only, in groups/<slug>/.

    ``feature_ids[i]`` are the features to draw for ``groups[i]``.
    """
    out: dict[str, list[Strip]] = {}
    for group, slug, ids in zip(groups, group_slugs(groups), feature_ids):
        rows = table.group_rows(group.grouping, group.class_name)
        if not ids or len(rows) == 0:
            continue
        top_rows, top_vals = top_k_for_features(table.features, ids, k, rows=rows)
        out[group.key] = [
            Strip(f"groups/{slug}/feature_{f}", int(f), top_rows[i], top_vals[i], group_rows=len(rows)) for i, f in enumerate(ids)
        ]
    return out


def draw_strips(model: torch.nn.Module, dataset, strips: list[Strip], out_dir: Path, config: VisualizationConfig, progress: bool = True) -> list[dict]:
    """Write <folder>/{A,B,C}.png for each strip; return their index entries, in order.

    The images of all strips go through heatmaps and the attack together, in shared
    batches: many small strips cost about as much as one run over their images.
    """
    if not strips:
        return []
    sizes = [len(s.rows) for s in strips]
    unique_rows, inverse = np.unique(np.concatenate([s.rows for s in strips]), return_inverse=True)
    pool = load_images(dataset, unique_rows, progress=progress)
    images = pool[inverse]  # (total images, C, H, W), strip after strip
    per_image_feature = np.repeat(np.asarray([s.feature for s in strips], dtype=np.int64), sizes)
    input_shape = tuple(images.shape[1:])
    params = config.attack_params(input_shape)

    maps = channel_maps(model, images, per_image_feature, batch_size=config.batch_size)
    attack = feature_attack(model, images, per_image_feature, params, batch_size=config.batch_size, progress=progress)

    scale = display_scale(input_shape[1], input_shape[2])
    size = (input_shape[1] * scale, input_shape[2] * scale)
    shown = to_rgb_uint8(images.numpy(), scale)
    attacked = to_rgb_uint8(attack.images.numpy(), scale)
    bounds = np.cumsum([0] + sizes)
    entries: list[dict] = []
    for strip, start, stop in tqdm(list(zip(strips, bounds[:-1], bounds[1:])), desc="drawing features", unit="feature", disable=not progress, leave=False):
        part = slice(int(start), int(stop))
        folder = out_dir / strip.folder
        folder.mkdir(parents=True, exist_ok=True)
        heat = resize_maps(shared_normalize(maps[part]), size)
        tile_sheet(shown[part], [_fmt(v) for v in strip.values]).save(folder / "A.png")
        tile_sheet(overlay_heat(shown[part], heat, cmap=config.cmap, alpha=config.alpha)).save(folder / "B.png")
        captions = [f"{_fmt(b)} \u2192 {_fmt(a)}" for b, a in zip(attack.before[part], attack.after[part])]
        tile_sheet(attacked[part], captions).save(folder / "C.png")
        entry = {
            "A": f"{strip.folder}/A.png",
            "B": f"{strip.folder}/B.png",
            "C": f"{strip.folder}/C.png",
            "top_rows": [int(r) for r in strip.rows],
            "top_values": [float(v) for v in strip.values],
            "attack_before": [float(v) for v in attack.before[part]],
            "attack_after": [float(v) for v in attack.after[part]],
            "heatmap_max": float(maps[part].max()) if stop > start else 0.0,
        }
        if strip.group_rows is not None:
            entry["group_rows"] = int(strip.group_rows)
        entries.append(entry)
    return entries


def _scored_leaves(scores) -> dict[str, dict[int, float]]:
    """Per leaf key, the failure_scores.csv score of each of its images (row -> score)."""
    if scores is None or not len(scores):
        return {}
    out: dict[str, dict[int, float]] = {}
    for (grouping, name, leaf), part in scores.groupby(["grouping", "class", "leaf"], sort=False):
        out[leaf_key((grouping, name), int(leaf))] = dict(zip(part["row"].astype(int), part["score"].astype(float)))
    return out


def choose_leaf_failures(fails: np.ndarray, n: int, score_of: dict[int, float] | None, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """``n`` failures of a leaf to show and how they were chosen ('typical' or 'random').

    With the leaf's scores (failure_scores.csv) the highest-scored come first, ties by row:
    the images most like the failure mode's failures. Without them, a random draw in row order.
    """
    n = min(n, len(fails))
    if score_of:
        order = sorted((int(r) for r in fails), key=lambda r: (-score_of.get(r, -np.inf), r))
        return np.asarray(order[:n], dtype=np.int64), LEAF_TYPICAL
    return np.sort(rng.choice(fails, size=n, replace=False)), LEAF_RANDOM


def render_leaf_samples(dataset, table: FeatureTable, groups: list[GroupTree], out_dir: Path, config: VisualizationConfig,
                        progress: bool = True, scores=None) -> dict[str, dict]:
    """A grid of failures from each leaf (bottom rows of the paper's Figures 6-7).

    A leaf scored in ``scores`` (failure_scores.csv) shows its most typical failures; any
    other leaf, randomly chosen ones.
    """
    if config.leaves == "none" or not groups:
        return {}
    from analysis_core.failure_tree import assign_leaves

    failed = table.failure
    scored = _scored_leaves(scores)
    rng = np.random.default_rng(config.seed)
    entries: dict[str, dict] = {}
    for group, slug in tqdm(list(zip(groups, group_slugs(groups))), desc="leaf samples", unit="group", disable=not progress, leave=False):
        nodes = group.node_map()
        wanted = [leaf for leaf in group.leaves if config.leaves == "all" or (leaf in nodes and nodes[leaf].valid)]
        if not wanted:
            continue
        rows = table.group_rows(group.grouping, group.class_name)
        if len(rows) == 0:
            continue
        leaf_of_row = assign_leaves(group, np.asarray(table.features[rows]))
        for leaf in wanted:
            fails = rows[(leaf_of_row == leaf) & failed[rows]]
            if len(fails) == 0:
                continue
            chosen, selection = choose_leaf_failures(fails, config.leaf_samples, scored.get(leaf_key(group, leaf)), rng)
            imgs = load_images(dataset, chosen).numpy()
            scale = display_scale(imgs.shape[2], imgs.shape[3])
            # A label group's failures differ by prediction, a prediction group's by label.
            other, prefix = (table.predictions, "pred") if group.grouping == "label" else (table.labels, "label")
            captions = [f"{prefix}: {other[r]}" for r in chosen]
            name = f"leaves/{slug}-leaf{leaf}.png"
            (out_dir / "leaves").mkdir(parents=True, exist_ok=True)
            tile_sheet(to_rgb_uint8(imgs, scale), captions, columns=min(config.leaf_columns, len(chosen))).save(out_dir / name)
            entries[leaf_key(group, leaf)] = {
                "grouping": group.grouping,
                "class": group.class_name,
                "leaf": leaf,
                "rule": nodes[leaf].rule if leaf in nodes else "",
                "samples": name,
                "rows": [int(r) for r in chosen],
                "n_fail_in_leaf": int(len(fails)),
                "selection": selection,
            }
    return entries


def _leaves_still_fit(leaves: dict[str, dict], scores, out_dir: Path) -> bool:
    """Whether earlier leaf grids are all on disk and chosen as they would be now (typical where scored)."""
    scored = _scored_leaves(scores)
    return all(
        (out_dir / e["samples"]).is_file() and leaf_selection(e) == (LEAF_TYPICAL if key in scored else LEAF_RANDOM)
        for key, e in leaves.items()
    )


def _same_settings(old: VisualizationIndex, features_model: str, dataset_spec: str, params: dict) -> bool:
    """Whether an earlier index.json was drawn with this model, data and these parameters.

    The scope is left out: a data-set strip or a leaf grid is the same whichever scope the
    run had, so switching scope redraws only the group strips.
    """

    def drawing(p) -> dict:
        return {k: v for k, v in (p or {}).items() if k != "scope"}

    return (
        old.version == INDEX_VERSION
        and old.features_model == features_model
        and old.dataset == dataset_spec
        and drawing(old.params) == drawing(params)
    )


def _with_files(entries: dict, out_dir: Path) -> dict:
    return {f: e for f, e in entries.items() if all((out_dir / e[s]).is_file() for s in "ABC")}


def _index_params(config: VisualizationConfig, input_shape: tuple) -> dict:
    params = asdict(config)
    if config.scope != "group":
        # Recorded only when it is not the default, so that index.json files written
        # before the option existed stay identical and reusable.
        del params["scope"]
    params.update(asdict(config.attack_params(input_shape)))
    return params


def _reusable(old: VisualizationIndex, reuse: bool, by_group: bool, out_dir: Path) -> tuple[dict, dict]:
    """Feature entries (data-set and per group) of an earlier run whose files are all there."""
    if not reuse:
        return {}, {}
    kept = _with_files(old.features, out_dir)
    if not (by_group and old.params.get("scope") == "group"):
        return kept, {}
    return kept, {key: _with_files(e, out_dir) for key, e in old.group_features.items()}


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
    table: FeatureTable | None = None,
    groups: list[GroupTree] | None = None,
    group_feature_ids: list[list[int]] | None = None,
    trees_sha1: str | None = None,
    scores=None,
    progress: bool = True,
) -> dict:
    """Render features and leaves into ``out_dir`` and write ``out_dir/index.json``.

    ``table`` holds the rows' labels and predictions (for leaf samples and group scope);
    ``scores`` (failure_scores.csv, optional) picks the most typical failures of scored leaves.
    With ``config.scope == "group"``, ``group_feature_ids[i]`` are also drawn with their
    top-k among the rows of ``groups[i]`` (index.json's ``group_features``).
    Features already drawn with the same model, data and parameters (per an existing
    index.json) are kept and not redrawn, so asking for more features later only pays
    for the new ones. Nothing in ``out_dir`` changes if rendering fails.
    """
    config = config or VisualizationConfig()
    if config.scope not in SCOPES:
        raise BarlowError(f"scope must be one of {', '.join(SCOPES)}, got '{config.scope}'")
    by_group = config.scope == "group"
    if by_group and (table is None or not groups or group_feature_ids is None):
        raise BarlowError("--scope group needs the analysis's groups and metadata")
    out_dir = Path(out_dir)
    params = _index_params(config, tuple(int(s) for s in dataset[0][0].shape))
    check_feature_ids(sorted({int(f) for ids in [feature_ids, *(group_feature_ids or [])] for f in ids}), X.shape[1])
    old = read_visualization_index(out_dir)
    reuse = _same_settings(old, features_model, dataset_spec, params)
    kept, kept_groups = _reusable(old, reuse, by_group, out_dir)
    todo = [int(f) for f in feature_ids if str(int(f)) not in kept]
    todo_groups: dict[str, list[Strip]] = {}
    if by_group:
        wanted = [[int(f) for f in ids if str(int(f)) not in kept_groups.get(g.key, {})] for g, ids in zip(groups, group_feature_ids)]
        todo_groups = group_strips(table, groups, wanted, config.k)
    reuse_leaves = reuse and old.trees_sha1 == trees_sha1 and trees_sha1 is not None
    with staged_dir(out_dir) as stage:
        strips = dataset_strips(X, todo, config.k)
        group_order = [(key, strip) for key, part in todo_groups.items() for strip in part]
        # One call for all strips: the attack batches images across features and groups.
        entries = draw_strips(model, dataset, strips + [strip for _, strip in group_order], stage, config, progress=progress)
        features = dict(kept)
        features.update({str(s.feature): e for s, e in zip(strips, entries)})
        drawn_groups = {key: dict(e) for key, e in kept_groups.items()}
        for (key, strip), entry in zip(group_order, entries[len(strips) :]):
            drawn_groups.setdefault(key, {})[str(strip.feature)] = entry
        if reuse_leaves and _leaves_still_fit(old.leaves, scores, out_dir):
            leaves = old.leaves
        elif table is not None and groups:
            leaves = render_leaf_samples(dataset, table, groups, stage, config, progress=progress, scores=scores)
        else:
            leaves = {}
        correct = old.correct if reuse_leaves else {}
        if not correct or not all((out_dir / e["samples"]).is_file() for e in correct.values()):
            correct = {}
            if table is not None and groups and config.leaves != "none":
                from analysis_core.visualization.correct import render_correct_samples

                correct = render_correct_samples(dataset, table, groups, stage, config.leaf_samples, config.leaf_columns, config.seed, progress=progress)
        index = {
            "version": INDEX_VERSION,
            "features_model": features_model,
            "dataset": dataset_spec,
            "params": params,
            "trees_sha1": trees_sha1,
            "heatmap_normalization": "one scale per feature, shared by its k images: map / max over the k maps (floor 0)",
            "features": {str(f): features[str(f)] for f in sorted(features, key=int)},
        }
        if by_group:
            # In trees.json's group order, so that reading the file follows the report.
            index["group_features"] = {
                g.key: {f: drawn_groups[g.key][f] for f in sorted(drawn_groups[g.key], key=int)} for g in groups if drawn_groups.get(g.key)
            }
        index["leaves"] = leaves
        # Correct images per group, shown beside a leaf's failures in failure-review studies.
        index["correct"] = correct
        write_visualization_index(index, stage / INDEX_FILE)
    return index


def _features_to_draw(groups: list[GroupTree], feature_ids: list[int] | None, top_mi: int) -> tuple[list[int], list[list[int]]]:
    """All features to draw, and those of each group (for group scope).

    None means every feature that splits a tree node plus each group's ``top_mi`` highest-MI
    features; given ids are drawn for every group.
    """
    if feature_ids is not None:
        return list(feature_ids), [list(feature_ids) for _ in groups]
    per_group = [sorted(set(g.split_features()) | set(g.top_mi_features(top_mi))) for g in groups]
    return sorted({f for ids in per_group for f in ids}), per_group


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
    highest-MI features of each group. With ``config.scope == "group"`` each group also
    gets strips from its own rows: of the features that split its tree and its ``top_mi``
    features, or of every id in ``feature_ids`` when given. The models and data come from
    the extraction's manifest.json unless given.
    """
    from analysis_core.artifacts import AnalysisFolder
    from analysis_core.datasets import ImageTransform, load_dataset
    from analysis_core.models import load_model

    folder = AnalysisFolder(analysis_dir)
    extraction = folder.extraction(features_file, metadata_file)
    manifest = extraction.manifest()
    features_model = features_model or manifest.get("features_model")
    dataset_spec = dataset_spec or manifest.get("dataset")
    if not features_model:
        raise BarlowError(f"no features model recorded in {extraction.manifest_path}; pass --features-model SPEC")
    if not dataset_spec:
        raise BarlowError(f"no dataset recorded in {extraction.manifest_path}; pass --dataset SPEC")
    # Visualizations read a few rows and columns: the NaN scan of the whole matrix is the analysis's job.
    table = extraction.load(check_finite=False)
    X = table.features
    groups = folder.trees.groups
    feature_ids, per_group = _features_to_draw(groups, feature_ids, top_mi)
    group_scope = config is not None and config.scope == "group"
    model = load_model(features_model, device=device, trust_checkpoint=trust_checkpoint)
    model.eval()
    # Decode image files as the extraction did (its manifest says how), else as the model expects.
    transform = ImageTransform(**manifest["transform"]) if manifest.get("transform") else ImageTransform.for_input_shape(model.input_shape)
    dataset = load_dataset(dataset_spec, transform)
    if len(dataset) != X.shape[0]:
        raise BarlowError(f"dataset {dataset_spec} has {len(dataset)} images but {extraction.features_path} has {X.shape[0]} rows")
    if getattr(model, "num_features", X.shape[1]) != X.shape[1]:
        raise BarlowError(f"model {features_model} has {model.num_features} features but {extraction.features_path} has {X.shape[1]} columns")
    return write_visualizations(
        model,
        dataset,
        X,
        feature_ids,
        folder.visualizations_dir,
        features_model=features_model,
        dataset_spec=dataset_spec,
        config=config,
        table=table,
        groups=groups,
        group_feature_ids=per_group if group_scope else None,
        trees_sha1=folder.trees.sha1,
        scores=folder.failure_scores(),
        progress=progress,
    )
