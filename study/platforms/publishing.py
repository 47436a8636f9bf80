"""Publishing a study: cost and wage checks, then each HIT created once (the database records it at once)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Callable

from sqlalchemy import select

from analysis_core.artifacts.errors import BarlowError
from study.hits import HitSpec
from study.models import SUBMITTED, Assignment, Hit, Study, utcnow
from study.platforms import money
from study.platforms.base import CostRefused, HitToPublish, OutcomeUnknown, Platform, PlatformError
from study.platforms.prolific import DRAFT
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
    c = cost.currency
    say("cost of this publish:")
    for line in cost.lines():
        say(line)
    if balance is not None:
        say(f"  account balance {money.fmt(balance, c)}{' (sandbox: play money, nothing is charged)' if sandbox else ''}")
    if max_cost is not None and cost.total > max_cost:
        raise CostRefused(f"publishing would cost {money.fmt(cost.total, c)}, above --max-cost {money.fmt(max_cost, c)}; nothing was published")
    if sandbox:
        return
    if balance is not None and balance < cost.total:
        raise CostRefused(f"publishing would cost {money.fmt(cost.total, c)} but the account holds {money.fmt(balance, c)}; add funds first; nothing was published")
    if not yes:
        raise CostRefused(f"this publish spends real money ({money.fmt(cost.total, c)}); run again with --yes to confirm; nothing was published")


def warn_wage(ps: PlatformStudy, seconds_per_hit: float | None, say: Say, currency: str) -> None:
    reward = money.amount(ps.spec.settings.reward)
    target = ps.crowd.target_hourly_wage
    m = lambda v: money.fmt(v, currency)  # noqa: E731
    if seconds_per_hit is None:
        say(f"pay check: no time per HIT measured yet (try a local pilot with 'barlow study serve'); at {m(reward)} a HIT must take under "
            f"{float(reward * 3600 / target) / 60:.1f} min to pay {m(target)}/hour" if target > 0 else "pay check: no target wage set")
        return
    hourly = money.hourly_pay(reward, seconds_per_hit)
    say(f"pay check: median {seconds_per_hit / 60:.1f} min per HIT -> {m(hourly)}/hour at {m(reward)} (target {m(target)}/hour)")
    if hourly is not None and hourly < target:
        say(f"WARNING: the reward implies {m(hourly)}/hour, below the study's target {m(target)}/hour; raise hit.reward in study.yaml "
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
    warn_wage(ps, measured_seconds(ps), say, report.cost.currency)
    check_cost(report.cost, sandbox=platform.sandbox, balance=platform.balance(), max_cost=max_cost, yes=yes, say=say)
    requests = [
        HitToPublish(key=h.key, question=question_for(h), token=request_token(platform.name, platform.sandbox, ps.spec.name, h.key), annotation=annotation(ps.spec.name, h.key))
        for h in todo
    ]
    with ps.db.sessions.begin() as session:
        study = session.get(Study, ps.db.study_id)
        study.platform, study.platform_sandbox, study.platform_currency = platform.name, platform.sandbox, platform.currency()
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


def _prolific_plan(ps: PlatformStudy) -> tuple[int, Decimal]:
    """(places, reward per participant) the study file asks for."""
    p = ps.crowd.prolific
    places = p.places or max(1, -(-len(ps.hits) * ps.spec.settings.assignments_per_hit // p.hits_per_participant))
    return places, money.unit_reward(money.amount(ps.spec.settings.reward), False, p.hits_per_participant, len(ps.hits))


def _check_minimum_pay(reward: Decimal, minutes: int, currency: str) -> None:
    minimum = money.PROLIFIC_MIN_HOURLY.get(currency)
    hourly = (reward * 60 / Decimal(minutes)).quantize(money.CENT, rounding=ROUND_FLOOR)
    # Compared unrounded: GBP 11.99 for 120 min is GBP 5.995/hour, under the GBP 6.00 minimum.
    if minimum is not None and reward * 60 < minimum * minutes:
        raise BarlowError(
            f"Prolific pays at least {money.fmt(minimum, currency)} per hour: {money.fmt(reward, currency)} for "
            f"{minutes} min is {money.fmt(hourly, currency)}/hour; raise hit.reward or lower crowd.prolific.estimated_minutes; nothing was published"
        )


def _record_study(ps: PlatformStudy, **values) -> None:
    with ps.db.sessions.begin() as session:
        study = session.get(Study, ps.db.study_id)
        for key, value in values.items():
            setattr(study, key, value)


def _claim_draft_name(ps: PlatformStudy, platform_name: str, seen: str | None, name: str | None, currency: str) -> str:
    """Write the draft's internal ``name`` (a new one if None) before creating it and return it, unless another run wrote one since ``seen``.

    The study's row is held while checking (SQLite serializes write transactions; other
    backends lock the row), so two runs at once never create two drafts.
    """
    with ps.db.sessions.begin() as session:
        study = session.scalar(select(Study).where(Study.id == ps.db.study_id).with_for_update())
        if study.platform_internal_name != seen:
            raise BarlowError(
                f"another 'barlow study publish' run is creating the Prolific draft of study {ps.spec.name!r} (or was stopped doing so); "
                "run the command again once it is done: it finds that draft instead of creating a second; nothing was created"
            )
        study.platform, study.platform_sandbox, study.platform_currency = platform_name, False, currency
        study.platform_internal_name = name or f"barlow:{ps.spec.name}:{secrets.token_hex(4)}"
        return study.platform_internal_name


def publish_prolific(ps: PlatformStudy, platform, study_url: str, *, max_cost: Decimal | None = None, yes: bool = False, say: Say = print) -> PublishReport:
    """Create one Prolific study whose participants answer the HITs in turn, then publish it.

    A state machine checked against Prolific on every run: nothing -> draft (its internal
    name is written before it is created, so a rerun finds a draft whose answer was lost
    instead of creating another) -> published (a draft left by a failed PUBLISH, e.g.
    for want of funds, is published by the next run; a study already past the draft is
    left alone). Neither call is ever repeated automatically.
    """
    report = PublishReport()
    with ps.db.sessions.begin() as session:
        study = _claim(session, ps, platform)
        remote_id, internal = study.platform_study_id, study.platform_internal_name
        recorded = internal
        if study.platform and not internal:
            internal = f"barlow:{ps.spec.name}"  # the name earlier versions gave the draft
    p = ps.crowd.prolific
    if not p.completion_code:
        raise BarlowError("study.yaml: crowd.prolific.completion_code is needed for Prolific (the code participants get when they finish)")
    platform.check_access()
    draft = None
    if remote_id:
        draft = platform.get_study(remote_id)
    elif internal:
        draft = platform.find_study(internal)
        if draft:
            remote_id = draft["id"]
            _record_study(ps, platform_study_id=remote_id)
            report.reconciled = 1
    report.platform_study_id = remote_id
    if draft and draft.get("status") != DRAFT:
        say(f"already published on Prolific as study {remote_id} (status {draft.get('status')}); nothing to publish")
        return report
    currency = platform.currency()
    places, reward = _prolific_plan(ps)
    if draft:
        # The draft's own terms are what publishing it will cost.
        places, reward = int(draft["total_available_places"]), money.from_cents(int(draft["reward"]))
    report.cost = money.prolific_cost(places, reward, currency)
    _check_minimum_pay(reward, int(draft["estimated_completion_time"]) if draft else p.estimated_minutes, currency)
    warn_wage(ps, measured_seconds(ps), say, currency)
    check_cost(report.cost, sandbox=False, balance=platform.balance(), max_cost=max_cost, yes=yes, say=say)
    if not draft:
        internal = _claim_draft_name(ps, platform.name, recorded, internal, currency)
        try:
            created = platform.create_study(
                name=ps.spec.settings.title,
                internal_name=internal,
                description=ps.spec.settings.description,
                url=study_url,
                completion_code=p.completion_code,
                places=places,
                reward_cents=money.to_cents(reward),
                minutes=p.estimated_minutes,
            )
        except OutcomeUnknown as exc:
            raise PlatformError(f"{exc}; run the same command again: it looks for a draft named {internal} before creating one") from None
        remote_id = report.platform_study_id = created["id"]
        _record_study(ps, platform_study_id=remote_id)
        if created.get("currency_code") and created["currency_code"] != currency:
            raise BarlowError(f"Prolific created draft {remote_id} in {created['currency_code']}, not the workspace's {currency}; check it on app.prolific.com; nothing was published")
    else:
        _record_study(ps, platform=platform.name, platform_sandbox=False, platform_currency=currency)
    try:
        platform.publish_study(remote_id)
    except OutcomeUnknown as exc:
        raise PlatformError(f"{exc}; run the same command again: it asks Prolific whether study {remote_id} is published before publishing it") from None
    report.published = 1
    return report
