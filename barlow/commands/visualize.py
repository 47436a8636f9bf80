"""barlow visualize: draw the features of an analysis (sections A, B, C) and leaf failures."""

from __future__ import annotations

import argparse

HELP = "draw feature visualizations (top images, heatmaps, feature attacks) for an analysis"
DESCRIPTION = """\
Draw the three views of each feature that the failure trees use, as in the Barlow paper:
  A  the k images of the data set (or of a group, see --scope) with the largest value of the feature
  B  heatmaps: the feature's channel of the last spatial map, one colour scale for the k images
  C  feature attack: each image changed by projected L2 gradient ascent to increase the feature
plus, for each leaf, a grid of its failures: the most typical ones (highest score in the
analysis's failure_scores.csv) for the leaves it scores, randomly chosen ones otherwise.
Writes PNG strips and visualizations/index.json into the analysis folder. The data set and the features model are
read from the extraction's manifest.json unless given. Features already drawn with the same
settings are reused.

--scope chooses the set of images A is taken from. dataset (the default): the whole data set,
one set of pictures per feature. group: in addition, each group gets its own A/B/C of the
features drawn for it (those splitting its tree, its --top-mi features, or every --feature-ids
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
    from analysis_core.artifacts.options import (
        DATASET_SPEC_HELP,
        MODEL_SPEC_HELP,
        add_options,
        add_quiet,
    )
    from analysis_core.visualization.config import VisualizationConfig

    parser.add_argument("--analysis", required=True, metavar="DIR", help="analysis folder written by 'barlow analyze'")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--feature-ids", metavar="IDS", help="exactly these feature ids, e.g. 12,40,100-105")
    which.add_argument("--split-features", action="store_true", help="every feature that splits a tree node (the default)")
    which.add_argument("--top-mi", type=int, metavar="M", default=0, help="also the M features with the highest mutual information in each group (default: 0)")
    add_options(parser, VisualizationConfig)
    parser.add_argument("--features-model", metavar="SPEC", help=f"model that produced the features (default: from manifest.json): {MODEL_SPEC_HELP}")
    parser.add_argument("--dataset", metavar="SPEC", help=f"data set of the features' rows (default: from manifest.json): {DATASET_SPEC_HELP}")
    # --features and --metadata name the same files as in 'barlow analyze'.
    parser.add_argument("--features", "--features-file", dest="features", metavar="FEATURES.npy",
                        help="features.npy (default: the path recorded in trees.json)")
    parser.add_argument("--metadata", metavar="META.csv", help="metadata.csv (default: the path recorded in trees.json)")
    parser.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    parser.add_argument("--trust-checkpoint", action="store_true", help="allow pickled (non weights-only) checkpoints; only for files you trust")
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    import re

    from analysis_core.artifacts import AnalysisFolder
    from analysis_core.artifacts.errors import BarlowError
    from analysis_core.artifacts.options import from_args
    from analysis_core.visualization.config import VisualizationConfig
    from analysis_core.visualization.pipeline import visualize_analysis
    from analysis_core.visualization.selection import parse_feature_list

    if args.features and re.fullmatch(r"[\d,\s-]+", args.features):
        raise BarlowError(
            f"--features {args.features} looks like feature ids: --features names the features file (as in "
            f"'barlow analyze'); give ids with --feature-ids {args.features}"
        )
    if args.top_mi < 0:
        raise BarlowError(f"--top-mi must be 0 or more, got {args.top_mi}")
    config = from_args(VisualizationConfig, args).validate()
    feature_ids = parse_feature_list(args.feature_ids) if args.feature_ids else None
    index = visualize_analysis(
        args.analysis,
        feature_ids,
        top_mi=args.top_mi,
        features_model=args.features_model,
        dataset_spec=args.dataset,
        features_file=args.features,
        metadata_file=args.metadata,
        config=config,
        device=args.device,
        trust_checkpoint=args.trust_checkpoint,
        progress=not args.quiet,
    )
    out = AnalysisFolder(args.analysis).visualizations_dir
    by_group = sum(len(entries) for entries in index.get("group_features", {}).values())
    in_groups = f", {by_group} (group, feature) pairs" if args.scope == "group" else ""
    print(f"{len(index['features'])} features{in_groups} and {len(index['leaves'])} leaves drawn in {out}")
    print(f"next: barlow report --analysis {args.analysis}")
    return 0
