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

Writes DIR/failure_modes.csv (one row per leaf), DIR/trees.json (every tree whole, original
feature ids) and DIR/skipped.csv (groups with no failures, only failures or too few rows).

example:
  barlow analyze --features run/features.npy --metadata run/metadata.csv --out run/analysis --depth 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", required=True, metavar="FEATURES.npy",
                        help="feature matrix, rows = images in metadata order (.npy, memory-mapped)")
    parser.add_argument("--metadata", required=True, metavar="META.csv",
                        help="CSV with columns Labels and Predictions (class names or ids), optional Filenames")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    parser.add_argument("--grouping", choices=["label", "prediction", "both"], default="both",
                        help="group rows by true label, by prediction, or both (default: %(default)s)")
    parser.add_argument("--depth", type=int, default=1, help="tree depth, 1 to 3 (default: %(default)s)")
    parser.add_argument("--top-k", type=int, default=20,
                        help="features kept per group by mutual information (default: %(default)s)")
    parser.add_argument("--delta", type=float, default=0.1,
                        help="a valid leaf has ER >= BER + delta (default: %(default)s)")
    parser.add_argument("--tau", type=float, default=0.2,
                        help="a valid leaf has EC >= tau (default: %(default)s)")
    parser.add_argument("--min-leaf", type=int, default=1,
                        help="minimum rows per tree leaf (default: %(default)s)")
    parser.add_argument("--min-rows", type=int, default=10,
                        help="groups with fewer rows are skipped (default: %(default)s)")
    parser.add_argument("--mi", choices=["fast", "knn"], default="fast",
                        help="mutual-information estimator: 'fast' (vectorized quantile bins) or 'knn' "
                             "(scikit-learn's k-NN values, as in the original code, computed for all features "
                             "at once; ~10x slower than 'fast') (default: %(default)s)")
    parser.add_argument("--holdout", type=float, default=0.0, metavar="FRAC",
                        help="fit each tree on 1-FRAC of its group and report leaf ER/EC on the held-out "
                             "FRAC too (default: %(default)s = off)")
    parser.add_argument("--folds", type=int, default=5,
                        help="cross-fitting folds for the honest leaf estimates; 0 = off, and then valid falls "
                             "back to the in-sample numbers (default: %(default)s)")
    parser.add_argument("--permutations", type=int, default=100,
                        help="shuffles per group for the test of 'any failure mode here?'; 0 = no test; "
                             "costs about 1-3 s per 100 shuffles for a 1300 x 2048 group (default: %(default)s)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="q-value threshold for calling a leaf or a group significant (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the split and estimators (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes; -1 = all cores (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from analysis_core.analysis import AnalysisConfig, analyze_files
    from analysis_core.analysis_outputs import format_summary, write_analysis

    config = AnalysisConfig(
        grouping=args.grouping,
        depth=args.depth,
        top_k=args.top_k,
        delta=args.delta,
        tau=args.tau,
        min_leaf=args.min_leaf,
        min_rows=args.min_rows,
        mi=args.mi,
        holdout=args.holdout,
        folds=args.folds,
        permutations=args.permutations,
        alpha=args.alpha,
        seed=args.seed,
        jobs=args.jobs,
    ).validate()
    result = analyze_files(args.features, args.metadata, config, progress=not args.quiet)
    out = write_analysis(result, args.out)
    print(format_summary(result))
    print(f"Wrote {out / 'failure_modes.csv'}, {out / 'trees.json'}, {out / 'skipped.csv'}")
    return 0
