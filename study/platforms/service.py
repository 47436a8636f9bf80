"""A study opened for a crowd platform, what every platform step shares, and expiring it.

The database is the record of what exists remotely: ``publishing`` writes a HIT's remote id
the moment the platform answers, ``collecting`` keys answers by the platform's assignment
id, ``reviewing`` and ``payments`` remember what the platform was told and paid.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from analysis_core.artifacts.errors import BarlowError
from study.db import StudyDatabase, open_study_database
from study.hits import HitSpec, load_hits
from study.models import Hit, Study
from study.platforms import money
from study.platforms.base import HitListing
from study.platforms.settings import CrowdSettings, crowd_settings
from study.study_file import StudySpec, load_study_file

Say = Callable[[str], None]


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
        reward=money.amount(s.reward),
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


def remote_ids(ps: PlatformStudy, platform) -> list[str]:
    """The platform's ids of what the study published: every HIT, or the one remote study."""
    with ps.db.sessions() as session:
        study = session.get(Study, ps.db.study_id)
        if study.platform != platform.name:
            raise BarlowError(f"study {ps.spec.name!r} is not published on {platform.name}")
        if platform.per_hit:
            ids = list(session.scalars(select(Hit.platform_hit_id).where(Hit.study_id == ps.db.study_id, Hit.platform == platform.name, Hit.platform_hit_id.is_not(None))))
        else:
            ids = [study.platform_study_id]
    return [i for i in ids if i]


def study_money(ps: PlatformStudy) -> tuple[str | None, str]:
    """(remote study id, currency) of the published study, from the database."""
    with ps.db.sessions() as session:
        study = session.get(Study, ps.db.study_id)
        return study.platform_study_id, study.platform_currency or money.MTURK_CURRENCY


def expire(ps: PlatformStudy, platform) -> int:
    ids = remote_ids(ps, platform)
    platform.expire(ids)
    return len(ids)
