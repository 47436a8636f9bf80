"""What every request of the study app needs: the study, its database, the allocator and the worker flow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app

from study.allocation import Allocator, Clock
from study.db import StudyDatabase
from study.study_file import StudySpec
from study.verification import AssignmentVerifier
from study.worker_flow import WorkerFlow

EXTENSION_KEY = "barlow_study"


@dataclass
class StudyContext:
    study_dir: Path
    spec: StudySpec
    db: StudyDatabase
    allocator: Allocator
    # What the worker pages do (SQL, answer checks), with the HITs read once.
    flow: WorkerFlow
    clock: Clock
    admin_token: str | None
    # Crowd mode after resolving "auto": off, open (capped) or closed (verified).
    crowd_mode: str = "open"
    verifier: AssignmentVerifier | None = None
    # Origins turkSubmitTo may name: Mechanical Turk's, plus any given at serve time.
    submit_origins: tuple[str, ...] = ()

    @property
    def timeout(self) -> timedelta:
        return self.allocator.timeout


def study_context() -> StudyContext:
    return current_app.extensions[EXTENSION_KEY]
