"""barlow study publish: put a study on Prolific (or on an MTurk-compatible endpoint; MTurk itself closed)."""

from __future__ import annotations

import argparse

HELP = "publish a study on Prolific (Mechanical Turk closed on 2026-09-30)"
DESCRIPTION = """\
Publish a study on a crowd platform. Safe to run again: what was created before (also
by a run that was interrupted) is found and never created twice.

Prolific (token in PROLIFIC_TOKEN): one Prolific study whose participants answer
crowd.prolific.hits_per_participant HITs on the study server at --url, then return to
Prolific with crowd.prolific.completion_code. Amounts are in the workspace's currency
(GBP or USD; crowd.prolific.workspace picks the workspace when the token sees several).
Publishing is resumable: a draft is created once (looked up by its internal name before
creating), and a draft whose publishing failed (e.g. for want of funds) is published by
the next run after the cost check; --yes confirms the spend. Neither call is repeated
automatically after a lost answer: the next run asks Prolific what happened.

Mechanical Turk: Amazon Mechanical Turk permanently closed on 2026-09-30 (AWS's MTurk
API documentation; new requesters were refused from 2026-07-30). --platform mturk stays
for endpoints that speak the same API (AWS_ENDPOINT_URL_MTURK) and for old batches; run
new studies on Prolific or in local sessions ('barlow study serve'). Credentials come
from the standard AWS chain (boto3), e.g. AWS_PROFILE:
  --question external  MTurk frames the study server's HIT page; needs a public HTTPS --url
                       (e.g. 'barlow study serve --behind-proxy' behind an HTTPS proxy)
  --question html      a self-contained page per HIT (no server needed); images are uploaded
                       to --image-bucket s3://BUCKET/PREFIX and linked (presigned by default)
  Production costs reward x assignments plus MTurk's fee (20%, 40% for 10+ assignments per
  HIT): the cost and balance are printed and --yes is required. The sandbox is free.

examples:
  barlow study publish studies/fmnist --platform prolific --url https://study.example.org/ --max-cost 150 --yes
  barlow study publish studies/fmnist --platform mturk --sandbox --question html --image-bucket s3://my-bucket/barlow
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", metavar="STUDY", help="study folder")
    parser.add_argument("--platform", required=True, choices=["prolific", "mturk"], help="crowd platform (mturk: closed on 2026-09-30; API-compatible endpoints only)")
    parser.add_argument("--sandbox", action="store_true", help="MTurk-compatible endpoints: the requester sandbox")
    parser.add_argument("--question", choices=["external", "html"], default="external", help="MTurk: how the HIT is shown (default: %(default)s)")
    parser.add_argument("--url", metavar="URL", help="public HTTPS address of 'barlow study serve' (external questions, Prolific)")
    parser.add_argument("--image-bucket", metavar="S3URL", help="--question html: s3://BUCKET/PREFIX for the HIT images")
    parser.add_argument("--public-images", action="store_true", help="--question html: link images by plain public URL instead of presigned (bucket must allow public reads)")
    parser.add_argument("--max-cost", type=str, metavar="AMOUNT", help="refuse to publish if the cost would exceed this amount (in the account's currency)")
    parser.add_argument("--yes", action="store_true", help="confirm spending real money (production)")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the study database (default: STUDY/study.sqlite)")


def run(args: argparse.Namespace) -> int:
    import time
    from decimal import Decimal, InvalidOperation

    from analysis_core.artifacts.errors import BarlowError
    from study.platforms import publishing
    from study.platforms.connect import connect
    from study.platforms.service import open_platform_study

    max_cost = None
    if args.max_cost is not None:
        try:
            max_cost = Decimal(args.max_cost)
        except InvalidOperation:
            raise BarlowError(f"--max-cost {args.max_cost!r} is not an amount like 150.00") from None
    with open_platform_study(args.study, args.database_url) as ps:
        platform = connect(args.platform, args.sandbox, ps.crowd.prolific.workspace)
        start = time.perf_counter()
        if args.platform == "prolific":
            from study.platforms.prolific import study_url
            from study.platforms.questions import check_study_url

            if not args.url:
                raise BarlowError("Prolific sends participants to the study server: give its public HTTPS address with --url")
            report = publishing.publish_prolific(ps, platform, study_url(check_study_url(args.url)), max_cost=max_cost, yes=args.yes)
            if report.published:
                print(f"Prolific study {report.platform_study_id} is published" + (" (found from an interrupted run)" if report.reconciled else ""))
            return 0
        from study.platforms.mturk import CLOSED

        print(f"note: {CLOSED}")
        question_for = _question_builder(args, ps, platform.sandbox)
        report = publishing.publish_mturk(ps, platform, question_for, max_cost=max_cost, yes=args.yes)
        elapsed = time.perf_counter() - start
    where = "MTurk sandbox" if args.sandbox else "MTurk"
    if report.published or report.reconciled:
        print(f"published {report.published} HITs on {where} in {elapsed:.1f} s (HIT type {report.platform_study_id})"
              + (f"; {report.already} were already there" if report.already else "")
              + (f"; {report.reconciled} found from an interrupted run" if report.reconciled else ""))
        if args.sandbox:
            print("try them as a worker at https://workersandbox.mturk.com/ ; then 'barlow study collect' pulls the answers")
    return 0


def _question_builder(args, ps, sandbox: bool):
    from analysis_core.artifacts.errors import BarlowError
    from study.platforms.questions import (
        check_study_url,
        external_question,
        hit_url,
        html_question,
        render_standalone_hit,
    )

    if args.question == "external":
        if not args.url:
            raise BarlowError("--question external needs --url: the public HTTPS address where 'barlow study serve' runs (or use --question html)")
        base = check_study_url(args.url)
        return lambda hit: external_question(hit_url(base, hit.key))
    if ps.spec.kind != "feature-description":
        # The self-contained page renders the feature views only; a failure review needs the
        # study server's page (tree, rule, samples, end-of-session survey).
        raise BarlowError(f"--question html shows feature-description HITs only; publish this {ps.spec.kind} study with --question external --url https://HOST/")
    if not args.image_bucket:
        raise BarlowError("--question html needs --image-bucket s3://BUCKET/PREFIX: HIT images are uploaded there and linked, never inlined")
    from study.platforms.images import MAX_PRESIGN_SECONDS, ImageUploader, parse_bucket

    days = max(1, ps.spec.settings.lifetime_days)
    lifetime = days * 86400 + ps.spec.settings.assignment_timeout_minutes * 60
    # Links must outlive the HIT; SigV4 caps them at 7 days, which covers HITs up to 7 days.
    seconds = min(lifetime, MAX_PRESIGN_SECONDS) if days <= 7 else lifetime
    uploader = ImageUploader(parse_bucket(args.image_bucket), ps.spec.name, None if args.public_images else seconds)

    def build(hit):
        urls = {s: uploader.url(ps.study_dir, rel) for s, rel in hit.images.items()}
        return html_question(render_standalone_hit(ps.spec, hit, urls, sandbox), hit_key=hit.key)

    return build
