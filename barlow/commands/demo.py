"""barlow demo: the whole pipeline on the shipped Fashion-MNIST data and models."""

from __future__ import annotations

import argparse

HELP = "run the whole pipeline on the shipped Fashion-MNIST data and models"
DESCRIPTION = """\
Run Barlow end to end on the Fashion-MNIST test split (10,000 images):
  1. extract features with the shipped robust model and predictions of the shipped standard model
  2. analyze failures for label and prediction groups with depth-2 trees
  3. visualize every feature that splits a tree, plus the top-MI features of each group,
     with each group's own most activating images (--scope dataset: the whole test split's)
  4. write the HTML report
then print the report's path and a summary of the strongest failure modes. Steps whose
inputs and settings did not change are reused when you run it again (--force redoes all).

example: barlow demo --out barlow-demo && xdg-open barlow-demo/report/index.html
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis_core.artifacts.options import add_options
    from analysis_core.visualization.config import VisualizationConfig
    from barlow.demo import DemoConfig

    add_options(parser, DemoConfig)
    # The demo's own drawing defaults (group scope), shown as such.
    demo = DemoConfig().visualization
    add_options(parser, VisualizationConfig, only=("scope", "iterations"), defaults={"scope": demo.scope, "iterations": demo.iterations})


def run(args: argparse.Namespace) -> int:
    import time
    from dataclasses import replace

    from analysis_core.artifacts.options import values_from_args
    from analysis_core.visualization.config import VisualizationConfig
    from barlow.demo import DemoConfig, run_demo

    start = time.perf_counter()
    defaults = DemoConfig()
    visualization = replace(defaults.visualization, **values_from_args(VisualizationConfig, args)).validate()
    config = DemoConfig(**values_from_args(DemoConfig, args), visualization=visualization)
    index, summary, outcomes = run_demo(config)
    print()
    print(summary)
    print()
    print(f"report: {index.resolve()}")
    print(f"total {time.perf_counter() - start:.1f} s (" + ", ".join(f"{o.name} {'reused' if o.reused else f'{o.seconds:.1f} s'}" for o in outcomes) + ")")
    return 0
