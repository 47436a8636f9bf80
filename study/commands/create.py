"""barlow study create: make a study folder (study file, HIT list, images, database)."""

from __future__ import annotations

import argparse

HELP = "create a crowd study (HITs, questions, images, database) from an analysis with visualizations"
DESCRIPTION = """\
Create a study folder from an analysis run that has visualizations.

By default follows the paper's protocol: per grouping (label, prediction) the top, middle
and bottom N classes by error rate, and per class the M features with the highest mutual
information with failure; one HIT per (grouping, class, feature). --items FILE.csv
(columns grouping,class,feature) replaces the protocol with an explicit list.

The folder gets study.yaml (questions and HIT settings: edit it to add, remove or reword
questions), hits.csv, items.csv, images/ and the SQLite database study.sqlite.

--kind failure-review makes the paper's second study (section 9) instead: one HIT per
valid leaf (--unit leaf), or per group's failure tree cut at --max-depth (--unit tree, the
practitioner protocol), showing the tree, the leaf's rule and rates, the split features'
A/B/C views and the leaf's failures beside correct images of the group. Reviewers describe
the failures, judge the feature core or spurious (main object / separate object /
background), give their confidence and action items, and answer a closing survey once.

examples:
  barlow study create --analysis runs/fmnist --out studies/fmnist --top-n 3 --top-m 5
  barlow study create --kind failure-review --analysis runs/fmnist --out studies/review
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--analysis", required=True, metavar="DIR", help="analysis folder (trees.json and visualizations/)")
    parser.add_argument("--out", required=True, metavar="STUDY", help="new study folder to create")
    parser.add_argument("--kind", choices=["feature-description", "failure-review"], default="feature-description",
                        help="what workers do: describe features (section 8) or review failure modes (section 9) (default: %(default)s)")
    parser.add_argument("--unit", choices=["leaf", "tree"], default="leaf",
                        help="failure-review: one HIT per valid leaf, or per group's tree (default: %(default)s)")
    parser.add_argument("--max-depth", type=int, default=2, metavar="D",
                        help="failure-review: tree levels drawn in a HIT (default: %(default)s, as in the paper's practitioner study)")
    parser.add_argument("--top-n", type=int, default=20, metavar="N", help="classes per tier (top/middle/bottom by error rate) per grouping (default: %(default)s)")
    parser.add_argument("--top-m", type=int, default=10, metavar="M", help="features per class, by mutual information (default: %(default)s)")
    parser.add_argument("--items", metavar="FILE.csv", help="explicit list of HITs (columns grouping,class,feature) instead of the protocol")
    parser.add_argument("--assignments", type=int, default=5, help="workers per HIT (default: %(default)s)")
    parser.add_argument("--reward", help="reward per HIT in US dollars (default: 0.50; failure-review 1.00)")
    parser.add_argument("--title", help="HIT title shown to workers")
    parser.add_argument("--description", help="HIT description shown on crowd platforms")
    parser.add_argument("--keywords", help="comma-separated HIT keywords")
    parser.add_argument("--attention-checks", type=int, default=0, metavar="N", help="add N attention-check HITs with known answers (default: %(default)s)")
    parser.add_argument("--questions", metavar="FILE", help="YAML/JSON file with a 'questions' list replacing the paper's defaults")
    parser.add_argument("--timeout-minutes", type=int, default=30, help="release an unsubmitted assignment after this long (default: %(default)s)")
    parser.add_argument("--name", help="study name stored in the database (default: the folder name)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from analysis_core.errors import BarlowError
    from study.create import CreateOptions, create_study
    from study.db import DB_FILE, open_study_database
    from study.study_file import load_questions_file

    review = args.kind == "failure-review"
    raw_reward = args.reward if args.reward is not None else ("1.00" if review else "0.50")
    try:
        reward = f"{float(raw_reward):.2f}"
    except ValueError:
        raise BarlowError(f"--reward {raw_reward!r} is not an amount in dollars like 0.50") from None
    if review:
        from study.failure_review.create import ReviewOptions as Options
    else:
        Options = CreateOptions
    extra = {"unit": args.unit, "max_depth": args.max_depth} if review else {}
    options = Options(
        **extra,
        top_n=args.top_n,
        top_m=args.top_m,
        items_csv=Path(args.items) if args.items else None,
        assignments=args.assignments,
        reward=reward,
        title=args.title,
        description=args.description,
        keywords=[k.strip() for k in args.keywords.split(",") if k.strip()] if args.keywords else None,
        attention_checks=args.attention_checks,
        questions=load_questions_file(args.questions) if args.questions else None,
        timeout_minutes=args.timeout_minutes,
        name=args.name,
    )
    if review:
        from study.failure_review.create import create_review_study

        spec, hits = create_review_study(args.analysis, args.out, options)
    else:
        spec, hits = create_study(args.analysis, args.out, options)
    db = open_study_database(args.out, spec=spec)
    db.dispose()
    n_checks = sum(h.is_attention_check for h in hits)
    print(f"created study {spec.name!r} in {args.out}: {len(hits) - n_checks} HITs + {n_checks} attention checks, "
          f"{spec.settings.assignments_per_hit} assignments each, {len(spec.questions)} questions")
    skipped = spec.source.get("groups_without_features") or []
    if skipped:
        print(f"left out {len(skipped)} group(s) without selected features: {', '.join(skipped[:10])}")
    print(f"database: {Path(args.out) / DB_FILE}")
    print(f"next: barlow study serve {args.out}")
    return 0
