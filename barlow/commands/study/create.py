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

example:
  barlow study create --analysis runs/fmnist --out studies/fmnist --top-n 3 --top-m 5

--kind failure-review makes the paper's second study (section 9) instead: one HIT per
valid leaf (--unit leaf), or per group's failure tree cut at --max-depth (--unit tree, the
practitioner protocol), showing the tree, the leaf's rule and rates, the split features'
A/B/C views and the leaf's failures beside correct images of the group. Reviewers describe
the failures, judge the feature core or spurious (main object / separate object /
background), give their confidence and action items, and answer a closing survey once.

  barlow study create --kind failure-review --analysis runs/fmnist --out studies/review
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis_core.artifacts.options import add_options

    parser.add_argument("--analysis", required=True, metavar="DIR", help="analysis folder (trees.json and visualizations/)")
    parser.add_argument("--out", required=True, metavar="STUDY", help="new study folder to create")
    from study.failure_review.create import ReviewOptions

    parser.add_argument("--kind", choices=["feature-description", "failure-review"], default="feature-description",
                        help="what workers do: describe features (section 8) or review failure modes (section 9) (default: %(default)s)")
    # ReviewOptions is CreateOptions plus the failure-review settings (--unit, --max-depth).
    add_options(parser, ReviewOptions)
    parser.add_argument("--questions", metavar="FILE", help="YAML/JSON file with a 'questions' list replacing the paper's defaults")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from analysis_core.artifacts.options import from_args
    from study.create import CreateOptions, create_study
    from study.db import DB_FILE, open_study_database
    from study.study_file import load_questions_file

    questions = load_questions_file(args.questions) if args.questions else None
    if args.kind == "failure-review":
        from analysis_core.report.context import load_report_data
        from study.failure_review.create import ReviewOptions, create_review_study

        spec, hits = create_review_study(args.analysis, args.out, from_args(ReviewOptions, args, questions=questions), load_report_data)
    else:
        spec, hits = create_study(args.analysis, args.out, from_args(CreateOptions, args, questions=questions))
    db = open_study_database(args.out, spec=spec)
    db.dispose()
    n_checks = sum(h.is_attention_check for h in hits)
    print(f"created study {spec.name!r} in {args.out}: {len(hits) - n_checks} HITs + {n_checks} attention checks, "
          f"{spec.settings.assignments_per_hit} assignments each, {len(spec.questions)} questions")
    not_drawn = spec.source.get("pictures_not_drawn") or []
    if not_drawn:
        print(f"warning: {len(not_drawn)} sample grid(s) not drawn, their HITs say so: {'; '.join(not_drawn[:5])}"
              f"{'; ...' if len(not_drawn) > 5 else ''} (rerun 'barlow visualize --analysis {args.analysis}' to draw what can be drawn)")
    skipped = spec.source.get("groups_without_features") or []
    if skipped:
        print(f"left out {len(skipped)} group(s) without selected features: {', '.join(skipped[:10])}")
    print(f"database: {Path(args.out) / DB_FILE}")
    print(f"next: barlow study serve {args.out}")
    return 0
