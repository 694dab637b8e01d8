"""postmortems and post-incident duties: the postmortem's status on the incident; the duty an
action item carries out (report, postmortem, meeting) and when its owner is reminded

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("postmortem_status", sa.String(length=16), nullable=True))
    with op.batch_alter_table("action_items") as batch:
        batch.add_column(sa.Column("duty", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("remind_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("action_items") as batch:
        batch.drop_column("remind_at")
        batch.drop_column("duty")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("postmortem_status")
