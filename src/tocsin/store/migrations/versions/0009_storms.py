"""alert storms: the storms table (a route's incidents over its threshold, held in one
digest carried by a lead incident), the storm an incident was folded into, and an index on
the incidents a route triggered by time (issue 18, item 4)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storms",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("route_id", sa.Text(), nullable=False),
        sa.Column("route_name", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("window_s", sa.Float(), nullable=False),
        sa.Column("last_held_at", sa.Float(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("last_update_at", sa.Float(), nullable=False),
        sa.Column("told_held", sa.Integer(), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_storms_route", "storms", ["route_id", "id"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("storm_id", sa.Integer(), nullable=True))
    op.create_index("ix_incidents_route_triggered", "incidents", ["route_id", "triggered_at"])
    op.create_index("ix_incidents_storm", "incidents", ["storm_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_incidents_storm", table_name="incidents")
    op.drop_index("ix_incidents_route_triggered", table_name="incidents")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("storm_id")
    op.drop_index("ix_storms_route", table_name="storms")
    op.drop_table("storms")
