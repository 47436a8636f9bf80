"""Crowd money: the account currency, the remote study's name before it exists, the pay-sent mark.

Adds ``studies.platform_currency`` (the currency rewards and bonuses are paid in),
``studies.platform_internal_name`` (written before a Prolific draft is created, so a rerun
looks that draft up instead of creating another) and ``bonuses.pay_sent_at`` (written
before a payment call; with no ``paid_at`` it marks a payment whose outcome is unknown).
MTurk studies published before this revision were paid in US dollars; a Prolific study's
currency is its workspace's (GBP or USD), which only Prolific knows: it is left empty here
and read from Prolific by the next command that connects to it.

Revision ID: 0003_platform_money
Revises: 0002_crowd_platforms
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_platform_money"
down_revision = "0002_crowd_platforms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in ("studies", "bonuses")}
    if "platform_currency" not in columns["studies"]:
        op.add_column("studies", sa.Column("platform_currency", sa.String(length=3), nullable=True))
        op.execute("UPDATE studies SET platform_currency = 'USD' WHERE platform = 'mturk'")
    if "platform_internal_name" not in columns["studies"]:
        op.add_column("studies", sa.Column("platform_internal_name", sa.String(length=255), nullable=True))
    if "pay_sent_at" not in columns["bonuses"]:
        op.add_column("bonuses", sa.Column("pay_sent_at", sa.DateTime(), nullable=True))
        # A Prolific bonus left unpaid by an earlier version after its set-up may have been
        # paid (those versions sent pay again): its outcome is unknown. The others were
        # never set up (nothing paid) or are MTurk's (resent with their token).
        op.execute("UPDATE bonuses SET pay_sent_at = created_at WHERE paid_at IS NULL AND remote_id IS NOT NULL")


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and newer): a batch copy of "studies" would drop
    # a table the HITs' foreign keys point at, which SQLite refuses once it holds a study.
    op.drop_column("bonuses", "pay_sent_at")
    for column in ("platform_internal_name", "platform_currency"):
        op.drop_column("studies", column)
