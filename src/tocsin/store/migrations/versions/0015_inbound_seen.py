"""inbound requests seen: ``inbound_seen`` (a signed request from Slack, an SMS gateway or
PagerDuty acts once; a replay is refused; issue 21)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_seen",
        sa.Column("source", sa.String(length=32), primary_key=True),
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("seen_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_inbound_seen_at", "inbound_seen", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_seen_at", table_name="inbound_seen")
    op.drop_table("inbound_seen")
