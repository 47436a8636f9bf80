"""Publishing a study: cost and wage checks, then each HIT created once (the database records it at once)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from sqlalchemy import select

from analysis_core.artifacts.errors import BarlowError
from study.hits import HitSpec
from study.models import SUBMITTED, Assignment, Hit, Study, utcnow
from study.platforms import money
from study.platforms.base import CostRefused, HitToPublish, Platform
from study.platforms.service import (
    PlatformStudy,
    Say,
    annotation,
    listing,
    request_token,
)


@dataclass
class PublishReport:
    published: int = 0
    already: int = 0
    reconciled: int = 0
    platform_study_id: str | None = None
    cost: money.CostEstimate | None = None


def _claim(session, ps: PlatformStudy, platform: Platform) -> Study:
    study = session.get(Study, ps.db.study_id)
    if study.platform and (study.platform != platform.name or bool(study.platform_sandbox) != platform.sandbox):
        where = f"{study.platform}{' sandbox' if study.platform_sandbox else ''}"
        raise BarlowError(
            f"study {ps.spec.name!r} is already published on {where} in this database; to publish it on "
            f"{platform.name}{' sandbox' if platform.sandbox else ''} as well, use another database (--database-url) or a copy of the study folder"
        )
    return study


def check_cost(cost: money.CostEstimate, *, sandbox: bool, balance: Decimal | None, max_cost: Decimal | None, yes: bool, say: Say) -> None:
    """Print what the publish costs; refuse above ``max_cost``, beyond the balance or unconfirmed."""
    say("cost of this publish:")
    for line in cost.lines():
        say(line)
    if balance is not None:
        say(f"  account balance ${balance}{' (sandbox: play money, nothing is charged)' if sandbox else ''}")
    if max_cost is not None and cost.total > max_cost:
        raise CostRefused(f"publishing would cost ${cost.total}, above --max-cost ${max_cost}; nothing was published")
    if sandbox:
        return
    if balance is not None and balance < cost.total:
        raise CostRefused(f"publishing would cost ${cost.total} but the account holds ${balance}; add funds first; nothing was published")
    if not yes:
        raise CostRefused(f"this publish spends real money (${cost.total}); run again with --yes to confirm; nothing was published")


def warn_wage(ps: PlatformStudy, seconds_per_hit: float | None, say: Say) -> None:
    reward = money.dollars(ps.spec.settings.reward)
    target = ps.crowd.target_hourly_wage
    if seconds_per_hit is None:
        say(f"pay check: no time per HIT measured yet (try a local pilot with 'barlow study serve'); at ${reward} a HIT must take under "
            f"{float(reward * 3600 / target) / 60:.1f} min to pay ${target}/hour" if target > 0 else "pay check: no target wage set")
        return
    hourly = money.hourly_pay(reward, seconds_per_hit)
    say(f"pay check: median {seconds_per_hit / 60:.1f} min per HIT -> ${hourly}/hour at ${reward} (target ${target}/hour)")
    if hourly is not None and hourly < target:
        say(f"WARNING: the reward implies ${hourly}/hour, below the study's target ${target}/hour; raise hit.reward in study.yaml "
            "or plan 'barlow study bonus --top-up-to-wage'")


def measured_seconds(ps: PlatformStudy) -> float | None:
    with ps.db.sessions() as session:
        times = session.scalars(
            select(Assignment.work_time_seconds).join(Hit).where(Hit.study_id == ps.db.study_id, Assignment.status == SUBMITTED)
        ).all()
    return money.median_seconds(times)


def unpublished(ps: PlatformStudy) -> list[HitSpec]:
    with ps.db.sessions() as session:
        done = set(session.scalars(select(Hit.key).where(Hit.study_id == ps.db.study_id, Hit.platform_hit_id.is_not(None))))
    return [h for h in ps.hits if h.key not in done]


def record_hit(ps: PlatformStudy, platform_name: str) -> Callable[[str, str], None]:
    def record(key: str, remote_id: str) -> None:
        with ps.db.sessions.begin() as session:
            hit = session.scalar(select(Hit).where(Hit.study_id == ps.db.study_id, Hit.key == key))
            hit.platform_hit_id = remote_id
            hit.platform = platform_name
            hit.published_at = utcnow()

    return record


def publish_mturk(
    ps: PlatformStudy,
    platform,
    question_for: Callable[[HitSpec], str],
    *,
    max_cost: Decimal | None = None,
    yes: bool = False,
    say: Say = print,
) -> PublishReport:
    """Publish every HIT not yet on MTurk; ``question_for(hit)`` gives its Question XML."""
    report = PublishReport()
    with ps.db.sessions.begin() as session:
        study = _claim(session, ps, platform)
        resumed = study.platform is not None
    todo = unpublished(ps)
    report.already = len(ps.hits) - len(todo)
    if resumed and todo:
        # A publish began before (maybe killed): HITs created but never recorded are found
        # by their annotation, whatever became of MTurk's 24-hour request-token memory.
        remote = platform.published_annotations()
        record = record_hit(ps, platform.name)
        for h in todo:
            hit_id = remote.get(annotation(ps.spec.name, h.key))
            if hit_id:
                record(h.key, hit_id)
                report.reconciled += 1
        todo = unpublished(ps)
    if not todo:
        say(f"all {len(ps.hits)} HITs are already on MTurk{' sandbox' if platform.sandbox else ''}; nothing to publish")
        return report
    listing_ = listing(ps.spec)
    report.cost = money.mturk_cost(len(todo), listing_.assignments_per_hit, listing_.reward)
    warn_wage(ps, measured_seconds(ps), say)
    check_cost(report.cost, sandbox=platform.sandbox, balance=platform.balance(), max_cost=max_cost, yes=yes, say=say)
    requests = [
        HitToPublish(key=h.key, question=question_for(h), token=request_token(platform.name, platform.sandbox, ps.spec.name, h.key), annotation=annotation(ps.spec.name, h.key))
        for h in todo
    ]
    with ps.db.sessions.begin() as session:
        study = session.get(Study, ps.db.study_id)
        study.platform, study.platform_sandbox = platform.name, platform.sandbox
    count = {"n": 0}
    record = record_hit(ps, platform.name)

    def record_and_count(key: str, remote_id: str) -> None:
        record(key, remote_id)
        count["n"] += 1

    try:
        type_id = platform.publish(listing_, requests, record_and_count, qualifications=ps.crowd.mturk.qualification_requirements(platform.sandbox))
    finally:
        report.published = count["n"]
    with ps.db.sessions.begin() as session:
        session.get(Study, ps.db.study_id).platform_study_id = type_id
    report.platform_study_id = type_id
    return report


def publish_prolific(ps: PlatformStudy, platform, study_url: str, *, max_cost: Decimal | None = None, yes: bool = False, say: Say = print) -> PublishReport:
    """Create and publish one Prolific study whose participants answer the HITs in turn."""
    report = PublishReport()
    with ps.db.sessions.begin() as session:
        study = _claim(session, ps, platform)
        existing = study.platform_study_id
    p = ps.crowd.prolific
    if not p.completion_code:
        raise BarlowError("study.yaml: crowd.prolific.completion_code is needed for Prolific (the code participants get when they finish)")
    places = p.places or max(1, -(-len(ps.hits) * ps.spec.settings.assignments_per_hit // p.hits_per_participant))
    reward = money.dollars(ps.spec.settings.reward) * min(p.hits_per_participant, len(ps.hits))
    report.cost = money.prolific_cost(places, reward)
    if existing:
        report.platform_study_id = existing
        say(f"already published on Prolific as study {existing}; nothing to publish")
        return report
    seconds = measured_seconds(ps)
    warn_wage(ps, seconds, say)
    check_cost(report.cost, sandbox=False, balance=platform.balance(), max_cost=max_cost, yes=yes, say=say)
    with ps.db.sessions.begin() as session:
        study = session.get(Study, ps.db.study_id)
        resumed = study.platform is not None
        study.platform, study.platform_sandbox = platform.name, False
    internal_name = f"barlow:{ps.spec.name}"
    # A study created before a crash but never recorded is found by its internal name.
    remote_id = platform.find_study(internal_name) if resumed else None
    if remote_id:
        report.reconciled = 1
    remote_id = remote_id or platform.create_study(
        name=ps.spec.settings.title,
        internal_name=internal_name,
        description=ps.spec.settings.description,
        url=study_url,
        completion_code=p.completion_code,
        places=places,
        reward_cents=money.to_cents(reward),
        minutes=p.estimated_minutes,
    )
    with ps.db.sessions.begin() as session:
        session.get(Study, ps.db.study_id).platform_study_id = remote_id
    platform.publish_study(remote_id)
    report.published = 1
    report.platform_study_id = remote_id
    return report
