"""What every request of the study app needs: the study, its database and the allocator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app

from study.allocation import Allocator, Clock
from study.db import StudyDatabase
from study.hits import HitSpec
from study.study_file import StudySpec

EXTENSION_KEY = "barlow_study"


@dataclass
class StudyContext:
    study_dir: Path
    spec: StudySpec
    hits: dict[str, HitSpec]
    db: StudyDatabase
    allocator: Allocator
    clock: Clock
    admin_token: str | None

    @property
    def timeout(self) -> timedelta:
        return self.allocator.timeout


def study_context() -> StudyContext:
    return current_app.extensions[EXTENSION_KEY]
