"""Feature visualizations of the reproduction's analyses, one task per analysis folder."""

from __future__ import annotations

import time
from dataclasses import dataclass

from analysis_core.reproduction.config import ReproductionConfig


@dataclass(frozen=True)
class VisualizeTask:
    config: ReproductionConfig
    analysis_dir: str
    top_mi: int  # also each group's top-MI features (the crowd study shows them)


def visualization_config(config: ReproductionConfig):
    from analysis_core.visualization.config import VisualizationConfig

    v = config.visualization
    return VisualizationConfig(k=v.k, iterations=v.iterations, scope=v.scope, leaf_samples=v.leaf_samples,
                               seed=config.analysis.seed)


def visualize(task: VisualizeTask) -> float:
    """Draw the split features (and top-MI ones) of one analysis with the reproduction's data set.

    ``barlow visualize`` would reload the data set from the manifest; the reproduction may use
    a subset of it, so the same images are passed here directly.
    """
    from analysis_core.artifacts import AnalysisFolder
    from analysis_core.reproduction.data import load_data, load_entry
    from analysis_core.visualization.pipeline import (
        _features_to_draw,
        write_visualizations,
    )

    start = time.perf_counter()
    config = task.config
    folder = AnalysisFolder(task.analysis_dir)
    extraction = folder.extraction()
    table = extraction.load(check_finite=False)
    groups = folder.trees.groups
    feature_ids, per_group = _features_to_draw(groups, None, task.top_mi)
    vis = visualization_config(config)
    model = load_entry(config.features_model, config.execution.device).eval()
    write_visualizations(
        model, load_data(config.data), table.features, feature_ids, folder.visualizations_dir,
        features_model=config.features_model.spec, dataset_spec=extraction.manifest().get("dataset") or config.data.dataset,
        config=vis, table=table, groups=groups, group_feature_ids=per_group if vis.scope == "group" else None,
        trees_sha1=folder.trees.sha1, scores=folder.failure_scores(), progress=False,
    )
    return time.perf_counter() - start
