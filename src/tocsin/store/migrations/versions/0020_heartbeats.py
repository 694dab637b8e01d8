"""heartbeat monitors' state: ``heartbeats`` (a dead man's switch; issue 22)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=100), nullable=False, unique=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("last_beat", sa.Float(), nullable=True),
        sa.Column("beats", sa.Integer(), nullable=False),
        sa.Column("missed_at", sa.Float(), nullable=True),
        sa.Column("labels", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("heartbeats")
