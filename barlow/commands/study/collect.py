"""barlow study collect: pull submitted work from the crowd platform into the study database."""

from __future__ import annotations

import argparse

HELP = "pull submissions from Prolific (or an MTurk-compatible endpoint) into the study's answer tables"
DESCRIPTION = """\
Prolific: list the study's submissions (page by page) and match each to the answers its
participant gave on the study server; Prolific's status (awaiting review, approved,
rejected, returned) and its time for the submission are kept with every HIT it holds.
MTurk-compatible endpoints: fetch every submitted assignment (ListAssignmentsForHIT)
and store its answers in the same tables local sessions use, once per assignment id.
Attention checks are scored as in local sessions. Safe to run as often as you like.

example:
  barlow study collect studies/fmnist && barlow study status studies/fmnist
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the study database (default: STUDY/study.sqlite)")


def run(args: argparse.Namespace) -> int:
    import time

    from study.platforms.collecting import collect
    from study.platforms.connect import published_platform
    from study.platforms.service import open_platform_study

    with open_platform_study(args.study, args.database_url) as ps:
        platform = published_platform(ps)
        start = time.perf_counter()
        report = collect(ps, platform)
        elapsed = time.perf_counter() - start
    print(f"collected from {platform.name}{' sandbox' if platform.sandbox else ''} in {elapsed:.1f} s: "
          f"{report.new} new, {report.updated} updated, {report.unchanged} already stored")
    for line in report.replaced:
        print(f"  replaced: {line}")
    for line in report.invalid:
        print(f"  needs review: {line}")
    if report.unknown:
        print(f"  {len(report.unknown)} assignments belong to HITs this database does not know; ignored")
    return 0
