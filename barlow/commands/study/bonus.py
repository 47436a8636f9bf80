"""barlow study bonus: pay a worker a bonus, or top every worker up to the target hourly wage."""

from __future__ import annotations

import argparse

HELP = "pay a bonus to one worker, or --top-up-to-wage to every worker (each paid once)"
DESCRIPTION = """\
--worker W --amount 0.25 --reason TEXT pays one bonus. Every bonus is recorded with a
unique token before it is sent, so a run interrupted by an error or a crash is finished
by running the same command again, never paid twice (--again pays a second, equal bonus).

--top-up-to-wage pays each worker the difference between what their approved work paid
and crowd.target_hourly_wage (study.yaml) for the time they spent on it. Running it again
pays only what new approved work adds. MTurk charges 20% on bonuses.

examples:
  barlow study bonus studies/fmnist --worker A1B2C3D4E5 --amount 0.25 --reason "Thoughtful descriptions"
  barlow study bonus studies/fmnist --top-up-to-wage
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder")
    parser.add_argument("--worker", metavar="W", help="the platform's worker id")
    parser.add_argument("--amount", metavar="USD", help="bonus in dollars, e.g. 0.25")
    parser.add_argument("--reason", default="", help="message the worker sees")
    parser.add_argument("--again", action="store_true", help="pay this worker another bonus equal to one already paid")
    parser.add_argument("--top-up-to-wage", action="store_true", help="pay every worker up to the study's target hourly wage")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the study database (default: STUDY/study.sqlite)")


def run(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from analysis_core.artifacts.errors import BarlowError
    from study.platforms import payments
    from study.platforms.connect import published_platform
    from study.platforms.service import open_platform_study

    if args.top_up_to_wage == bool(args.worker):
        raise BarlowError("give either --worker W --amount USD --reason TEXT or --top-up-to-wage")
    with open_platform_study(args.study, args.database_url) as ps:
        platform = published_platform(ps)
        if args.top_up_to_wage:
            report = payments.top_up_to_wage(ps, platform, args.reason)
        else:
            if not args.amount:
                raise BarlowError("--worker needs --amount USD")
            try:
                amount = Decimal(args.amount)
            except InvalidOperation:
                raise BarlowError(f"--amount {args.amount!r} is not an amount in dollars") from None
            report = payments.bonus(ps, platform, args.worker, amount, args.reason, again=args.again)
    if report.resent:
        print(f"finished {report.resent} bonus(es) left unconfirmed by an earlier run (same tokens: not paid twice)")
    for worker, amount in report.paid:
        print(f"paid ${amount} to {worker}")
    if args.top_up_to_wage:
        print(f"{len(report.paid)} workers topped up to ${ps.crowd.target_hourly_wage}/hour; {len(report.skipped)} already at or above it")
    return 0
