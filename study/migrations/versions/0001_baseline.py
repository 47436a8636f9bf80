"""Baseline: the study schema as Barlow 0.1 made it with create_all (before migrations).

Databases made before migrations existed hold exactly these tables; study.schema stamps
them with this revision instead of running it.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_worker_external"),
    )
    op.create_table(
        "hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("grouping", sa.String(length=32), nullable=False),
        sa.Column("class_name", sa.String(length=500), nullable=False),
        sa.Column("feature", sa.Integer(), nullable=False),
        sa.Column("is_attention_check", sa.Boolean(), nullable=False),
        sa.Column("check_id", sa.String(length=64), nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("max_assignments", sa.Integer(), nullable=False),
        sa.Column("platform_hit_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("study_id", "key", name="uq_hit_key"),
    )
    op.create_index("ix_hits_platform_hit_id", "hits", ["platform_hit_id"])
    op.create_index("ix_hits_study_id", "hits", ["study_id"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("hit_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("platform_assignment_id", sa.String(length=128), nullable=True),
        sa.Column("accepted_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("work_time_seconds", sa.Float(), nullable=True),
        sa.Column("attention_passed", sa.Boolean(), nullable=True),
        sa.Column("review", sa.String(length=16), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["hit_id"], ["hits.id"]),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hit_id", "worker_id", name="uq_assignment_hit_worker"),
        sa.UniqueConstraint("public_id"),
        sa.UniqueConstraint("platform_assignment_id"),
    )
    op.create_index("ix_assignments_worker_id", "assignments", ["worker_id"])
    op.create_index("ix_assignments_hit_id", "assignments", ["hit_id"])
    op.create_index("ix_assignments_status", "assignments", ["status"])
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id", "question_id", name="uq_answer_question"),
    )
    op.create_index("ix_answers_assignment_id", "answers", ["assignment_id"])


def downgrade() -> None:
    for table in ("answers", "assignments", "hits", "workers", "studies"):
        op.drop_table(table)
