"""Feature visualizations: most activating images (A), heatmaps (B), feature attacks (C),
and failure samples per tree leaf, written as PNG strips with a JSON index.

Import from the submodules: ``config`` (torch-free settings that commands build their
options from), ``attack``, ``heatmap``, ``topk``, ``render``, ``pipeline``
(``visualize_analysis``), ``correct``, ``selection``. The package itself imports nothing,
so reading the settings never imports torch.
"""
