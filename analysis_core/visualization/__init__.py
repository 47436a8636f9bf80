"""Feature visualizations: most activating images (A), heatmaps (B), feature attacks (C),
and failure samples per tree leaf, written as PNG strips with a JSON index.

Names are imported on first use, so that ``analysis_core.visualization.config`` (the
torch-free settings that commands build their options from) does not import torch.
"""

from importlib import import_module

_EXPORTS = {
    "AttackParams": "analysis_core.visualization.config",
    "VisualizationConfig": "analysis_core.visualization.config",
    "default_attack_params": "analysis_core.visualization.config",
    "AttackResult": "analysis_core.visualization.attack",
    "feature_attack": "analysis_core.visualization.attack",
    "channel_maps": "analysis_core.visualization.heatmap",
    "resize_maps": "analysis_core.visualization.heatmap",
    "shared_normalize": "analysis_core.visualization.heatmap",
    "visualize_analysis": "analysis_core.visualization.pipeline",
    "write_visualizations": "analysis_core.visualization.pipeline",
    "top_k_rows": "analysis_core.visualization.topk",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
