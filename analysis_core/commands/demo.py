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
    parser.add_argument("--out", default="barlow-demo", metavar="DIR", help="output folder (default: ./%(default)s)")
    parser.add_argument("--depth", type=int, default=2, help="failure tree depth, 1-3 (default: %(default)s)")
    parser.add_argument("--top-mi", type=int, default=10, metavar="M", help="also visualize the M highest-MI features of each group, as the paper's crowd study and 'barlow study create' use (default: %(default)s)")
    parser.add_argument("--scope", choices=("group", "dataset"), default="group", help="top images of a feature among the group's images or the whole data set (default: %(default)s)")
    parser.add_argument("--iterations", type=int, help="feature attack steps (default: 30 for 28x28)")
    parser.add_argument("--features-model", default="fmnist-robust", metavar="SPEC", help="model whose features explain failures (default: %(default)s)")
    parser.add_argument("--inspect-model", default="fmnist-standard", metavar="SPEC", help="model whose failures are explained (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="recompute every step even if its results are up to date")


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from analysis_core.demo import DemoConfig, run_demo
    from analysis_core.visualization.pipeline import VisualizationConfig

    start = time.perf_counter()
    config = DemoConfig(
        out=Path(args.out),
        features_model=args.features_model,
        inspect_model=args.inspect_model,
        depth=args.depth,
        top_mi=args.top_mi,
        device=args.device,
        force=args.force,
        visualization=VisualizationConfig(iterations=args.iterations, scope=args.scope),
    )
    index, summary, outcomes = run_demo(config)
    print()
    print(summary)
    print()
    print(f"report: {index.resolve()}")
    print(f"total {time.perf_counter() - start:.1f} s (" + ", ".join(f"{o.name} {'reused' if o.reused else f'{o.seconds:.1f} s'}" for o in outcomes) + ")")
    return 0
