"""barlow study expire: stop a published study early."""

from __future__ import annotations

import argparse

HELP = "stop a published study now (MTurk: expire every HIT; Prolific: stop the study)"
DESCRIPTION = """\
Workers can no longer accept the study's HITs; work already accepted can still be
submitted, then collected, reviewed and paid as usual.

example:
  barlow study expire studies/fmnist
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the study database (default: STUDY/study.sqlite)")


def run(args: argparse.Namespace) -> int:
    from study.platforms import service
    from study.platforms.connect import published_platform

    with service.open_platform_study(args.study, args.database_url) as ps:
        platform = published_platform(ps)
        n = service.expire(ps, platform)
    print(f"expired {n} {'HITs' if platform.per_hit else 'study'} on {platform.name}{' sandbox' if platform.sandbox else ''}")
    return 0
