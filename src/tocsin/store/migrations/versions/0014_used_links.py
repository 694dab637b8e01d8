"""action links used: ``used_links`` (a link to acknowledge or resolve from a message acts
once; issue 21)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 07:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_links",
        sa.Column("nonce", sa.String(length=64), primary_key=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("used_by", sa.Text(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("used_links")
