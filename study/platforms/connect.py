"""Opening the platform a command names, or the one the study was published on."""

from __future__ import annotations

from sqlalchemy import select

from analysis_core.artifacts.errors import BarlowError
from study.models import Study
from study.platforms.service import PlatformStudy

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
        name, sandbox = study.platform, bool(study.platform_sandbox)
    if not name:
        raise BarlowError(f"study {ps.spec.name!r} is not published on a crowd platform in this database; run 'barlow study publish' first")
    return connect(name, sandbox, ps.crowd.prolific.workspace)
