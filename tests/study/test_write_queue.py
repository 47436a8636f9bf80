"""SQLite writers queue for their turn instead of failing on a short busy timeout."""

import threading
import time
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from study.allocation import Allocator
from study.db import open_study_database
from study.models import Worker


def write_from_two_processes(study_dir, clock, queued: bool) -> tuple[list[str], int]:
    """Six threads over two databases opened on one file (two server processes: each has its
    own queue, the flock on the file beside the database orders them), ten writes each, every
    write holding the lock longer than the 50 ms others would wait for it. Returns the
    errors and the worker rows stored."""
    databases = [open_study_database(study_dir, busy_timeout=0.05) for _ in range(2)]
    allocators = [Allocator(db.study_id, timedelta(minutes=30), clock) for db in databases]
    errors: list[str] = []

    def write(index: int) -> None:
        db, allocator = databases[index % 2], allocators[index % 2]
        for n in range(10):
            try:
                # Without the queue: BEGIN IMMEDIATE and the busy timeout only.
                with db.writing() if queued else db.sessions.begin() as session:
                    allocator.worker_id(session, f"w{index}-{n}")
                    time.sleep(0.02)
            except OperationalError as exc:
                errors.append(str(exc.orig))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with databases[0].sessions() as session:
            return errors, session.scalar(select(func.count(Worker.id)))
    finally:
        for db in databases:
            db.dispose()


def test_writers_of_two_server_processes_take_turns_without_database_is_locked(study_dir, clock):
    assert write_from_two_processes(study_dir, clock, queued=True) == ([], 60)


def test_without_the_queue_the_same_writes_fail_on_database_is_locked(study_dir, clock):
    errors, stored = write_from_two_processes(study_dir, clock, queued=False)
    assert errors and all("locked" in e for e in errors) and stored == 60 - len(errors)
