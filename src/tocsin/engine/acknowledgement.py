"""Acknowledgement: a person takes the incident, escalation stops; the acknowledgement may
lapse (due work ``ack_timeout``), and then escalation starts again.

Part of the escalate stage, in the caller's transaction. Whether the status may change is
``incidents.lifecycle.transition`` (pure); this writes the change, cancels or schedules the
due work that follows from it, and tells the incident's channels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.engine import escalate, messages, storm
from tocsin.engine.stage import Settings
from tocsin.incidents.lifecycle import Refusal, transition
from tocsin.oncall.escalation import Policy
from tocsin.store import outbox, repo
from tocsin.store.kinds import ACK_TIMEOUT, ESCALATION_KINDS


def acknowledge(
    s: Settings,
    conn: Connection,
    incident_id: int,
    by: str,
    now: float,
    detail: Mapping[str, Any] | None = None,
) -> str | None:
    """Stop escalation; None when done (or done before), else why not. ``detail``: more of
    what the timeline's ``acknowledged`` row says beside ``by`` (where it came from)."""
    incident = repo.get_incident(conn, incident_id, lock=True)
    moved = transition(incident.status if incident is not None else None, "acknowledge")
    if isinstance(moved, Refusal):
        return moved.reason
    if moved == incident.status:
        return None  # idempotent
    repo.update_incident(conn, incident_id, status=moved, acknowledged_at=now, acknowledged_by=by)
    outbox.cancel(conn, ESCALATION_KINDS, incident_id)
    repo.add_timeline(
        conn, incident_id, times.to_dt(now), "acknowledged", {"by": by, **(detail or {})}
    )
    escalate.cancel_later(conn, incident_id, now, "acknowledged")  # people's later rules
    snapshot = json.loads(incident.escalation) if incident.escalation else None
    timeout = snapshot["policy"].get("ack_timeout_s") if snapshot else None
    if timeout:
        outbox.schedule(conn, ACK_TIMEOUT, [incident_id], now + float(timeout))
    storm.acknowledged(conn, incident_id, now)  # a storm's lead: its held incidents too
    incident = repo.get_incident(conn, incident_id)
    messages.to_channels(
        s,
        conn,
        incident,
        "acknowledged",
        messages.channels_of(incident),
        now,
        f"ack:{now:.6f}",
        actor=by,
    )
    return None


def due(s: Settings, conn: Connection, item: Any, owner: str, now: float) -> None:
    """Due work ``ack_timeout``: done once, whatever it finds."""
    repo.finish(conn, item.id, owner)
    lapsed(s, conn, item.ref, now)


def lapsed(s: Settings, conn: Connection, incident_id: int, now: float) -> None:
    """An acknowledgement that lapsed: the incident triggers again and escalation restarts
    from its first step with the same snapshot."""
    incident = repo.get_incident(conn, incident_id)
    if incident is None or not incident.escalation:
        return
    moved = transition(incident.status, "ack_timeout")
    if isinstance(moved, Refusal):
        return
    snapshot = json.loads(incident.escalation)
    repo.update_incident(
        conn, incident_id, status=moved, acknowledged_at=None, acknowledged_by=None
    )
    repo.add_timeline(
        conn,
        incident_id,
        times.to_dt(now),
        "ack_expired",
        {"acknowledged_by": incident.acknowledged_by},
    )
    storm.lapsed(conn, incident, now)  # a storm's lead: the held incidents it covered too
    policy = Policy.from_json(snapshot["policy"])
    escalate.begin(
        s,
        conn,
        incident_id,
        policy,
        snapshot.get("labels", {}),
        now,
        generation=int(snapshot.get("generation", 1)) + 1,
    )
