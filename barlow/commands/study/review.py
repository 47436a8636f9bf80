"""barlow study review: approve passing work, reject one submission, on the crowd platform."""

from __future__ import annotations

import argparse

from study.platforms.prolific import MIN_REJECTION_MESSAGE, REJECTION_CATEGORIES

HELP = "approve every passing submission on the platform, or reject one with a reason"
DESCRIPTION = f"""\
--approve-all-passing approves (pays) every collected submission not yet decided whose
answers validated and whose attention checks passed, and sends the rejections marked in
the admin dashboard. Failed attention checks are listed, not rejected: decide them
yourself (Prolific asks requesters to have such participants return the submission).

Prolific decides per submission: one participant's submission holds every HIT they
answered, so it is approved only when all of them passed, rejecting one HIT rejects the
whole submission, and a decision is never changed afterwards. A Prolific rejection needs
a message of at least {MIN_REJECTION_MESSAGE} characters (the participant reads it) and a --category, one of
{", ".join(REJECTION_CATEGORIES)};
both are checked before anything is sent. Dashboard rejections whose note is too short
are listed and left for --reject.

--reject ID --reason TEXT [--category C] rejects one submission (Prolific's submission id,
the platform's assignment id or the dashboard's id). Run 'barlow study collect' first.

examples:
  barlow study review studies/fmnist --approve-all-passing --category LOW_EFFORT
  barlow study review studies/fmnist --reject 64a1f0c2e4b0a1b2c3d4e5f6 --category FAILED_INSTRUCTIONS \\
      --reason "The descriptions repeat the same sentence for every image set and do not describe the images, which the instructions asked for."
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--approve-all-passing", action="store_true", help="approve every passing submission not yet decided")
    what.add_argument("--reject", metavar="ID", help="reject this submission (Prolific submission id, assignment id or dashboard id)")
    parser.add_argument("--reason", default="", help="--reject: the message the participant reads; --approve-all-passing: optional feedback")
    parser.add_argument("--category", choices=REJECTION_CATEGORIES, metavar="CATEGORY", help="Prolific's rejection category (for --reject and dashboard rejections)")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the study database (default: STUDY/study.sqlite)")


def run(args: argparse.Namespace) -> int:
    from study.platforms import reviewing
    from study.platforms.connect import published_platform
    from study.platforms.service import open_platform_study

    with open_platform_study(args.study, args.database_url) as ps:
        platform = published_platform(ps)
        if args.reject:
            unit, hits = reviewing.reject(ps, platform, args.reject, args.reason, args.category)
            print(f"rejected {unit} on {platform.name} ({hits} HIT{'s' if hits != 1 else ''})")
            return 0
        report = reviewing.approve_all_passing(ps, platform, args.reason, args.category)
    print(f"approved {report.approved}, rejected {report.rejected} (marked in the dashboard) on {platform.name}")
    for line in report.failed_checks:
        print(f"  failed its attention check, left for you: {line}")
    for line in report.invalid:
        print(f"  answers did not validate, left for you: {line}")
    for line in report.needs_reason:
        print(f"  rejection not sent: {line}")
    return 0
