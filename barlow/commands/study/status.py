"""barlow study status: where a published study stands, what it cost, what it pays per hour."""

from __future__ import annotations

import argparse

HELP = "show a study's platform, published HITs, pending reviews, cost so far and effective hourly pay"
DESCRIPTION = """\
Summarize a study from its database: platform and remote ids, HITs published, assignments
submitted / approved / rejected, what is pending review (and failed attention checks),
bonuses (and any whose payment has an unknown outcome), cost so far in the account's currency, the median time per HIT and the effective hourly pay against the
target wage in study.yaml (crowd.target_hourly_wage). Run 'barlow study collect' first to
pull the newest submissions. With --balance, also asks the platform for the balance.

example:
  barlow study status studies/fmnist --balance
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder")
    parser.add_argument("--balance", action="store_true", help="also show the platform account balance (one API call)")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the study database (default: STUDY/study.sqlite)")


def run(args: argparse.Namespace) -> int:
    from study.platforms.service import open_platform_study
    from study.platforms.summary import platform_summary

    with open_platform_study(args.study, args.database_url) as ps:
        with ps.db.sessions() as session:
            summary = platform_summary(session, ps.db.study_id, ps.spec)
        print(f"study {ps.spec.name}")
        for line in summary.lines():
            print(line)
        if args.balance and summary.platform:
            from study.platforms.connect import published_platform

            from study.platforms.money import fmt

            platform = published_platform(ps)
            balance = platform.balance()
            print(f"balance:         {'unknown (see the platform website)' if balance is None else fmt(balance, platform.currency())}")
    return 0
