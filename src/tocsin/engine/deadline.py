"""Acknowledgement deadlines: a severity's time to acknowledge, and what missing it does.

Part of the escalate stage, in the caller's transaction. When an incident triggers (or a more
severe alert joins it) due work ``deadline`` is set to the severity's ``ack_deadline``;
acknowledging or resolving cancels it. When it falls due the miss is recorded and the next
escalation step is brought forward to now.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.engine import escalate
from tocsin.engine.stage import Settings
from tocsin.store import repo


def due(s: Settings, conn: Connection, item: Any, owner: str, now: float) -> None:
    """Due work ``deadline``: done once, whatever it finds."""
    repo.finish(conn, item.id, owner)
    missed(s, conn, item.ref, now)


def missed(s: Settings, conn: Connection, incident_id: int, now: float) -> None:
    """A missed acknowledgement deadline: recorded, and the next step is brought forward
    to now (unless a step fired this very instant: that one is the escalation)."""
    incident = repo.get_incident(conn, incident_id)
    if incident is None or incident.status != "triggered":
        return
    deadline = s.config.paging.deadline_s(incident.severity)
    repo.add_timeline(
        conn,
        incident_id,
        times.to_dt(now),
        "deadline_missed",
        {
            "severity": incident.severity,
            "deadline_s": deadline,
            "triggered_at": times.to_dt(incident.triggered_at).isoformat()
            if incident.triggered_at
            else None,
        },
    )
    fired_at = None
    if incident.escalation:
        fired_at = json.loads(incident.escalation).get("state", {}).get("fired_at")
    if fired_at is not None and fired_at >= now:
        return
    escalate.fire(s, conn, incident_id, now, reason="acknowledgement deadline missed")
