"""maintenance windows: ``maintenance_windows`` (issue 22)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("matchers", sa.Text(), nullable=False),
        sa.Column("receiver", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.Float(), nullable=False),
        sa.Column("ends_at", sa.Float(), nullable=True),
        sa.Column("time_interval", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("ended_by", sa.Text(), nullable=True),
    )
    op.create_index("ix_maintenance_windows_ends", "maintenance_windows", ["ended_at", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_maintenance_windows_ends", table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
