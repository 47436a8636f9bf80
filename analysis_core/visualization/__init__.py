"""Feature visualizations: most activating images (A), heatmaps (B), feature attacks (C),
and failure samples per tree leaf, written as PNG strips with a JSON index."""

from analysis_core.visualization.attack import AttackParams, AttackResult, default_attack_params, feature_attack
from analysis_core.visualization.heatmap import channel_maps, resize_maps, shared_normalize
from analysis_core.visualization.pipeline import VisualizationConfig, visualize_analysis, write_visualizations
from analysis_core.visualization.topk import top_k_rows

__all__ = [
    "AttackParams",
    "AttackResult",
    "VisualizationConfig",
    "channel_maps",
    "default_attack_params",
    "feature_attack",
    "resize_maps",
    "shared_normalize",
    "top_k_rows",
    "visualize_analysis",
    "write_visualizations",
]
