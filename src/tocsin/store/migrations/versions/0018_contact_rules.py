"""personal notification rules: ``contact_profiles``, ``contact_methods``,
``notification_rules``, ``contact_codes``, ``contact_sends``, and ``notifications.not_before``
(a person's later notification; issue 21)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("not_before", sa.Float(), nullable=True))
    op.create_table(
        "contact_profiles",
        sa.Column("user_name", sa.String(length=200), primary_key=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
    )
    op.create_table(
        "contact_methods",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("verified_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("user_name", "name", name="uq_contact_methods_user_name"),
    )
    op.create_table(
        "notification_rules",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(length=40), nullable=False),
        sa.Column("after_s", sa.Float(), nullable=False),
    )
    op.create_index("ix_notification_rules_user", "notification_rules", ["user_name", "position"])
    op.create_table(
        "contact_codes",
        sa.Column("user_name", sa.String(length=200), primary_key=True),
        sa.Column("method", sa.String(length=40), primary_key=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "contact_sends",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_contact_sends_user", "contact_sends", ["user_name", "kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_contact_sends_user", table_name="contact_sends")
    op.drop_table("contact_sends")
    op.drop_table("contact_codes")
    op.drop_index("ix_notification_rules_user", table_name="notification_rules")
    op.drop_table("notification_rules")
    op.drop_table("contact_methods")
    op.drop_table("contact_profiles")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("not_before")
