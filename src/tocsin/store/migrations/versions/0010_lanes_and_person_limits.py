"""the priority lane of deliveries (due_work.priority, claimed smallest first) and each
person's limit per channel: the token buckets replicas share and what they held back until a
summary told it (issue 18)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("due_work") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_due_work_lane", "due_work", ["kind", "priority", "due_at"])
    op.create_table(
        "contact_buckets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.UniqueConstraint("person", "channel", name="uq_contact_buckets_person_channel"),
    )
    op.create_table(
        "held_back",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("bucket_id", sa.Integer(), sa.ForeignKey("contact_buckets.id"), nullable=False),
        sa.Column(
            "notification_id", sa.Integer(), sa.ForeignKey("notifications.id"), nullable=False
        ),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("summary_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_held_back_bucket", "held_back", ["bucket_id", "summary_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_held_back_bucket", table_name="held_back")
    op.drop_table("held_back")
    op.drop_table("contact_buckets")
    op.drop_index("ix_due_work_lane", table_name="due_work")
    with op.batch_alter_table("due_work") as batch:
        batch.drop_column("priority")
