"""SQLite writers queue for their turn instead of failing on a short busy timeout."""

import threading
import time
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from study.allocation import Allocator
from study.db import open_study_database
from study.models import Worker


def test_writers_of_two_server_processes_take_turns_without_database_is_locked(study_dir, clock):
    # Two databases opened on the same file stand for two server processes: each has its own
    # queue, and the flock on the file beside the database orders them.
    databases = [open_study_database(study_dir, busy_timeout=0.05) for _ in range(2)]
    allocators = [Allocator(db.study_id, timedelta(minutes=30), clock) for db in databases]
    errors = []

    def write(index: int) -> None:
        db, allocator = databases[index % 2], allocators[index % 2]
        try:
            for n in range(10):
                with db.writing() as session:
                    allocator.worker_id(session, f"w{index}-{n}")
                    # Hold the write lock longer than the busy timeout others would wait.
                    time.sleep(0.02)
        except Exception as exc:  # noqa: BLE001 - reported below with its thread
            errors.append(repr(exc))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with databases[0].sessions() as session:
            assert session.scalar(select(func.count(Worker.id))) == 60
    finally:
        for db in databases:
            db.dispose()


def test_without_the_queue_the_same_load_fails_on_database_is_locked(study_dir, clock):
    databases = [open_study_database(study_dir, busy_timeout=0.05) for _ in range(2)]
    allocators = [Allocator(db.study_id, timedelta(minutes=30), clock) for db in databases]
    locked = []

    def write(index: int) -> None:
        db, allocator = databases[index % 2], allocators[index % 2]
        for n in range(10):
            try:
                with db.sessions.begin() as session:  # no queue: BEGIN IMMEDIATE and the busy timeout only
                    allocator.worker_id(session, f"w{index}-{n}")
                    time.sleep(0.02)
            except OperationalError as exc:
                locked.append(str(exc.orig))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for db in databases:
            db.dispose()
    assert locked and all("locked" in m for m in locked)
