"""A study on a crowd platform: publish, collect, review, pay and expire, with the database as the record.

The database says what exists remotely: a HIT's ``platform_hit_id`` is written (and
committed) the moment the platform answers, so a publish killed half-way and run again
creates no HIT twice and misses none. Collected answers go into the same tables local
sessions fill, deduplicated by the platform's assignment id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from analysis_core.errors import BarlowError
from study.db import StudyDatabase, open_study_database
from study.hits import HitSpec, load_hits
from study.models import APPROVED, REJECTED, SUBMITTED, Answer, Assignment, Bonus, Hit, Study, Worker
from study.platforms import money
from study.platforms.base import CostRefused, HitListing, HitToPublish, Platform, RemoteAssignment
from study.platforms.settings import CrowdSettings, crowd_settings
from study.study_file import StudySpec, check_passed, load_study_file, validate_answers

Say = Callable[[str], None]


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class PlatformStudy:
    """One study folder and its database, opened for a platform command."""

    study_dir: Path
    spec: StudySpec
    hits: list[HitSpec]
    db: StudyDatabase
    crowd: CrowdSettings

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> PlatformStudy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_platform_study(study_dir: str | Path, database_url: str | None = None) -> PlatformStudy:
    study_dir = Path(study_dir)
    spec = load_study_file(study_dir)
    crowd = crowd_settings(spec.crowd)
    hits = load_hits(study_dir)
    db = open_study_database(study_dir, database_url, spec=spec)
    return PlatformStudy(study_dir, spec, hits, db, crowd)


def listing(spec: StudySpec) -> HitListing:
    s = spec.settings
    return HitListing(
        title=s.title,
        description=s.description,
        keywords=list(s.keywords),
        reward=money.dollars(s.reward),
        assignments_per_hit=s.assignments_per_hit,
        assignment_seconds=s.assignment_timeout_minutes * 60,
        lifetime_seconds=max(1, s.lifetime_days) * 86400,
        auto_approval_seconds=max(0, s.auto_approval_days) * 86400,
    )


def request_token(platform: str, sandbox: bool, study: str, key: str) -> str:
    """MTurk's UniqueRequestToken (<= 64 characters) for one HIT of one study."""
    digest = hashlib.sha256(f"{platform}|{'sandbox' if sandbox else 'production'}|{study}|{key}".encode()).hexdigest()
    return f"barlow-{digest[:48]}"


def annotation(study: str, key: str) -> str:
    return f"barlow:{study}:{key}"[:255]


# ----------------------------------------------------------------------------- publish


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
            hit.published_at = _now()

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


# ----------------------------------------------------------------------------- collect


@dataclass
class CollectReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _published(session, ps: PlatformStudy, platform_name: str) -> dict[str, Hit]:
    return {h.platform_hit_id: h for h in session.scalars(select(Hit).where(Hit.study_id == ps.db.study_id, Hit.platform == platform_name, Hit.platform_hit_id.is_not(None)))}


def _apply_remote_status(row: Assignment, ra: RemoteAssignment) -> bool:
    changed = row.platform_status != ra.status
    row.platform_status = ra.status
    if ra.status == "Approved" and row.platform_review != APPROVED:
        row.platform_review = APPROVED
        row.review = row.review or APPROVED
        changed = True
    elif ra.status == "Rejected" and row.platform_review != REJECTED:
        row.platform_review = REJECTED
        row.review = row.review or REJECTED
        changed = True
    return changed


