"""barlow study export: answers as MTurk batch-results CSV, JSON lines or a long table."""

from __future__ import annotations

import argparse

HELP = "export a study's answers (MTurk batch-results CSV, JSON lines, or a tidy long table)"
DESCRIPTION = """\
Export every submitted assignment of a study.

formats:
  mturk-csv  one row per assignment, MTurk batch-results columns (HITId, AssignmentId,
             WorkerId, WorkTimeInSeconds, AcceptTime, SubmitTime, Input.*, Answer.*)
  jsonl      one JSON object per assignment
  long       one row per (assignment, question): tidy data for pandas or R

example:
  barlow study export studies/fmnist --format mturk-csv --out answers.csv
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder")
    parser.add_argument("--format", default="mturk-csv", choices=["mturk-csv", "jsonl", "long"], help="output format (default: %(default)s)")
    parser.add_argument("--out", required=True, metavar="FILE", help="file to write")
    parser.add_argument(
        "--include-unconfirmed", action="store_true",
        help="also export crowd answers the platform has not confirmed yet (AssignmentStatus Unconfirmed; "
        "run 'barlow study collect' first to confirm them)",
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL if the study was served from another database (default: STUDY/study.sqlite)")


def run(args: argparse.Namespace) -> int:
    from study.export import write_export

    n = write_export(args.study, args.format, args.out, database_url=args.database_url, include_unconfirmed=args.include_unconfirmed)
    print(f"wrote {n} {'assignments' if args.format != 'long' else 'answers'} to {args.out}")
    return 0
