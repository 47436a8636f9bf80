"""Connecting to a study's database: SQLite in the study folder by default, any SQLAlchemy URL.

SQLite runs in WAL mode (readers never block the one writer) and every transaction starts
with ``BEGIN IMMEDIATE`` so that two workers grabbing the last open slot of a HIT are
serialized by the database rather than by luck. Other backends lock the HIT row instead
(see :mod:`study.allocation`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: one server process only (waitress), the thread lock suffices.
    fcntl = None

from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.study_folder import DB_FILE
from study.direct_sql import DirectSession, StatementPlans, direct_transaction
from study.hits import HitSpec, load_hits
from study.models import SUBMITTED, Assignment, Hit, Study
from study.schema import lock_study_setup, upgrade_database
from study.study_file import StudySpec, load_study_file


def default_database_url(study_dir: str | Path) -> str:
    return f"sqlite:///{(Path(study_dir) / DB_FILE).resolve()}"


DEFAULT_BUSY_TIMEOUT = 5.0
READ_ONLY_OPTION = "barlow_read_only"


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's begin event (below) issue BEGIN itself; pysqlite's implicit
        # transactions would start too late to take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # How long to wait for another process's write lock before "database is locked";
        # the web layer then retries and answers 503 (study.web.transactions).
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # Readers (see StudyDatabase.reads) need no lock in WAL mode; only writers queue.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY_OPTION) else "BEGIN IMMEDIATE")


def make_engine(database_url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, pool_size: int | None = None) -> Engine:
    """An engine for ``database_url``; ``busy_timeout`` seconds bound waiting for a lock."""
    kwargs = {}
    if not database_url.startswith("sqlite"):
        # Server backends: give up on a lock after busy_timeout instead of waiting forever.
        if database_url.startswith("postgresql"):
            kwargs["connect_args"] = {"options": f"-c lock_timeout={int(busy_timeout * 1000)}"}
        if pool_size is not None:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=busy_timeout)
    try:
        engine = create_engine(database_url, future=True, **kwargs)
    except (ArgumentError, ModuleNotFoundError, ImportError) as exc:
        raise BarlowError(f"cannot use database URL {database_url!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, busy_timeout)
    return engine


class SQLiteWriterQueue:
    """Writers of one SQLite file wait their turn in a queue instead of polling for the lock.

    SQLite's busy handler sleeps and retries (1, 2, 5, 10 ... 100 ms) while another
    connection holds the write lock, so under a crowd a writer wakes up long after the lock
    was free and p99 latency is mostly sleeping. Here the threads of a process queue on a
    lock and the processes on an ``flock`` of a file beside the database; the kernel wakes
    the next one the moment the lock is given back. The database's own lock (BEGIN
    IMMEDIATE) still guards correctness: writers outside the queue (the CLI) stay safe.
    """

    def __init__(self, path: Path):
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def _file(self) -> int:
        # A file descriptor opened before a fork is shared with the child: open our own.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._threads:
            fd = self._file() if fcntl is not None else None
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._threads:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


def _writer_queue(url: str) -> SQLiteWriterQueue | None:
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
    if not path or path.startswith((":memory:", "file:")):
        return None
    return SQLiteWriterQueue(Path(path + "-writers"))


@dataclass
class StudyDatabase:
    """An open study database: the engine, session factories and the study's row id.

    ``sessions`` is for work that may write; ``reads`` for pages and exports that only
    read (on SQLite they do not queue for the write lock); ``lookups`` for a read of one
    statement, which needs no transaction around it: on a server backend it runs in
    autocommit, saving the BEGIN and ROLLBACK round trips (on SQLite it is ``reads``).
    """

    engine: Engine
    sessions: sessionmaker[Session]
    study_id: int
    url: str
    reads: sessionmaker[Session] | None = None
    writers: SQLiteWriterQueue | None = field(default=None, repr=False)
    lookups: sessionmaker[Session] | None = None
    plans: StatementPlans | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.plans is None:
            self.plans = StatementPlans(self.engine)
        if self.reads is None:
            self.reads = sessionmaker(self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False)
        if self.lookups is None:
            # pysqlite's connections are already in autocommit (see _configure_sqlite); an
            # isolation level set per checkout would be reset on return with a PRAGMA.
            autocommit = self.engine.dialect.name != "sqlite"
            self.lookups = sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False) if autocommit else self.reads
        if self.writers is None and self.engine.dialect.name == "sqlite":
            self.writers = _writer_queue(self.url)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session in a write transaction, committed at the end; SQLite writers queue first."""
        with self._writer_turn(), self.sessions.begin() as session:
            yield session

    @contextmanager
    def writing_direct(self) -> Iterator[DirectSession]:
        """:meth:`writing` for statements run on the DBAPI cursor (see study.direct_sql)."""
        begin = "BEGIN IMMEDIATE" if self.engine.dialect.name == "sqlite" else None
        with self._writer_turn(), direct_transaction(self.engine, self.plans, begin) as session:
            yield session

    def _writer_turn(self) -> AbstractContextManager:
        return self.writers.turn() if self.writers is not None else nullcontext()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.writers is not None:
            self.writers.close()


