"""the console's passwords: ``user_passwords`` (a user's argon2id hash, the role it signs in
as, the stamp its sessions name) and ``signin_failures`` (the throttle of wrong guesses per
user name) (issue 19)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_passwords",
        sa.Column("user_name", sa.String(length=200), primary_key=True),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("stamp", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "signin_failures",
        sa.Column("user_name", sa.String(length=200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("signin_failures")
    op.drop_table("user_passwords")
