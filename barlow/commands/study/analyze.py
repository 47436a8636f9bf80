"""``barlow study analyze``: statistics, agreement, figures and feature descriptions of a crowd study."""

from __future__ import annotations

import argparse

HELP = "analyse crowd-study answers: Likert distributions, view preferences, agreement, Figure 9, feature descriptions"
DESCRIPTION = """\
Analyse the answers of a crowd study (section 8 and Figure 9 of the Barlow paper), either
from a local study folder or from any Mechanical Turk batch-results CSV.

  barlow study analyze --study STUDY --out results/
  barlow study analyze --csv Batch_123_batch_results.csv \\
      --item Input.grouping,Input.class,Input.feature \\
      --likert Answer.ease,Answer.confidence --choice Answer.useful_view \\
      --text Answer.description --raters 5 --out results/

Writes into --out: summary.json (every headline number), per_item.csv, per_worker.csv,
per_question.csv, choice_distribution.csv, likert_curves.csv, feature_descriptions.csv
(read by 'barlow report'), figure9a_likert.png, figure9b_<question>.png and summary.html.

A failure-review study (barlow study create --kind failure-review) is recognised from its
study file and adds: the core / spurious verdict per failure mode with Fleiss kappa,
failure_judgements.csv (read by 'barlow report'), spurious_by_grouping.csv,
spurious_by_class.csv, action_items.csv, survey.csv, figure10_action_items.png and
figure11_survey.png. A crowd batch of that shape is read from a CSV with --kind failure-review:

  barlow study analyze --csv batch.csv --kind failure-review \
      --item Input.grouping,Input.class,Input.leaf --judgement Answer.where \
      --confidence Answer.confidence --reasons Answer.reason --actions Answer.actions --out results/

Radio-button answers exported as one true/false column per option (Answer.q.A, Answer.q.B, ...)
are read as one answer column when you name Answer.q. Rejected assignments are left out
(with a note) unless --include-rejected is given.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("input (one of)")
    one = source.add_mutually_exclusive_group(required=True)
    one.add_argument("--study", metavar="DIR", help="a study folder made by 'barlow study create' (answers from its database)")
    one.add_argument("--csv", metavar="FILE", help="an MTurk batch-results CSV; give the column roles below")
    source.add_argument("--database-url", metavar="URL", help="with --study: the study's SQLAlchemy URL if not the SQLite file in the folder")

    roles = parser.add_argument_group("column roles (with --csv)")
    roles.add_argument("--item", metavar="COLS", help="comma-separated columns that identify an item, e.g. Input.grouping,Input.class,Input.feature")
    roles.add_argument("--likert", metavar="COLS", default="", help="comma-separated Likert answer columns")
    roles.add_argument("--choice", metavar="COLS", default="", help="comma-separated single-choice answer columns")
    roles.add_argument("--text", metavar="COLS", default="", help="comma-separated free-text answer columns")
    # *-column names: in 'study create' --description is the HIT's text, in 'study bonus' --worker a worker id.
    roles.add_argument("--worker-column", "--worker", dest="worker", metavar="COL", help="worker id column (default: WorkerId when present)")
    roles.add_argument("--time", metavar="COL", default="WorkTimeInSeconds", help="seconds spent per assignment (default: %(default)s)")
    roles.add_argument("--likert-range", metavar="MIN,MAX", default="1,5", help="Likert scale end points (default: %(default)s)")
    roles.add_argument(
        "--choice-options", metavar="COL=A|B|...", action="append", default=[],
        help="the options of a choice column in display order, e.g. 'Answer.useful_view=A|B|C|B and C|none' "
        "(default: the paper's A, B, C, B and C, none when the answers fit, else sorted); repeatable",
    )
    roles.add_argument("--feature", metavar="COL", help="column with the feature id for feature_descriptions.csv (default: Input.feature when present)")
    roles.add_argument("--description-column", "--description", dest="description", metavar="COL", help="text column whose answers describe the feature (default: Answer.description, else the first --text column)")
    roles.add_argument("--attention", metavar="COL", default="Input.is_attention_check", help="column marking attention-check rows with true/1/yes (default: %(default)s)")
    roles.add_argument(
        "--attention-expect", metavar="ANSWER_COL=VALUE_OR_COL", action="append", default=[],
        help="expected answer of attention checks: a literal ('Answer.useful_view=none') or a column holding it per row "
        "('Answer.useful_view=Input.expected_useful_view'); 'a|b' accepts either; repeatable",
    )

    review = parser.add_argument_group("failure review (with --csv --kind failure-review; a study folder says its kind)")
    review.add_argument("--kind", choices=["feature-description", "failure-review"], help="what the CSV's HITs asked (default: feature-description)")
    review.add_argument("--judgement", metavar="COL", help="answer column saying where the feature is: main object / separate object / background / can't tell")
    review.add_argument(
        "--judgement-values", metavar="PLACE=A|B", action="append", default=[],
        help="answers meaning a place, e.g. 'background=bg|Background' (places: main_object, separate_object, background, cant_tell; "
        "common spellings are known); repeatable",
    )
    review.add_argument("--confidence", metavar="COL", help="Likert confidence column of the judgement")
    review.add_argument("--reasons", metavar="COLS", default="", help="comma-separated free-text columns (reasons, descriptions)")
    review.add_argument("--actions", metavar="COL", help="action items: one column of '|'-joined options, or COL.<option> true/false columns")
    review.add_argument("--actions-other", metavar="COL", help="free-text column of 'other' action items")
    review.add_argument("--survey", metavar="COLS", default="", help="comma-separated Likert survey columns, one per statement (answered once per worker)")
    review.add_argument("--survey-range", metavar="MIN,MAX", default="1,5", help="survey scale end points (default: %(default)s)")
    review.add_argument("--leaf", metavar="COL", default="Input.leaf", help="column with the leaf id, for the report (default: %(default)s)")

    from analysis_core.artifacts.options import add_options
    from study.analysis.pipeline import StudyAnalysisOptions

    checks = parser.add_argument_group("checks and statistics")
    checks.add_argument("--raters", type=int, metavar="N", help="answers each item should have; items with fewer are reported (kept)")
    checks.add_argument("--include-rejected", action="store_true", help="keep assignments whose AssignmentStatus is Rejected")
    checks.add_argument(
        "--include-unconfirmed", action="store_true",
        help="with --study: also analyse crowd answers the platform has not confirmed yet (labelled Unconfirmed)",
    )
    add_options(checks, StudyAnalysisOptions)
    parser.add_argument(
        "--analysis", metavar="DIR",
        help="also write feature_descriptions.csv (failure reviews: failure_judgements.csv) into this analysis folder (from 'barlow analyze'), "
        "where 'barlow report' finds it without --descriptions",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs (created; existing files of the same names are replaced)")


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    from analysis_core.artifacts.errors import BarlowError

    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip() or not rest.strip():
            raise BarlowError(f"{flag} expects COLUMN=VALUE, got {value!r}")
        out[key.strip()] = rest.strip()
    return out


def _likert_range(value: str) -> tuple[int, int]:
    from analysis_core.artifacts.errors import BarlowError

    try:
        low, high = (int(part) for part in value.split(","))
    except ValueError:
        raise BarlowError(f"--likert-range expects MIN,MAX as whole numbers, got {value!r}") from None
    if low >= high:
        raise BarlowError(f"--likert-range {value}: MIN must be below MAX")
    return low, high


def load_table(args: argparse.Namespace):
    from analysis_core.artifacts.errors import BarlowError
    from study.analysis.loading import load_csv, split_columns

    common = {"min_raters": args.raters, "include_rejected": args.include_rejected}
    if args.study:
        from study.analysis.from_study import load_study

        return load_study(args.study, args.database_url, include_unconfirmed=args.include_unconfirmed, **common)
    if not args.item:
        raise BarlowError("--csv needs --item: the columns that identify an item (e.g. Input.grouping,Input.class,Input.feature)")
    if args.kind == "failure-review":
        if not args.judgement:
            raise BarlowError("--kind failure-review needs --judgement: the column saying main object / separate object / background")
        # The judgement, confidence and reasons also get the generic statistics of their type.
        args.choice = ",".join(split_columns(args.choice) + [args.judgement])
        args.likert = ",".join(split_columns(args.likert) + ([args.confidence] if args.confidence else []))
        args.text = ",".join(split_columns(args.text) + split_columns(args.reasons))
    choice_options = {k: [o.strip() for o in v.split("|") if o.strip()] for k, v in _pairs(args.choice_options, "--choice-options").items()}
    return load_csv(
        args.csv,
        item_columns=split_columns(args.item),
        likert_columns=split_columns(args.likert),
        choice_columns=split_columns(args.choice),
        text_columns=split_columns(args.text),
        likert_range=_likert_range(args.likert_range),
        choice_options=choice_options,
        worker_column=args.worker or "WorkerId",
        worker_required=bool(args.worker),
        time_column=args.time or None,
        attention_column=args.attention or None,
        expected=_pairs(args.attention_expect, "--attention-expect"),
        feature_column=args.feature,
        description_column=args.description,
        **common,
    )


def review_roles(args: argparse.Namespace):
    """Column roles of a failure review (None for a feature-description study or CSV)."""
    if args.study:
        from study.analysis.from_study import review_roles as study_roles

        return study_roles(args.study)
    if args.kind != "failure-review":
        return None
    from analysis_core.artifacts.errors import BarlowError
    from study.analysis.loading import split_columns
    from study.analysis.review import DEFAULT_SPELLINGS, ReviewRoles

    spellings = {k: tuple(v) for k, v in DEFAULT_SPELLINGS.items()}
    for place, values in _pairs(args.judgement_values, "--judgement-values").items():
        if place not in spellings:
            raise BarlowError(f"--judgement-values: unknown place {place!r} (use main_object, separate_object, background or cant_tell)")
        spellings[place] = spellings[place] + tuple(v.strip() for v in values.split("|") if v.strip())
    survey = split_columns(args.survey)
    return ReviewRoles(
        judgement=args.judgement,
        spellings=spellings,
        confidence=args.confidence,
        actions=args.actions,
        actions_other=args.actions_other,
        survey=[(c, c.removeprefix("Answer.").replace("_", " ")) for c in survey],
        survey_scale=_likert_range(args.survey_range),
        leaf=args.leaf,
    )


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from analysis_core.artifacts import (
        DESCRIPTIONS_FILE,
        AnalysisFolder,
        write_descriptions,
    )
    from analysis_core.artifacts.errors import BarlowError
    from analysis_core.artifacts.options import from_args
    from study.analysis.outputs import write_outputs
    from study.analysis.pipeline import StudyAnalysisOptions, analyze

    if args.description and args.csv and args.description not in args.text.split(","):
        raise BarlowError(f"--description-column {args.description} must be one of the --text columns")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise BarlowError(f"--out {args.out} is a file, not a folder")
    if args.analysis and not AnalysisFolder(args.analysis).trees_path.is_file():
        raise BarlowError(f"--analysis {args.analysis} is not an analysis folder (no trees.json in it)")
    options = from_args(StudyAnalysisOptions, args).validate()
    start = time.perf_counter()
    table = load_table(args)
    for note in table.warnings:
        print(f"barlow: warning: {note}", file=sys.stderr)
    shown = len(table.warnings)
    roles = review_roles(args)
    result = analyze(table, options, progress=lambda step: print(f"  {step} ...", file=sys.stderr))
    if roles is not None:
        from study.analysis.review import analyze_review

        print("  failure review ...", file=sys.stderr)
        result.review = analyze_review(table, roles)
        result.review_scale, result.review_scale_labels = roles.survey_scale, roles.survey_labels
        result.summary["failure_review"] = result.review.summary
    for note in table.warnings[shown:]:
        print(f"barlow: warning: {note}", file=sys.stderr)
    written = write_outputs(result, args.out, args.threshold)
    s = result.summary
    print(f"Analysed {s['answers']:,} answers to {s['items']:,} items"
          + (f" from {s['workers']:,} workers" if s.get("workers") else "")
          + f" in {time.perf_counter() - start:.1f} s.")
    for name, q in s["likert"].items():
        reach = q[f"items_mean_at_least_{args.threshold:g}"]
        print(f"  {name}: mean {q['mean']:.2f}; {reach['count']:,} items with mean >= {args.threshold:g}; "
              f"Krippendorff alpha (ordinal) {_fmt(q['krippendorff_alpha_ordinal'])}")
    for name, q in s["choice"].items():
        shares = ", ".join(f"{o} {100 * (d['fraction'] or 0):.1f}%" for o, d in q["distribution"].items())
        print(f"  {name}: {shares}; Fleiss kappa {_fmt(q['fleiss_kappa'])}")
    for name, q in s["text"].items():
        print(f"  {name}: mean pairwise Jaccard {_fmt(q['mean_jaccard'])}")
    if result.review is not None:
        r = result.review.summary
        print(f"  failure review: {r['judged_spurious']} of {r['failure_modes']} failure modes judged spurious; "
              f"Fleiss kappa {_fmt(r['fleiss_kappa_verdict'])} (core / spurious / can't tell)")
    print(f"Wrote {len(written)} files to {args.out} (open summary.html).")
    if result.review is not None:
        return _hand_judgements(args, table)
    descriptions = Path(args.out) / DESCRIPTIONS_FILE
    if result.feature_descriptions is not None and DESCRIPTIONS_FILE in written:
        analysis = args.analysis or table.source.get("analysis")
        if args.analysis:
            write_descriptions(result.feature_descriptions, AnalysisFolder(args.analysis).path / DESCRIPTIONS_FILE)
            print(f"Copied feature_descriptions.csv into {args.analysis}; 'barlow report --analysis {args.analysis}' uses it.")
        else:
            print(f"Feature descriptions for the report: barlow report --analysis {analysis or 'DIR'} --descriptions {descriptions}")
    else:
        print("No feature_descriptions.csv: name the feature id column with --feature and a description column with --text.")
    return 0


def _hand_judgements(args: argparse.Namespace, table) -> int:
    """Put failure_judgements.csv where 'barlow report' finds it (or say how to pass it)."""
    import shutil
    from pathlib import Path

    from analysis_core.artifacts.atomic import atomic_path
    from analysis_core.artifacts.judgements import JUDGEMENTS_FILE

    judgements = Path(args.out) / JUDGEMENTS_FILE
    if args.analysis:
        with atomic_path(Path(args.analysis) / JUDGEMENTS_FILE) as tmp:
            shutil.copyfile(judgements, tmp)
        print(f"Copied {JUDGEMENTS_FILE} into {args.analysis}; 'barlow report --analysis {args.analysis}' shows the judgements.")
    else:
        analysis = table.source.get("analysis")
        print(f"Judgements for the report: barlow report --analysis {analysis or 'DIR'} --judgements {judgements}")
    return 0


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
