"""a version counter per kind of shared state that processes cache: ``silences``, bumped by
every write of a silence, keys each process's index of the active silences (issue 18)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    versions = op.create_table(
        "versions",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.bulk_insert(versions, [{"name": "silences", "version": 0}])


def downgrade() -> None:
    op.drop_table("versions")