def _reconcile_assignments(session: Session, study: Study, wanted: int) -> None:
    """Make every HIT ask for ``wanted`` assignments, as study.yaml now says.

    Refused when some HIT already holds more submitted answers than that: those answers
    were paid for and are kept, so the setting cannot go below them.
    """
    changed = session.scalar(select(func.count(Hit.id)).where(Hit.study_id == study.id, Hit.max_assignments != wanted))
    if not changed:
        return
    most = session.scalar(
        select(func.max(func.coalesce(select(func.count(Assignment.id)).where(Assignment.hit_id == Hit.id, Assignment.status == SUBMITTED).scalar_subquery(), 0)))
        .where(Hit.study_id == study.id)
    ) or 0
    if wanted < most:
        raise BarlowError(
            f"study.yaml sets hit.assignments_per_hit to {wanted}, but a HIT of study {study.name!r} already has "
            f"{most} submitted answers; set it to {most} or more (answers already collected are kept)"
        )
    session.execute(update(Hit).where(Hit.study_id == study.id).values(max_assignments=wanted))


def sync_hits(session: Session, spec: StudySpec, hits: list[HitSpec]) -> int:
    """Insert the study row and any HIT not yet in the database; return the study id.

    Existing HIT rows keep their content (answers already collected refer to them); the
    settings edited in study.yaml since (title, assignments per HIT) are reconciled into
    the database, or refused with the reason when they cannot be.
    """
    study = session.scalar(select(Study).where(Study.name == spec.name))
    if study is None:
        study = Study(name=spec.name, title=spec.settings.title, settings=spec.to_dict()["hit"])
        session.add(study)
        session.flush()
    else:
        study.title = spec.settings.title
        study.settings = spec.to_dict()["hit"]
        _reconcile_assignments(session, study, spec.settings.assignments_per_hit)
    existing = {h.key: h for h in session.scalars(select(Hit).where(Hit.study_id == study.id))}
    for h in hits:
        old = existing.get(h.key)
        if old is not None and (old.grouping, old.class_name, old.feature) != (h.grouping, h.class_name, h.feature):
            raise BarlowError(
                f"the database already holds a different study named {spec.name!r} (HIT {h.key} shows "
                f"{old.grouping}/{old.class_name}/feature {old.feature} there); give this study another 'name' in study.yaml"
            )
    for position, h in enumerate(hits):
        if h.key in existing:
            continue
        session.add(
            Hit(
                study_id=study.id,
                key=h.key,
                position=position,
                grouping=h.grouping,
                class_name=h.class_name,
                feature=h.feature,
                is_attention_check=h.is_attention_check,
                check_id=h.check_id,
                images=dict(h.images),
                max_assignments=spec.settings.assignments_per_hit,
            )
        )
    return study.id


def open_study_database(
    study_dir: str | Path,
    database_url: str | None = None,
    spec: StudySpec | None = None,
    create: bool = True,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    pool_size: int | None = None,
) -> StudyDatabase:
    """Open (and with ``create``, set up and fill) the database of the study in ``study_dir``."""
    study_dir = Path(study_dir)
    spec = spec or load_study_file(study_dir)
    url = database_url or default_database_url(study_dir)
    if not create and url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        raise BarlowError(f"no database at {url[len('sqlite:///'):]}; serve the study first or pass --database-url")
    engine = make_engine(url, busy_timeout=busy_timeout, pool_size=pool_size)
    sessions = sessionmaker(engine, expire_on_commit=False)
    try:
        upgrade_database(engine, create=create)
        if create:
            with sessions.begin() as session:
                # Server processes starting together must not both insert the study's rows.
                lock_study_setup(session.connection())
                study_id = sync_hits(session, spec, load_hits(study_dir))
        else:
            with sessions() as session:
                study = session.scalar(select(Study).where(Study.name == spec.name))
                if study is None:
                    raise BarlowError(f"study {spec.name!r} is not in the database {url}")
                study_id = study.id
    except OperationalError as exc:
        engine.dispose()
        raise BarlowError(f"cannot open the study database {url}: {exc.orig}") from None
    except BaseException:
        engine.dispose()
        raise
    return StudyDatabase(engine=engine, sessions=sessions, study_id=study_id, url=url)
