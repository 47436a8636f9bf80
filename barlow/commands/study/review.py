"""barlow study review: approve passing work, reject one assignment, on the crowd platform."""

from __future__ import annotations

import argparse

HELP = "approve every passing assignment on the platform, or reject one with a reason"
DESCRIPTION = """\
--approve-all-passing approves (pays) every collected assignment not yet decided whose
answers validated and whose attention check (if any) passed, and sends the rejections
marked in the admin dashboard. Failed attention checks are listed, not rejected: decide
them yourself (Prolific asks requesters to have such participants return the submission).

--reject ASSIGNMENT --reason TEXT rejects one assignment (the platform's assignment id or
the dashboard's id); the worker sees the reason. Run 'barlow study collect' first.

examples:
  barlow study review studies/fmnist --approve-all-passing
  barlow study review studies/fmnist --reject 3XJ4ZK... --reason "The description does not describe the images."
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--approve-all-passing", action="store_true", help="approve every passing assignment not yet decided")
    what.add_argument("--reject", metavar="ASSIGNMENT", help="reject this assignment")
    parser.add_argument("--reason", default="", help="--reject: the reason the worker sees; --approve-all-passing: optional feedback")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the study database (default: STUDY/study.sqlite)")


def run(args: argparse.Namespace) -> int:
    from study.platforms import reviewing
    from study.platforms.connect import published_platform
    from study.platforms.service import open_platform_study

    with open_platform_study(args.study, args.database_url) as ps:
        platform = published_platform(ps)
        if args.reject:
            row = reviewing.reject(ps, platform, args.reject, args.reason)
            print(f"rejected assignment {row.platform_assignment_id} on {platform.name}")
            return 0
        report = reviewing.approve_all_passing(ps, platform, args.reason)
    print(f"approved {report.approved}, rejected {report.rejected} (marked in the dashboard) on {platform.name}")
    for line in report.failed_checks:
        print(f"  failed its attention check, left for you: {line}")
    for line in report.invalid:
        print(f"  answers did not validate, left for you: {line}")
    return 0
