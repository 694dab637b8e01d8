"""SMS and calls sent: ``sms_sent`` (what a Twilio-shaped gateway answered, so that replies,
key presses and delivery status callbacks find the incident and the person; issue 21)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_sent",
        sa.Column("sid", sa.String(length=64), primary_key=True),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("sent_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_sms_sent_to_number", "sms_sent", ["to_number", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_sms_sent_to_number", table_name="sms_sent")
    op.drop_table("sms_sent")
