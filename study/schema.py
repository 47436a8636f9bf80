"""Bring a study database to the schema this Barlow expects: create, stamp or upgrade it.

Study databases hold paid answers for months, so a newer Barlow upgrades an older database
in place with the Alembic revisions in :mod:`study.migrations`. A database made before
migrations existed (tables but no ``alembic_version``) is recognised as the baseline
revision. Several server processes may open one database at once: on SQLite the whole
check-and-upgrade runs under the write lock (``BEGIN IMMEDIATE``, see :mod:`study.db`),
on PostgreSQL under a transaction-level advisory lock, so exactly one of them migrates.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from analysis_core.artifacts.errors import BarlowError

BASELINE = "0001_baseline"
# Any fixed number: it only has to be the same in every Barlow process.
_PG_LOCK_KEY = 0x6261726C6F77


class SchemaError(BarlowError):
    """The database cannot be brought to this Barlow's schema."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "study:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def lock_study_setup(connection: Connection) -> None:
    """Serialize setting up a study database between processes, until the transaction ends.

    SQLite needs nothing more: every transaction there takes the write lock up front.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def upgrade_database(engine: Engine, create: bool = True) -> str:
    """Create, stamp or upgrade the study tables; return the revision the database is at.

    ``create`` False refuses an empty database instead of making tables in it (readers
    such as exports must not create a study that was never served).
    """
    head = head_revision()
    with engine.begin() as connection:
        lock_study_setup(connection)
        current = current_revision(connection)
        if current == head:
            return head
        config = _config(connection)
        if current is None:
            tables = set(inspect(connection).get_table_names())
            if "studies" in tables:
                # Made by create_all before migrations existed: that is the baseline schema.
                command.stamp(config, BASELINE)
            elif not create:
                raise SchemaError(f"the database {engine.url.render_as_string(hide_password=True)} holds no study tables")
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            raise SchemaError(
                f"the study database is at schema revision {current!r}, which this Barlow does not know "
                f"(it was probably written by a newer Barlow; upgrade Barlow): {exc}"
            ) from None
    return head
