"""Run a request's database work in one transaction, retried when the database is busy.

A busy database (another process holding SQLite's write lock, a PostgreSQL lock timeout,
serialization failure or deadlock, a full connection pool) is retried a few times and then
answered with 503 and ``Retry-After``, never with a stack trace. A unique-constraint race
(the same worker's two requests at once) is retried once: the other request made the row.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from analysis_core.artifacts.errors import BarlowError
from study.db import StudyDatabase

T = TypeVar("T")
RETRY_AFTER_SECONDS = 2
# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available, query_canceled,
# too_many_connections, cannot_connect_now.
_PG_BUSY = {"40001", "40P01", "55P03", "57014", "53300", "57P03"}
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")


class DatabaseBusy(BarlowError):
    """The database stayed busy through every retry; the web layer answers 503 with Retry-After."""

    retry_after = RETRY_AFTER_SECONDS

    def __init__(self, message: str = "the study's database is busy right now; your answer was not stored, please send it again in a moment"):
        super().__init__(message)


def is_busy(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in _PG_BUSY:
        return True
    return isinstance(exc, OperationalError) and any(m in str(exc.orig).lower() for m in _SQLITE_BUSY)


def in_transaction(db: StudyDatabase, work: Callable[[Session], T], attempts: int = 3, direct: bool = False) -> T:
    """``work(session)`` in a write transaction of ``db``, committed when it returns.

    ``direct``: the session is a :class:`~study.direct_sql.DirectSession` (statements on the
    DBAPI cursor, for the worker's hot path) instead of an ORM session.
    """
    integrity_retried = False
    for attempt in range(attempts):
        try:
            with db.writing_direct() if direct else db.writing() as session:
                return work(session)
        except IntegrityError:
            if integrity_retried:
                raise
            integrity_retried = True
        except (DBAPIError, PoolTimeout) as exc:
            if not is_busy(exc):
                raise
            if attempt == attempts - 1:
                raise DatabaseBusy() from None
            time.sleep(0.05 * 2**attempt)
    raise DatabaseBusy()
