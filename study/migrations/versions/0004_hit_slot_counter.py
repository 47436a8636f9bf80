"""A count of taken slots on each HIT, kept by the database itself; a worker's assignments by status.

Adds ``hits.taken``: how many of the HIT's assignments are assigned or submitted (not
released), the number the search for a worker's next HIT orders by. Counting them per HIT
on every search cost a scan of each HIT's assignments, so the search grew with the study
and the assignments given out. Triggers
on ``assignments`` keep the count, on SQLite and PostgreSQL, whatever writes the rows (the
allocator, collecting from a platform, a tool outside Barlow); other databases get the
column without triggers and keep counting (see study.allocation).

The index of assignments by worker becomes one by (worker, status): counting what a worker
has answered read every submitted assignment of the study when PostgreSQL's planner, with
no statistics yet, chose the index by status.

Revision ID: 0004_hit_slot_counter
Revises: 0003_platform_money
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_hit_slot_counter"
down_revision = "0003_platform_money"
branch_labels = None
depends_on = None

# The statuses that hold a slot (study.models ASSIGNED, SUBMITTED), written out: a revision
# must keep meaning what it meant when it was written.
_TAKEN = "('assigned', 'submitted')"
_BACKFILL = f"UPDATE hits SET taken = (SELECT count(*) FROM assignments WHERE assignments.hit_id = hits.id AND assignments.status IN {_TAKEN})"

_SQLITE_TRIGGERS = {
    "barlow_slots_insert": f"""
        CREATE TRIGGER barlow_slots_insert AFTER INSERT ON assignments WHEN NEW.status IN {_TAKEN}
        BEGIN UPDATE hits SET taken = taken + 1 WHERE id = NEW.hit_id; END""",
    "barlow_slots_delete": f"""
        CREATE TRIGGER barlow_slots_delete AFTER DELETE ON assignments WHEN OLD.status IN {_TAKEN}
        BEGIN UPDATE hits SET taken = taken - 1 WHERE id = OLD.hit_id; END""",
    "barlow_slots_update": f"""
        CREATE TRIGGER barlow_slots_update AFTER UPDATE OF status, hit_id ON assignments
        WHEN OLD.hit_id != NEW.hit_id OR (OLD.status IN {_TAKEN}) != (NEW.status IN {_TAKEN})
        BEGIN
            UPDATE hits SET taken = taken - 1 WHERE id = OLD.hit_id AND OLD.status IN {_TAKEN};
            UPDATE hits SET taken = taken + 1 WHERE id = NEW.hit_id AND NEW.status IN {_TAKEN};
        END""",
}

# One function for the three events; an UPDATE that keeps the slot where it was (assigned
# to submitted, the common case) writes nothing.
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION barlow_count_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hit_id = NEW.hit_id AND (OLD.status IN {_TAKEN}) = (NEW.status IN {_TAKEN}) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN {_TAKEN} THEN
        UPDATE hits SET taken = taken - 1 WHERE id = OLD.hit_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status IN {_TAKEN} THEN
        UPDATE hits SET taken = taken + 1 WHERE id = NEW.hit_id;
    END IF;
    RETURN NULL;
END $$"""
_PG_TRIGGER = "CREATE TRIGGER barlow_slots AFTER INSERT OR DELETE OR UPDATE OF status, hit_id ON assignments FOR EACH ROW EXECUTE FUNCTION barlow_count_slots()"


def upgrade() -> None:
    bind = op.get_bind()
    if "taken" not in {c["name"] for c in sa.inspect(bind).get_columns("hits")}:
        # (A database made by create_all from newer models has it already.)
        op.add_column("hits", sa.Column("taken", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_assignments_worker_status", "assignments", ["worker_id", "status"], if_not_exists=True)
    op.drop_index("ix_assignments_worker_id", table_name="assignments", if_exists=True)
    if bind.dialect.name == "sqlite":
        for name, sql in _SQLITE_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(sql)
    elif bind.dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute("DROP TRIGGER IF EXISTS barlow_slots ON assignments")
        op.execute(_PG_TRIGGER)
    # Counted after the triggers exist: creating them locked ``assignments`` against writes
    # until this transaction commits (SQLite: the write lock is held), so no write is missed.
    op.execute(_BACKFILL)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS barlow_slots ON assignments")
        op.execute("DROP FUNCTION IF EXISTS barlow_count_slots()")
    op.create_index("ix_assignments_worker_id", "assignments", ["worker_id"])
    op.drop_index("ix_assignments_worker_status", table_name="assignments")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and newer): a batch copy of "hits" would drop
    # a table the assignments' foreign keys point at, which SQLite refuses.
    op.drop_column("hits", "taken")
