"""incident response: title, communication stage, assignee and commander, status updates,
reopening, action items

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("title", sa.Text()),
    ("stage", sa.String(length=16)),
    ("assignee", sa.Text()),
    ("commander", sa.Text()),
    ("last_update_at", sa.Float()),
    ("reopened_at", sa.Float()),
)


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_index("ix_incidents_status", "incidents", ["status", "id"])
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_action_items_incident", "action_items", ["incident_id", "id"])
    op.create_index("ix_action_items_status", "action_items", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_action_items_status", table_name="action_items")
    op.drop_index("ix_action_items_incident", table_name="action_items")
    op.drop_table("action_items")
    op.drop_index("ix_incidents_status", table_name="incidents")
    with op.batch_alter_table("incidents") as batch:
        for name, _kind in reversed(_COLUMNS):
            batch.drop_column(name)
