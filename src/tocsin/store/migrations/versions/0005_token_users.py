"""tokens belong to a user: api_tokens.user_name

Every action is taken by a person: the API records the token's user, not its role. A token
made before this revision acted under its name (the role, unless ``--name`` was given), so it
keeps that name as its user; ``tocsin tokens list`` shows them, and ``tocsin tokens revoke``
retires the ones that should name a person.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "api_tokens", sa.Column("user_name", sa.Text(), nullable=False, server_default="")
    )
    op.execute("UPDATE api_tokens SET user_name = name")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("user_name")
