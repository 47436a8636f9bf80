"""Opening the platform a command names, or the one the study was published on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from analysis_core.artifacts.errors import BarlowError
from study.models import Study
from study.platforms.service import PlatformStudy
from study.verification import AssignmentVerifier

PLATFORMS = ("mturk", "prolific")


def connect(name: str, sandbox: bool, workspace: str | None = None):
    if name == "mturk":
        from study.platforms.mturk import MTurk

        return MTurk(sandbox=sandbox)
    if name == "prolific":
        from study.platforms.prolific import Prolific

        if sandbox:
            raise BarlowError("Prolific has no sandbox: test with a small 'places' in study.yaml (crowd.prolific.places) instead")
        return Prolific.from_environment(workspace)
    raise BarlowError(f"unknown platform {name!r}; use one of {', '.join(PLATFORMS)}")


def published_platform(ps: PlatformStudy):
    """The platform the study was published on (from the database), connected."""
    with ps.db.sessions() as session:
        study = session.scalar(select(Study).where(Study.id == ps.db.study_id))
        name, sandbox, currency = study.platform, bool(study.platform_sandbox), study.platform_currency
    if not name:
        raise BarlowError(f"study {ps.spec.name!r} is not published on a crowd platform in this database; run 'barlow study publish' first")
    platform = connect(name, sandbox, ps.crowd.prolific.workspace)
    if currency is None:
        # Published before Barlow stored currencies: the account's (a Prolific workspace's GBP or USD).
        with ps.db.sessions.begin() as session:
            session.get(Study, ps.db.study_id).platform_currency = platform.currency()
    return platform


def _verifier_factories() -> dict[str, Any]:
    from study.platforms import mturk, prolific

    return {"mturk": mturk.assignment_verifier, "prolific": prolific.assignment_verifier}


def load_verifier(platform: str | None, settings: Any = None) -> AssignmentVerifier | None:
    """The verifier of the named platform's adapter, made by its ``assignment_verifier(settings)``.

    None when no platform is configured; a clear error when the platform has no adapter.
    """
    if not platform:
        return None
    factories = _verifier_factories()
    factory = factories.get(platform)
    if factory is None:
        raise BarlowError(f"no adapter for crowd platform {platform!r}; Barlow has {', '.join(sorted(factories))}")
    verifier = factory(settings)
    if not isinstance(verifier, AssignmentVerifier):
        raise BarlowError(f"the {platform!r} platform adapter's assignment_verifier did not return a verifier")
    return verifier


def study_verifier(study_dir, database_url: str | None = None) -> AssignmentVerifier | None:
    """The verifier for the platform the study was published to (``studies.platform``), if any."""
    from study.db import open_study_database
    from study.models import Study

    db = open_study_database(study_dir, database_url)
    try:
        with db.reads() as session:
            study = session.get(Study, db.study_id)
            platform = study.platform if study is not None else None
            if platform:
                session.expunge(study)
    finally:
        db.dispose()
    return load_verifier(platform, study) if platform else None
