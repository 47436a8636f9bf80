"""Alembic environment: always run on a connection handed over by study.schema."""

from alembic import context

from study.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run study migrations through study.schema.upgrade_database, which passes a connection")

# render_as_batch: SQLite cannot ALTER most things, so later revisions copy-and-move tables.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
