"""Crowd platforms: where a study and its HITs are published, what the platform was told and paid.

Adds the study's platform, sandbox flag and remote id (MTurk HIT type / Prolific study),
each HIT's platform and publish time, each assignment's platform status, the review sent
to the platform and the bonus paid on it, and the bonuses table (one row per payment,
with the unique token that keeps a retried payment from being paid twice).

Revision ID: 0002_crowd_platforms
Revises: 0001_baseline
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_crowd_platforms"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database stamped at the baseline may have been made by create_all from models that
    # already had these columns; add only what is missing.
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in ("studies", "hits", "assignments")}

    def add(table: str, column: sa.Column) -> None:
        if column.name not in columns[table]:
            op.add_column(table, column)

    add("studies", sa.Column("platform", sa.String(length=32), nullable=True))
    add("studies", sa.Column("platform_sandbox", sa.Boolean(), nullable=True))
    add("studies", sa.Column("platform_study_id", sa.String(length=128), nullable=True))
    add("hits", sa.Column("platform", sa.String(length=32), nullable=True))
    add("hits", sa.Column("published_at", sa.DateTime(), nullable=True))
    add("assignments", sa.Column("platform_review", sa.String(length=16), nullable=True))
    add("assignments", sa.Column("platform_status", sa.String(length=32), nullable=True))
    # Existing rows paid no bonus: the server default fills them, new rows get the model's 0.
    add("assignments", sa.Column("bonus_cents", sa.Integer(), nullable=False, server_default="0"))
    if "bonuses" in tables:
        return
    op.create_table(
        "bonuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("remote_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"]),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"]),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_bonuses_study_id", "bonuses", ["study_id"])
    op.create_index("ix_bonuses_worker_id", "bonuses", ["worker_id"])


def downgrade() -> None:
    op.drop_table("bonuses")
    with op.batch_alter_table("assignments") as batch:
        for column in ("bonus_cents", "platform_status", "platform_review"):
            batch.drop_column(column)
    with op.batch_alter_table("hits") as batch:
        for column in ("published_at", "platform"):
            batch.drop_column(column)
    with op.batch_alter_table("studies") as batch:
        for column in ("platform_study_id", "platform_sandbox", "platform"):
            batch.drop_column(column)
