"""barlow study bonus: pay a worker a bonus, or top every worker up to the target hourly wage."""

from __future__ import annotations

import argparse

HELP = "pay a bonus to one worker, or --top-up-to-wage to every worker (each paid once)"
DESCRIPTION = """\
--worker W --amount 0.25 --reason TEXT pays one bonus, in the study's currency (the
Prolific workspace's GBP or USD; USD on MTurk). --top-up-to-wage pays each worker the
difference between what their approved work paid and crowd.target_hourly_wage
(study.yaml) for the time they spent on it; running it again pays only what new approved
work adds. Prolific charges its fee on bonuses too (MTurk 20%).

Paid once: every bonus is recorded before anything is sent, and the pay call is never
repeated automatically. If its answer is lost (a dropped connection, a server error, a
killed run), the outcome is unknown: Barlow says so, names the payment id, and pays it
again only after you checked it was not paid and ran
  barlow study bonus STUDY --confirm-unpaid PAYMENT_ID
Prolific pays bonuses asynchronously, within minutes: --confirm-unpaid is taken only
15 minutes after the lost answer, and a refused second call leaves the outcome unknown.
Two runs at once (two terminals) never pay one bonus twice.
(MTurk's SendBonus is idempotent by its token, so an MTurk bonus is simply resent.)
Prolific's pay call cannot carry the reason: it is sent to the participant as a message.

examples:
  barlow study bonus studies/fmnist --worker 5f1a2b3c4d5e6f7a8b9c0d1e --amount 0.25 --reason "Thoughtful descriptions"
  barlow study bonus studies/fmnist --top-up-to-wage
  barlow study bonus studies/fmnist --confirm-unpaid 621014cb8e9e0f81e387021f
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder")
    parser.add_argument("--worker", metavar="W", help="the platform's worker (participant) id")
    parser.add_argument("--amount", metavar="AMOUNT", help="bonus in the study's currency, e.g. 0.25")
    parser.add_argument("--reason", default="", help="message the worker sees")
    parser.add_argument("--again", action="store_true", help="pay this worker another bonus equal to one already paid")
    parser.add_argument("--top-up-to-wage", action="store_true", help="pay every worker up to the study's target hourly wage")
    parser.add_argument("--confirm-unpaid", metavar="PAYMENT_ID", help="you checked that this payment (of unknown outcome) was not paid: pay it now")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the study database (default: STUDY/study.sqlite)")


def run(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from analysis_core.artifacts.errors import BarlowError
    from study.platforms import payments
    from study.platforms.connect import published_platform
    from study.platforms.service import open_platform_study

    if args.top_up_to_wage and args.worker:
        raise BarlowError("give either --worker W --amount AMOUNT --reason TEXT or --top-up-to-wage, not both")
    if not (args.top_up_to_wage or args.worker or args.confirm_unpaid):
        raise BarlowError("give --worker W --amount AMOUNT --reason TEXT, --top-up-to-wage or --confirm-unpaid PAYMENT_ID")
    with open_platform_study(args.study, args.database_url) as ps:
        platform = published_platform(ps)
        if args.top_up_to_wage:
            report = payments.top_up_to_wage(ps, platform, args.reason, confirm_unpaid=args.confirm_unpaid)
        elif args.worker:
            if not args.amount:
                raise BarlowError("--worker needs --amount AMOUNT (in the study's currency)")
            try:
                amount = Decimal(args.amount)
            except InvalidOperation:
                raise BarlowError(f"--amount {args.amount!r} is not an amount like 0.50") from None
            report = payments.bonus(ps, platform, args.worker, amount, args.reason, again=args.again, confirm_unpaid=args.confirm_unpaid)
        else:
            report = payments.settle(ps, platform, args.confirm_unpaid)
    if report.resent:
        print(f"finished {report.resent} bonus(es) an earlier run left unpaid (never sent, or resent with the same MTurk token)")
    for worker, amount in report.paid:
        print(f"paid {report.money(amount)} to {worker}")
    if args.top_up_to_wage:
        print(f"{len(report.paid)} workers topped up to {report.money(ps.crowd.target_hourly_wage)}/hour; {len(report.skipped)} already at or above it")
    if report.elsewhere:
        print(f"left {report.elsewhere} bonus(es) to another barlow run that is paying them now; see 'barlow study status' when it is done")
    for line in report.failed:
        print(f"  not paid: {line}")
    for line in report.unsent_reasons:
        print(f"  paid, but the reason could not be sent: {line}")
    for u in report.unknown:
        print(f"NOT PAID AGAIN: the payment of {report.money(u.amount)} to {u.worker} (payment {u.payment_id}) was sent and Barlow never "
              f"learned whether it went through{'; ' + u.note if u.note else ''}. Check it ({u.check}); only if it was not paid, run: "
              f"barlow study bonus {args.study} --confirm-unpaid {u.payment_id}")
    return 1 if report.unknown or report.failed else 0
