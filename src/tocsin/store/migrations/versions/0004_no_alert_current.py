"""the current episode of a fingerprint is its latest alerts row: alert_current goes

Keeping a fingerprint-keyed table beside ix_alerts_fingerprint put a second random B-tree
insert in every new episode, and its pages in every intake's commit (a third of the pages a
batch of new alerts wrote). The latest row of a fingerprint is one seek down
ix_alerts_fingerprint (fingerprint, id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("alert_current")


def downgrade() -> None:
    op.create_table(
        "alert_current",
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    op.execute(
        "INSERT INTO alert_current (fingerprint, alert_id)"
        " SELECT fingerprint, max(id) FROM alerts GROUP BY fingerprint"
    )
