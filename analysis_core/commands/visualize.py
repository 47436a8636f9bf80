"""barlow visualize: draw the features of an analysis (sections A, B, C) and leaf failures."""

from __future__ import annotations

import argparse

HELP = "draw feature visualizations (top images, heatmaps, feature attacks) for an analysis"
DESCRIPTION = """\
Draw the three views of each feature that the failure trees use, as in the Barlow paper:
  A  the k images of the data set (or of a group, see --scope) with the largest value of the feature
  B  heatmaps: the feature's channel of the last spatial map, one colour scale for the k images
  C  feature attack: each image changed by projected L2 gradient ascent to increase the feature
plus, for each leaf, a grid of random failures from that leaf. Writes PNG strips and
visualizations/index.json into the analysis folder. The data set and the features model are
read from the extraction's manifest.json unless given. Features already drawn with the same
settings are reused.

--scope chooses the set of images A is taken from. dataset (the default): the whole data set,
one set of pictures per feature. group: in addition, each group gets its own A/B/C of the
features drawn for it (those splitting its tree, its --top-mi features, or every --features
id), with the k images chosen among the group's images only: rows whose label is the class
for a label group, rows predicted as the class for a prediction group. The report's group
pages and 'barlow study create' then show a group's own pictures and fall back to the
data-set ones for features not drawn for that group. The attack then runs on k images per
(group, feature) pair as well: on the demo analysis with --top-mi 10, about 3x the images.

Attack defaults depend on the input size d = C*H*W: eps = 0.4*sqrt(d) (11.2 for 28x28),
step = 2.5*eps/iterations, 30 iterations for small inputs and 200 for large ones.

example: barlow visualize --analysis runs/analysis --top-mi 5
         barlow visualize --analysis runs/analysis --top-mi 5 --scope group
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--analysis", required=True, metavar="DIR", help="analysis folder written by 'barlow analyze'")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--features", metavar="IDS", help="exactly these feature ids, e.g. 12,40,100-105")
    which.add_argument("--split-features", action="store_true", help="every feature that splits a tree node (the default)")
    which.add_argument("--top-mi", type=int, metavar="M", default=0, help="also the M features with the highest mutual information in each group (default: 0)")
    parser.add_argument("-k", "--top-k", type=int, default=6, help="images per feature (default: %(default)s)")
    parser.add_argument(
        "--scope",
        choices=("dataset", "group"),
        default="dataset",
        help="take the top-k images from the whole data set, or also from each group's own images (default: %(default)s)",
    )
    parser.add_argument("--eps", type=float, help="L2 radius of the feature attack (default: 0.4*sqrt(C*H*W))")
    parser.add_argument("--step-size", type=float, help="L2 length of each attack step (default: 2.5*eps/iterations)")
    parser.add_argument("--iterations", type=int, help="attack steps (default: 30 for inputs up to 64x64x3, else 200)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per forward/backward pass (default: %(default)s)")
    parser.add_argument("--leaves", choices=("all", "valid", "none"), default="all", help="leaves that get a grid of failure samples (default: %(default)s)")
    parser.add_argument("--leaf-samples", type=int, default=12, help="failures shown per leaf (default: %(default)s)")
    parser.add_argument("--cmap", default="turbo", help="matplotlib colormap of the heatmaps (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed for choosing leaf samples (default: %(default)s)")
    parser.add_argument("--features-model", metavar="SPEC", help="model that produced the features (default: from manifest.json)")
    parser.add_argument("--dataset", metavar="SPEC", help="data set of the features' rows (default: from manifest.json)")
    parser.add_argument("--features-file", metavar="PATH", help="features.npy (default: the path recorded in trees.json)")
    parser.add_argument("--metadata", metavar="PATH", help="metadata.csv (default: the path recorded in trees.json)")
    parser.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    parser.add_argument("--trust-checkpoint", action="store_true", help="allow pickled (non weights-only) checkpoints; only for files you trust")


def run(args: argparse.Namespace) -> int:
    from analysis_core.errors import BarlowError
    from analysis_core.visualization import VisualizationConfig, visualize_analysis
    from analysis_core.visualization.selection import parse_feature_list

    for name in ("top_k", "batch_size", "leaf_samples"):
        if getattr(args, name) < 1:
            raise BarlowError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.top_mi < 0:
        raise BarlowError(f"--top-mi must be 0 or more, got {args.top_mi}")
    if args.eps is not None and args.eps < 0:
        raise BarlowError(f"--eps must be 0 or more, got {args.eps}")
    if args.step_size is not None and args.step_size <= 0:
        raise BarlowError(f"--step-size must be positive, got {args.step_size}")
    if args.iterations is not None and args.iterations < 0:
        raise BarlowError(f"--iterations must be 0 or more, got {args.iterations}")
    from matplotlib import colormaps

    if args.cmap not in colormaps:
        raise BarlowError(f"--cmap: unknown matplotlib colormap '{args.cmap}' (try turbo, inferno, magma, viridis)")
    config = VisualizationConfig(
        k=args.top_k,
        eps=args.eps,
        step_size=args.step_size,
        iterations=args.iterations,
        batch_size=args.batch_size,
        cmap=args.cmap,
        leaf_samples=args.leaf_samples,
        leaves=args.leaves,
        seed=args.seed,
        scope=args.scope,
    )
    feature_ids = parse_feature_list(args.features) if args.features else None
    index = visualize_analysis(
        args.analysis,
        feature_ids,
        top_mi=args.top_mi,
        features_model=args.features_model,
        dataset_spec=args.dataset,
        features_file=args.features_file,
        metadata_file=args.metadata,
        config=config,
        device=args.device,
        trust_checkpoint=args.trust_checkpoint,
    )
    from pathlib import Path

    out = Path(args.analysis) / "visualizations"
    by_group = sum(len(entries) for entries in index.get("group_features", {}).values())
    in_groups = f", {by_group} (group, feature) pairs" if args.scope == "group" else ""
    print(f"{len(index['features'])} features{in_groups} and {len(index['leaves'])} leaves drawn in {out}")
    print(f"next: barlow report --analysis {args.analysis}")
    return 0
