"""paging: incident acknowledgement and escalation, the notification outbox, overrides

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("severity", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("triggered_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("acknowledged_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("acknowledged_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("escalation", sa.Text(), nullable=True))
        batch.add_column(sa.Column("channels", sa.Text(), nullable=True))
    op.execute("UPDATE incidents SET status = 'triggered' WHERE status = 'firing'")
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("fallback_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_notifications_incident", "notifications", ["incident_id", "id"])
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attempts_notification", "notification_attempts", ["notification_id", "id"])
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("replaces", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.Float(), nullable=False),
        sa.Column("ends_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_overrides_schedule", "overrides", ["schedule", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_overrides_schedule", table_name="overrides")
    op.drop_table("overrides")
    op.drop_index("ix_attempts_notification", table_name="notification_attempts")
    op.drop_table("notification_attempts")
    op.drop_index("ix_notifications_incident", table_name="notifications")
    op.drop_table("notifications")
    op.execute(
        "UPDATE incidents SET status = 'firing' WHERE status IN ('triggered', 'acknowledged')"
    )
    with op.batch_alter_table("incidents") as batch:
        for name in (
            "channels",
            "escalation",
            "resolved_by",
            "acknowledged_by",
            "acknowledged_at",
            "triggered_at",
            "severity",
        ):
            batch.drop_column(name)