class _Store:
    """Puts remote assignments into the answer tables, once each (keyed by the platform's id).

    The study's assignments and the platform's workers are read once up front, so a
    collect costs a few queries per batch rather than several per assignment.
    """

    def __init__(self, session, ps: PlatformStudy, source: str, report: CollectReport):
        self.session, self.ps, self.source, self.report = session, ps, source, report
        rows = session.scalars(select(Assignment).join(Hit).where(Hit.study_id == ps.db.study_id)).all()
        self.by_remote = {r.platform_assignment_id: r for r in rows if r.platform_assignment_id}
        self.by_pair = {(r.hit_id, r.worker_id): r for r in rows}
        self.workers = {w.external_id: w for w in session.scalars(select(Worker).where(Worker.source == source))}

    def worker(self, external_id: str, now: datetime) -> Worker:
        worker = self.workers.get(external_id)
        if worker is None:
            worker = Worker(external_id=external_id, source=self.source, created_at=now, last_seen_at=now)
            self.session.add(worker)
            self.session.flush()
            self.workers[external_id] = worker
        return worker

    def add(self, hit: Hit, ra: RemoteAssignment) -> None:
        from study.allocation import new_public_id

        report, now = self.report, _now()
        row = self.by_remote.get(ra.assignment_id)
        if row is not None and row.hit_id != hit.id:
            report.invalid.append(f"{ra.assignment_id}: the database holds it under another HIT; left as it is")
            return
        if row is not None and row.status == SUBMITTED:
            # Answered through the study server (ExternalQuestion) or collected before.
            if _apply_remote_status(row, ra):
                report.updated += 1
            else:
                report.unchanged += 1
            return
        worker = self.worker(ra.worker_id, now)
        if row is None:
            row = self.by_pair.get((hit.id, worker.id))
            if row is not None and row.status == SUBMITTED:
                report.invalid.append(f"{ra.assignment_id}: worker {ra.worker_id} already answered HIT {hit.key} (assignment {row.platform_assignment_id}); not stored twice")
                return
        answers, errors = validate_answers(self.ps.spec.questions, ra.answers)
        accepted = ra.accept_time or ra.submit_time or now
        submitted = ra.submit_time or now
        if row is None:
            row = Assignment(public_id=new_public_id(), hit_id=hit.id, worker=worker, mode=self.source, accepted_at=accepted)
            self.session.add(row)
            self.by_pair[(hit.id, worker.id)] = row
        self.by_remote[ra.assignment_id] = row
        row.platform_assignment_id = ra.assignment_id
        row.mode = self.source
        row.status = SUBMITTED
        row.accepted_at = accepted
        row.submitted_at = submitted
        row.released_at = None
        row.work_time_seconds = ra.seconds if ra.seconds is not None else max(0.0, (submitted - accepted).total_seconds())
        _apply_remote_status(row, ra)
        if errors:
            # Keep the raw answers with the assignment so nothing is lost; a reviewer decides.
            row.attention_passed = False if hit.is_attention_check else None
            row.review_note = ("answers did not validate: " + "; ".join(errors.values()) + " | raw: " + json.dumps(ra.answers))[:4000]
            report.invalid.append(f"{ra.assignment_id} (HIT {hit.key}, worker {ra.worker_id}): " + "; ".join(errors.values()))
            return
        passed = None
        if hit.is_attention_check and hit.check_id:
            try:
                passed = check_passed(self.ps.spec.attention_check(hit.check_id), answers)
            except KeyError:
                passed = None
        row.attention_passed = passed
        row.answers.extend(Answer(question_id=q, value=v, created_at=submitted) for q, v in answers.items())
        report.new += 1


def collect_prolific(ps: PlatformStudy, platform) -> CollectReport:
    """Match Prolific's submissions to the answers participants gave on the study server."""
    report = CollectReport()
    with ps.db.sessions() as session:
        remote_study = session.get(Study, ps.db.study_id).platform_study_id
    if not remote_study:
        raise BarlowError(f"study {ps.spec.name!r} has no Prolific study in this database; publish it first")
    with ps.db.sessions.begin() as session:
        for sub in platform.collect([remote_study]):
            worker = session.scalar(select(Worker).where(Worker.source == platform.name, Worker.external_id == sub.worker_id))
            rows = [] if worker is None else session.scalars(
                select(Assignment).join(Hit).where(Hit.study_id == ps.db.study_id, Assignment.worker_id == worker.id, Assignment.status == SUBMITTED)
            ).all()
            if not rows:
                report.invalid.append(f"submission {sub.assignment_id} of participant {sub.worker_id}: no answers on the study server")
                continue
            for row in rows:
                new_id = f"{sub.assignment_id}/{row.hit.key}"
                changed = row.platform_assignment_id != new_id or row.mode != platform.name
                row.platform_assignment_id, row.mode = new_id, platform.name
                changed = _apply_remote_status(row, sub) or changed
                if changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
    return report


