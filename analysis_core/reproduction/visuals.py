"""Feature visualizations of the reproduction's analyses, one task per analysis folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from analysis_core.reproduction.config import ReproductionConfig


@dataclass(frozen=True)
class VisualizeTask:
    config: ReproductionConfig
    analysis_dir: str
    top_mi: int  # also each group's top-MI features (the crowd study shows them)


def visualization_config(config: ReproductionConfig):
    from analysis_core.visualization.pipeline import VisualizationConfig

    v = config.visualization
    return VisualizationConfig(k=v.k, iterations=v.iterations, scope=v.scope, leaf_samples=v.leaf_samples,
                               seed=config.analysis.seed)


def visualize(task: VisualizeTask) -> float:
    """Draw the split features (and top-MI ones) of one analysis with the reproduction's data set.

    ``barlow visualize`` would reload the data set from the manifest; the reproduction may use
    a subset of it, so the same images are passed here directly.
    """
    from analysis_core.reproduction.data import load_data, load_entry
    from analysis_core.visualization.inputs import load_features, load_metadata, read_analysis
    from analysis_core.visualization.pipeline import write_visualizations
    from analysis_core.visualization.selection import split_features, top_mi_features

    start = time.perf_counter()
    config = task.config
    inputs = read_analysis(task.analysis_dir)
    X = load_features(inputs.features_path)
    metadata = load_metadata(inputs.metadata_path, X.shape[0])
    per_group = [sorted(set(split_features([g])) | set(top_mi_features([g], task.top_mi))) for g in inputs.groups]
    feature_ids = sorted({f for ids in per_group for f in ids})
    vis = visualization_config(config)
    model = load_entry(config.features_model, config.execution.device).eval()
    write_visualizations(
        model, load_data(config.data), X, feature_ids, Path(task.analysis_dir) / "visualizations",
        features_model=config.features_model.spec, dataset_spec=inputs.manifest.get("dataset") or config.data.dataset,
        config=vis, metadata=metadata, groups=inputs.groups,
        group_feature_ids=per_group if vis.scope == "group" else None, trees_sha1=inputs.trees_sha1, progress=False,
    )
    return time.perf_counter() - start
