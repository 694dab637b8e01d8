"""an incident's alerts keep what the timeline last said of each (fired, resolved, silenced,
inhibited) and whether a flush sent it as firing, so that a flush writes one timeline event
with counts instead of one per alert; an index on the timeline's (incident_id, kind, id), so
that the figures read their kinds alone (issue 18)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 12:40:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# the per-alert kinds the timeline held before this revision, and the state each names
_KINDS = {
    "alert_fired": "fired",
    "alert_resolved": "resolved",
    "silenced": "silenced",
    "inhibited": "inhibited",
}


def upgrade() -> None:
    op.create_index("ix_timeline_incident_kind", "timeline", ["incident_id", "kind", "id"])
    with op.batch_alter_table("incident_alerts") as batch:
        batch.add_column(sa.Column("said", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("sent", sa.Boolean(), nullable=False, server_default=sa.false()))
    # the open incidents' states, from their timelines as they were written until now
    conn = op.get_bind()
    open_ids = [
        r[0] for r in conn.execute(sa.text("SELECT id FROM incidents WHERE status != 'resolved'"))
    ]
    kinds = ",".join(f"'{k}'" for k in ("group_flushed", *_KINDS))
    for incident_id in open_ids:
        said: dict[str, str] = {}
        sent: set[str] = set()
        rows = conn.execute(
            sa.text(
                f"SELECT kind, detail FROM timeline WHERE incident_id = :i AND kind IN ({kinds})"
                " ORDER BY id"
            ),
            {"i": incident_id},
        )
        for kind, text in rows:
            detail = json.loads(text)
            if kind == "group_flushed":
                sent.update(
                    e["fingerprint"] for e in detail.get("firing", []) if "fingerprint" in e
                )
            elif "fingerprint" in detail:
                said[detail["fingerprint"]] = _KINDS[kind]
        for fp in set(said) | sent:
            conn.execute(
                sa.text(
                    "UPDATE incident_alerts SET said = :said, sent = :sent"
                    " WHERE incident_id = :i AND fingerprint = :fp"
                ),
                {"said": said.get(fp), "sent": fp in sent, "i": incident_id, "fp": fp},
            )


def downgrade() -> None:
    op.drop_index("ix_timeline_incident_kind", table_name="timeline")
    with op.batch_alter_table("incident_alerts") as batch:
        batch.drop_column("sent")
        batch.drop_column("said")