def collect(ps: PlatformStudy, platform, batch: int = 200) -> CollectReport:
    """Pull every submitted assignment of the published HITs into the database."""
    if platform.name == "prolific":
        return collect_prolific(ps, platform)
    report = CollectReport()
    with ps.db.sessions() as session:
        hits = {rid: h.id for rid, h in _published(session, ps, platform.name).items()}
    if not hits:
        raise BarlowError(f"study {ps.spec.name!r} has no HITs on {platform.name} in this database; publish it first")
    with ps.db.sessions() as session:
        store = _Store(session, ps, platform.name, report)
        rows = {h.id: h for h in session.scalars(select(Hit).where(Hit.study_id == ps.db.study_id))}
        pending = 0
        for ra in platform.collect(list(hits)):
            hit_id = hits.get(ra.hit_id)
            if hit_id is None:
                report.unknown.append(ra.assignment_id)
                continue
            store.add(rows[hit_id], ra)
            pending += 1
            if pending >= batch:
                session.commit()
                pending = 0
        session.commit()
    return report


# ----------------------------------------------------------------------------- review


@dataclass
class ReviewReport:
    approved: int = 0
    rejected: int = 0
    failed_checks: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def _platform_rows(session, ps: PlatformStudy, platform_name: str):
    return session.scalars(
        select(Assignment)
        .join(Hit)
        .where(Hit.study_id == ps.db.study_id, Assignment.mode == platform_name, Assignment.status == SUBMITTED, Assignment.platform_assignment_id.is_not(None))
        .order_by(Assignment.id)
    ).all()


def approve_all_passing(ps: PlatformStudy, platform, feedback: str = "") -> ReviewReport:
    """Approve every submitted assignment not yet decided that passed its checks; send dashboard rejections.

    Failed attention checks and answers that did not validate are left for a person: the
    report lists them (Prolific asks requesters to have such participants return the
    submission rather than reject it). Where the platform pays per submission (Prolific),
    one doubtful HIT holds its whole submission back.
    """
    report = ReviewReport()
    unit = getattr(platform, "unit", lambda assignment_id: assignment_id)
    with ps.db.sessions() as session:
        rows = [r for r in _platform_rows(session, ps, platform.name) if r.platform_review is None and r.platform_status in (None, "Submitted")]
        ids = [r.id for r in rows]
        held = {unit(r.platform_assignment_id) for r in rows if r.attention_passed is False or not r.answers}
    for row_id in ids:
        with ps.db.sessions.begin() as session:
            row = session.get(Assignment, row_id)
            label = f"{row.public_id} (assignment {row.platform_assignment_id}, worker {row.worker.external_id}, HIT {row.hit.key})"
            if row.review == REJECTED:
                platform.reject(row.platform_assignment_id, row.review_note or "Rejected after review.")
                row.platform_review, row.platform_status = REJECTED, "Rejected"
                report.rejected += 1
            elif row.attention_passed is False:
                report.failed_checks.append(label)
            elif not row.answers:
                report.invalid.append(f"{label}: {row.review_note[:120] or 'no answers stored'}")
            elif unit(row.platform_assignment_id) in held:
                continue  # its submission is held back by the HIT listed above
            else:
                platform.approve(row.platform_assignment_id, feedback)
                row.platform_review, row.platform_status = APPROVED, "Approved"
                row.review = APPROVED
                row.reviewed_at = _now()
                report.approved += 1
    return report


