"""barlow experiments: compare feature models, groupings and tree depths (paper section 7)."""

from __future__ import annotations

import argparse

HELP = "compare models, groupings and depths by ALER-BER and valid leaves (paper section 7)"
DESCRIPTION = """\
Automated evaluation of failure explanations (paper section 7, Figure 8, Table 1). For every
--run (a feature matrix, e.g. robust vs standard features of the same images), every grouping
(label, prediction) and every depth, it runs the same analysis as 'barlow analyze' and reports
the mean ALER - BER across classes and the fraction of classes whose top-IV leaf is valid
(ER > BER + delta and EC > tau, strict as in the paper).

Writes DIR/experiments.csv (one row per model x grouping x depth), DIR/experiments_per_class.csv,
DIR/experiments.json and DIR/experiments.png.

example:
  barlow experiments --run robust=runs/robust --run standard=runs/standard --out runs/experiments
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis_core.artifacts.options import add_options, add_quiet
    from analysis_core.failure_analysis import AnalysisConfig
    from analysis_core.artifacts.parameters import MAX_DEPTH, MIN_DEPTH

    parser.add_argument("--run", action="append", required=True, metavar="NAME=PATH",
                        help="a feature matrix to evaluate: NAME=DIR (extraction folder with features.npy and "
                             "metadata.csv) or NAME=FEATURES.npy; repeat for each model")
    parser.add_argument("--metadata", metavar="META.csv", default=None,
                        help="metadata for runs given as a bare FEATURES.npy (default: metadata.csv beside it)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    depths = list(range(MIN_DEPTH, MAX_DEPTH + 1))
    parser.add_argument("--depths", type=int, nargs="+", default=depths, help=f"tree depths (default: {' '.join(map(str, depths))})")
    # The analysis options of 'barlow analyze', with the same defaults; each run is analysed
    # at every --depths depth and without a held-out part.
    add_options(parser, AnalysisConfig, exclude=("depth", "holdout"), help={"grouping": "groupings to compare"})
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from analysis_core.artifacts.options import from_args
    from analysis_core.experiments import (
        format_experiments,
        parse_run,
        run_experiments,
        write_experiments,
    )
    from analysis_core.failure_analysis import GROUPINGS, AnalysisConfig

    base = from_args(AnalysisConfig, args, grouping="both").validate()
    runs = [parse_run(text, args.metadata) for text in args.run]
    groupings = list(GROUPINGS) if args.grouping == "both" else [args.grouping]
    result = run_experiments(runs, depths=args.depths, groupings=groupings, base=base, progress=not args.quiet)
    out = write_experiments(result, args.out)
    print(format_experiments(result))
    print(f"Wrote {out / 'experiments.csv'}, {out / 'experiments_per_class.csv'}, "
          f"{out / 'experiments.json'}, {out / 'experiments.png'}")
    return 0
