"""a Slack app's message per incident and conversation: ``slack_messages`` (the message that
later ones edit in place and reply under; issue 21)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_messages",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("channel", sa.String(length=200), primary_key=True),
        sa.Column("conversation", sa.String(length=200), primary_key=True),
        sa.Column("slack_channel", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_slack_messages_ts", "slack_messages", ["slack_channel", "ts"])


def downgrade() -> None:
    op.drop_index("ix_slack_messages_ts", table_name="slack_messages")
    op.drop_table("slack_messages")
