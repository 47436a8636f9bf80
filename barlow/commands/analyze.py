"""barlow analyze: failure trees per class from a feature matrix and a labels/predictions table."""

from __future__ import annotations

import argparse

HELP = "find failure modes: a shallow decision tree per class over robust features"
DESCRIPTION = """\
Find where a classifier fails (paper sections 3 and 5). For every class group (rows with
that label, and/or rows with that prediction), Barlow selects the top-k features by mutual
information with failure (prediction != label), fits a depth-limited entropy tree on them and
reports each leaf's error rate (ER), error coverage (EC), importance value (IV = ER x EC) and
the tree's ALER - BER as the paper defines them (in-sample: measured on the rows that chose
the tree, so optimistic).

Honest numbers (honest_*) come from K-fold cross-fitting: each row is scored by a tree refitted
without it. Valid leaves (honest ER >= BER + delta and honest EC >= tau), the leaf ranking,
Wilson intervals, binomial p-values against BER and Benjamini-Hochberg q-values use them.
A permutation test per group (failures shuffled within the group, selection and tree refitted
each time) says whether the group has any failure mode at all (group_p_value, group_q_value).

Writes DIR/failure_modes.csv (one row per leaf), DIR/failure_scores.csv (every image of a
reported failure mode, with its margin to the rule), DIR/trees.json (every tree whole, original
feature ids) and DIR/skipped.csv (groups with no failures, only failures or too few rows).

example:
  barlow analyze --features run/features.npy --metadata run/metadata.csv --out run/analysis --depth 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis_core.artifacts.options import add_options, add_quiet
    from analysis_core.failure_analysis import AnalysisConfig

    parser.add_argument("--features", required=True, metavar="FEATURES.npy",
                        help="feature matrix, rows = images in metadata order (.npy, memory-mapped)")
    parser.add_argument("--metadata", required=True, metavar="META.csv",
                        help="CSV with columns Labels and Predictions (class names or ids), optional Filenames")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    add_options(parser, AnalysisConfig)
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from analysis_core.artifacts.options import from_args
    from analysis_core.failure_analysis import AnalysisConfig, analyze_files
    from analysis_core.failure_analysis_outputs import format_summary, write_analysis

    config = from_args(AnalysisConfig, args).validate()
    result = analyze_files(args.features, args.metadata, config, progress=not args.quiet)
    out = write_analysis(result, args.out)
    print(format_summary(result))
    scores = f"{out / 'failure_scores.csv'}, " if result.failure_scores is not None else ""
    print(f"Wrote {out / 'failure_modes.csv'}, {scores}{out / 'trees.json'}, {out / 'skipped.csv'}")
    return 0