def find_assignment(session, ps: PlatformStudy, ident: str) -> Assignment:
    row = session.scalar(
        select(Assignment).join(Hit).where(Hit.study_id == ps.db.study_id, (Assignment.public_id == ident) | (Assignment.platform_assignment_id == ident))
    )
    if row is None:
        raise BarlowError(f"no assignment {ident!r} in study {ps.spec.name!r} (give the platform's assignment id or the dashboard's id)")
    return row


def reject(ps: PlatformStudy, platform, ident: str, reason: str) -> Assignment:
    if not reason.strip():
        raise BarlowError("--reason is required: the worker sees it")
    with ps.db.sessions.begin() as session:
        row = find_assignment(session, ps, ident)
        if row.mode != platform.name or not row.platform_assignment_id:
            raise BarlowError(f"assignment {ident} was not done on {platform.name}")
        if row.platform_review is not None:
            raise BarlowError(f"assignment {ident} was already {row.platform_review} on {platform.name}")
        platform.reject(row.platform_assignment_id, reason)
        row.platform_review, row.platform_status, row.review = REJECTED, "Rejected", REJECTED
        row.review_note, row.reviewed_at = reason, _now()
        return row


# ----------------------------------------------------------------------------- bonuses


@dataclass
class BonusReport:
    paid: list[tuple[str, Decimal]] = field(default_factory=list)
    resent: int = 0
    skipped: list[str] = field(default_factory=list)


def _bonus_assignment(session, ps: PlatformStudy, worker: Worker, platform_name: str) -> Assignment | None:
    return session.scalar(
        select(Assignment)
        .join(Hit)
        .where(Hit.study_id == ps.db.study_id, Assignment.worker_id == worker.id, Assignment.mode == platform_name, Assignment.status == SUBMITTED, Assignment.platform_assignment_id.is_not(None))
        .order_by(Assignment.submitted_at.desc())
        .limit(1)
    )


def _pay(ps: PlatformStudy, platform, bonus_id: int) -> Decimal:
    """Send one recorded bonus with its token and mark it paid (safe to call again)."""
    with ps.db.sessions() as session:
        b = session.get(Bonus, bonus_id)
        worker = b.worker.external_id
        assignment = session.get(Assignment, b.assignment_id) if b.assignment_id else None
        remote_assignment = assignment.platform_assignment_id if assignment else ""
        amount, reason, token, remote_id = money.from_cents(b.amount_cents), b.reason, b.token, b.remote_id
        extra = {"study_id": session.get(Study, ps.db.study_id).platform_study_id} if platform.name == "prolific" else {}
    remote = platform.bonus(worker, remote_assignment, amount, reason, token, remote_id=remote_id, record=lambda rid: _bonus_remote(ps, bonus_id, rid), **extra)
    with ps.db.sessions.begin() as session:
        b = session.get(Bonus, bonus_id)
        b.paid_at = _now()
        b.remote_id = remote or b.remote_id
        if b.assignment_id:
            row = session.get(Assignment, b.assignment_id)
            row.bonus_cents = (row.bonus_cents or 0) + b.amount_cents
    return amount


def _bonus_remote(ps: PlatformStudy, bonus_id: int, remote_id: str) -> None:
    with ps.db.sessions.begin() as session:
        session.get(Bonus, bonus_id).remote_id = remote_id


def resend_pending(ps: PlatformStudy, platform, report: BonusReport) -> None:
    with ps.db.sessions() as session:
        ids = session.scalars(select(Bonus.id).where(Bonus.study_id == ps.db.study_id, Bonus.paid_at.is_(None)).order_by(Bonus.id)).all()
    for bonus_id in ids:
        _pay(ps, platform, bonus_id)
        report.resent += 1


def _new_bonus(ps: PlatformStudy, worker: Worker, assignment: Assignment | None, cents: int, reason: str, kind: str) -> int:
    with ps.db.sessions.begin() as session:
        b = Bonus(study_id=ps.db.study_id, worker_id=worker.id, assignment_id=assignment.id if assignment else None, amount_cents=cents, reason=reason, kind=kind, token=f"barlow-bonus-{secrets.token_hex(16)}")
        session.add(b)
        session.flush()
        return b.id


