"""Collecting submitted work into the answer tables local sessions use, once per platform assignment id."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from analysis_core.artifacts.errors import BarlowError
from study.models import (
    APPROVED,
    REJECTED,
    SUBMITTED,
    Answer,
    Assignment,
    Hit,
    Study,
    Worker,
    utcnow,
)
from study.platforms.base import RemoteAssignment
from study.platforms.service import PlatformStudy
from study.study_file import check_passed, validate_answers
from study.verification import UNCONFIRMED


@dataclass
class CollectReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    # Unconfirmed server answers that the platform's own assignment replaced.
    replaced: list[str] = field(default_factory=list)


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

    def replace_unconfirmed(self, row: Assignment) -> None:
        self.by_remote.pop(row.platform_assignment_id, None)
        for answer in list(row.answers):
            self.session.delete(answer)
        row.platform_assignment_id = None
        self.session.flush()
        self.session.expire(row, ["answers"])

    def add(self, hit: Hit, ra: RemoteAssignment) -> None:
        from study.allocation import new_public_id

        report, now = self.report, utcnow()
        row = self.by_remote.get(ra.assignment_id)
        if row is not None and row.hit_id != hit.id:
            report.invalid.append(f"{ra.assignment_id}: the database holds it under another HIT; left as it is")
            return
        stale = None
        if row is not None and row.status == SUBMITTED:
            # Answered through the study server (ExternalQuestion) or collected before.
            if row.platform_status != UNCONFIRMED or (row.worker.source, row.worker.external_id) == (self.source, ra.worker_id):
                # Listed by the platform for this HIT and worker: confirmed, with its status.
                if _apply_remote_status(row, ra):
                    report.updated += 1
                else:
                    report.unchanged += 1
                return
            # Someone answered under this assignment id with another worker id before the
            # worker it was issued to: the platform's assignment (and its answers) wins.
            report.replaced.append(
                f"{ra.assignment_id}: {self.source} lists it for worker {ra.worker_id}; the unconfirmed answer stored "
                f"under it for worker {row.worker.external_id} was replaced by {self.source}'s"
            )
            self.replace_unconfirmed(row)
            stale, row = row, None
        worker = self.worker(ra.worker_id, now)
        if row is None:
            row = self.by_pair.get((hit.id, worker.id))
            if row is not None and row.status == SUBMITTED and row.platform_status == UNCONFIRMED:
                # The server holds an unconfirmed answer of this worker under an assignment
                # id the platform does not list for it; the platform's assignment replaces it.
                report.replaced.append(
                    f"{ra.assignment_id}: the unconfirmed answer of worker {ra.worker_id} to HIT {hit.key} under "
                    f"assignment id {row.platform_assignment_id} was replaced by {self.source}'s"
                )
                self.replace_unconfirmed(row)
            elif row is not None and row.status == SUBMITTED:
                report.invalid.append(f"{ra.assignment_id}: worker {ra.worker_id} already answered HIT {hit.key} (assignment {row.platform_assignment_id}); not stored twice")
                return
        if stale is not None and row is None:
            # Reuse the forged row for the worker the platform names (it holds the HIT's slot).
            self.by_pair.pop((hit.id, stale.worker_id), None)
            stale.worker = worker
            self.by_pair[(hit.id, worker.id)] = row = stale
        elif stale is not None:
            self.session.delete(stale)
            self.session.flush()
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


def collect_server_answers(ps: PlatformStudy, platform) -> CollectReport:
    """Match the platform's submissions (Prolific) to the answers participants gave on the study server."""
    report = CollectReport()
    with ps.db.sessions() as session:
        remote_study = session.get(Study, ps.db.study_id).platform_study_id
    if not remote_study:
        raise BarlowError(f"study {ps.spec.name!r} has no {platform.name} study in this database; publish it first")
    with ps.db.sessions.begin() as session:
        for sub in platform.collect([remote_study]):
            source, external = platform.worker_key(sub.worker_id)
            worker = session.scalar(select(Worker).where(Worker.source == source, Worker.external_id == external))
            rows = [] if worker is None else session.scalars(
                select(Assignment).join(Hit).where(Hit.study_id == ps.db.study_id, Assignment.worker_id == worker.id, Assignment.status == SUBMITTED)
            ).all()
            if not rows:
                report.invalid.append(f"submission {sub.assignment_id} of participant {sub.worker_id}: no answers on the study server")
                continue
            # The platform's time for the whole submission is what the participant was paid
            # for (pages between HITs included): the wage checks share it out over its HITs.
            share = sub.seconds / len(rows) if sub.seconds else None
            for row in rows:
                if share is not None and row.work_time_seconds != share:
                    row.work_time_seconds = share
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
    if platform.answers_on_server:
        return collect_server_answers(ps, platform)
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
