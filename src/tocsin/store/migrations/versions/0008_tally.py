"""a flush costs what changed, not what the group holds: each incident keeps a tally of its
alerts (JSON; incidents/tally.py), and an incident's alert is marked dirty when it joins or
changes state, so that a flush reads only those (issue 18). Incidents of before this revision
have no tally: their next flush reads all their alerts once and writes one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("tally", sa.Text(), nullable=True))
    with op.batch_alter_table("incident_alerts") as batch:
        batch.add_column(
            sa.Column("dirty", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_incident_alerts_dirty",
        "incident_alerts",
        ["incident_id"],
        sqlite_where=sa.text("dirty"),
        postgresql_where=sa.text("dirty"),
    )


def downgrade() -> None:
    op.drop_index("ix_incident_alerts_dirty", table_name="incident_alerts")
    with op.batch_alter_table("incident_alerts") as batch:
        batch.drop_column("dirty")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("tally")