def bonus(ps: PlatformStudy, platform, worker_id: str, amount: Decimal, reason: str, again: bool = False) -> BonusReport:
    """Pay one worker a bonus once; a rerun after a failure resends the same token."""
    if amount <= 0 or amount != amount.quantize(money.CENT):
        raise BarlowError(f"--amount must be a positive amount in dollars and cents, got {amount}")
    if not reason.strip():
        raise BarlowError("--reason is required: the worker sees it")
    report = BonusReport()
    cents = money.to_cents(amount)
    with ps.db.sessions() as session:
        worker = session.scalar(select(Worker).where(Worker.source == platform.name, Worker.external_id == worker_id))
        if worker is None:
            raise BarlowError(f"worker {worker_id!r} has no {platform.name} assignment in study {ps.spec.name!r}; run 'barlow study collect' first")
        same = session.scalars(select(Bonus).where(Bonus.study_id == ps.db.study_id, Bonus.worker_id == worker.id, Bonus.amount_cents == cents, Bonus.reason == reason)).all()
        assignment = _bonus_assignment(session, ps, worker, platform.name)
    if any(b.paid_at is None for b in same):
        # The same bonus was started before and not confirmed: finish it with its token.
        resend_pending(ps, platform, report)
        return report
    paid = [b for b in same if b.paid_at is not None]
    if paid and not again:
        raise BarlowError(f"worker {worker_id} was already paid a ${amount} bonus for {reason!r} on {paid[-1].paid_at:%Y-%m-%d %H:%M} UTC; pass --again to pay another")
    if assignment is None and platform.name == "mturk":
        raise BarlowError(f"worker {worker_id} has no submitted MTurk assignment in this study to attach the bonus to")
    resend_pending(ps, platform, report)
    bonus_id = _new_bonus(ps, worker, assignment, cents, reason, "manual")
    report.paid.append((worker_id, _pay(ps, platform, bonus_id)))
    return report


def top_up_to_wage(ps: PlatformStudy, platform, reason: str = "") -> BonusReport:
    """Bonus each worker the difference between their approved pay and the target hourly wage."""
    report = BonusReport()
    resend_pending(ps, platform, report)
    wage = ps.crowd.target_hourly_wage
    reward = money.dollars(ps.spec.settings.reward)
    reason = reason or f"Top-up so that your work on this study pays ${wage} per hour."
    with ps.db.sessions() as session:
        rows = [r for r in _platform_rows(session, ps, platform.name) if r.platform_review == APPROVED]
        by_worker: dict[int, list[Assignment]] = {}
        for r in rows:
            by_worker.setdefault(r.worker_id, []).append(r)
        plan = []
        for worker_id, items in by_worker.items():
            seconds = sum(r.work_time_seconds or 0.0 for r in items)
            already = sum(session.scalars(select(Bonus.amount_cents).where(Bonus.study_id == ps.db.study_id, Bonus.worker_id == worker_id, Bonus.kind == "wage")).all())
            top = money.wage_top_up(reward * len(items) + money.from_cents(already), seconds, wage)
            worker = items[0].worker
            if top >= money.CENT:
                latest = max(items, key=lambda r: r.submitted_at)
                plan.append((worker, latest, money.to_cents(top)))
            else:
                report.skipped.append(worker.external_id)
    for worker, assignment, cents in plan:
        bonus_id = _new_bonus(ps, worker, assignment, cents, reason, "wage")
        report.paid.append((worker.external_id, _pay(ps, platform, bonus_id)))
    return report


# ----------------------------------------------------------------------------- expire


def expire(ps: PlatformStudy, platform) -> int:
    with ps.db.sessions() as session:
        study = session.get(Study, ps.db.study_id)
        if study.platform != platform.name:
            raise BarlowError(f"study {ps.spec.name!r} is not published on {platform.name}")
        ids = list(_published(session, ps, platform.name)) if platform.name == "mturk" else [study.platform_study_id]
    ids = [i for i in ids if i]
    platform.expire(ids)
    return len(ids)

